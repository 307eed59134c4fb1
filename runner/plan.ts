/**
 * The offline plan (`pg-recovery plan`, `npm run plan`): runs the real program under Pulumi's
 * mocks with the stack's YAML files and renders what it declares, as a table or as JSON. No cloud
 * credentials, no Pulumi CLI; live lookups are answered from the stack's environment facts and
 * listed as such.
 */
import { ANNOTATIONS, RUNBOOK, runbookStepOf, shortType } from "../contract/runbook";
import { DeclaredResource, evaluateOffline, loadStackConfig, OfflineRun } from "../offline/offline";
import { qualify, StackConfig } from "../offline/stack-config";
import { CONFIG_KEYS, PROJECT } from "../stacks/incident";
import { Given, passDoor } from "./door";

/**
 * For the door's hints: the keys `--set` gave, and every other key as one these offline commands
 * take with `--set` too.
 */
export function givenBySet(sets: Record<string, string>): Given {
  const prefix = `${PROJECT}:`;
  return {
    ...Object.fromEntries(CONFIG_KEYS.map((k) => [k, "settable"])),
    ...Object.fromEntries(
      Object.keys(sets)
        .map(qualify)
        .filter((k) => k.startsWith(prefix))
        .map((k) => [k.slice(prefix.length), "set"]),
    ),
  };
}

/**
 * The config door on the stack file with its `--set`s, before the program runs: the program's
 * own refusal would say \`pulumi config set\` for a value given with --set.
 */
export function doorFirst(config: StackConfig, sets: Record<string, string>, now: Date): void {
  const map = Object.fromEntries(
    Object.entries(config).map(([k, value]) => [k, { value, secret: false }]),
  );
  passDoor(map, now, givenBySet(sets));
}

/** The plan of a stack with `--set` overrides, as text or as a JSON document. */
export async function offlinePlan(
  stack: string,
  sets: Record<string, string>,
  workDir: string,
  json: boolean,
  now: Date,
): Promise<string> {
  const config = loadStackConfig(stack, sets, workDir);
  doorFirst(config, sets, now);
  const run = await evaluateOffline(config, now);
  // Runbook order, then by name: stable across runs whatever order registrations finished in.
  const managed = run.resources
    .filter((r) => !r.read && !r.component)
    .sort(
      (a, b) =>
        stepRank(a) - stepRank(b) || a.type.localeCompare(b.type) || a.name.localeCompare(b.name),
    );
  if (!json) return renderText(stack, run, managed);
  const doc = {
    stack,
    scenario: run.outputs.scenario ?? "none",
    offline: true,
    resources: managed.map((r) => ({ type: r.type, name: r.name, inputs: masked(r) })),
    reads: run.resources.filter((r) => r.read).map((r) => ({ type: r.type, name: r.name })),
    components: run.resources
      .filter((r) => r.component)
      .map((r) => ({ type: r.type, name: r.name })),
    offlineAnswers: run.offlineAnswers,
    outputs: run.outputs,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Providers first, then the runbook's steps in its order; what no step owns comes last. */
function stepRank(r: DeclaredResource): number {
  if (r.type.startsWith("pulumi:providers")) return 0;
  const step = runbookStepOf(r.name);
  return step ? 1 + RUNBOOK.indexOf(step) : 1 + RUNBOOK.length;
}

/** Secret material never reaches the terminal, not even offline placeholders. */
function masked(r: DeclaredResource): Record<string, unknown> {
  const inputs = { ...r.inputs };
  if (r.type === "kubernetes:core/v1:Secret") {
    for (const key of ["stringData", "data"] as const) {
      const value = inputs[key] as Record<string, unknown> | undefined;
      if (value) inputs[key] = Object.fromEntries(Object.keys(value).map((k) => [k, "[secret]"]));
    }
  }
  if ("administratorLoginPassword" in inputs) inputs.administratorLoginPassword = "[secret]";
  if ("result" in inputs) inputs.result = "[secret]";
  return inputs;
}

/** The inputs an operator checks before `pulumi up`, per type. */
function keyInputs(r: DeclaredResource): string {
  const i = r.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const meta = i.metadata ?? {};
  const where = meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
  switch (shortType(r.type)) {
    case "github RepositoryRuleset":
      return `repo=${i.repository} "${i.name}" on ${i.conditions?.refName?.includes?.join(",")} requires ${i.rules?.pullRequest?.requiredApprovingReviewCount} approving reviews`;
    case "azure Server":
      return [
        `${i.resourceGroupName}/${i.serverName}`,
        `createMode=${i.createMode}`,
        i.pointInTimeUTC ? `pointInTimeUTC=${i.pointInTimeUTC}` : "",
        i.sourceServerResourceId
          ? `source=${String(i.sourceServerResourceId).split("/").pop()}`
          : "",
        i.sku ? `sku=${i.sku.name}` : "",
        `subnet=${String(i.network?.delegatedSubnetResourceId ?? "")
          .split("/")
          .pop()}`,
        r.options.retainOnDelete ? "kept on destroy" : "deleted on destroy",
      ]
        .filter(Boolean)
        .join(" ");
    case "k8s DeploymentPatch":
      return `${where} replicas=${i.spec?.replicas} (restores ${meta.annotations?.[ANNOTATIONS.replicasBeforeIncident]} on destroy)`;
    case "k8s IngressPatch":
      return `${where} +annotation default-backend=${meta.annotations?.[ANNOTATIONS.nginxDefaultBackend]}`;
    case "k8s Ingress": {
      const rule = i.spec?.rules?.[0];
      const backend = rule?.http?.paths?.[0]?.backend?.service;
      const canary = meta.annotations?.[ANNOTATIONS.nginxCanary] === "true";
      return `${where} host=${rule?.host} -> ${backend?.name}:${backend?.port?.number}${canary ? " (canary weight " + meta.annotations[ANNOTATIONS.nginxCanaryWeight] + ")" : ""}`;
    }
    case "k8s Job": {
      const spec = i.spec?.template?.spec ?? {};
      const steps = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map(
        (c: { args?: string[] }) => (c.args ?? []).join(" "),
      );
      return `${where}: ${steps.join(" ; then ")}`;
    }
    case "k8s Deployment":
      return `${where} replicas=${i.spec?.replicas} image=${i.spec?.template?.spec?.containers?.[0]?.image}`;
    case "k8s Service":
    case "k8s ConfigMap":
    case "k8s Secret":
      return where ?? "";
    default:
      return Object.entries(i)
        .filter(([, v]) => typeof v !== "object")
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
  }
}

function renderText(stack: string, run: OfflineRun, managed: DeclaredResource[]): string {
  const lines: string[] = [];
  const scenario = String(run.outputs.scenario ?? "none");
  lines.push(`pg-recovery plan: stack ${stack}, scenario ${scenario}`);
  lines.push(`(offline: the real program under Pulumi mocks; nothing was called or changed)`);
  if (run.offlineAnswers.length) {
    lines.push("", "Live lookups answered from the stack's facts, not the cloud:");
    for (const a of run.offlineAnswers) lines.push(`  - ${a}`);
  }
  lines.push("", `Declared resources: ${managed.length}`);
  if (managed.length) {
    const rows = managed.map((r) => [shortType(r.type), r.name, keyInputs(r)]);
    const w0 = Math.max(4, ...rows.map((r) => r[0].length));
    const w1 = Math.max(4, ...rows.map((r) => r[1].length));
    lines.push(`  ${"TYPE".padEnd(w0)}  ${"NAME".padEnd(w1)}  KEY INPUTS`);
    for (const [t, n, k] of rows) lines.push(`  ${t.padEnd(w0)}  ${n.padEnd(w1)}  ${k}`);
  }
  const reads = run.resources.filter((r) => r.read);
  if (reads.length) {
    lines.push("", "Read, never managed:");
    for (const r of reads) lines.push(`  ${shortType(r.type)} ${r.name}`);
  }
  lines.push("", "Outputs:");
  for (const [k, v] of Object.entries(run.outputs)) {
    lines.push(
      `  ${k}: ${typeof v === "string" ? v : JSON.stringify(v, null, 2).replace(/\n/g, "\n  ")}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
