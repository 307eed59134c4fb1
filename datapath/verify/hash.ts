/**
 * Content hashing for verify: one aggregate query per table (or per block range of a big table),
 * run over a side's pool. Nothing but a few numbers per query crosses the wire.
 *
 * Hash scheme (per table): count(*) plus two order-independent sums, over every row r, of
 * hashtextextended(r::text, seed) for two fixed seeds, each folded mod 2^64: 128 bits of digest.
 *  - r::text is the row's record rendering: every column, NULL as an empty field and the empty
 *    string as "" — so (1,NULL) renders `(1,)` and (1,'') renders `(1,"")`, and they differ.
 *    Renderings are made comparable by the session settings in connect.ts.
 *  - A sum (not XOR) keeps duplicate rows from cancelling; count catches pure duplicates too.
 *    A single changed row goes unnoticed only if both 64-bit hashes of old and new rendering
 *    collide (~2^-128 for accidental changes). It is not cryptographic: it guards against
 *    restore mistakes and corruption, not an adversary crafting collisions.
 *  - hashtextextended (Postgres' hash-partitioning hash) is ~3x cheaper than md5 here and is
 *    stable across versions (hash partitions depend on it); it hashes bytes under deterministic
 *    collations (a database default always is). Both servers must share endianness, true of
 *    every Azure/x86/ARM host.
 *  - Sums are additive, so a table can be hashed in ctid block ranges on several connections and
 *    the partial sums added, regardless of where rows physically sit on each side.
 */
import type { Client } from "pg";
import type { Side } from "./connect";
import type { TableInfo } from "./schema";

const SEED_A = "5381";
const SEED_B = "-7046029254386353131";
const MASK64 = (1n << 64n) - 1n;

/** Tables bigger than two chunks are split into block ranges (TID range scans need PG 14+). */
export const CHUNK_PAGES = 4096; // 32 MiB of 8 KiB pages

export interface TableDigest {
  rows: number;
  /** 32 hex digits: the two folded sums. */
  hash: string;
  /** Newest write-time value (UTC, microseconds) or null when there is none / no such column. */
  newestMicros: bigint | null;
}

interface Task {
  table: TableInfo;
  sql: string;
  pages: number;
  bytes: number;
}

interface Partial {
  rows: bigint;
  a: bigint;
  b: bigint;
  newest: bigint | null;
  pending: number;
}

export interface HashProgress {
  side: Side["label"];
  table: string;
  tablesDone: number;
  tablesTotal: number;
  rows: number;
  bytes: number;
  elapsedMs: number;
}

function aliasFor(columns: string[]): string {
  // A column named like the alias would shadow the whole-row reference `alias::text`.
  let alias = "r";
  while (columns.includes(alias)) alias += "_";
  return alias;
}

function tid(page: number): string {
  return `'(${page},0)'::pg_catalog.tid`;
}

export function buildHashSql(t: TableInfo, where = ""): string {
  const a = `"${aliasFor(t.columns)}"`;
  // Timestamps without time zone are read as UTC (the session TimeZone), which is what Rails
  // stores. 'infinity' sentinels are not write times.
  const ts = t.timeColumns.length
    ? `, greatest(${t.timeColumns
        .map((c) => `nullif(${a}.${c}::pg_catalog.timestamptz, 'infinity'::pg_catalog.timestamptz)`)
        .join(", ")}) AS ts`
    : "";
  const newest = t.timeColumns.length
    ? `(extract(epoch FROM max(s.ts)) * 1000000)::pg_catalog.int8::text`
    : "NULL::text";
  // An extension's configuration table: only the rows pg_dump carries, by the extension's own
  // filter (text that starts with WHERE, written against the table's columns).
  const from = t.extensionConfig
    ? `(SELECT * FROM ONLY ${t.qname} ${t.extensionConfig.condition}) AS ${a}`
    : `ONLY ${t.qname} AS ${a}`;
  // OFFSET 0 stops the planner from inlining x into both sums (which would render rows twice).
  return (
    `SELECT count(*)::text AS n,` +
    ` coalesce(sum(pg_catalog.hashtextextended(s.x, ${SEED_A})), 0)::text AS a,` +
    ` coalesce(sum(pg_catalog.hashtextextended(s.x, ${SEED_B})), 0)::text AS b,` +
    ` ${newest} AS newest` +
    ` FROM (SELECT ${a}::text AS x${ts} FROM ${from}${where} OFFSET 0) AS s`
  );
}

function planTasks(tables: TableInfo[], serverVersionNum: number, chunkPages: number): Task[] {
  const tasks: Task[] = [];
  for (const t of tables) {
    const pages = Math.max(t.heapPages, 1);
    // A filtered configuration table is read whole (they are small; ctid is not in the filter).
    if (serverVersionNum < 140000 || pages <= 2 * chunkPages || t.extensionConfig) {
      tasks.push({ table: t, sql: buildHashSql(t), pages, bytes: t.bytes });
      continue;
    }
    // Open-ended first and last ranges: every tuple lands in exactly one chunk even if the
    // relation's size moved since it was measured.
    const n = Math.ceil(pages / chunkPages);
    for (let i = 0; i < n; i++) {
      const lo = i === 0 ? null : tid(i * chunkPages);
      const hi = i === n - 1 ? null : tid((i + 1) * chunkPages);
      const conds = [lo && `ctid >= ${lo}`, hi && `ctid < ${hi}`].filter(Boolean);
      const alias = `"${aliasFor(t.columns)}"`;
      const where = ` WHERE ${conds.map((c) => `${alias}.${c}`).join(" AND ")}`;
      const span = Math.min(chunkPages, pages - i * chunkPages);
      tasks.push({
        table: t,
        sql: buildHashSql(t, where),
        pages: span,
        bytes: (t.bytes * span) / pages,
      });
    }
  }
  // Largest first: keeps the pool busy to the end instead of waiting on one late big table.
  return tasks.sort((x, y) => y.pages - x.pages);
}

const fold = (v: bigint) => (v & MASK64).toString(16).padStart(16, "0");

/** Hashes `tables` over every client of the side; resolves to table key -> digest. */
export async function hashSide(
  side: Side,
  tables: TableInfo[],
  onProgress?: (p: HashProgress) => void,
  chunkPages = CHUNK_PAGES,
): Promise<Map<string, TableDigest>> {
  const tasks = planTasks(tables, side.serverVersionNum, chunkPages);
  const partial = new Map<string, Partial>();
  for (const t of tasks) {
    const p = partial.get(t.table.key) ?? { rows: 0n, a: 0n, b: 0n, newest: null, pending: 0 };
    p.pending++;
    partial.set(t.table.key, p);
  }
  const started = Date.now();
  let next = 0;
  let tablesDone = 0;
  let rows = 0;
  let bytes = 0;

  let failed = false;
  const worker = async (client: Client) => {
    while (!failed && next < tasks.length) {
      const task = tasks[next++];
      const r = (
        await client.query<{ n: string; a: string; b: string; newest: string | null }>(task.sql)
      ).rows[0];
      const p = partial.get(task.table.key)!;
      p.rows += BigInt(r.n);
      p.a += BigInt(r.a);
      p.b += BigInt(r.b);
      if (r.newest !== null) {
        const n = BigInt(r.newest);
        if (p.newest === null || n > p.newest) p.newest = n;
      }
      rows += Number(r.n);
      bytes += task.bytes;
      if (--p.pending === 0) tablesDone++;
      onProgress?.({
        side: side.label,
        table: task.table.key,
        tablesDone,
        tablesTotal: partial.size,
        rows,
        bytes,
        elapsedMs: Date.now() - started,
      });
    }
  };
  await Promise.all(
    side.clients.map((c) =>
      worker(c).catch((err) => {
        failed = true; // stop the other workers picking up more tasks
        throw err;
      }),
    ),
  );

  const out = new Map<string, TableDigest>();
  for (const [key, p] of partial) {
    out.set(key, { rows: Number(p.rows), hash: fold(p.a) + fold(p.b), newestMicros: p.newest });
  }
  return out;
}

/** Reads (last_value, is_called) of each sequence in one round trip. */
export async function readSequences(
  client: Client,
  sequences: Map<string, string>,
): Promise<Map<string, { lastValue: string; isCalled: boolean }>> {
  const out = new Map<string, { lastValue: string; isCalled: boolean }>();
  if (sequences.size === 0) return out;
  const keys = [...sequences.keys()];
  const sql = keys
    .map(
      (k, i) =>
        `SELECT $${i + 1}::text AS key, last_value::text AS v, is_called AS c FROM ${sequences.get(k)}`,
    )
    .join(" UNION ALL ");
  const res = await client.query<{ key: string; v: string; c: boolean }>(sql, keys);
  for (const r of res.rows) out.set(r.key, { lastValue: r.v, isCalled: r.c });
  return out;
}
