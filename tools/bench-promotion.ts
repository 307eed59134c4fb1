/**
 * The promotion benchmark (`npm run bench -- --suite promotion`): after a corruption, the ways
 * to get the state at T into live, side by side against the same two servers (live, and a PTR
 * server cloned from it at T by pg_basebackup, as a point-in-time restore is):
 *   runbook: dump the PTR to storage, download, restore the whole database into live, with the
 *     runbook's workflow commands (pg_dump --clean --compress=1 -f FILE, upload; download,
 *     gzip -dc FILE | psql);
 *   pgcopydb clone (when `pgcopydb` is on PATH): the PTR database into a fresh one on live,
 *     then swapped in by rename, the peer of `promote --mode whole`;
 *   promote --mode whole / tables / merge, straight from the PTR server;
 *   promote --mode merge after a smaller corruption (1 % of the orders at T deleted): the cost
 *     of a merge against the damage rather than the table's size.
 * The database (`--size-mb`, default 1024) has several tables; the damaged one (orders) holds a
 * tenth of the first 1024 MB (above that only the other tables grow: at 4096 they are four
 * times the 1024 shape's, orders the same) and loses every row to a DELETE without WHERE, after
 * the app wrote to the other tables past T. For each path: wall time, CPU-seconds of the two
 * servers and the tools, the other processes' CPU-seconds and the load average around it (a
 * shared machine distorts the ratios: the output warns), MB/s of the data the path moves, where
 * the time went (promote's own phases), and the rows written after T that are gone afterwards,
 * counted by their timestamps (independent of the tool). Before each timed path live is reset to
 * the corrupted state (a template copy), the page cache flushed and both servers checkpointed.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { spawn, spawnSync, type StdioOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildArgv, Options } from "../contract/data-tool";
import { main as dataTool } from "../datapath/cli";
import { Azurite, startAzurite } from "../test/support/azurite";
import {
  BENCH_SERVER_SETTINGS,
  CommandFailed,
  exited,
  mark,
  Mark,
  median,
  ownCpu,
  pgEnv,
  query,
  run,
  runbookDump,
  runbookRestore,
  WORK_DIR_PREFIX,
} from "./bench-common";
import { bin, Cluster, cluster, PG_BIN, Server, serverDir } from "../test/support/pg-server";

const MB = 1024 * 1024;
/** Up to this size the damaged table is a tenth of the database; above it, it stays this size. */
const DAMAGED_SHAPE_MB = 1024;
/** Other processes busy for more than this share of one core during a path: its ratios warn. */
const OTHER_LOAD_WARN = 0.25;
const T = "2024-07-24T06:00:00Z";
const T_SQL = "timestamptz '2024-07-24 06:00:00+00'";

/** Share of the data per table, and the approximate bytes per row on disk (heap + indexes). */
const SHAPE = {
  customers: { share: 0.1, rowBytes: 170 },
  events: { share: 0.4, rowBytes: 330 },
  page_views: { share: 0.3, rowBytes: 120 },
  orders: { share: 0.1, rowBytes: 130 },
  audit: { share: 0.1, rowBytes: 190 },
};
const OTHER_TABLES = ["customers", "events", "page_views", "audit"];

const SCHEMA = (n: Record<keyof typeof SHAPE, number>) => `
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
INSERT INTO customers (name, email, created_at, updated_at)
SELECT 'Customer ' || g || ' ' || md5(g::text), 'c' || g || '@example.com',
       ${T_SQL} - g * interval '1 s', ${T_SQL} - g * interval '1 s'
  FROM generate_series(1, ${n.customers}) g;
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  account_id integer NOT NULL,
  created_at timestamptz NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  body text
);
INSERT INTO events (account_id, created_at, kind, payload, body)
SELECT (random() * 100000)::int, ${T_SQL} - g * interval '1 second',
       (ARRAY['created', 'updated', 'published', 'withdrawn'])[1 + g % 4],
       jsonb_build_object('n', g, 'ref', md5(g::text), 'score', round(random()::numeric, 4)),
       md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text)
  FROM generate_series(1, ${n.events}) g;
CREATE INDEX events_account_id ON events (account_id);
CREATE INDEX events_created_at ON events (created_at);
CREATE TABLE page_views (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  path text NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO page_views (customer_id, path, created_at)
SELECT 1 + g % ${n.customers}, '/courses/' || (g % 5000) || '/apply', ${T_SQL} - g * interval '1 s'
  FROM generate_series(1, ${n.page_views}) g;
CREATE INDEX page_views_customer ON page_views (customer_id);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  status text NOT NULL,
  total numeric(12, 2) NOT NULL,
  note text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
INSERT INTO orders (customer_id, status, total, note, created_at, updated_at)
SELECT 1 + (g * 7) % ${n.customers}, (ARRAY['open', 'paid', 'shipped'])[1 + g % 3],
       (g % 100000) / 100.0, 'order ' || md5(g::text), ${T_SQL} - g * interval '1 s',
       ${T_SQL} - g * interval '1 s'
  FROM generate_series(1, ${n.orders}) g;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL,
  payload text NOT NULL
);
INSERT INTO audit (created_at, payload)
SELECT ${T_SQL} - g * interval '1 s', md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) || md5((g + 3)::text)
  FROM generate_series(1, ${n.audit}) g;
`;

/** The app's writes after T, in every table (the damaged one's are lost with it). */
const AFTER_T = `
INSERT INTO customers (name, email, created_at, updated_at)
SELECT 'Late ' || g, 'late' || g || '@example.com', ${T_SQL} + g * interval '1 ms', ${T_SQL} + g * interval '1 ms'
  FROM generate_series(1, 1000) g;
UPDATE customers SET name = name || ' (moved)', updated_at = ${T_SQL} + interval '1 min' WHERE id % 997 = 0;
INSERT INTO events (account_id, created_at, kind, payload, body)
SELECT g, ${T_SQL} + g * interval '1 ms', 'created', jsonb_build_object('late', g), 'after T'
  FROM generate_series(1, 5000) g;
INSERT INTO page_views (customer_id, path, created_at)
SELECT 1 + g % 1000, '/after/' || g, ${T_SQL} + g * interval '1 ms' FROM generate_series(1, 10000) g;
INSERT INTO audit (created_at, payload) SELECT ${T_SQL} + g * interval '1 ms', 'late ' || g FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, status, total, created_at, updated_at)
SELECT 1 + g, 'open', 1, ${T_SQL} + g * interval '1 ms', ${T_SQL} + g * interval '1 ms' FROM generate_series(1, 1000) g;
`;
/** The corruption: a DELETE without WHERE. */
const CORRUPTION = "DELETE FROM orders";
/** The orders at T the small corruption deletes: 1 %, spread over the whole table. */
const ONE_PCT_AT_T = `id % 100 = 0 AND created_at <= ${T_SQL}`;
/** The small corruption. */
const CORRUPTION_1PCT = `DELETE FROM orders WHERE ${ONE_PCT_AT_T}`;

/** Rows written after T in the untouched tables, by their own timestamps. */
const WRITTEN_AFTER_T = OTHER_TABLES.map(
  (t) =>
    `(SELECT count(*) FROM ${t} WHERE created_at > ${T_SQL}${t === "customers" ? ` OR updated_at > ${T_SQL}` : ""})`,
).join(" + ");

/** The paths, in their order within a run. */
export const PROMOTION_PATHS = [
  "runbook",
  "pgcopydb",
  "whole",
  "tables",
  "merge",
  "merge1pct",
  "missing1pct",
] as const;
type PathName = (typeof PROMOTION_PATHS)[number];
export const isPromotionPath = (p: string): p is PathName =>
  (PROMOTION_PATHS as readonly string[]).includes(p);
const LABELS: Record<PathName, string> = {
  runbook: "runbook: dump PTR to storage, download, restore whole",
  pgcopydb: "pgcopydb clone, then swap by rename",
  whole: "promote --mode whole",
  tables: "promote --mode tables --tables public.orders",
  merge: "promote --mode merge --tables public.orders",
  merge1pct: "promote --mode merge --tables public.orders, 1 % of orders deleted",
  missing1pct: "floor, not a tool: the deleted 1 % alone, keys known, psql COPY from the PTR",
};
/** The corrupted live each path starts from (a template database). */
const STARTS: Record<PathName, string> = {
  runbook: "app_corrupted",
  pgcopydb: "app_corrupted",
  whole: "app_corrupted",
  tables: "app_corrupted",
  merge: "app_corrupted",
  merge1pct: "app_corrupted_1pct",
  missing1pct: "app_corrupted_1pct",
};

interface Timed {
  wall: number;
  /** Busy CPU-seconds of the whole machine. */
  cpu: number;
  /** CPU-seconds of the two servers, the tools and Azurite only (see ownCpu). */
  own: number;
  /** The 1-minute load average before and after. */
  load: [number, number];
  /** Rows written after T (untouched tables) gone afterwards. */
  lost: number;
  /** Rows of the damaged table afterwards. */
  orders: number;
  /** Seconds per phase, as promote reports them (its --json result). */
  phases?: Record<string, number>;
}

/** Busy CPU-seconds of processes other than this run's (servers, tools, Azurite). */
const otherCpu = (t: Timed) => Math.max(0, t.cpu - t.own);
const loadavg = () => Number(fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

type Log = (s: string) => void;

interface Ctx {
  live: Server;
  ptr: Server;
  password: string;
  azurite: Azurite;
  work: string;
  /** The two servers' data directories: their processes' CPU time is the paths' (ownCpu). */
  dataDirs: string[];
  jobs: number;
  log: Log;
  /** The phases the last promote reported (its `--json` result's timings). */
  phases?: Record<string, number>;
}

/** What the paths are checked and measured against, taken before any of them ran. */
interface AtT {
  /** Bytes of the tables at T, and of the damaged one (pg_total_relation_size). */
  dbBytes: number;
  ordersBytes: number;
  /** Rows of orders at T. */
  ordersAtT: number;
  /** Rows of orders written after T, which the small corruption's merge keeps. */
  orders1pct: number;
  /** Rows written after T in the untouched tables. */
  writtenAfterT: number;
}

const SERVER_SETTINGS = { ...BENCH_SERVER_SETTINGS, max_connections: "60" };

/**
 * The suite: live with its generated database, the PTR server cloned from it at T, the writes
 * after T and the corruptions, the timed runs, then the report on stdout. 0 when every path left
 * the orders at T and tables / merge lost no rows written after T. The work directory is removed
 * unless `keep`.
 */
export async function runPromotionBench(o: {
  sizeMb: number;
  jobs: number;
  runs: number;
  keep: boolean;
  /** Only these paths (all by default; pgcopydb only when it is installed). */
  paths?: PathName[];
  log: Log;
}): Promise<number> {
  const { log } = o;
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), `${WORK_DIR_PREFIX}promote-`)));
  const cl = cluster(base);
  const servers: Server[] = [];
  let azurite: Azurite | undefined;
  try {
    log(`bench promotion: live and PTR PostgreSQL servers and Azurite on 127.0.0.1 (${base})`);
    const liveDir = path.join(base, "live");
    await cl.initdb(liveDir);
    const live = await cl.start("live", liveDir, SERVER_SETTINGS);
    servers.push(live);
    azurite = await startAzurite();
    await generateApp(live, o.sizeMb, log);
    const ptrDir = path.join(base, "ptr");
    const ptr = await startPtr(cl, live, ptrDir, log);
    servers.push(ptr);
    const writtenAfterT = await writeAfterTAndCorrupt(live, log);
    const atT = await measureAtT(live, ptr, writtenAfterT, log);

    const ctx: Ctx = {
      live,
      ptr,
      password: cl.password,
      azurite,
      work: base,
      dataDirs: [liveDir, ptrDir],
      jobs: o.jobs,
      log,
    };
    const version = pgcopydbVersion();
    const order = pathsToRun(o.paths, version, log);
    const results = await timePaths(ctx, order, o.runs, writtenAfterT);
    const summary = { ...atT, cores: os.cpus().length, jobs: o.jobs, runs: o.runs, version };
    process.stdout.write(report(order, results, summary, (p) => bytesMoved(p, atT)));
    return checkOutcome(order, results, atT, log);
  } finally {
    await azurite?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    if (!o.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}

/**
 * The database `app` on live, about `sizeMb` in SHAPE's shares; orders stops growing at
 * DAMAGED_SHAPE_MB's share.
 */
async function generateApp(live: Server, sizeMb: number, log: Log): Promise<void> {
  const n = Object.fromEntries(
    Object.entries(SHAPE).map(([k, v]) => {
      const mb = k === "orders" ? Math.min(sizeMb, DAMAGED_SHAPE_MB) : sizeMb;
      return [k, Math.max(1000, Math.round((mb * v.share * MB) / v.rowBytes))];
    }),
  ) as Record<keyof typeof SHAPE, number>;
  log(`-- generating ~${sizeMb} MB: ${JSON.stringify(n)}`);
  await query(live.url(), "CREATE DATABASE app");
  await query(live.url("app"), SCHEMA(n));
  await query(live.url("app"), "VACUUM ANALYZE");
}

/** The PTR server, started from `dir`: a physical copy of live at T. */
async function startPtr(cl: Cluster, live: Server, dir: string, log: Log): Promise<Server> {
  log("-- the PTR server: a physical copy of live at T (pg_basebackup)");
  await cl.basebackup(live, dir);
  return cl.start("ptr", dir, SERVER_SETTINGS);
}

/**
 * Live past T: the app's writes to every table, then the two corrupted templates the paths start
 * from (app_corrupted_1pct, then app renamed app_corrupted). The rows written after T in the
 * untouched tables.
 */
async function writeAfterTAndCorrupt(live: Server, log: Log): Promise<number> {
  log("-- after T: the app writes to every table; then DELETE FROM orders (no WHERE)");
  await query(live.url("app"), AFTER_T);
  const writtenAfterT = Number(
    (await query(live.url("app"), `SELECT (${WRITTEN_AFTER_T})::int AS n`)).rows[0].n,
  );
  await query(live.url(), "CREATE DATABASE app_corrupted_1pct TEMPLATE app");
  await query(live.url("app_corrupted_1pct"), CORRUPTION_1PCT);
  await query(live.url("app"), CORRUPTION);
  await query(live.url(), "ALTER DATABASE app RENAME TO app_corrupted");
  return writtenAfterT;
}

/** The sizes and row counts at T (on the PTR server) and of orders since (on live). */
async function measureAtT(
  live: Server,
  ptr: Server,
  writtenAfterT: number,
  log: Log,
): Promise<AtT> {
  const sizes = await query(
    ptr.url("app"),
    `SELECT c.relname AS t, pg_total_relation_size(c.oid)::float8 AS b FROM pg_class c
      WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 2 DESC`,
  );
  const dbBytes = sizes.rows.reduce((a: number, r: { b: number }) => a + r.b, 0);
  const ordersBytes = sizes.rows.find((r: { t: string }) => r.t === "orders").b;
  const ordersAtT = Number(
    (await query(ptr.url("app"), "SELECT count(*) AS n FROM orders")).rows[0].n,
  );
  // After the small corruption's merge: every order at T, and the orders written since.
  const orders1pct = Number(
    (
      await query(
        live.url("app_corrupted_1pct"),
        `SELECT (SELECT count(*) FROM orders WHERE created_at > ${T_SQL}) AS n`,
      )
    ).rows[0].n,
  );
  log(
    `   ${(dbBytes / MB).toFixed(0)} MB at T, orders ${(ordersBytes / MB).toFixed(0)} MB (${ordersAtT} rows); ${writtenAfterT} rows written after T elsewhere`,
  );
  return { dbBytes, ordersBytes, ordersAtT, orders1pct, writtenAfterT };
}

/** The rows of orders a path should leave in live. */
const expectedOrders = (p: PathName, a: AtT) =>
  STARTS[p] === "app_corrupted_1pct" ? a.ordersAtT + a.orders1pct : a.ordersAtT;

/** The bytes a path moves: the whole database at T, or the damaged table. */
const bytesMoved = (p: PathName, a: AtT) =>
  ["runbook", "pgcopydb", "whole"].includes(p) ? a.dbBytes : a.ordersBytes;

/**
 * The paths to time, in PROMOTION_PATHS' order: those asked for, pgcopydb if it is on PATH
 * (`pgcopydb`: its version, undefined when it is not).
 */
function pathsToRun(
  only: PathName[] | undefined,
  pgcopydb: string | undefined,
  log: Log,
): PathName[] {
  const hasPgcopydb = pgcopydb !== undefined;
  if (!hasPgcopydb) {
    log("-- pgcopydb is not on PATH (apt-get install pgcopydb): its row is left out");
  }
  return PROMOTION_PATHS.filter(
    (p) => (only ?? PROMOTION_PATHS).includes(p) && (p !== "pgcopydb" || hasPgcopydb),
  );
}

/** `runs` runs of the paths, the order reversed every other run, each from a reset live. */
async function timePaths(
  c: Ctx,
  order: PathName[],
  runs: number,
  writtenAfterT: number,
): Promise<Record<PathName, Timed[]>> {
  const results: Record<PathName, Timed[]> = {
    runbook: [],
    pgcopydb: [],
    whole: [],
    tables: [],
    merge: [],
    merge1pct: [],
    missing1pct: [],
  };
  for (let i = 0; i < runs; i++) {
    for (const p of i % 2 === 0 ? order : [...order].reverse()) {
      await resetLive(c, STARTS[p]);
      c.log(`-- run ${i + 1}/${runs}: ${LABELS[p]}`);
      const t = await timePath(c, p, i, writtenAfterT);
      results[p].push(t);
    }
  }
  return results;
}

/**
 * Run `i` of path `p`, timed around the path alone; then what it left in live: the rows written
 * after T still there, and the orders.
 */
async function timePath(c: Ctx, p: PathName, i: number, writtenAfterT: number): Promise<Timed> {
  c.phases = undefined;
  const l0 = loadavg();
  const t0 = mark();
  const c0 = ownCpu(c.dataDirs);
  await PATHS[p](c, i);
  const t1 = mark();
  const c1 = ownCpu(c.dataDirs);
  const after = await query(
    c.live.url("app"),
    `SELECT (${WRITTEN_AFTER_T})::int AS kept, (SELECT count(*) FROM orders)::int AS orders`,
  );
  const t: Timed = {
    ...span(t0, t1),
    own: c1 - c0,
    load: [l0, loadavg()],
    lost: writtenAfterT - after.rows[0].kept,
    orders: after.rows[0].orders,
    phases: c.phases,
  };
  c.log(
    `   ${t.wall.toFixed(1)} s, ${t.own.toFixed(1)} CPU-s (other processes ${otherCpu(t).toFixed(1)}, load ${t.load.join(" -> ")}), ${t.lost} rows written after T lost, orders ${t.orders}${t.phases ? `; ${formatPhases(t.phases)}` : ""}`,
  );
  return t;
}

/** 0 when every path left the orders it should and tables / merge lost no rows; else 1. */
function checkOutcome(
  order: PathName[],
  results: Record<PathName, Timed[]>,
  atT: AtT,
  log: Log,
): number {
  const ok =
    order.every((p) => results[p].every((t) => t.orders === expectedOrders(p, atT))) &&
    (["tables", "merge", "merge1pct", "missing1pct"] as const).every((p) =>
      results[p].every((t) => t.lost === 0),
    );
  if (!ok)
    log("bench promotion: a path did not end with the orders at T, or tables/merge lost rows");
  return ok ? 0 : 1;
}

/** The bench's results as Markdown: the table, the phases, the goals, and load warnings. */
function report(
  order: PathName[],
  results: Record<PathName, Timed[]>,
  s: {
    dbBytes: number;
    ordersBytes: number;
    ordersAtT: number;
    writtenAfterT: number;
    cores: number;
    jobs: number;
    runs: number;
    version?: string;
  },
  moved: (p: PathName) => number,
): string {
  const med = (p: PathName, f: (t: Timed) => number) => median(results[p].map(f));
  const wall = (p: PathName) => med(p, (t) => t.wall);
  const own = (p: PathName) => med(p, (t) => t.own);
  const rate = (p: PathName) => moved(p) / MB / wall(p);
  // The floor row is a measure, not a way to recover: it is compared with the merge only.
  const vsRunbook = (p: PathName) =>
    order.includes("runbook") && p !== "missing1pct"
      ? `${(wall("runbook") / wall(p)).toFixed(1)}x`
      : "-";
  const lines = [
    "",
    `promotion: ${(s.dbBytes / MB).toFixed(0)} MB at T in 5 tables, the damaged one (orders, DELETE without WHERE) ${(s.ordersBytes / MB).toFixed(0)} MB; ${s.writtenAfterT} rows written after T elsewhere; ${s.cores} cores, jobs ${s.jobs}, ${s.runs} run(s), medians${s.version ? `; ${s.version}` : ""}`,
    "",
    "| path | wall | CPU (servers + tools) | other processes' CPU | load before -> after | MB moved | MB/s | vs runbook | rows written after T lost | orders rows after |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...order.map((p) => {
      const load = results[p].map((t) => `${t.load[0].toFixed(1)} -> ${t.load[1].toFixed(1)}`);
      return `| ${LABELS[p]} | ${wall(p).toFixed(1)} s | ${own(p).toFixed(1)} CPU-s | ${med(p, otherCpu).toFixed(1)} CPU-s | ${load.join(", ")} | ${(moved(p) / MB).toFixed(0)} | ${rate(p).toFixed(1)} | ${vsRunbook(p)} | ${Math.max(...results[p].map((t) => t.lost))} | ${med(p, (t) => t.orders)} |`;
    }),
    "",
    "where the time went (promote's phases, seconds, medians):",
    ...order
      .filter((p) => results[p].some((t) => t.phases))
      .map((p) => {
        const keys = Object.keys(results[p].find((t) => t.phases)!.phases!);
        const m = Object.fromEntries(keys.map((k) => [k, med(p, (t) => t.phases?.[k] ?? 0)]));
        return `  ${LABELS[p]}: ${formatPhases(m)}`;
      }),
    "",
    "goals:",
    ...goals(order, { wall, own, rate, cores: s.cores }),
  ];
  const loaded = order.filter((p) =>
    results[p].some((t) => otherCpu(t) / t.wall > OTHER_LOAD_WARN),
  );
  if (loaded.length) {
    lines.push(
      "",
      `WARNING: other processes used more than ${OTHER_LOAD_WARN} of a core during ${loaded.map((p) => LABELS[p]).join("; ")}: the machine was shared, the ratios above are distorted; rerun on a quiet machine before quoting them.`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The issue's goals, each from the paths it compares when they all ran. */
function goals(
  order: PathName[],
  m: {
    wall: (p: PathName) => number;
    own: (p: PathName) => number;
    rate: (p: PathName) => number;
    cores: number;
  },
): string[] {
  const ran = (...ps: PathName[]) => ps.every((p) => order.includes(p));
  const { wall, own, rate } = m;
  const x = (p: PathName) => `${(wall("runbook") / wall(p)).toFixed(1)}x`;
  const lines: string[] = [];
  if (ran("runbook", "tables", "merge")) {
    lines.push(
      `  tables / merge per byte: ${rate("tables").toFixed(1)} / ${rate("merge").toFixed(1)} MB/s against the runbook path's ${rate("runbook").toFixed(1)} MB/s (at least as fast); ${x("tables")} / ${x("merge")} the runbook path's wall time (>= 6x at 1 GB, >= 20x at 4 GB)`,
    );
  }
  const ofTables = (p: PathName) => `${((100 * wall(p)) / wall("tables")).toFixed(0)} %`;
  if (ran("tables", "merge1pct")) {
    lines.push(
      `  merge of 1 % of orders: ${wall("merge1pct").toFixed(2)} s, ${ofTables("merge1pct")} of copying the table (tables mode)`,
    );
  }
  if (ran("tables", "missing1pct")) {
    lines.push(
      `  its floor, the deleted rows alone with their keys known (no comparison, no checks): ${wall("missing1pct").toFixed(2)} s, ${ofTables("missing1pct")} of tables mode`,
    );
  }
  if (ran("whole", "pgcopydb")) {
    lines.push(
      `  whole against pgcopydb clone: ${wall("whole").toFixed(1)} s / ${own("whole").toFixed(1)} CPU-s against ${wall("pgcopydb").toFixed(1)} s / ${own("pgcopydb").toFixed(1)} CPU-s (at least as fast, at most its CPU-seconds)`,
    );
  }
  if (ran("whole")) {
    lines.push(
      `  whole: ${ran("runbook") ? `${x("whole")} the runbook path; ` : ""}its ${own("whole").toFixed(1)} CPU-s need >= ${(own("whole") / m.cores).toFixed(1)} s on ${m.cores} cores`,
    );
  }
  return lines.length ? lines : ["  (the paths run compare against none)"];
}

const formatPhases = (phases: Record<string, number>) =>
  Object.entries(phases)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ");

const PATHS: Record<PathName, (c: Ctx, run: number) => Promise<void>> = {
  runbook: runbookPath,
  pgcopydb: pgcopydbPath,
  whole: (c) => promote(c, { mode: "whole", jobs: c.jobs }),
  tables: (c) => promote(c, { mode: "tables", tables: ["public.orders"] }),
  merge: (c) => promote(c, { mode: "merge", tables: ["public.orders"] }),
  merge1pct: (c) => promote(c, { mode: "merge", tables: ["public.orders"] }),
  missing1pct: missingRowsAlone,
};

/** Live back to a corrupted state (`template`), outside the timing; then a quiet disk. */
async function resetLive(c: Ctx, template: string): Promise<void> {
  const old = await query(
    c.live.url(),
    "SELECT datname FROM pg_database WHERE datname = 'app' OR datname LIKE 'app\\_pre\\_promote\\_%' OR datname LIKE 'app\\_promote\\_%' OR datname = 'app_pgcopydb'",
  );
  for (const r of old.rows) await query(c.live.url(), `DROP DATABASE "${r.datname}" WITH (FORCE)`);
  await query(c.live.url(), `CREATE DATABASE app TEMPLATE ${template}`);
  await run("sync", [], process.env);
  await Promise.all([query(c.live.url(), "CHECKPOINT"), query(c.ptr.url(), "CHECKPOINT")]);
}

async function promote(
  c: Ctx,
  chosen: Pick<Options<"promote">, "mode" | "tables" | "jobs">,
): Promise<void> {
  let err = "";
  let out = "";
  const argv = buildArgv({
    command: "promote",
    options: {
      fromEnv: "PTR_URL",
      toEnv: "LIVE_URL",
      restoreTarget: T,
      confirm: "127.0.0.1/app",
      json: true,
      ...chosen,
    },
  });
  const code = await dataTool(argv, {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: {
      ...process.env,
      PG_BIN,
      PTR_URL: c.ptr.url("app"),
      LIVE_URL: c.live.url("app"),
      PG_RECOVERY_PROGRESS_MS: "60000",
    },
  });
  if (code !== 0) throw new CommandFailed(`${argv.join(" ")} exited ${code}:\n${err}`);
  c.phases = (JSON.parse(out) as { timings?: Record<string, number> }).timings;
}

/**
 * What the 1 % merge could cost at best: a tool told which rows were deleted (no reading of
 * live's keys, no checks before or after) copies just those from the PTR into live's orders,
 * with its indexes and foreign key as they are: one psql to another, binary COPY.
 */
async function missingRowsAlone(c: Ctx): Promise<void> {
  const psql = (s: Server, sql: string, stdio: StdioOptions) =>
    spawn(bin("psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "app", "-c", sql], {
      env: pgEnv(s, c.password),
      stdio,
    });
  const from = psql(
    c.ptr,
    `COPY (SELECT * FROM orders WHERE ${ONE_PCT_AT_T}) TO STDOUT (FORMAT binary)`,
    ["ignore", "pipe", "inherit"],
  );
  const into = psql(c.live, "COPY orders FROM STDIN (FORMAT binary)", [
    from.stdout!,
    "ignore",
    "inherit",
  ]);
  await Promise.all([exited(from, "psql (the PTR)"), exited(into, "psql (live)")]);
}

/** `pgcopydb --version`'s first line, or undefined when it is not on PATH. */
function pgcopydbVersion(): string | undefined {
  const r = spawnSync("pgcopydb", ["--version"], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  return /pgcopydb version \S+/.exec(`${r.stdout}${r.stderr}`)?.[0];
}

/**
 * pgcopydb's clone of the PTR database into a fresh database on live (its tables in parallel,
 * each table's indexes built as soon as its copy ends, VACUUM ANALYZE), then the same swap by
 * rename as `whole` (the corrupted database kept). Its pg_dump/pg_restore are the bench's.
 */
async function pgcopydbPath(c: Ctx, i: number): Promise<void> {
  await query(c.live.url(), "CREATE DATABASE app_pgcopydb TEMPLATE template0");
  const dir = path.join(c.work, `pgcopydb-${i}`);
  fs.rmSync(dir, { recursive: true, force: true });
  // Its INFO lines go to a log (shown if it fails): the bench's output stays the figures.
  const logFile = path.join(c.work, `pgcopydb-${i}.log`);
  const logFd = fs.openSync(logFile, "w");
  const child = spawn(
    "pgcopydb",
    [
      "clone",
      "--source",
      c.ptr.url("app"),
      "--target",
      c.live.url("app_pgcopydb"),
      "--table-jobs",
      String(c.jobs),
      "--index-jobs",
      String(c.jobs),
      "--dir",
      dir,
    ],
    {
      env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}` },
      stdio: ["ignore", logFd, logFd],
    },
  );
  try {
    await exited(child, "pgcopydb clone");
  } catch (e) {
    const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
    throw new CommandFailed(`${(e as Error).message}; the end of ${logFile}:\n${tail}`);
  } finally {
    fs.closeSync(logFd);
  }
  await query(c.live.url(), "ALTER DATABASE app RENAME TO app_pre_promote_pgcopydb");
  await query(c.live.url(), "ALTER DATABASE app_pgcopydb RENAME TO app");
  fs.rmSync(dir, { recursive: true, force: true });
}

/** As the runbook's workflows run it (see bench.ts): file, upload; download, file, psql. */
async function runbookPath(c: Ctx, i: number): Promise<void> {
  const container = BlobServiceClient.fromConnectionString(
    c.azurite.connectionString,
  ).getContainerClient(`promotion-runbook-${i}`);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient("ptt_bench_2024-07-24-restore-to-ptr.sql.gz");
  const dumped = path.join(c.work, `ptr-${i}.sql.gz`);
  const fetched = path.join(c.work, `fetched-${i}.sql.gz`);
  await runbookDump("app", dumped, pgEnv(c.ptr, c.password));
  await blob.uploadFile(dumped, { blockSize: 8 * MB, concurrency: 4 });
  fs.writeFileSync(
    fetched,
    await blob.downloadToBuffer(0, undefined, { blockSize: 8 * MB, concurrency: 4 }),
  );
  await runbookRestore(fetched, "app", pgEnv(c.live, c.password));
  fs.rmSync(dumped);
  fs.rmSync(fetched);
}

function span(a: Mark, b: Mark): { wall: number; cpu: number } {
  return { wall: b.wall - a.wall, cpu: b.busy - a.busy };
}
