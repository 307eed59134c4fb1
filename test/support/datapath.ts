/**
 * Shared setup of the data tool's tests: a real PostgreSQL server and Azurite per suite, a fresh
 * blob container per test (so "latest" is never shared), the CLI run as a real process, and
 * fingerprints that compare databases independently of `verify`.
 */
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { openStorage, StorageOptions } from "../../datapath/storage/blobs";
import { BackupEntry, catalog } from "../../datapath/storage/catalog";
import { VerifyReport } from "../../datapath/verify/verify";
import { Azurite, startAzurite } from "./azurite";
import { PG_BIN, PgServer, startPostgres } from "./postgres";

export const execFileAsync = promisify(execFile);
export const quiet = (): void => undefined;
export const ROOT = path.join(__dirname, "..", "..");

/** What `list` shows: every backup in the tool's container, newest first. */
export function listBackups(opts: { env?: NodeJS.ProcessEnv } = {}): Promise<BackupEntry[]> {
  return catalog(openStorage({}, opts.env ?? process.env));
}

/** Storage retries short enough that an outage fails a test in seconds. */
export const fastRetry = (tryTimeoutInMs = 10_000): StorageOptions => ({
  retry: { maxTries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 200, tryTimeoutInMs },
});

export interface DataPathFixture {
  readonly pg: PgServer;
  readonly az: Azurite;
  /** The tool's environment with a container of its own, and a client for that container. */
  setup(connectionString?: string): {
    env: NodeJS.ProcessEnv;
    container: string;
    client: ContainerClient;
  };
}

/**
 * Starts PostgreSQL and Azurite before the suite (then runs `init`, e.g. loading a schema) and
 * stops both after it. Call inside `describe`.
 */
export function useDataPath(
  prefix: string,
  init?: (pg: PgServer) => Promise<void>,
): DataPathFixture {
  let pg: PgServer | undefined;
  let az: Azurite | undefined;
  let seq = 0;
  before(async () => {
    [pg, az] = await Promise.all([startPostgres(), startAzurite()]);
    await init?.(pg);
  });
  after(async () => {
    await Promise.all([pg?.stop(), az?.stop()]);
  });
  const fixture: DataPathFixture = {
    get pg() {
      if (!pg) throw new Error("PostgreSQL is not running (used outside the suite?)");
      return pg;
    },
    get az() {
      if (!az) throw new Error("Azurite is not running (used outside the suite?)");
      return az;
    },
    setup(connectionString = fixture.az.connectionString) {
      const container = `${prefix}${++seq}-${Date.now().toString(36)}`;
      const env = {
        ...process.env,
        PG_BIN,
        AZURE_STORAGE_CONNECTION_STRING: connectionString,
        BACKUP_CONTAINER: container,
      };
      const client =
        BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
      return { env, container, client };
    },
  };
  return fixture;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let built: Promise<string> | undefined;

/**
 * The data tool compiled as the image builds it (tools/build.js: one esbuild bundle), once per
 * test run, into a temp directory removed at exit: a process then starts in a fraction of a
 * second instead of the seconds ts-node needs to compile it again.
 */
export function builtCli(): Promise<string> {
  built ??= (async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-cli-"));
    process.once("exit", () => fs.rmSync(out, { recursive: true, force: true }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS build script
    const { build } = require("../../tools/build.js") as {
      build(name: string, outDir: string): Promise<string>;
    };
    const cli = await build("pg-recovery-data", out);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"));
    fs.copyFileSync(path.join(ROOT, "package.json"), path.join(out, "package.json"));
    return cli;
  })();
  return built;
}

/** The CLI as an operator runs it: a separate process, its exit code and both streams. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return execFileAsync(process.execPath, [await builtCli(), ...args], {
    cwd: ROOT,
    env,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
}

/** Per-table row count and content hash, plus sequences, indexes and constraints. */
export async function fingerprint(pg: PgServer, db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pg.query(
    db,
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_toast' ORDER BY 1`,
  );
  for (const { t } of tables.rows) {
    const r = await pg.query(
      db,
      `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ONLY ${t} x`,
    );
    out[`table ${t}`] = `${r.rows[0].n} ${r.rows[0].h}`;
  }
  const seqs = await pg.query(
    db,
    "SELECT schemaname || '.' || sequencename AS s, last_value FROM pg_sequences ORDER BY 1",
  );
  for (const s of seqs.rows) out[`sequence ${s.s}`] = String(s.last_value);
  const idx = await pg.query(
    db,
    "SELECT indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1",
  );
  out.indexes = idx.rows.map((r) => r.indexdef).join("\n");
  const cons = await pg.query(
    db,
    `SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) AS c FROM pg_constraint
      WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1`,
  );
  out.constraints = cons.rows.map((r) => r.c).join("\n");
  return out;
}

/** Per-table row count and content (populated materialized views too), sequences, large objects, policies, comments. */
export async function contentFingerprint(
  pg: PgServer,
  db: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pg.query(
    db,
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND c.relispopulated
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_toast' ORDER BY 1`,
  );
  for (const { t } of tables.rows) {
    const r = await pg.query(
      db,
      // Row rendering (record_out), as clients read the values. (Casting an xml column itself
      // to text would differ: pg_dump writes xml through xml_out, which drops a plain
      // `<?xml version="1.0"?>` declaration, so the restored value is stored without it.)
      `SELECT count(*) AS n, md5(coalesce(string_agg(md5(row_::text), '' ORDER BY md5(row_::text)), '')) AS h FROM ONLY ${t} row_`,
    );
    out[`table ${t}`] = `${r.rows[0].n} ${r.rows[0].h}`;
  }
  const extra = await pg.query(
    db,
    `SELECT (SELECT string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY 1) FROM pg_sequences) AS seqs,
            (SELECT string_agg(md5(lo_get(oid)), ',' ORDER BY 1) FROM pg_largeobject_metadata) AS los,
            (SELECT string_agg(tablename || ':' || policyname || ':' || qual, ',' ORDER BY 1) FROM pg_policies) AS policies,
            (SELECT string_agg(description, ',' ORDER BY 1) FROM pg_description d
              WHERE d.classoid = 'pg_class'::regclass) AS comments,
            (SELECT count(*) FROM pg_class WHERE relpersistence = 'u') AS unlogged`,
  );
  Object.assign(out, extra.rows[0]);
  return out;
}

export async function databases(pg: PgServer): Promise<string[]> {
  const r = await pg.query("postgres", "SELECT datname FROM pg_database ORDER BY 1");
  return r.rows.map((x) => x.datname);
}

export async function scratchDatabases(pg: PgServer): Promise<string[]> {
  return (await databases(pg)).filter((d) => d.includes("_restore_"));
}

/** Waits until `sql` (run on db postgres) returns a row, polling every 20 ms. */
export async function waitFor(pg: PgServer, sql: string, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await pg.query("postgres", sql)).rowCount) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A pg_restore session copying table data into a scratch database. */
export const PG_RESTORE_COPYING = `SELECT 1 FROM pg_stat_activity
  WHERE application_name = 'pg_restore' AND query ILIKE 'COPY %' AND datname ~ '_restore_'`;

/** A verify report's differences, one line each. */
export function differences(report: VerifyReport): string[] {
  return report.differences.map((d) => `${d.section} ${d.object}: ${d.detail}`);
}
