/**
 * Real PostgreSQL servers for tests, on 127.0.0.1 in a temp directory: one fresh cluster per
 * call, built with the same helpers as the drill and the benchmark (pg-server.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, QueryResult } from "pg";
import { cluster, serverDir } from "./pg-server";

export { freePort, hasExtension, PG_BIN, PG_MAJOR } from "./pg-server";

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

/** Test-speed settings: durability is not what these servers are for. */
const FAST = {
  fsync: "off",
  full_page_writes: "off",
  synchronous_commit: "off",
  max_connections: "50",
};

export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pgr-pg-")));
  const dataDir = path.join(base, "data");
  const c = cluster(base);
  await c.initdb(dataDir);
  let server;
  try {
    server = await c.start("server", dataDir, { ...FAST, ...opts.settings });
  } catch (e) {
    fs.rmSync(base, { recursive: true, force: true });
    throw e;
  }
  const query = async (db: string, sql: string, params?: unknown[]) => {
    const client = new Client({ connectionString: server.url(db) });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  return {
    host: "127.0.0.1",
    port: server.port,
    dataDir,
    password: c.password,
    url: (db = "postgres") => server.url(encodeURIComponent(db)),
    query,
    createDatabase: async (name) => {
      await query("postgres", `CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    },
    stop: async () => {
      await server.stop();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The URL of `db` as `pgr_reader`: a login role that neither owns its tables nor bypasses
 * row-level security, with every table and sequence of the public schema granted (the role is
 * created once per server).
 */
export async function asReader(s: PgServer, db: string): Promise<string> {
  await s.query(
    db,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgr_reader') THEN
         CREATE ROLE pgr_reader LOGIN PASSWORD 'reader-pw';
       END IF;
     END $$;
     GRANT USAGE ON SCHEMA public TO pgr_reader;
     GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pgr_reader;
     GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO pgr_reader;`,
  );
  const u = new URL(s.url(db));
  u.username = "pgr_reader";
  u.password = "reader-pw";
  return u.toString();
}
