/**
 * The overlay under the real Pulumi engine against a real Kubernetes API server (e2e/cluster.sh):
 * preview changes nothing, `up` converges, a second `up` changes nothing, `scaleDown=false` brings
 * back exactly the seeded replicas, `destroy --run-program` (or `scenario none`) puts the app back
 * exactly as its owner left it, and the owner's next apply meets no conflict.
 *
 * Scenario knobs (defaults in brackets): E2E_SEED [e2e/seed/app.yaml], E2E_INCIDENT_DATE
 * [2026-11-20], E2E_RESTORE_TIME [<date>T05:59:00Z].
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects as JSON */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { buildArgv } from "../../contract/data-tool";
import { incidentBackupNames } from "../../contract/backup-names";
import { appState, managers, overlayObjects, readSeed, SeededApp } from "./support/app";
import { clusterDown, clusterUp, currentContext, E2E, kubectl, run, seed } from "./support/cluster";
import { factsFor, Stack } from "./support/stack";

const SEED = path.resolve(process.env.E2E_SEED ?? path.join(E2E, "seed", "app.yaml"));
const DATE = process.env.E2E_INCIDENT_DATE ?? "2026-11-20";
const RESTORE_TIME = process.env.E2E_RESTORE_TIME ?? `${DATE}T05:59:00Z`;
const DEFAULT_BACKEND = "nginx.ingress.kubernetes.io/default-backend";

const replicasOf = (env: NodeJS.ProcessEnv, app: SeededApp) =>
  Object.fromEntries(
    app.deployments.map((d) => [
      d.name,
      kubectl(env, "-n", app.namespace, "get", "deployment", d.name).spec.replicas,
    ]),
  );
const seeded = (app: SeededApp) =>
  Object.fromEntries(app.deployments.map((d) => [d.name, d.replicas]));

describe("the overlay under the real Pulumi engine and a real API server", function () {
  this.timeout(20 * 60_000);
  let env: NodeJS.ProcessEnv;
  let app: SeededApp;
  let seededState: Record<string, unknown>;
  let stack: Stack;
  const corrupted = { scenario: "corrupted", incidentDate: DATE, restoreTime: RESTORE_TIME };

  before(() => {
    env = clusterUp();
    app = readSeed(SEED);
    seed(env, SEED);
    seededState = appState(env, app);
    stack = new Stack("e2e", env);
    stack.init();
    stack.set({ environment: factsFor(app, currentContext(env)), ...corrupted });
  });

  after(() => {
    if (env && process.env.E2E_KEEP_CLUSTER !== "true") clusterDown(env);
  });

  it("1. preview of corrupted shows the Kubernetes resources and changes nothing", () => {
    const r = stack.ok("preview", "--json");
    const steps: { op: string; urn: string }[] = JSON.parse(r.stdout).steps;
    const created = (type: string) =>
      steps.filter((s) => s.op === "create" && s.urn.includes(`::${type}::`)).length;
    assert.equal(created("kubernetes:apps/v1:DeploymentPatch"), app.deployments.length);
    assert.equal(created("kubernetes:networking.k8s.io/v1:IngressPatch"), app.ingresses.length);
    // Canary per public host, plus one per temporary host.
    assert.equal(created("kubernetes:networking.k8s.io/v1:Ingress"), app.ingresses.length + 2);
    assert.equal(created("kubernetes:batch/v1:Job"), 2, "ad-hoc backup and validation");
    assert.equal(created("kubernetes:apps/v1:Deployment"), 1, "the maintenance page");
    assert.deepEqual(appState(env, app), seededState);
    assert.deepEqual(overlayObjects(env, app), []);
  });

  it("2. up: writers at 0, the page Available, canaries and temporary Ingresses, only the annotation added, the Jobs as the unit tests expect", () => {
    stack.ok("up", "--yes", "--skip-preview");
    for (const [name, replicas] of Object.entries(replicasOf(env, app))) {
      assert.equal(replicas, 0, `${name} is not scaled down`);
    }
    const page = kubectl(env, "-n", app.namespace, "get", "deployment", "pgr-maintenance");
    const available = page.status.conditions.find((c: any) => c.type === "Available");
    assert.equal(available?.status, "True", "the maintenance page is not Available");

    const ingresses = kubectl(env, "-n", app.namespace, "get", "ingresses").items;
    const hostsOf = (pred: (i: any) => boolean) =>
      ingresses
        .filter(pred)
        .map((i: any) => i.spec.rules[0].host)
        .sort();
    assert.deepEqual(
      hostsOf((i) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/canary"] === "true"),
      app.ingresses.map((i) => i.host).sort(),
    );
    assert.deepEqual(
      hostsOf(
        (i) =>
          i.spec.rules[0].http.paths[0].backend.service.name === app.webService.name &&
          i.metadata.labels?.["app.kubernetes.io/managed-by"] === "pg-recovery",
      ),
      ["api-temp.e2e.test", "app-temp.e2e.test"],
    );

    // The app's Ingresses: every field as seeded, plus the one annotation the patch owns.
    const now = appState(env, app);
    for (const i of app.ingresses) {
      const was = seededState[`Ingress/${i.name}`] as any;
      const is = now[`Ingress/${i.name}`] as any;
      assert.deepEqual(is.spec, was.spec, `${i.name}: spec changed`);
      assert.deepEqual(is.labels, was.labels, `${i.name}: labels changed`);
      const added = Object.keys(is.annotations).filter((k) => !(k in was.annotations));
      assert.deepEqual(added, [DEFAULT_BACKEND], `${i.name}: annotations added`);
      for (const [k, v] of Object.entries(was.annotations)) assert.equal(is.annotations[k], v);
      assert.equal(is.annotations[DEFAULT_BACKEND], "pgr-maintenance");
    }

    // The data Jobs: the contract's argv, the app's secret and the storage secret by reference.
    const secretOfWeb = kubectl(env, "-n", app.namespace, "get", "deployment", app.webService.name)
      .spec.template.spec.containers[0].envFrom[0].secretRef.name;
    const jobs = Object.fromEntries(
      kubectl(env, "-n", app.namespace, "get", "jobs").items.map((j: any) => [j.metadata.name, j]),
    );
    const names = incidentBackupNames("e2e", DATE);
    const ptrHost = "e2e-live-pg-ptr.postgres.database.azure.com";
    const expected: Record<string, string[][]> = {
      [`pgr-${DATE}-adhoc-backup`]: [
        buildArgv({ command: "backup", options: { name: names.adhoc, dbEnv: "DATABASE_URL" } }),
      ],
      [`pgr-${DATE}-validation`]: [
        buildArgv({
          command: "verify",
          options: {
            sourceEnv: "DATABASE_URL",
            targetEnv: "DATABASE_URL",
            targetHost: ptrHost,
            restoreTarget: RESTORE_TIME,
          },
        }),
        buildArgv({
          command: "promote",
          options: {
            fromEnv: "DATABASE_URL",
            fromHost: ptrHost,
            toEnv: "DATABASE_URL",
            restoreTarget: RESTORE_TIME,
            plan: true,
          },
        }),
      ],
    };
    assert.deepEqual(Object.keys(jobs).sort(), Object.keys(expected).sort());
    for (const [name, argvs] of Object.entries(expected)) {
      const spec = jobs[name].spec.template.spec;
      const containers = [...(spec.initContainers ?? []), ...spec.containers];
      assert.deepEqual(
        containers.map((c: any) => c.args),
        argvs,
        name,
      );
      for (const c of containers) {
        const envOf = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
        assert.deepEqual(envOf.DATABASE_URL.valueFrom.secretKeyRef, {
          name: secretOfWeb,
          key: "DATABASE_URL",
        });
        assert.deepEqual(envOf.AZURE_STORAGE_CONNECTION_STRING.valueFrom.secretKeyRef, {
          name: `pgr-${DATE}-storage`,
          key: "connection-string",
        });
        assert.equal(envOf.BACKUP_CONTAINER.value, "database-backup");
      }
    }
  });

  it("3. a second up and a preview with --expect-no-changes report no changes", () => {
    stack.ok("up", "--yes", "--skip-preview", "--expect-no-changes");
    stack.ok("preview", "--expect-no-changes");
  });

  it("4. scaleDown=false: replicas back to exactly the seeded counts, maintenance still on", () => {
    stack.set({ scaleDown: false });
    stack.ok("up", "--yes", "--skip-preview");
    assert.deepEqual(replicasOf(env, app), seeded(app));
    const canaries = kubectl(env, "-n", app.namespace, "get", "ingresses").items.filter(
      (i: any) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/canary"] === "true",
    );
    assert.equal(canaries.length, app.ingresses.length);
  });

  it("5. plain destroy is refused; destroy --run-program restores the seeded app exactly", () => {
    stack.set({ scaleDown: undefined });
    stack.ok("up", "--yes", "--skip-preview");
    assert.ok(Object.values(replicasOf(env, app)).every((r) => r === 0));

    const plain = stack.pulumi("destroy", "--yes", "--skip-preview");
    assert.notEqual(plain.code, 0, "a destroy that skips the replica restore must be refused");
    assert.match(plain.stdout + plain.stderr, /--run-program/);
    assert.ok(
      Object.values(replicasOf(env, app)).every((r) => r === 0),
      "nothing was reverted",
    );

    stack.ok("destroy", "--yes", "--skip-preview", "--run-program");
    assert.deepEqual(replicasOf(env, app), seeded(app));
    assert.deepEqual(appState(env, app), seededState);
    assert.deepEqual(overlayObjects(env, app), []);
  });

  it("6. the same revert through scenario none and up", () => {
    stack.set({ scenario: "corrupted" });
    stack.ok("up", "--yes", "--skip-preview");
    assert.ok(Object.values(replicasOf(env, app)).every((r) => r === 0));
    stack.set({ scenario: "none" });
    stack.ok("up", "--yes", "--skip-preview");
    assert.deepEqual(replicasOf(env, app), seeded(app));
    assert.deepEqual(appState(env, app), seededState);
    assert.deepEqual(overlayObjects(env, app), []);
  });

  it("7. after the revert the owner re-applies its manifests with no conflict; Pulumi owns nothing of the app", () => {
    const owners = managers(env, app);
    for (const [id, list] of Object.entries(owners)) {
      assert.ok(
        !list.some((m) => /pulumi/i.test(m)),
        `${id} still has Pulumi field managers: ${list}`,
      );
    }
    const r = run(
      "kubectl",
      ["apply", "--server-side", "--field-manager=Terraform", "-f", SEED],
      env,
    );
    assert.equal(r.code, 0, `re-apply conflicted:\n${r.stderr}`);
    assert.deepEqual(appState(env, app), seededState);
  });
});
