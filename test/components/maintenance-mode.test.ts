/**
 * MaintenanceMode alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { MaintenanceMode, MaintenanceModeArgs } from "../../components/maintenance-mode";
import { ANNOTATIONS } from "../../contract/runbook";
import { DeclaredResource } from "../../offline/offline";
import { assertNoCollisions, declareAlone, parentOf } from "../support/components";
import { captureResources, managed, ofType, one, TYPES } from "../support/pulumi-harness";

const {
  nginxCanary: NGINX_CANARY,
  nginxCanaryWeight: NGINX_CANARY_WEIGHT,
  nginxDefaultBackend: NGINX_DEFAULT_BACKEND,
} = ANNOTATIONS;

describe("MaintenanceMode", () => {
  const args = (namePrefix: string): MaintenanceModeArgs => ({
    namespace: "bat-qa",
    namePrefix,
    publicHosts: [
      {
        host: "qa.find-postgraduate-teacher-training.service.gov.uk",
        appIngress: "find-qa-ingress",
      },
      { host: "publish-qa.test.teacherservices.cloud", appIngress: "publish-qa-ingress" },
    ],
    temporaryHosts: [
      "find-temp.test.teacherservices.cloud",
      "publish-temp.test.teacherservices.cloud",
    ],
    appService: { name: "publish-qa", port: 80 },
    labels: { "app.kubernetes.io/managed-by": "pg-recovery" },
  });
  let resources: DeclaredResource[];
  let outputs: Record<string, any>;

  before(async () => {
    ({ resources, outputs } = await declareAlone(
      () => new MaintenanceMode("maintenance", args("pgr")),
      (c) => ({ hosts: c.maintenanceHosts, urls: c.temporaryUrls }),
    ));
  });

  it("runs the page: one Deployment, its Service and its ConfigMap, wired together", () => {
    const deployment = one(resources, TYPES.deployment).inputs as any;
    const service = one(resources, TYPES.service).inputs as any;
    const configMap = one(resources, TYPES.configMap).inputs as any;
    for (const o of [deployment, service, configMap]) assert.equal(o.metadata.namespace, "bat-qa");
    assert.equal(deployment.metadata.name, "pgr-maintenance");
    assert.equal(service.metadata.name, "pgr-maintenance");
    // The Service selects the page's pods and targets the named container port.
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v);
    assert.deepEqual(deployment.spec.selector.matchLabels, service.spec.selector);
    const container = deployment.spec.template.spec.containers[0];
    const target = service.spec.ports[0].targetPort;
    assert.ok(
      container.ports.some((p: any) => p.name === target),
      `no container port named ${target}`,
    );
    // The pods mount the ConfigMap the component declares.
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.configMap);
    assert.equal(volume.configMap.name, configMap.metadata.name);
    assert.ok(Object.keys(configMap.data).length > 0);
  });

  it("one canary Ingress per public host, at weight 100, to the page Service", () => {
    const canaries = ofType(resources, TYPES.ingress).filter(
      (r) => (r.inputs as any).metadata.annotations?.[NGINX_CANARY] === "true",
    );
    assert.equal(canaries.length, 2);
    for (const h of args("pgr").publicHosts) {
      const canary = canaries.find((c) => (c.inputs as any).spec.rules[0].host === h.host);
      assert.ok(canary, `no canary for ${h.host}`);
      const i = canary.inputs as any;
      assert.equal(i.metadata.annotations[NGINX_CANARY_WEIGHT], "100");
      assert.equal(i.spec.ingressClassName, "nginx");
      assert.equal(i.spec.rules.length, 1);
      assert.deepEqual(i.spec.rules[0].http.paths[0].backend.service, {
        name: "pgr-maintenance",
        port: { number: 80 },
      });
      assert.notEqual(i.metadata.name, h.appIngress, "a canary never replaces the app's Ingress");
    }
  });

  it("its own Ingresses skip the provider's wait for the app's endpoints (none during an incident)", () => {
    const own = ofType(resources, TYPES.ingress);
    assert.equal(own.length, 4);
    for (const r of own) {
      assert.equal((r.inputs as any).metadata.annotations["pulumi.com/skipAwait"], "true", r.name);
    }
  });

  it("one IngressPatch per app Ingress that ONLY adds the default-backend annotation (and skips the await)", () => {
    const patches = ofType(resources, TYPES.ingressPatch);
    assert.deepEqual(patches.map((p) => (p.inputs as any).metadata.name).sort(), [
      "find-qa-ingress",
      "publish-qa-ingress",
    ]);
    for (const p of patches) {
      const i = p.inputs as any;
      // Nothing else: no spec, no labels, no other annotation. That is what makes destroy clean.
      assert.deepEqual(Object.keys(i).sort(), ["apiVersion", "kind", "metadata"]);
      assert.deepEqual(Object.keys(i.metadata).sort(), ["annotations", "name", "namespace"]);
      assert.deepEqual(i.metadata.annotations, {
        [NGINX_DEFAULT_BACKEND]: "pgr-maintenance",
        "pulumi.com/skipAwait": "true",
      });
      assert.equal(i.metadata.namespace, "bat-qa");
    }
  });

  it("one temporary Ingress per temporary host, to the real app Service", () => {
    const temps = ofType(resources, TYPES.ingress).filter(
      (r) => !(r.inputs as any).metadata.annotations?.[NGINX_CANARY],
    );
    assert.deepEqual(
      temps.map((t) => (t.inputs as any).spec.rules[0].host).sort(),
      [...args("pgr").temporaryHosts].sort(),
    );
    for (const t of temps) {
      assert.deepEqual((t.inputs as any).spec.rules[0].http.paths[0].backend.service, {
        name: "publish-qa",
        port: { number: 80 },
      });
    }
    assert.deepEqual(outputs.urls, [
      "https://find-temp.test.teacherservices.cloud/",
      "https://publish-temp.test.teacherservices.cloud/",
    ]);
    assert.deepEqual(
      outputs.hosts,
      args("pgr").publicHosts.map((h) => h.host),
    );
  });

  it("declares nothing else", () => {
    const counts: Record<string, number> = {};
    for (const r of managed(resources)) counts[r.type] = (counts[r.type] ?? 0) + 1;
    assert.deepEqual(counts, {
      [TYPES.configMap]: 1,
      [TYPES.deployment]: 1,
      [TYPES.service]: 1,
      [TYPES.ingress]: 4,
      [TYPES.ingressPatch]: 2,
    });
    for (const r of managed(resources)) assert.match(parentOf(r), /MaintenanceMode::maintenance$/);
  });

  it("two instances with different names and namePrefix don't collide", async () => {
    const both = await captureResources(() => [
      new MaintenanceMode("maintenance-a", args("pgr-a")),
      new MaintenanceMode("maintenance-b", args("pgr-b")),
    ]);
    assert.equal(managed(both).length, 2 * managed(resources).length);
    assertNoCollisions(both);
  });

  it("refuses an empty host list", async () => {
    await assert.rejects(
      captureResources(() => new MaintenanceMode("m-empty", { ...args("x"), publicHosts: [] })),
      /publicHosts is empty/,
    );
  });
});
