/**
 * `npm run bench [-- --size-mb 1024 --jobs 4 --keep]`: a benchmark, not a test.
 *
 * On a generated database (pgbench data, default ~1 GB), in one run against the same local
 * PostgreSQL and the same Azurite:
 *   runbook path: pg_dump --clean --if-exists --no-owner --compress=1 (plain SQL) -> upload,
 *                 then download -> gunzip | psql into a fresh database;
 *   this tool:    backup (custom format, snapshot row counts, verified upload + manifest),
 *                 then restore (checksum, parallel pg_restore, verify counts, swap).
 * The runbook path is streamed end to end (its workflows write a file first), so the
 * comparison flatters it. Then `verify` of source vs restored, for throughput.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";
import { Client } from "pg";
import { backup } from "../datapath/backup";
import { restore } from "../datapath/restore";
import { verifyDatabases } from "../datapath/verify";
import { Azurite, startAzurite } from "./azurite";
import { bin, cluster, serverDir, Server } from "./pg-server";

const MB = 1024 * 1024;
/** pgbench's initial data is ~15 MB per scale unit including its primary keys. */
const MB_PER_SCALE = 15.6;
/** An app-like events row (jsonb, random text, two secondary indexes) is ~330 bytes on disk. */
const EVENT_BYTES = 330;

interface Timed {
  backupS: number;
  restoreS: number;
  bytesStored: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "1024" },
      jobs: { type: "string", default: "4" },
      keep: { type: "boolean", default: false },
    },
  });
  const sizeMb = Number(values["size-mb"]);
  const jobs = Number(values.jobs);
  if (!Number.isFinite(sizeMb) || sizeMb < 16 || !Number.isInteger(jobs) || jobs < 1) {
    process.stderr.write("usage: npm run bench -- [--size-mb N>=16] [--jobs N>=1] [--keep]\n");
    return 2;
  }
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pgr-bench-")));
  const c = cluster(base);
  let server: Server | undefined;
  let azurite: Azurite | undefined;
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    log(`bench: PostgreSQL (${bin("postgres")}) and Azurite on 127.0.0.1, work dir ${base}`);
    await c.initdb(path.join(base, "data"));
    // Server settings shared by both paths: a checkpoint storm would time the disk, not the tools.
    server = await c.start("bench", path.join(base, "data"), {
      shared_buffers: "256MB",
      max_wal_size: "8GB",
      checkpoint_timeout: "30min",
      max_connections: "50",
    });
    azurite = await startAzurite();
    const env = {
      ...process.env,
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      BACKUP_CONTAINER: "bench",
    };

    // pgbench data alone compresses ~60:1 (blank filler); 60% of the size is app-like rows with
    // random text and jsonb, so compression and index builds weigh as they do in production.
    const scale = Math.max(1, Math.round((sizeMb * 0.4) / MB_PER_SCALE));
    const events = Math.round((sizeMb * 0.6 * MB) / EVENT_BYTES);
    log(`-- generating ~${sizeMb} MB (pgbench -i -s ${scale}, ${events} event rows)`);
    await query(server.url(), "CREATE DATABASE src");
    await run(
      bin("pgbench"),
      ["-i", "-q", "-s", String(scale), "-d", "src"],
      pgEnv(server, c.password),
    );
    await query(server.url("src"), EVENTS_DDL(events));
    await query(server.url("src"), "VACUUM ANALYZE");
    const dbBytes = Number(
      (await query(server.url("src"), "SELECT pg_database_size('src') AS b")).rows[0].b,
    );
    log(`   database size ${(dbBytes / MB).toFixed(0)} MB`);

    log(
      "-- runbook path: pg_dump --clean --if-exists --no-owner --compress=1 | upload; download | gunzip | psql",
    );
    const runbook = await runbookPath(server, c.password, azurite.connectionString);

    log(`-- this tool: backup; restore (--jobs ${jobs})`);
    const t0 = Date.now();
    const b = await backup({
      url: server.url("src"),
      name: "ptt_bench_adhoc_2024-07-24",
      env,
      jobs,
      log,
    });
    const t1 = Date.now();
    const r = await restore({ url: server.url("tool_target"), name: b.name, env, jobs, log });
    const t2 = Date.now();
    const phases = Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`);
    const tool: Timed = {
      backupS: (t1 - t0) / 1000,
      restoreS: (t2 - t1) / 1000,
      bytesStored: b.manifest.dump.size,
    };

    log("-- verify: src vs tool_target");
    const v0 = Date.now();
    const report = await verifyDatabases({
      source: server.url("src"),
      target: server.url("tool_target"),
      jobs: 2,
    });
    const verifyS = (Date.now() - v0) / 1000;

    const rows = [
      ["runbook path", runbook],
      ["pg-recovery-data", tool],
    ] as const;
    const total = (t: Timed) => t.backupS + t.restoreS;
    const mbps = (s: number) => (dbBytes / MB / s).toFixed(1);
    const out = [
      `database: ${(dbBytes / MB).toFixed(0)} MB (pgbench scale ${scale}), ${os.cpus().length} cores, PostgreSQL ${path.basename(path.dirname(path.dirname(bin("x"))))}, jobs ${jobs}`,
      "",
      "| path | backup (dump+upload) | restore (download+load) | end to end | MB/s end to end | stored |",
      "|---|---|---|---|---|---|",
      ...rows.map(
        ([name, t]) =>
          `| ${name} | ${t.backupS.toFixed(1)} s | ${t.restoreS.toFixed(1)} s | ${total(t).toFixed(1)} s | ${mbps(total(t))} | ${(t.bytesStored / MB).toFixed(0)} MB |`,
      ),
      "",
      `this tool's restore phases: ${phases.join(", ")}`,
      `speed-up end to end: ${(total(runbook) / total(tool)).toFixed(2)}x (target >= 2x)`,
      `verify src vs restored: ${verifyS.toFixed(1)} s, ${mbps(verifyS)} MB/s per side (${report.differences.length} differences)`,
    ];
    process.stdout.write(`${out.join("\n")}\n`);
    return report.differences.length === 0 ? 0 : 1;
  } finally {
    await azurite?.stop();
    await server?.stop();
    if (!values.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}

async function runbookPath(
  server: Server,
  password: string,
  connectionString: string,
): Promise<Timed> {
  const container =
    BlobServiceClient.fromConnectionString(connectionString).getContainerClient("runbook");
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient("ptt_bench_adhoc_2024-07-24.sql.gz");
  const env = pgEnv(server, password);

  const t0 = Date.now();
  const dump = spawn(
    bin("pg_dump"),
    ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", "-d", "src"],
    {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const dumped = exited(dump, "pg_dump");
  await blob.uploadStream(dump.stdout, 8 * MB, 4);
  await dumped;
  const t1 = Date.now();

  await query(server.url(), "CREATE DATABASE runbook_target");
  const psql = spawn(bin("psql"), ["-q", "-v", "ON_ERROR_STOP=1", "-d", "runbook_target"], {
    env,
    stdio: ["pipe", "ignore", "inherit"],
  });
  const loaded = exited(psql, "psql");
  const download = await blob.download();
  await pipeline(
    download.readableStreamBody as Readable,
    createGunzip(),
    new PassThrough(),
    psql.stdin,
  );
  await loaded;
  const t2 = Date.now();
  const props = await blob.getProperties();
  return {
    backupS: (t1 - t0) / 1000,
    restoreS: (t2 - t1) / 1000,
    bytesStored: props.contentLength ?? 0,
  };
}

const EVENTS_DDL = (rows: number) => `
  CREATE TABLE events (
    id bigserial PRIMARY KEY,
    account_id integer NOT NULL,
    created_at timestamptz NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    body text
  );
  INSERT INTO events (account_id, created_at, kind, payload, body)
  SELECT (random() * 100000)::int,
         timestamptz '2024-07-24 06:00:00+00' - g * interval '1 second',
         (ARRAY['created', 'updated', 'published', 'withdrawn'])[1 + g % 4],
         jsonb_build_object('n', g, 'ref', md5(g::text), 'score', round(random()::numeric, 4)),
         md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text)
  FROM generate_series(1, ${rows}) AS g;
  CREATE INDEX events_account_id ON events (account_id);
  CREATE INDEX events_created_at ON events (created_at);`;

function pgEnv(server: Server, password: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: "127.0.0.1",
    PGPORT: String(server.port),
    PGUSER: "postgres",
    PGPASSWORD: password,
  };
}

async function query(url: string, sql: string) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`)),
    );
  });
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await exited(
    spawn(cmd, args, { env, stdio: ["ignore", "ignore", "inherit"] }),
    path.basename(cmd),
  );
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
