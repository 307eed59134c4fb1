/**
 * The whole program (stacks/overlay.ts) with the real stack files, for production and qa and
 * every scenario, under the offline harness: what it declares, that it is deterministic, and
 * that its Kubernetes objects pass the Kubernetes OpenAPI schema.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { DeclaredResource, evaluateOffline, OfflineRun } from "../../offline/offline";
import { expectedArgv } from "../support/data-tool-argv";
import {
  FACTS,
  INCIDENT,
  jobSteps,
  managed,
  NOW,
  ofType,
  one,
  planShape,
  plainStrings,
  runScenario,
  SCENARIO_NAMES,
  ScenarioName,
  scenarioSets,
  Stack,
  stackConfig,
  STACKS,
  TYPES,
  unwrapSecrets,
} from "../support/pulumi-harness";

const COMPONENT = (name: string) => `pg-recovery:index:${name}`;
const componentTypes = (run: OfflineRun) =>
  new Set(
    run.resources.filter((r) => r.component).map((r) => r.type.replace("pg-recovery:index:", "")),
  );
const jobByName = (run: OfflineRun, name: string) => one(run.resources, TYPES.job, name);
const servers = (run: OfflineRun) => ofType(managed(run.resources), TYPES.server);

/** The run's one Server, and its inputs, after checking its name and create mode. */
function theServer(
  run: OfflineRun,
  expected: { serverName: string; createMode: string },
): { server: DeclaredResource; i: any } {
  const all = servers(run);
  assert.equal(all.length, 1);
  const i = all[0].inputs as any;
  assert.deepEqual({ serverName: i.serverName, createMode: i.createMode }, expected);
  return { server: all[0], i };
}

describe("the program, per stack and scenario (real stack files)", function () {
  this.timeout(60_000);

  for (const stack of STACKS) {
    const f = FACTS[stack];
    const ptrHost = () => `${f.live}-ptr.postgres.database.azure.com`;
    describe(stack, () => {
      const runs = {} as Record<ScenarioName, OfflineRun>;
      before(async () => {
        // Sequential: the harness's mocks are process-global.
        for (const scenario of SCENARIO_NAMES) runs[scenario] = await runScenario(stack, scenario);
      });

      it("none declares nothing at all: no resources, no providers, no reads", () => {
        assert.deepEqual(runs.none.resources, []);
        assert.equal(runs.none.outputs.scenario, "none");
      });

      describe("corrupted", () => {
        it("declares freeze, maintenance, scale-down, ad-hoc backup, PTR and validation; no promotion", () => {
          const types = componentTypes(runs.corrupted);
          for (const t of [
            "PipelineFreeze",
            "MaintenanceMode",
            "ScaleDown",
            "AdhocBackup",
            "PointInTimeRestore",
            "RestoreValidation",
          ]) {
            assert.ok(types.has(t), `${t} missing`);
          }
          assert.ok(!types.has("Promotion"), "promotion without promote+confirm");
          assert.ok(!types.has("ServerRebuild"));
          assert.ok(!types.has("RestoreFromStorage"));
          assert.equal(ofType(runs.corrupted.resources, TYPES.job).length, 2);
          assert.match(String(runs.corrupted.outputs.promotion), /not declared/);
        });

        it("the providers target the stack's cluster and GitHub owner", () => {
          const k8s = one(runs.corrupted.resources, TYPES.k8sProvider);
          assert.equal((k8s.inputs as any).context, f.context);
          const gh = one(runs.corrupted.resources, TYPES.githubProvider);
          assert.equal((gh.inputs as any).owner, "DFE-Digital");
        });

        it("freezes the default branch with 6 reviews, dated by the incident", () => {
          const ruleset = one(runs.corrupted.resources, TYPES.ruleset).inputs as any;
          assert.equal(ruleset.repository, "publish-teacher-training");
          assert.deepEqual(ruleset.conditions.refName.includes, ["~DEFAULT_BRANCH"]);
          assert.equal(ruleset.rules.pullRequest.requiredApprovingReviewCount, 6);
          assert.match(ruleset.name, /2026-11-24/);
        });

        it("scales every deployment in the facts (worker too) to 0, recording the count", () => {
          const patches = ofType(runs.corrupted.resources, TYPES.deploymentPatch);
          const seen = Object.fromEntries(
            patches.map((p) => {
              const i = p.inputs as any;
              assert.equal(i.spec.replicas, 0);
              assert.equal(i.metadata.namespace, f.namespace);
              return [
                i.metadata.name,
                Number(i.metadata.annotations["pg-recovery/replicas-before-incident"]),
              ];
            }),
          );
          assert.deepEqual(seen, f.deployments);
        });

        it("the live server is never managed: only looked up, and a NEW <live>-ptr is restored from it", () => {
          const run = runs.corrupted;
          assert.ok(
            !managed(run.resources).some((r) => (r.inputs as any).serverName === f.live),
            "a managed resource carries the live server's name",
          );
          assert.ok(
            run.offlineAnswers.some((a) => a.startsWith(`getServer ${f.resourceGroup}/${f.live}:`)),
            "the live server is read with getServer",
          );
          const { server, i } = theServer(run, {
            serverName: `${f.live}-ptr`,
            createMode: "PointInTimeRestore",
          });
          assert.equal(i.pointInTimeUTC, INCIDENT.restoreTime);
          assert.equal(
            i.sourceServerResourceId,
            `/subscriptions/${f.subscription}/resourceGroups/${f.resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${f.live}`,
          );
          assert.match(
            i.network.delegatedSubnetResourceId,
            new RegExp(`^/subscriptions/${f.subscription}/.*/subnets/postgres-snet$`),
          );
          assert.match(
            i.network.privateDnsZoneArmResourceId,
            /privateDnsZones\/(production|test)\.internal\.postgres\.database\.azure\.com$/,
          );
          assert.equal(server.options.retainOnDelete, true);
          assert.ok(server.options.customTimeouts?.create);
        });

        it("backs up live as ptt_<short>_adhoc_<date>, after the scale-down", () => {
          const job = jobByName(runs.corrupted, "adhoc-backup-job");
          assert.deepEqual(
            jobSteps(job).map((s) => s.args),
            [expectedArgv.adhocBackup(`ptt_${f.short}_adhoc_2026-11-24`)],
          );
          const adhoc = one(runs.corrupted.resources, COMPONENT("AdhocBackup"));
          assert.ok(
            adhoc.options.dependsOn.some((u) => u.includes("DeploymentPatch")),
            "the backup must wait for writes to stop",
          );
        });

        it("validates the PTR against live at the restore target, beside the promotion plan", () => {
          const job = jobByName(runs.corrupted, "validation-job");
          const spec = (job.inputs as any).spec.template.spec;
          assert.deepEqual(spec.initContainers, [], "verify exits 1 on differences: side by side");
          assert.deepEqual(
            jobSteps(job).map((s) => s.args),
            [
              expectedArgv.verify(ptrHost(), INCIDENT.restoreTime),
              expectedArgv.promotionPlan(ptrHost(), INCIDENT.restoreTime),
            ],
          );
          assert.match(String(runs.corrupted.outputs.validationReport), /--all-containers/);
        });

        it("the plan evaluates the tables already named for promotion", () => {
          const job = jobByName(runs["corrupted+promote"], "validation-job");
          const plan = jobSteps(job).find((s) => s.name === "promotion-plan")!;
          assert.deepEqual(plan.args.slice(-5), [
            "--tables",
            "public.courses",
            "--tables",
            "public.sites",
            "--plan",
          ]);
        });

        it("outputs the restore time in UTC and London", () => {
          assert.deepEqual(runs.corrupted.outputs.restoreTime, {
            utc: "2026-11-24T12:00:00Z",
            europeLondon: "2026-11-24 12:00:00 GMT (UTC+00:00) Europe/London",
          });
        });

        it("with scaleDown=false nothing is scaled and the backup waits on nothing", async () => {
          const run = await evaluateOffline(
            stackConfig(stack, { ...scenarioSets(stack, "corrupted"), scaleDown: "false" }),
            NOW,
          );
          assert.equal(ofType(run.resources, TYPES.deploymentPatch).length, 0);
          assert.ok(!componentTypes(run).has("ScaleDown"));
          const adhoc = one(run.resources, COMPONENT("AdhocBackup"));
          assert.deepEqual(adhoc.options.dependsOn, []);
        });
      });

      describe("corrupted + promote + confirm", () => {
        it("adds the promotion job and the archival backup job, and only those", () => {
          const base = planShape(runs.corrupted.resources).map((r) => `${r.type}::${r.name}`);
          const promoted = planShape(runs["corrupted+promote"].resources).map(
            (r) => `${r.type}::${r.name}`,
          );
          assert.deepEqual(promoted.filter((n) => !base.includes(n)).sort(), [
            `${TYPES.job}::promotion-archive-job`,
            `${TYPES.job}::promotion-job`,
          ]);
        });

        it("promotes straight from the PTR into live, only the named tables, confirming <live>/<database>", () => {
          const job = jobByName(runs["corrupted+promote"], "promotion-job");
          assert.deepEqual(
            jobSteps(job).map((s) => s.args),
            [
              expectedArgv.promote({
                ptrHost: ptrHost(),
                restoreTarget: "2026-11-24T12:00:00Z",
                mode: "tables",
                tables: ["public.courses", "public.sites"],
                confirm: `${f.live}/${f.database}`,
                incident: "2026-11-24",
              }),
            ],
          );
        });

        it("writes the runbook's archival backup of the PTR off the critical path", () => {
          const archive = jobByName(runs["corrupted+promote"], "promotion-archive-job");
          const name = `ptt_${f.short}_2026-11-24-restore-to-ptr`;
          assert.deepEqual(
            jobSteps(archive).map((s) => s.args),
            [expectedArgv.archivalBackup(name, ptrHost())],
          );
          const i = archive.inputs as any;
          assert.equal(i.metadata.annotations["pulumi.com/skipAwait"], "true");
          assert.equal(i.metadata.name, "pgr-2026-11-24-promotion-archive");
          // Promotion does not wait for it: it is a sibling, not a dependency.
          const promote = jobByName(runs["corrupted+promote"], "promotion-job");
          assert.ok(!promote.options.dependsOn.some((u) => u.endsWith("::promotion-archive-job")));
        });

        it("runs only after the ad-hoc backup, the PTR and the scale-down", () => {
          const deps = one(runs["corrupted+promote"].resources, COMPONENT("Promotion")).options
            .dependsOn;
          assert.ok(
            deps.some((u) => u.endsWith("::adhoc-backup-job")),
            "after the ad-hoc backup",
          );
          assert.ok(
            deps.some((u) => u.endsWith("::point-in-time-restore-server")),
            "after the PTR",
          );
          assert.ok(
            deps.some((u) => u.includes("DeploymentPatch")),
            "after the scale-down",
          );
        });
      });

      describe("server-gone, rebuild", () => {
        it("declares a Server under the ORIGINAL name, kept on destroy, and the restore-from-storage job", () => {
          const run = runs["server-gone rebuild"];
          const { server } = theServer(run, { serverName: f.live, createMode: "Create" });
          assert.equal(server.options.retainOnDelete, true);
          assert.equal(one(run.resources, TYPES.database).options.retainOnDelete, true);
          const job = jobByName(run, "restore-from-storage-job");
          assert.deepEqual(
            jobSteps(job).map((s) => s.args),
            [expectedArgv.restore()],
          );
          // It restores into the NEW server, through the secret holding the new credentials.
          const env = jobSteps(job)[0].env.find((e: any) => e.name === "DATABASE_URL");
          assert.equal(env.valueFrom.secretKeyRef.name, "pgr-2026-11-24-rebuilt-db");
        });

        it("no PTR, no ad-hoc backup, no validation, no live lookup; maintenance and freeze stay", () => {
          const run = runs["server-gone rebuild"];
          const types = componentTypes(run);
          for (const t of ["AdhocBackup", "PointInTimeRestore", "RestoreValidation", "Promotion"]) {
            assert.ok(!types.has(t), `${t} declared`);
          }
          for (const t of [
            "PipelineFreeze",
            "MaintenanceMode",
            "ScaleDown",
            "ServerRebuild",
            "RestoreFromStorage",
          ]) {
            assert.ok(types.has(t), `${t} missing`);
          }
          assert.ok(!run.offlineAnswers.some((a) => a.startsWith("getServer")));
        });

        it("the new admin password is secret everywhere it appears", () => {
          const run = runs["server-gone rebuild"];
          const server = servers(run)[0].inputs as any;
          const clear = (unwrapSecrets(server.administratorLoginPassword) as string) ?? "";
          assert.ok(clear.length > 0);
          for (const r of managed(run.resources)) {
            assert.ok(
              !plainStrings(r.inputs).some((s) => s.includes(clear)),
              `${r.type} ${r.name} holds it in clear`,
            );
          }
          assert.equal(run.outputs.administratorPassword, "[secret]");
        });
      });

      describe("server-gone, revive", () => {
        it("revives the dropped server with ReviveDropped at the UTC point in time", () => {
          const run = runs["server-gone revive"];
          const { server, i } = theServer(run, { serverName: f.live, createMode: "ReviveDropped" });
          assert.equal(i.pointInTimeUTC, INCIDENT.reviveTime);
          assert.match(i.sourceServerResourceId, new RegExp(`/flexibleServers/${f.live}$`));
          assert.equal(server.options.retainOnDelete, true);
          assert.equal(ofType(run.resources, TYPES.password).length, 0);
          assert.ok(!componentTypes(run).has("RestoreFromStorage"));
        });
      });

      it("every namespaced object is in the stack's namespace", () => {
        for (const scenario of SCENARIO_NAMES) {
          for (const r of managed(runs[scenario].resources).filter((x) =>
            x.type.startsWith("kubernetes:"),
          )) {
            assert.equal(
              (r.inputs as any).metadata?.namespace,
              f.namespace,
              `${scenario}: ${r.name}`,
            );
          }
        }
      });

      it("no Kubernetes object or Azure name collides", () => {
        for (const scenario of SCENARIO_NAMES) {
          const declared = managed(runs[scenario].resources);
          const ids = declared
            .filter((r) => r.type.startsWith("kubernetes:"))
            .map((r) => `${r.type}/${(r.inputs as any).metadata.name}`);
          assert.equal(new Set(ids).size, ids.length, `${scenario}: ${ids.join(", ")}`);
          // Azure identities: resource group, server and (for databases) database name.
          const azure = declared
            .filter((r) => r.type.startsWith("azure-native:"))
            .map((r) => {
              const i = r.inputs as any;
              return `${r.type}/${i.resourceGroupName}/${i.serverName}/${i.databaseName ?? ""}`;
            });
          assert.equal(new Set(azure).size, azure.length, `${scenario}: ${azure.join(", ")}`);
          // A restore creates a NEW server: it never reuses the live server's name.
          if (scenario.startsWith("corrupted")) {
            const servers = ofType(declared, TYPES.server).map((r) => (r.inputs as any).serverName);
            assert.ok(servers.length > 0, `${scenario}: no server declared`);
            assert.ok(
              !servers.includes(f.live),
              `${scenario}: ${servers.join(", ")} reuses ${f.live}`,
            );
          }
        }
      });
    });
  }
});

describe("determinism", function () {
  this.timeout(60_000);
  // Both clocks are after the incident and within the 7-day retention of its restore time.
  const CLOCKS = [new Date("2026-11-25T12:00:00Z"), new Date("2026-12-01T09:00:00Z")];

  for (const stack of STACKS) {
    for (const scenario of ["corrupted+promote", "server-gone rebuild"] as ScenarioName[]) {
      it(`${stack} ${scenario}: the same config at two clocks declares the same names, types and inputs`, async () => {
        const [a, b] = [
          await runScenario(stack, scenario, CLOCKS[0]),
          await runScenario(stack, scenario, CLOCKS[1]),
        ];
        const shape = planShape(a.resources);
        assert.ok(shape.length > 10);
        assert.deepEqual(planShape(b.resources), shape);
        // Nothing derives from the clock: neither clock's date appears in any input.
        const text = JSON.stringify(shape);
        for (const clock of CLOCKS) {
          const date = clock.toISOString().slice(0, 10);
          assert.ok(!text.includes(date), `an input contains the clock's date ${date}`);
          assert.ok(!text.includes(date.replace(/-/g, "")), `an input contains ${date} compacted`);
        }
      });
    }
  }
});

/* Kubernetes OpenAPI schema validation with kubernetes-models@4 (CommonJS). */
/* eslint-disable @typescript-eslint/no-require-imports */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  [TYPES.deployment]: require("kubernetes-models/apps/v1/Deployment").Deployment,
  [TYPES.service]: require("kubernetes-models/v1/Service").Service,
  [TYPES.configMap]: require("kubernetes-models/v1/ConfigMap").ConfigMap,
  [TYPES.secret]: require("kubernetes-models/v1/Secret").Secret,
  [TYPES.ingress]: require("kubernetes-models/networking.k8s.io/v1/Ingress").Ingress,
  [TYPES.job]: require("kubernetes-models/batch/v1/Job").Job,
};
/* eslint-enable @typescript-eslint/no-require-imports */
const API: Record<string, [string, string]> = {
  [TYPES.deployment]: ["apps/v1", "Deployment"],
  [TYPES.service]: ["v1", "Service"],
  [TYPES.configMap]: ["v1", "ConfigMap"],
  [TYPES.secret]: ["v1", "Secret"],
  [TYPES.ingress]: ["networking.k8s.io/v1", "Ingress"],
  [TYPES.job]: ["batch/v1", "Job"],
};

function validateK8s(r: DeclaredResource): void {
  const [apiVersion, kind] = API[r.type];
  const object = { ...(unwrapSecrets(r.inputs) as Record<string, unknown>), apiVersion, kind };
  new MODELS[r.type](object).validate();
}

describe("Kubernetes objects pass the Kubernetes OpenAPI schema (kubernetes-models)", function () {
  this.timeout(60_000);

  it("the validator is live: a broken Job and a Deployment without a selector are refused", () => {
    const job: DeclaredResource = {
      type: TYPES.job,
      name: "broken",
      read: false,
      component: false,
      inputs: {
        metadata: { name: "x" },
        spec: { backoffLimit: "zero", template: { spec: { containers: [{ name: "c" }] } } },
      },
      options: {} as DeclaredResource["options"],
    };
    assert.throws(() => validateK8s(job), /backoffLimit/);
    assert.throws(
      () =>
        validateK8s({
          ...job,
          type: TYPES.deployment,
          inputs: { metadata: { name: "x" }, spec: { template: {} } },
        }),
      /selector/,
    );
  });

  for (const stack of STACKS as Stack[]) {
    for (const scenario of [
      "corrupted+promote",
      "server-gone rebuild",
      "server-gone revive",
    ] as ScenarioName[]) {
      it(`${stack} ${scenario}`, async () => {
        const run = await runScenario(stack, scenario);
        const objects = managed(run.resources).filter((r) => r.type in MODELS);
        const kinds = new Set(objects.map((r) => API[r.type][1]));
        const expected = ["Deployment", "Service", "ConfigMap", "Ingress", "Secret"];
        if (scenario !== "server-gone revive") expected.push("Job");
        for (const k of expected) assert.ok(kinds.has(k), `no ${k} declared to validate`);
        for (const r of objects) {
          assert.doesNotThrow(() => validateK8s(r), `${r.type} ${r.name}`);
        }
      });
    }
  }
});
