/**
 * Rows at T into a table on live, by COPY from the PTR snapshot: into a staging table (apply.ts)
 * or straight into the live table (direct.ts).
 */
import type { ApplyOptions } from "./apply";
import { sqlState } from "../errors";
import type { TableModel } from "./catalog";
import { copyBetween, copyIn } from "./copy";

/** What loading needs of the write's options: the two sessions and the PTR's COPY source. */
export type LoadOptions = Pick<ApplyOptions, "ptr" | "live" | "source" | "log">;

type OnChunk = (bytes: number) => void | Promise<void>;

/**
 * `fromSql` (COPY ... TO STDOUT at T) into `toSql` on live; resolves to the rows loaded.
 * `viaSession` reads through the PTR session even where a source command is set (a text too
 * long for a command line).
 */
async function copyRows(
  o: LoadOptions,
  fromSql: string,
  toSql: string,
  onChunk: OnChunk,
  viaSession = false,
): Promise<number> {
  if (!o.source || viaSession) {
    const r = await copyBetween(o.ptr, fromSql, o.live, toSql, onChunk);
    if (r.rowsIn !== r.rowsOut) {
      throw new Error(`${r.rowsOut} rows read at T but ${r.rowsIn} loaded`);
    }
    return r.rowsIn;
  }
  const src = o.source(fromSql);
  try {
    const r = await copyIn(src.stdout, o.live, toSql, onChunk);
    await src.done;
    return r.rows;
  } catch (e) {
    src.stop();
    // A constraint live enforced on the loaded rows is this side's to report (direct.ts steps
    // back on it); otherwise psql's own message (the PTR side) says more than an early end of
    // data on this side.
    if (sqlState(e) !== undefined) throw e;
    throw (
      (await src.done.then(
        () => undefined,
        (x: Error) => x,
      )) ?? e
    );
  }
}

export interface LoadWhat {
  /**
   * Rows by key (merge's rows live lacks) instead of the whole table; read through the PTR
   * session: its text carries the keys, too long for a command line.
   */
  select?: string;
  /**
   * Empty `into` first (TRUNCATE ONLY) and load it frozen. COPY FREEZE needs the table truncated
   * in its own subtransaction, so the TRUNCATE runs inside the load's savepoint. Frozen rows are
   * marked all-visible: nothing rewrites their pages later to set hint bits or freeze them, and
   * the index builds and foreign key validation that follow can read the new indexes alone
   * (PostgreSQL then plans a foreign key's check as a merge of two index-only scans, not a hash
   * of the referenced table: 0.4 s against 1.1 s for 826k orders and 2.5M customers).
   */
  truncateFirst?: boolean;
}

/**
 * Loads a table's rows at T into `into` (a table with the copied columns of `t`); resolves to the
 * rows loaded.
 */
export async function loadRowsAtT(
  o: LoadOptions,
  t: TableModel,
  into: string,
  onChunk: OnChunk,
  what: LoadWhat = {},
): Promise<number> {
  // Binary is cheaper to write and parse on both servers (live's column types are the same as
  // at T); a type without binary I/O falls back to text, from a savepoint.
  await o.live.query("SAVEPOINT pgr_load");
  try {
    const n = await loadAs(o, t, into, "binary", onChunk, what);
    await o.live.query("RELEASE SAVEPOINT pgr_load");
    return n;
  } catch (e) {
    if (!/binary|wrong element type|wrong data type/i.test((e as Error).message)) throw e;
    await o.live.query("ROLLBACK TO SAVEPOINT pgr_load");
    o.log?.(`promote: ${t.key} has a type without binary COPY; copying it as text`);
    return loadAs(o, t, into, "text", onChunk, what);
  }
}

async function loadAs(
  o: LoadOptions,
  t: TableModel,
  into: string,
  format: "binary" | "text",
  onChunk: OnChunk,
  { select, truncateFirst }: LoadWhat,
): Promise<number> {
  const cols = t.copyColumns.map((x) => x.q).join(", ");
  const out = `COPY (${select ?? `SELECT ${cols} FROM ONLY ${t.q}`}) TO STDOUT (FORMAT ${format})`;
  if (truncateFirst) await o.live.query(`TRUNCATE ONLY ${into}`);
  const options = truncateFirst ? `FORMAT ${format}, FREEZE` : `FORMAT ${format}`;
  const load = `COPY ${into} (${cols}) FROM STDIN (${options})`;
  return copyRows(o, out, load, onChunk, select !== undefined);
}
