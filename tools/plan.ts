/**
 * `npm run plan -- --stack <production|qa> [--set key=value ...] [--json]`
 *
 * The offline plan: runs the real program under Pulumi's mocks with the stack's YAML files and
 * prints what it declares. No cloud credentials, no Pulumi CLI; live lookups are answered from
 * the stack's environment facts and listed as such.
 */
import { RunError } from "@pulumi/pulumi";
import { parseArgs } from "node:util";
import { ANNOTATIONS, RUNBOOK, runbookStepOf, shortType } from "../contract/runbook";
import {
  DeclaredResource,
  evaluateOffline,
  loadStackConfig,
  OfflineRun,
  StackConfigError,
} from "../harness/offline";

const USAGE = `usage: npm run plan -- --stack <production|qa> [--set key=value ...] [--json]
  --stack   stack whose Pulumi.<stack>.yaml to use
  --set     config override, with or without the pg-recovery: prefix (repeatable),
            e.g. --set scenario=corrupted --set incidentDate=2024-07-24 --set restoreTime=2024-07-24T05:59:00Z
  --json    print {"stack", "scenario", "resources": [{"type", "name", "inputs"}], ...}`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        stack: { type: "string" },
        set: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.stack) {
    process.stderr.write(`--stack is required.\n${USAGE}\n`);
    return 2;
  }
  const sets: Record<string, string> = {};
  for (const item of values.set ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) {
      process.stderr.write(`--set "${item}" must be key=value, e.g. --set scenario=corrupted\n`);
      return 2;
    }
    sets[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }

  let run: OfflineRun;
  try {
    run = await evaluateOffline(loadStackConfig(values.stack, sets));
  } catch (e) {
    const message = e instanceof StackConfigError ? e.message : errorMessage(e);
    process.stderr.write(`${message}\n`);
    return 1;
  }
  // Runbook order, then by name: stable across runs whatever order registrations finished in.
  const managed = run.resources
    .filter((r) => !r.read && !r.component)
    .sort(
      (a, b) =>
        stepRank(a) - stepRank(b) || a.type.localeCompare(b.type) || a.name.localeCompare(b.name),
    );
  if (values.json) {
    const doc = {
      stack: values.stack,
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
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(renderText(values.stack, run, managed));
  }
  return 0;
}

/** Providers first, then the runbook's steps in its order; what no step owns comes last. */
function stepRank(r: DeclaredResource): number {
  if (r.type.startsWith("pulumi:providers")) return 0;
  const step = runbookStepOf(r.name);
  return step ? 1 + RUNBOOK.indexOf(step) : 1 + RUNBOOK.length;
}

function errorMessage(e: unknown): string {
  // RunError and config errors carry the operator-facing message; anything else is a bug.
  const err = e as Error;
  // RunError keeps the name "Error"; the SDK marks it with a flag instead (RunError.isInstance).
  return RunError.isInstance(e) || err?.name === "IncidentConfigError"
    ? err.message
    : `pg-recovery plan failed: ${err?.stack ?? String(e)}`;
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${errorMessage(e)}\n`);
    process.exit(1);
  },
);
