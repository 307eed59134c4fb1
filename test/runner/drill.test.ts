/**
 * `pg-recovery drill` against the real program (Pulumi's mocks, test/runner/support/fakes.ts):
 * the drill converges, waits for its checks, writes and archives its record, and removes what it
 * made; failed checks and missed targets fail it by name; an incident in progress refuses it;
 * --dry-run and --keep; a drill cut short is finished by the rerun; --history.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { checkLine } from "../../contract/drill-check";
import { REPO_ROOT } from "../../runner/args";
import { drill, DrillOptions, drillServerSeconds } from "../../runner/drill/run";
import { givenRestoreTime } from "../../runner/preflight";
import { DrillArchive } from "../../runner/drill/history";
import { DrillRecord } from "../../runner/drill/record";
import { EXIT } from "../../contract/data-tool";
import { Refusal } from "../../runner/io";
import { openSession } from "../../runner/session";
import { run, start as startArgv } from "./support/commands";
import { testDir } from "../support/tmp";
import { NOW, testIo, world, World } from "./support/fakes";

const DATE = "2026-11-25";
const VERIFY = `pgr-drill-${DATE}-verify`;
const RESTORE = `pgr-drill-${DATE}-restore`;

class MemoryArchive implements DrillArchive {
  readonly blobs = new Map<string, string>();
  describe = () => "s189t01pttdbbkpqasa/database-backup";
  async put(name: string, body: string) {
    if (this.blobs.has(name)) throw new Error(`${name} exists`);
    this.blobs.set(name, body);
  }
  async list(prefix: string) {
    return [...this.blobs.keys()].filter((k) => k.startsWith(prefix));
  }
  async get(name: string) {
    return this.blobs.get(name)!;
  }
}

const verifyLog = (rowsOutcome: "passed" | "failed" = "passed") =>
  [
    "verify: reading schema ...",
    checkLine("schema", "passed", "schema identical (12 tables)"),
    checkLine(
      "rows public.courses",
      rowsOutcome,
      rowsOutcome === "passed"
        ? "equal up to the restore time; 3 rows written later in live (expected)"
        : "412 rows live wrote up to the restore time are missing from the drill database",
    ),
    checkLine("rows public.audits", "reported", "no write-time column: live 10, drill 9"),
    checkLine("recency", "passed", "nothing newer than the restore time", {
      restoreTarget: "2026-11-25T11:50:00Z",
      drillNewest: "2026-11-25T11:49:30Z",
      liveNewestAtOrBeforeRestoreTarget: "2026-11-25T11:49:30Z",
    }),
    checkLine("verify", rowsOutcome, "drill database against live", {
      sourceVersion: "17.2",
      targetVersion: "17.2",
    }),
  ].join("\n");

const restoreLog = [
  checkLine("skipped ptt_qa_2026-11-25", "reported", "damaged: sha256 mismatch"),
  checkLine("restore-latest", "passed", "ptt_qa_2026-11-24 restored; counts match the manifest", {
    backup: "ptt_qa_2026-11-24",
    takenAt: "2026-11-24T02:00:00Z",
    seconds: 600,
  }),
].join("\n");

function checksSucceed(w: World, verify = verifyLog()) {
  w.cluster.setJob(
    VERIFY,
    {
      state: verify.includes('"failed"') ? "failed" : "succeeded",
      startedAt: "2026-11-25T12:00:00Z",
      finishedAt: "2026-11-25T12:20:00Z",
    },
    { verify },
  );
  w.cluster.setJob(
    RESTORE,
    { state: "succeeded", startedAt: "2026-11-25T12:00:00Z", finishedAt: "2026-11-25T12:10:00Z" },
    { "restore-latest": restoreLog },
  );
}

async function drillOn(
  w: World,
  o: Partial<Omit<DrillOptions, "archive">> & { archive?: MemoryArchive } = {},
) {
  const io = testIo();
  const archive = o.archive ?? new MemoryArchive();
  const out = testDir("pgr-drill-out-");
  const s = await openSession(w.deps(io), "drill", "qa", REPO_ROOT, {
    create: true,
    changing: true,
  });
  let error: unknown;
  try {
    await drill(s, { yes: "qa", out, ...o, archive: () => archive });
  } catch (e) {
    error = e;
  }
  return { io, archive, out, error, stack: w.engine.stacksByName.get("qa")! };
}

const recordIn = (out: string): DrillRecord =>
  JSON.parse(fs.readFileSync(path.join(out, `drill-qa-${DATE}.json`), "utf8")) as DrillRecord;

describe("runner: pg-recovery drill", function () {
  this.timeout(120_000);

  it("creates the drill server and checks, waits, records, archives and removes everything", async () => {
    const w = world();
    checksSucceed(w);
    const r = await drillOn(w);
    assert.equal(r.error, undefined, String(r.error));
    const printed = r.io.printed();
    assert.match(
      printed,
      /creates the drill server s189t01-ptt-qa-pg-drill: live s189t01-ptt-qa-pg restored to 2026-11-25T11:50:00Z/,
    );
    assert.match(
      printed,
      /is only read: no freeze, no maintenance page, no scale-down, no promotion/,
    );
    assert.match(printed, /Drill 1\. Restore live/);
    assert.match(printed, /Drill PASSED/);
    assert.match(printed, /Drill removed: the drill server and its Jobs are deleted/);
    assert.deepEqual(
      r.stack.calls.filter((c) => ["up", "destroy"].includes(c)),
      ["up", "destroy"],
    );
    assert.deepEqual(r.stack.applied, [], "nothing of the drill is left in the stack");
    assert.equal(r.stack.configMap["pg-recovery:scenario"], undefined, "back to scenario none");
    const rec = recordIn(r.out);
    assert.equal(rec.outcome, "passed");
    assert.equal(rec.restorePoint.asked, "2026-11-25T11:50:00Z");
    assert.equal(rec.names.drillServer, "s189t01-ptt-qa-pg-drill");
    assert.equal(rec.names.backupRestored, "ptt_qa_2026-11-24");
    assert.equal(rec.rpo.pitrSeconds, 0, "nothing live wrote before T is missing");
    assert.equal(rec.rpo.pitrQuietSeconds, 30);
    assert.equal(rec.rpo.storageSeconds, 34 * 3600, "the backup's age at the drill's start");
    assert.equal(rec.rto.verifySeconds, 1200);
    assert.equal(rec.rto.storageRestoreSeconds, 600);
    assert.equal(rec.targets.rpo, "no target");
    assert.equal(rec.by.name, "Ada Operator");
    assert.ok(rec.checks.some((c) => c.check === "skipped ptt_qa_2026-11-25"));
    assert.deepEqual([...r.archive.blobs.keys()], [`drills/qa/${DATE}.json`]);
    const md = fs.readFileSync(path.join(r.out, `drill-qa-${DATE}.md`), "utf8");
    assert.match(
      md,
      /!\[RPO and RTO of each drill over time\]\(drill-qa-2026-11-25-history\.svg\)/,
    );
    assert.match(md, /does not exercise the freeze, the maintenance page/);
    assert.match(fs.readFileSync(path.join(r.out, `drill-qa-${DATE}-history.svg`), "utf8"), /<svg/);
  });

  it("a failed check fails the drill by name, and the drill is still removed", async () => {
    const w = world();
    checksSucceed(w, verifyLog("failed"));
    const r = await drillOn(w);
    assert.ok(r.error instanceof Refusal);
    assert.equal((r.error as Refusal).code, EXIT.failed);
    assert.match(
      (r.error as Error).message,
      /Drill FAILED on qa:\n {2}- rows public\.courses: 412 rows/,
    );
    assert.deepEqual(r.stack.applied, []);
    assert.equal(recordIn(r.out).outcome, "failed");
  });

  it("a Job that printed no check line fails the drill (a silent Job never passes)", async () => {
    const w = world();
    checksSucceed(w);
    w.cluster.setJob(
      RESTORE,
      { state: "failed", message: "BackoffLimitExceeded" },
      {
        "restore-latest": "restore: error: connection refused",
      },
    );
    const r = await drillOn(w);
    assert.match(
      (r.error as Error).message,
      /drill-restore: report: Job pgr-drill-2026-11-25-restore failed without a check line; its log ends: restore: error: connection refused/,
    );
  });

  it("never writes a secret a log line carried into the record or the archive", async () => {
    const w = world();
    checksSucceed(
      w,
      `${verifyLog()}\n${checkLine("note", "reported", "connected as postgres://app:hunter2@live.example/ptt_qa")}`,
    );
    const r = await drillOn(w);
    const files = fs.readdirSync(r.out).map((f) => fs.readFileSync(path.join(r.out, f), "utf8"));
    for (const text of [...files, ...r.archive.blobs.values(), r.io.printed()]) {
      assert.doesNotMatch(text, /hunter2/);
    }
    assert.match(files.join("\n"), /postgres:\/\/app:\[secret\]@live\.example/);
  });

  it("a missed target fails the drill, naming the target", async () => {
    const w = world();
    checksSucceed(w);
    const stack = w.engine.init("qa");
    const env = JSON.parse(stack.configMap["pg-recovery:environment"].value);
    env.recoveryTargets = { rpoMinutes: 60, rtoMinutes: 240 };
    stack.configMap["pg-recovery:environment"] = { value: JSON.stringify(env), secret: false };
    const r = await drillOn(w);
    const rec = recordIn(r.out);
    assert.equal(rec.targets.rpo, "missed", "a 34-hour-old backup misses a 60-minute RPO");
    assert.equal(rec.targets.rto, "met");
    assert.match((r.error as Error).message, /RPO target of 60 minutes missed/);
  });

  it("is refused during an incident, by the stack's config or its last update; nothing changes", async () => {
    const w = world();
    const inc = await run(w, [...startArgv, "--yes", "production"]);
    assert.notEqual(inc.code, EXIT.usage);
    const r = await run(w, ["drill", "--stack", "production", "--yes", "production"]);
    assert.equal(r.code, EXIT.failed);
    assert.match(
      r.err,
      /an incident is in progress on production: its config is at scenario corrupted/,
    );
    assert.match(r.err, /A drill never runs during an incident/);
    // A checkout whose file says none, while the stack's last update is the incident.
    const stack = w.engine.stacksByName.get("production")!;
    delete stack.configMap["pg-recovery:scenario"];
    const calls = stack.calls.length;
    const again = await run(w, ["drill", "--stack", "production", "--yes", "production"]);
    assert.equal(again.code, EXIT.failed);
    assert.match(again.err, /scenario corrupted/);
    assert.ok(!stack.calls.slice(calls).includes("up"));
  });

  it("an incident's start during a drill says to remove the drill first; nothing changes", async () => {
    const w = world();
    checksSucceed(w);
    await drillOn(w, { keep: true });
    const r = await run(w, [
      "start",
      "--stack",
      "qa",
      "--scenario",
      "corrupted",
      "--restore-time",
      "2026-11-25T09:00:00Z",
      "--yes",
      "qa",
    ]);
    assert.equal(r.code, EXIT.failed);
    assert.match(
      r.err,
      /a restore drill is under way on qa .*pg-recovery abort --stack qa, then start/,
    );
  });

  it("reads the point-in-time restore's duration from the engine's progress line for the drill server", () => {
    assert.equal(
      drillServerSeconds(
        "  ✓ created Server drill-server-server (Drill 1. Restore live at the drill's time into the drill server (deleted afterwards)) (1710s)",
      ),
      1710,
    );
    assert.equal(
      drillServerSeconds("  ✓ created Job pgr-drill-2026-11-25-verify (Drill 2. ...) (3s)"),
      null,
    );
    assert.equal(drillServerSeconds("  … creating Server drill-server-server"), null);
  });

  it("break-glass commands for a drill delete the drill server in the revert (it is never kept)", async () => {
    const w = world();
    const r = await run(w, [
      "commands",
      "--stack",
      "qa",
      "--set",
      "scenario=drill",
      "--set",
      `incidentDate=${DATE}`,
      "--set",
      "restoreTime=2026-11-25T09:00:00Z",
    ]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /az postgres flexible-server restore .*--name 's189t01-ptt-qa-pg-drill'/);
    assert.match(
      r.out,
      /# {3}az postgres flexible-server delete --resource-group 's189t01-ptt-qa-rg' --name 's189t01-ptt-qa-pg-drill' --yes/,
    );
    assert.doesNotMatch(r.out, /incident's evidence/);
    assert.doesNotMatch(r.out, /^gh api|kubectl .*scale|publish-maintenance/m);
  });

  it("--dry-run shows the summaries and changes nothing", async () => {
    const w = world();
    const r = await drillOn(w, { dryRun: true });
    assert.match(String((r.error as Error)?.message), /Dry run: nothing was changed/);
    assert.ok(!r.stack.calls.includes("up"));
    assert.equal(r.stack.configMap["pg-recovery:scenario"], undefined);
    assert.match(r.io.printed(), /create.*drill server s189t01-ptt-qa-pg-drill/);
  });

  it("--keep leaves the drill server and says how to remove it; abort removes it", async () => {
    const w = world();
    checksSucceed(w);
    const r = await drillOn(w, { keep: true });
    assert.equal(r.error, undefined, String(r.error));
    assert.ok(r.stack.applied.some((x) => x.name === "drill-server-server"));
    assert.match(
      r.io.printed(),
      /Kept for inspection: the drill server s189t01-ptt-qa-pg-drill.*pg-recovery abort --stack qa --yes qa/s,
    );
    const status = await run(w, ["status", "--stack", "qa"]);
    assert.equal(status.code, EXIT.ok, status.err);
    assert.match(status.out, /drill/);
    const abort = await run(w, ["abort", "--stack", "qa", "--yes", "qa"]);
    assert.equal(abort.code, EXIT.ok, abort.err);
    assert.deepEqual(r.stack.applied, []);
    assert.match(abort.out, /Drill removed/);
  });

  it("a drill cut short mid-up is finished by the rerun, with the same restore time", async () => {
    const w = world();
    checksSucceed(w);
    const stack = w.engine.init("qa");
    stack.crashAfter = 2;
    const first = await drillOn(w);
    assert.ok(first.error instanceof Refusal);
    assert.equal(stack.configMap["pg-recovery:scenario"].value, "drill");
    const later = () => new Date(NOW.getTime() + 30 * 60_000);
    const w2: World = { ...w, deps: (io) => ({ ...w.deps(io), io: { ...io, now: later } }) };
    const second = await drillOn(w2, { archive: first.archive });
    assert.equal(second.error, undefined, String(second.error));
    assert.deepEqual(stack.applied, []);
    assert.equal(recordIn(second.out).restorePoint.asked, "2026-11-25T11:50:00Z");
    const conflicting = await drillOn(w, {
      restoreTime: givenRestoreTime("2026-11-25T11:00:00Z"),
      keep: true,
    });
    assert.equal(
      conflicting.error,
      undefined,
      "after the drill ended, a new one may use another time",
    );
  });

  it("--history prints past drills as a table and writes the chart", async () => {
    const w = world();
    checksSucceed(w);
    const archive = new MemoryArchive();
    await drillOn(w, { archive });
    await drillOn(w, { archive });
    assert.deepEqual([...archive.blobs.keys()].sort(), [
      `drills/qa/${DATE}-2.json`,
      `drills/qa/${DATE}.json`,
    ]);
    const h = await drillOn(w, { archive, history: true });
    assert.equal(h.error, undefined, String(h.error));
    const out = h.io.stdout.join("\n");
    assert.match(out, /date\s+outcome\s+RPO pitr/);
    assert.equal(out.split("\n").filter((l) => l.startsWith(DATE)).length, 2);
    const svg = fs.readFileSync(path.join(h.out, "drill-qa-history.svg"), "utf8");
    assert.equal((svg.match(/<circle/g) ?? []).length, 4, "two drills, RPO and RTO each");
  });
});
