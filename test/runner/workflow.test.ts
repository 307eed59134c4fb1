/**
 * The GitHub Actions entry point (.github/workflows/pg-recovery.yml): actionlint (built from the
 * Go module proxy by tools/actionlint.sh) passes it; inputs reach the shell only as environment
 * variables; the run script turns each dispatch into the runner command line it should (run here
 * with a stand-in `npm` that prints what it was given); a preview job never changes anything and
 * the apply job waits for the environment's reviewers.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the workflow as parsed YAML */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseCommandLine, REPO_ROOT } from "../../runner/args";
import { commandsArgv, startArgv } from "./support/commands";
import { runStep } from "./support/workflow-step";

const FILE = path.join(REPO_ROOT, ".github", "workflows", "pg-recovery.yml");
const workflow = parse(fs.readFileSync(FILE, "utf8")) as any;
const jobStep = (job: string) =>
  workflow.jobs[job].steps.find(
    (s: any) => typeof s.run === "string" && s.run.includes("pg-recovery"),
  );

/** Runs a job's script with these dispatch inputs; returns the argv `npm run pg-recovery` got. */
function argvFor(job: "preview" | "apply", inputs: Record<string, string>): string[] {
  const env: NodeJS.ProcessEnv = {};
  // The workflow-level env block, evaluated the way Actions would for these inputs.
  for (const [k, v] of Object.entries(workflow.env as Record<string, string>)) {
    const m = /^\$\{\{ inputs\.(\w+) \}\}$/.exec(v);
    if (m) env[k] = inputs[m[1]] ?? "";
    else if (k === "PGR_MODE") env[k] = inputs.mode && inputs.mode !== "none" ? inputs.mode : "";
    else env[k] = v;
  }
  Object.assign(env, jobStep(job).env, { PGR_PHASE: job });
  const run = runStep(jobStep(job).run, env);
  const argv = run.npm[run.npm.length - 1];
  assert.ok(argv, "the script did not run npm");
  assert.deepEqual(argv.slice(0, 3), ["run", "--silent", "pg-recovery"]);
  assert.ok(run.summary.startsWith("### pg-recovery "));
  return argv.slice(4); // after "--"
}

describe("runner: the GitHub Actions workflow", function () {
  this.timeout(600_000);

  it("passes actionlint (built from the Go module proxy)", function () {
    if (spawnSync("go", ["version"]).status !== 0) {
      console.warn(
        "    (skipped: no Go to build actionlint with; enable by putting go on PATH" +
          " (tools/actionlint.sh builds actionlint from the module proxy))",
      );
      this.skip();
    }
    const r = spawnSync(path.join(REPO_ROOT, "tools", "actionlint.sh"), [FILE], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });

  it("is dispatched by hand with the runbook's inputs, and logs in to Azure with OIDC", () => {
    const inputs = workflow.on.workflow_dispatch.inputs;
    assert.deepEqual(Object.keys(inputs).sort(), [
      "action",
      "confirm",
      "deleted_at",
      "environment",
      "incident_date",
      "mode",
      "noticed_at",
      "restore_time",
      "scenario",
      "tables",
    ]);
    assert.deepEqual(inputs.action.options, [
      "status",
      "start",
      "promote",
      "resume",
      "finish",
      "abort",
      "record",
      "commands",
    ]);
    assert.equal(workflow.permissions["id-token"], "write");
    for (const job of ["preview", "apply"]) {
      const login = workflow.jobs[job].steps.find((s: any) =>
        String(s.uses).startsWith("azure/login@"),
      );
      assert.equal(login.with["client-id"], "${{ vars.AZURE_CLIENT_ID }}");
      assert.ok(!JSON.stringify(login.with).includes("secret"), "OIDC: no client secret");
    }
    assert.equal(workflow.concurrency["cancel-in-progress"], false);
  });

  it("inputs reach the shell only through environment variables", () => {
    for (const job of Object.values(workflow.jobs) as any[]) {
      for (const step of job.steps) {
        if (typeof step.run === "string")
          assert.ok(!step.run.includes("${{"), `expression in a run script: ${step.run}`);
      }
    }
  });

  it("the apply job waits for the environment's reviewers, after the preview", () => {
    const apply = workflow.jobs.apply;
    assert.equal(apply.environment, "${{ inputs.environment }}");
    assert.equal(apply.needs, "preview");
    assert.equal(
      workflow.jobs.preview.environment,
      undefined,
      "the preview needs no approval: it changes nothing",
    );
  });

  it("preview runs changing commands as --dry-run; apply confirms with --yes <environment>", () => {
    const inputs = {
      environment: "production",
      action: "start",
      scenario: "corrupted",
      restore_time: "2024-07-24T06:59:00+01:00",
      noticed_at: "2024-07-24T08:10:00+01:00",
      mode: "none",
    };
    const preview = argvFor("preview", inputs);
    assert.deepEqual(
      preview,
      startArgv({
        scenario: "corrupted",
        restoreTime: "2024-07-24T06:59:00+01:00",
        noticedAt: "2024-07-24T08:10:00+01:00",
        dryRun: true,
      }),
    );
    const apply = argvFor("apply", inputs);
    assert.deepEqual(apply.slice(-2), ["--yes", "production"]);
    assert.ok(!apply.includes("--dry-run"));
  });

  it("promote, status, record and commands become the runner's own command lines", () => {
    const promote = argvFor("apply", {
      environment: "qa",
      action: "promote",
      mode: "merge",
      tables: "public.courses",
      confirm: "s189t01-ptt-qa-pg",
    });
    assert.deepEqual(promote, [
      "promote",
      "--stack",
      "qa",
      "--mode",
      "merge",
      "--tables",
      "public.courses",
      "--confirm",
      "s189t01-ptt-qa-pg",
      "--yes",
      "qa",
    ]);
    assert.deepEqual(argvFor("preview", { environment: "qa", action: "status", mode: "none" }), [
      "status",
      "--stack",
      "qa",
    ]);
    assert.deepEqual(argvFor("preview", { environment: "qa", action: "record", mode: "none" }), [
      "record",
      "--stack",
      "qa",
      "--out",
      "pg-recovery-out",
    ]);
    const commands = argvFor("preview", {
      environment: "qa",
      action: "commands",
      scenario: "corrupted",
      incident_date: "2024-07-24",
      restore_time: "2024-07-24T05:59:00Z",
      mode: "none",
    });
    assert.deepEqual(
      commands,
      commandsArgv("qa", {
        scenario: "corrupted",
        incidentDate: "2024-07-24",
        restoreTime: "2024-07-24T05:59:00Z",
      }),
    );
    // Every command line the workflow builds is one the runner accepts.
    for (const argv of [promote, commands]) {
      const parsed = parseCommandLine(argv);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
    }
  });
});
