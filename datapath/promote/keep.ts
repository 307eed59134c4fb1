/**
 * `tables` keeps every row it deletes or overwrites in the incident's schema
 * (`pgr_<incident>_replaced`), one table per chosen table, for the review (apply.ts, direct.ts).
 */
import type { Client } from "pg";
import type { TableModel } from "./catalog";
import { fitName } from "./sql";
import { ident, literal } from "../postgres/connection";

export interface KeepTarget {
  /** The incident's schema, e.g. pgr_2024_07_24_replaced. */
  keepSchema: string;
  /** The restore target, for the comments on what was kept. */
  restoreTarget: string;
}

export interface Kept {
  kept: number;
  keptIn?: string;
}

/** Creates the incident's schema (if a rerun has not), with a comment saying what it holds. */
export async function openKeepSchema(live: Client, o: KeepTarget): Promise<void> {
  await live.query(`CREATE SCHEMA IF NOT EXISTS ${ident(o.keepSchema)}`);
  await live.query(
    `COMMENT ON SCHEMA ${ident(o.keepSchema)} IS ${literal(`rows replaced by pg-recovery promote --mode tables (restore target ${o.restoreTarget}); drop after the incident review`)}`,
  );
}

/**
 * Stores the rows of `select` (the rows of `t` about to be deleted or overwritten) as a new table
 * `<schema>__<table>` in the incident's schema; a rerun's table of that name is left alone and the
 * next free suffix taken.
 */
export async function keepRows(
  live: Client,
  o: KeepTarget,
  t: TableModel,
  select: string,
): Promise<Kept> {
  let name = fitName(`${t.schema}__${t.name}`);
  for (let i = 2; ; i++) {
    const exists = await live.query("SELECT pg_catalog.to_regclass($1) IS NOT NULL AS e", [
      `${ident(o.keepSchema)}.${ident(name)}`,
    ]);
    if (!exists.rows[0].e) break;
    name = fitName(`${t.schema}__${t.name}_${i}`);
  }
  const target = `${ident(o.keepSchema)}.${ident(name)}`;
  const r = await live.query(`CREATE TABLE ${target} AS ${select}`);
  await live.query(
    `COMMENT ON TABLE ${target} IS ${literal(`rows of ${t.key} deleted or overwritten by pg-recovery promote --mode tables at ${new Date().toISOString()} (restore target ${o.restoreTarget})`)}`,
  );
  return { kept: r.rowCount ?? 0, keptIn: `${o.keepSchema}.${name}` };
}
