/**
 * SQL over the catalog model, shared by promote's modules: column lists, key equalities, a row's
 * text (aliases are the caller's), and the small reads every path needs (a table's row count, a
 * setting changed for one transaction).
 */
import type { Client } from "pg";
import type { Column, TableModel } from "./catalog";
import { fitIdentifier } from "../storage/naming";

/** The model's columns named `names`, in that order (key columns, foreign key columns). */
export const colsOf = (t: TableModel, names: string[]): Column[] =>
  names.map((n) => t.columns.find((c) => c.name === n)!);

/** `a.c1 = b.c1 AND ...` over `cols`. */
export const eq = (a: string, b: string, cols: Column[]): string =>
  cols.map((c) => `${a}.${c.q} = ${b}.${c.q}`).join(" AND ");

export const notNull = (a: string, cols: Column[]): string =>
  cols.map((c) => `${a}.${c.q} IS NOT NULL`).join(" AND ");

/** `(v1, v2)` as the plan prints a key (foreign-keys.ts words it alike). */
export const render = (a: string, cols: Column[]): string =>
  `'(' || concat_ws(', ', ${cols.map((c) => `${a}.${c.q}::pg_catalog.text`).join(", ")}) || ')'`;

/** The copied columns of a row as one text: equal texts, equal rows (as COPY would load them). */
export const rowText = (a: string, t: TableModel): string =>
  `ROW(${t.copyColumns.map((c) => `${a}.${c.q}`).join(", ")})::pg_catalog.text`;

/** An identifier within PostgreSQL's 63 bytes, kept unique when cut by a hash of the whole. */
export function fitName(base: string): string {
  if (Buffer.byteLength(base) <= 63) return base;
  let h = 0;
  for (const ch of base) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return fitIdentifier(base, `_${h.toString(36)}`);
}

/** `t`'s rows (ONLY: not its inheritance children), counted up to `limit` when one is given. */
export async function rowCount(session: Client, t: TableModel, limit?: number): Promise<number> {
  const from = limit === undefined ? `ONLY ${t.q}` : `(SELECT 1 FROM ONLY ${t.q} LIMIT ${limit}) x`;
  const r = await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${from}`);
  return Number(r.rows[0].n);
}

/** Raises a memory setting (in kB) to at least `kb` for the session's transaction (SET LOCAL). */
export async function raiseSetting(session: Client, name: string, kb: number): Promise<void> {
  await session.query(
    `SELECT pg_catalog.set_config(name, $2, true) FROM pg_catalog.pg_settings
      WHERE name = $1 AND setting::pg_catalog.int8 < $3`,
    [name, `${kb}kB`, kb],
  );
}

/**
 * SQL: true when a plain btree index of table `rel` (an oid expression) has the columns
 * `attnums` (an int2[] expression) as its leading key columns, in any order: a foreign key on
 * them can be validated by merging that index with the referenced key's.
 */
export const leadsBtreeIndex = (rel: string, attnums: string): string => `EXISTS (
  SELECT 1 FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_am am ON am.oid = ic.relam
   WHERE i.indrelid = ${rel} AND am.amname = 'btree' AND i.indpred IS NULL
     AND i.indnkeyatts >= pg_catalog.cardinality(${attnums})
     AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(
            (i.indkey::pg_catalog.int2[])[0:pg_catalog.cardinality(${attnums}) - 1]) x)
       = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(${attnums}) x))`;

/**
 * Runs `fn` with setting `name` at `value` for the session's transaction (set_config(..., true)
 * is SET LOCAL), then puts back the value it had. When `fn` fails, the rollback that follows
 * (of the transaction, or to a savepoint taken before) puts it back.
 */
export async function withSetting<T>(
  session: Client,
  name: string,
  value: string,
  fn: () => Promise<T>,
): Promise<T> {
  const was = await session.query<{ v: string }>("SELECT pg_catalog.current_setting($1) AS v", [
    name,
  ]);
  const set = (v: string) => session.query("SELECT pg_catalog.set_config($1, $2, true)", [name, v]);
  await set(value);
  const r = await fn();
  await set(was.rows[0].v);
  return r;
}
