/**
 * Throwaway PostgreSQL servers on 127.0.0.1 for the drill, the benchmark and the tests: initdb,
 * start/stop over a data directory in a temp dir.
 *
 * The server refuses to run as root, so when we are root every server-side command runs as the
 * `postgres` OS user (runuser) over directories that user owns.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Client } from "pg";

const execFileAsync = promisify(execFile);

/**
 * Server and client binaries: $PG_TEST_BIN (e.g. PostgreSQL 17 from tools/postgres-17.sh), else
 * $PG_BIN, else the newest /usr/lib/postgresql/<major>/bin with initdb.
 */
export const PG_BIN = process.env.PG_TEST_BIN ?? process.env.PG_BIN ?? newestPgBin();

/** The major version of those binaries, e.g. 15. */
export const PG_MAJOR = Number(
  /\(PostgreSQL\) (\d+)/.exec(
    execFileSync(path.join(PG_BIN, "postgres"), ["--version"], { encoding: "utf8" }),
  )?.[1],
);

/** True when the binaries ship the extension (contrib), e.g. "btree_gist". */
export function hasExtension(name: string): boolean {
  const share = execFileSync(path.join(PG_BIN, "pg_config"), ["--sharedir"], {
    encoding: "utf8",
  }).trim();
  return fs.existsSync(path.join(share, "extension", `${name}.control`));
}

function newestPgBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return path.join(root, majors[0] ?? "15", "bin");
}
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a PostgreSQL binary (or any command) as the server user. */
export async function asServerUser(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const [exe, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const { stdout } = await execFileAsync(exe, argv, { env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export const bin = (name: string) => path.join(PG_BIN, name);

/** Creates a directory owned by the server user (mode 0700). */
export function serverDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    fs.chownSync(dir, uid, gid);
  }
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  name: string;
  dataDir: string;
  port: number;
  logFile: string;
  url(db?: string): string;
  stop(): Promise<void>;
}

const confLines = (settings: Record<string, string>) =>
  Object.entries(settings)
    .map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`)
    .join("\n");

/** Appends settings to postgresql.conf (later lines win over the base backup's copy). */
export function appendConf(dataDir: string, settings: Record<string, string>): void {
  fs.appendFileSync(
    path.join(dataDir, "postgresql.conf"),
    `\n# pg-recovery drill\n${confLines(settings)}\n`,
  );
}

export interface Cluster {
  base: string;
  password: string;
  /** initdb with scram auth and this cluster's random password for the `postgres` role. */
  initdb(dataDir: string, extraArgs?: string[]): Promise<void>;
  /** Starts a server over an existing data dir on a free loopback port. */
  start(name: string, dataDir: string, settings: Record<string, string>): Promise<Server>;
  /**
   * initdb and start a primary that archives every WAL segment (1 MB, at least once a second)
   * into `archiveDir`: a base backup of it replays to any later instant, as Azure's PITR does.
   */
  startArchiving(
    name: string,
    dataDir: string,
    archiveDir: string,
    settings?: Record<string, string>,
  ): Promise<Server>;
  /** A physical copy of a running server (pg_basebackup, WAL streamed, fast checkpoint). */
  basebackup(from: Server, dataDir: string): Promise<void>;
  env(): NodeJS.ProcessEnv;
}

export function cluster(base: string): Cluster {
  const password = randomBytes(12).toString("hex");
  const env = () => ({ ...process.env, PGPASSWORD: password });
  const c: Cluster = {
    base,
    password,
    env,
    async initdb(dataDir, extraArgs = []) {
      const pw = path.join(base, "pwfile");
      fs.writeFileSync(pw, password, { mode: 0o600 });
      if (isRoot) fs.chownSync(pw, fs.statSync(base).uid, fs.statSync(base).gid);
      await asServerUser(bin("initdb"), [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth=scram-sha-256",
        `--pwfile=${pw}`,
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
        ...extraArgs,
      ]);
      fs.rmSync(pw);
    },
    async start(name, dataDir, settings) {
      const port = await freePort();
      appendConf(dataDir, {
        listen_addresses: "127.0.0.1",
        port: String(port),
        unix_socket_directories: base,
        ...settings,
      });
      const logFile = path.join(base, `${name}.log`);
      // -w waits until connections are accepted: for a server in recovery (hot standby) that is
      // as soon as it is consistent, before any promotion.
      await asServerUser(bin("pg_ctl"), ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"]);
      let stopped = false;
      return {
        name,
        dataDir,
        port,
        logFile,
        url: (db = "postgres") => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`,
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await asServerUser(bin("pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"])
            .catch(() =>
              asServerUser(bin("pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]),
            )
            .catch(() => undefined);
        },
      };
    },
    async startArchiving(name, dataDir, archiveDir, settings = {}) {
      await c.initdb(dataDir, ["--wal-segsize=1"]); // 1 MB segments: cheap archiving
      return c.start(name, dataDir, {
        wal_level: "replica",
        archive_mode: "on",
        archive_command: `test ! -f '${archiveDir}/%f' && cp '%p' '${archiveDir}/%f'`,
        archive_timeout: "1s",
        fsync: "off",
        ...settings,
      });
    },
    async basebackup(from, dataDir) {
      // From the server over TCP as the superuser; the copy carries the WAL it needs to start.
      const source = ["--host=127.0.0.1", `--port=${from.port}`, "--username=postgres"];
      const copy = [`--pgdata=${dataDir}`, "--wal-method=stream", "--checkpoint=fast", "--no-sync"];
      await asServerUser(bin("pg_basebackup"), [...source, ...copy], env());
    },
  };
  return c;
}

/**
 * Closes the WAL segment in use on an archiving server (`startArchiving`) and waits until the
 * archiver has copied it, as a restore replays only the archive; returns its name. A record is
 * written first: with nothing written since the last switch (archive_timeout may just have made
 * one) pg_switch_wal does nothing and names the segment still open, which is archived only
 * after the next write, and waiting for it timed out about one run in three.
 */
export async function archiveThroughNow(c: Client, timeoutMs = 30_000): Promise<string> {
  await c.query("SELECT pg_catalog.pg_logical_emit_message(false, 'pg-recovery', 'archive')");
  const seg = (
    await c.query<{ f: string }>(
      "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal()) AS f",
    )
  ).rows[0].f;
  for (const until = Date.now() + timeoutMs; ;) {
    const r = await c.query<{ w: string | null }>(
      "SELECT last_archived_wal AS w FROM pg_catalog.pg_stat_archiver",
    );
    if (r.rows[0].w !== null && r.rows[0].w >= seg) return seg;
    if (Date.now() > until) {
      throw new Error(`WAL segment ${seg} was not archived within ${timeoutMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
