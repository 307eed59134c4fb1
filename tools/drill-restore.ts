/**
 * `npm run drill -- --scenario drill`: rehearses the restore drill's data part on real
 * PostgreSQL and Azurite, with the data tool run exactly as the drill's Jobs run it (the
 * contract's drillInvocations, through the CLI's own entry point):
 *
 * primary with WAL archiving -> base backup -> writes -> T -> more writes (inserts, updates,
 * deletes, a table with no write-time column) -> nightly backups in Azurite (a legacy `.sql.gz`,
 * one in the tool's format, a damaged newest) -> the drill server: the base backup replayed to T,
 * on 127.0.0.2 at live's port (a restored server keeps live's credentials and port; only the host
 * differs, as in Azure) -> `verify --drill` and `restore --latest` -> the legacy nightly restored
 * by name and counted.
 *
 * `--break-table schema.table` truncates that table on the drill server first: the drill must
 * fail, naming it. Not the corrupted-path rehearsal (tools/drill.ts), which `npm run drill` runs
 * by default.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { buildArgv, Invocation } from "../contract/data-tool";
import { DrillCheck, drillInvocations, parseCheckLines } from "../contract/drill-check";
import { formatRfc3339InZone, parseRfc3339 } from "../contract/time";
import { main as dataTool } from "../datapath/cli";
import { backup } from "../datapath/backup/backup";
import { parseManifest } from "../datapath/storage/manifest";
import { startAzurite } from "../test/support/azurite";
import {
  archiveThroughNow,
  asServerUser,
  Cluster,
  cluster,
  PG_BIN,
  Server,
  serverDir,
} from "../test/support/pg-server";

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RestoreDrillOptions {
  /** Truncate this table (schema.table) on the drill server before the checks. */
  breakTable?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface RestoreDrillResult {
  ok: boolean;
  restoreTarget: string;
  checks: (DrillCheck & { run: string })[];
  failed: string[];
  exitCodes: Record<string, number>;
  dir: string;
}

const SHORT = "qa";
const DRILL_HOST = "127.0.0.2";
/** No write starts within this many ms of T, so every row falls clearly on one side. */
const QUIET_MS = 300;

const SCHEMA = `
  CREATE TABLE courses (id serial PRIMARY KEY, name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE sites (id int PRIMARY KEY, code text NOT NULL,
    updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'));
  CREATE TABLE audits (id serial PRIMARY KEY, note text NOT NULL);
  INSERT INTO courses (name) SELECT 'course ' || g FROM generate_series(1, 200) g;
  INSERT INTO sites (id, code) SELECT g, 'S' || g FROM generate_series(1, 50) g;
  INSERT INTO audits (note) SELECT 'seed ' || g FROM generate_series(1, 30) g;`;

const BEFORE_T = `
  INSERT INTO courses (name) SELECT 'before ' || g FROM generate_series(1, 20) g;
  UPDATE sites SET code = code || '-b', updated_at = now() AT TIME ZONE 'UTC' WHERE id <= 10;`;

/** After T: new rows, changed rows, deleted rows, and rows in a table with no time column. */
const AFTER_T = `
  INSERT INTO courses (name) SELECT 'after ' || g FROM generate_series(1, 15) g;
  UPDATE courses SET name = name || ' (renamed)', updated_at = now() WHERE id BETWEEN 1 AND 5;
  DELETE FROM courses WHERE id BETWEEN 6 AND 8;
  UPDATE sites SET code = code || '-a', updated_at = now() AT TIME ZONE 'UTC' WHERE id > 45;
  INSERT INTO audits (note) SELECT 'after ' || g FROM generate_series(1, 4) g;`;

async function sql(url: string, text: string): Promise<void> {
  const c = new Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Where the restore drill works and what it started (the servers are stopped at the end). */
interface RestoreDrillRun {
  base: string;
  archive: string;
  cl: Cluster;
  servers: Server[];
  log: (line: string) => void;
}

/** The backup container in Azurite, as the nightlies and the data tool's Jobs see it. */
interface Storage {
  connectionString: string;
  container: string;
}

/** The restore drill's data part, end to end; servers, Azurite and work dir go at the end. */
export async function runRestoreDrill(opts: RestoreDrillOptions = {}): Promise<RestoreDrillResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pg-recovery-restore-drill-")));
  const archive = serverDir(path.join(base, "wal-archive"));
  const run: RestoreDrillRun = { base, archive, cl: cluster(base), servers: [], log };
  const azurite = await startAzurite();
  try {
    log(`pg-recovery restore drill rehearsal (work dir ${base})`);
    const { primary, app, tTyped } = await writeLive(run);

    const storage = { connectionString: azurite.connectionString, container: "database-backup" };
    const env = dataToolEnv(app, storage);
    await nightlies(app, env, storage);
    log(`   nightlies in Azurite: legacy .sql.gz, tool format, damaged newest`);

    const drillUrl = await startDrillServer(run, primary, app, tTyped);
    if (opts.breakTable) {
      await sql(drillUrl, `TRUNCATE ${opts.breakTable}`);
      log(`   broken on purpose: TRUNCATE ${opts.breakTable} on the drill server`);
    }

    const { checks, exitCodes } = await runDrillChecks(tTyped, env, log);
    const failed = checks.filter((c) => c.outcome === "failed").map((c) => c.check);
    const ok = failed.length === 0 && Object.values(exitCodes).every((c) => c === 0);
    log(
      ok
        ? "RESTORE DRILL PASSED"
        : `RESTORE DRILL FAILED: ${failed.join(", ") || "a run exited non-zero"}`,
    );
    return { ok, restoreTarget: tTyped, checks, failed, exitCodes, dir: base };
  } finally {
    await Promise.all(run.servers.map((s) => s.stop()));
    await azurite.stop();
    if (!opts.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Live before the incident: a primary archiving its WAL, the `app` database and its base
 * backup, writes before T, a quiet moment around T, then writes after it.
 */
async function writeLive(
  run: RestoreDrillRun,
): Promise<{ primary: Server; app: string; tTyped: string }> {
  const primary = await run.cl.startArchiving(
    "primary",
    path.join(run.base, "primary"),
    run.archive,
  );
  run.servers.push(primary);
  await sql(primary.url(), "CREATE DATABASE app");
  const app = primary.url("app");
  await sql(app, SCHEMA);
  await run.cl.basebackup(primary, path.join(run.base, "basebackup"));
  await sql(app, BEFORE_T);
  // T on a whole second, as an operator (and Azure's 1 s resolution) gives it.
  await sleep(QUIET_MS);
  const T = Math.ceil(Date.now() / 1000) * 1000;
  const tTyped = formatRfc3339InZone(T, "Europe/London");
  await sleep(T + QUIET_MS - Date.now());
  await sql(app, AFTER_T);
  run.log(`   live written before and after T = ${tTyped}`);
  return { primary, app, tTyped };
}

/** The environment the drill's Jobs give the data tool: live's URL and the backup storage. */
function dataToolEnv(app: string, storage: Storage): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PG_BIN,
    DATABASE_URL: app,
    AZURE_STORAGE_CONNECTION_STRING: storage.connectionString,
    BACKUP_CONTAINER: storage.container,
  };
}

/**
 * The drill server: once the WAL is archived, the base backup replayed to T and promoted, on
 * the drill host at live's port. Returns its URL for the `app` database.
 */
async function startDrillServer(
  run: RestoreDrillRun,
  primary: Server,
  app: string,
  tTyped: string,
): Promise<string> {
  await waitArchived(primary);
  const drillDir = path.join(run.base, "drill");
  const socketDir = serverDir(path.join(run.base, "drill-socket"));
  await asServerUser("cp", ["-a", path.join(run.base, "basebackup"), drillDir]);
  await asServerUser("touch", [path.join(drillDir, "recovery.signal")]);
  const drill = await run.cl.start("drill", drillDir, {
    restore_command: `cp '${run.archive}/%f' '%p'`,
    recovery_target_time: parseRfc3339(tTyped).postgres,
    recovery_target_action: "promote",
    archive_mode: "off",
    // Live's port on another loopback address: only the host differs, as for an Azure PITR.
    listen_addresses: DRILL_HOST,
    port: String(primary.port),
    unix_socket_directories: socketDir,
  });
  run.servers.push(drill);
  const drillUrl = app.replace("127.0.0.1", DRILL_HOST);
  await waitPromoted(drillUrl);
  run.log(`   drill server: the base backup replayed to T, on ${DRILL_HOST}:${primary.port}`);
  return drillUrl;
}

/**
 * The drill's checks as its Jobs run them (verify, restore the latest backup), plus the legacy
 * nightly restored by name; logs every check line and returns them with each run's exit code.
 */
async function runDrillChecks(
  tTyped: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<Pick<RestoreDrillResult, "checks" | "exitCodes">> {
  const run = drillInvocations({ drillHost: DRILL_HOST, restoreTarget: tTyped });
  const legacy: Invocation = {
    command: "restore",
    options: {
      name: `ptt_${SHORT}_2026-11-22.sql.gz`,
      dbEnv: "DATABASE_URL",
      dbHost: DRILL_HOST,
      dbName: "pgr_drill_legacy",
      json: true,
    },
  };
  const checks: RestoreDrillResult["checks"] = [];
  const exitCodes: Record<string, number> = {};
  for (const [name, invocation] of [
    ["verify", run.verify],
    ["restore-latest", run.restore],
    ["restore-legacy", legacy],
  ] as const) {
    const out: string[] = [];
    const err: string[] = [];
    const argv = buildArgv(invocation as Invocation<string>);
    exitCodes[name] = await dataTool(argv, {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      env,
    });
    const found = parseCheckLines(out.join(""));
    if (found.length === 0) log(`   ${name}: no check line; stderr: ${err.join("").slice(-500)}`);
    checks.push(...found.map((c) => ({ ...c, run: name })));
  }
  for (const c of checks) {
    log(
      `  ${c.outcome === "failed" ? "FAIL" : c.outcome === "passed" ? "PASS" : "NOTE"}  [${c.run}] ${c.check}: ${c.detail}`,
    );
  }
  return { checks, exitCodes };
}

/** Three nightlies, oldest first: legacy plain `.sql.gz`, the tool's format, a damaged copy. */
async function nightlies(app: string, env: NodeJS.ProcessEnv, storage: Storage): Promise<void> {
  const client = BlobServiceClient.fromConnectionString(
    storage.connectionString,
  ).getContainerClient(storage.container);
  await client.createIfNotExists();
  // Exactly what the team's nightly workflow runs.
  const { stdout } = await execFileAsync(
    path.join(PG_BIN, "pg_dump"),
    ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", app],
    { encoding: "buffer", maxBuffer: 256 << 20 },
  );
  const plain = stdout as unknown as Buffer;
  await client.getBlockBlobClient(`ptt_${SHORT}_2026-11-22.sql.gz`).upload(plain, plain.length);
  const good = `ptt_${SHORT}_2026-11-23`;
  await backup({ name: good, url: app, env, log: () => undefined });
  // The newest: the good one with a byte flipped in the middle of its dump.
  const bad = `ptt_${SHORT}_2026-11-24`;
  const m = parseManifest(
    (await client.getBlobClient(`${good}.manifest.json`).downloadToBuffer()).toString(),
  );
  const data = Buffer.from(await client.getBlobClient(m.dump.blob).downloadToBuffer());
  data[Math.floor(data.length / 2)] ^= 0xff;
  m.name = bad;
  m.dump.blob = m.dump.blob.replace(good, bad);
  m.createdAt = new Date(Date.now() + 60_000).toISOString();
  await client.getBlockBlobClient(m.dump.blob).upload(data, data.length);
  const body = JSON.stringify(m);
  await client.getBlockBlobClient(`${bad}.manifest.json`).upload(body, body.length);
}

async function waitArchived(primary: Server): Promise<void> {
  const c = new Client({ connectionString: primary.url() });
  await c.connect();
  try {
    await archiveThroughNow(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function waitPromoted(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const c = new Client({ connectionString: url.replace(/\/app$/, "/postgres") });
      c.on("error", () => undefined);
      await c.connect();
      try {
        if (!(await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0].r) return;
      } finally {
        await c.end().catch(() => undefined);
      }
    } catch {
      // Not accepting connections yet.
    }
    await sleep(100);
  }
  throw new Error("the drill server did not leave recovery within 60 s");
}
