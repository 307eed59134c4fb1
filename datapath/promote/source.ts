/**
 * Rows at T as a COPY stream from a psql child: libpq does the per-row protocol work, where
 * node-postgres costs this process about a microsecond a row (the server sends one message per
 * row). Used for every table whose rows promote streams in bulk.
 */
import { literal, libpqEnv, PgTarget } from "../postgres/connection";
import { startTool } from "../postgres/pgtools";

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

/** Starts `COPY (...) TO STDOUT` (the `copySql`) on the PTR in its own psql session. */
export function copyFromPtr(o: SourceOptions, copySql: string): CopySource {
  const run = startTool(
    "psql",
    [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      ...Object.entries(o.settings).flatMap(([k, v]) => ["-c", `SET ${k} = ${literal(v)}`]),
      "-c",
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
      ...(o.snapshot ? ["-c", `SET TRANSACTION SNAPSHOT ${literal(o.snapshot)}`] : []),
      "-c",
      copySql,
      "-c",
      "COMMIT",
    ],
    { env: libpqEnv(o.ptr, o.env), secrets: o.secrets, stdio: ["ignore", "pipe", "pipe"] },
  );
  return {
    stdout: run.child.stdout!,
    done: run.done,
    stop: () => {
      if (run.child.exitCode === null) run.child.kill("SIGTERM");
    },
  };
}
