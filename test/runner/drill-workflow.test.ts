/**
 * The drill's workflow (.github/workflows/pg-recovery-drill.yml): actionlint passes it; monthly
 * schedule (qa; production opt-in) and dispatch; one drill per environment and never beside an
 * incident command (the incident workflow's concurrency group); the run script builds the drill
 * command line from environment variables; the cleanup runs always and aborts only a drill.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the workflow as parsed YAML */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseCommandLine, REPO_ROOT } from "../../runner/args";
import { runStep } from "./support/workflow-step";

const dir = path.join(REPO_ROOT, ".github", "workflows");
const FILE = path.join(dir, "pg-recovery-drill.yml");
const workflow = parse(fs.readFileSync(FILE, "utf8")) as any;
const incident = parse(fs.readFileSync(path.join(dir, "pg-recovery.yml"), "utf8")) as any;
const step = (name: RegExp) => workflow.jobs.drill.steps.find((s: any) => name.test(s.name ?? ""));

/** Runs a step's script with stand-ins for npm and pulumi; returns each npm call's argv. */
function runScript(script: string, env: Record<string, string>, pulumiSays = ""): string[][] {
  return runStep(script, env, pulumiSays).npm.map((argv) => argv.slice(4));
}

describe("runner: the drill's GitHub Actions workflow", function () {
  this.timeout(600_000);

  it("passes actionlint (built from the Go module proxy)", function () {
    if (spawnSync("go", ["version"]).status !== 0) this.skip(); // needs Go to build actionlint
    const r = spawnSync(path.join(REPO_ROOT, "tools", "actionlint.sh"), [FILE], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });

  it("runs monthly on qa (production opt-in by the default the team changes) and by hand", () => {
    assert.equal(workflow.on.schedule.length, 1);
    assert.match(workflow.on.schedule[0].cron, /^\d+ \d+ \d+ \* \*$/, "monthly");
    assert.deepEqual(JSON.parse(workflow.env.DRILL_ON_SCHEDULE), ["qa"]);
    assert.deepEqual(workflow.on.workflow_dispatch.inputs.environment.options, [
      "qa",
      "production",
    ]);
  });

  it("shares the incident workflow's concurrency group per environment, never cancelled", () => {
    assert.equal(workflow.jobs.drill.concurrency.group, "pg-recovery-${{ matrix.environment }}");
    assert.equal(incident.concurrency.group, "pg-recovery-${{ inputs.environment }}");
    assert.equal(workflow.jobs.drill.concurrency["cancel-in-progress"], false);
  });

  it("checks the stack's scenario first, then drills with --yes <env>; the runner parses both", () => {
    const names = workflow.jobs.drill.steps.map((s: any) => s.name ?? s.uses ?? s.run);
    const first = names.findIndex((n: string) => /scenario first/.test(n));
    const drill = names.indexOf("pg-recovery drill");
    assert.ok(first >= 0 && first < drill);
    const env = {
      PGR_ENVIRONMENT: "qa",
      PGR_RESTORE_TIME: "2026-11-25T09:00:00Z",
      PGR_KEEP: "true",
    };
    const [check] = runScript(step(/scenario first/).run, env);
    assert.deepEqual(check, [
      "drill",
      "--stack",
      "qa",
      "--dry-run",
      "--restore-time",
      "2026-11-25T09:00:00Z",
    ]);
    const [argv] = runScript(step(/^pg-recovery drill$/).run, env);
    assert.deepEqual(argv, [
      "drill",
      "--stack",
      "qa",
      "--yes",
      "qa",
      "--out",
      "pg-recovery-out",
      "--restore-time",
      "2026-11-25T09:00:00Z",
      "--keep",
    ]);
    for (const a of [check, argv]) assert.ok(parseCommandLine(a).ok, a.join(" "));
  });

  it("cleans up always, and aborts only a drill (never an incident)", () => {
    const cleanup = step(/clean up/);
    assert.match(cleanup.if, /^always\(\)/);
    const env = { PGR_ENVIRONMENT: "production" };
    assert.deepEqual(runScript(cleanup.run, env, "drill"), [
      ["abort", "--stack", "production", "--yes", "production"],
    ]);
    assert.deepEqual(runScript(cleanup.run, env, "corrupted"), []);
    assert.deepEqual(runScript(cleanup.run, env, ""), []);
  });

  it("puts the record on the run page and keeps it as an artifact", () => {
    assert.match(step(/^pg-recovery drill$/).run, /drill-\*\.md.*GITHUB_STEP_SUMMARY/s);
    const upload = workflow.jobs.drill.steps.find((s: any) => /upload-artifact/.test(s.uses ?? ""));
    assert.equal(upload.if, "always()");
    assert.equal(upload.with.path, "pg-recovery-out/");
  });
});
