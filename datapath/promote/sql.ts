/**
 * SQL text over the catalog model, shared by the write paths of `tables` and `merge` (apply.ts,
 * direct.ts): column lists, key equalities, a row's text. Aliases are the caller's.
 */
import type { Column, TableModel } from "./catalog";

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
  const tag = `_${h.toString(36)}`;
  let s = base;
  while (Buffer.byteLength(s) + tag.length > 63) s = s.slice(0, -1);
  return s + tag;
}
