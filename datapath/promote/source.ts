/**
 * Rows at T as COPY data from a psql child: libpq does the per-row protocol work, where
 * node-postgres costs this process about a microsecond a row (the server sends one message per
 * row). Used for every table whose rows promote streams in bulk: into a session here
 * (copyFromPtr), or, for `whole`'s big tables, into a second psql on live (pipeFromPtr).
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import type { Client } from "pg";
import { connect, literal, libpqEnv, PgTarget } from "../postgres/connection";
import { RunningTool, startTool } from "../postgres/pgtools";

export interface CopySource {
  stdout: NodeJS.ReadableStream;
  /** Resolves when psql exits 0; rejects with its error otherwise. */
  done: Promise<void>;
  stop(): void;
}

export interface SourceOptions {
  ptr: PgTarget;
  env: NodeJS.ProcessEnv;
  secrets: string[];
  /** Session settings, so text renderings match the receiving session's. */
  settings: Readonly<Record<string, string>>;
  /** An exported snapshot of the PTR to read in; undefined reads the current state. */
  snapshot?: string;
}

const settingCommands = (settings: Readonly<Record<string, string>>) =>
  Object.entries(settings).map(([k, v]) => `SET ${k} = ${literal(v)}`);

const stop = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
};

/** `copySql` (a COPY ... TO STDOUT) on the PTR, in the snapshot, writing to `stdio[1]`. */
function readAtT(o: SourceOptions, copySql: string, stdio: StdioOptions): RunningTool {
  return startTool(
    "psql",
    [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      ...settingCommands(o.settings).flatMap((c) => ["-c", c]),
      "-c",
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
      ...(o.snapshot ? ["-c", `SET TRANSACTION SNAPSHOT ${literal(o.snapshot)}`] : []),
      "-c",
      copySql,
      "-c",
      "COMMIT",
    ],
    { env: libpqEnv(o.ptr, o.env), secrets: o.secrets, stdio },
  );
}

/** Starts `COPY (...) TO STDOUT` (the `copySql`) on the PTR in its own psql session. */
export function copyFromPtr(o: SourceOptions, copySql: string): CopySource {
  const run = readAtT(o, copySql, ["ignore", "pipe", "pipe"]);
  return { stdout: run.child.stdout!, done: run.done, stop: () => stop(run.child) };
}

export interface PipeSink {
  /** The server and database the rows go into. */
  live: PgTarget;
  database: string;
  /** Statements run before the COPY in its transaction (a TRUNCATE, so COPY may FREEZE). */
  before: string[];
  /** The `COPY ... FROM STDIN` that takes the rows. */
  copySql: string;
}

/**
 * The rows of `copySql` at T piped from a psql child on the PTR straight into a psql child on
 * live, which commits them in one transaction: the bytes never pass through this process
 * (relaying them cost it ~2 CPU-seconds per 564 MB, more than both psqls together; `whole` of
 * 1 GB went from 22.5 to 19.9 CPU-seconds).
 *
 * Resolves with the rows live took. Rejects with the error of the side that failed first: the
 * PTR side's says more than the "unexpected EOF" live then reports, and live's more than the
 * broken pipe that then ends the PTR side. Live may have committed a part of the rows when the
 * PTR side failed (a binary COPY ending at a row boundary is not an error), so a caller writes
 * only where a failure throws the whole target away, as `whole`'s fresh database is. Live's
 * psql reports an error only once it has read all its input, so a side session watches for it
 * (watchRefusal) and stops the PTR side. `onStart` receives both children so an interruption can
 * stop them.
 */
export async function pipeFromPtr(
  o: SourceOptions,
  copySql: string,
  sink: PipeSink,
  onStart?: (children: ChildProcess[]) => void,
): Promise<number> {
  // The sink first, with a pipe on its stdin that the source then writes to. The other way
  // round (the source's stdout handed to the sink) races: Node starts reading a child's stdout
  // as soon as it exists, and whatever it read first would be lost to the sink.
  const app = `pg-recovery-pipe-${process.pid}-${++pipes}`;
  const into = writeIntoLive(o, sink, app);
  const pipe = into.child.stdin!;
  const from = readAtT(o, copySql, ["ignore", pipe, "pipe"]);
  // The source holds the write end now; ours would keep live waiting for an EOF that never
  // comes. destroy(), not end(): the pipe is a socket pair, and shutting it down would end it
  // for the source too.
  pipe.destroy();
  onStart?.([into.child, from.child]);
  let out = "";
  into.child.stdout!.setEncoding("utf8");
  into.child.stdout!.on("data", (d: string) => (out += d));
  // Live's psql exiting early fails the source's next write (SIGPIPE); stop it anyway, in case
  // it is waiting on the PTR server rather than writing. Live refusing the COPY does not end its
  // psql: the watch stops the source then, and psql, at the end of its input, reports the error.
  let stopped = false;
  const halt = () => {
    stopped = true;
    stop(from.child);
  };
  into.done.catch(halt);
  const watch = watchRefusal(sink, app, halt);
  const [source, target] = await Promise.allSettled([from.done, into.done]);
  await watch.end();
  const cause = firstFailure(source, target, from.child, stopped);
  if (cause !== undefined) throw cause;
  const rows = /^COPY (\d+)$/m.exec(out);
  if (!rows) {
    throw new Error(`psql on live did not report the rows it copied (it printed: ${out.trim()})`);
  }
  return Number(rows[1]);
}

/** Pipes so far: each live psql's application_name is unique to its pipe. */
let pipes = 0;
/** How often the watch asks whether live refused the COPY. */
const WATCH_MS = 250;

/**
 * Watches live's psql session (`app`, its application_name) while rows pipe into it, and calls
 * `refused` once its transaction is aborted: the server refused the COPY (a row, the disk), but
 * psql goes on reading its input to the end before it says so (measured: 13 s to report a
 * refusal of the first of 300 million lines). `end` stops the watch. The watch only hastens the
 * failure: one that cannot connect or query leaves the pipe to end as it would have.
 */
function watchRefusal(sink: PipeSink, app: string, refused: () => void): { end(): Promise<void> } {
  let watching = true;
  let wake: () => void = () => undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WATCH_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    let c: Client | undefined;
    try {
      c = await connect(sink.live, sink.database);
      while (watching) {
        const r = await c.query<{ aborted: boolean }>(
          `SELECT state = 'idle in transaction (aborted)' AS aborted
             FROM pg_catalog.pg_stat_activity WHERE application_name = $1`,
          [app],
        );
        if (r.rows.some((x) => x.aborted)) return refused();
        if (watching) await pause(); // `end` during the query: no pause left to wake
      }
    } catch {
      // Not being able to watch changes nothing: the pipe still ends and says why.
    } finally {
      await c?.end().catch(() => undefined);
    }
  })();
  return {
    end: async () => {
      watching = false;
      wake();
      await loop;
    },
  };
}

/** psql on live: `before`, then the COPY from its stdin, committed in one transaction. */
function writeIntoLive(o: SourceOptions, sink: PipeSink, app: string): RunningTool {
  const commands = [
    ...settingCommands(o.settings),
    "SET synchronous_commit = off",
    "BEGIN",
    ...sink.before,
    sink.copySql,
    "COMMIT",
  ];
  return startTool("psql", ["-X", "-v", "ON_ERROR_STOP=1", ...commands.flatMap((c) => ["-c", c])], {
    env: { ...libpqEnv(sink.live, o.env, sink.database), PGAPPNAME: app },
    secrets: o.secrets,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * The error whose failure caused the other side's, if any: the source's, unless it died of
 * live's (a broken pipe, or stopped here); then live's, whose "unexpected EOF" or "file
 * signature not recognized" otherwise only echoes the source's end.
 */
function firstFailure(
  source: PromiseSettledResult<void>,
  target: PromiseSettledResult<void>,
  sourceChild: ChildProcess,
  stopped: boolean,
): unknown {
  const ended = sourceChild.signalCode;
  const echo =
    ended === "SIGPIPE" ||
    (ended === "SIGTERM" && stopped) ||
    (source.status === "rejected" && /could not write COPY data/.test(String(source.reason)));
  if (source.status === "rejected" && !echo) return source.reason;
  if (target.status === "rejected") return target.reason;
  if (source.status === "rejected") return source.reason;
  return undefined;
}
