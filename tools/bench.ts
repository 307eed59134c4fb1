/**
 * `npm run bench [-- --size-mb 1024 --jobs 4 --runs 3 --keep --suite all]`: a benchmark, not a test
 * (`npm run bench -- --help` lists the options).
 *
 * On a generated database (pgbench data plus app-like rows, default ~1 GB), against the same
 * local PostgreSQL and the same Azurite, each run times three paths from dump to loaded copy:
 *   runbook path, as its workflows run it (DFE-Digital/github-actions backup-postgres and
 *     restore-postgres-backup): pg_dump -E utf8 --clean --if-exists --no-owner --compress=1
 *     -f FILE, then upload FILE; download FILE, then gzip -dc FILE | psql;
 *   runbook path, streamed: the same commands piped end to end with no files (its best case);
 *   this tool: backup (custom format through zstd, snapshot row counts, verified upload,
 *     manifest), then restore (verified download, parallel pg_restore into a fresh database,
 *     row counts, ANALYZE, swap).
 * Fairness: before every timed phase the OS page cache is flushed (sync) and the server
 * checkpoints, so no path pays for the previous one's writeback; the order of the paths
 * alternates between runs and medians are reported. After the runs, `verify` of the source
 * against the tool's copy gives its throughput, and the server-side work alone (a dump to
 * /dev/null and the tool's pg_restore phase) bounds what any logical path can reach here.
 * Then the promotion suite (bench-promotion.ts); `--suite backup|promotion` runs one of the two,
 * `--suite startup` times each CLI's start (bench-startup.ts, not part of `all`).
 */
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";
import { backup } from "../datapath/backup/backup";
import { restore } from "../datapath/restore/restore";
import { verifyDatabases } from "../datapath/verify/verify";
import { Azurite, startAzurite } from "../test/support/azurite";
import {
  BENCH_SERVER_SETTINGS,
  CommandFailed,
  exited,
  mark,
  Mark,
  median,
  pgEnv,
  query,
  run,
  runbookDump,
  runbookRestore,
  sweepStaleWorkDirs,
  WORK_DIR_PREFIX,
} from "./bench-common";
import { isPromotionPath, PROMOTION_PATHS, runPromotionBench } from "./bench-promotion";
import { runStartupBench } from "./bench-startup";
import { bin, cluster, serverDir, Server } from "../test/support/pg-server";

const MB = 1024 * 1024;
/** pgbench's initial data is ~15 MB per scale unit including its primary keys. */
const MB_PER_SCALE = 15.6;
/** An app-like events row (jsonb, random text, two secondary indexes) is ~330 bytes on disk. */
const EVENT_BYTES = 330;

interface Timed {
  backupS: number;
  restoreS: number;
  /** Busy CPU-seconds of the whole machine (server, clients, Azurite) during each phase. */
  backupCpu: number;
  restoreCpu: number;
  bytesStored: number;
  /** The tool's restore phases (download, restore, verify, swap), seconds. */
  phases?: Record<string, number>;
}

type PathName = "workflows" | "streamed" | "tool";
const LABELS: Record<PathName, string> = {
  workflows: "runbook path, as its workflows run it",
  streamed: "runbook path, streamed (no files)",
  tool: "pg-recovery-data",
};

interface Bench {
  server: Server;
  password: string;
  azurite: Azurite;
  work: string;
  jobs: number;
  log: (s: string) => void;
}

const USAGE = `usage: npm run bench -- [options]
  --suite all|backup|promotion|startup  what to measure (default all: backup, then promotion)
  --size-mb N       generated database size, N >= 16 (default 1024)
  --jobs N          parallel jobs of the tool's paths (default 4)
  --runs N          runs of each path, order alternating; medians reported (default 3)
  --paths a,b       promotion suite: only these paths (${PROMOTION_PATHS.join(", ")})
  --keep            keep the work directory (servers' data) afterwards
  --help            this text
`;

function parseOptions() {
  return parseArgs({
    options: {
      "size-mb": { type: "string", default: "1024" },
      jobs: { type: "string", default: "4" },
      runs: { type: "string", default: "3" },
      keep: { type: "boolean", default: false },
      // backup: the backup/restore paths; promotion: bench-promotion.ts; all: both;
      // startup: bench-startup.ts.
      suite: { type: "string", default: "all" },
      paths: { type: "string" },
      help: { type: "boolean", default: false },
    },
  }).values;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const o = readOptions();
  if (typeof o === "number") return o;
  sweepStaleWorkDirs(os.tmpdir(), log);
  if (o.suite === "promotion") return promotionSuite(o);
  if (o.suite === "startup") return runStartupBench({ runs: o.runs, log });
  const code = await runBackupBench(o);
  return o.suite === "all" ? Math.max(code, await promotionSuite(o)) : code;
}

/** The command line, checked. */
interface BenchOptions {
  suite: string;
  sizeMb: number;
  jobs: number;
  runs: number;
  keep: boolean;
  /** `--paths`: only these promotion paths (all when undefined). */
  paths?: (typeof PROMOTION_PATHS)[number][];
}

/**
 * The command line's options; or the exit code when it asks for the usage (0, on stdout) or is
 * wrong (2, the usage on stderr).
 */
function readOptions(): BenchOptions | number {
  let values: ReturnType<typeof parseOptions>;
  try {
    values = parseOptions();
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = {
    suite: values.suite,
    sizeMb: Number(values["size-mb"]),
    jobs: Number(values.jobs),
    runs: Number(values.runs),
    keep: values.keep === true,
    only: values.paths?.split(",").map((p) => p.trim()),
  };
  const problem = optionProblem(o);
  if (problem !== undefined) {
    process.stderr.write(`${problem}${USAGE}`);
    return 2;
  }
  return { ...o, paths: o.only?.filter(isPromotionPath) };
}

/**
 * What is wrong with the options: a line to print before the usage, "" when the usage says it
 * (a number out of range, an unknown suite), undefined when nothing is.
 */
function optionProblem(o: {
  suite: string;
  sizeMb: number;
  jobs: number;
  runs: number;
  only?: string[];
}): string | undefined {
  const unknown = o.only?.filter((p) => !isPromotionPath(p)) ?? [];
  if (unknown.length) return `bench: unknown path ${unknown.join(", ")}\n`;
  if (o.only && !["all", "promotion"].includes(o.suite)) {
    return `bench: --paths picks promotion paths; --suite ${o.suite} has none\n`;
  }
  const wrong =
    !Number.isFinite(o.sizeMb) ||
    o.sizeMb < 16 ||
    !Number.isInteger(o.jobs) ||
    o.jobs < 1 ||
    !Number.isInteger(o.runs) ||
    o.runs < 1 ||
    !["all", "backup", "promotion", "startup"].includes(o.suite);
  return wrong ? "" : undefined;
}

function promotionSuite(o: BenchOptions): Promise<number> {
  return runPromotionBench({
    sizeMb: o.sizeMb,
    jobs: o.jobs,
    runs: o.runs,
    keep: o.keep,
    paths: o.paths,
    log,
  });
}

/**
 * The backup suite: one server and Azurite in a fresh work directory, the generated source, the
 * timed runs of each path, then verify and the server-side floor, and the report on stdout. 0
 * when verify finds the tool's copy equal to the source. The work directory is removed unless
 * `--keep`.
 */
async function runBackupBench(o: BenchOptions): Promise<number> {
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), WORK_DIR_PREFIX)));
  const c = cluster(base);
  let server: Server | undefined;
  let azurite: Azurite | undefined;
  try {
    log(`bench: PostgreSQL (${bin("postgres")}) and Azurite on 127.0.0.1, work dir ${base}`);
    await c.initdb(path.join(base, "data"));
    // One server for all paths, with the benchmarks' settings.
    server = await c.start("bench", path.join(base, "data"), {
      ...BENCH_SERVER_SETTINGS,
      max_connections: "50",
    });
    azurite = await startAzurite();
    const work = fs.mkdtempSync(path.join(base, "files-"));
    const b: Bench = { server, password: c.password, azurite, work, jobs: o.jobs, log };

    const source = await generateSource(b, o.sizeMb);
    const results = await timePaths(b, o.runs);
    const verified = await verifyToolCopy(b);
    const dumpFloorS = await timeDumpFloor(b);
    const facts = { ...source, ...verified, dumpFloorS, jobs: o.jobs, runs: o.runs };
    process.stdout.write(backupReport(results, facts));
    return verified.differences === 0 ? 0 : 1;
  } finally {
    await azurite?.stop();
    await server?.stop();
    if (!o.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}

/** The source database `src`, of about `sizeMb`: pgbench's tables and the events table. */
async function generateSource(
  b: Bench,
  sizeMb: number,
): Promise<{ scale: number; events: number; dbBytes: number }> {
  // pgbench data alone compresses ~60:1 (blank filler); 60% of the size is app-like rows with
  // random text and jsonb, so compression and index builds weigh as they do in production.
  const scale = Math.max(1, Math.round((sizeMb * 0.4) / MB_PER_SCALE));
  const events = Math.round((sizeMb * 0.6 * MB) / EVENT_BYTES);
  log(`-- generating ~${sizeMb} MB (pgbench -i -s ${scale}, ${events} event rows)`);
  await query(b.server.url(), "CREATE DATABASE src");
  await run(
    bin("pgbench"),
    ["-i", "-q", "-s", String(scale), "-d", "src"],
    pgEnv(b.server, b.password),
  );
  await query(b.server.url("src"), EVENTS_DDL(events));
  await query(b.server.url("src"), "VACUUM ANALYZE");
  const dbBytes = Number(
    (await query(b.server.url("src"), "SELECT pg_database_size('src') AS b")).rows[0].b,
  );
  log(`   database size ${(dbBytes / MB).toFixed(0)} MB`);
  return { scale, events, dbBytes };
}

const PATHS: Record<PathName, (b: Bench, run: number) => Promise<Timed>> = {
  workflows: runbookAsWorkflows,
  streamed: runbookStreamed,
  tool: toolPath,
};

/** `runs` runs of every path, the order reversed every other run. */
async function timePaths(b: Bench, runs: number): Promise<Record<PathName, Timed[]>> {
  const results: Record<PathName, Timed[]> = { workflows: [], streamed: [], tool: [] };
  for (let i = 0; i < runs; i++) {
    const order: PathName[] =
      i % 2 === 0 ? ["workflows", "streamed", "tool"] : ["tool", "streamed", "workflows"];
    for (const p of order) {
      log(`-- run ${i + 1}/${runs}: ${LABELS[p]}`);
      const t = await PATHS[p](b, i);
      log(
        `   backup ${t.backupS.toFixed(1)} s (${t.backupCpu.toFixed(1)} CPU-s), restore ${t.restoreS.toFixed(1)} s (${t.restoreCpu.toFixed(1)} CPU-s)`,
      );
      results[p].push(t);
    }
  }
  return results;
}

/** `verify` of src against the tool's copy (the last run's), timed from a quiet disk. */
async function verifyToolCopy(b: Bench): Promise<{ verifyS: number; differences: number }> {
  log("-- verify: src vs the tool's copy");
  await settle(b);
  const v0 = Date.now();
  const report = await verifyDatabases({
    source: b.server.url("src"),
    target: b.server.url("tool_target"),
    jobs: 2,
  });
  const verifyS = (Date.now() - v0) / 1000;
  return { verifyS, differences: report.differences.length };
}

/** Seconds of a dump's server-side work alone: uncompressed, into /dev/null, from a quiet disk. */
async function timeDumpFloor(b: Bench): Promise<number> {
  log("-- server-side work alone: pg_dump -Fc -Z0 to /dev/null");
  await settle(b);
  const d0 = Date.now();
  await run(
    bin("pg_dump"),
    ["-Fc", "-Z0", "--no-sync", "-f", "/dev/null", "-d", "src"],
    pgEnv(b.server, b.password),
  );
  return (Date.now() - d0) / 1000;
}

/** The backup suite's results as Markdown: the table (medians), the phases, the bounds. */
function backupReport(
  results: Record<PathName, Timed[]>,
  s: {
    scale: number;
    events: number;
    dbBytes: number;
    verifyS: number;
    differences: number;
    dumpFloorS: number;
    jobs: number;
    runs: number;
  },
): string {
  const total = (t: Timed) => t.backupS + t.restoreS;
  const cpuOf = (t: Timed) => t.backupCpu + t.restoreCpu;
  const cores = os.cpus().length;
  const med = (p: PathName, f: (t: Timed) => number) => median(results[p].map(f));
  const mbps = (sec: number) => (s.dbBytes / MB / sec).toFixed(1);
  const toolTotal = med("tool", total);
  const loadFloorS = med("tool", (t) => t.phases?.restore ?? 0);
  const perRun = results.tool.map(
    (t, i) =>
      `${(total(results.workflows[i]) / total(t)).toFixed(2)}x/${(total(results.streamed[i]) / total(t)).toFixed(2)}x`,
  );
  const phaseNames = Object.keys(results.tool[0].phases ?? {});
  const out = [
    `database: ${(s.dbBytes / MB).toFixed(0)} MB (pgbench scale ${s.scale} + ${s.events} event rows), ${os.cpus().length} cores, PostgreSQL ${path.basename(path.dirname(path.dirname(bin("x"))))}, jobs ${s.jobs}, ${s.runs} run(s), medians`,
    "",
    "| path | backup (dump+upload) | restore (download+load) | end to end | MB/s end to end | CPU busy (all cores) | cores used | stored |",
    "|---|---|---|---|---|---|---|---|",
    ...(Object.keys(LABELS) as PathName[]).map((p) => {
      const t = med(p, total);
      const cpu = med(p, cpuOf);
      return `| ${LABELS[p]} | ${med(p, (x) => x.backupS).toFixed(1)} s | ${med(p, (x) => x.restoreS).toFixed(1)} s | ${t.toFixed(1)} s | ${mbps(t)} | ${cpu.toFixed(1)} CPU-s | ${(cpu / t).toFixed(2)} of ${cores} | ${(med(p, (x) => x.bytesStored) / MB).toFixed(0)} MB |`;
    }),
    "",
    `this tool's restore phases: ${phaseNames.map((k) => `${k} ${med("tool", (t) => t.phases?.[k] ?? 0).toFixed(1)} s`).join(", ")}`,
    `speed-up end to end: ${(med("workflows", total) / toolTotal).toFixed(2)}x vs the workflows, ${(med("streamed", total) / toolTotal).toFixed(2)}x vs streamed (target >= 2x); per run ${perRun.join(", ")}`,
    `server-side work alone: dump ${s.dumpFloorS.toFixed(1)} s (pg_dump -Fc -Z0 to /dev/null) + load ${loadFloorS.toFixed(1)} s (the tool's pg_restore phase) = ${(s.dumpFloorS + loadFloorS).toFixed(1)} s`,
    `CPU bound: the workflows path already keeps ${(med("workflows", cpuOf) / med("workflows", total)).toFixed(2)} of ${cores} cores busy (${med("workflows", cpuOf).toFixed(1)} CPU-s), so doing the same work no path can be more than ${(cores / (med("workflows", cpuOf) / med("workflows", total))).toFixed(2)}x faster here; the tool's ${med("tool", cpuOf).toFixed(1)} CPU-s need >= ${(med("tool", cpuOf) / cores).toFixed(1)} s, 2x needs <= ${(med("workflows", total) / 2).toFixed(1)} s`,
    `verify src vs restored: ${s.verifyS.toFixed(1)} s, ${mbps(s.verifyS)} MB/s per side (${s.differences} differences)`,
  ];
  return `${out.join("\n")}\n`;
}

/** Flushes the OS page cache and checkpoints, so a timed phase starts from a quiet disk. */
async function settle(b: Bench): Promise<void> {
  await run("sync", [], process.env);
  await query(b.server.url(), "CHECKPOINT");
}

/** Drops a target left by an earlier run and gives a fresh container, outside the timing. */
async function prepare(b: Bench, db: string, container: string): Promise<ContainerClient> {
  await query(b.server.url(), `DROP DATABASE IF EXISTS ${db}`);
  const c = BlobServiceClient.fromConnectionString(b.azurite.connectionString).getContainerClient(
    container,
  );
  await c.createIfNotExists();
  await settle(b);
  return c;
}

const BACKUP_NAME = "ptt_bench_adhoc_2024-07-24";

async function runbookAsWorkflows(b: Bench, i: number): Promise<Timed> {
  const container = await prepare(b, "runbook_files_target", `runbook-files-${i}`);
  const blob = container.getBlockBlobClient(`${BACKUP_NAME}.sql.gz`);
  const env = pgEnv(b.server, b.password);
  const dumped = path.join(b.work, `dump-${i}.sql.gz`);
  const fetched = path.join(b.work, `fetched-${i}.sql.gz`);

  const t0 = mark();
  await runbookDump("src", dumped, env);
  // azcopy uploads and downloads in parallel 8 MB blocks; so do these.
  await blob.uploadFile(dumped, { blockSize: 8 * MB, concurrency: 4 });
  const t1 = mark();
  await settle(b);

  const t2 = mark();
  fs.writeFileSync(
    fetched,
    await blob.downloadToBuffer(0, undefined, { blockSize: 8 * MB, concurrency: 4 }),
  );
  await query(b.server.url(), "CREATE DATABASE runbook_files_target");
  await runbookRestore(fetched, "runbook_files_target", env);
  const t3 = mark();
  const size = fs.statSync(dumped).size;
  fs.rmSync(dumped);
  fs.rmSync(fetched);
  return { ...phases(t0, t1, t2, t3), bytesStored: size };
}

async function runbookStreamed(b: Bench, i: number): Promise<Timed> {
  const container = await prepare(b, "runbook_target", `runbook-stream-${i}`);
  const blob = container.getBlockBlobClient(`${BACKUP_NAME}.sql.gz`);
  const env = pgEnv(b.server, b.password);

  const t0 = mark();
  const dump = spawn(
    bin("pg_dump"),
    ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", "-d", "src"],
    { env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const dumped = exited(dump, "pg_dump");
  await blob.uploadStream(dump.stdout, 8 * MB, 4);
  await dumped;
  const t1 = mark();
  await settle(b);

  const t2 = mark();
  await query(b.server.url(), "CREATE DATABASE runbook_target");
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
  const t3 = mark();
  const props = await blob.getProperties();
  return {
    ...phases(t0, t1, t2, t3),
    bytesStored: props.contentLength ?? 0,
  };
}

async function toolPath(b: Bench, i: number): Promise<Timed> {
  const container = `bench-${i}`;
  await prepare(b, "tool_target", container);
  const env = {
    ...process.env,
    AZURE_STORAGE_CONNECTION_STRING: b.azurite.connectionString,
    BACKUP_CONTAINER: container,
  };
  const t0 = mark();
  const made = await backup({
    url: b.server.url("src"),
    name: BACKUP_NAME,
    env,
    jobs: b.jobs,
    log: b.log,
  });
  const t1 = mark();
  await settle(b);
  const t2 = mark();
  const r = await restore({
    url: b.server.url("tool_target"),
    name: made.name,
    env,
    jobs: b.jobs,
    log: b.log,
  });
  const t3 = mark();
  return {
    ...phases(t0, t1, t2, t3),
    bytesStored: made.manifest.dump.size,
    phases: r.timings,
  };
}

function phases(t0: Mark, t1: Mark, t2: Mark, t3: Mark) {
  return {
    backupS: t1.wall - t0.wall,
    restoreS: t3.wall - t2.wall,
    backupCpu: t1.busy - t0.busy,
    restoreCpu: t3.busy - t2.busy,
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

main().then(
  (code) => process.exit(code),
  (e) => {
    // A command that failed says why itself; anything else is the bench's own bug.
    const text = e instanceof CommandFailed ? e.message : ((e as Error).stack ?? String(e));
    process.stderr.write(`bench failed: ${text}\n`);
    process.exit(1);
  },
);
