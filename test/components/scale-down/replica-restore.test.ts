/**
 * Replica restore on destroy (components/scale-down/):
 * before a scale-down patch is deleted, the captured replica count is written back through the
 * scale subresource. Exercised against a tiny fake Kubernetes API server on loopback.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as kube from "@kubernetes/client-node";
import {
  RESTORE_FIELD_MANAGER,
  restoreReplicas,
  targetFromPatchInputs,
} from "../../../components/scale-down/replica-restore";
import { RESTORE_HOOK_NAME, replicaRestoreHook } from "../../../components/scale-down";
import { ANNOTATIONS } from "../../../contract/runbook";
import { FACTS, ofType, runScenario, STACKS, TYPES } from "../../support/pulumi-harness";

const REPLICAS_ANNOTATION = ANNOTATIONS.replicasBeforeIncident;

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  body: any;
}

/** A fake API server answering every request with `status`; records what it was sent. */
class FakeKubeApi {
  readonly seen: Seen[] = [];
  status = 200;
  private server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const parsed = body ? JSON.parse(body) : undefined;
      this.seen.push({
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        body: parsed,
      });
      res.writeHead(this.status, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          this.status < 300
            ? parsed
            : {
                kind: "Status",
                apiVersion: "v1",
                status: "Failure",
                code: this.status,
                message: "fake failure",
              },
        ),
      );
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function kubeConfigFor(server: string, context = "fake"): kube.KubeConfig {
  const kc = new kube.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server, skipTLSVerify: true }],
    users: [{ name: "tester", token: "not-a-real-token" }],
    contexts: [{ name: context, cluster: "fake", user: "tester" }],
    currentContext: context,
  });
  return kc;
}

const WEB = { name: "publish-production", namespace: "bat-production" };
const patchInputs = (annotation: unknown, where: Record<string, unknown> = WEB) => ({
  metadata: {
    ...where,
    annotations: annotation === undefined ? {} : { [REPLICAS_ANNOTATION]: annotation },
  },
  spec: { replicas: 0 },
});

describe("replica restore", () => {
  describe("targetFromPatchInputs", () => {
    it("reads namespace, name and the captured count from the patch's inputs", () => {
      assert.deepEqual(targetFromPatchInputs(patchInputs("12")), {
        namespace: "bat-production",
        name: "publish-production",
        replicas: 12,
      });
    });

    const garbled: [string, Record<string, unknown> | undefined][] = [
      ["no inputs at all", undefined],
      ["no annotation", patchInputs(undefined)],
      ["an empty annotation", patchInputs("")],
      ["a blank annotation", patchInputs(" ")],
      ["a word", patchInputs("twelve")],
      ["a negative count", patchInputs("-1")],
      ["a fraction", patchInputs("1.5")],
      ["an exponent", patchInputs("1e1")],
      ["hexadecimal", patchInputs("0x0c")],
      ["null", patchInputs(null)],
      ["no name", patchInputs("12", { namespace: "bat-production" })],
      ["no namespace", patchInputs("12", { name: "publish-production" })],
      ["a numeric name", patchInputs("12", { ...WEB, name: 7 })],
    ];
    for (const [what, inputs] of garbled) {
      it(`refuses ${what}, saying how to scale back by hand`, () => {
        assert.throws(
          () => targetFromPatchInputs(inputs),
          (e: Error) => {
            assert.match(e.message, new RegExp(`no usable ${REPLICAS_ANNOTATION} annotation`));
            assert.match(e.message, /kubectl -n .* scale deployment .* --replicas/);
            return true;
          },
        );
      });
    }
  });

  describe("restoreReplicas against a fake Kubernetes API", () => {
    const api = new FakeKubeApi();
    let kc: kube.KubeConfig;
    before(async () => {
      kc = kubeConfigFor(await api.start());
    });
    after(() => api.stop());
    beforeEach(() => {
      api.seen.length = 0;
      api.status = 200;
    });

    it("PUTs the captured count to the deployment's scale subresource as pg-recovery-restore", async () => {
      await restoreReplicas(kc, {
        namespace: "bat-production",
        name: "publish-production",
        replicas: 12,
      });
      assert.equal(api.seen.length, 1);
      const [req] = api.seen;
      assert.equal(req.method, "PUT");
      assert.equal(
        req.path,
        "/apis/apps/v1/namespaces/bat-production/deployments/publish-production/scale",
      );
      assert.equal(req.query.get("fieldManager"), RESTORE_FIELD_MANAGER);
      assert.equal(RESTORE_FIELD_MANAGER, "pg-recovery-restore");
      assert.equal(req.body.spec.replicas, 12);
      assert.equal(req.body.kind, "Scale");
      assert.equal(req.body.metadata.name, "publish-production");
      assert.equal(req.body.metadata.namespace, "bat-production");
    });

    for (const status of [500, 503, 404, 409]) {
      it(`throws when the API answers ${status}: destroy must stop, not leave 0 replicas`, async () => {
        api.status = status;
        await assert.rejects(
          restoreReplicas(kc, { namespace: "bat-qa", name: "publish-qa", replicas: 3 }),
          (e: Error) => {
            assert.match(String(e.message ?? e), new RegExp(String(status)));
            assert.match(
              e.message,
              /kubectl -n bat-qa scale deployment publish-qa --replicas 3/,
              "says how to finish by hand",
            );
            return true;
          },
        );
        assert.equal(api.seen.length, 1, "the restore was attempted");
      });
    }

    it("throws when the API server is unreachable", async () => {
      const gone = new FakeKubeApi();
      const url = await gone.start();
      await gone.stop();
      await assert.rejects(
        restoreReplicas(kubeConfigFor(url), { namespace: "ns", name: "web", replicas: 1 }),
      );
    });
  });

  describe("wired into the program (offline harness)", () => {
    for (const stack of STACKS) {
      it(`${stack}: every scale-down patch carries the ${RESTORE_HOOK_NAME} beforeDelete hook`, async () => {
        const run = await runScenario(stack, "corrupted");
        const patches = ofType(run.resources, TYPES.deploymentPatch);
        assert.equal(patches.length, Object.keys(FACTS[stack].deployments).length);
        for (const p of patches) assert.deepEqual(p.options.beforeDeleteHooks, [RESTORE_HOOK_NAME]);
      });
    }

    it("the hook restores each stack's captured count through that stack's kubeconfig context", async () => {
      // One fake API server per stack's context, in one kubeconfig, as kubectl would see it.
      const apis = { production: new FakeKubeApi(), qa: new FakeKubeApi() };
      const kc = new kube.KubeConfig();
      kc.loadFromOptions({
        clusters: await Promise.all(
          STACKS.map(async (s) => ({
            name: s,
            server: await apis[s].start(),
            skipTLSVerify: true,
          })),
        ),
        users: [{ name: "tester", token: "not-a-real-token" }],
        contexts: STACKS.map((s) => ({ name: FACTS[s].context, cluster: s, user: "tester" })),
        currentContext: FACTS.qa.context,
      });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-kubeconfig-"));
      const file = path.join(dir, "config");
      fs.writeFileSync(file, kc.exportConfig());
      const saved = process.env.KUBECONFIG;
      process.env.KUBECONFIG = file;
      try {
        // Both stacks in one process, production last: its hook must not use qa's context.
        for (const stack of ["qa", "production"] as const) {
          const run = await runScenario(stack, "corrupted");
          const web = ofType(run.resources, TYPES.deploymentPatch)[0];
          const target = targetFromPatchInputs(web.inputs);
          assert.equal(target.replicas, FACTS[stack].deployments[target.name]);

          // What the program does on every run, then what the engine does before deleting it.
          const hook = replicaRestoreHook(FACTS[stack].context);
          assert.ok(hook, "the program registers the hook under the harness");
          assert.equal(hook.name, RESTORE_HOOK_NAME);
          await hook.callback({
            urn: `urn:pulumi:${stack}::pg-recovery::kubernetes:apps/v1:DeploymentPatch::${web.name}`,
            id: `${target.namespace}/${target.name}`,
            name: web.name,
            type: web.type,
            oldInputs: web.inputs,
            oldOutputs: web.inputs,
          } as any);
          assert.equal(apis[stack].seen.length, 1, `${stack}: the restore went to another cluster`);
          const [req] = apis[stack].seen;
          assert.equal(
            req.path,
            `/apis/apps/v1/namespaces/${FACTS[stack].namespace}/deployments/${target.name}/scale`,
          );
          assert.equal(req.body.spec.replicas, target.replicas);
        }
        assert.equal(apis.qa.seen.length, 1);
      } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
        await Promise.all(STACKS.map((s) => apis[s].stop()));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
