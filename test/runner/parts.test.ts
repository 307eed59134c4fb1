/**
 * The runner's parts on their own: the command line, the confirmation, the summary of a plan in
 * the runbook's words (from the real program's plan), the Job watcher, the journal's incidents,
 * and the house rule that nothing imports the runner.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import { runbookStepOf } from "../../contract/runbook";
import { evaluateOffline, loadStackConfig } from "../../offline/offline";
import { parseCommandLine, REPO_ROOT } from "../../runner/args";
import { doorFirst } from "../../runner/plan";
import { confirm } from "../../runner/confirm";
import { ChangePlan, PlanStep } from "../../runner/engine";
import { waitForJobs } from "../../runner/jobs";
import { Journal, latestIncident } from "../../runner/journal";
import { renderSummary, summarise } from "../../runner/summary";
import { CORRUPTED_PROMOTE_SETS, startArgv } from "./support/commands";
import { FakeCluster, NOW, testIo } from "./support/fakes";
import { testDir } from "../support/tmp";

describe("runner: the command line", () => {
  const ok = (argv: string[]) => {
    const r = parseCommandLine(argv, "/somewhere");
    assert.ok(r.ok, r.ok ? "" : r.message);
    return r.command;
  };
  const no = (argv: string[]) => {
    const r = parseCommandLine(argv, "/somewhere");
    assert.ok(!r.ok);
    return r.message;
  };

  it("start, corrupted: the restore time is required; the work dir defaults to the repository", () => {
    assert.deepEqual(
      ok(startArgv({ stack: "qa", scenario: "corrupted", restoreTime: "2024-07-24T05:59:00Z" })),
      {
        command: "start",
        stack: "qa",
        workDir: REPO_ROOT,
        yes: undefined,
        dryRun: false,
        scenario: "corrupted",
        restoreTime: "2024-07-24T05:59:00Z",
        incidentDate: undefined,
        deletedAt: undefined,
        noticedAt: undefined,
      },
    );
    assert.match(
      no(startArgv({ stack: "qa", scenario: "corrupted" })),
      /--restore-time is required for the corrupted scenario/,
    );
    assert.match(
      no(startArgv({ stack: "qa", scenario: "corupted", restoreTime: "x" })),
      /--scenario must be corrupted or server-gone \(not "corupted"\)/,
    );
    assert.match(
      no(startArgv({ stack: "qa", scenario: "corrupted", restoreTime: "x", deletedAt: "y" })),
      /--deleted-at only applies to --scenario server-gone/,
    );
  });

  it("server-gone needs no times (rebuild); --work-dir is relative to where it runs", () => {
    const c = ok([
      "start",
      "--stack",
      "qa",
      "--scenario",
      "server-gone",
      "--work-dir",
      "e2e/program",
    ]);
    assert.equal(c.workDir, "/somewhere/e2e/program");
  });

  it("the offline plan's config refusal says --set for a missing key, and for one given", () => {
    const sets = { scenario: "corrupted", restoreTime: "2024-07-24T06:00:00" };
    const refusal = () => doorFirst(loadStackConfig("qa", sets), sets, NOW);
    assert.throws(refusal, (e: Error) => {
      assert.match(
        e.message,
        /pg-recovery:incidentDate is required .* `--set incidentDate=YYYY-MM-DD`/,
      );
      assert.match(e.message, /has no UTC offset/);
      assert.match(e.message, /restoreTime came from --set: fix the --set and rerun\./);
      assert.match(
        e.message,
        /Give incidentDate with --set \(or in the stack file, Pulumi\.<stack>\.yaml\) and rerun\./,
      );
      assert.doesNotMatch(e.message, /pulumi config set/);
      return true;
    });
  });

  it("a key that is not a setting, given with --set, is dropped from the command line", () => {
    const sets = {
      scenario: "corrupted",
      incidentDate: "2024-07-24",
      restoreTim: "2024-07-24T05:59:00Z",
    };
    assert.throws(
      () => doorFirst(loadStackConfig("qa", sets), sets, NOW),
      (e: Error) => {
        assert.match(
          e.message,
          /pg-recovery:restoreTim is not a pg-recovery setting; did you mean pg-recovery:restoreTime\? Remove it from the command line \(drop `--set restoreTim=\.\.\.`\)\./,
        );
        assert.match(e.message, /restoreTim came from --set: fix the --set and rerun\./);
        assert.match(e.message, /Give restoreTime with --set/);
        assert.doesNotMatch(e.message, /pulumi config rm|Fix the stack file/);
        return true;
      },
    );
  });

  it("promote needs a mode and the live server's name; --yes and --dry-run are taken", () => {
    assert.equal(
      no(["promote", "--stack", "qa", "--mode", "whole"]).split("\n")[0],
      "promote needs --confirm <live server name>: e.g. pg-recovery promote --stack qa --mode whole --confirm <live server>.",
    );
    assert.equal(
      no(["promote", "--stack", "qa", "--confirm", "srv"]).split("\n")[0],
      "promote needs --mode (whole, tables or merge, as chosen from the promotion plan): e.g. pg-recovery promote --stack qa --mode merge --tables public.courses --confirm <live server>.",
    );
    assert.match(
      no(["promote", "--stack", "qa"]),
      /^promote needs --mode \(whole, tables or merge, .*\) and --confirm <live server name>: /,
    );
    const c = ok([
      "promote",
      "--stack",
      "qa",
      "--mode",
      "tables",
      "--tables",
      "public.a",
      "--confirm",
      "srv",
      "--yes",
      "qa",
      "--dry-run",
    ]);
    assert.deepEqual(
      [c.command, (c as { yes?: string }).yes, (c as { dryRun?: boolean }).dryRun],
      ["promote", "qa", true],
    );
  });

  it("usage errors: no stack, unknown command or flag, an empty value, a bad --set", () => {
    assert.match(no(["status"]), /--stack is required/);
    assert.match(no(["stat", "--stack", "qa"]), /unknown command "stat"/);
    assert.match(no(["resume", "--stack", "qa", "--force"]), /Unknown option '--force'/);
    assert.match(no(["resume", "--stack", "qa", "--yes", " "]), /--yes is empty/);
    assert.match(
      no(["commands", "--stack", "qa", "--set", "scenario"]),
      /--set "scenario" must be key=value/,
    );
    assert.match(
      no(["status", "--stack", "qa", "--dry-run"]),
      /Unknown option '--dry-run'/,
      "status changes nothing anyway",
    );
    const help = parseCommandLine(["--help"]);
    assert.ok(!help.ok && help.help && /An incident in at most five commands/.test(help.message));
  });
});

describe("runner: the confirmation", () => {
  it("--yes must name the environment; without a terminal, no; typed, exactly", async () => {
    assert.deepEqual(await confirm(testIo(), "production", "production"), {
      ok: true,
      how: "--yes production",
    });
    const typo = await confirm(testIo(), "production", "prod");
    assert.ok(!typo.ok && /does not name this environment: it is "production"/.test(typo.why));
    const noTty = await confirm(testIo(), "qa");
    assert.ok(!noTty.ok && /no terminal to confirm on/.test(noTty.why));
    const io = testIo({ interactive: true, answers: [" qa "] });
    assert.deepEqual(await confirm(io, "qa"), { ok: true, how: "typed the environment's name" });
    assert.match(io.questions[0], /Type the environment's name \(qa\) to go ahead/);
    const empty = await confirm(testIo({ interactive: true, answers: [""] }), "qa");
    assert.ok(!empty.ok && /nothing typed/.test(empty.why));
    const wrong = await confirm(testIo({ interactive: true, answers: ["QA"] }), "qa");
    assert.ok(!wrong.ok && /"QA" is not "qa"/.test(wrong.why));
  });
});

describe("runner: a plan in the runbook's words", function () {
  this.timeout(60_000);
  let creates: ChangePlan;

  before(async () => {
    const config = loadStackConfig("production", CORRUPTED_PROMOTE_SETS);
    const run = await evaluateOffline(config, NOW);
    const steps: PlanStep[] = run.resources
      .filter((r) => !r.read)
      .map((r) => ({
        op: "create",
        urn: `urn::${r.type}::${r.name}`,
        type: r.type,
        name: r.name,
        inputs: r.inputs,
        custom: !r.component,
        retain: r.options.retainOnDelete === true,
      }));
    creates = { steps, counts: { create: steps.length } };
  });

  it("places every resource the program declares in a runbook step", () => {
    const unplaced = creates.steps.filter(
      (s) => !runbookStepOf(s.name) && !s.type.startsWith("pulumi:providers:"),
    );
    assert.deepEqual(
      unplaced.map((s) => s.name),
      [],
    );
    assert.equal(runbookStepOf("promotion-archive-job")?.id, "promotion");
  });

  it("says each step in runbook order, naming the objects", () => {
    const lines = summarise(creates);
    const titles = [...new Set(lines.map((l) => l.step.title))];
    assert.deepEqual(titles, [
      "4. Freeze the delivery pipeline",
      "5–6. Maintenance mode, temporary hosts",
      "Scale down every writer",
      "Backup storage access for the data jobs",
      "Corrupted 2. Ad-hoc backup of live",
      "Corrupted 3. Point-in-time restore",
      "Corrupted 4. Validate (be extremely careful)",
      "Corrupted 5–6. Promote the PTR into live",
    ]);
    const text = renderSummary(creates, "What start will do:");
    assert.match(
      text,
      /GitHub ruleset "pg-recovery freeze \(incident 2026-11-25\)" on publish-teacher-training: 6 approving reviews/,
    );
    assert.match(text, /publish-production-worker to 0 replicas \(was 2; put back on revert\)/);
    assert.match(
      text,
      /OVERWRITES LIVE s189p01-ptt-pd-pg\/ptt_production: promote the PTR, mode tables \(tables public\.courses,public\.sites\)/,
    );
    assert.doesNotMatch(text, /pg-recovery:index:/, "components are groupings, not objects");
  });

  it("a revert reads in the closing order, and the restored server is kept, not deleted", () => {
    const deletes: ChangePlan = {
      steps: creates.steps.map((s) => ({
        ...s,
        op: "delete",
        oldInputs: s.inputs,
        inputs: undefined,
      })),
      counts: {},
    };
    const titles = [...new Set(summarise(deletes).map((l) => l.step.title))];
    assert.equal(titles[0], "Corrupted 5–6. Promote the PTR into live");
    assert.equal(titles[titles.length - 1], "4. Freeze the delivery pipeline");
    const text = renderSummary(deletes, "What finish will do:");
    assert.match(text, /= keep server s189p01-ptt-pd-pg-ptr \(the incident's evidence/);
    assert.match(text, /app back: publish-production to 12 replicas/);
    assert.match(text, /, 1 kept \(not deleted\)\./);
  });

  it("nothing to change says so", () => {
    assert.match(
      renderSummary({ steps: [], counts: {} }, "h"),
      /nothing to change: the stack already matches/,
    );
  });
});

describe("runner: watching the Jobs", () => {
  it("follows the logs of the roles asked, reports a Job that never comes as missing", async () => {
    const cluster = new FakeCluster();
    cluster.setJob(
      "pgr-x-adhoc-backup",
      { state: "succeeded", containers: [{ name: "backup", exitCode: 0 }] },
      { backup: "line one\nline two" },
    );
    cluster.setJob(
      "pgr-x-validation",
      { state: "failed", containers: [{ name: "verify", exitCode: 1 }] },
      { verify: "differs" },
    );
    const io = testIo();
    const jobs = await waitForJobs(
      cluster,
      [
        { namespace: "ns", name: "pgr-x-adhoc-backup", role: "adhoc-backup" },
        { namespace: "ns", name: "pgr-x-validation", role: "validation" },
        { namespace: "ns", name: "pgr-x-promotion", role: "promotion" },
      ],
      io,
      { followRoles: ["adhoc-backup"], pollMs: 5, missingAfterMs: 20 },
    );
    assert.deepEqual(
      jobs.map((j) => j.state),
      ["succeeded", "failed", "missing"],
    );
    assert.deepEqual(io.stdout, [
      "[adhoc-backup/backup] line one",
      "[adhoc-backup/backup] line two",
    ]);
    assert.ok(
      io.stderr.some((l) => /pgr-x-validation \[validation .*\]: failed \(verify exit 1\)/.test(l)),
    );
  });

  it("says where to read logs the cluster cannot serve", async () => {
    const cluster = new FakeCluster();
    cluster.setJob("pgr-x-adhoc-backup", { state: "succeeded", containers: [] });
    cluster.noLogs.set("pgr-x-adhoc-backup", "no kubelet");
    const io = testIo();
    await waitForJobs(
      cluster,
      [{ namespace: "ns", name: "pgr-x-adhoc-backup", role: "adhoc-backup" }],
      io,
      { followRoles: ["adhoc-backup"], pollMs: 5 },
    );
    assert.ok(
      io.stderr.some((l) =>
        /logs of Job pgr-x-adhoc-backup not available here: no kubelet; read them with: kubectl -n ns logs job\/pgr-x-adhoc-backup/.test(
          l,
        ),
      ),
    );
  });
});

describe("runner: the journal", () => {
  const ev = (command: string, kind: string) => ({
    at: "2026-01-01T00:00:00Z",
    stack: "qa",
    command,
    kind,
    text: kind,
  });

  it("an incident runs from its start to its finish; a new start begins the next", () => {
    const one = [
      ev("status", "x"),
      ev("start", "command"),
      ev("start", "update"),
      ev("finish", "finished"),
    ];
    assert.deepEqual(
      latestIncident(one).map((e) => e.kind),
      ["command", "update", "finished"],
    );
    const two = [...one, ev("finish", "command"), ev("start", "command"), ev("start", "update")];
    assert.deepEqual(
      latestIncident(two).map((e) => `${e.command}:${e.kind}`),
      ["start:command", "start:update"],
    );
  });

  it("survives a torn last line (the runner killed while writing)", () => {
    const home = testDir("pgr-journal-");
    const j = new Journal("qa", home);
    j.append({ command: "start", kind: "command", text: "start" });
    fs.appendFileSync(j.file, '{"at":"2026-01-01T00:00:00Z","stack":"qa","comm');
    assert.deepEqual(
      j.read().map((e) => e.kind),
      ["command"],
    );
    // The rerun's first event starts a line of its own, not glued to the fragment.
    j.append({ command: "resume", kind: "update-abandoned", text: "lock cleared" });
    assert.deepEqual(
      j.read().map((e) => e.kind),
      ["command", "update-abandoned"],
    );
    assert.equal(fs.statSync(j.file).mode & 0o777, 0o600, "the journal is the operator's alone");
    assert.throws(() => new Journal("../etc", home), /invalid stack name/);
  });
});

describe("runner: the house (nothing imports the runner)", function () {
  this.timeout(60_000);
  const problems = async (file: string, from: string) => {
    const eslint = new ESLint({ cwd: REPO_ROOT });
    const [r] = await eslint.lintText(`import * as x from "${from}";\nexport const y = x;\n`, {
      filePath: path.join(REPO_ROOT, file),
    });
    return r.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
  };
  for (const [file, from] of [
    ["stacks/x.ts", "../runner/cli"],
    ["offline/x.ts", "../runner/engine"],
    ["components/x.ts", "../runner/summary"],
    ["tools/x.ts", "../runner/cli"],
    ["runner/x.ts", "../datapath/cli"],
  ]) {
    it(`${file} may not import ${from}`, async () =>
      assert.equal((await problems(file, from)).length, 1));
  }
  for (const [file, from] of [
    ["runner/x.ts", "../stacks/incident"],
    ["runner/x.ts", "../offline/offline"],
    ["runner/x.ts", "../contract/time"],
    ["runner/x.ts", "../components/naming"],
  ]) {
    it(`${file} may import ${from}`, async () => assert.deepEqual(await problems(file, from), []));
  }
});
