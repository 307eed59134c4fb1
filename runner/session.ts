/**
 * What every runner command works with: the engine and the chosen stack, the journal, the
 * operator's terminal, who is running it, and the cluster for the Jobs. Built once per command.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadStackConfig } from "../offline/stack-config";
import type { Deps, Session } from "./context";
import { INCIDENT_KEYS, key, scenarioOf } from "./door";
import { ConfigMap, Engine, HistoryEntry, StackHandle } from "./engine";
import { Refusal } from "./io";
import { latestIncident } from "./journal";
import { clearTornState } from "./repair";

export type { Deps, Session } from "./context";

export async function openSession(
  deps: Deps,
  command: string,
  stackName: string,
  workDir: string,
  opts: { create: boolean; changing: boolean; pulumi?: string },
): Promise<Session> {
  const engine = await deps.engine(workDir, { pulumi: opts.pulumi });
  // First: with a torn state file nothing below could even list the stacks.
  clearTornState(deps, engine, { command, stack: stackName, workDir, changing: opts.changing });
  const files = engine.stackFiles();
  // Only a stack with a stack file (its environment facts) may be created.
  const stack = await engine.open(stackName, { create: opts.create && files.includes(stackName) });
  if (!stack) {
    const known = await engine.stacks().catch(() => [] as string[]);
    throw new Refusal(
      `unknown stack "${stackName}": ${engine.describe()} has ${known.length ? known.join(", ") : "no stacks"} ` +
        `for this project, and ${workDir} has stack files for ${files.length ? files.join(", ") : "none"}. ` +
        (opts.create
          ? `Check --stack; start creates a stack only for an environment with a Pulumi.<stack>.yaml. Nothing was changed.`
          : `Check --stack (pg-recovery start creates the stack). Nothing was changed.`),
    );
  }
  return sessionOf(deps, command, workDir, engine, stack, deps.journal(stackName));
}

/** A session on `stack`: every note it takes goes to the journal, stamped and signed. */
function sessionOf(
  deps: Deps,
  command: string,
  workDir: string,
  engine: Engine,
  stack: StackHandle,
  journal: Session["journal"],
): Session {
  const who = deps.who(workDir);
  const io = deps.io;
  return {
    deps,
    io,
    engine,
    stack,
    journal,
    who,
    command,
    workDir,
    now: io.now(),
    note: (kind, text, data) =>
      journal.append({ at: io.now().toISOString(), command, kind, text, data, who }),
  };
}

/** What a checkout without the incident's config takes over from the stack's last update. */
const ADOPTABLE = [...INCIDENT_KEYS, "requiredReviews", "ptrServerName", "retainRestoredServer"];

/**
 * The incident's config as the stack's last successful update applied it, for keys this
 * checkout's stack file lacks, when the file names no scenario at all (a fresh checkout: another
 * machine, a GitHub Actions run) but the stack is mid-incident. An explicit `scenario` (even
 * `none`) is the operator's and is left alone.
 */
export function adoptable(config: ConfigMap, history: HistoryEntry[]): ConfigMap {
  if (config[key("scenario")] !== undefined) return {};
  const last = lastApplied(history);
  if (!last || last.kind !== "update" || scenarioOf(last.config) === "none") return {};
  const out: ConfigMap = {};
  for (const k of ADOPTABLE.map(key)) {
    const v = last.config[k];
    if (v && !v.secret && config[k] === undefined) out[k] = { value: v.value, secret: false };
  }
  return out;
}

/** Writes `adoptable` into the stack file, and says so (changing commands only). */
export async function adoptAppliedIncident(s: Session): Promise<void> {
  const history = await s.stack.history();
  const values = adoptable(await s.stack.config(), history);
  if (Object.keys(values).length === 0) return;
  const last = lastApplied(history)!;
  const list = Object.entries(values).map(([k, v]) => `${k}=${v.value}`);
  s.io.err(
    `This checkout's Pulumi.${s.stack.name}.yaml has no incident config, but the stack's last update ` +
      `(${last.endTime ?? last.startTime}: "${last.message}") applied one; continuing with its values: ${list.join(", ")}`,
  );
  await s.stack.setConfig(values);
  s.note("config", `config taken over from the stack's last update: ${list.join(", ")}`, {
    set: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.value])),
  });
}

/** The newest update or destroy that succeeded: what the stack's resources reflect. */
export function lastApplied(history: HistoryEntry[]): HistoryEntry | undefined {
  return history.find(
    (h) => (h.kind === "update" || h.kind === "destroy") && h.result === "succeeded",
  );
}

/** The scenario the stack's resources were last converged to. */
export function appliedScenario(history: HistoryEntry[]): string {
  const last = lastApplied(history);
  if (!last || last.kind === "destroy") return "none";
  return scenarioOf(last.config);
}

/**
 * A session without an engine, for `record` when the engine cannot be used: the stack's config
 * from its stack file, no resources and no history (those are the backend's); the journal on
 * this machine says the rest.
 */
export function journalOnlySession(
  deps: Deps,
  command: string,
  stackName: string,
  workDir: string,
): Session {
  const file = path.join(workDir, `Pulumi.${stackName}.yaml`);
  const journal = deps.journal(stackName);
  const config: ConfigMap = fs.existsSync(file)
    ? Object.fromEntries(
        Object.entries(loadStackConfig(stackName, {}, workDir)).map(([k, value]) => [
          k,
          { value, secret: false },
        ]),
      )
    : {};
  // The incident's config as this machine's runner set it, replayed from the journal.
  for (const e of latestIncident(journal.read()).filter((e) => e.kind === "config")) {
    const data = (e.data ?? {}) as { set?: Record<string, string>; removed?: string[] };
    for (const k of data.removed ?? []) delete config[k];
    for (const [k, value] of Object.entries(data.set ?? {})) config[k] = { value, secret: false };
  }
  const unavailable = async (): Promise<never> => {
    throw new Refusal(`the engine is not available: this record is from the journal only.`);
  };
  const stack: StackHandle = {
    name: stackName,
    config: async () => config,
    setConfig: unavailable,
    removeConfig: unavailable,
    preview: unavailable,
    up: unavailable,
    previewDestroy: unavailable,
    destroy: unavailable,
    outputs: async () => ({}),
    resources: async () => [],
    history: async () => [],
    pendingOperations: async () => [],
    repairPending: unavailable,
    cancel: unavailable,
  };
  const engine: Engine = {
    describe: () => "no engine (journal only)",
    stateDirectory: () => undefined,
    stacks: async () => [stackName],
    stackFiles: () => [stackName],
    open: async () => stack,
  };
  return sessionOf(deps, command, workDir, engine, stack, journal);
}
