/**
 * One step of an incident, the same way every time: the config it needs goes through the door
 * first; then the config is set, a preview is summarised in the runbook's words, the operator
 * confirms by naming the environment, and `up` (or `destroy --run-program`) runs with progress.
 *
 * Resumable because it is declarative: a rerun computes the same config, finds it already set,
 * and the preview shows only what is left (nothing, once converged, and then no question is
 * asked). Bad input changes nothing: the door refuses before any write, and a refused
 * confirmation or a failed preview puts back the config values this run changed.
 */
import * as os from "node:os";
import { Incident } from "../stacks/incident";
import { confirm } from "./confirm";
import type { Session } from "./context";
import { applyChange, changedKeys, ConfigChange, Given, passDoor } from "./door";
import {
  ChangePlan,
  changesOf,
  ConfigMap,
  EngineError,
  isChange,
  Progress,
  UpdateOutcome,
} from "./engine";
import { Done, Refusal } from "./io";
import { describeStep, renderSummary, summarise } from "./summary";

export interface StepResult {
  incident: Incident;
  plan: ChangePlan;
  /** Absent when there was nothing to change. */
  outcome?: UpdateOutcome;
}

export interface StepSpec {
  change: ConfigChange;
  /** The update's message in the backend's history. */
  message: string;
  /** Heading of the summary, e.g. "What start will do on qa". */
  heading: string;
  yes?: string;
  /** Stop after the summary, with the config as it was. */
  dryRun?: boolean;
  /** Called once the operator has confirmed, before `up` (e.g. to start following Jobs). */
  onConfirmed?: (plan: ChangePlan) => void;
  /** Extra lines under the summary (warnings the operator must read before confirming). */
  warnings?: (plan: ChangePlan, incident: Incident) => string[];
  /** How each key's value was given, for the door's hints (default: the stack file). */
  given?: Given;
}

/** The engine's progress, worded for the operator on stderr. */
export const progressOf =
  (s: Session): Progress =>
  (event) => {
    if (event.kind === "warning") return s.io.err(`  ! ${event.text}`);
    const mark = { doing: "…", done: "✓", failed: "✗" }[event.phase];
    const took = event.seconds === undefined ? "" : ` (${event.seconds}s)`;
    s.io.err(`  ${mark} ${describeStep(event.step, event.phase)}${took}`);
  };

/** Puts back the values of `keys` as they were in `before` (removing the ones it lacked). */
async function restoreConfig(s: Session, before: ConfigMap, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const set = Object.fromEntries(keys.filter((k) => before[k]).map((k) => [k, before[k]]));
  const remove = keys.filter((k) => !before[k]);
  await s.stack.setConfig(set);
  await s.stack.removeConfig(remove);
  s.note("config", `config put back as it was: ${keys.join(", ")}`, { keys });
}

/**
 * One engine operation, the same sequence for `up` and for `destroy --run-program`: preview,
 * the summary in the runbook's words (with warnings), stop on a dry run, the confirmation by the
 * environment's name, then the run with progress, journaled; engine failures become refusals
 * that say what to do. `undo` puts back what the caller changed before (its config) when the
 * operation does not go ahead.
 */
export interface EngineStep {
  /** "update" or "destroy": the journal's words. */
  what: "update" | "destroy";
  preview(progress: Progress): Promise<ChangePlan>;
  run(progress: Progress): Promise<UpdateOutcome>;
  heading: string;
  /** The environment's name, which the operator types (or gives to --yes). */
  environment: string;
  yes?: string;
  dryRun?: boolean;
  warnings(plan: ChangePlan): string[];
  /** Called once the operator has confirmed, before the run. */
  onConfirmed?: (plan: ChangePlan) => void;
  /** What the operator does after a failed run (rerun or revert). */
  afterFailure: string;
  undo(): Promise<void>;
}

/** The plan and, unless there was nothing to change, the run's outcome. */
export async function engineStep(
  s: Session,
  step: EngineStep,
): Promise<{ plan: ChangePlan; outcome?: UpdateOutcome }> {
  s.io.err(`Previewing ${step.what === "destroy" ? "the revert " : ""}on ${s.stack.name} ...`);
  let plan: ChangePlan;
  try {
    plan = await step.preview(progressOf(s));
  } catch (e) {
    await step.undo();
    if (e instanceof EngineError) s.note("refused", `preview failed: ${e.problems.join(" | ")}`);
    throw e;
  }
  const summary = renderSummary(plan, step.heading);
  s.io.out(summary);
  const warnings = step.warnings(plan);
  for (const w of warnings) s.io.out(`  WARNING: ${w}`);
  s.note("preview", summary, {
    lines: summarise(plan).map((l) => `${l.step.title}: ${l.text}`),
    counts: plan.counts,
    warnings,
  });

  const changes = changesOf(plan).length > 0;
  if (step.dryRun) {
    await step.undo();
    s.note("dry-run", "dry run: summary shown, nothing changed");
    throw new Done(
      `Dry run: nothing was changed. To go ahead, rerun without --dry-run` +
        (changes ? ` (and confirm with the environment's name).` : `.`),
    );
  }
  if (!changes && step.what === "update") return { plan };

  const answer = await confirm(s.io, step.environment, step.yes);
  if (!answer.ok) {
    await step.undo();
    s.note("refused", `not confirmed: ${answer.why}`);
    throw new Refusal(`Not confirmed: ${answer.why} Nothing was changed.`);
  }
  s.note("confirmed", `confirmed (${answer.how})`);
  step.onConfirmed?.(plan);

  s.io.err(`${step.what === "destroy" ? "Reverting" : "Updating"} ${s.stack.name} ...`);
  updateStarted(s);
  try {
    const outcome = await step.run(progressOf(s));
    s.note("update", `${step.what} done: ${countsText(outcome.counts)}`, {
      counts: outcome.counts,
      startedAt: outcome.startedAt,
      endedAt: outcome.endedAt,
      ...(step.what === "update" ? { outputs: outputsOf(outcome) } : {}),
    });
    return { plan, outcome };
  } catch (e) {
    if (e instanceof EngineError) {
      s.note("failed", `${step.what} failed: ${e.problems.join(" | ")}`);
      throw new Refusal(`${e.message}\n${lockAdvice(s, e)}${step.afterFailure}`);
    }
    throw e;
  }
}

export async function convergeStep(s: Session, spec: StepSpec): Promise<StepResult> {
  const before = await s.stack.config();
  const after = applyChange(before, spec.change);
  // The door first: a refusal here has written nothing.
  const incident = passDoor(after, s.now, spec.given ?? {});
  const touched = changedKeys(before, after);
  if (touched.length) {
    await s.stack.setConfig(
      Object.fromEntries(touched.filter((k) => after[k]).map((k) => [k, after[k]])),
    );
    await s.stack.removeConfig(touched.filter((k) => !after[k]));
    s.note(
      "config",
      `config set: ${touched.map((k) => `${k}=${after[k]?.value ?? "(removed)"}`).join(", ")}`,
      {
        set: Object.fromEntries(touched.filter((k) => after[k]).map((k) => [k, after[k].value])),
        removed: touched.filter((k) => !after[k]),
      },
    );
  }
  try {
    const { plan, outcome } = await engineStep(s, {
      what: "update",
      preview: (p) => s.stack.preview(p),
      run: (p) => s.stack.up(spec.message, p),
      heading: spec.heading,
      environment: incident.env.name,
      yes: spec.yes,
      dryRun: spec.dryRun,
      warnings: (plan) => spec.warnings?.(plan, incident) ?? [],
      onConfirmed: spec.onConfirmed,
      afterFailure:
        `The stack may be partly updated. Rerun \`pg-recovery ${s.command} --stack ${s.stack.name}\` ` +
        `to continue from where it stopped, or \`pg-recovery abort --stack ${s.stack.name}\` to revert.`,
      undo: () => restoreConfig(s, before, touched),
    });
    return { incident, plan, outcome };
  } catch (e) {
    if (e instanceof EngineError) throw new Refusal(`${e.message}\nNothing was changed.`);
    throw e;
  }
}

/**
 * Journaled before every update, so a rerun after the runner was killed knows an update of its
 * own was cut short (see repair.ts).
 */
export function updateStarted(s: Session): void {
  s.note("update-started", `pg-recovery ${s.command}: update started`, {
    pid: process.pid,
    host: os.hostname(),
  });
}

/** What to do about a lock the engine reported (an update elsewhere, or a dead one). */
export function lockAdvice(s: Session, e: EngineError): string {
  if (!e.problems.some((p) => /currently locked/.test(p))) return "";
  return (
    `Another update holds the stack's lock. If none is running any more (a runner killed on ` +
    `another machine), clear it with \`pulumi cancel --yes --stack ${s.stack.name}\` in ${s.workDir}. `
  );
}

export function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([op, n]) => n > 0 && isChange(op))
    .map(([op, n]) => `${n} ${op}`);
  return parts.length ? parts.join(", ") : "no changes";
}

export function outputsOf(outcome: UpdateOutcome): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outcome.outputs).map(([k, v]) => [k, v.value]));
}
