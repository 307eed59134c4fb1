/**
 * Spawning pg_dump / pg_restore / psql. Binaries come from $PG_BIN when set (so the image and
 * tests can pin a major version), else from PATH. Connection details travel in libpq
 * environment variables built by connection.ts, never in argv.
 */
import { ChildProcess, execFile, spawn, SpawnOptions } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { DATA_TOOL_ENV } from "../../contract/data-tool";

const execFileAsync = promisify(execFile);

export type PgTool = "pg_dump" | "pg_restore" | "psql" | "zstd";

/** PostgreSQL tools from $PG_BIN (else PATH); zstd from $ZSTD_BIN (else PATH). */
export function pgToolPath(tool: PgTool, env: NodeJS.ProcessEnv = process.env): string {
  if (tool === "zstd") return env.ZSTD_BIN ?? "zstd";
  const dir = env[DATA_TOOL_ENV.pgBin];
  return dir ? path.join(dir, tool) : tool;
}

export class PgToolError extends Error {
  constructor(
    message: string,
    readonly tool: PgTool,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface ToolVersion {
  text: string;
  major: number;
  /** e.g. 150018 for 15.18, comparable with the server's server_version_num. */
  num: number;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian ...)` or a server version string. */
export function parseVersion(text: string): ToolVersion {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.replace(/^[^0-9]*/, ""));
  if (!m) throw new Error(`cannot parse a PostgreSQL version from "${text}"`);
  const major = Number(m[1]);
  // From 10 on versions are MAJOR.MINOR; before that MAJOR.MAJOR2.MINOR.
  const num =
    major >= 10
      ? major * 10000 + Number(m[2] ?? 0)
      : major * 10000 + Number(m[2] ?? 0) * 100 + Number(m[3] ?? 0);
  return { text: text.trim(), major, num };
}

/** True when the tool can be run (used to pick optional helpers such as zstd). */
export async function toolAvailable(
  tool: PgTool,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  try {
    await execFileAsync(pgToolPath(tool, env), ["--version"], { env });
    return true;
  } catch {
    return false;
  }
}

export async function toolVersion(
  tool: PgTool,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ToolVersion> {
  const exe = pgToolPath(tool, env);
  try {
    const { stdout } = await execFileAsync(exe, ["--version"], { env });
    return parseVersion(stdout);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") {
      throw new Error(
        `${tool} not found (${exe}): install the PostgreSQL client tools or set PG_BIN to their directory, e.g. PG_BIN=/usr/lib/postgresql/17/bin`,
      );
    }
    throw e;
  }
}

/** A running tool with its stderr kept (tail only) for error messages. */
export interface RunningTool {
  child: ChildProcess;
  /** Resolves on exit 0; rejects with PgToolError (stderr tail included) otherwise. */
  done: Promise<void>;
  stderrTail(): string;
}

const STDERR_TAIL = 16 * 1024;

export function startTool(
  tool: PgTool,
  args: string[],
  opts: {
    env: NodeJS.ProcessEnv;
    stdio?: SpawnOptions["stdio"];
    /** Called with each complete stderr line (e.g. for progress from --verbose output). */
    onStderrLine?: (line: string) => void;
    /** Strings that must never be printed (passwords); replaced in captured stderr. */
    secrets?: string[];
  },
): RunningTool {
  const exe = pgToolPath(tool, opts.env);
  const child = spawn(exe, args, {
    env: opts.env,
    stdio: opts.stdio ?? ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  let partial = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL);
    if (!opts.onStderrLine) return;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) opts.onStderrLine(line);
  });
  const scrub = (s: string) =>
    (opts.secrets ?? []).filter(Boolean).reduce((acc, sec) => acc.split(sec).join("***"), s);
  const done = new Promise<void>((resolve, reject) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      reject(
        e.code === "ENOENT"
          ? new PgToolError(
              `${tool} not found (${exe}): install the PostgreSQL client tools or set PG_BIN`,
              tool,
              null,
              "",
            )
          : e,
      );
    });
    child.once("close", (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const detail = scrub(lastErrorLines(tail));
      reject(
        new PgToolError(`${tool} ${why}${detail ? `:\n${detail}` : ""}`, tool, code, scrub(tail)),
      );
    });
  });
  // Callers attach handlers later; keep an early failure from being reported as unhandled.
  done.catch(() => undefined);
  return { child, done, stderrTail: () => scrub(tail) };
}

/** The informative part of a tool's stderr: error lines, else the last few lines. */
function lastErrorLines(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => /error|fatal|could not|invalid|unexpected/i.test(l));
  return (errors.length ? errors.slice(-8) : lines.slice(-8)).join("\n");
}

/** Runs a tool to completion, collecting stdout (for small outputs such as `pg_restore -l`). */
export async function runTool(
  tool: PgTool,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; secrets?: string[] },
): Promise<string> {
  const t = startTool(tool, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  t.child.stdout?.setEncoding("utf8");
  t.child.stdout?.on("data", (d: string) => (out += d));
  await t.done;
  return out;
}
