/**
 * What every runner command works with, as types only: its dependencies (the engine, the
 * cluster, the journal, the terminal) and the session on one stack built from them. In a module
 * of their own so that session.ts and repair.ts (which session.ts calls) both read them without
 * importing each other.
 */
import type { Engine, StackHandle } from "./engine";
import type { Io } from "./io";
import type { Cluster, WaitOptions } from "./jobs";
import type { Journal, JournalEvent } from "./journal";
import type { Who } from "./who";

export interface EngineOptions {
  /** `--pulumi <path>`: the CLI the operator named (else resolved, see pulumi-cli.ts). */
  pulumi?: string;
}

export interface Deps {
  io: Io;
  engine(workDir: string, opts?: EngineOptions): Promise<Engine>;
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
