/**
 * The promotion benchmark (`npm run bench -- --suite promotion`): after a corruption, four ways
 * to get the state at T into live, side by side against the same two servers (live, and a PTR
 * server cloned from it at T by pg_basebackup, as a point-in-time restore is):
 *   runbook: dump the PTR to storage, download, restore the whole database into live, with the
 *     runbook's workflow commands (pg_dump --clean --compress=1 -f FILE, upload; download,
 *     gzip -dc FILE | psql);
 *   promote --mode whole / tables / merge, straight from the PTR server.
 * The database (`--size-mb`, default 1024) has several tables; the damaged one (orders) holds
 * about a tenth of the data and loses every row to a DELETE without WHERE, after the app wrote
 * to the other tables past T. For each path: wall time, busy CPU-seconds of the machine, and the
 * rows written after T that are gone afterwards, counted by their timestamps (independent of
 * the tool). Before each timed path live is reset to the corrupted state (a template copy),
 * the page cache flushed and both servers checkpointed.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildArgv, Options } from "../contract/data-tool";
import { main as dataTool } from "../datapath/cli";
import { Azurite, startAzurite } from "../test/support/azurite";
import {
  mark,
  Mark,
  median,
  ownCpu,
  pgEnv,
  query,
  run,
  runbookDump,
  runbookRestore,
} from "./bench-common";
import { asServerUser, bin, cluster, PG_BIN, Server, serverDir } from "../test/support/pg-server";

const MB = 1024 * 1024;
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

/** The app's writes after T, in every table but the damaged one's fate, then the corruption. */
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
DELETE FROM orders;
`;

/** Rows written after T in the untouched tables, by their own timestamps. */
const WRITTEN_AFTER_T = OTHER_TABLES.map(
  (t) =>
    `(SELECT count(*) FROM ${t} WHERE created_at > ${T_SQL}${t === "customers" ? ` OR updated_at > ${T_SQL}` : ""})`,
).join(" + ");

type PathName = "runbook" | "whole" | "tables" | "merge";
const LABELS: Record<PathName, string> = {
  runbook: "runbook: dump PTR to storage, download, restore whole",
  whole: "promote --mode whole",
  tables: "promote --mode tables --tables public.orders",
  merge: "promote --mode merge --tables public.orders",
};

interface Timed {
  wall: number;
  /** Busy CPU-seconds of the whole machine. */
  cpu: number;
  /** CPU-seconds of the two servers, the tools and Azurite only (see ownCpu). */
  own: number;
  /** Rows written after T (untouched tables) gone afterwards. */
  lost: number;
  /** Rows of the damaged table afterwards (at T it had `ordersAtT`). */
  orders: number;
}

interface Ctx {
  live: Server;
  ptr: Server;
  password: string;
  azurite: Azurite;
  work: string;
  jobs: number;
  log: (s: string) => void;
}

export async function runPromotionBench(o: {
  sizeMb: number;
  jobs: number;
  runs: number;
  keep: boolean;
  log: (s: string) => void;
}): Promise<number> {
  const { log } = o;
  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pgr-bench-promote-")));
  const cl = cluster(base);
  const servers: Server[] = [];
  let azurite: Azurite | undefined;
  const settings = {
    shared_buffers: "256MB",
    max_wal_size: "8GB",
    checkpoint_timeout: "30min",
    max_connections: "60",
  };
  try {
    log(`bench promotion: live and PTR PostgreSQL servers and Azurite on 127.0.0.1 (${base})`);
    await cl.initdb(path.join(base, "live"));
    const live = await cl.start("live", path.join(base, "live"), settings);
    servers.push(live);
    azurite = await startAzurite();

    const n = Object.fromEntries(
      Object.entries(SHAPE).map(([k, v]) => [
        k,
        Math.max(1000, Math.round((o.sizeMb * v.share * MB) / v.rowBytes)),
      ]),
    ) as Record<keyof typeof SHAPE, number>;
    log(`-- generating ~${o.sizeMb} MB: ${JSON.stringify(n)}`);
    await query(live.url(), "CREATE DATABASE app");
    await query(live.url("app"), SCHEMA(n));
    await query(live.url("app"), "VACUUM ANALYZE");

    log("-- the PTR server: a physical copy of live at T (pg_basebackup)");
    const ptrDir = path.join(base, "ptr");
    await asServerUser(
      bin("pg_basebackup"),
      [
        "-h",
        "127.0.0.1",
        "-p",
        String(live.port),
        "-U",
        "postgres",
        "-D",
        ptrDir,
        "-X",
        "stream",
        "-c",
        "fast",
        "--no-sync",
      ],
      cl.env(),
    );
    const ptr = await cl.start("ptr", ptrDir, settings);
    servers.push(ptr);

    log("-- after T: the app writes to every table; then DELETE FROM orders (no WHERE)");
    await query(live.url("app"), AFTER_T);
    const writtenAfterT = Number(
      (await query(live.url("app"), `SELECT (${WRITTEN_AFTER_T})::int AS n`)).rows[0].n,
    );
    await query(live.url(), "ALTER DATABASE app RENAME TO app_corrupted");
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
    log(
      `   ${(dbBytes / MB).toFixed(0)} MB at T, orders ${(ordersBytes / MB).toFixed(0)} MB (${ordersAtT} rows); ${writtenAfterT} rows written after T elsewhere`,
    );

    const ctx: Ctx = { live, ptr, password: cl.password, azurite, work: base, jobs: o.jobs, log };
    const results: Record<PathName, Timed[]> = { runbook: [], whole: [], tables: [], merge: [] };
    const order: PathName[] = ["runbook", "whole", "tables", "merge"];
    for (let i = 0; i < o.runs; i++) {
      for (const p of i % 2 === 0 ? order : [...order].reverse()) {
        await resetLive(ctx);
        log(`-- run ${i + 1}/${o.runs}: ${LABELS[p]}`);
        const dirs = [path.join(base, "live"), ptrDir];
        const t0 = mark();
        const c0 = ownCpu(dirs);
        await PATHS[p](ctx, i);
        const t1 = mark();
        const c1 = ownCpu(dirs);
        const after = await query(
          live.url("app"),
          `SELECT (${WRITTEN_AFTER_T})::int AS kept, (SELECT count(*) FROM orders)::int AS orders`,
        );
        const t: Timed = {
          ...span(t0, t1),
          own: c1 - c0,
          lost: writtenAfterT - after.rows[0].kept,
          orders: after.rows[0].orders,
        };
        log(
          `   ${t.wall.toFixed(1)} s, ${t.own.toFixed(1)} CPU-s (machine ${t.cpu.toFixed(1)}), ${t.lost} rows written after T lost, orders ${t.orders}`,
        );
        results[p].push(t);
      }
    }

    const cores = os.cpus().length;
    const med = (p: PathName, f: (t: Timed) => number) => median(results[p].map(f));
    const runbook = med("runbook", (t) => t.wall);
    const lines = [
      "",
      `promotion: ${(dbBytes / MB).toFixed(0)} MB at T in 5 tables, the damaged one (orders, DELETE without WHERE) ${(ordersBytes / MB).toFixed(0)} MB; ${writtenAfterT} rows written after T elsewhere; ${cores} cores, jobs ${o.jobs}, ${o.runs} run(s), medians`,
      "",
      `| path | wall | CPU (servers + tools) | machine busy | vs runbook | rows written after T lost | orders rows after (at T: ${ordersAtT}) |`,
      "|---|---|---|---|---|---|---|",
      ...order.map((p) => {
        const w = med(p, (t) => t.wall);
        const c = med(p, (t) => t.own);
        return `| ${LABELS[p]} | ${w.toFixed(1)} s | ${c.toFixed(1)} CPU-s | ${(med(p, (t) => t.cpu) / w).toFixed(2)} of ${cores} cores | ${(runbook / w).toFixed(1)}x | ${Math.max(...results[p].map((t) => t.lost))} | ${med(p, (t) => t.orders)} |`;
      }),
      "",
      `targets: tables ${(runbook / med("tables", (t) => t.wall)).toFixed(1)}x and merge ${(runbook / med("merge", (t) => t.wall)).toFixed(1)}x faster than the runbook path (>= 5x); rows lost outside the damaged table: tables ${Math.max(...results.tables.map((t) => t.lost))}, merge ${Math.max(...results.merge.map((t) => t.lost))} (0)`,
      `whole: ${(runbook / med("whole", (t) => t.wall)).toFixed(2)}x the runbook path; its ${med("whole", (t) => t.own).toFixed(1)} CPU-s need >= ${(med("whole", (t) => t.own) / cores).toFixed(1)} s on ${cores} cores (the runbook path's ${med("runbook", (t) => t.own).toFixed(1)} CPU-s >= ${(med("runbook", (t) => t.own) / cores).toFixed(1)} s); the machine was ${(med("whole", (t) => t.cpu) / med("whole", (t) => t.wall)).toFixed(2)} of ${cores} cores busy during it, other load included`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    const ok =
      order.every((p) => results[p].every((t) => t.orders === ordersAtT)) &&
      results.tables.every((t) => t.lost === 0) &&
      results.merge.every((t) => t.lost === 0);
    if (!ok)
      log("bench promotion: a path did not end with the orders at T, or tables/merge lost rows");
    return ok ? 0 : 1;
  } finally {
    await azurite?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    if (!o.keep) fs.rmSync(base, { recursive: true, force: true });
  }
}

const PATHS: Record<PathName, (c: Ctx, run: number) => Promise<void>> = {
  runbook: runbookPath,
  whole: (c) => promote(c, { mode: "whole", jobs: c.jobs }),
  tables: (c) => promote(c, { mode: "tables", tables: ["public.orders"] }),
  merge: (c) => promote(c, { mode: "merge", tables: ["public.orders"] }),
};

/** Live back to the corrupted state, outside the timing; then a quiet disk. */
async function resetLive(c: Ctx): Promise<void> {
  const old = await query(
    c.live.url(),
    "SELECT datname FROM pg_database WHERE datname = 'app' OR datname LIKE 'app\\_pre\\_promote\\_%' OR datname LIKE 'app\\_promote\\_%'",
  );
  for (const r of old.rows) await query(c.live.url(), `DROP DATABASE "${r.datname}" WITH (FORCE)`);
  await query(c.live.url(), "CREATE DATABASE app TEMPLATE app_corrupted");
  await run("sync", [], process.env);
  await Promise.all([query(c.live.url(), "CHECKPOINT"), query(c.ptr.url(), "CHECKPOINT")]);
}

async function promote(
  c: Ctx,
  chosen: Pick<Options<"promote">, "mode" | "tables" | "jobs">,
): Promise<void> {
  let err = "";
  const argv = buildArgv({
    command: "promote",
    options: {
      fromEnv: "PTR_URL",
      toEnv: "LIVE_URL",
      restoreTarget: T,
      confirm: "127.0.0.1/app",
      ...chosen,
    },
  });
  const code = await dataTool(argv, {
    out: () => undefined,
    err: (s) => (err += s),
    env: {
      ...process.env,
      PG_BIN,
      PTR_URL: c.ptr.url("app"),
      LIVE_URL: c.live.url("app"),
      PG_RECOVERY_PROGRESS_MS: "60000",
    },
  });
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}:\n${err}`);
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
