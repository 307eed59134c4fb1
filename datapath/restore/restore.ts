/**
 * restore: a named backup, or the latest usable one, into a database, without ever leaving the
 * live data half-replaced.
 *
 * Order of work, each step able to fail without touching the live database:
 *  1. pick the backup (by name, or newest complete/legacy; never "today's file by name");
 *  2. refuse a live target (one holding user tables) unless --confirm SERVER/DATABASE matches;
 *  3. refuse a target server that lacks a role the backup's objects belong or are granted to
 *     (unless --map-missing-roles-to names a stand-in), or whose owners the restoring user
 *     cannot give objects to;
 *  4. download to a seekable temp file while hashing (sha256 against the manifest) or, for a
 *     legacy `.sql.gz`, while gunzipping it to check integrity and the pg_dump trailer; with
 *     --latest, a newest backup found damaged here is reported and the next one tried;
 *  5. restore into a fresh database `<db>_restore_<tag>` (pg_restore -j N keeping owners and
 *     grants, or psql ON_ERROR_STOP=1 in one transaction for legacy dumps), check row counts
 *     against the manifest and ANALYZE it; give it the database-level properties (comment,
 *     grants, settings, connection limit) of the database it replaces, or for a new database
 *     those the manifest recorded;
 *  6. swap by renaming both databases in one transaction, keeping the old one as
 *     `<db>_pre_restore_<tag>` for the incident review (<tag> derives from the backup name),
 *     then give the database its owner.
 */
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { Client } from "pg";
import { BackupCorruptError, RestoreRefusedError, sqlState } from "../errors";
import {
  confirmationFor,
  connect,
  dbnameConninfo,
  describeTarget,
  ident,
  libpqEnv,
  PgTarget,
  resolveTarget,
  secretsOf,
  serverLabel,
  TargetSpec,
} from "../postgres/connection";
import { parseVersion, runTool, startTool, toolAvailable, toolVersion } from "../postgres/pgtools";
import {
  applyDatabaseProperties,
  DatabaseProperties,
  databaseProperties,
  mapped,
  mergeRoles,
  planRoles,
  propertyRoles,
  RoleMap,
  RoleReferences,
  swapPrivilegeProblems,
} from "../postgres/roles";
import {
  configurationTables,
  countSql,
  DataTable,
  describeTables,
  listUserTables,
} from "../postgres/tables";
import { formatBytes, LogFn, Progress, stderrLog } from "../progress";
import { openStorage, probeStorage, Storage, StorageOptions } from "../storage/blobs";
import { BackupEntry, restoreCandidates, SkippedBackup } from "../storage/catalog";
import { TableCount } from "../storage/manifest";
import { restoreDatabaseNames } from "../storage/naming";
import { indexArchiveOffsets } from "./archive-index";
import { readArchiveRoles, rewriteArchiveRoles } from "./archive-roles";
import { fetchVerified } from "./fetch";
import { Interruption } from "./interruption";
import {
  connectMaintenance,
  createScratch,
  databaseExists,
  dropDatabase,
  freeName,
  inspectLive,
  LiveState,
  swapIn,
} from "./swap";

export interface RestoreOptions extends TargetSpec {
  /** Backup to restore (a `.sql.gz`/`.dump` suffix is accepted and ignored). */
  name?: string;
  /** Restore the newest complete (or legacy) backup instead of a named one. */
  latest?: boolean;
  /** Required when the target holds user tables: `<server>/<database>`, see serverLabel(). */
  confirm?: string;
  /**
   * The role that takes the place of every role the backup names and the target server lacks:
   * it owns their objects and receives their grants. Without it such a restore is refused.
   */
  mapMissingRolesTo?: string;
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
  /** Fault-injection hook for tests: the pg_restore/psql child loading the fresh copy. */
  onLoadStarted?: (child: ChildProcess) => void;
}

export interface RestoreResult {
  backup: string;
  format: BackupEntry["format"];
  server: string;
  database: string;
  /** Where the replaced database was kept; undefined when there was none. */
  keptDatabase?: string;
  /** The backup's data point in time (its dump's snapshot), RFC 3339 UTC, when known. */
  takenAt?: string;
  /** Newer backups passed over (unusable, or found damaged on download with --latest). */
  skipped: SkippedBackup[];
  /** Missing roles and the role that took their place. */
  mappedRoles: Record<string, string>;
  /** Tables of data restored and counted (see describeTables), with: */
  tables: number;
  /** the extension configuration tables among them (only the rows pg_dump carries). */
  configurationTables: string[];
  rows: number;
  seconds: number;
  timings: { download: number; restore: number; verify: number; swap: number };
}

export { BackupCorruptError, RestoreRefusedError };

const RESERVED_DBS = ["postgres", "template0", "template1", "azure_maintenance", "azure_sys"];
const NO_ROLES: RoleReferences = { owners: [], grantees: [] };

/** A backup downloaded and checked, with the roles it needs settled. */
interface Prepared {
  entry: BackupEntry;
  file: string;
  roles: RoleMap;
}

/** The target and what the caller asked for, settled before anything is opened or connected. */
interface RestoreRequest {
  opts: RestoreOptions;
  env: NodeJS.ProcessEnv;
  log: LogFn;
  jobs: number;
  target: PgTarget;
  /** `<server>/<database>`: what --confirm must say, and how messages name the target. */
  expected: string;
  confirmed: boolean;
}

/** A restore under way: the request, and the storage, session and scratch space it works with. */
interface RestoreRun extends RestoreRequest {
  storage: Storage;
  secrets: string[];
  admin: Client;
  interruption: Interruption;
  live: LiveState;
  /** Directory of the downloaded dump, removed when the restore ends. */
  tmp: string;
}

/**
 * Refuses bad input, opens storage, locks and inspects the target, then restores from the
 * candidates (see restoreFrom). The temp directory and the session go whatever happens.
 */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const req = refuseBadRequest(opts);
  const { env, log, target } = req;
  const storage = openBackupStorage(req);
  const secrets = [...secretsOf(target), ...storage.secrets];
  await probeStorage(storage, log);
  const candidates = await restoreCandidates(
    storage,
    { name: opts.name, latest: opts.latest },
    log,
  );

  const admin = await connectMaintenance(target);
  // Signal handling for everything that follows; see Interruption for why.
  const interruption = new Interruption(log);
  try {
    await lockTarget(admin, req);
    const live = await inspectLive(admin, target, log);
    refuseLiveData(live, req);
    // Before the download, which may take minutes: the fresh database and the swap need these.
    const privileges = await swapPrivilegeProblems(admin, target.database, {
      create: "restore loads the backup into a fresh database",
      rename: "restore keeps it under another name when it swaps the restored one in",
    });
    if (privileges.length) {
      throw new RestoreRefusedError(`refused, nothing was changed:\n  ${privileges.join("\n  ")}`);
    }
    // An existing database keeps its own properties; a new one gets the backup's.
    const liveProperties = live.exists
      ? await databaseProperties(admin, target.database)
      : undefined;
    const tmp = fs.mkdtempSync(
      path.join(opts.tempDir ?? env.PG_RECOVERY_TMPDIR ?? os.tmpdir(), "pg-recovery-"),
    );
    try {
      const s: RestoreRun = { ...req, storage, secrets, admin, interruption, live, tmp };
      return await restoreFrom(s, candidates, liveProperties, started);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    await admin.end().catch(() => undefined);
    // Re-delivers a signal that stopped (or arrived during) the restore, now cleaned up.
    interruption.release();
  }
}

/**
 * Refuses what is wrong before anything is opened: bad --jobs, not exactly one of --name and
 * --latest, a system database, a --confirm naming another target.
 */
function refuseBadRequest(opts: RestoreOptions): RestoreRequest {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
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
  return { opts, env, log, jobs, target, expected, confirmed };
}

/** The backups' container, downloading with as many parallel ranges as pg_restore has jobs. */
function openBackupStorage({ opts, env, log, jobs }: RestoreRequest): Storage {
  return openStorage(
    {
      ...opts.storage,
      container: opts.container ?? opts.storage?.container,
      concurrency: opts.storage?.concurrency ?? jobs,
      log: opts.storage?.log ?? log,
    },
    env,
  );
}

/** One restore per target at a time: a session-level advisory lock, released with `admin`. */
async function lockTarget(admin: Client, { target, expected }: RestoreRequest): Promise<void> {
  const lock = await admin.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [
    `pg-recovery restore ${target.database}`,
  ]);
  if (!lock.rows[0].ok) {
    throw new RestoreRefusedError(
      `another restore into ${expected} is running; wait for it to finish`,
    );
  }
}

/** Refuses to replace a database holding user tables (or one it cannot look into) unconfirmed. */
function refuseLiveData(live: LiveState, { expected, confirmed }: RestoreRequest): void {
  if (live.exists && live.userTables !== 0 && !confirmed) {
    const what =
      live.userTables === undefined
        ? "cannot be inspected (connections disabled?)"
        : `holds ${live.userTables} user tables`;
    throw new RestoreRefusedError(
      `database ${expected} ${what}; replacing live data needs --confirm ${expected}. Nothing was changed.`,
    );
  }
}

/**
 * The restore proper, once the target is locked and inspected: download the first usable
 * candidate, load it into a fresh database, check it, swap it in. Any failure from the fresh
 * database's creation on drops that partial copy; the live database is untouched until the swap.
 */
async function restoreFrom(
  s: RestoreRun,
  candidates: { entries: BackupEntry[]; skipped: SkippedBackup[] },
  liveProperties: DatabaseProperties | undefined,
  started: number,
): Promise<RestoreResult> {
  const timings = { download: 0, restore: 0, verify: 0, swap: 0 };
  const skipped = [...candidates.skipped];
  let t = Date.now();
  const chosen = await firstUsable(
    candidates.entries,
    (entry) => prepareBackup(s, entry),
    s.opts.latest === true,
    { log: s.log, skipped, tmp: s.tmp },
  );
  timings.download = (Date.now() - t) / 1000;
  reportRoles(s, chosen.roles);
  const properties = propertiesFor(s, chosen.entry, liveProperties);

  const names = restoreDatabaseNames(s.target.database, chosen.entry.name);
  t = Date.now();
  await createFreshCopy(s, names.scratch, chosen.entry);
  try {
    await loadCopy(s, chosen, names.scratch);
    timings.restore = (Date.now() - t) / 1000;
    t = Date.now();
    const counts = await checkCopy(s, chosen, names.scratch, properties);
    timings.verify = (Date.now() - t) / 1000;
    t = Date.now();
    const kept = await swapCopy(s, chosen, names, properties);
    timings.swap = (Date.now() - t) / 1000;
    return summarize(s, chosen, { counts, kept, skipped, timings, started });
  } catch (e) {
    await dropPartialCopy(s, names.scratch);
    throw e;
  }
}

/** After a failure: drops the fresh copy, which never replaced anything. A failed drop is logged. */
async function dropPartialCopy(
  { admin, expected, log }: RestoreRun,
  scratch: string,
): Promise<void> {
  log(`restore: failed; dropping the partial copy ${scratch}; ${expected} was not changed`);
  await dropDatabase(admin, scratch).catch((d) =>
    log(`restore: could not drop ${scratch}: ${(d as Error).message}`),
  );
}

/**
 * Downloads and checks one candidate, settling the roles it needs on the target: refused before
 * the download when the manifest already names a missing role, and again after it from the
 * archive's own table of contents.
 */
async function prepareBackup(s: RestoreRun, entry: BackupEntry): Promise<Prepared> {
  const { admin, log, opts } = s;
  log(
    `restore: backup ${entry.name} (${entry.status}, ${entry.format}, ${formatBytes(entry.size)}, ` +
      `created ${entry.createdAt?.toISOString() ?? "unknown"}) into ${describeTarget(s.target)}`,
  );
  await checkTools(entry, s.env);
  const backupProps = s.live.exists ? undefined : entry.manifest?.database.properties;
  const knownRoles = mergeRoles(
    entry.manifest?.roles ?? NO_ROLES,
    backupProps ? propertyRoles(backupProps) : NO_ROLES,
  );
  // Refuse before downloading when the manifest already says what is missing.
  await planRoles(admin, knownRoles, opts.mapMissingRolesTo, `backup ${entry.name}`);
  const file = path.join(s.tmp, entry.blob);
  await s.interruption.race(fetchVerified(s.storage, entry, file, s.env, log));
  // The archive's own table of contents is what pg_restore will act on.
  const archiveRoles = entry.format === "custom" ? readRoles(file, log) : NO_ROLES;
  const plan = await planRoles(
    admin,
    mergeRoles(knownRoles, archiveRoles),
    opts.mapMissingRolesTo,
    `backup ${entry.name}`,
  );
  return { entry, file, roles: plan.map };
}

/** Says which missing roles were mapped to a stand-in, or that the mapping was not needed. */
function reportRoles({ opts, log }: RestoreRun, roles: RoleMap): void {
  if (opts.mapMissingRolesTo !== undefined && roles.size === 0) {
    log(`restore: no role is missing on the target; --map-missing-roles-to is not needed`);
  }
  for (const [from, to] of roles) {
    log(`restore: WARNING: role ${from} does not exist on the target; ${to} takes its place`);
  }
}

/** The database-level properties to give the fresh copy; warns when there are none to give. */
function propertiesFor(
  { log, target }: RestoreRun,
  entry: BackupEntry,
  liveProperties: DatabaseProperties | undefined,
): DatabaseProperties | undefined {
  const properties = liveProperties ?? entry.manifest?.database.properties;
  if (!properties) {
    log(
      `restore: WARNING: backup ${entry.name} records no database-level properties (an older backup): ${target.database} gets no comment, grants or settings beyond the defaults`,
    );
  }
  return properties;
}

/** Creates the empty database to restore into, first dropping one a failed run left behind. */
async function createFreshCopy(s: RestoreRun, scratch: string, entry: BackupEntry): Promise<void> {
  if (await databaseExists(s.admin, scratch)) {
    s.log(`restore: dropping ${scratch}, left over from an earlier failed restore of this backup`);
    await dropDatabase(s.admin, scratch);
  }
  await createScratch(s.admin, scratch, s.live, entry);
}

/** Loads the downloaded backup into `scratch`; a signal stops the loading child and fails it. */
async function loadCopy(
  s: RestoreRun,
  { entry, file, roles }: Prepared,
  scratch: string,
): Promise<void> {
  const { env, interruption, opts } = s;
  const restoreEnv = {
    ...libpqEnv(s.target, env, scratch),
    // Session settings for a bulk load; nothing here survives the restore sessions.
    PGOPTIONS: `-c synchronous_commit=off -c maintenance_work_mem=${opts.maintenanceWorkMem ?? env.PG_RESTORE_MAINTENANCE_WORK_MEM ?? "512MB"}`,
  };
  const onLoadStarted = (child: ChildProcess) => {
    interruption.track([child]);
    opts.onLoadStarted?.(child);
  };
  interruption.check();
  await interruption.race(
    entry.format === "custom"
      ? restoreCustom(
          file,
          scratch,
          s.jobs,
          restoreEnv,
          s.secrets,
          s.log,
          entry,
          roles,
          onLoadStarted,
        )
      : restorePlain(file, restoreEnv, s.secrets, s.log, entry, onLoadStarted),
  );
}

/** Counts and analyzes the fresh copy against the manifest, then gives it the properties. */
async function checkCopy(
  s: RestoreRun,
  { entry, roles }: Prepared,
  scratch: string,
  properties: DatabaseProperties | undefined,
): Promise<TableCount[]> {
  const counts = await s.interruption.race(verifyRestored(s.target, scratch, entry, s.jobs, s.log));
  if (properties) {
    await applyDatabaseProperties(s.admin, scratch, properties, roles, s.log);
  }
  return counts;
}

/** Puts the fresh copy in place; returns the name the replaced database is kept under. */
async function swapCopy(
  s: RestoreRun,
  { entry, roles }: Prepared,
  names: { scratch: string; kept: string },
  properties: DatabaseProperties | undefined,
): Promise<string | undefined> {
  const { admin, interruption, live } = s;
  const kept = live.exists ? await freeName(admin, names.kept) : undefined;
  interruption.check();
  // From here a signal no longer aborts: swapIn holds it until the renames are done.
  interruption.disarm();
  await swapIn(admin, s.target, {
    live,
    scratch: names.scratch,
    kept,
    confirmed: s.confirmed,
    backup: entry.name,
    owner: ownerFor(properties, live, roles),
    log: s.log,
  });
  return kept;
}

/** Reports the finished restore in one line and as the result. */
function summarize(
  s: RestoreRun,
  { entry, roles }: Prepared,
  o: {
    counts: TableCount[];
    kept: string | undefined;
    skipped: SkippedBackup[];
    timings: RestoreResult["timings"];
    started: number;
  },
): RestoreResult {
  const { counts, kept } = o;
  const seconds = (Date.now() - o.started) / 1000;
  const rows = counts.reduce((a, c) => a + c.rows, 0);
  s.log(
    `restore: ${s.expected} now holds backup ${entry.name} (${describeTables(counts.length, configurationTables(counts))}, ${rows} rows) after ${seconds.toFixed(1)}s` +
      (kept ? `; the previous database is kept as ${kept}` : ""),
  );
  return {
    backup: entry.name,
    format: entry.format,
    takenAt: entry.createdAt?.toISOString(),
    server: serverLabel(s.target.host),
    database: s.target.database,
    keptDatabase: kept,
    skipped: o.skipped,
    mappedRoles: Object.fromEntries(roles),
    tables: counts.length,
    configurationTables: configurationTables(counts),
    rows,
    seconds,
    timings: o.timings,
  };
}

/**
 * Prepares the first candidate that is not damaged. Only `--latest` moves on, and only past
 * damage (a checksum, size, gzip or zstd failure): a refusal or an outage stops the restore.
 */
async function firstUsable(
  entries: BackupEntry[],
  prepare: (e: BackupEntry) => Promise<Prepared>,
  fallBack: boolean,
  o: { log: LogFn; skipped: SkippedBackup[]; tmp: string },
): Promise<Prepared> {
  for (let i = 0; ; i++) {
    const entry = entries[i];
    try {
      return await prepare(entry);
    } catch (e) {
      const next = entries[i + 1];
      if (!(e instanceof BackupCorruptError) || !fallBack || !next) throw e;
      fs.rmSync(path.join(o.tmp, entry.blob), { force: true });
      const problem = (e as Error).message.replace(/\s*\n\s*/g, " ");
      o.skipped.push({ name: entry.name, status: "invalid", problem });
      o.log(`restore: WARNING: backup ${entry.name} is DAMAGED: ${problem}`);
      o.log(
        `restore: WARNING: falling back to the next backup, ${next.name} (created ${next.createdAt?.toISOString() ?? "unknown"}); ${entry.name} needs investigating`,
      );
    }
  }
}

/** The restore tools can read this backup (a newer pg_dump, or zstd missing, is a refusal). */
async function checkTools(entry: BackupEntry, env: NodeJS.ProcessEnv): Promise<void> {
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
}

/** Roles named in the archive; an archive this tool cannot read is left to pg_restore. */
function readRoles(file: string, log: LogFn): RoleReferences {
  try {
    return readArchiveRoles(file);
  } catch (e) {
    log(
      `restore: could not read the roles in the archive (${(e as Error).message}); pg_restore will`,
    );
    return NO_ROLES;
  }
}

function ownerFor(
  properties: DatabaseProperties | undefined,
  live: LiveState,
  roles: RoleMap,
): string | undefined {
  if (live.exists) return live.owner;
  return properties ? mapped(roles, properties.owner) : undefined;
}

/**
 * Restores a custom archive into `database` with `pg_restore -j`: table data loads in
 * parallel across tables, then index builds and constraints run in parallel too.
 * (Tried and dropped: splitting one big table's COPY over several sessions. On the 2-core
 * benchmark box the server is already CPU-bound and it gained nothing measurable.)
 */
async function restoreCustom(
  file: string,
  database: string,
  jobs: number,
  env: NodeJS.ProcessEnv,
  secrets: string[],
  log: LogFn,
  entry: BackupEntry,
  roles: RoleMap,
  onLoadStarted?: (child: ChildProcess) => void,
): Promise<void> {
  await rewriteArchive(file, jobs, roles, log);
  // Reading the table of contents checks the archive is loadable before a long restore.
  const toc = await runTool("pg_restore", ["--list", file], { env, secrets });
  const dataItems = toc.split("\n").filter((l) => /^\d+; \d+ \d+ TABLE DATA /.test(l)).length;
  // The archive's TABLE DATA entries: every table pg_dump wrote rows for, extension
  // configuration tables included, the same tables the summary counts.
  log(`restore: pg_restore -j ${jobs} into ${database} (${dataItems} tables of data)`);
  const progress = new Progress(`restore ${entry.name}`, "", log);
  let done = 0;
  // With -j a worker reports "finished item N TABLE DATA ..."; serially, the start of each.
  const pattern = jobs > 1 ? /finished item \d+ TABLE DATA / : /processing data for table /;
  const run = startTool(
    "pg_restore",
    [
      "--format=custom",
      // Owners and grants as in the source (roles checked in planRoles before anything ran).
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
        if (pattern.test(line)) progress.setTables(++done, dataItems);
      },
    },
  );
  onLoadStarted?.(run.child);
  await run.done;
  progress.setTables(dataItems, dataItems);
  progress.finish();
}

/**
 * Edits the downloaded archive in place before pg_restore reads it: data offsets for a parallel
 * restore, and the stand-ins for missing roles.
 */
async function rewriteArchive(
  file: string,
  jobs: number,
  roles: RoleMap,
  log: LogFn,
): Promise<void> {
  if (jobs > 1) {
    // A streamed dump carries no data offsets; without them parallel pg_restore cannot schedule
    // big tables first and each worker re-reads the archive to find its table.
    const t = Date.now();
    const indexed = await indexArchiveOffsets(file);
    log(
      "skipped" in indexed
        ? `restore: archive left unindexed (${indexed.skipped}); pg_restore will scan it`
        : indexed.alreadySet
          ? "restore: archive needs no indexing (offsets present, or no data)"
          : `restore: indexed ${indexed.indexed} data blocks of the archive in ${((Date.now() - t) / 1000).toFixed(1)}s`,
    );
  }
  if (roles.size > 0) {
    const changed = rewriteArchiveRoles(file, roles);
    log(
      `restore: ${changed} entries of the archive now name ${[...new Set(roles.values())].join(", ")} instead of ${[...roles.keys()].join(", ")}`,
    );
  }
}

async function restorePlain(
  file: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
  log: LogFn,
  entry: BackupEntry,
  onLoadStarted?: (child: ChildProcess) => void,
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
  onLoadStarted?.(run.child);
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

/**
 * count(*) of every row: with row_security off, a policy that would hide rows is an error, not a
 * smaller count. Tables keep their owners now, so where the restoring user may not read one
 * (or its policies apply), it counts as the table's owner, which it was able to give it to.
 */
async function countAll(c: Client, t: DataTable): Promise<number> {
  const table = `${ident(t.schema)}.${ident(t.table)}`;
  const sql = countSql(t);
  await c.query("SET row_security = off");
  try {
    return Number((await c.query(sql)).rows[0].n);
  } catch (e) {
    if (sqlState(e) !== "42501") throw e;
    const owner = await c.query(
      "SELECT pg_catalog.pg_get_userbyid(relowner) AS o FROM pg_catalog.pg_class WHERE oid = $1::regclass",
      [table],
    );
    await c.query(`SET ROLE ${ident(owner.rows[0].o)}`);
    try {
      return Number((await c.query(sql)).rows[0].n);
    } finally {
      await c.query("RESET ROLE");
    }
  }
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
          counts[i] = { schema: t.schema, table: t.table, rows: await countAll(c, t) };
          if (t.extension) counts[i].extension = t.extension.name;
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
    compareWithManifest(counts, database, entry, log);
    return counts;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** Checks the counts against the manifest: a mismatch fails only when its counts were exact. */
function compareWithManifest(
  counts: TableCount[],
  database: string,
  entry: BackupEntry,
  log: LogFn,
): void {
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
    log(
      `restore: row counts of ${describeTables(m.rowCounts.tables.length, configurationTables(m.rowCounts.tables))} match the manifest`,
    );
  } else {
    log(
      `restore: ${counts.length} tables restored (legacy dump: no manifest to compare row counts with)`,
    );
  }
}
