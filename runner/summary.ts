/**
 * A preview, said in the runbook's words: which runbook step each resource belongs to (by the
 * name the composition gives it), what it does there, in runbook order. The operator confirms
 * what they read here, so every line names the objects it touches.
 */
import {
  ANNOTATIONS,
  RUNBOOK,
  runbookStepOf,
  RunbookStep,
  shortType,
  STEPS,
} from "../contract/runbook";
import { formatLondon } from "../contract/time";
import { ChangePlan, changesOf, PlanStep } from "./engine";

type Verb = "create" | "change" | "delete" | "keep";

function verbOf(step: PlanStep): Verb | undefined {
  if (step.op === "create") return "create";
  if (step.op === "delete") return step.retain ? "keep" : "delete";
  if (["update", "replace", "create-replacement", "delete-replaced"].includes(step.op)) {
    return "change";
  }
  return undefined;
}

const MARK: Record<Verb, string> = { create: "+", change: "~", delete: "-", keep: "=" };

export interface SummaryLine {
  step: RunbookStep;
  verb: Verb;
  text: string;
}

/** The plan's changes as runbook lines, in runbook order (reverts in reverse order). */
export function summarise(plan: ChangePlan): SummaryLine[] {
  const changes = changesOf(plan).filter((s) => s.type !== "pulumi:pulumi:Stack");
  const lines: SummaryLine[] = [];
  for (const step of RUNBOOK) {
    const all = changes.filter((s) => runbookStepOf(s.name)?.id === step.id);
    // Components are groupings: named only where a step has nothing else (a test stand-in).
    const mine = all.some((s) => s.custom !== false) ? all.filter((s) => s.custom !== false) : all;
    for (const verb of ["create", "change", "delete", "keep"] as Verb[]) {
      const group = mine.filter((s) => verbOf(s) === verb);
      if (group.length === 0) continue;
      for (const text of describeGroup(step, verb, group)) lines.push({ step, verb, text });
    }
  }
  const reverting =
    lines.length > 0 && lines.every((l) => l.verb === "delete" || l.verb === "keep");
  if (!reverting) return lines;
  // A revert reads like the runbook's "complete the process": jobs, app back, maintenance off, unfreeze.
  const order = RUNBOOK.map((s) => s.id).reverse();
  return [...lines].sort((a, b) => order.indexOf(a.step.id) - order.indexOf(b.step.id));
}

/** The summary as the operator reads it before confirming. */
export function renderSummary(plan: ChangePlan, heading: string): string {
  const lines = summarise(plan);
  const out = [heading];
  if (lines.length === 0) {
    out.push("  nothing to change: the stack already matches (a previous run got this far).");
    return out.join("\n");
  }
  let current: string | undefined;
  for (const line of lines) {
    if (line.step.title !== current) {
      current = line.step.title;
      out.push(`  ${current}`);
    }
    out.push(`    ${MARK[line.verb]} ${line.text}`);
  }
  const changes = changesOf(plan).filter((s) => s.type !== "pulumi:pulumi:Stack");
  const unplaced = changes.filter(
    (s) => !runbookStepOf(s.name) && !s.type.startsWith("pulumi:providers:"),
  );
  for (const s of unplaced) out.push(`  (other) ${s.op} ${shortType(s.type)} ${s.name}`);
  const count = (verb: Verb) =>
    changes.filter((s) => verbOf(s) === verb && s.custom !== false).length;
  out.push(
    `  ${count("create")} to create, ${count("change")} to change, ${count("delete")} to delete` +
      (count("keep") ? `, ${count("keep")} kept (not deleted)` : "") +
      ".",
  );
  return out.join("\n");
}

/* ------------------------------------------------------------------ reading inputs */

type Json = Record<string, unknown>;

function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.length > 0 && !isUnknown(v) ? v : undefined;

/** The engine's placeholder for a value only known after the update. */
const isUnknown = (v: unknown) =>
  typeof v === "string" &&
  /^0{8}-0{4}-0{4}-0{4}-0{12}$|^04da6b54-80e4-46f7-96ec-b56ff0331ba9$/.test(v);

const inputsOf = (s: PlanStep): Json => (s.inputs ?? s.oldInputs ?? {}) as Json;
const k8sName = (s: PlanStep) => str(at(inputsOf(s), "metadata", "name")) ?? s.name;
const isType = (s: PlanStep, suffix: string) => s.type.endsWith(suffix);

/** Every value of a repeated `--flag value` (the contract repeats list flags). */
function argsOf(args: unknown, flag: string): string[] {
  if (!Array.isArray(args)) return [];
  return args.flatMap((a, i) => (a === flag && str(args[i + 1]) ? [String(args[i + 1])] : []));
}

/** `--flag value` from a Job container's args. */
function argOf(args: unknown, flag: string): string | undefined {
  if (!Array.isArray(args)) return undefined;
  const i = args.indexOf(flag);
  return i >= 0 ? str(args[i + 1]) : undefined;
}

function jobContainers(s: PlanStep): { name: string; args: unknown[] }[] {
  const spec = at(inputsOf(s), "spec", "template", "spec") as Json | undefined;
  const list = [
    ...((spec?.initContainers as unknown[]) ?? []),
    ...((spec?.containers as unknown[]) ?? []),
  ];
  return list.map((c) => ({
    name: String(at(c, "name") ?? ""),
    args: (at(c, "args") as unknown[]) ?? [],
  }));
}

function hostsOf(steps: PlanStep[]): string[] {
  return steps
    .map((s) => str(at(inputsOf(s), "spec", "rules", 0, "host")))
    .filter((h): h is string => !!h);
}

const isCanary = (s: PlanStep) =>
  at(inputsOf(s), "metadata", "annotations", ANNOTATIONS.nginxCanary) === "true";

const list = (items: string[]) => (items.length ? items.join(", ") : "none");

function replicasNote(s: PlanStep): string {
  const n = str(at(inputsOf(s), "metadata", "annotations", ANNOTATIONS.replicasBeforeIncident));
  return n ?? "the count read from the cluster";
}

function londonOf(utc: string | undefined): string {
  if (!utc) return "";
  const d = new Date(utc);
  return Number.isNaN(d.getTime()) ? "" : ` = ${formatLondon(d)}`;
}

/* ------------------------------------------------------------------ the sentences */

function describeGroup(step: RunbookStep, verb: Verb, group: PlanStep[]): string[] {
  const custom = group.filter((s) => s.custom !== false);
  if (custom.length === 0) {
    // Only a component: what stands in for a cloud object in a test program, say so.
    return group.map((s) => `${verbWord(verb)} ${s.name} (${shortType(s.type)}: no cloud object)`);
  }
  const describe = DESCRIBE[step.id];
  return describe ? describe(verb, custom) : custom.map((s) => generic(verb, s));
}

const verbWord = (verb: Verb) =>
  ({ create: "create", change: "change", delete: "delete", keep: "keep" })[verb];

function generic(verb: Verb, s: PlanStep): string {
  return `${verbWord(verb)} ${shortType(s.type)} ${k8sName(s)}`;
}

/**
 * The PTR and the drill server: a Flexible Server restored from live at an instant. `words` says
 * each verb's sentence from the server's name and where it is restored from and to; a verb
 * without one, or a step that is not the server, reads as the generic line.
 */
function restoredServerSteps(
  words: Partial<Record<Verb, (name: string, restored: string) => string>>,
): (verb: Verb, steps: PlanStep[]) => string[] {
  return (verb, steps) =>
    steps.map((s) => {
      const sentence = words[verb];
      if (!isType(s, ":Server") || !sentence) return generic(verb, s);
      const i = inputsOf(s);
      const utc = str(i.pointInTimeUTC);
      const restored = `restored from ${lastPart(i.sourceServerResourceId) ?? "live"} to ${utc ?? "the restore time"}${londonOf(utc)}`;
      return sentence(str(i.serverName) ?? s.name, restored);
    });
}

const DESCRIBE: Record<string, (verb: Verb, steps: PlanStep[]) => string[]> = {
  [STEPS.freeze.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, "RepositoryRuleset")) return generic(verb, s);
      const i = inputsOf(s);
      const name = str(i.name) ?? s.name;
      const reviews = at(i, "rules", "pullRequest", "requiredApprovingReviewCount");
      if (verb === "create") {
        return `GitHub ruleset "${name}" on ${str(i.repository) ?? "the repository"}: ${reviews} approving reviews to merge to the default branch, no bypass (a deploy would undo the steps below)`;
      }
      if (verb === "delete") {
        return `unfreeze: delete ruleset "${name}" (the team's own ruleset applies again)`;
      }
      return `ruleset "${name}": now ${reviews} approving reviews`;
    }),

  [STEPS.maintenance.id]: (verb, steps) => {
    const out: string[] = [];
    const page = steps.find((s) => isType(s, ":Deployment"));
    const canaries = steps.filter((s) => isType(s, ":Ingress") && isCanary(s));
    const temporary = steps.filter((s) => isType(s, ":Ingress") && !isCanary(s));
    const patches = steps.filter((s) => isType(s, ":IngressPatch"));
    const rest = steps.filter(
      (s) => s !== page && !canaries.includes(s) && !temporary.includes(s) && !patches.includes(s),
    );
    if (verb === "create") {
      if (page || canaries.length) {
        out.push(
          `maintenance page ${page ? k8sName(page) : ""} answers 503 + Retry-After on ${canaries.length} public host(s): ${list(hostsOf(canaries))}`,
        );
      }
      if (patches.length) {
        out.push(
          `the app's Ingresses ${list(patches.map(k8sName))} get one annotation, a default backend to the page (serves it while the app has 0 replicas)`,
        );
      }
      if (temporary.length) {
        out.push(`temporary hosts reach the real app: ${list(hostsOf(temporary))}`);
      }
      if (rest.length)
        out.push(`with ${list(rest.map((s) => `${shortType(s.type)} ${k8sName(s)}`))}`);
      return out;
    }
    if (verb === "delete") {
      if (page || canaries.length || temporary.length) {
        out.push(
          `maintenance off: delete the page, its canaries on ${list(hostsOf(canaries))} and the temporary hosts ${list(hostsOf(temporary))}`,
        );
      }
      if (patches.length) {
        out.push(
          `remove only the default-backend annotation from the app's Ingresses ${list(patches.map(k8sName))}`,
        );
      }
      if (rest.length)
        out.push(`and ${list(rest.map((s) => `${shortType(s.type)} ${k8sName(s)}`))}`);
      return out;
    }
    return steps.map((s) => generic(verb, s));
  },

  [STEPS.scaleDown.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, ":DeploymentPatch")) return generic(verb, s);
      if (verb === "create") {
        return `${k8sName(s)} to 0 replicas (was ${replicasNote(s)}; put back on revert)`;
      }
      if (verb === "delete") {
        return `app back: ${k8sName(s)} to ${replicasNote(s)} replicas, the count recorded before the incident`;
      }
      return generic(verb, s);
    }),

  [STEPS.storage.id]: (verb, steps) =>
    steps.map((s) =>
      isType(s, ":Secret")
        ? `${verb === "delete" ? "delete" : verbWord(verb)} Secret ${k8sName(s)} holding the backup storage key (read from Azure at up, never printed)`
        : generic(verb, s),
    ),

  [STEPS.adhocBackup.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, ":Job")) return generic(verb, s);
      const name = argOf(jobContainers(s)[0]?.args, "--name");
      if (verb === "create") {
        return `Job ${k8sName(s)} backs up live as ${name ?? "the ad-hoc backup"} (evidence for the incident review; up waits for it)`;
      }
      if (verb === "delete") {
        return `delete the finished Job ${k8sName(s)} (the backup ${name ?? ""} stays in storage)`;
      }
      return generic(verb, s);
    }),

  [STEPS.pointInTimeRestore.id]: restoredServerSteps({
    create: (name, restored) =>
      `new server ${name}, ${restored} (minutes to hours; live is only read)`,
    keep: (name) => `keep server ${name} (the incident's evidence; delete it after the review)`,
    delete: (name) => `DELETE server ${name} (retainRestoredServer is false)`,
  }),

  [STEPS.drillServer.id]: restoredServerSteps({
    create: (name, restored) =>
      `new drill server ${name}, ${restored} in live's subnet and DNS zone (minutes to hours; live is only read)`,
    delete: (name) => `delete the drill server ${name} (nothing of the drill is kept)`,
  }),

  [STEPS.drillChecks.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, ":Job")) return generic(verb, s);
      const c = jobContainers(s)[0];
      if (verb === "create" && c?.args[0] === "verify") {
        return `Job ${k8sName(s)}: verify the drill server ${argOf(c.args, "--target-host") ?? ""} against live at the restore time (reads live)`;
      }
      if (verb === "create") {
        return `Job ${k8sName(s)}: restore the newest complete backup into ${argOf(c?.args, "--db-name") ?? "a scratch database"} on ${argOf(c?.args, "--db-host") ?? "the drill server"}, checked against its manifest`;
      }
      if (verb === "delete")
        return `delete the finished Job ${k8sName(s)} (its checks are in the drill record)`;
      return generic(verb, s);
    }),

  [STEPS.validation.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, ":Job")) return generic(verb, s);
      if (verb === "create") {
        const host = argOf(jobContainers(s)[0]?.args, "--target-host");
        return `Job ${k8sName(s)}: verify ${host ?? "the PTR"} against live, and the promotion plan of each mode, side by side (up does not wait; the runner does)`;
      }
      if (verb === "delete")
        return `delete the finished Job ${k8sName(s)} (its report is in the incident record)`;
      return `${verbWord(verb)} Job ${k8sName(s)} (the plan now covers the tables named)`;
    }),

  [STEPS.promotion.id]: (verb, steps) =>
    steps.map((s) => {
      if (!isType(s, ":Job")) return generic(verb, s);
      const c = jobContainers(s)[0];
      const mode = argOf(c?.args, "--mode");
      if (verb === "create" && mode) {
        const tables = argsOf(c?.args, "--tables").join(",");
        return `Job ${k8sName(s)} OVERWRITES LIVE ${argOf(c?.args, "--confirm") ?? ""}: promote the PTR, mode ${mode}${tables ? ` (tables ${tables})` : " (every table)"} (up waits for it)`;
      }
      if (verb === "create") {
        return `Job ${k8sName(s)} archives the PTR as ${argOf(c?.args, "--name") ?? "a backup"} (not awaited)`;
      }
      if (verb === "delete")
        return `delete the finished Job ${k8sName(s)} (the data stays promoted)`;
      return generic(verb, s);
    }),

  [STEPS.serverRebuild.id]: (verb, steps) =>
    steps.map((s) => {
      const i = inputsOf(s);
      if (isType(s, ":Server")) {
        const name = str(i.serverName) ?? s.name;
        if (verb === "create" && i.createMode === "ReviveDropped") {
          const utc = str(i.pointInTimeUTC);
          return `revive the dropped server ${name} at ${utc}${londonOf(utc)}`;
        }
        if (verb === "create")
          return `new empty server ${name} under the live name (a new admin password)`;
        if (verb === "keep") return `keep server ${name}: it is production from now on`;
      }
      if (isType(s, "RandomPassword"))
        return `${verbWord(verb)} the new server's admin password (secret)`;
      return generic(verb, s);
    }),

  [STEPS.restoreFromStorage.id]: (verb, steps) =>
    steps.map((s) => {
      if (isType(s, ":Job") && verb === "create") {
        const c = jobContainers(s)[0];
        const which = argOf(c?.args, "--name") ?? "the latest complete backup";
        return `Job ${k8sName(s)} restores ${which} into the rebuilt server (up waits for it)`;
      }
      if (isType(s, ":Secret"))
        return `${verbWord(verb)} Secret ${k8sName(s)} (the rebuilt server's URL, secret)`;
      if (isType(s, ":Job") && verb === "delete") return `delete the finished Job ${k8sName(s)}`;
      return generic(verb, s);
    }),
};

function lastPart(id: unknown): string | undefined {
  return str(id)?.split("/").pop();
}

/** One progress line for an update step. */
export function describeStep(step: PlanStep, phase: "doing" | "done" | "failed"): string {
  const words: Record<string, [string, string]> = {
    create: ["creating", "created"],
    update: ["updating", "updated"],
    delete: ["deleting", "deleted"],
    replace: ["replacing", "replaced"],
    "create-replacement": ["creating replacement", "created replacement"],
    "delete-replaced": ["deleting replaced", "deleted replaced"],
  };
  const [doing, done] = words[step.op] ?? [step.op, step.op];
  const verb = phase === "doing" ? doing : phase === "done" ? done : `${doing} FAILED:`;
  const where = runbookStepOf(step.name);
  return `${verb} ${shortType(step.type)} ${k8sName(step)}${where ? ` (${where.title})` : ""}`;
}
