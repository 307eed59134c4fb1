/**
 * ScaleDown alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { preIncidentReplicas, ScaleDown } from "../../../components/scale-down";
import { ANNOTATIONS } from "../../../contract/runbook";
import { DeclaredResource } from "../../../offline/offline";
import { declareAlone } from "../../support/components";
import { captureResources, ofType, stackFacts, TYPES } from "../../support/pulumi-harness";

const REPLICAS_ANNOTATION = ANNOTATIONS.replicasBeforeIncident;

describe("ScaleDown", () => {
  const patchOf = (resources: DeclaredResource[], name: string) =>
    ofType(resources, TYPES.deploymentPatch).find((p) => (p.inputs as any).metadata.name === name)!;

  it("patches replicas to 0 for every deployment, worker included, recording the pinned count", async () => {
    const { resources, outputs } = await declareAlone(
      () =>
        new ScaleDown("scale-down", {
          namespace: "bat-production",
          deployments: [
            { name: "publish-production", replicasBeforeIncident: 12 },
            { name: "publish-production-worker", replicasBeforeIncident: 2 },
          ],
        }),
      (c) => ({ before: c.replicasBeforeIncident }),
    );
    const patches = ofType(resources, TYPES.deploymentPatch);
    assert.equal(patches.length, 2);
    for (const [name, count] of [
      ["publish-production", "12"],
      ["publish-production-worker", "2"],
    ]) {
      const p = patchOf(resources, name);
      const i = p.inputs as any;
      assert.equal(i.metadata.namespace, "bat-production");
      assert.equal(i.spec.replicas, 0);
      assert.deepEqual(Object.keys(i.spec), ["replicas"], "the patch touches only replicas");
      assert.equal(i.metadata.annotations[REPLICAS_ANNOTATION], count);
      // The first captured count is kept: later runs read 0 from the cluster.
      assert.deepEqual(p.options.ignoreChanges, [`metadata.annotations["${REPLICAS_ANNOTATION}"]`]);
      assert.deepEqual(p.options.beforeDeleteHooks, [], "no hook was passed");
    }
    assert.equal(resources.filter((r) => r.read).length, 0, "pinned counts need no read");
    assert.deepEqual(outputs.before, {
      "publish-production": 12,
      "publish-production-worker": 2,
    });
  });

  it("reads the count from the live Deployment when not pinned", async () => {
    // The harness answers the read from the facts: 7 for web, and its default (2) for worker.
    const facts = stackFacts("qa");
    facts.kubernetes.deployments = [{ name: "web", replicas: 7 }, { name: "worker" }];
    const { resources, outputs } = await declareAlone(
      () =>
        new ScaleDown("scale-read", {
          namespace: "ns",
          deployments: [{ name: "web" }, { name: "worker" }],
        }),
      (c) => ({ before: c.replicasBeforeIncident }),
      { "pg-recovery:environment": JSON.stringify(facts) },
    );
    const reads = resources.filter((r) => r.read);
    assert.deepEqual(reads.map((r) => `${r.type}::${r.name}`).sort(), [
      `${TYPES.deployment}::scale-read-web-live`,
      `${TYPES.deployment}::scale-read-worker-live`,
    ]);
    assert.equal(
      (patchOf(resources, "web").inputs as any).metadata.annotations[REPLICAS_ANNOTATION],
      "7",
    );
    assert.equal(
      (patchOf(resources, "worker").inputs as any).metadata.annotations[REPLICAS_ANNOTATION],
      "2",
    );
    assert.deepEqual(outputs.before, { web: 7, worker: 2 });
  });

  it("binds the beforeDelete hook to every patch when one is passed", async () => {
    const { resources } = await declareAlone(() => {
      const hook = new pulumi.ResourceHook("components-test-restore-hook", async () => {});
      return new ScaleDown("scale-hooked", {
        namespace: "ns",
        deployments: [
          { name: "a", replicasBeforeIncident: 3 },
          { name: "b", replicasBeforeIncident: 1 },
        ],
        restoreHook: hook,
      });
    });
    const patches = ofType(resources, TYPES.deploymentPatch);
    assert.equal(patches.length, 2);
    for (const p of patches)
      assert.deepEqual(p.options.beforeDeleteHooks, ["components-test-restore-hook"]);
  });

  it("refuses an empty deployment list", async () => {
    await assert.rejects(
      captureResources(() => new ScaleDown("scale-none", { namespace: "ns", deployments: [] })),
      /no deployments/,
    );
  });

  it("after its own scale-down, reads the recorded count, not its own 0, and does not warn", () => {
    assert.deepEqual(preIncidentReplicas("web", { [REPLICAS_ANNOTATION]: "12" }, 0), {
      replicas: 12,
    });
    assert.deepEqual(preIncidentReplicas("web", {}, 7), { replicas: 7 });
    assert.equal(preIncidentReplicas("web", undefined, undefined).replicas, 1);
    const zero = preIncidentReplicas("web", { other: "x" }, 0);
    assert.equal(zero.replicas, 0);
    assert.match(zero.warning ?? "", /already has 0 replicas.*pin its pre-incident count/);
    // A malformed record is not trusted.
    assert.equal(preIncidentReplicas("web", { [REPLICAS_ANNOTATION]: "1e1" }, 3).replicas, 3);
  });
});
