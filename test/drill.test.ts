/**
 * The drill in a short mode: a real primary with WAL archiving, a base backup, a corruption and
 * a point-in-time restore to T, all checked. About 10 s.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { runDrill } from "../tools/drill";

describe("drill (corrupted scenario, short)", function () {
  this.timeout(120_000);

  it("restores to T: rows at T present, nothing after T, corruption gone", async () => {
    const lines: string[] = [];
    const r = await runDrill({ seconds: 2, log: (l) => lines.push(l) });
    const out = lines.join("\n");
    assert.ok(r.ok, out);
    // The README promises nine checks; every one ran and passed.
    assert.equal(r.checks.length, 9, out);
    assert.deepEqual(
      r.checks.filter((c) => !c.ok).map((c) => c.name),
      [],
    );
    assert.match(r.restoreTarget, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    assert.ok(r.transactions.beforeT > 20 && r.transactions.afterT > 0, out);
    // Writes pause 150 ms either side of T, so the newest preserved commit is about that far back.
    assert.ok(r.rpoMs > 100 && r.rpoMs < 1000, `RPO ${r.rpoMs} ms`);
    assert.match(out, /DRILL PASSED/);
    assert.ok(!fs.existsSync(r.dir), "work dir left behind");
  });
});
