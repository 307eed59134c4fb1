/**
 * The runner's commands end to end against the real program (under Pulumi's mocks, through
 * test/runner/support/fakes.ts): what changes, what is refused with nothing changed, and how a
 * rerun continues from the stack's state. The real CLI and cluster are e2e/test/runner.test.ts.
 */
import * as assert from "node:assert/strict";
import { EXIT } from "../../contract/data-tool";
import {
  assertRunbookOrder,
  DATE,
  job,
  jobsSucceed,
  promoteArgv,
  RESTORE,
  refused,
  run,
  start,
  startArgv,
  yes,
} from "./support/commands";
import { NOW, testIo, world } from "./support/fakes";

/** qa, server-gone: revive the server dropped at 08:00 as it was at `restoreTime`. */
const reviveQa = (restoreTime: string) =>
  startArgv({
    stack: "qa",
    scenario: "server-gone",
    deletedAt: "2026-11-25T08:00:00Z",
    restoreTime,
    yes: "qa",
  });

describe("runner: the incident's commands against the real program", function () {
  this.timeout(120_000);

  it("start with a time without offset is refused with the door's message and the flag; nothing changes", async () => {
    const w = world();
    const r = await refused(
      w,
      startArgv({ scenario: "corrupted", restoreTime: "2026-11-25T06:59:00", yes: "production" }),
    );
    assert.match(r.err, /pg-recovery:restoreTime "2026-11-25T06:59:00" has no UTC offset/);
    // November: London's wall clock is UTC, so one reading, not two that agree.
    assert.match(
      r.err,
      /read as UTC or as Europe\/London wall-clock time \(the same in winter\) it is 2026-11-25T06:59:00Z/,
    );
    assert.doesNotMatch(r.err, /ambiguous/);
    // Given by the runner's flag: the hint names the flag, not `pulumi config set`.
    assert.match(r.err, /`--restore-time 2026-11-25T06:59:00Z`/);
    assert.doesNotMatch(r.err, /pulumi config set/);
    assert.match(r.err, /pg-recovery:restoreTime is --restore-time/);
    // Refused at the edge, before the engine: no stack opened, so nothing written or run.
    assert.equal(w.engine.stacksByName.get("production"), undefined);
    assert.deepEqual(w.engine.created, []);
  });

  it("an unknown stack is refused, naming the known ones; nothing is created", async () => {
    const w = world();
    const r = await refused(
      w,
      startArgv({
        stack: "prodution",
        scenario: "corrupted",
        restoreTime: RESTORE,
        yes: "production",
      }),
    );
    assert.match(r.err, /unknown stack "prodution"/);
    assert.match(r.err, /stack files for production, qa/);
    assert.deepEqual(w.engine.created, []);
  });

  it("the wrong environment name is refused and the config is put back as it was", async () => {
    const w = world();
    w.engine.init("production");
    const stack = w.engine.stacksByName.get("production")!;
    const before = JSON.stringify(stack.configMap);
    const r = await refused(w, [...start, "--yes", "qa"]);
    assert.match(r.err, /--yes "qa" does not name this environment: it is "production"/);
    assert.match(r.err, /Nothing was changed/);
    assert.equal(JSON.stringify(stack.configMap), before);
    assert.equal(stack.applied.length, 0);
    assert.ok(!stack.calls.includes("up"));
    // The summary was shown before the question.
    assert.match(r.out, /Corrupted 3\. Point-in-time restore/);
  });

  it("without a terminal and without --yes, nothing is applied", async () => {
    const w = world();
    const r = await refused(w, start);
    assert.match(r.err, /no terminal to confirm on/);
    assert.match(r.err, /--yes production/);
    assert.equal(w.engine.stacksByName.get("production")!.applied.length, 0);
  });

  it("typed at the prompt: a wrong name stops, the right one goes ahead", async () => {
    const w = world();
    jobsSucceed(w);
    const wrong = await run(w, start, testIo({ interactive: true, answers: ["prod"] }));
    assert.equal(wrong.code, EXIT.failed);
    assert.match(wrong.err, /"prod" is not "production"/);
    assert.equal(w.engine.stacksByName.get("production")!.applied.length, 0);
    const right = await run(w, start, testIo({ interactive: true, answers: ["production"] }));
    assert.equal(right.code, EXIT.ok, right.err);
    assert.match(right.io.questions[0], /Type the environment's name \(production\)/);
  });

  describe("a whole incident: start, promote, resume, finish", () => {
    const w = world();
    before(() => jobsSucceed(w));

    it("promote before start is refused; nothing changes", async () => {
      w.engine.init("production");
      const r = await refused(
        w,
        promoteArgv({ mode: "merge", tables: "public.courses", yes: "production" }),
      );
      assert.match(r.err, /promote before start/);
      assert.deepEqual(w.engine.stacksByName.get("production")!.calls, []);
    });

    it("start: summary in the runbook's words, then up, the Jobs, the report and the plan", async () => {
      const r = await run(w, [...start, "--noticed-at", "2026-11-25T08:10:00+01:00", ...yes]);
      assert.equal(r.code, EXIT.ok, r.err);
      const order = [
        "4. Freeze the delivery pipeline",
        "5–6. Maintenance mode",
        "Scale down every writer",
        "Corrupted 2. Ad-hoc backup of live",
        "Corrupted 3. Point-in-time restore",
        "Corrupted 4. Validate",
      ].map((t) => r.out.indexOf(t));
      assertRunbookOrder(order, `missing a step: ${order}`);
      assert.match(r.out, /publish-production to 0 replicas \(was 12/);
      assert.match(
        r.out,
        /new server s189p01-ptt-pd-pg-ptr, restored from s189p01-ptt-pd-pg to 2026-11-25T05:59:00Z = 2026-11-25 05:59:00 GMT/,
      );
      assert.match(r.out, /backs up live as ptt_pd_adhoc_2026-11-25/);
      assert.match(
        r.out,
        /== Validation report \(verify: the PTR against live\) ==\npublic\.courses: 1204 rows/,
      );
      assert.match(r.out, /== Promotion plan .*==\nmerge public\.courses: re-insert 107 rows/);
      assert.match(
        r.out,
        /pg-recovery promote --stack production --mode <whole\|tables\|merge>.*--confirm s189p01-ptt-pd-pg/,
      );
      const stack = w.engine.stacksByName.get("production")!;
      assert.equal(stack.configMap["pg-recovery:scenario"].value, "corrupted");
      assert.equal(
        stack.configMap["pg-recovery:incidentDate"].value,
        DATE,
        "the date comes from the clock at the first start",
      );
      assert.match(
        stack.historyEntries[0].message,
        /^pg-recovery start: corrupted, .*noticed 2026-11-25T08:10:00\+01:00 \(as typed\); by Ada Operator$/,
      );
    });

    it("start again: nothing to change, no question asked, the report again", async () => {
      const stack = w.engine.stacksByName.get("production")!;
      const updates = stack.historyEntries.length;
      const r = await run(w, start); // no --yes, no terminal: fine when nothing changes
      assert.equal(r.code, EXIT.ok, r.err);
      assert.match(r.out, /nothing to change/);
      assert.equal(stack.historyEntries.length, updates);
      assert.match(r.out, /Validation report/);
    });

    it("start with another restore time while the incident runs is refused", async () => {
      const r = await refused(
        w,
        startArgv({
          scenario: "corrupted",
          restoreTime: "2026-11-25T05:00:00Z",
          yes: "production",
        }),
      );
      assert.match(
        r.err,
        /--restore-time 2026-11-25T05:00:00Z \(the incident's is 2026-11-25T06:59:00\+01:00\)/,
      );
      assert.match(r.err, /pg-recovery abort --stack production/);
    });

    it("promote naming another server: the door's message, nothing changes", async () => {
      const stack = w.engine.stacksByName.get("production")!;
      const before = JSON.stringify(stack.configMap);
      const r = await refused(
        w,
        promoteArgv({
          mode: "merge",
          tables: "public.courses",
          confirm: "s189t01-ptt-qa-pg",
          yes: "production",
        }),
      );
      assert.match(
        r.err,
        /pg-recovery:confirm "s189t01-ptt-qa-pg" does not match the live server "s189p01-ptt-pd-pg"/,
      );
      assert.match(r.err, /pg-recovery:confirm is --confirm/);
      assert.equal(JSON.stringify(stack.configMap), before);
    });

    it("promote: the summary says it overwrites live, then the promotion Job's outcome", async () => {
      w.cluster.setJob(
        job("promotion"),
        { state: "succeeded", containers: [{ name: "promote", exitCode: 0 }] },
        {
          promote:
            "promote --mode merge into s189p01-ptt-pd-pg/ptt_production: complete (one transaction)",
        },
      );
      w.cluster.setJob(job("promotion-archive"), { state: "running", containers: [] });
      const r = await run(
        w,
        promoteArgv({ mode: "merge", tables: "public.courses", yes: "production" }),
      );
      assert.equal(r.code, EXIT.ok, r.err);
      assert.match(
        r.out,
        /OVERWRITES LIVE s189p01-ptt-pd-pg\/ptt_production: promote the PTR, mode merge \(tables public\.courses\)/,
      );
      assert.match(r.out, /archives the PTR as ptt_pd_2026-11-25-restore-to-ptr/);
      assert.match(r.out, /\[promotion\/promote\] promote --mode merge/);
      assert.match(r.out, /Job pgr-2026-11-25-promotion \[promotion into live\]: succeeded/);
      assert.match(r.out, /pg-recovery resume --stack production/);
    });

    it("resume: the app back at the recorded counts, promotion keys gone", async () => {
      const r = await run(w, ["resume", "--stack", "production", ...yes]);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.match(r.out, /app back: publish-production to 12 replicas/);
      assert.match(r.out, /app back: publish-production-worker to 2 replicas/);
      assert.match(
        r.out,
        /delete the finished Job pgr-2026-11-25-promotion \(the data stays promoted\)/,
      );
      const stack = w.engine.stacksByName.get("production")!;
      assert.equal(stack.configMap["pg-recovery:scaleDown"].value, "false");
      assert.equal(stack.configMap["pg-recovery:promote"], undefined);
      assert.equal(stack.configMap["pg-recovery:confirm"], undefined);
      assert.ok(
        w
          .journal("production")
          .read()
          .some((e) => e.kind === "app-back"),
      );
    });

    it("promote after resume is refused by the door (the app would be writing)", async () => {
      const r = await refused(w, promoteArgv({ mode: "whole", yes: "production" }));
      assert.match(r.err, /pg-recovery:promote is true while pg-recovery:scaleDown is false/);
    });

    it("finish: destroy --run-program in the runbook's closing order, config back to scenario none", async () => {
      w.cluster.setJob(job("promotion-archive"), { state: "succeeded", containers: [] });
      const r = await run(w, ["finish", "--stack", "production", ...yes]);
      assert.equal(r.code, EXIT.ok, r.err);
      const freeze = r.out.indexOf("unfreeze: delete ruleset");
      const maintenance = r.out.indexOf("maintenance off");
      const kept = r.out.indexOf("keep server s189p01-ptt-pd-pg-ptr");
      assert.ok(kept >= 0 && maintenance > kept && freeze > maintenance, r.out);
      const stack = w.engine.stacksByName.get("production")!;
      assert.equal(stack.applied.length, 0);
      assert.equal(stack.historyEntries[0].kind, "destroy");
      assert.equal(stack.configMap["pg-recovery:scenario"], undefined);
      assert.equal(stack.configMap["pg-recovery:restoreTime"], undefined);
      assert.ok(stack.configMap["pg-recovery:environment"], "the facts stay");
      assert.match(r.out, /Kept: s189p01-ptt-pd-pg-ptr \(the point-in-time restore/);
    });

    it("finish twice: already finished, nothing more happens", async () => {
      const stack = w.engine.stacksByName.get("production")!;
      const calls = stack.calls.length;
      const r = await run(w, ["finish", "--stack", "production", ...yes]);
      assert.equal(r.code, EXIT.ok);
      assert.match(
        r.out,
        /Already finished at 2026-11-25T12:00:00\.000Z \(2026-11-25 12:00:00 GMT/,
      );
      assert.equal(stack.calls.length, calls);
    });
  });

  it("--dry-run shows the checks and the summary, changes nothing, exits 0", async () => {
    const w = world();
    const stack = w.engine.init("production");
    const before = JSON.stringify(stack.configMap);
    const r = await run(w, [...start, "--dry-run"]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /Corrupted 3\. Point-in-time restore/);
    assert.match(r.out, /Dry run: nothing was changed/);
    assert.equal(JSON.stringify(stack.configMap), before);
    assert.ok(!stack.calls.includes("up"));
    const bad = await run(
      w,
      startArgv({
        stack: "production",
        scenario: "corrupted",
        restoreTime: "2026-11-25T06:59",
        dryRun: true,
      }),
    );
    assert.equal(bad.code, EXIT.failed, "the door still refuses in a dry run");
  });

  it("a fresh checkout mid-incident (another machine, an Actions run) continues from the stack's last update", async () => {
    const w = world();
    jobsSucceed(w);
    assert.equal((await run(w, [...start, ...yes])).code, EXIT.ok);
    const stack = w.engine.stacksByName.get("production")!;
    // The stack file as git has it: the facts, no incident keys.
    for (const k of Object.keys(stack.configMap)) {
      if (k.startsWith("pg-recovery:") && k !== "pg-recovery:environment")
        delete stack.configMap[k];
    }
    const s = await run(w, ["status", "--stack", "production"]);
    assert.match(s.out, /Incident: corrupted, incident date 2026-11-25/);
    assert.match(s.out, /shown as the stack's last update applied it/);
    w.cluster.setJob(job("promotion"), { state: "succeeded", containers: [] });
    const p = await run(w, promoteArgv({ mode: "whole", yes: "production" }));
    assert.equal(p.code, EXIT.ok, p.err);
    assert.match(
      p.err,
      /has no incident config, but the stack's last update .* applied one; continuing with its values: pg-recovery:scenario=corrupted/,
    );
    assert.equal(stack.configMap["pg-recovery:restoreTime"].value, RESTORE);
    assert.match(p.out, /mode whole \(every table\)/);
  });

  it("a crash mid-update, then a rerun converges from the stack's state", async () => {
    const w = world();
    jobsSucceed(w);
    const stack = w.engine.init("production");
    stack.crashAfter = 5;
    const crashed = await run(w, [...start, ...yes]);
    assert.equal(crashed.code, EXIT.failed);
    assert.match(
      crashed.err,
      /The stack may be partly updated\. Rerun `pg-recovery start --stack production`/,
    );
    assert.equal(stack.applied.length, 5);
    const rerun = await run(w, [...start, ...yes]);
    assert.equal(rerun.code, EXIT.ok, rerun.err);
    // Only what was left: 5 of the creates were done by the crashed run.
    const first = crashed.out.match(/(\d+) to create/)![1];
    const second = rerun.out.match(/(\d+) to create/)![1];
    assert.ok(Number(second) < Number(first), `${second} < ${first}`);
    const again = await run(w, [...start, ...yes]);
    assert.match(again.out, /nothing to change/);
  });

  it("finish while a data Job runs is refused; abort says it will stop it, and reverts", async () => {
    const w = world();
    jobsSucceed(w);
    assert.equal((await run(w, [...start, ...yes])).code, EXIT.ok);
    w.cluster.setJob(job("validation"), { state: "running", containers: [] });
    const f = await run(w, ["finish", "--stack", "production", ...yes]);
    assert.equal(f.code, EXIT.failed);
    assert.match(f.err, /Job pgr-2026-11-25-validation still running/);
    assert.ok(w.engine.stacksByName.get("production")!.applied.length > 0);
    const a = await run(w, ["abort", "--stack", "production", ...yes]);
    assert.equal(a.code, EXIT.ok, a.err);
    assert.match(a.out, /WARNING: Job pgr-2026-11-25-validation is running; the revert deletes it/);
    assert.equal(w.engine.stacksByName.get("production")!.applied.length, 0);
    assert.match(a.out, /Aborted/);
  });

  it("abort after a start that never got confirmed puts the config back to scenario none", async () => {
    const w = world();
    const stack = w.engine.init("production");
    // A start whose process died after writing the config (before its preview).
    stack.configMap["pg-recovery:scenario"] = { value: "corrupted", secret: false };
    stack.configMap["pg-recovery:incidentDate"] = { value: DATE, secret: false };
    stack.configMap["pg-recovery:restoreTime"] = { value: RESTORE, secret: false };
    const s = await run(w, ["status", "--stack", "production"]);
    assert.match(s.out, /config set but not applied/);
    const a = await run(w, ["abort", "--stack", "production", ...yes]);
    assert.equal(a.code, EXIT.ok, a.err);
    assert.equal(stack.configMap["pg-recovery:scenario"], undefined);
    assert.ok(!stack.calls.includes("destroy"), "nothing was declared, so nothing to destroy");
  });

  it("abort 40 days on: the door's reason is printed, and the revert runs as scenario none + up", async () => {
    let now = NOW;
    const clock = () => now;
    const w = world(clock);
    jobsSucceed(w);
    assert.equal((await run(w, [...start, ...yes], testIo({ now: clock }))).code, EXIT.ok);
    now = new Date(NOW.getTime() + 40 * 24 * 3600_000);
    const r = await run(w, ["abort", "--stack", "production", ...yes], testIo({ now: clock }));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(
      r.err,
      /no longer passes the program's checks:\n {2}- pg-recovery:restoreTime .* is more than 35 days ago[^]*so the revert runs as scenario none \+ up/,
    );
    const stack = w.engine.stacksByName.get("production")!;
    assert.equal(stack.applied.length, 0, "every declared resource reverted");
    assert.ok(!stack.calls.includes("destroy"), "reverted by up, not destroy");
    assert.equal(stack.configMap["pg-recovery:scenario"], undefined);
  });

  it("finish on a stack that never had an incident says so, changes nothing", async () => {
    const w = world();
    w.engine.init("qa");
    const r = await refused(w, ["finish", "--stack", "qa", "--yes", "qa"]);
    assert.match(r.err, /nothing to finish on qa: no incident/);
  });

  it("server gone: start with a revive window, status names the next step", async () => {
    const w = world();
    const r = await run(w, reviveQa("2026-11-25T08:10:00Z"));
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(r.out, /revive the dropped server s189t01-ptt-qa-pg at 2026-11-25T08:10:00Z/);
    const s = await run(w, ["status", "--stack", "qa"]);
    assert.match(s.out, /Next: pg-recovery resume --stack qa/);
  });

  it("server gone: a revive less than 10 minutes after the deletion is the door's refusal", async () => {
    const w = world();
    const r = await refused(w, reviveQa("2026-11-25T08:05:00Z"));
    assert.match(r.err, /less than 10 minutes after the deletion/);
    assert.match(r.err, /pg-recovery:restoreTime is --restore-time/);
  });

  it("a restore time before the server's earliest restore point: the program's preflight refuses, config put back", async () => {
    const w = world();
    const stack = w.engine.init("production");
    const before = JSON.stringify(stack.configMap);
    const r = await refused(
      w,
      startArgv({ scenario: "corrupted", restoreTime: "2026-11-01T00:00:00Z", yes: "production" }),
    );
    assert.match(r.err, /pulumi preview failed/);
    assert.match(r.err, /earliest restore point/);
    assert.equal(JSON.stringify(stack.configMap), before);
  });

  it("--noticed-at after now, or before the restore time, is refused before anything", async () => {
    const w = world();
    const future = await run(w, [...start, "--noticed-at", "2026-11-26T00:00:00Z", ...yes]);
    assert.equal(future.code, EXIT.failed);
    assert.match(future.err, /--noticed-at 2026-11-26T00:00:00Z is in the future/);
    const early = await run(w, [...start, "--noticed-at", "2026-11-25T05:00:00Z", ...yes]);
    assert.equal(early.code, EXIT.failed);
    assert.match(early.err, /is after --noticed-at/);
    assert.equal(
      w.engine.stacksByName.get("production")?.calls.filter((c) => c === "up").length ?? 0,
      0,
    );
  });

  it("status with --json is machine-readable and changes nothing", async () => {
    const w = world();
    jobsSucceed(w);
    await run(w, [...start, ...yes]);
    const stack = w.engine.stacksByName.get("production")!;
    const calls = stack.calls.length;
    const r = await run(w, ["status", "--stack", "production", "--json"]);
    assert.equal(r.code, EXIT.ok);
    const doc = JSON.parse(r.out) as { phase: string; jobs: { name: string; state: string }[] };
    assert.equal(doc.phase, "started: restored and validated");
    assert.deepEqual(doc.jobs.map((j) => [j.name, j.state]).sort(), [
      [job("adhoc-backup"), "succeeded"],
      [job("validation"), "failed"],
    ]);
    assert.equal(stack.calls.length, calls);
    void NOW;
  });
});
