/**
 * Runs the real program in-process under Pulumi's mocks, for the offline plan and the tests.
 *
 * Mocks don't read Pulumi.yaml or Pulumi.<stack>.yaml, so this loads them itself; invokes and
 * reads of live objects are answered from the stack's environment facts (offline stand-ins,
 * flagged as such). Resource options (retainOnDelete, ignoreChanges, hooks, ...) are not passed
 * to mocks, so they are captured from the registration requests.
 */
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "../stacks/environment";
import { PROJECT } from "../stacks/incident";
import {
  DeclaredOptions,
  installRecordingMocks,
  NO_OPTIONS,
  Registration,
  waitForRPCs,
} from "./sdk-internals";
import { StackConfig, stackEnvironment } from "./stack-config";

export { DeclaredOptions };
export {
  loadStackConfig,
  qualify,
  ROOT,
  STACKS,
  StackConfig,
  StackConfigError,
} from "./stack-config";

export const OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const OFFLINE_REPLICAS = 2;

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

/** The facts the stand-ins answer from: the stack's own environment. */
type FactsView = Pick<Environment, "azure" | "kubernetes">;

/**
 * The offline run's state. Pulumi's mocks are process-wide, so there is one of these per process;
 * `run` is the evaluation in progress (runs never overlap: each waits for its RPCs).
 */
const recorder = {
  installed: false,
  run: undefined as { config: StackConfig; now: Date; result: OfflineRun } | undefined,
  /** Registrations seen by the monitor, by `type::name`, waiting for `newResource`. */
  pending: new Map<string, Registration>(),
  take(type: string, name: string): Registration | undefined {
    const key = `${type}::${name}`;
    const registration = this.pending.get(key);
    this.pending.delete(key);
    return registration;
  },
};

function facts(): FactsView | undefined {
  return recorder.run ? stackEnvironment(recorder.run.config) : undefined;
}

function subscription(): string {
  return recorder.run?.config["azure-native:subscriptionId"] ?? OFFLINE_SUBSCRIPTION;
}

function note(text: string) {
  const answers = recorder.run?.result.offlineAnswers;
  if (answers && !answers.includes(text)) answers.push(text);
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
      const pinned = facts()?.kubernetes.deployments.find((d) => d.name === name)?.replicas;
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
    const registration = recorder.take(args.type, args.name);
    for (const key of registration?.additionalSecretOutputs ?? []) {
      if (key in state) state[key] = pulumi.secret(state[key]);
    }
    recorder.run?.result.resources.push({
      type: args.type,
      name: args.name,
      read,
      component: args.custom === false,
      inputs,
      options: registration?.options ?? NO_OPTIONS,
    });
    return { id: args.custom === false ? undefined : id, state };
  },
  call(args) {
    const f = facts();
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    switch (args.token) {
      case "azure-native:dbforpostgresql:getServer": {
        const retention = f?.azure.server.backupRetentionDays ?? 7;
        const now = recorder.run?.now ?? new Date();
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
          version: f?.azure.server.version,
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

function installMocks(): void {
  if (recorder.installed) return;
  recorder.installed = true;
  installRecordingMocks(mocks, PROJECT, "offline", (r) =>
    recorder.pending.set(`${r.type}::${r.name}`, r),
  );
}

/** The recovery overlay, imported late: the program must load after the mocks are in place. */
async function recoveryProgram(now: Date): Promise<unknown> {
  const { recoveryOverlay } = await import("../stacks/overlay");
  return recoveryOverlay(now);
}

/**
 * Evaluates a program once with `config`, at clock time `now`: by default the recovery overlay
 * (the plan, `commands`); the tests pass one component alone as `program`.
 */
export async function evaluateOffline(
  config: StackConfig,
  now: Date = new Date(),
  program: () => unknown = () => recoveryProgram(now),
): Promise<OfflineRun> {
  installMocks();
  const run: OfflineRun = { resources: [], outputs: {}, offlineAnswers: [] };
  recorder.run = { config, now, result: run };
  pulumi.runtime.setAllConfig(config);
  try {
    run.outputs = await resolveOutputs(await program());
    await waitForRPCs();
    return run;
  } catch (e) {
    await settleInFlight();
    throw e;
  } finally {
    recorder.run = undefined;
  }
}

/** After a failed run: lets registrations already in flight land in it, not in the next run. */
async function settleInFlight(): Promise<void> {
  await waitForRPCs().catch(() => undefined);
}

/** Resolves nested Outputs to plain values; secrets come back as `[secret]`, never in clear. */
async function resolveOutputs(value: unknown): Promise<Record<string, unknown>> {
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
