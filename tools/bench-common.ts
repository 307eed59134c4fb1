/**
 * What the benchmarks share: wall time and the whole machine's busy CPU time, and running
 * client tools and statements against their servers.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { bin, type Server } from "../test/support/pg-server";

export interface Mark {
  wall: number;
  busy: number;
}

/** Wall clock and the machine's busy CPU time (all cores, /proc/stat), in seconds. */
export function mark(): Mark {
  const f = fs
    .readFileSync("/proc/stat", "utf8")
    .split("\n")[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
  return { wall: Date.now() / 1000, busy: busy / 100 };
}

/**
 * Server settings every benchmark server runs with: a checkpoint storm would time the disk, not
 * the tools. Each suite adds its own max_connections.
 */
export const BENCH_SERVER_SETTINGS = {
  shared_buffers: "256MB",
  max_wal_size: "8GB",
  checkpoint_timeout: "30min",
};

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function pgEnv(server: Server, password: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: "127.0.0.1",
    PGPORT: String(server.port),
    PGUSER: "postgres",
    PGPASSWORD: password,
  };
}

export async function query(url: string, sql: string) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A command the bench runs failed (its message says which, and its output): the bench reports it
 * as one message, not as a stack trace of the bench's own code.
 */
export class CommandFailed extends Error {}

export function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new CommandFailed(`${what} exited with ${code}`)),
    );
  });
}

export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await exited(
    spawn(cmd, args, { env, stdio: ["ignore", "ignore", "inherit"] }),
    path.basename(cmd),
  );
}

/** The runbook's dump of `db` into `file`: plain SQL, gzip level 1, no owners. */
export async function runbookDump(db: string, file: string, env: NodeJS.ProcessEnv): Promise<void> {
  await run(
    bin("pg_dump"),
    ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", "-f", file, "-d", db],
    env,
  );
}

/** The runbook's restore of a downloaded dump into `db`: gunzip | psql, stopping at an error. */
export async function runbookRestore(
  file: string,
  db: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const gzip = spawn("gzip", ["-dc", file], { stdio: ["ignore", "pipe", "inherit"] });
  const psql = spawn(bin("psql"), ["-q", "-v", "ON_ERROR_STOP=1", "-d", db], {
    env,
    stdio: [gzip.stdout, "ignore", "inherit"],
  });
  await Promise.all([exited(gzip, "gzip"), exited(psql, "psql")]);
}

/**
 * CPU-seconds used so far by this process, its descendants (client tools, Azurite) and the
 * PostgreSQL servers over `dataDirs` (each postmaster and its backends), exited ones included
 * (a parent that reaped them counts them). Unlike `mark().busy`, other work on a shared
 * machine does not count.
 */
export function ownCpu(dataDirs: string[]): number {
  const stat = new Map<number, { ppid: number; own: number; reaped: number }>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after the ")" closing the command name: state ppid ... utime(14) stime cutime cstime.
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stat.set(Number(name), {
        ppid: Number(f[1]),
        own: Number(f[11]) + Number(f[12]),
        reaped: Number(f[13]) + Number(f[14]),
      });
    } catch {
      // the process ended while we looked
    }
  }
  const roots = [process.pid];
  for (const d of dataDirs) {
    try {
      roots.push(Number(fs.readFileSync(path.join(d, "postmaster.pid"), "utf8").split("\n")[0]));
    } catch {
      // server not running
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stat) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  const seen = new Set<number>();
  const walk = (pid: number) => {
    if (seen.has(pid) || !stat.has(pid)) return;
    seen.add(pid);
    ticks += stat.get(pid)!.own + stat.get(pid)!.reaped;
    for (const c of children.get(pid) ?? []) walk(c);
  };
  roots.forEach(walk);
  return ticks / 100; // USER_HZ
}

/** The prefix of every benchmark's work directory under the temp directory. */
export const WORK_DIR_PREFIX = "pgr-bench-";

/**
 * Removes work directories that earlier benchmarks left when they were killed (SIGKILL, a
 * session ending: their `finally` never ran), several GB each at 4 GB. A directory with a
 * running server in it (a postmaster.pid naming a live process) is another run's: kept.
 */
export function sweepStaleWorkDirs(tmp: string, log: (s: string) => void): void {
  for (const name of fs.readdirSync(tmp)) {
    if (!name.startsWith(WORK_DIR_PREFIX)) continue;
    const dir = path.join(tmp, name);
    if (serverRunningIn(dir)) continue;
    log(`bench: removing ${dir}, left by an earlier run that did not finish`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function serverRunningIn(dir: string): boolean {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return false;
  }
  return ["", ...entries].some((sub) => {
    try {
      const pid = Number(
        fs.readFileSync(path.join(dir, sub, "postmaster.pid"), "utf8").split("\n")[0],
      );
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}
