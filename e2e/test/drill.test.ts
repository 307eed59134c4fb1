/**
 * `pg-recovery drill` as an operator runs it: the real Pulumi CLI (Automation API), a real API
 * server (e2e/cluster.sh, a cluster of its own), the e2e program (the drill server a stand-in, see
 * e2e/program/platform.ts). The drill converges, its checks' Jobs are created and awaited, the
 * record is written, and then nothing of the drill is left in the cluster or the stack; the app
 * is never touched. A drill killed mid-`up` (its whole process group) and rerun ends just as clean.
 *
 * What this cluster cannot give, and what the drill must then say: there is no kubelet (kwok
 * completes the Jobs' pods by its default stages, so the Jobs succeed, but no container ever ran
 * and there is no log to read), so the checks' evidence cannot be read and the drill must FAIL
 * them by name, exit 1, and still remove everything. There is no Azure storage either (no
 * connection string, no `az` login), so the record cannot be archived: the drill must say so and
 * keep the record on disk. A pass here would be a fake.
 *
 * Knobs: E2E_SEED [e2e/seed/app.yaml]; E2E_KEEP_CLUSTER=true keeps the cluster afterwards.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects and records as JSON */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DATA_TOOL_ENV } from "../../contract/data-tool";
import { LABELS } from "../../contract/runbook";
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

/** The label every object of a drill carries (stacks/drill.ts). */
const DRILL_LABEL = `${LABELS.drill}=true`;

describe("pg-recovery drill against the real CLI and a real API server", function () {
  this.timeout(30 * 60_000);
  let env: NodeJS.ProcessEnv;
  let app: SeededApp;
  let seeded: Record<string, unknown>;
  let seededManagers: Record<string, string[]>;
  let work: string;
  const state = testDir("pgr-drill-e2e-");

  const drill = (out: string) => ["drill", "--stack", STACK, "--work-dir", work, "--out", out];
  const pgr = (...args: string[]) => runRunner([...args, "--work-dir", work], env);

  /** Everything of a drill in the cluster, in any namespace. */
  const drillObjects = () =>
    kubectl(env, "get", "jobs,pods,secrets,configmaps,services", "-A", "-l", DRILL_LABEL)
      .items.map((o: any) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)
      .concat(
        kubectl(env, "-n", app.namespace, "get", "jobs,secrets")
          .items.filter((o: any) => o.metadata.name.startsWith("pgr-drill-"))
          .map((o: any) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
      );
  const stackResources = (): any[] => {
    const r = run("pulumi", ["stack", "export", "--stack", STACK], env, work);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).deployment?.resources ?? [];
  };
  const stackFile = () => fs.readFileSync(path.join(work, `Pulumi.${STACK}.yaml`), "utf8");

  /** Nothing of the drill anywhere, and the app exactly as its owner seeded it. */
  const clean = async () => {
    assert.deepEqual(drillObjects(), [], "the drill left objects in the cluster");
    assert.deepEqual(overlayObjects(env, app), [], "the overlay left objects in the cluster");
    assert.deepEqual(stackResources(), [], "the drill left resources in the stack");
    assert.doesNotMatch(stackFile(), /scenario|restoreTime|incidentDate/, "back to scenario none");
    const status = await pgr("status", "--stack", STACK, "--json");
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout);
    assert.deepEqual([st.scenario, st.appliedScenario, st.declared], ["none", "none", []]);
    assert.deepEqual(appState(env, app), seeded, "the app's objects changed");
    assert.deepEqual(managers(env, app), seededManagers, "the app's field managers changed");
  };

  before(async () => {
    const clusterEnv = await runnerClusterUp(path.join(state, "cluster"));
    env = {
      ...clusterEnv,
      PG_RECOVERY_HOME: path.join(state, "home"),
      PG_RECOVERY_SKIP_CLOUD_ACCOUNT: "true",
    };
    // No storage credentials: the archive is unreachable here, as the header says.
    for (const k of Object.values(DATA_TOOL_ENV)) delete env[k];
    app = readSeed(SEED);
    seed(env, SEED);
    seeded = appState(env, app);
    seededManagers = managers(env, app);
    work = projectDir(STACK, app, currentContext(env));
  });

  after(() => {
    if (env && process.env.E2E_KEEP_CLUSTER !== "true") runnerClusterDown(env);
  });

  it("1. converges, awaits the checks' Jobs, writes the record, fails the unreadable checks by name, removes everything", async () => {
    const out = path.join(state, "record-1");
    const r = await runRunner([...drill(out), ...YES], env);
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    // Converged: `up` created the storage Secret, the drill server (a stand-in) and both Jobs.
    assert.match(r.stdout, /Restore drill on e2e \(e2e\)/, "the summary came first");
    assert.match(
      r.stdout,
      /\+ create drill-server \(pg-recovery-e2e:index:PointInTimeRestoreStandIn/,
    );
    assert.match(r.stdout, /4 to create, 0 to change, 0 to delete/);
    const date = /dated (\d{4}-\d{2}-\d{2})/.exec(r.stdout)?.[1];
    assert.ok(date, "the summary names the drill's date");
    const jobs = [`pgr-drill-${date}-verify`, `pgr-drill-${date}-restore`];
    assert.match(r.stderr, new RegExp(`✓ created k8s Secret pgr-drill-${date}-storage`));
    // Created, awaited to the end (kwok completes their pods), then deleted by the revert.
    for (const job of jobs) {
      assert.match(r.stderr, new RegExp(`✓ created k8s Job ${job}`));
      assert.match(r.stderr, new RegExp(`Job ${job} \\[drill: [^\\]]+\\]: succeeded in`));
      assert.match(r.stderr, new RegExp(`✓ deleted k8s Job ${job}`));
    }
    // Both awaited, in whichever order the stack lists them.
    const waiting = /Waiting for the drill's checks: (.*) \.\.\./.exec(r.stderr)?.[1];
    assert.deepEqual(waiting?.split(", ").sort(), jobs.map((j) => `Job ${j}`).sort());
    // With no kubelet there is no log: each check fails by name, the drill fails, exit 1.
    for (const role of ["drill-verify", "drill-restore"]) {
      assert.match(r.stdout, new RegExp(`\\[FAILED\\] ${role}: log: its log could not be read`));
      assert.match(r.stderr, new RegExp(`  - ${role}: log: its log could not be read`));
    }
    assert.match(r.stderr, /Drill FAILED on e2e:/);
    assert.match(r.stdout, /Drill FAILED on e2e\. Record:/);
    // Removed even so: the revert ran after the failed checks.
    assert.match(r.stdout, /Drill removed: .* e2e is back to scenario none/);
    // No storage: said (no `az`, no connection string), not crashed; the record kept on disk.
    assert.match(
      r.stderr,
      /the record could not be archived in e2ebackups\/database-backup: not archived: /,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /a bug; please report|^\s+at .*:\d+:\d+\)?$/m);

    const base = path.join(out, `drill-${STACK}-${date}`);
    const record = JSON.parse(fs.readFileSync(`${base}.json`, "utf8"));
    const md = fs.readFileSync(`${base}.md`, "utf8");
    assert.equal(record.outcome, "failed");
    assert.match(record.archived, /^not archived: /);
    assert.deepEqual([...record.names.jobs].sort(), [...jobs].sort());
    assert.equal(record.names.drillServer, "e2e-live-pg-drill");
    assert.deepEqual(
      record.checks.map((c: any) => [c.check, c.outcome, c.job]),
      [
        ["drill-verify: log", "failed", jobs[0]],
        ["drill-restore: log", "failed", jobs[1]],
      ],
    );
    assert.equal(record.failures.length, 2, record.failures.join("\n"));
    assert.match(md, /\| drill-verify: log \| \*\*FAILED\*\* \| its log could not be read/);
    for (const job of jobs) assert.match(md, new RegExp(`- Jobs: .*\\b${job}\\b`));
    assert.ok(!md.includes(env.PULUMI_CONFIG_PASSPHRASE!), "the record holds the passphrase");
    assert.ok(fs.existsSync(`${base}-history.svg`));

    await clean();
  });

  it("2. a drill killed mid-up (with its Pulumi CLI) and rerun ends clean", async () => {
    const first = startRunner([...drill(path.join(state, "record-2a")), ...YES], env);
    // Killed as the engine creates the checks' Jobs: the storage Secret is made, the Jobs not done.
    assert.ok(await first.until(/… creating k8s Job/), "the update never got there");
    killGroup(first);
    const killed = await first.done;
    assert.equal(killed.signal, "SIGKILL");
    assert.ok(drillObjects().length > 0, "the kill left nothing in the cluster: not mid-up");
    // The kill can land while the backend writes the state file's metadata sidecar, which is
    // written in place: then every pulumi command says "EOF" (CI met it by chance). Made so
    // here, deterministically, as such a kill would; the rerun must repair it.
    fs.truncateSync(stackSidecar(env, STACK), 0);
    const broken = run("pulumi", ["stack", "ls"], env, work);
    assert.notEqual(broken.code, 0, "the CLI read a backend with a torn sidecar");
    assert.match(broken.stderr, /EOF/);
    // Mid-drill, the app is as seeded: the drill only ever reads it.
    assert.deepEqual(appState(env, app), seeded, "the app's objects changed mid-drill");
    assert.deepEqual(managers(env, app), seededManagers, "the app's field managers changed");

    const rerun = await runRunner([...drill(path.join(state, "record-2b")), ...YES], env);
    // Same truth as check 1: the checks' logs cannot be read here, so the drill fails them.
    assert.equal(rerun.code, 1, `exit ${rerun.code}\n${rerun.stdout}\n${rerun.stderr}`);
    assert.match(rerun.stdout, /continuing the drill the stack holds/);
    assert.match(rerun.stderr, /torn state metadata file\(s\) in .*e2e\.json\.attrs.*; removed/);
    assert.match(rerun.stderr, /was interrupted; its lock is cleared/);
    assert.match(
      rerun.stderr,
      /Drill FAILED on e2e:\n {2}- drill-verify: log: its log could not be read/,
    );
    await clean();
  });
});
