/**
 * Runs the real program in-process under Pulumi's mocks, for the offline plan and the tests.
 *
 * Mocks don't read Pulumi.yaml or Pulumi.<stack>.yaml, so this loads them itself; invokes and
 * reads of live objects are answered from the stack's environment facts (offline stand-ins,
 * flagged as such). Resource options (retainOnDelete, ignoreChanges, hooks, ...) are not passed
 * to mocks, so they are captured from the registration requests.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

// waitForRPCs is internal to the SDK, but it is how to know every registration has finished.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdkSettings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

export const ROOT = path.resolve(__dirname, "..");
export const STACKS = ["production", "qa"] as const;
export const PROJECT = "pg-recovery";
export const OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const OFFLINE_REPLICAS = 2;

export interface DeclaredOptions {
  parent?: string;
  provider?: string;
  retainOnDelete: boolean;
  protect: boolean;
  ignoreChanges: string[];
  dependsOn: string[];
  customTimeouts?: { create?: string; update?: string; delete?: string };
  deleteBeforeReplace: boolean;
  beforeDeleteHooks: string[];
}

export interface DeclaredResource {
  type: string;
  name: string;
  /** True for reads of existing objects (`X.get`): looked at, never managed. */
  read: boolean;
  /** True for component resources (groupings with no cloud object of their own). */
  component: boolean;
  inputs: Record<string, unknown>;
  options: DeclaredOptions;
}

export interface OfflineRun {
  resources: DeclaredResource[];
  outputs: Record<string, unknown>;
  /** Live lookups answered from the facts instead of the cloud. */
  offlineAnswers: string[];
}

/** Stack config as `pulumi config` would hold it: `ns:key` -> string (objects as JSON). */
export type StackConfig = Record<string, string>;

export class StackConfigError extends Error {}

/** Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then `--set` overrides. */
export function loadStackConfig(stack: string, sets: Record<string, string> = {}): StackConfig {
  const stackFile = path.join(ROOT, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFile)) {
    throw new StackConfigError(
      `no stack file Pulumi.${stack}.yaml; known stacks: ${STACKS.join(", ")} (use --stack <name>).`,
    );
  }
  const project = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, { default?: unknown }>;
  };
  const config: StackConfig = {};
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    if (decl && typeof decl === "object" && "default" in decl && decl.default !== undefined) {
      config[qualify(key)] = stringify(decl.default);
    }
  }
  const stackYaml = (parseYaml(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  for (const [key, value] of Object.entries(stackYaml.config ?? {}))
    config[qualify(key)] = stringify(value);
  for (const [key, value] of Object.entries(sets)) config[qualify(key)] = value;
  return config;
}

/** `scenario` -> `pg-recovery:scenario`; keys of other namespaces stay as they are. */
export function qualify(key: string): string {
  return key.includes(":") ? key : `${PROJECT}:${key}`;
}

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

interface FactsView {
  azure?: {
    resourceGroup?: string;
    server?: { name?: string; version?: string; backupRetentionDays?: number };
  };
  kubernetes?: { deployments?: { name: string; replicas?: number }[] };
}

let current: { config: StackConfig; now: Date; run: OfflineRun } | undefined;
let mocksInstalled = false;

function facts(): FactsView {
  try {
    return JSON.parse(current?.config[`${PROJECT}:environment`] ?? "{}") as FactsView;
  } catch {
    return {};
  }
}

function subscription(): string {
  return current?.config["azure-native:subscriptionId"] ?? OFFLINE_SUBSCRIPTION;
}

function note(text: string) {
  if (current && !current.run.offlineAnswers.includes(text)) current.run.offlineAnswers.push(text);
}

const mocks: pulumi.runtime.Mocks = {
  newResource(args) {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    const read = args.id !== undefined && args.id !== "" && args.custom === true;
    let id = `${args.name}-id`;
    let state: Record<string, unknown> = { ...inputs };
    if (args.type === "azure-native:dbforpostgresql:Server") {
      const name = String(inputs.serverName);
      id = `/subscriptions/${subscription()}/resourceGroups/${inputs.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${name}`;
      state = { ...inputs, name, fullyQualifiedDomainName: `${name}.postgres.database.azure.com` };
    } else if (args.type === "random:index/randomPassword:RandomPassword") {
      state = { ...inputs, result: "offline-placeholder-password" };
    } else if (read && args.type === "kubernetes:apps/v1:Deployment") {
      const [namespace, name] = String(args.id).split("/");
      const pinned = facts().kubernetes?.deployments?.find((d) => d.name === name)?.replicas;
      const replicas = pinned ?? OFFLINE_REPLICAS;
      note(
        `Deployment ${namespace}/${name}: replicas=${replicas} ` +
          `(${pinned === undefined ? "offline assumption; pulumi up reads the cluster" : "pinned in the facts"}), ` +
          `envFrom secret "${name}-app-secret" (offline stand-in for the app's hashed secret name)`,
      );
      id = String(args.id);
      state = {
        metadata: { name, namespace },
        spec: {
          replicas,
          template: {
            spec: {
              containers: [{ name, envFrom: [{ secretRef: { name: `${name}-app-secret` } }] }],
            },
          },
        },
      };
    }
    // The engine marks these outputs secret (e.g. RandomPassword.result); mocks don't, so do it here.
    for (const key of takeSecretOutputs(args.type, args.name)) {
      if (key in state) state[key] = pulumi.secret(state[key]);
    }
    current?.run.resources.push({
      type: args.type,
      name: args.name,
      read,
      component: args.custom === false,
      inputs,
      options: takeOptions(args.type, args.name),
    });
    return { id: args.custom === false ? undefined : id, state };
  },
  call(args) {
    const f = facts();
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    switch (args.token) {
      case "azure-native:dbforpostgresql:getServer": {
        const retention = f.azure?.server?.backupRetentionDays ?? 7;
        const now = current?.now ?? new Date();
        const earliest = new Date(
          Math.floor(now.getTime() / 3600_000) * 3600_000 - retention * 86400_000,
        );
        note(
          `getServer ${inputs.resourceGroupName}/${inputs.serverName}: exists, earliest restore point ` +
            `${earliest.toISOString()} (${retention}-day retention from the facts)`,
        );
        return {
          id: `/subscriptions/${subscription()}/resourceGroups/${inputs.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${inputs.serverName}`,
          name: inputs.serverName,
          fullyQualifiedDomainName: `${inputs.serverName}.postgres.database.azure.com`,
          version: f.azure?.server?.version,
          backup: { backupRetentionDays: retention, earliestRestoreDate: earliest.toISOString() },
        };
      }
      case "azure-native:authorization:getClientConfig":
        note(
          `getClientConfig: subscription ${subscription()}` +
            (subscription() === OFFLINE_SUBSCRIPTION
              ? " (offline placeholder: the stack sets none)"
              : " (azure-native:subscriptionId)"),
        );
        return {
          subscriptionId: subscription(),
          tenantId: OFFLINE_SUBSCRIPTION,
          clientId: "offline",
          objectId: "offline",
        };
      case "azure-native:storage:listStorageAccountKeys":
        note(
          `listStorageAccountKeys ${inputs.accountName}: placeholder key (real keys only at pulumi up)`,
        );
        return {
          keys: [{ keyName: "key1", permissions: "FULL", value: "offline-placeholder-key" }],
        };
      default:
        return inputs;
    }
  },
};

/** Options of registrations seen by the monitor, by `type::name`, waiting for newResource. */
const pendingOptions = new Map<string, DeclaredOptions>();
/** `additionalSecretOutputs` of those registrations, by `type::name`. */
const pendingSecretOutputs = new Map<string, string[]>();

function takeSecretOutputs(type: string, name: string): string[] {
  const key = `${type}::${name}`;
  const outputs = pendingSecretOutputs.get(key) ?? [];
  pendingSecretOutputs.delete(key);
  return outputs;
}

function takeOptions(type: string, name: string): DeclaredOptions {
  const key = `${type}::${name}`;
  const options = pendingOptions.get(key);
  pendingOptions.delete(key);
  return (
    options ?? {
      retainOnDelete: false,
      protect: false,
      ignoreChanges: [],
      dependsOn: [],
      deleteBeforeReplace: false,
      beforeDeleteHooks: [],
    }
  );
}

/* eslint-disable @typescript-eslint/no-explicit-any */
function installMocks(): void {
  if (mocksInstalled) return;
  mocksInstalled = true;
  pulumi.runtime.setMocks(mocks, PROJECT, "offline", false);
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const timeouts = req.getCustomtimeouts?.();
    const hooks = req.getHooks?.();
    pendingOptions.set(`${req.getType()}::${req.getName()}`, {
      parent: req.getParent() || undefined,
      provider: req.getProvider() || undefined,
      retainOnDelete: !!req.getRetainondelete?.(),
      protect: !!req.getProtect?.(),
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
      dependsOn: req.getDependenciesList?.() ?? [],
      customTimeouts: timeouts
        ? {
            create: timeouts.getCreate() || undefined,
            update: timeouts.getUpdate() || undefined,
            delete: timeouts.getDelete() || undefined,
          }
        : undefined,
      deleteBeforeReplace: !!req.getDeletebeforereplace?.(),
      beforeDeleteHooks: hooks?.getBeforeDeleteList?.() ?? [],
    });
    pendingSecretOutputs.set(
      `${req.getType()}::${req.getName()}`,
      req.getAdditionalsecretoutputsList?.() ?? [],
    );
    return register(req, callback);
  };
  // The mock monitor has no hook RPC; accepting registrations lets the program bind its delete
  // hooks as it does under the engine, so tests can see the binding.
  if (typeof monitor.registerResourceHook !== "function") {
    monitor.registerResourceHook = (_req: any, callback: any) => callback(null, {});
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Evaluates the program once with `config`, at clock time `now`. */
export async function evaluateOffline(
  config: StackConfig,
  now: Date = new Date(),
): Promise<OfflineRun> {
  installMocks();
  const run: OfflineRun = { resources: [], outputs: {}, offlineAnswers: [] };
  current = { config, now, run };
  pulumi.runtime.setAllConfig(config);
  try {
    // Imported late: the program must load after the mocks are in place.
    const { recoveryOverlay } = await import("../stacks/overlay");
    const outputs = await recoveryOverlay(now);
    run.outputs = await resolveOutputs(outputs);
    await sdkSettings.waitForRPCs();
    return run;
  } catch (e) {
    await settleInFlight();
    throw e;
  } finally {
    current = undefined;
  }
}

/** After a failed run: lets registrations already in flight land in it, not in the next run. */
async function settleInFlight(): Promise<void> {
  await sdkSettings.waitForRPCs().catch(() => undefined);
}

/** Resolves nested Outputs to plain values; secrets come back as `[secret]`, never in clear. */
export async function resolveOutputs(value: unknown): Promise<Record<string, unknown>> {
  return ((await resolveValue(value)) ?? {}) as Record<string, unknown>;
}

async function resolveValue(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const out = value as pulumi.Output<unknown>;
    if (await pulumi.isSecret(out)) return "[secret]";
    const inner = await new Promise<unknown>((resolve) => out.apply((v) => resolve(v)));
    return resolveValue(inner);
  }
  if (value instanceof Promise) return resolveValue(await value);
  if (Array.isArray(value)) return Promise.all(value.map(resolveValue));
  if (value && typeof value === "object") {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await resolveValue(v)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * Runs `declare` (which constructs components directly) under the same mocks and returns what
 * it registered: for testing one component alone. `now` is the clock the offline lookups see.
 */
export async function captureResources(
  declare: () => unknown,
  config: StackConfig = {},
  now: Date = new Date(),
): Promise<DeclaredResource[]> {
  installMocks();
  const run: OfflineRun = { resources: [], outputs: {}, offlineAnswers: [] };
  current = { config, now, run };
  pulumi.runtime.setAllConfig(config);
  try {
    const result = declare();
    await resolveValue(result instanceof Promise ? await result : undefined);
    await sdkSettings.waitForRPCs();
    return run.resources;
  } catch (e) {
    await settleInFlight();
    throw e;
  } finally {
    current = undefined;
  }
}
