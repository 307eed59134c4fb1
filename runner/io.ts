/**
 * The runner's terminal: results on stdout, progress on stderr, and the one question it asks
 * (type the environment's name). A test hands in its own.
 */
import * as readline from "node:readline";
import { EXIT } from "../contract/data-tool";

export interface Io {
  /** Results: summaries, reports, what to do next. */
  out(text: string): void;
  /** Progress and problems. */
  err(text: string): void;
  /** True when a person can answer (stdin is a terminal). */
  interactive: boolean;
  /** Asks one line; only called when `interactive`. */
  ask(question: string): Promise<string>;
  now(): Date;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    interactive: !!process.stdin.isTTY,
    ask: (question) =>
      new Promise((resolve) => {
        const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
        rl.question(question, (answer) => {
          rl.close();
          resolve(answer);
        });
      }),
    now: () => new Date(),
  };
}

/** A command that stops early on purpose (a dry run): exit 0, its message on stdout. */
export class Done extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Done";
  }
}

/** A refusal: nothing (more) was changed, and the message says what to do instead. */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.failed,
  ) {
    super(message);
    this.name = "Refusal";
  }
}

/**
 * The engine cannot be used here (no Pulumi CLI, not logged in, the backend unreachable): an
 * expected condition, said in one line with the commands that fix it, never a stack trace.
 */
export class EngineUnavailable extends Refusal {
  constructor(message: string) {
    super(message, EXIT.failed);
    this.name = "EngineUnavailable";
  }
}
