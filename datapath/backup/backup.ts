/**
 * backup: pg_dump straight into blob storage, then a manifest that marks it complete.
 *
 * Format: pg_dump custom format (-Fc). It streams (no temp copy of the dump) and is the only
 * streamable format pg_restore can load with parallel jobs: a dump
 * written to a pipe has no data offsets in its table of contents, but pg_restore >= 12 finds
 * the blocks by scanning when the file it reads is seekable, which the restore's downloaded
 * temp file is (checked with PostgreSQL 15 binaries: -j 2 restores a piped dump correctly).
 * Compression (see planCompression): an uncompressed archive piped through `zstd -1` when the
 * zstd program is available, else pg_dump's own lz4 (pg_dump >= 16) or gzip level 1. The blob
 * is still `NAME.dump`; the manifest says how it is wrapped.
 *
 * Consistency: a held REPEATABLE READ transaction exports its snapshot, pg_dump runs with
 * --snapshot, and per-table count(*) runs in that same snapshot while the dump streams, so the
 * manifest's row counts describe exactly the dumped data.
 *
 * Completeness: the dump blob is committed (one Put Block List, If-None-Match: *) only after
 * pg_dump exits 0 and the counts are in; its committed block list and size are checked; the
 * manifest is then written as a new blob, last. Production's container is immutable, so
 * nothing can be "marked" afterwards: no manifest means not complete.
 */
import { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { BlockBlobClient } from "@azure/storage-blob";
import { Client } from "pg";
import {
  connect,
  describeTarget,
  libpqEnv,
  PgTarget,
  resolveTarget,
  secretsOf,
  serverLabel,
  TargetSpec,
} from "../postgres/connection";
import { BackupExistsError } from "../errors";
import {
  Manifest,
  MANIFEST_FORMAT,
  serializeManifest,
  TableCount,
  toolInfo,
} from "../storage/manifest";
import {
  assertBackupName,
  dumpBlobName,
  legacyBlobName,
  manifestBlobName,
} from "../storage/naming";
import { formatBytes, formatRate, LogFn, Progress, stderrLog } from "../progress";
import { RunningTool, startTool, ToolVersion, toolVersion } from "../postgres/pgtools";
import { Compression, planCompression } from "./compression";
import {
  describeStorageError,
  downloadOrdered,
  isNotFound,
  isRestError,
  openStorage,
  probeStorage,
  Storage,
  StorageOptions,
  uploadCommitLast,
  uploadSmallNew,
  UploadResult,
} from "../storage/blobs";
import {
  DatabaseProperties,
  databaseProperties,
  referencedRoles,
  RoleReferences,
} from "../postgres/roles";
import {
  configurationTables,
  countRows,
  DataTable,
  describeTables,
  listUserTables,
  serverInfo,
  ServerInfo,
  unreadableError,
  unreadableRelations,
} from "../postgres/tables";

export type { Compression } from "./compression";

export interface BackupOptions extends TargetSpec {
  name: string;
  /** Container (else $BACKUP_CONTAINER, else database-backup). */
  container?: string;
  /** Parallel block uploads (pg_dump's custom format itself is a single stream). */
  jobs?: number;
  storage?: StorageOptions;
  env?: NodeJS.ProcessEnv;
  /** Default $PG_RECOVERY_COMPRESSION, else "auto" (see planCompression). */
  compression?: Compression;
  /** Also download the committed dump and compare its sha256 before writing the manifest. */
  verifyReadback?: boolean;
  log?: LogFn;
  /** Fault-injection hooks for tests. */
  onDumpStarted?: (child: ChildProcess) => void;
  onBytes?: (bytesUploadedSoFar: number) => void;
}

export interface BackupResult {
  name: string;
  dumpBlob: string;
  manifestBlob: string;
  where: string;
  manifest: Manifest;
  seconds: number;
}

export { BackupExistsError };

/** One backup: what it is called, what it dumps and where it goes, settled before any dump. */
interface BackupRun {
  opts: BackupOptions;
  env: NodeJS.ProcessEnv;
  log: LogFn;
  name: string;
  target: PgTarget;
  storage: Storage;
  secrets: string[];
  dumpBlob: BlockBlobClient;
  manifestBlob: BlockBlobClient;
}

/** The source database as read in the dump's snapshot, for the dump and its manifest. */
interface Source {
  server: ServerInfo;
  snap: Snapshot;
  tables: DataTable[];
  roles: RoleReferences;
  properties: DatabaseProperties | undefined;
}

/** How the dump is compressed (planCompression's answer; compression.ts keeps its type to itself). */
type CompressionPlan = Awaited<ReturnType<typeof planCompression>>;

/**
 * Checks storage and the name, dumps into an uncommitted blob, commits it, then writes the
 * manifest; see the module comment for why in that order.
 */
export async function backup(opts: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const run = openBackup(opts);
  const { env, log, name, storage } = run;

  await probeStorage(storage, log);
  await storageStep(storage, () => refuseExisting(storage, name));
  await storageStep(storage, () => ensureContainer(storage));
  const pgDump = await toolVersion("pg_dump", env);
  const plan = await planCompression(
    pgDump,
    env,
    opts.compression ?? (env.PG_RECOVERY_COMPRESSION as Compression | undefined) ?? "auto",
  );

  const client = await connectOrExplain(run.target);
  try {
    const source = await readSource(run, client, pgDump, plan);
    const { uploaded, counts } = await dumpAndUpload(run, client, source, plan);
    if (opts.verifyReadback) await verifyReadback(run, uploaded);
    const manifest = buildManifest(run, { source, pgDump, plan, uploaded, counts });
    await writeManifest(run, manifest);
    const seconds = (Date.now() - started) / 1000;
    log(
      `backup ${name}: complete, ${formatBytes(uploaded.size)} in ${seconds.toFixed(1)}s ` +
        `(${formatRate(uploaded.size, seconds * 1000)}), sha256 ${uploaded.sha256.slice(0, 16)}...`,
    );
    return {
      name,
      dumpBlob: run.dumpBlob.name,
      manifestBlob: run.manifestBlob.name,
      where: storage.where,
      manifest,
      seconds,
    };
  } finally {
    // Ending the session ends the snapshot transaction (read only: nothing to commit).
    await client.end().catch(() => undefined);
  }
}

/** Checks the name and settles the source and the storage; nothing is contacted yet. */
function openBackup(opts: BackupOptions): BackupRun {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
  const name = assertBackupName(opts.name);
  const target = resolveTarget(opts, env);
  const storage = openStorage(
    {
      ...opts.storage,
      container: opts.container ?? opts.storage?.container,
      concurrency: opts.jobs ?? opts.storage?.concurrency,
      log: opts.storage?.log ?? log,
    },
    env,
  );
  const secrets = [...secretsOf(target), ...storage.secrets];
  const dumpBlob = storage.container.getBlockBlobClient(dumpBlobName(name));
  const manifestBlob = storage.container.getBlockBlobClient(manifestBlobName(name));
  return { opts, env, log, name, target, storage, secrets, dumpBlob, manifestBlob };
}

/**
 * Refuses a server newer than pg_dump, then opens the snapshot the dump will use and reads in
 * it what the manifest records (tables, roles, database properties).
 */
async function readSource(
  { log, name, target, storage, dumpBlob }: BackupRun,
  client: Client,
  pgDump: ToolVersion,
  plan: CompressionPlan,
): Promise<Source> {
  const server = await serverInfo(client);
  if (server.major > pgDump.major) {
    throw new Error(
      `pg_dump ${pgDump.major} cannot dump a PostgreSQL ${server.major} server: set PG_BIN to PostgreSQL ${server.major} (or newer) client binaries`,
    );
  }
  // pg_dump would stop at the first table it may not read, its upload half done: name them all.
  const unreadable = await unreadableRelations(client, null);
  if (unreadable.length) {
    throw unreadableError([{ where: `in ${describeTarget(target)}`, rows: unreadable }]);
  }
  const snap = await openSnapshot(client);
  const tables = await listUserTables(client);
  // Read in the dump's snapshot, like the row counts.
  const roles = await referencedRoles(client);
  const properties = await databaseProperties(client, target.database);
  log(
    `backup ${name}: dumping ${describeTarget(target)} (${describeTables(tables.length, configurationTables(tables))}, PostgreSQL ${server.version}) ` +
      `with pg_dump ${pgDump.major} -Fc, ${plan.label}, to ${storage.where}/${dumpBlob.name}`,
  );
  return { server, snap, tables, roles, properties };
}

/**
 * Runs pg_dump (and zstd) into the dump blob while counting rows in the same snapshot; the blob
 * is committed only once both tools exited cleanly and the counts are in.
 */
async function dumpAndUpload(
  run: BackupRun,
  client: Client,
  source: Source,
  plan: CompressionPlan,
): Promise<{ uploaded: UploadResult; counts: TableCount[] }> {
  const progress = new Progress(`backup ${run.name}`, "uploaded", run.log);
  const dump = startDump(run, source, plan, progress);
  run.opts.onDumpStarted?.(dump.child);
  const counting = countRows(client, source.tables);
  counting.catch(() => undefined);
  const { zstd, output } = wrapDump(dump, plan, run.env);
  const children = [dump, ...(zstd ? [zstd] : [])];
  const uploaded = await uploadDump(run, counted(output, run.opts.onBytes), progress, {
    children,
    counting,
  });
  progress.finish();
  const counts = await counting;
  return { uploaded, counts };
}

/** Starts pg_dump on the snapshot (when exported), reporting each table it dumps as progress. */
function startDump(
  { env, target, secrets }: BackupRun,
  { snap, tables }: Source,
  plan: CompressionPlan,
  progress: Progress,
): RunningTool {
  let tablesDumped = 0;
  const args = [
    "--format=custom",
    `--compress=${plan.pgDump}`,
    "--no-password",
    "--verbose",
    // Fail clearly instead of hanging behind a migration's exclusive lock.
    "--lock-wait-timeout=120s",
  ];
  if (snap.snapshot) args.push(`--snapshot=${snap.snapshot}`);
  return startTool("pg_dump", args, {
    env: libpqEnv(target, env),
    secrets,
    onStderrLine: (line) => {
      if (/dumping contents of table/.test(line)) {
        progress.setTables(++tablesDumped, tables.length);
      }
    },
  });
}

/** What to upload: pg_dump's output, or zstd's when the plan wraps the archive in zstd. */
function wrapDump(
  dump: RunningTool,
  plan: CompressionPlan,
  env: NodeJS.ProcessEnv,
): { zstd?: RunningTool; output: Readable } {
  // pg_dump -> (zstd) -> upload. zstd reads pg_dump's pipe directly: relaying the raw
  // archive through this process cost a third of a core.
  if (plan.wrapper !== "zstd") return { output: dump.child.stdout! };
  const zstd = startTool("zstd", ["-1", "-q", "-c"], {
    env,
    stdio: [dump.child.stdout!, "pipe", "pipe"],
  });
  // zstd holds the pipe now; our copy would keep pg_dump's "close" from ever firing.
  dump.child.stdout!.destroy();
  return { zstd, output: zstd.child.stdout! };
}

/** Passes `upload` through, telling the onBytes test hook how many bytes have gone so far. */
async function* counted(
  upload: Readable,
  onBytes: ((bytesUploadedSoFar: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  let sent = 0;
  for await (const chunk of upload as AsyncIterable<Buffer>) {
    sent += chunk.length;
    onBytes?.(sent);
    yield chunk;
  }
}

/**
 * Uploads the dump stream and commits it only after `children` exited 0 and `counting` is
 * done. On failure stops the children and reports that nothing was marked complete.
 */
async function uploadDump(
  { name, storage, dumpBlob }: BackupRun,
  source: AsyncIterable<Buffer>,
  progress: Progress,
  o: { children: RunningTool[]; counting: Promise<TableCount[]> },
): Promise<UploadResult> {
  const { children, counting } = o;
  try {
    return await uploadCommitLast(dumpBlob, source, {
      blockSize: storage.blockSize,
      concurrency: storage.concurrency,
      contentType: "application/octet-stream",
      metadata: { format: "pg_dump-custom", backup: name },
      onBytes: (n) => progress.addBytes(n),
      // Commit only a dump that pg_dump (and zstd) finished cleanly: a killed pg_dump still
      // closes its pipe, so "the stream ended" alone proves nothing.
      beforeCommit: async () => {
        for (const c of children) await c.done;
        await counting;
      },
    });
  } catch (e) {
    // A storage failure stops reading the pipe; make sure nothing lingers either.
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGTERM");
    await Promise.all(children.map((c) => c.done.catch(() => undefined)));
    throw new Error(`backup ${name} failed, nothing was marked complete: ${explain(e, storage)}`);
  }
}

/** --verify-readback: downloads the committed dump and refuses one whose sha256 differs. */
async function verifyReadback(
  { name, storage, dumpBlob }: BackupRun,
  uploaded: UploadResult,
): Promise<void> {
  const sha = createHash("sha256");
  for await (const chunk of downloadOrdered(dumpBlob, {
    size: uploaded.size,
    chunkSize: storage.blockSize,
    concurrency: storage.concurrency,
  })) {
    sha.update(chunk);
  }
  if (sha.digest("hex") !== uploaded.sha256) {
    throw new Error(
      `backup ${name}: the committed dump does not read back identically; it stays incomplete (no manifest). Take the backup again under a new name.`,
    );
  }
}

/** The manifest that marks the backup complete: source, tools, the dump blob and row counts. */
function buildManifest(
  { name, target, dumpBlob }: BackupRun,
  o: {
    source: Source;
    pgDump: ToolVersion;
    plan: CompressionPlan;
    uploaded: UploadResult;
    counts: TableCount[];
  },
): Manifest {
  const { server, snap, roles, properties } = o.source;
  const { plan, uploaded } = o;
  return {
    format: MANIFEST_FORMAT,
    name,
    createdAt: snap.at.toISOString(),
    completedAt: new Date().toISOString(),
    tool: toolInfo(),
    database: {
      name: target.database,
      encoding: server.encoding,
      collate: server.collate,
      ctype: server.ctype,
      properties,
    },
    roles,
    server: {
      version: server.version,
      versionNum: server.versionNum,
      host: serverLabel(target.host),
    },
    client: { pgDump: o.pgDump.text },
    dump: {
      blob: dumpBlob.name,
      format: "custom",
      compression: plan.compression,
      wrapper: plan.wrapper,
      size: uploaded.size,
      sha256: uploaded.sha256,
    },
    rowCounts: {
      exact: snap.snapshot !== undefined,
      note: snap.snapshot
        ? "counted in the dump's exported snapshot"
        : `snapshot export failed (${snap.error}); counted in a separate snapshot taken just before the dump, so tables written during the dump may differ`,
      tables: o.counts,
    },
  };
}

/** Writes the manifest, last: until it exists the backup is incomplete. */
async function writeManifest(
  { name, storage, manifestBlob }: BackupRun,
  manifest: Manifest,
): Promise<void> {
  try {
    await uploadSmallNew(manifestBlob, serializeManifest(manifest), "application/json");
  } catch (e) {
    throw new Error(
      `backup ${name}: the dump was uploaded but its manifest could not be written (${explain(e, storage)}); ` +
        `the backup is incomplete and, in an immutable container, its name cannot be reused: take it again under a new name`,
    );
  }
}

function explain(e: unknown, storage: Storage): string {
  return isRestError(e) || (e as { name?: string })?.name === "RestError"
    ? describeStorageError(e, storage)
    : ((e as Error)?.message ?? String(e));
}

async function storageStep<T>(storage: Storage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BackupExistsError) throw e;
    throw new Error(describeStorageError(e, storage));
  }
}

/** Refuses a name that any backup blob (ours or legacy) already uses. */
async function refuseExisting(storage: Storage, name: string): Promise<void> {
  const taken: string[] = [];
  for (const blob of [dumpBlobName(name), manifestBlobName(name), legacyBlobName(name)]) {
    try {
      if (await storage.container.getBlobClient(blob).exists()) taken.push(blob);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  if (taken.length) {
    throw new BackupExistsError(
      `backup "${name}" already exists in ${storage.where} (${taken.join(", ")}); backups are never overwritten: choose another --name`,
    );
  }
}

/** Creates the container when allowed; production's exists and may deny creation (fine). */
async function ensureContainer(storage: Storage): Promise<void> {
  try {
    await storage.container.createIfNotExists();
  } catch (e) {
    if (isRestError(e) && (e.statusCode === 403 || e.statusCode === 409)) return;
    throw e;
  }
}

async function connectOrExplain(target: PgTarget): Promise<Client> {
  try {
    return await connect(target);
  } catch (e) {
    throw new Error(`cannot connect to ${describeTarget(target)}: ${(e as Error).message}`);
  }
}

/** The held transaction's snapshot: exported for pg_dump --snapshot, or why it could not be. */
interface Snapshot {
  snapshot?: string;
  at: Date;
  error?: string;
}

/** Opens the held transaction and exports its snapshot for pg_dump --snapshot. */
async function openSnapshot(client: Client): Promise<Snapshot> {
  // A role-level statement or idle timeout must not kill the counts or the held snapshot.
  await client.query("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0");
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const r = await client.query("SELECT pg_export_snapshot() AS s, now() AS at");
    return { snapshot: r.rows[0].s, at: r.rows[0].at };
  } catch (e) {
    // E.g. a server or role that cannot export snapshots: count in our own snapshot instead.
    await client.query("ROLLBACK");
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const r = await client.query("SELECT now() AS at");
    return { at: r.rows[0].at, error: (e as Error).message };
  }
}
