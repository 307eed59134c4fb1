/**
 * Each component alone (captureResources under the offline harness): what it declares, with
 * which inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import {
  AdhocBackup,
  DataJobCommon,
  Promotion,
  RestoreFromStorage,
  RestoreValidation,
} from "../components/data-jobs";
import {
  MaintenanceMode,
  MaintenanceModeArgs,
  NGINX_CANARY,
  NGINX_CANARY_WEIGHT,
  NGINX_DEFAULT_BACKEND,
} from "../components/maintenance-mode";
import { PipelineFreeze } from "../components/pipeline-freeze";
import { PointInTimeRestore, PointInTimeRestoreArgs } from "../components/point-in-time-restore";
import { REPLICAS_ANNOTATION } from "../components/replica-restore";
import { ScaleDown } from "../components/scale-down";
import { ServerRebuild, ServerRebuildArgs } from "../components/server-rebuild";
import { parseRestoreTime } from "../stacks/restore-time";
import { captureResources, DeclaredResource, resolveOutputs } from "../tools/offline";
import {
  isSecretValue,
  jobSteps,
  managed,
  ofType,
  one,
  plainStrings,
  TYPES,
} from "./support/pulumi-harness";

/** Runs `declare` alone; also resolves the outputs it returns. */
async function declareAlone<T>(
  declare: () => T,
  outputsOf: (component: T) => Record<string, unknown> = () => ({}),
  config: Record<string, string> = {},
): Promise<{ resources: DeclaredResource[]; outputs: Record<string, any> }> {
  let outputs: Record<string, any> = {};
  const resources = await captureResources(async () => {
    const component = declare();
    outputs = await resolveOutputs(outputsOf(component));
  }, config);
  return { resources, outputs };
}

const parentOf = (r: DeclaredResource) => r.options.parent ?? "";

/** Resource names and, for objects the component creates, their Kubernetes identities. */
function identities(resources: DeclaredResource[]) {
  const urns = managed(resources).map((r) => `${r.type}::${r.name}`);
  const k8sObjects = managed(resources)
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch"))
    .map(
      (r) =>
        `${r.type}::${(r.inputs as any).metadata.namespace}/${(r.inputs as any).metadata.name}`,
    );
  return { urns, k8sObjects };
}

function assertNoCollisions(resources: DeclaredResource[]) {
  const { urns, k8sObjects } = identities(resources);
  assert.equal(new Set(urns).size, urns.length, `duplicate resource names: ${urns.join(", ")}`);
  assert.equal(
    new Set(k8sObjects).size,
    k8sObjects.length,
    `duplicate objects: ${k8sObjects.join(", ")}`,
  );
}

describe("components alone", () => {
  describe("PipelineFreeze", () => {
    const freeze = (name: string, reviews?: number, rulesetName = `pg-recovery freeze ${name}`) =>
      new PipelineFreeze(name, {
        repository: "publish-teacher-training",
        rulesetName,
        requiredApprovingReviewCount: reviews,
      });

    it("adds an active branch ruleset on ~DEFAULT_BRANCH requiring the reviews, with no bypass", async () => {
      const { resources, outputs } = await declareAlone(
        () => freeze("freeze", 7),
        (c) => ({ reviews: c.requiredApprovingReviewCount }),
      );
      const ruleset = one(resources, TYPES.ruleset);
      const i = ruleset.inputs as any;
      assert.equal(ruleset.name, "freeze-ruleset");
      assert.equal(i.repository, "publish-teacher-training");
      assert.equal(i.name, "pg-recovery freeze freeze");
      assert.equal(i.target, "branch");
      assert.equal(i.enforcement, "active");
      assert.deepEqual(i.conditions.refName.includes, ["~DEFAULT_BRANCH"]);
      assert.deepEqual(i.conditions.refName.excludes ?? [], []);
      assert.equal(i.rules.pullRequest.requiredApprovingReviewCount, 7);
      assert.deepEqual(i.bypassActors ?? [], [], "the freeze must hold for admins too");
      assert.match(parentOf(ruleset), /PipelineFreeze::freeze$/);
      assert.equal(outputs.reviews, 7);
      // Only the ruleset: the team's own ruleset is never touched.
      assert.deepEqual(
        managed(resources).map((r) => r.type),
        [TYPES.ruleset],
      );
    });

    it("requires 6 reviews by default, as the runbook does", async () => {
      const { resources } = await declareAlone(() => freeze("freeze-default"));
      assert.equal(
        (one(resources, TYPES.ruleset).inputs as any).rules.pullRequest
          .requiredApprovingReviewCount,
        6,
      );
    });

    it("refuses a review count GitHub would refuse (0, 11, 2.5)", async () => {
      for (const n of [0, 11, 2.5]) {
        await assert.rejects(
          captureResources(() => freeze(`freeze-bad-${n}`, n)),
          /requiredApprovingReviewCount .* is not 1-10/,
        );
      }
    });

    it("two instances with different names don't collide", async () => {
      const { resources } = await declareAlone(() => [
        freeze("freeze-a", 6),
        freeze("freeze-b", 2),
      ]);
      const rulesets = ofType(resources, TYPES.ruleset);
      assert.equal(rulesets.length, 2);
      assert.deepEqual(rulesets.map((r) => r.name).sort(), [
        "freeze-a-ruleset",
        "freeze-b-ruleset",
      ]);
      assert.deepEqual(
        rulesets
          .map((r) => (r.inputs as any).rules.pullRequest.requiredApprovingReviewCount)
          .sort(),
        [2, 6],
      );
      assertNoCollisions(resources);
    });
  });

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
      for (const o of [deployment, service, configMap])
        assert.equal(o.metadata.namespace, "bat-qa");
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

    it("one IngressPatch per app Ingress that ONLY adds the default-backend annotation", () => {
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
        assert.deepEqual(i.metadata.annotations, { [NGINX_DEFAULT_BACKEND]: "pgr-maintenance" });
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
      for (const r of managed(resources))
        assert.match(parentOf(r), /MaintenanceMode::maintenance$/);
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

  describe("ScaleDown", () => {
    const patchOf = (resources: DeclaredResource[], name: string) =>
      ofType(resources, TYPES.deploymentPatch).find(
        (p) => (p.inputs as any).metadata.name === name,
      )!;

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
        assert.deepEqual(p.options.ignoreChanges, [
          `metadata.annotations["${REPLICAS_ANNOTATION}"]`,
        ]);
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
      const facts = {
        kubernetes: { deployments: [{ name: "web", replicas: 7 }, { name: "worker" }] },
      };
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
  });

  describe("PointInTimeRestore", () => {
    const network = {
      delegatedSubnetResourceId:
        "/subscriptions/s/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/postgres-snet",
      privateDnsZoneArmResourceId:
        "/subscriptions/s/resourceGroups/dns-rg/providers/Microsoft.Network/privateDnsZones/test.internal.postgres.database.azure.com",
    };
    const source =
      "/subscriptions/s/resourceGroups/s189t01-ptt-qa-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s189t01-ptt-qa-pg";
    const restoreAt = (text: string) => {
      const parsed = parseRestoreTime("t", text);
      assert.ok(parsed.ok);
      return parsed.utc;
    };
    const ptr = (name: string, extra: Partial<PointInTimeRestoreArgs> = {}) =>
      declareAlone(
        () =>
          new PointInTimeRestore(name, {
            resourceGroupName: "s189t01-ptt-qa-rg",
            location: "uksouth",
            sourceServerId: source,
            serverName: "s189t01-ptt-qa-pg-ptr",
            // An offset input: BST wall-clock time.
            restoreTime: restoreAt("2024-07-24T06:59:00+01:00"),
            network,
            database: "ptt_qa",
            namespace: "bat-qa",
            ...extra,
          }),
        (c) => ({
          fqdn: c.fqdn,
          utc: c.restoreTimeUtc,
          london: c.restoreTimeLondon,
          connect: c.connectHint,
        }),
      );

    it("declares a NEW server restored to the UTC instant, in the private network", async () => {
      const { resources } = await ptr("ptr");
      const server = one(resources, TYPES.server);
      const i = server.inputs as any;
      assert.equal(i.serverName, "s189t01-ptt-qa-pg-ptr");
      assert.equal(i.createMode, "PointInTimeRestore");
      assert.equal(i.pointInTimeUTC, "2024-07-24T05:59:00Z");
      assert.equal(i.sourceServerResourceId, source);
      assert.equal(i.resourceGroupName, "s189t01-ptt-qa-rg");
      assert.equal(i.location, "uksouth");
      assert.equal(i.network.delegatedSubnetResourceId, network.delegatedSubnetResourceId);
      assert.equal(i.network.privateDnsZoneArmResourceId, network.privateDnsZoneArmResourceId);
      assert.deepEqual(
        managed(resources).map((r) => r.type),
        [TYPES.server],
      );
    });

    it("waits long enough, ignores create-only inputs, and is kept on destroy by default", async () => {
      const { resources } = await ptr("ptr-opts");
      const o = one(resources, TYPES.server).options;
      assert.ok(
        o.customTimeouts?.create,
        "a restore takes minutes to hours: create timeout must be set",
      );
      assert.equal(o.customTimeouts?.create, "6h");
      for (const key of ["createMode", "sourceServerResourceId", "pointInTimeUTC"]) {
        assert.ok(o.ignoreChanges.includes(key), `ignoreChanges lacks ${key}`);
      }
      assert.equal(o.retainOnDelete, true);
    });

    it("is deleted on destroy when asked, with a custom create timeout", async () => {
      const { resources } = await ptr("ptr-drop", { retainOnDelete: false, createTimeout: "3h" });
      const o = one(resources, TYPES.server).options;
      assert.equal(o.retainOnDelete, false);
      assert.equal(o.customTimeouts?.create, "3h");
    });

    it("outputs the restore time in UTC and London, the FQDN and how to connect", async () => {
      const { outputs } = await ptr("ptr-out");
      assert.equal(outputs.utc, "2024-07-24T05:59:00Z");
      assert.equal(outputs.london, "2024-07-24 06:59:00 BST (UTC+01:00) Europe/London");
      assert.equal(outputs.fqdn, "s189t01-ptt-qa-pg-ptr.postgres.database.azure.com");
      assert.match(
        outputs.connect,
        /konduit\.sh -x -n bat-qa -s s189t01-ptt-qa-pg-ptr ptt_qa -- psql/,
      );
      assert.match(
        outputs.connect,
        /host=s189t01-ptt-qa-pg-ptr\.postgres\.database\.azure\.com dbname=ptt_qa/,
      );
    });
  });

  describe("ServerRebuild", () => {
    const base: Omit<ServerRebuildArgs, "revive" | "create"> = {
      resourceGroupName: "s189t01-ptt-qa-rg",
      location: "uksouth",
      serverName: "s189t01-ptt-qa-pg",
      network: { delegatedSubnetResourceId: "/subnet-id", privateDnsZoneArmResourceId: "/zone-id" },
    };
    const dropped =
      "/subscriptions/s/resourceGroups/s189t01-ptt-qa-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s189t01-ptt-qa-pg";
    const spec = {
      version: "17",
      skuName: "B_Standard_B2s",
      skuTier: "Burstable",
      storageSizeGB: 32,
      highAvailability: "Disabled",
      backupRetentionDays: 7,
      administratorLogin: "psqladmin",
      database: "ptt_qa",
    };

    it("revive: ReviveDropped under the original name at the UTC point in time, kept on destroy", async () => {
      const { resources, outputs } = await declareAlone(
        () =>
          new ServerRebuild("rebuild", {
            ...base,
            revive: { droppedServerId: dropped, restoreTime: new Date("2024-07-24T08:10:00Z") },
          }),
        (c) => ({ mode: c.mode, fqdn: c.fqdn, hasPassword: c.administratorPassword !== undefined }),
      );
      const server = one(resources, TYPES.server);
      const i = server.inputs as any;
      assert.equal(i.createMode, "ReviveDropped");
      assert.equal(i.serverName, "s189t01-ptt-qa-pg");
      assert.equal(i.pointInTimeUTC, "2024-07-24T08:10:00Z");
      assert.equal(i.sourceServerResourceId, dropped);
      assert.equal(i.network.delegatedSubnetResourceId, "/subnet-id");
      assert.equal(server.options.retainOnDelete, true);
      assert.ok(server.options.customTimeouts?.create);
      assert.equal(
        ofType(resources, TYPES.password).length,
        0,
        "a revived server keeps its credentials",
      );
      assert.equal(outputs.mode, "revive");
      assert.equal(outputs.hasPassword, false);
    });

    it("create: a new server from the spec, with a random secret password, kept on destroy", async () => {
      const { resources, outputs } = await declareAlone(
        () => new ServerRebuild("rebuild-create", { ...base, create: spec }),
        (c) => ({ mode: c.mode, password: c.administratorPassword }),
      );
      const server = one(resources, TYPES.server);
      const i = server.inputs as any;
      assert.equal(i.createMode, "Create");
      assert.equal(i.serverName, "s189t01-ptt-qa-pg");
      assert.equal(i.version, "17");
      assert.deepEqual(i.sku, { name: "B_Standard_B2s", tier: "Burstable" });
      assert.equal(i.storage.storageSizeGB, 32);
      assert.equal(i.highAvailability.mode, "Disabled");
      assert.equal(i.backup.backupRetentionDays, 7);
      assert.equal(i.administratorLogin, "psqladmin");
      assert.equal(server.options.retainOnDelete, true);
      assert.ok(server.options.ignoreChanges.includes("administratorLoginPassword"));

      const password = one(resources, TYPES.password);
      assert.ok((password.inputs as any).length >= 32);
      // The password reaches the server only as a secret, and is in no other resource's inputs.
      assert.ok(
        isSecretValue(i.administratorLoginPassword),
        "administratorLoginPassword must be secret",
      );
      const clear = (i.administratorLoginPassword as { value: string }).value;
      for (const r of managed(resources)) {
        assert.ok(
          !plainStrings(r.inputs).some((s) => s.includes(clear)),
          `${r.name} holds the password in clear`,
        );
      }
      assert.equal(outputs.password, "[secret]");
      assert.equal(outputs.mode, "create");

      const database = one(resources, TYPES.database);
      assert.equal((database.inputs as any).databaseName, "ptt_qa");
      assert.equal((database.inputs as any).serverName, "s189t01-ptt-qa-pg");
      assert.equal(database.options.retainOnDelete, true);
    });

    it("refuses both or neither of revive and create", async () => {
      await assert.rejects(
        captureResources(() => new ServerRebuild("rebuild-neither", base)),
        /exactly one of revive or create/,
      );
      await assert.rejects(
        captureResources(
          () =>
            new ServerRebuild("rebuild-both", {
              ...base,
              create: spec,
              revive: { droppedServerId: dropped, restoreTime: new Date() },
            }),
        ),
        /exactly one of revive or create/,
      );
    });
  });

  describe("data jobs", () => {
    const common = (jobName: string): DataJobCommon => ({
      namespace: "bat-qa",
      image: "ghcr.io/dfe-digital/pg-recovery-data:0.1.0",
      jobName,
      databaseUrl: { name: "publish-qa-app-secret", key: "DATABASE_URL" },
      storageConnectionString: { name: "pgr-storage", key: "connection-string" },
      container: "database-backup",
    });
    /** RestoreFromStorage takes no app DATABASE_URL: it writes its own target secret. */
    const withoutDatabaseUrl = (jobName: string): Omit<DataJobCommon, "databaseUrl"> => {
      const c = common(jobName);
      return Object.fromEntries(Object.entries(c).filter(([k]) => k !== "databaseUrl")) as Omit<
        DataJobCommon,
        "databaseUrl"
      >;
    };
    const PTR_FQDN = "s189t01-ptt-qa-pg-ptr.postgres.database.azure.com";

    /** Common Job shape: no retries, secrets only by reference, no credentials in clear. */
    function assertSafeJob(job: DeclaredResource, databaseSecret = "publish-qa-app-secret") {
      const i = job.inputs as any;
      assert.equal(i.metadata.namespace, "bat-qa");
      assert.equal(i.spec.backoffLimit, 0, "a data move is never retried blindly");
      assert.equal(i.spec.template.spec.restartPolicy, "Never");
      for (const step of jobSteps(job)) {
        assert.equal(
          step.image ?? (step as any).image,
          "ghcr.io/dfe-digital/pg-recovery-data:0.1.0",
        );
        const env = Object.fromEntries(step.env.map((e: any) => [e.name, e]));
        assert.deepEqual(env.DATABASE_URL.valueFrom, {
          secretKeyRef: { name: databaseSecret, key: "DATABASE_URL" },
        });
        assert.deepEqual(env.AZURE_STORAGE_CONNECTION_STRING.valueFrom, {
          secretKeyRef: { name: "pgr-storage", key: "connection-string" },
        });
        for (const e of step.env) {
          if (e.value === undefined) {
            assert.ok(e.valueFrom?.secretKeyRef, `${e.name} must come from a secretKeyRef`);
          } else {
            assert.doesNotMatch(
              String(e.value),
              /postgres(ql)?:\/\/|AccountKey=|password/i,
              `${e.name}`,
            );
          }
        }
        for (const arg of step.args) {
          assert.doesNotMatch(
            String(arg),
            /postgres(ql)?:\/\/|AccountKey=|password=/i,
            `argument ${arg}`,
          );
        }
      }
    }

    it("AdhocBackup: `backup --name ptt_<short>_adhoc_<date> --db-env DATABASE_URL`", async () => {
      const { resources } = await declareAlone(
        () =>
          new AdhocBackup("adhoc-backup", {
            ...common("pgr-2024-07-24-adhoc-backup"),
            backupName: "ptt_qa_adhoc_2024-07-24",
          }),
      );
      const job = one(resources, TYPES.job);
      assert.equal((job.inputs as any).metadata.name, "pgr-2024-07-24-adhoc-backup");
      assert.deepEqual(
        jobSteps(job).map((s) => s.args),
        [["backup", "--name", "ptt_qa_adhoc_2024-07-24", "--db-env", "DATABASE_URL"]],
      );
      assertSafeJob(job);
    });

    it("RestoreValidation: `verify` the PTR against live at the restore target, without blocking up", async () => {
      const { resources } = await declareAlone(
        () =>
          new RestoreValidation("validation", {
            ...common("pgr-2024-07-24-validation"),
            restoredHost: PTR_FQDN,
            restoreTimeUtc: "2024-07-24T05:59:00Z",
          }),
      );
      const job = one(resources, TYPES.job);
      assert.deepEqual(
        jobSteps(job).map((s) => s.args),
        [
          [
            "verify",
            "--source-env",
            "DATABASE_URL",
            "--target-env",
            "DATABASE_URL",
            "--target-host",
            PTR_FQDN,
            "--restore-target",
            "2024-07-24T05:59:00Z",
          ],
        ],
      );
      assert.equal((job.inputs as any).metadata.annotations["pulumi.com/skipAwait"], "true");
      assertSafeJob(job);
    });

    it("Promotion: back up the PTR (init container), then restore into live with --confirm", async () => {
      const { resources } = await declareAlone(
        () =>
          new Promotion("promotion", {
            ...common("pgr-2024-07-24-promotion"),
            restoredHost: PTR_FQDN,
            backupName: "ptt_qa_2024-07-24-restore-to-ptr",
            confirmTarget: "s189t01-ptt-qa-pg/ptt_qa",
          }),
      );
      const job = one(resources, TYPES.job);
      const spec = (job.inputs as any).spec.template.spec;
      assert.equal(
        spec.initContainers.length,
        1,
        "the backup must finish before the restore starts",
      );
      assert.deepEqual(spec.initContainers[0].args, [
        "backup",
        "--name",
        "ptt_qa_2024-07-24-restore-to-ptr",
        "--db-env",
        "DATABASE_URL",
        "--db-host",
        PTR_FQDN,
      ]);
      assert.equal(spec.containers.length, 1);
      assert.deepEqual(spec.containers[0].args, [
        "restore",
        "--name",
        "ptt_qa_2024-07-24-restore-to-ptr",
        "--db-env",
        "DATABASE_URL",
        "--confirm",
        "s189t01-ptt-qa-pg/ptt_qa",
      ]);
      assertSafeJob(job);
    });

    it("RestoreFromStorage: the new server's URL only in a Secret; `restore --latest` by default", async () => {
      const url =
        "postgres://psqladmin:s3cr3t-pw@s189t01-ptt-qa-pg.postgres.database.azure.com:5432/ptt_qa";
      const { resources } = await declareAlone(() => {
        const rest = withoutDatabaseUrl("pgr-2024-07-24-restore-from-storage");
        return new RestoreFromStorage("restore-from-storage", {
          ...rest,
          targetDatabaseUrl: url,
          targetSecretName: "pgr-2024-07-24-rebuilt-db",
        });
      });
      const secret = one(resources, TYPES.secret);
      const si = secret.inputs as any;
      assert.equal(si.metadata.name, "pgr-2024-07-24-rebuilt-db");
      assert.ok(
        isSecretValue(si.stringData),
        "the URL carries the admin password: it must be secret",
      );
      assert.equal((si.stringData as any).value.DATABASE_URL, url);

      const job = one(resources, TYPES.job);
      assert.deepEqual(
        jobSteps(job).map((s) => s.args),
        [["restore", "--latest", "--db-env", "DATABASE_URL"]],
      );
      assertSafeJob(job, "pgr-2024-07-24-rebuilt-db");
      for (const r of managed(resources)) {
        assert.ok(
          !plainStrings(r.inputs).some((s) => s.includes("s3cr3t-pw")),
          `${r.name} holds the password in clear`,
        );
      }
    });

    it("RestoreFromStorage: a named backup instead of --latest", async () => {
      const { resources } = await declareAlone(() => {
        const rest = withoutDatabaseUrl("pgr-named");
        return new RestoreFromStorage("restore-named", {
          ...rest,
          backupName: "ptt_qa_2024-07-23",
          targetDatabaseUrl: "postgres://x",
          targetSecretName: "pgr-named-db",
        });
      });
      assert.deepEqual(
        jobSteps(one(resources, TYPES.job)).map((s) => s.args),
        [["restore", "--name", "ptt_qa_2024-07-23", "--db-env", "DATABASE_URL"]],
      );
    });
  });
});
