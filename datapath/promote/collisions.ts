/**
 * Rows at T that a write would put next to a live row on the same key: a unique index (with a
 * constraint or not, partial, on expressions, NULLS NOT DISTINCT) or an exclusion constraint.
 *
 *  - merge re-inserts rows live lacks and keeps every live row: a collision is a real conflict,
 *    so merge is refused, naming the key, the rows and the way out.
 *  - tables gives the chosen table exactly its rows at T, which satisfied the same keys at T (the
 *    selection refuses a table whose keys differ). A collision there is only transient: a value
 *    moved between rows after T (users swapped e-mails) or a row added since holds it, and
 *    PostgreSQL checks a non-deferrable key row by row, so the update in place would fail
 *    halfway. The write therefore drops such a key (and the foreign keys that reference it) in
 *    its transaction and rebuilds it once the rows are in place, which also re-checks it. A
 *    partition's share of its partitioned table's key cannot be dropped on its own (PostgreSQL:
 *    "cannot drop inherited constraint"): the write is refused then, before anything is written.
 *
 * The plan finds them read-only across the two servers (the rows at T streamed from the PTR in
 * batches, each batch matched on live with the key's own operators); the write finds them
 * exactly in its transaction against the staged rows. The same SQL matches both, and
 * `collisionLine` words both, so the plan says what the write will do.
 */
import type { Client } from "pg";
import type { TableModel, UniqueKey } from "./catalog";
import { CursorStream } from "./compare";

export interface Collision {
  table: string;
  key: UniqueKey;
  /** Rows at T to write that collide with a live row (merge: the re-inserted ones). */
  rows: number;
  /** `(key) (value) held by (live key)`, in primary key order of the rows at T. */
  samples: string[];
}

const SAMPLE = 5;
const BATCH = 10_000;

const pkCols = (t: TableModel) => t.pk!.map((n) => t.columns.find((c) => c.name === n)!);

/** The key's parts over one table: p0.. (primary key), k0.. (key); unqualified names resolve to it. */
function keyRows(t: TableModel, k: UniqueKey, from: string): string {
  const cols = [
    ...pkCols(t).map((c, i) => `${c.q} AS p${i}`),
    ...k.exprs.map((e, i) => `(${e}) AS k${i}`),
  ];
  const where = [
    k.predicate ? `(${k.predicate})` : "TRUE",
    ...(k.nullsNotDistinct && k.kind === "unique" ? [] : k.exprs.map((e) => `(${e}) IS NOT NULL`)),
  ];
  return `(SELECT ${cols.join(", ")} FROM ${from} AS pgr_src WHERE ${where.join(" AND ")})`;
}

const render = (a: string, prefix: string, n: number) =>
  `'(' || concat_ws(', ', ${Array.from({ length: n }, (_, i) => `coalesce(${a}.${prefix}${i}::pg_catalog.text, 'NULL')`).join(", ")}) || ')'`;

/**
 * One query on live: the incoming rows `a` (p0.., k0..) that collide with a live row, with a
 * sample line each, in primary key order; `missing` says whether live lacks the row's key.
 */
function collisionSql(t: TableModel, k: UniqueKey, incoming: string): string {
  const np = t.pk!.length;
  const nk = k.exprs.length;
  const match = [
    ...k.exprs.map((_, i) =>
      k.nullsNotDistinct && k.kind === "unique"
        ? `a.k${i} IS NOT DISTINCT FROM b.k${i}`
        : `a.k${i} ${k.operators[i]} b.k${i}`,
    ),
    `ROW(${range(np, (i) => `a.p${i}`)}) IS DISTINCT FROM ROW(${range(np, (i) => `b.p${i}`)})`,
  ].join(" AND ");
  const live = keyRows(t, k, `ONLY ${t.q}`);
  const order = (a: string) => range(np, (i) => `${a}.p${i}`);
  const own = pkCols(t)
    .map((c, i) => `m.${c.q} = a.p${i}`)
    .join(" AND ");
  return `SELECT ${render("a", "p", np)} || ' ' || ${render("a", "k", nk)} || ' held by ' ||
                 (SELECT ${render("b", "p", np)} FROM ${live} b WHERE ${match} ORDER BY ${order("b")} LIMIT 1) AS line,
                 NOT EXISTS (SELECT 1 FROM ONLY ${t.q} m WHERE ${own}) AS missing, TRUE AS written,
                 row_number() OVER (ORDER BY ${order("a")}) AS ord
            FROM ${incoming} a
           WHERE EXISTS (SELECT 1 FROM ${live} b WHERE ${match})`;
}

function range(n: number, f: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => f(i)).join(", ");
}

/**
 * Counts and samples of a finding query's rows (line, missing, written, ord) for both modes at
 * once: tables writes the rows marked `written`, merge the ones live is `missing`.
 */
async function tally(
  live: Client,
  sql: string,
  params: unknown[] = [],
): Promise<{ all: number; missing: number; sAll: string[]; sMissing: string[] }> {
  const r = await live.query<{ n: number; nm: number; s: string[] | null; sm: string[] | null }>(
    `SELECT (count(*) FILTER (WHERE c.written))::int AS n,
            (count(*) FILTER (WHERE c.missing))::int AS nm,
            (array_agg(c.line ORDER BY c.ord) FILTER (WHERE c.written))[1:${SAMPLE}] AS s,
            (array_agg(c.line ORDER BY c.ord) FILTER (WHERE c.missing))[1:${SAMPLE}] AS sm
       FROM (${sql}) c`,
    params,
  );
  const x = r.rows[0];
  return { all: x.n, missing: x.nm, sAll: x.s ?? [], sMissing: x.sm ?? [] };
}

type Tally = Awaited<ReturnType<typeof tally>>;

/** Runs a finding over the rows at T streamed from the PTR in batches, shipped to live as text. */
async function overBatches(
  ptr: Client,
  live: Client,
  ptrSql: string,
  cols: string[],
  types: string[],
  liveSql: (incoming: string) => string,
): Promise<Tally> {
  const incoming = `(SELECT ${cols.map((x, i) => `u.${x}::${types[i]} AS ${x}`).join(", ")}
                       FROM unnest(${cols.map((_, i) => `$${i + 1}::pg_catalog.text[]`).join(", ")}) AS u(${cols.join(", ")}))`;
  const sql = liveSql(incoming);
  const found: Tally = { all: 0, missing: 0, sAll: [], sMissing: [] };
  const stream = new CursorStream(ptr, ptrSql, BATCH);
  try {
    for (let rows = await stream.next(); rows; rows = await stream.next()) {
      const params = cols.map((_, i) => rows.map((r) => r[i] as string | null));
      const b = await tally(live, sql, params);
      found.all += b.all;
      found.missing += b.missing;
      found.sAll.push(...b.sAll.slice(0, SAMPLE - found.sAll.length));
      found.sMissing.push(...b.sMissing.slice(0, SAMPLE - found.sMissing.length));
    }
  } finally {
    await stream.close();
  }
  return found;
}

/**
 * The plan's check, read-only: each chosen table's rows at T streamed from the PTR (key and
 * primary key as text), matched on live batch by batch with the key's operators. Returns the
 * collisions per mode.
 */
export async function planCollisions(
  ptr: Client,
  live: Client,
  tables: { atT: TableModel; live?: TableModel }[],
): Promise<{ tables: Collision[]; merge: Collision[] }> {
  const out = { tables: [] as Collision[], merge: [] as Collision[] };
  for (const c of tables) {
    const t = c.live;
    if (!t?.pk) continue; // recreated: nothing on live to collide with
    const np = t.pk.length;
    const text = (p: string, n: number) => range(n, (i) => `s.${p}${i}::pg_catalog.text`);
    for (const k of t.uniques) {
      const nk = k.exprs.length;
      const ptrSql = `SELECT ${text("p", np)}, ${text("k", nk)} FROM ${keyRows(c.atT, k, `ONLY ${c.atT.q}`)} s
                       ORDER BY ${range(np, (i) => `s.p${i}`)}`;
      const cols = [...names("p", np), ...names("k", nk)];
      const types = [...pkCols(t).map((x) => x.type), ...(await keyTypes(live, t, k))];
      const found = await overBatches(ptr, live, ptrSql, cols, types, (incoming) =>
        collisionSql(t, k, incoming),
      );
      if (found.all)
        out.tables.push({ table: t.key, key: k, rows: found.all, samples: found.sAll });
      if (found.missing) {
        out.merge.push({ table: t.key, key: k, rows: found.missing, samples: found.sMissing });
      }
    }
  }
  return out;
}

const names = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** The SQL type of each key part on live (a scalar subquery of no rows still has a type). */
async function keyTypes(live: Client, t: TableModel, k: UniqueKey): Promise<string[]> {
  const r = await live.query<string[]>({
    text: `SELECT ${k.exprs
      .map(
        (_, i) =>
          `pg_catalog.pg_typeof((SELECT s.k${i} FROM ${keyRows(t, k, `ONLY ${t.q}`)} s LIMIT 0))::pg_catalog.text`,
      )
      .join(", ")}`,
    rowMode: "array",
  });
  return r.rows[0];
}

/**
 * Staged rows hold the copied columns only: a key or check on a generated column needs it
 * computed, as the server will when the row is written.
 */
function withGenerated(t: TableModel, rows: string): string {
  const gen = t.columns.filter((c) => c.generated && c.generatedExpr);
  if (!gen.length) return rows;
  return `(SELECT pgr_g.*, ${gen.map((c) => `(${c.generatedExpr}) AS ${c.q}`).join(", ")} FROM ${rows} AS pgr_g)`;
}

/**
 * The write's check, exact, in its transaction: `rows` (SQL over the staged rows with the
 * table's columns) that collide with a live row on one of `keys` (the table's by default).
 */
export async function writeCollisions(
  live: Client,
  t: TableModel,
  rows: string,
  mode: "tables" | "merge",
  keys = t.uniques,
): Promise<Collision[]> {
  const out: Collision[] = [];
  for (const k of keys) {
    const b = await tally(live, collisionSql(t, k, keyRows(t, k, withGenerated(t, rows))));
    const n = mode === "merge" ? b.missing : b.all;
    if (n) {
      out.push({ table: t.key, key: k, rows: n, samples: mode === "merge" ? b.sMissing : b.sAll });
    }
  }
  return out;
}

/** `unique public.users (email) WHERE ...`, `exclusion public.bookings (room WITH =, ...)`. */
export function describeKey(table: string, k: UniqueKey): string {
  const parts =
    k.kind === "exclusion"
      ? k.exprs.map((e, i) => `${e} WITH ${k.operators[i].replace(/^OPERATOR\(.*\.(.*)\)$/, "$1")}`)
      : k.exprs;
  return `${k.kind} ${table} (${parts.join(", ")})${k.predicate ? ` WHERE ${k.predicate}` : ""}`;
}

/** A partition's share of its partitioned table's key. */
export const ofPartition = (k: UniqueKey): boolean => k.partitionOf !== undefined;

/**
 * Whether a collision refuses the write: always in merge; in tables when the key cannot be
 * dropped apart from a partitioned table's (otherwise the write drops and rebuilds it).
 */
export const refuses = (c: Collision, mode: "tables" | "merge"): boolean =>
  mode === "merge" || ofPartition(c.key);

/**
 * The one wording of a collision, for the plan and the write alike: a refusal in merge (and in
 * tables for a partition's share of a key), what the write does about it in tables.
 */
export function collisionLine(c: Collision, mode: "tables" | "merge"): string {
  const rows = `rows (key at T (value) held by live row): ${c.samples.join(", ")}${c.rows > c.samples.length ? ", ..." : ""}`;
  const head = `${c.key.name} (${describeKey(c.table, c.key)})`;
  if (mode === "merge") {
    return (
      `${head}: ${c.rows} rows to re-insert collide with rows live has now; ${rows}; ` +
      `way out: --mode tables for ${c.table} (the live rows holding these values go back to their state at T; ` +
      `their writes after T are kept aside), or change or delete those live rows first`
    );
  }
  const moved = `${head}: ${c.rows} rows at T take a value a different live row holds now (moved between rows or re-created after T)`;
  if (c.key.partitionOf) {
    return (
      `${moved}; it is the partition's share of ${c.key.partitionOf}'s key, which PostgreSQL drops ` +
      `only with ${c.key.partitionOf}'s, for every partition, so the rows cannot be written in place; ${rows}; ` +
      `way out: change those live rows' values first (the write then sets them as at T), or --mode whole`
    );
  }
  const refs = c.key.referencedBy.map((r) => `${r.name} on ${r.table}`);
  return (
    `${moved}; the write drops this ${c.key.constraintDef ? "constraint" : "index"}` +
    `${refs.length ? ` and the foreign keys that reference it (${refs.join(", ")})` : ""} and rebuilds ` +
    `${refs.length ? "them" : "it"} once the rows are in place, in its transaction; ${rows}`
  );
}

/** Rows at T to write that break a CHECK constraint live has NOT VALID. */
export interface CheckViolation {
  table: string;
  check: { name: string; expr: string };
  rows: number;
  /** Primary keys of the rows at T, in key order. */
  samples: string[];
}

const rowHash = (t: TableModel, a: string) =>
  `pg_catalog.hashtextextended(ROW(${t.copyColumns.map((c) => `${a}.${c.q}`).join(", ")})::pg_catalog.text, 0)`;

/** Rows of `from` breaking the check (a CHECK holds unless its expression is false): p0.., h. */
function breakingRows(t: TableModel, expr: string, from: string): string {
  return `(SELECT ${pkCols(t)
    .map((c, i) => `pgr_src.${c.q} AS p${i}`)
    .join(", ")}, ${rowHash(t, "pgr_src")} AS h FROM ${from} AS pgr_src WHERE (${expr}) IS FALSE)`;
}

/** Which breaking rows each mode writes: merge the ones live lacks, tables also those that differ. */
function violationSql(t: TableModel, incoming: string): string {
  const np = t.pk!.length;
  const own = pkCols(t)
    .map((c, i) => `m.${c.q} = a.p${i}`)
    .join(" AND ");
  return `SELECT ${render("a", "p", np)} AS line,
                 NOT EXISTS (SELECT 1 FROM ONLY ${t.q} m WHERE ${own}) AS missing,
                 NOT EXISTS (SELECT 1 FROM ONLY ${t.q} m WHERE ${own} AND ${rowHash(t, "m")} = a.h) AS written,
                 row_number() OVER (ORDER BY ${range(np, (i) => `a.p${i}`)}) AS ord
            FROM ${incoming} a`;
}

/** The plan's check of NOT VALID checks: rows at T breaking one, matched on live by key and content. */
export async function planViolations(
  ptr: Client,
  live: Client,
  tables: { atT: TableModel; live?: TableModel }[],
): Promise<{ tables: CheckViolation[]; merge: CheckViolation[] }> {
  const out = { tables: [] as CheckViolation[], merge: [] as CheckViolation[] };
  for (const c of tables) {
    const t = c.live ?? c.atT; // recreated from T: its checks are T's
    if (!t.pk) continue;
    const np = t.pk.length;
    for (const check of t.unvalidatedChecks) {
      const ptrSql = `SELECT ${range(np, (i) => `s.p${i}::pg_catalog.text`)}, s.h::pg_catalog.text
                        FROM ${breakingRows(c.atT, check.expr, `ONLY ${c.atT.q}`)} s
                       ORDER BY ${range(np, (i) => `s.p${i}`)}`;
      const cols = [...names("p", np), "h"];
      const types = [...pkCols(t).map((x) => x.type), "pg_catalog.int8"];
      // A table dropped since T is recreated empty: every row at T is written, so count on the PTR.
      const found = c.live
        ? await overBatches(ptr, live, ptrSql, cols, types, (incoming) => violationSql(t, incoming))
        : await tally(
            ptr,
            `SELECT ${render("a", "p", np)} AS line, TRUE AS missing, TRUE AS written,
                    row_number() OVER (ORDER BY ${range(np, (i) => `a.p${i}`)}) AS ord
               FROM ${breakingRows(t, check.expr, `ONLY ${t.q}`)} a`,
          );
      const v = (rows: number, samples: string[]) => ({ table: t.key, check, rows, samples });
      if (found.all) out.tables.push(v(found.all, found.sAll));
      if (found.missing) out.merge.push(v(found.missing, found.sMissing));
    }
  }
  return out;
}

/** The write's check, exact: staged rows `rows` it writes that break a NOT VALID check. */
export async function writeViolations(
  live: Client,
  t: TableModel,
  rows: string,
  mode: "tables" | "merge",
): Promise<CheckViolation[]> {
  const out: CheckViolation[] = [];
  for (const check of t.unvalidatedChecks) {
    const b = await tally(
      live,
      violationSql(t, breakingRows(t, check.expr, withGenerated(t, rows))),
    );
    const n = mode === "merge" ? b.missing : b.all;
    if (n) {
      out.push({ table: t.key, check, rows: n, samples: mode === "merge" ? b.sMissing : b.sAll });
    }
  }
  return out;
}

/** The one wording of a NOT VALID check the written rows break, for the plan and the write. */
export function violationLine(v: CheckViolation, mode: "tables" | "merge"): string {
  return (
    `${v.check.name} (check ${v.table}: ${v.check.expr}, NOT VALID): ${v.rows} rows at T to ` +
    `${mode === "merge" ? "re-insert" : "write back"} break it (it was added NOT VALID, so older ` +
    `rows were never checked); rows (key): ${v.samples.join(", ")}${v.rows > v.samples.length ? ", ..." : ""}; ` +
    `way out: correct those rows on the PTR (promote copies them from there) and promote again, ` +
    `or --mode whole (every table as at T, the constraint included)`
  );
}
