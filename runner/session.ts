/**
 * What every runner command works with: the engine and the chosen stack, the journal, the
 * operator's terminal, who is running it, and the cluster for the Jobs. Built once per command.
 */
import { Engine, HistoryEntry, StackHandle } from "./engine";
import { Io, Refusal } from "./io";
import { Cluster, WaitOptions } from "./jobs";
import { Journal, JournalEvent } from "./journal";
import { Who } from "./who";
import { scenarioOf } from "./door";

export interface Deps {
  io: Io;
  engine(workDir: string): Promise<Engine>;
  cluster(context?: string): Cluster;
  journal(stack: string): Journal;
  who(workDir: string): Who;
  /** Job waiting knobs; tests shorten them. */
  jobWait?: Partial<WaitOptions> & { missingAfterUpMs?: number };
}

export interface Session {
  deps: Deps;
  io: Io;
  engine: Engine;
  stack: StackHandle;
  journal: Journal;
  who: Who;
  command: string;
  workDir: string;
  now: Date;
  /** Appends to the journal, stamped with the command and who ran it. */
  note(kind: string, text: string, data?: Record<string, unknown>): JournalEvent;
}

export async function openSession(
  deps: Deps,
  command: string,
  stackName: string,
  workDir: string,
  opts: { create: boolean },
): Promise<Session> {
  const engine = await deps.engine(workDir);
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
  const journal = deps.journal(stackName);
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
