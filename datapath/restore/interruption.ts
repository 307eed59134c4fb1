/** Signals during a restore: stop, clean up, then end by the signal. */
import { ChildProcess } from "node:child_process";
import { LogFn } from "../progress";

/**
 * SIGINT/SIGTERM (Ctrl-C, `kill`, a Job deleted or past its deadline) during a restore.
 * Without handlers Node exits on the spot: the partial `<db>_restore_<tag>` copy (a full-size
 * database on the live server) stays behind, and a pg_restore that only the Node process was
 * signalled about keeps loading into it as an orphan. Instead, until the swap starts, a signal
 * fails the restore like any other error: the loading child is stopped, the partial copy
 * dropped, the temp file removed, and then the signal is re-delivered so the process still
 * ends by it. During the swap swapIn() holds signals itself, so the swap completes (never half).
 */
export class Interruption {
  signal?: NodeJS.Signals;
  /** The children to stop on a signal (the loading pg_restore; a promotion's pipes). */
  private readonly children = new Set<ChildProcess>();
  private armed = true;
  private abort?: (e: Error) => void;
  private readonly handler = (sig: NodeJS.Signals) => {
    if (this.signal) return;
    this.signal = sig;
    if (!this.armed) return;
    this.log(`restore: ${sig} received; stopping and dropping the partial copy`);
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    }
    this.abort?.(this.error());
  };

  constructor(private readonly log: LogFn) {
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  private error(): Error {
    return new Error(`restore interrupted by ${this.signal}; the target was not changed`);
  }

  /** Stops `children` when a signal arrives before they exit (they drop out as they close). */
  track(children: ChildProcess[]): void {
    for (const c of children) {
      this.children.add(c);
      c.once("close", () => this.children.delete(c));
    }
  }

  /** Throws when a signal arrived while no step was being raced. */
  check(): void {
    if (this.signal && this.armed) throw this.error();
  }

  /** Settles with `work`, or rejects as soon as a signal arrives. */
  async race<T>(work: Promise<T>): Promise<T> {
    this.check();
    work.catch(() => undefined); // may settle after we stopped waiting
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          this.abort = reject;
        }),
      ]);
    } finally {
      this.abort = undefined;
    }
  }

  disarm(): void {
    this.armed = false;
  }

  release(): void {
    process.off("SIGINT", this.handler);
    process.off("SIGTERM", this.handler);
    if (this.signal) process.kill(process.pid, this.signal);
  }
}
