/**
 * Helpers for the Pulumi-side tests. Everything goes through offline/offline.ts (evaluateOffline /
 * captureResources), which installs the process-global mocks once; nothing here calls setMocks.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  DeclaredResource,
  evaluateOffline,
  loadStackConfig,
  OfflineRun,
  ROOT,
  StackConfig,
} from "../../offline/offline";

export { ROOT };
export type Stack = "production" | "qa";
export const STACKS: Stack[] = ["production", "qa"];

/** A fixed clock for program runs: well inside the offline 7-day retention of INCIDENT below. */
export const NOW = new Date("2026-11-25T12:00:00Z");

/** The incident every scenario uses: dates in the past of NOW and of 2026-12-01. */
export const INCIDENT = {
  incidentDate: "2026-11-24",
  restoreTime: "2026-11-24T12:00:00Z",
  serverDeletedAt: "2026-11-24T10:00:00Z",
  reviveTime: "2026-11-24T10:30:00Z",
};

/** Facts of the real stack files, as tests expect them. */
export const FACTS = {
  production: {
    live: "s189p01-ptt-pd-pg",
    database: "ptt_production",
    resourceGroup: "s189p01-ptt-pd-rg",
    short: "pd",
    namespace: "bat-production",
    context: "s189p01-tsc-production-aks",
    deployments: { "publish-production": 12, "publish-production-worker": 2 } as Record<
      string,
      number
    >,
    subscription: "3c033a0c-7a1c-4653-93cb-0f2a9f57a391",
  },
  qa: {
    live: "s189t01-ptt-qa-pg",
    database: "ptt_qa",
    resourceGroup: "s189t01-ptt-qa-rg",
    short: "qa",
    namespace: "bat-qa",
    context: "s189t01-tsc-test-aks",
    // Not pinned in Pulumi.qa.yaml: the offline read of the live Deployment answers 2.
    deployments: { "publish-qa": 2, "publish-qa-worker": 2 } as Record<string, number>,
    subscription: "00000000-0000-0000-0000-000000000000",
  },
} as const;

export type ScenarioName =
  "none" | "corrupted" | "corrupted+promote" | "server-gone rebuild" | "server-gone revive";

export const SCENARIO_NAMES: ScenarioName[] = [
  "none",
  "corrupted",
  "corrupted+promote",
  "server-gone rebuild",
  "server-gone revive",
];

/** `--set` values of each scenario for one stack. */
export function scenarioSets(stack: Stack, scenario: ScenarioName): Record<string, string> {
  const { incidentDate, restoreTime, serverDeletedAt, reviveTime } = INCIDENT;
  switch (scenario) {
    case "none":
      return {};
    case "corrupted":
      return { scenario: "corrupted", incidentDate, restoreTime };
    case "corrupted+promote":
      return {
        scenario: "corrupted",
        incidentDate,
        restoreTime,
        promote: "true",
        promotionMode: "tables",
        promotionTables: "public.courses,public.sites",
        confirm: FACTS[stack].live,
      };
    case "server-gone rebuild":
      return { scenario: "server-gone", incidentDate };
    case "server-gone revive":
      return { scenario: "server-gone", incidentDate, restoreTime: reviveTime, serverDeletedAt };
  }
}

export function stackConfig(stack: string, sets: Record<string, string> = {}): StackConfig {
  return loadStackConfig(stack, sets);
}

/** The environment facts of a real stack file, as a plain object (a fresh copy each call). */
export function stackFacts(stack: Stack): Record<string, any> {
  return JSON.parse(loadStackConfig(stack)["pg-recovery:environment"]);
}

/** Evaluates the real program for a stack and scenario (runs are cached: they are pure). */
const runCache = new Map<string, OfflineRun>();
export async function runScenario(
  stack: Stack,
  scenario: ScenarioName,
  now: Date = NOW,
): Promise<OfflineRun> {
  const key = `${stack}|${scenario}|${now.toISOString()}`;
  let run = runCache.get(key);
  if (!run) {
    run = await evaluateOffline(stackConfig(stack, scenarioSets(stack, scenario)), now);
    runCache.set(key, run);
  }
  return run;
}

/**
 * Runs the program's entry point under the recording harness and catches its error, so a test
 * can see both what it threw and what (if anything) it registered before throwing.
 */
export async function programOutcome(
  config: StackConfig,
  now: Date = NOW,
): Promise<{ error: unknown; resources: DeclaredResource[] }> {
  let error: unknown;
  const resources = await captureResources(
    async () => {
      // Imported late, after the harness has installed its mocks.
      const { recoveryOverlay } = await import("../../stacks/overlay");
      try {
        await recoveryOverlay(now);
      } catch (e) {
        error = e;
      }
    },
    config,
    now,
  );
  return { error, resources };
}

/**
 * Runs `declare` (which constructs components directly) under the offline mocks and returns what
 * it registered: for testing one component alone. `now` is the clock the offline lookups see.
 */
export async function captureResources(
  declare: () => unknown,
  config: StackConfig = {},
  now: Date = new Date(),
): Promise<DeclaredResource[]> {
  const run = await evaluateOffline(config, now, async () => {
    const result = declare();
    return result instanceof Promise ? await result : undefined;
  });
  return run.resources;
}

/** Managed resources only: no reads of live objects, no component groupings. */
export function managed(resources: DeclaredResource[]): DeclaredResource[] {
  return resources.filter((r) => !r.read && !r.component);
}

export function ofType(resources: DeclaredResource[], type: string): DeclaredResource[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: DeclaredResource[], type: string, name?: string): DeclaredResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  assert.equal(
    found.length,
    1,
    `expected exactly one ${type}${name ? ` named ${name}` : ""}, got ${found.map((r) => r.name).join(", ") || "none"}`,
  );
  return found[0];
}

export const TYPES = {
  server: "azure-native:dbforpostgresql:Server",
  database: "azure-native:dbforpostgresql:Database",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  password: "random:index/randomPassword:RandomPassword",
  deployment: "kubernetes:apps/v1:Deployment",
  deploymentPatch: "kubernetes:apps/v1:DeploymentPatch",
  service: "kubernetes:core/v1:Service",
  configMap: "kubernetes:core/v1:ConfigMap",
  secret: "kubernetes:core/v1:Secret",
  ingress: "kubernetes:networking.k8s.io/v1:Ingress",
  ingressPatch: "kubernetes:networking.k8s.io/v1:IngressPatch",
  job: "kubernetes:batch/v1:Job",
  k8sProvider: "pulumi:providers:kubernetes",
  githubProvider: "pulumi:providers:github",
} as const;

/** A secret as the mocks receive it: the SDK's wire form, `{<signature>, value}`. */
export function isSecretValue(value: unknown): value is { value: unknown } {
  return pulumi.runtime.isRpcSecret(value);
}

/** The same value with every secret wrapper replaced by its plain content. */
export function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** Every string in `value` that is NOT inside a secret wrapper. */
export function plainStrings(value: unknown, out: string[] = []): string[] {
  if (isSecretValue(value)) return out;
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => plainStrings(v, out));
  else if (value && typeof value === "object")
    Object.values(value).forEach((v) => plainStrings(v, out));
  return out;
}

/** type, name and inputs of the managed resources, sorted: what a plan compares. */
export function planShape(resources: DeclaredResource[]) {
  return managed(resources)
    .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }))
    .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}

/** The container steps (init containers, then containers) of a declared Job. */
export function jobSteps(
  job: DeclaredResource,
): { name: string; image: string; args: string[]; env: any[] }[] {
  const spec = (job.inputs as any).spec.template.spec;
  return [...(spec.initContainers ?? []), ...spec.containers];
}

/** Where faketime lives, if installed. */
export const FAKETIME = ["/usr/bin/faketime", "/usr/local/bin/faketime"].find((p) =>
  fs.existsSync(p),
);

export const TS_NODE = path.join(ROOT, "node_modules", ".bin", "ts-node");
