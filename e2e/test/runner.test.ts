/**
 * `pg-recovery`, the incident runner, as an operator runs it: the real Pulumi CLI (Automation
 * API), a real API server (e2e/cluster.sh, a cluster of its own), the e2e program (the product's
 * composition with Azure and GitHub stood in for). Bad input changes nothing; start, resume and
 * finish leave the app exactly as its owner seeded it; a runner killed mid-update (its whole
 * process group, the Pulumi CLI with it, as a closed terminal does) is rerun and converges; the
 * incident record holds no secret.
 *
 * Knobs: E2E_SEED [e2e/seed/app.yaml]; E2E_KEEP_CLUSTER=true keeps the cluster afterwards.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects as JSON */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { appState, managers, overlayObjects, readSeed, SeededApp } from "./support/app";
import { currentContext, kubectl, run, seed, SEED } from "./support/cluster";
import {
  killGroup,
  projectDir,
  runnerClusterDown,
  runnerClusterUp,
  runRunner,
  stackSidecar,
  startRunner,
  STACK,
  YES,
} from "./support/runner";
import { testDir } from "../../test/support/tmp";

describe("pg-recovery (the runner) against the real CLI and a real API server", function () {
  this.timeout(30 * 60_000);
  let env: NodeJS.ProcessEnv;
  let app: SeededApp;
  let seeded: Record<string, unknown>;
  let work: string;
  let home: string;
  const state = testDir("pgr-runner-e2e-");
  // An hour ago, whole seconds, UTC: inside the stand-in's retention, never in the future.
  const restoreTime = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000)
    .toISOString()
    .replace(/\.000Z$/, "Z");
  /** `start` for a corruption of the e2e stack, restored to `at`. */
  const startAt = (at: string) => [
    "start",
    "--stack",
    STACK,
    "--scenario",
    "corrupted",
    "--restore-time",
    at,
  ];
  const start = startAt(restoreTime);

  const pgr = (...args: string[]) => runRunner([...args, "--work-dir", work], env);
  const replicas = () =>
    Object.fromEntries(
      app.deployments.map((d) => [
        d.name,
        kubectl(env, "-n", app.namespace, "get", "deployment", d.name).spec.replicas,
      ]),
    );
  const seededReplicas = () => Object.fromEntries(app.deployments.map((d) => [d.name, d.replicas]));
  const stackFile = () => fs.readFileSync(path.join(work, `Pulumi.${STACK}.yaml`), "utf8");
  const unchanged = () => {
    assert.deepEqual(appState(env, app), seeded, "the app's objects changed");
    assert.deepEqual(overlayObjects(env, app), [], "the overlay created something");
  };

  before(async () => {
    const clusterEnv = await runnerClusterUp(path.join(state, "cluster"));
    home = path.join(state, "home");
    env = { ...clusterEnv, PG_RECOVERY_HOME: home, PG_RECOVERY_SKIP_CLOUD_ACCOUNT: "true" };
    app = readSeed(SEED);
    seed(env, SEED);
    seeded = appState(env, app);
    work = projectDir(STACK, app, currentContext(env));
  });

  after(() => {
    if (env && process.env.E2E_KEEP_CLUSTER !== "true") runnerClusterDown(env);
  });

  it("1. bad input changes nothing and says what to do", async () => {
    const naive = await pgr(...startAt("2026-11-20T06:59:00"), ...YES);
    assert.equal(naive.code, 1);
    // November: London's wall clock is UTC, so one reading, refused all the same.
    assert.match(naive.stderr, /has no UTC offset, .*a time without an offset is not accepted/);
    assert.match(naive.stderr, /pg-recovery:restoreTime is --restore-time/);

    const unknown = await pgr(...start.map((a) => (a === STACK ? "e2f" : a)), ...YES);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown stack "e2f"/);
    const stacks = run("pulumi", ["stack", "ls", "--json"], env, work);
    assert.ok(!stacks.stdout.includes('"e2f"'), "no stack was created for the typo");

    const wrongName = await pgr(...start, "--yes", "production");
    assert.equal(wrongName.code, 1);
    assert.match(
      wrongName.stderr,
      /--yes "production" does not name this environment: it is "e2e"/,
    );
    assert.match(wrongName.stdout, /Scale down every writer/, "the summary came first");
    const noTerminal = await pgr(...start);
    assert.equal(noTerminal.code, 1);
    assert.match(noTerminal.stderr, /no terminal to confirm on/);
    assert.doesNotMatch(stackFile(), /scenario/, "the config was put back");

    const promote = await pgr(
      "promote",
      "--stack",
      STACK,
      "--mode",
      "whole",
      "--confirm",
      "e2e-live-pg",
      ...YES,
    );
    assert.equal(promote.code, 1);
    assert.match(promote.stderr, /promote before start/);
    const finish = await pgr("finish", "--stack", STACK, ...YES);
    assert.equal(finish.code, 1);
    assert.match(finish.stderr, /nothing to finish on e2e/);
    unchanged();
  });

  it("2. start: the summary in the runbook's words, then writers at 0, maintenance on, the Jobs awaited", async () => {
    const r = await pgr(
      ...start,
      "--noticed-at",
      new Date(Date.now() - 60_000).toISOString(),
      ...YES,
    );
    assert.equal(r.code, 0, r.stderr);
    for (const step of [
      "5–6. Maintenance mode",
      "Scale down every writer",
      "Corrupted 2. Ad-hoc backup of live",
      "Corrupted 4. Validate",
    ]) {
      assert.ok(r.stdout.includes(step), `summary lacks ${step}`);
    }
    assert.match(
      r.stdout,
      new RegExp(`${app.deployments[0].name} to 0 replicas \\(was ${app.deployments[0].replicas};`),
    );
    assert.match(
      r.stdout,
      /Job pgr-\d{4}-\d{2}-\d{2}-adhoc-backup \[ad-hoc backup of live\]: succeeded/,
    );
    assert.match(
      r.stdout,
      /Job pgr-\d{4}-\d{2}-\d{2}-validation \[validation \(verify \+ promotion plan\)\]: succeeded/,
    );
    assert.match(r.stdout, /== Validation report/);
    assert.ok(Object.values(replicas()).every((n) => n === 0));
    const page = kubectl(env, "-n", app.namespace, "get", "deployment", "pgr-maintenance");
    assert.equal(page.status.conditions.find((c: any) => c.type === "Available")?.status, "True");

    const again = await pgr(...start); // converged: no question, no --yes needed
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to change/);
  });

  it("3. a runner killed mid-update (with its Pulumi CLI) is rerun: the lock is cleared, the step converges", async () => {
    const first = startRunner(["resume", "--stack", STACK, "--work-dir", work, ...YES], env);
    // Killed as the engine starts deleting the scale-down patches: mid-update, hooks in flight.
    assert.ok(await first.until(/… deleting k8s DeploymentPatch/), "the update never got there");
    killGroup(first);
    const killed = await first.done;
    assert.equal(killed.signal, "SIGKILL");
    // A kill that lands while the backend writes a state file's metadata sidecar leaves it
    // empty (it is written in place), and then every pulumi command fails with "EOF". Whether a
    // kill lands there is timing; this makes it so, deterministically, as that kill would.
    const sidecar = stackSidecar(env, STACK);
    fs.truncateSync(sidecar, 0);
    const broken = run("pulumi", ["stack", "ls"], env, work);
    assert.notEqual(broken.code, 0, "the CLI read a backend with a torn sidecar");
    assert.match(broken.stderr, /EOF/);

    const rerun = await pgr("resume", "--stack", STACK, ...YES);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /torn state metadata file\(s\) in .*e2e\.json\.attrs.*; removed/);
    assert.match(rerun.stderr, /was interrupted; its lock is cleared/);
    assert.deepEqual(replicas(), seededReplicas(), "the app is back at the seeded counts");
    const status = await pgr("status", "--stack", STACK, "--json");
    assert.equal(JSON.parse(status.stdout).phase, "app back, maintenance on");
    const again = await pgr("resume", "--stack", STACK);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to change/);
  });

  it("4. finish: the cluster is exactly as seeded, Pulumi owns nothing of the app; finish twice says so", async () => {
    const r = await pgr("finish", "--stack", STACK, ...YES);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /maintenance off/);
    assert.match(r.stdout, /Finished: maintenance off, pipeline unfrozen/);
    unchanged();
    for (const [id, list] of Object.entries(managers(env, app))) {
      assert.ok(
        !list.some((m) => /pulumi/i.test(m)),
        `${id} still has Pulumi field managers: ${list}`,
      );
    }
    assert.doesNotMatch(stackFile(), /scenario|restoreTime|incidentDate/, "back to scenario none");

    const twice = await pgr("finish", "--stack", STACK, ...YES);
    assert.equal(twice.code, 0);
    assert.match(twice.stdout, /Already finished at /);
    unchanged();
  });

  it("5. record: the whole incident, in UTC and Europe/London, with no secret", async () => {
    const out = path.join(state, "record");
    const r = await pgr("record", "--stack", STACK, "--out", out);
    assert.equal(r.code, 0, r.stderr);
    const files = fs.readdirSync(out).sort();
    assert.deepEqual(
      files.map((f) => path.extname(f)),
      [".json", ".md"],
    );
    const md = fs.readFileSync(path.join(out, files[1]), "utf8");
    const json = JSON.parse(fs.readFileSync(path.join(out, files[0]), "utf8"));
    assert.equal(json.state, "finished");
    for (const cmd of ["start", "resume", "finish"]) {
      assert.ok(
        json.timeline.some((t: any) => t.event.startsWith(`pg-recovery ${cmd}`)),
        `no ${cmd} in the timeline`,
      );
    }
    assert.ok(
      json.timeline.some((t: any) => /was interrupted; its lock is cleared/.test(t.event)),
      "the kill is on record",
    );
    assert.match(json.rto, /from the first command to the app back/);
    assert.ok(
      json.timeline.every((t: any) => /Z$/.test(t.utc) && /Europe\/London$/.test(t.london)),
    );
    // The seed's secret values (the app's DATABASE_URL password, its key base) and the state's
    // passphrase appear nowhere.
    for (const secret of ["seed-not-a-secret", env.PULUMI_CONFIG_PASSPHRASE!]) {
      assert.ok(
        !md.includes(secret) && !JSON.stringify(json).includes(secret),
        `the record holds ${secret}`,
      );
    }
  });
});
