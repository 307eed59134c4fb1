/**
 * Pod Security `restricted` on the real API server (e2e/cluster.sh, a cluster of its own): in a
 * namespace that enforces it (latest), every pod template the overlay declares in every scenario
 * of the qa and production plans is admitted (a server-side dry-run create of its pod, which the
 * PodSecurity admission judges; the validation Job also created for real); the same template
 * without its seccompProfile is refused, so the namespace does enforce; and the runner, waiting
 * for a Job whose pods cannot be created, reports the Job's FailedCreate event and stops waiting.
 *
 * Knobs: E2E_KEEP_CLUSTER=true keeps the cluster afterwards.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects as JSON */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JobRef, waitForJobs } from "../../runner/jobs";
import { kubernetesCluster } from "../../runner/kubernetes";
import { testIo } from "../../test/runner/support/fakes";
import { kubectl, run } from "./support/cluster";
import { DeclaredPodTemplate, overlayPodTemplates } from "./support/overlay-pod-templates";
import { runnerClusterDown, runnerClusterUp } from "./support/runner";

const NS = "pgr-restricted";

describe("Pod Security restricted on the real API server", function () {
  this.timeout(20 * 60_000);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-podsecurity-e2e-"));
  let env: NodeJS.ProcessEnv;
  let templates: DeclaredPodTemplate[];
  const kubeconfigBefore = process.env.KUBECONFIG;

  const write = (name: string, obj: unknown) => {
    const f = path.join(state, name);
    fs.writeFileSync(f, JSON.stringify(obj));
    return f;
  };
  const podOf = (t: DeclaredPodTemplate, name: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels: t.template.metadata?.labels },
    spec: t.template.spec,
  });
  const withoutSeccomp = (spec: any) => {
    const copy = structuredClone(spec);
    delete copy.securityContext?.seccompProfile;
    for (const c of [...(copy.initContainers ?? []), ...copy.containers]) {
      delete c.securityContext?.seccompProfile;
    }
    return copy;
  };
  const validation = () => {
    const t = templates.find((x) => x.name === "validation-job");
    assert.ok(t, "no validation Job in the plans");
    return t;
  };
  /** The runner's own Cluster (runner/kubernetes.ts), reading this cluster's kubeconfig. */
  const runnerCluster = () => {
    process.env.KUBECONFIG = env.KUBECONFIG;
    return kubernetesCluster();
  };

  before(async () => {
    [env, templates] = await Promise.all([
      runnerClusterUp(path.join(state, "cluster")),
      overlayPodTemplates(),
    ]);
    const ns = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: NS,
        labels: {
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    };
    kubectl(env, "apply", "-f", write("namespace.json", ns));
    // Pods are refused until the namespace's default ServiceAccount exists.
    for (let i = 0; run("kubectl", ["-n", NS, "get", "sa", "default"], env).code !== 0; i++) {
      if (i > 120) throw new Error(`no default ServiceAccount in ${NS} after 60s`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(() => {
    if (kubeconfigBefore === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = kubeconfigBefore;
    if (env && process.env.E2E_KEEP_CLUSTER !== "true") runnerClusterDown(env);
    fs.rmSync(state, { recursive: true, force: true });
  });

  it("1. every pod template the overlay declares (qa and production, every scenario) is admitted", () => {
    const names = new Set(templates.map((t) => t.name));
    for (const want of [
      "adhoc-backup-job",
      "validation-job",
      "promotion-job",
      "restore-from-storage-job",
      "maintenance-page",
    ]) {
      assert.ok(names.has(want), `no ${want} among ${[...names].join(", ")}`);
    }
    const refused: string[] = [];
    templates.forEach((t, i) => {
      const file = write(`pod-${i}.json`, podOf(t, `check-${i}`));
      const r = run("kubectl", ["create", "--dry-run=server", "-f", file, "-o", "name"], env);
      if (r.code !== 0) refused.push(`${t.stack} ${t.scenario} ${t.name}: ${r.stderr.trim()}`);
    });
    assert.deepEqual(refused, [], refused.join("\n"));
  });

  it("2. the namespace does enforce: the validation pod without its seccompProfile is refused", () => {
    const t = validation();
    const file = write("refused.json", {
      ...podOf(t, "refused"),
      spec: withoutSeccomp(t.template.spec),
    });
    const r = run("kubectl", ["create", "--dry-run=server", "-f", file, "-o", "name"], env);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /violates PodSecurity "restricted:latest"/);
    assert.match(r.stderr, /seccompProfile/);
  });

  it("3. the validation Job created for real gets its pod; the runner does not call it blocked", async () => {
    const t = validation();
    const name = "pgr-e2e-admitted";
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: NS },
      spec: { backoffLimit: 0, template: { spec: t.template.spec } },
    };
    kubectl(env, "apply", "-f", write("admitted-job.json", job));
    for (let i = 0; ; i++) {
      const pods = kubectl(env, "-n", NS, "get", "pods", "-l", `job-name=${name}`).items;
      if (pods.length > 0) break;
      if (i > 120) throw new Error(`no pod of Job ${name} after 60s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const ref: JobRef = { namespace: NS, name, role: "validation" };
    const status = await runnerCluster().job(ref);
    assert.notEqual(status.state, "blocked", status.message);
  });

  it("4. the runner reports a Job whose pods cannot be created (FailedCreate) and stops waiting", async () => {
    const t = validation();
    const name = "pgr-e2e-refused";
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: NS },
      spec: { backoffLimit: 0, template: { spec: withoutSeccomp(t.template.spec) } },
    };
    kubectl(env, "apply", "-f", write("refused-job.json", job));
    const io = testIo();
    const ref: JobRef = { namespace: NS, name, role: "validation" };
    const [status] = await waitForJobs(runnerCluster(), [ref], io, {
      followRoles: ["validation"],
      pollMs: 500,
      // The suite's own timeout ends the test long before: only the refusal stops this wait.
      timeoutMs: 24 * 3600_000,
    });
    assert.equal(status.state, "blocked", JSON.stringify(status));
    assert.match(status.message ?? "", /^FailedCreate.*violates PodSecurity "restricted:latest"/);
    const line = io.stderr.find((l) => l.includes(name)) ?? "";
    assert.match(line, /blocked, its pods cannot be created: FailedCreate/);
    assert.match(line, new RegExp(`kubectl -n ${NS} describe job/${name}`));
  });
});
