/**
 * The offline plan CLI (`pg-recovery plan`, which `npm run plan` runs), spawned the way an
 * operator runs it. Spawning costs a
 * few seconds, so every run is started at once in `before` and the tests read the results.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the CLI's JSON is untyped here */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { RUNBOOK, runbookStepOf } from "../../contract/runbook";
import { formatUtc } from "../../contract/time";
import { evaluateOffline } from "../../offline/offline";
import { FAKETIME, managed, ROOT, stackConfig } from "../support/pulumi-harness";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], wrapper: string[] = []): Promise<Result> {
  const argv = [
    ...wrapper,
    process.execPath,
    path.join(ROOT, "runner", "bin", "pg-recovery.js"),
    "plan",
    ...args,
  ];
  return new Promise((resolve) => {
    execFile(
      argv[0],
      argv.slice(1),
      // TZ pinned so faketime's wall-clock string means the same instant everywhere.
      {
        cwd: ROOT,
        env: { ...process.env, TZ: "UTC" },
        timeout: 60_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// The text plan uses the real clock: a restore time one day before it is always valid.
const yesterday = new Date(Math.floor((Date.now() - 86_400_000) / 60_000) * 60_000);
const TEXT_SETS = {
  scenario: "corrupted",
  incidentDate: formatUtc(yesterday).slice(0, 10),
  restoreTime: formatUtc(yesterday),
};
const asSetArgs = (sets: Record<string, string>) =>
  Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
// No clock-dependent validation in a rebuild, so it is valid at any clock, faked or not.
const JSON_ARGS = [
  "--stack",
  "qa",
  "--set",
  "pg-recovery:scenario=server-gone",
  "--set",
  "incidentDate=2026-11-24",
  "--json",
];
const FAKE_CLOCK = "2026-12-24 10:00:00";

describe("plan CLI (pg-recovery plan)", function () {
  this.timeout(90_000);
  let text: Result;
  let json: Result;
  let badConfig: Result;
  let noStack: Result;
  let faked: Result | undefined;
  let fakedClock: Result | undefined;

  before(async () => {
    [text, json, badConfig, noStack, faked, fakedClock] = await Promise.all([
      run(["--stack", "qa", ...asSetArgs(TEXT_SETS)]),
      run(JSON_ARGS),
      run([
        "--stack",
        "qa",
        ...asSetArgs({
          scenario: "corrupted",
          incidentDate: "2024-07-24",
          restoreTime: "2024-07-24T06:00:00",
        }),
      ]),
      run(["--set", "scenario=corrupted"]),
      FAKETIME ? run(JSON_ARGS, [FAKETIME, FAKE_CLOCK]) : undefined,
      FAKETIME
        ? new Promise<Result>((resolve) =>
            execFile(
              FAKETIME!,
              [
                FAKE_CLOCK,
                process.execPath,
                "-e",
                "process.stdout.write(new Date().toISOString())",
              ],
              { env: { ...process.env, TZ: "UTC" } },
              (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
            ),
          )
        : undefined,
    ]);
  });

  describe("text table (qa, corrupted)", () => {
    const row = (type: string, name: string, inputs: RegExp) =>
      new RegExp(`^  ${type}\\s+${name.replace(/\./g, "\\.")}\\s+.*${inputs.source}`, "m");

    it("succeeds and says it is offline", () => {
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^pg-recovery plan: stack qa, scenario corrupted$/m);
      assert.match(
        text.stdout,
        /offline: the real program under Pulumi mocks; nothing was called or changed/,
      );
    });

    it("names the key inputs of each resource", () => {
      const d = TEXT_SETS.incidentDate;
      const rows = [
        row(
          "github RepositoryRuleset",
          "freeze-ruleset",
          /repo=publish-teacher-training .* on ~DEFAULT_BRANCH requires 6 approving reviews/,
        ),
        row(
          "azure Server",
          "point-in-time-restore-server",
          new RegExp(
            `s189t01-ptt-qa-rg/s189t01-ptt-qa-pg-ptr createMode=PointInTimeRestore pointInTimeUTC=${TEXT_SETS.restoreTime} source=s189t01-ptt-qa-pg subnet=postgres-snet kept on destroy`,
          ),
        ),
        row(
          "k8s DeploymentPatch",
          "scale-down-publish-qa",
          /bat-qa\/publish-qa replicas=0 \(restores 2 on destroy\)/,
        ),
        row(
          "k8s DeploymentPatch",
          "scale-down-publish-qa-worker",
          /bat-qa\/publish-qa-worker replicas=0/,
        ),
        row(
          "k8s Job",
          "adhoc-backup-job",
          new RegExp(
            `bat-qa/pgr-${d}-adhoc-backup: backup --name ptt_qa_adhoc_${d} --db-env DATABASE_URL`,
          ),
        ),
        row(
          "k8s IngressPatch",
          "maintenance-default-backend-publish-qa.test.teacherservices.cloud",
          /bat-qa\/publish-qa\.test\.teacherservices\.cloud \+annotation default-backend=pgr-maintenance/,
        ),
        row(
          "k8s Ingress",
          "maintenance-temporary-find-temp.test.teacherservices.cloud",
          /host=find-temp\.test\.teacherservices\.cloud -> publish-qa:80/,
        ),
        row(
          "k8s Ingress",
          "maintenance-canary-publish-qa.test.teacherservices.cloud",
          /-> pgr-maintenance:80 \(canary weight 100\)/,
        ),
      ];
      for (const r of rows) assert.match(text.stdout, r);
      assert.match(text.stdout, /^Read, never managed:\n {2}k8s Deployment app-secret-publish-qa/m);
      assert.match(text.stdout, /getServer s189t01-ptt-qa-rg\/s189t01-ptt-qa-pg: exists/);
    });

    it("counts exactly what the program declares", async () => {
      const inProcess = await evaluateOffline(stackConfig("qa", TEXT_SETS));
      const count = Number(/^Declared resources: (\d+)$/m.exec(text.stdout)?.[1]);
      assert.equal(count, managed(inProcess.resources).length);
      const tableRows = text.stdout
        .split("Declared resources:")[1]
        .split("\n\n")[0]
        .split("\n")
        .slice(2);
      assert.equal(tableRows.length, count);
    });
    it("lists providers first, then each runbook step's resources in the runbook's order", () => {
      const names = text.stdout
        .split("Declared resources:")[1]
        .split("\n\n")[0]
        .split("\n")
        .slice(2)
        .map((line) => line.trim().split(/\s{2,}/)[1]);
      const steps = names.filter((n) => runbookStepOf(n)).map((n) => runbookStepOf(n)!.id);
      const rank = (id: string) => RUNBOOK.findIndex((s) => s.id === id);
      assert.ok(new Set(steps).size >= 6, `steps in the plan: ${[...new Set(steps)]}`);
      assert.deepEqual(
        steps,
        [...steps].sort((x, y) => rank(x) - rank(y)),
      );
      const firstStep = names.findIndex((n) => runbookStepOf(n));
      assert.ok(names.slice(0, firstStep).length > 0, "providers come first");
      assert.ok(
        names.slice(firstStep).every((n) => runbookStepOf(n)),
        "every resource has a step",
      );
    });
  });

  describe("--json", () => {
    let doc: any;
    before(() => {
      assert.equal(json.code, 0, json.stderr);
      doc = JSON.parse(json.stdout);
    });

    it('has the shape {"stack", "resources": [{"type", "name", "inputs"}]}', () => {
      assert.equal(doc.stack, "qa");
      assert.ok(Array.isArray(doc.resources) && doc.resources.length > 0);
      for (const r of doc.resources) {
        assert.deepEqual(Object.keys(r).sort(), ["inputs", "name", "type"]);
        assert.equal(typeof r.type, "string");
        assert.equal(typeof r.name, "string");
        assert.equal(typeof r.inputs, "object");
      }
    });

    it("--set works with and without the pg-recovery: prefix", () => {
      // pg-recovery:scenario=server-gone (prefixed) and incidentDate=2026-11-24 (bare) both applied.
      assert.equal(doc.scenario, "server-gone");
      const server = doc.resources.find(
        (r: any) => r.type === "azure-native:dbforpostgresql:Server",
      );
      assert.equal(server.inputs.serverName, "s189t01-ptt-qa-pg");
      assert.ok(
        doc.resources.some(
          (r: any) => r.inputs.metadata?.name === "pgr-2026-11-24-restore-from-storage",
        ),
      );
    });

    it("lists the same resources as the program in-process", async () => {
      const inProcess = await evaluateOffline(
        stackConfig("qa", { scenario: "server-gone", incidentDate: "2026-11-24" }),
      );
      const names = (list: { type: string; name: string }[]) =>
        list.map((r) => `${r.type}::${r.name}`).sort();
      assert.deepEqual(names(doc.resources), names(managed(inProcess.resources)));
    });

    it("never prints secret material, not even offline placeholders", () => {
      assert.doesNotMatch(json.stdout, /offline-placeholder/);
      assert.match(json.stdout, /\[secret\]/);
    });
  });

  describe("errors", () => {
    it("bad config: non-zero exit, the config door's message on stderr, no plan on stdout", () => {
      assert.notEqual(badConfig.code, 0);
      assert.equal(badConfig.stdout, "");
      assert.match(
        badConfig.stderr,
        /^pg-recovery: the stack config is not a valid incident \(nothing was changed\):/,
      );
      assert.match(
        badConfig.stderr,
        /pg-recovery:restoreTime "2024-07-24T06:00:00" has no UTC offset/,
      );
      assert.match(
        badConfig.stderr,
        /read as UTC it is 2024-07-24T06:00:00Z .*read as Europe\/London wall-clock time it is 2024-07-24T05:00:00Z/s,
      );
      // An operator error, not a crash: no stack trace, no "plan failed".
      assert.doesNotMatch(badConfig.stderr, /^\s+at /m);
      assert.doesNotMatch(badConfig.stderr, /plan failed/);
    });

    it("missing --stack: usage error", () => {
      assert.equal(noStack.code, 2);
      assert.equal(noStack.stdout, "");
      assert.match(noStack.stderr, /--stack is required/);
      // The runner's plan command (npm run plan is its alias): one line and the usage line.
      assert.match(noStack.stderr, /usage: pg-recovery plan --stack <production\|qa>/);
      assert.ok(noStack.stderr.split("\n").length <= 4, noStack.stderr);
    });
  });

  describe("determinism under a faked clock (faketime)", () => {
    before(function () {
      if (!FAKETIME) {
        if (process.env.CI)
          throw new Error("faketime is not installed (CI installs the Debian faketime package)");
        console.warn("    (skipped: /usr/bin/faketime is not installed; CI installs it)");
        this.skip();
      }
    });

    it("faketime really moves the clock of a Node process", () => {
      assert.equal(fakedClock!.code, 0, fakedClock!.stderr);
      assert.match(fakedClock!.stdout, /^2026-12-24T10:00:/);
    });

    it(`the plan at ${FAKE_CLOCK} declares exactly the resources of the plan now`, () => {
      assert.equal(faked!.code, 0, faked!.stderr);
      const a = JSON.parse(json.stdout);
      const b = JSON.parse(faked!.stdout);
      assert.ok(a.resources.length > 10);
      assert.deepEqual(b.resources, a.resources);
      assert.ok(!faked!.stdout.includes("2026-12-24"), "the faked date leaked into the plan");
    });
  });
});
