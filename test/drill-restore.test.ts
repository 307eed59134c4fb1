/**
 * The restore drill's data part on real PostgreSQL and Azurite (tools/drill-restore.ts, `npm run
 * drill -- --scenario drill`): the data tool run as the drill's Jobs run it. Good inputs pass
 * every check, the damaged newest backup is reported and the next complete one restored, the
 * legacy nightly is restored and counted; a table truncated on the drill server fails the drill
 * naming it. About 10 s per run.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { runRestoreDrill } from "../tools/drill-restore";

describe("drill (restore drill's data part, real PostgreSQL + Azurite)", function () {
  this.timeout(180_000);

  it("passes on good inputs: verify --drill, restore --latest past a damaged backup, the legacy nightly", async () => {
    const lines: string[] = [];
    const r = await runRestoreDrill({ log: (l) => lines.push(l) });
    const out = lines.join("\n");
    assert.ok(r.ok, out);
    assert.deepEqual(r.exitCodes, { verify: 0, "restore-latest": 0, "restore-legacy": 0 });
    const by = (check: string) => r.checks.find((c) => c.check === check);
    assert.equal(by("schema")?.outcome, "passed");
    assert.match(
      by("rows public.courses")!.detail,
      /equal up to the restore target \(212 rows\); 20 rows written later in live \(expected\); 8 rows changed or deleted in live since \(expected\)/,
    );
    assert.equal(by("rows public.sites")?.outcome, "passed");
    // No write-time column: reported with its counts, not failed.
    assert.equal(by("rows public.audits")?.outcome, "reported");
    assert.match(by("rows public.audits")!.detail, /live 34 rows, drill 30/);
    assert.equal(by("recency")?.outcome, "passed");
    assert.equal(by("skipped ptt_qa_2026-11-24")?.outcome, "reported");
    assert.match(by("skipped ptt_qa_2026-11-24")!.detail, /corrupt/);
    const latest = by("restore-latest")!;
    assert.equal(latest.outcome, "passed");
    assert.equal(latest.figures?.backup, "ptt_qa_2026-11-23", "the next complete backup");
    assert.match(latest.detail, /sha256 and row counts match its manifest/);
    const legacy = by("restore ptt_qa_2026-11-22.sql.gz")!;
    assert.equal(legacy.figures?.format, "plain-gzip");
    assert.equal(legacy.figures?.rows, 316);
    assert.ok(!fs.existsSync(r.dir), "work dir left behind");
  });

  it("fails, naming the table, when a table was truncated on the drill server", async () => {
    const r = await runRestoreDrill({ breakTable: "public.courses", log: () => undefined });
    assert.equal(r.ok, false);
    assert.deepEqual(r.failed, ["rows public.courses", "verify"]);
    assert.equal(r.exitCodes.verify, 1);
    assert.match(
      r.checks.find((c) => c.check === "rows public.courses")!.detail,
      /212 of the 212 rows live wrote up to the restore target are missing/,
    );
  });
});
