/**
 * restore: a named backup, or the latest usable one, into a database, without ever leaving the
 * live data half-replaced.
 *
 * Order of work, each step able to fail without touching the live database:
 *  1. pick the backup (by name, or newest complete/legacy; never "today's file by name");
 *  2. refuse a live target (one holding user tables) unless --confirm SERVER/DATABASE matches;
 *  3. download to a seekable temp file while hashing (sha256 against the manifest) or, for a
 *     legacy `.sql.gz`, while gunzipping it to check integrity and the pg_dump trailer;
 *  4. restore into a fresh database `<db>_restore_<tag>` (pg_restore -j N, or psql
 *     ON_ERROR_STOP=1 in one transaction for legacy dumps), check row counts against the
 *     manifest and ANALYZE it;
 *  5. swap by renaming both databases in one transaction, keeping the old one as
 *     `<db>_pre_restore_<tag>` for the incident review. <tag> derives from the backup name.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { Client } from "pg";
import { BackupEntry, resolveBackup } from "./catalog";
import {
  confirmationFor,
  connect,
  dbnameConninfo,
  describeTarget,
  ident,
  libpqEnv,
  literal,
  PgTarget,
  resolveTarget,
  secretsOf,
  serverLabel,
  TargetSpec,
} from "./connection";
import { TableCount } from "./manifest";
import { fitIdentifier, restoreDatabaseNames } from "./naming";
import { formatBytes, LogFn, Progress, stderrLog } from "./progress";
import {
  parseVersion,
  PgToolError,
  RunningTool,
  runTool,
  startTool,
  toolAvailable,
  toolVersion,
} from "./pgtools";
import {
  describeStorageError,
  downloadOrdered,
  openStorage,
  Storage,
  StorageOptions,
} from "./storage";
import { listUserTables } from "./backup";

export interface RestoreOptions extends TargetSpec {
  /** Backup to restore (a `.sql.gz`/`.dump` suffix is accepted and ignored). */
  name?: string;
  /** Restore the newest complete (or legacy) backup instead of a named one. */
  latest?: boolean;
  /** Required when the target holds user tables: `<server>/<database>`, see serverLabel(). */
  confirm?: string;
  /** pg_restore parallel jobs, also parallel range downloads (default 4). */
  jobs?: number;
  container?: string;
  storage?: StorageOptions;
  env?: NodeJS.ProcessEnv;
  /** Directory for the downloaded dump (default $PG_RECOVERY_TMPDIR, else the OS temp dir). */
  tempDir?: string;
  /** maintenance_work_mem for the restore sessions (index builds); default 512MB. */
  maintenanceWorkMem?: string;
  log?: LogFn;
}

export interface RestoreResult {
  backup: string;
  format: BackupEntry["format"];
  server: string;
  database: string;
  /** Where the replaced database was kept; undefined when there was none. */
  keptDatabase?: string;
  tables: number;
  rows: number;
  seconds: number;
  timings: { download: number; restore: number; verify: number; swap: number };
}

/** The operator asked for something unsafe (or ambiguous); nothing was changed. */
export class RestoreRefusedError extends Error {}
/** The artifact failed its integrity checks; nothing was changed. */
export class BackupCorruptError extends Error {}

const RESERVED_DBS = ["postgres", "template0", "template1", "azure_maintenance", "azure_sys"];

export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
  const started = Date.now();
  const jobs = opts.jobs ?? 4;
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new RestoreRefusedError("--jobs must be a positive integer");
  if ((opts.name === undefined) === !opts.latest) {
    throw new RestoreRefusedError("give exactly one of --name NAME or --latest");
  }
  const target = resolveTarget(opts, env);
  const db = target.database;
  if (RESERVED_DBS.includes(db)) {
    throw new RestoreRefusedError(
      `refusing to restore into the system database "${db}": pass --db-name`,
    );
  }
  const expected = confirmationFor(target);
  if (opts.confirm !== undefined && opts.confirm !== expected) {
    throw new RestoreRefusedError(
      `--confirm "${opts.confirm}" does not match the target ${expected} (server = first DNS label of the host); nothing was changed`,
    );
  }
  const confirmed = opts.confirm === expected;
  const storage = openStorage(
    {
      ...opts.storage,
      container: opts.container ?? opts.storage?.container,
      concurrency: opts.storage?.concurrency ?? jobs,
    },
    env,
  );
  const secrets = [...secretsOf(target), ...storage.secrets];

  const entry = await resolveBackup(storage, { name: opts.name, latest: opts.latest });
  log(
    `restore: backup ${entry.name} (${entry.status}, ${entry.format}, ${formatBytes(entry.size)}, ` +
      `created ${entry.createdAt?.toISOString() ?? "unknown"}) into ${describeTarget(target)}`,
  );
  const tool = entry.format === "custom" ? "pg_restore" : "psql";
  const toolV = await toolVersion(tool, env);
  if (entry.manifest) {
    const dumpMajor = parseVersion(entry.manifest.client.pgDump).major;
    if (dumpMajor > toolV.major) {
      throw new RestoreRefusedError(
        `backup ${entry.name} was written by pg_dump ${dumpMajor}; pg_restore ${toolV.major} cannot read it: set PG_BIN to PostgreSQL ${dumpMajor}+ client binaries`,
      );
    }
  }

  if (entry.manifest?.dump.wrapper === "zstd" && !(await toolAvailable("zstd", env))) {
    throw new RestoreRefusedError(
      `backup ${entry.name} is zstd-compressed and the zstd program is missing: install zstd or set ZSTD_BIN`,
    );
  }
  const admin = await connectMaintenance(target);
  try {
    const lock = await admin.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [
      `pg-recovery restore ${db}`,
    ]);
    if (!lock.rows[0].ok) {
      throw new RestoreRefusedError(
        `another restore into ${expected} is running; wait for it to finish`,
      );
    }
    const live = await inspectLive(admin, target);
    if (live.exists && live.userTables !== 0 && !confirmed) {
      const what =
        live.userTables === undefined
          ? "cannot be inspected (connections disabled?)"
          : `holds ${live.userTables} user tables`;
      throw new RestoreRefusedError(
        `database ${expected} ${what}; replacing live data needs --confirm ${expected}. Nothing was changed.`,
      );
    }
    const names = restoreDatabaseNames(db, entry.name);
    const tmp = fs.mkdtempSync(
      path.join(opts.tempDir ?? env.PG_RECOVERY_TMPDIR ?? os.tmpdir(), "pg-recovery-"),
    );
    const timings = { download: 0, restore: 0, verify: 0, swap: 0 };
    try {
      let t = Date.now();
      const file = path.join(tmp, entry.blob);
      await fetchVerified(storage, entry, file, env, log);
      timings.download = (Date.now() - t) / 1000;

      t = Date.now();
      if (await databaseExists(admin, names.scratch)) {
        log(
          `restore: dropping ${names.scratch}, left over from an earlier failed restore of this backup`,
        );
        await dropDatabase(admin, names.scratch);
      }
      await createScratch(admin, names.scratch, live, entry);
      let counts: TableCount[];
      try {
        const restoreEnv = {
          ...libpqEnv(target, env, names.scratch),
          // Session settings for a bulk load; nothing here survives the restore sessions.
          PGOPTIONS: `-c synchronous_commit=off -c maintenance_work_mem=${opts.maintenanceWorkMem ?? env.PG_RESTORE_MAINTENANCE_WORK_MEM ?? "512MB"}`,
        };
        if (entry.format === "custom") {
          await restoreCustom(file, names.scratch, jobs, restoreEnv, secrets, log, entry);
        } else {
          await restorePlain(file, restoreEnv, secrets, log, entry);
        }
        timings.restore = (Date.now() - t) / 1000;
        t = Date.now();
        counts = await verifyRestored(target, names.scratch, entry, jobs, log);
        timings.verify = (Date.now() - t) / 1000;
        t = Date.now();
        const kept = live.exists ? await freeName(admin, names.kept) : undefined;
        await swapIn(admin, target, {
          live,
          scratch: names.scratch,
          kept,
          confirmed,
          backup: entry.name,
          log,
        });
        timings.swap = (Date.now() - t) / 1000;
        const seconds = (Date.now() - started) / 1000;
        const rows = counts.reduce((a, c) => a + c.rows, 0);
        log(
          `restore: ${expected} now holds backup ${entry.name} (${counts.length} tables, ${rows} rows) after ${seconds.toFixed(1)}s` +
            (kept ? `; the previous database is kept as ${kept}` : ""),
        );
        return {
          backup: entry.name,
          format: entry.format,
          server: serverLabel(target.host),
          database: db,
          keptDatabase: kept,
          tables: counts.length,
          rows,
          seconds,
          timings,
        };
      } catch (e) {
        log(
          `restore: failed; dropping the partial copy ${names.scratch}; ${expected} was not changed`,
        );
        await dropDatabase(admin, names.scratch).catch((d) =>
          log(`restore: could not drop ${names.scratch}: ${(d as Error).message}`),
        );
        throw e;
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function connectMaintenance(target: PgTarget): Promise<Client> {
  let lastError: unknown;
  for (const db of ["postgres", "template1"]) {
    try {
      return await connect(target, db);
    } catch (e) {
      lastError = e;
      if (!/does not exist/.test((e as Error).message)) break;
    }
  }
  throw new Error(
    `cannot connect to ${describeTarget({ ...target, database: "postgres" })}: ${(lastError as Error).message}`,
  );
}

export interface LiveState {
  exists: boolean;
  /** Undefined when the database exists but could not be inspected. */
  userTables?: number;
  owner?: string;
  encoding?: string;
  collate?: string;
  ctype?: string;
  oid?: number;
}

async function inspectLive(admin: Client, target: PgTarget): Promise<LiveState> {
  const r = await admin.query(
    `SELECT d.oid, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
            d.datcollate AS collate, d.datctype AS ctype
       FROM pg_database d WHERE d.datname = $1`,
    [target.database],
  );
  if (r.rowCount === 0) return { exists: false };
  const row = r.rows[0];
  const state: LiveState = {
    exists: true,
    owner: row.owner,
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    oid: row.oid,
  };
  state.userTables = await countUserTables(target, target.database).catch(() => undefined);
  return state;
}

async function countUserTables(
  target: PgTarget,
  database: string,
  client?: Client,
): Promise<number> {
  const c = client ?? (await connect(target, database));
  try {
    return (await listUserTables(c)).length;
  } finally {
    if (!client) await c.end().catch(() => undefined);
  }
}

async function databaseExists(admin: Client, name: string): Promise<boolean> {
  const r = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return (r.rowCount ?? 0) > 0;
}

async function dropDatabase(admin: Client, name: string): Promise<void> {
  const major =
    Number((await admin.query("SHOW server_version_num")).rows[0].server_version_num) / 10000;
  // FORCE (13+) also ends sessions left on the partial copy.
  await admin.query(`DROP DATABASE IF EXISTS ${ident(name)}${major >= 13 ? " WITH (FORCE)" : ""}`);
}

/** First of `base`, `base_2`, `base_3`, ... that no database uses. */
async function freeName(admin: Client, base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? base : fitIdentifier(base, `_${i}`);
    if (!(await databaseExists(admin, candidate))) return candidate;
  }
}

/** The fresh database: same encoding and locale as the live one, else as the source. */
async function createScratch(
  admin: Client,
  name: string,
  live: LiveState,
  entry: BackupEntry,
): Promise<void> {
  const src = live.exists
    ? { encoding: live.encoding!, collate: live.collate!, ctype: live.ctype! }
    : (entry.manifest?.database ?? { encoding: "UTF8", collate: undefined, ctype: undefined });
  const base = `CREATE DATABASE ${ident(name)} TEMPLATE template0 ENCODING ${literal(src.encoding)}`;
  if (src.collate && src.ctype) {
    try {
      await admin.query(
        `${base} LC_COLLATE ${literal(src.collate)} LC_CTYPE ${literal(src.ctype)}`,
      );
      return;
    } catch (e) {
      // A locale name the target server does not have (new server, other OS image).
      if (!/locale|collation|incompatible/i.test((e as Error).message)) throw e;
    }
  }
  await admin.query(base);
}

/**
 * Downloads the backup's blob to `file`, checking it on the way: size and sha256 against the
 * manifest, or gzip integrity plus the plain-dump trailer for legacy `.sql.gz` files.
 */
async function fetchVerified(
  storage: Storage,
  entry: BackupEntry,
  file: string,
  env: NodeJS.ProcessEnv,
  log: LogFn,
): Promise<void> {
  const blob = storage.container.getBlobClient(entry.blob);
  let size: number;
  let etag: string | undefined;
  try {
    const props = await blob.getProperties();
    size = props.contentLength ?? 0;
    etag = props.etag;
  } catch (e) {
    throw new Error(describeStorageError(e, storage));
  }
  const m = entry.manifest;
  if (m && size !== m.dump.size) {
    throw new BackupCorruptError(
      `backup ${entry.name} is corrupt: ${entry.blob} is ${size} bytes, the manifest says ${m.dump.size}; nothing was changed`,
    );
  }
  const dir = path.dirname(file);
  const wrapped = m?.dump.wrapper === "zstd";
  // A zstd-wrapped archive unpacks to several times its size; running out of space later is
  // caught (ENOSPC from zstd) and reported the same way, before the target is touched.
  const needed = size;
  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < needed * 1.05 + 64 * 1024 * 1024) {
    throw new Error(
      `not enough space in ${dir} for ${formatBytes(needed)} (${formatBytes(free.bavail * free.bsize)} free): set PG_RECOVERY_TMPDIR or --temp-dir to a larger volume`,
    );
  }
  const progress = new Progress(`restore ${entry.name}`, "downloaded", log, size);
  const sha = createHash("sha256");
  const plain = entry.format === "plain-gzip" ? new PlainDumpCheck() : undefined;
  const sink = wrapped ? await ZstdFileSink.open(file, env) : await FileSink.open(file);
  try {
    for await (const chunk of downloadOrdered(blob, {
      size,
      etag,
      chunkSize: storage.blockSize,
      concurrency: storage.concurrency,
    })) {
      sha.update(chunk);
      await sink.write(chunk);
      if (plain) await plain.write(chunk);
      progress.addBytes(chunk.length);
    }
    await sink.close();
  } catch (e) {
    await sink.abort();
    if (e instanceof BackupCorruptError) throw e;
    if (plain && plain.failed) throw plain.corrupt(entry.name);
    if (e instanceof PgToolError && /no space left/i.test(e.message)) {
      throw new Error(
        `ran out of disk space in ${dir} unpacking ${entry.blob}: set PG_RECOVERY_TMPDIR or --temp-dir to a larger volume; nothing was changed`,
      );
    }
    if (e instanceof PgToolError) {
      // zstd rejects a damaged frame before the hash could: same verdict, corrupt.
      throw new BackupCorruptError(
        `backup ${entry.name} is corrupt: ${e.message}; nothing was changed`,
      );
    }
    throw new Error(`downloading ${entry.blob} failed: ${describeStorageError(e, storage)}`);
  }
  progress.finish();
  const digest = sha.digest("hex");
  if (m && digest !== m.dump.sha256) {
    throw new BackupCorruptError(
      `backup ${entry.name} is corrupt: sha256 of ${entry.blob} is ${digest}, the manifest says ${m.dump.sha256}; nothing was changed`,
    );
  }
  if (plain) await plain.finish(entry.name);
  log(`restore: ${entry.blob} verified (${formatBytes(size)}, sha256 ${digest.slice(0, 16)}...)`);
}

/** Where downloaded bytes go: the temp file, directly or through `zstd -d`. */
interface Sink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

class FileSink implements Sink {
  private constructor(private readonly fh: fs.promises.FileHandle) {}
  static async open(file: string): Promise<FileSink> {
    return new FileSink(await fs.promises.open(file, "w"));
  }
  async write(chunk: Buffer): Promise<void> {
    await this.fh.write(chunk);
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** Unwraps a zstd-wrapped archive while it downloads, so the file pg_restore reads is plain. */
class ZstdFileSink implements Sink {
  private constructor(
    private readonly tool: RunningTool,
    private readonly fd: number,
  ) {
    tool.child.stdin!.on("error", () => undefined); // reported through tool.done
  }
  static async open(file: string, env: NodeJS.ProcessEnv): Promise<ZstdFileSink> {
    const fd = fs.openSync(file, "w");
    const tool = startTool("zstd", ["-d", "-q", "-c"], { env, stdio: ["pipe", fd, "pipe"] });
    return new ZstdFileSink(tool, fd);
  }
  async write(chunk: Buffer): Promise<void> {
    const stdin = this.tool.child.stdin!;
    if (!stdin.write(chunk)) {
      await Promise.race([once(stdin, "drain"), this.tool.done]);
    }
  }
  async close(): Promise<void> {
    this.tool.child.stdin!.end();
    try {
      await this.tool.done;
    } finally {
      fs.closeSync(this.fd);
    }
  }
  async abort(): Promise<void> {
    if (this.tool.child.exitCode === null) this.tool.child.kill("SIGTERM");
    await this.tool.done.catch(() => undefined);
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed by close()
    }
  }
}

/** Streams a `.sql.gz` through gunzip, remembering the tail to check pg_dump's trailer. */
class PlainDumpCheck {
  private readonly gunzip = zlib.createGunzip();
  private tail = Buffer.alloc(0);
  private readonly ended: Promise<void>;
  failed?: Error;

  constructor() {
    this.gunzip.on("data", (d: Buffer) => {
      this.tail = Buffer.concat([this.tail, d]).subarray(-4096);
    });
    this.ended = new Promise((resolve, reject) => {
      this.gunzip.once("end", resolve);
      this.gunzip.once("error", (e) => {
        this.failed = e;
        reject(e);
      });
    });
    this.ended.catch(() => undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.gunzip.write(chunk)) {
      await Promise.race([once(this.gunzip, "drain"), this.ended]);
    }
  }

  corrupt(name: string): BackupCorruptError {
    return new BackupCorruptError(
      `backup ${name} is corrupt: not a complete gzip file (${this.failed?.message}); nothing was changed`,
    );
  }

  async finish(name: string): Promise<void> {
    this.gunzip.end();
    try {
      await this.ended;
    } catch {
      throw this.corrupt(name);
    }
    if (!hasDumpTrailer(this.tail.toString("utf8"))) {
      throw new BackupCorruptError(
        `backup ${name} is incomplete: it does not end with pg_dump's "-- PostgreSQL database dump complete" line (truncated dump?); nothing was changed`,
      );
    }
  }
}

/** True when the text ends with pg_dump's completion line, followed only by comments/blank/\unrestrict. */
export function hasDumpTrailer(tail: string): boolean {
  const marker = "-- PostgreSQL database dump complete";
  const lines = tail.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trimEnd();
    if (line === marker) return true;
    if (line === "" || line.startsWith("--") || line.startsWith("\\unrestrict ")) continue;
    return false;
  }
  return false;
}

async function restoreCustom(
  file: string,
  database: string,
  jobs: number,
  env: NodeJS.ProcessEnv,
  secrets: string[],
  log: LogFn,
  entry: BackupEntry,
): Promise<void> {
  // Reading the table of contents checks the archive is loadable before a long restore.
  const toc = await runTool("pg_restore", ["--list", file], { env, secrets });
  const dataItems = toc.split("\n").filter((l) => /^\d+; \d+ \d+ TABLE DATA /.test(l)).length;
  log(`restore: pg_restore -j ${jobs} into ${database} (${dataItems} tables of data)`);
  const progress = new Progress(`restore ${entry.name}`, "", log);
  let done = 0;
  const run = startTool(
    "pg_restore",
    [
      "--format=custom",
      "--no-owner",
      "--exit-on-error",
      "--verbose",
      `--jobs=${jobs}`,
      `--dbname=${dbnameConninfo(database)}`,
      file,
    ],
    {
      env,
      secrets,
      onStderrLine: (line) => {
        // With -j a worker reports "finished item N TABLE DATA ..."; serially, the start of each.
        const pattern = jobs > 1 ? /finished item \d+ TABLE DATA / : /processing data for table /;
        if (pattern.test(line)) {
          progress.setTables(++done, dataItems);
        }
      },
    },
  );
  await run.done;
  progress.setTables(dataItems, dataItems);
  progress.finish();
}

async function restorePlain(
  file: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
  log: LogFn,
  entry: BackupEntry,
): Promise<void> {
  log(`restore: psql (ON_ERROR_STOP=1, single transaction) into ${env.PGDATABASE}`);
  const progress = new Progress(`restore ${entry.name}`, "restored (compressed)", log, entry.size);
  const run = startTool(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"],
    {
      env,
      secrets,
      stdio: ["pipe", "ignore", "pipe"],
    },
  );
  const input = fs.createReadStream(file);
  input.on("data", (d) => progress.addBytes(d.length));
  try {
    await pipeline(input, zlib.createGunzip(), run.child.stdin!);
  } catch (e) {
    // psql stopping early (an SQL error) breaks the pipe: its own error is the useful one.
    await run.done;
    throw e;
  }
  await run.done;
  progress.finish();
}

/** Row counts in the restored copy, checked against the manifest when it has exact counts. */
async function verifyRestored(
  target: PgTarget,
  database: string,
  entry: BackupEntry,
  jobs: number,
  log: LogFn,
): Promise<TableCount[]> {
  const clients: Client[] = [];
  try {
    const first = await connect(target, database);
    clients.push(first);
    const tables = await listUserTables(first);
    for (let i = 1; i < Math.min(jobs, tables.length); i++)
      clients.push(await connect(target, database));
    const counts: TableCount[] = new Array(tables.length);
    let next = 0;
    // Counting and per-table ANALYZE in parallel; the app needs planner statistics on its first query.
    await Promise.all(
      clients.map(async (c) => {
        while (next < tables.length) {
          const i = next++;
          const t = tables[i];
          const q = `${ident(t.schema)}.${ident(t.table)}`;
          const r = await c.query(`SELECT count(*)::bigint AS n FROM ONLY ${q}`);
          counts[i] = { schema: t.schema, table: t.table, rows: Number(r.rows[0].n) };
          await c.query(`ANALYZE ${q}`);
        }
      }),
    );
    // Partitioned parents hold no rows but need their own statistics.
    await first.query(
      `DO $$ DECLARE r record; BEGIN
         FOR r IN SELECT c.oid::regclass AS t FROM pg_class c WHERE c.relkind = 'p' LOOP
           EXECUTE 'ANALYZE ' || r.t;
         END LOOP; END $$`,
    );
    const m = entry.manifest;
    if (m) {
      const got = new Map(counts.map((c) => [`${c.schema}.${c.table}`, c.rows]));
      const problems: string[] = [];
      for (const t of m.rowCounts.tables) {
        const key = `${t.schema}.${t.table}`;
        const n = got.get(key);
        if (n === undefined) problems.push(`${key} missing`);
        else if (n !== t.rows) problems.push(`${key} has ${n} rows, backup had ${t.rows}`);
      }
      if (problems.length && m.rowCounts.exact) {
        throw new Error(
          `restored copy ${database} does not match the backup's row counts: ${problems.slice(0, 10).join("; ")}`,
        );
      }
      if (problems.length)
        log(`restore: warning (counts were not exact at backup time): ${problems.join("; ")}`);
      log(`restore: row counts of ${m.rowCounts.tables.length} tables match the manifest`);
    } else {
      log(
        `restore: ${counts.length} tables restored (legacy dump: no manifest to compare row counts with)`,
      );
    }
    return counts;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

// GUCs whose stored value is a list that must not be re-quoted as one string.
const LIST_GUCS = new Set([
  "search_path",
  "temp_tablespaces",
  "session_preload_libraries",
  "local_preload_libraries",
]);

/**
 * Puts the restored copy in place of the live database: rename both in one transaction. When
 * replacing a database, new connections to it are blocked first and (only when confirmed)
 * sessions still on it are terminated, so the rename cannot race the application.
 */
async function swapIn(
  admin: Client,
  target: PgTarget,
  o: {
    live: LiveState;
    scratch: string;
    kept?: string;
    confirmed: boolean;
    backup: string;
    log: LogFn;
  },
): Promise<void> {
  const db = target.database;
  if (!o.live.exists || !o.kept) {
    await admin.query(`ALTER DATABASE ${ident(o.scratch)} RENAME TO ${ident(db)}`);
    return;
  }
  // Keep one session on live to re-check it after new connections are blocked.
  const probe = await connect(target, db).catch(() => undefined);
  let blocked = false;
  try {
    try {
      await admin.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS false`);
      blocked = true;
    } catch (e) {
      o.log(
        `restore: could not block new connections to ${db} (${(e as Error).message}); continuing`,
      );
    }
    if (!o.confirmed) {
      const n = probe ? await countUserTables(target, db, probe) : undefined;
      if (n !== 0) {
        throw new RestoreRefusedError(
          `database ${confirmationFor(target)} gained user tables during the restore; rerun with --confirm ${confirmationFor(target)}`,
        );
      }
    }
    await probe?.end().catch(() => undefined);
    for (let attempt = 1; ; attempt++) {
      const others = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [db],
      );
      if (others.rows[0].n > 0) {
        if (!o.confirmed) {
          throw new RestoreRefusedError(
            `${others.rows[0].n} other sessions are connected to ${db}; stop them, or pass --confirm ${confirmationFor(target)} to terminate them`,
          );
        }
        o.log(`restore: terminating ${others.rows[0].n} sessions on ${db}`);
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [db],
        );
      }
      try {
        await admin.query("BEGIN");
        await admin.query(`ALTER DATABASE ${ident(db)} RENAME TO ${ident(o.kept)}`);
        await admin.query(`ALTER DATABASE ${ident(o.scratch)} RENAME TO ${ident(db)}`);
        await admin.query("COMMIT");
        break;
      } catch (e) {
        await admin.query("ROLLBACK").catch(() => undefined);
        // 55006: a session (re)appeared between terminate and rename.
        if ((e as { code?: string }).code !== "55006" || attempt >= 5) throw e;
      }
    }
    blocked = false;
    await admin
      .query(`ALTER DATABASE ${ident(o.kept)} ALLOW_CONNECTIONS true`)
      .catch(() => undefined);
    await admin
      .query(
        `COMMENT ON DATABASE ${ident(o.kept)} IS ${literal(`live database replaced by pg-recovery restore of ${o.backup} at ${new Date().toISOString()}`)}`,
      )
      .catch(() => undefined);
    await carryOverDatabaseSettings(admin, o.live, db, o.log);
  } finally {
    await probe?.end().catch(() => undefined);
    if (blocked)
      await admin
        .query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS true`)
        .catch(() => undefined);
  }
}

/** Best effort: the old database's owner and ALTER DATABASE ... SET settings onto the new one. */
async function carryOverDatabaseSettings(
  admin: Client,
  live: LiveState,
  db: string,
  log: LogFn,
): Promise<void> {
  const warn = (what: string, e: unknown) =>
    log(`restore: warning: could not carry over ${what} to ${db}: ${(e as Error).message}`);
  const me = (await admin.query("SELECT current_user AS u")).rows[0].u;
  if (live.owner && live.owner !== me) {
    await admin
      .query(`ALTER DATABASE ${ident(db)} OWNER TO ${ident(live.owner)}`)
      .catch((e) => warn("the owner", e));
  }
  const r = await admin.query(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role, s.setconfig
       FROM pg_db_role_setting s WHERE s.setdatabase = $1`,
    [live.oid],
  );
  for (const row of r.rows as { role: string | null; setconfig: string[] }[]) {
    for (const item of row.setconfig) {
      const eq = item.indexOf("=");
      const [k, v] = [item.slice(0, eq), item.slice(eq + 1)];
      const value = LIST_GUCS.has(k) ? v : literal(v);
      const scope = row.role ? `ROLE ${ident(row.role)} IN DATABASE` : "DATABASE";
      const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(k) ? k : ident(k);
      const stmt = `ALTER ${scope} ${ident(db)} SET ${name} = ${value}`;
      await admin.query(stmt).catch((e) => warn(`setting ${k}`, e));
    }
  }
}
