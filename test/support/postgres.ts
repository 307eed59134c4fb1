/**
 * Real PostgreSQL servers for tests, started on 127.0.0.1 in a temp directory.
 *
 * The server refuses to run as root and CI runs as root, so when we are root every server
 * command runs as the `postgres` OS user (`runuser`) over a data directory that user owns.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client, QueryResult } from "pg";

const execFileAsync = promisify(execFile);

/** Server binaries: $PG_BIN, else the newest /usr/lib/postgresql/<major>/bin with initdb. */
export const PG_BIN = process.env.PG_BIN ?? newestPgBin();

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

export interface PgServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly dataDir: string;
  readonly password: string;
  /** Connection URL for a database on this server (superuser `postgres`). */
  url(db?: string): string;
  /** Runs one statement on a fresh connection and closes it. */
  query(db: string, sql: string, params?: unknown[]): Promise<QueryResult>;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra `postgresql.conf` settings, e.g. `{ wal_level: "replica" }`. */
  settings?: Record<string, string>;
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a PostgreSQL server binary, as the `postgres` user when we are root. */
export async function runAsServerUser(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const exe = path.join(PG_BIN, bin);
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", exe, ...args]] : [exe, args];
  const { stdout } = await execFileAsync(cmd, argv, { env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Makes a directory the server user can own (its parents must be traversable). */
export function makeServerDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o700);
  if (isRoot) chownToPostgres(dir);
  return dir;
}

function chownToPostgres(dir: string): void {
  const uid = Number(execFileSyncText("id", ["-u", "postgres"]));
  const gid = Number(execFileSyncText("id", ["-g", "postgres"]));
  fs.chownSync(dir, uid, gid);
}

function execFileSyncText(cmd: string, args: string[]): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("node:child_process") as typeof import("node:child_process"))
    .execFileSync(cmd, args, { encoding: "utf8" })
    .trim();
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  const base = makeServerDir("pgr-pg-");
  const dataDir = path.join(base, "data");
  const password = randomBytes(12).toString("hex");
  const pwFile = path.join(base, "pw");
  fs.writeFileSync(pwFile, password, { mode: 0o600 });
  if (isRoot) fs.chownSync(pwFile, fs.statSync(base).uid, fs.statSync(base).gid);

  await runAsServerUser("initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${pwFile}`,
    "--encoding=UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  ]);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: base,
    fsync: "off",
    full_page_writes: "off",
    synchronous_commit: "off",
    max_connections: "50",
    ...opts.settings,
  };
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`)
    .join("\n");
  fs.appendFileSync(path.join(dataDir, "postgresql.conf"), `\n${conf}\n`);
  await runAsServerUser("pg_ctl", ["-D", dataDir, "-l", path.join(base, "log"), "-w", "start"]);

  const url = (db = "postgres") =>
    `postgres://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  const query = async (db: string, sql: string, params?: unknown[]) => {
    const client = new Client({ connectionString: url(db) });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  const server: PgServer = {
    host: "127.0.0.1",
    port,
    dataDir,
    password,
    url,
    query,
    createDatabase: async (name) => {
      await query("postgres", `CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await runAsServerUser("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(
        () => undefined,
      );
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
  return server;
}
