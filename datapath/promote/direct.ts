/**
 * The direct path of `tables` and `merge`, for the runbook's case: every chosen table has lost
 * most of its rows since T (a DELETE without WHERE, a TRUNCATE). The staged path (apply.ts)
 * streams the rows at T into a staging table, compares them with live and inserts them again:
 * the table's bytes written twice and read four times. Here they are streamed by COPY straight
 * into the live table, with its indexes, keys and foreign keys dropped for the load and rebuilt
 * after it (rebuild.ts: the plan predicts that, from the same counts and in the same words), and
 * the few rows live still had are reconciled by key afterwards:
 *  - tables: they are set aside and the table truncated before the load; the ones not identical
 *    at T are kept in the incident's schema; the table ends with exactly its rows at T;
 *  - merge: they stay (a table live emptied is truncated, dropping the corruption's dead rows);
 *    the copies at T of their keys are deleted again after the load, so they stay as live has
 *    them and only the rows live lacked are added.
 * TRUNCATE, like the index drops, takes the table's ACCESS EXCLUSIVE lock until COMMIT; a session
 * whose snapshot is older than the COMMIT and that reads the table after it sees the rows at T
 * and none of live's (TRUNCATE is not MVCC-safe, and the rows are loaded frozen). Promotion runs
 * with the app scaled down.
 *
 * What the staged path checks before writing, the constraints enforce here: a rebuilt unique or
 * exclusion key refuses a re-inserted row that collides, a re-added foreign key refuses a
 * reference to a row that is not there (either way), a NOT VALID check refuses a written row that
 * breaks it. When one does, apply.ts rolls back to its savepoint and runs the staged path, which
 * names the constraint and the rows in the plan's words. The outcome is always the staged path's
 * (a write, or the refusal the plan predicted); only the cost differs. Foreign keys added NOT
 * VALID are not checked when added back, so a set touching one takes the staged path.
 */
import type { Client } from "pg";
import { sqlState } from "../errors";
import type { ApplyOptions, TableOutcome, Timed } from "./apply";
import type { TableModel } from "./catalog";
import { keepRows, Kept, openKeepSchema } from "./keep";
import {
  dropKeys,
  rebuildKeys,
  restoreForeignKeys,
  setUserTriggersAndRules,
  suspendForeignKeys,
} from "./keys";
import { loadRowsAtT } from "./load";
import { REBUILD_MIN_ROWS, rebuildLine, rebuildsIndexes } from "./rebuild";
import type { ChosenTable } from "./selection";
import { colsOf, eq, rowCount, rowText } from "./sql";

/** A table goes direct when live has at most this share of its rows at T... */
export const DIRECT_SHARE = 0.2;
/** ...and at most this many (they are set aside in a temporary table and reconciled by key). */
export const DIRECT_MAX_LIVE_ROWS = 100_000;

export interface DirectTable {
  /** The table as at T: its rows are loaded. */
  atT: TableModel;
  /** The table as live has it: its indexes are dropped and rebuilt. */
  now: TableModel;
  /** Rows live has before the write. */
  liveRows: number;
  /** Temporary table of live's rows before the write: `pgr_row` (ctid), `pgr_old` (the row). */
  before: string;
}

/** Why the direct path stepped back after all; apply.ts then runs the staged path. */
export class NotDirect extends Error {}

/**
 * The direct tables when every chosen table qualifies (on live since T, a key rebuilt from its
 * definitions, live at most DIRECT_SHARE of its rows at T and DIRECT_MAX_LIVE_ROWS, at least
 * REBUILD_MIN_ROWS at T); otherwise undefined. Reads only: counts bounded by LIMIT, so a large
 * live table costs no more than the bound.
 */
export async function directTables(
  o: ApplyOptions,
  ordered: ChosenTable[],
): Promise<DirectTable[] | undefined> {
  const set = new Set(ordered.map((c) => c.atT.key));
  const unvalidated = o.liveModel.foreignKeys.some(
    (fk) => (set.has(fk.child) || set.has(fk.parent)) && /\bNOT VALID$/.test(fk.definition),
  );
  if (unvalidated) return undefined;
  const out: DirectTable[] = [];
  for (const [i, c] of ordered.entries()) {
    const now = c.live;
    if (!now || now.indexes.length === 0) return undefined;
    const liveRows = await rowCount(o.live, now, DIRECT_MAX_LIVE_ROWS + 1);
    if (liveRows > DIRECT_MAX_LIVE_ROWS) return undefined;
    const atLeast = Math.max(REBUILD_MIN_ROWS, Math.ceil(liveRows / DIRECT_SHARE));
    if ((await rowCount(o.ptr, c.atT, atLeast)) < atLeast) return undefined;
    out.push({ atT: c.atT, now, liveRows, before: `pg_temp.pgr_before_${i + 1}` });
  }
  return out;
}

/** Whether a failure inside the direct path means "take the staged path" rather than "stop". */
export function stepsBack(e: unknown): boolean {
  if (e instanceof NotDirect) return true;
  const c = sqlState(e) ?? (e instanceof Error ? sqlState(e.cause) : undefined);
  // Class 23: integrity constraint violation (unique, foreign key, check, exclusion).
  return c !== undefined && c.startsWith("23");
}

export interface DirectOutcome {
  tables: TableOutcome[];
  /** tables: the incident's schema holding the replaced rows. */
  keepSchema?: string;
  bytesCopied: number;
  triggersDisabled: string[];
  rulesDisabled: string[];
  indexesRebuilt: string[];
}

/** The direct write, inside apply.ts's transaction and savepoint; see the top of this file. */
export async function applyDirect(
  o: ApplyOptions,
  d: DirectTable[],
  timed: Timed,
): Promise<DirectOutcome> {
  const live = o.live;
  const set = new Set(d.map((x) => x.atT.key));
  await timed("comparison", undefined, () => setAside(live, d));
  const disabled = await setUserTriggersAndRules(live, o.liveModel, set, "disable");
  const suspended = await suspendForeignKeys(live, o, set);
  const keys = d.flatMap((x) => x.now.indexes.map((k) => ({ t: x.now, k })));
  const dropped = await dropKeys(live, o, keys, suspended);

  let bytesCopied = 0;
  const copied = new Map<string, number>();
  /** Tables loaded frozen (emptied first): their foreign keys can be validated from indexes. */
  const frozen = new Set<string>();
  for (const x of d) {
    // Unless merge keeps live's rows, the table is emptied by TRUNCATE, not DELETE: the
    // corruption's dead rows go with it, so the load, the index builds and the foreign key
    // checks read only the rows at T, and the repaired table is not left twice its size; and
    // the rows are loaded frozen (load.ts). (live's rows were set aside above; its foreign keys,
    // triggers and rules are down.)
    const truncateFirst = o.mode === "tables" || x.liveRows === 0;
    if (truncateFirst) frozen.add(x.atT.key);
    const onChunk = (n: number) => {
      bytesCopied += n;
      return o.onCopyChunk?.(x.atT.key, bytesCopied);
    };
    const rows = await timed("writes", `copied ${x.atT.key} as at T straight into live`, () =>
      loadRowsAtT(o, x.atT, x.now.q, onChunk, { truncateFirst }),
    );
    copied.set(x.atT.key, rows);
  }

  const outcomes = await timed("comparison", "reconciled the rows live had", () =>
    o.mode === "tables" ? reconcileTables(live, o, d, copied) : reconcileMerge(live, d, copied),
  );
  const indexesRebuilt = d.map((x, i) => {
    const inserted = outcomes[i].inserted;
    if (!rebuildsIndexes(x.now, inserted, x.liveRows)) {
      throw new NotDirect(`${x.atT.key}: ${inserted} rows to insert is not a bulk insert`);
    }
    return rebuildLine(x.now, inserted, x.liveRows);
  });
  await timed("constraints", `rebuilt ${dropped.length} indexes and keys`, () =>
    rebuildKeys(live, dropped),
  );
  await timed("constraints", `re-validated ${suspended.length} foreign keys`, () =>
    restoreForeignKeys(live, suspended, { frozen, log: o.log }),
  );
  await setUserTriggersAndRules(live, o.liveModel, set, "restore");
  await timed("checks", "checked the rows each table ends with", () =>
    checkCounts(live, d, outcomes, o.mode),
  );
  const keepSchema = o.mode === "tables" ? o.keepSchema : undefined;
  return {
    tables: outcomes,
    keepSchema,
    bytesCopied,
    triggersDisabled: disabled.triggers,
    rulesDisabled: disabled.rules,
    indexesRebuilt,
  };
}

/** Live's rows before the write, each with its row id, in a temporary table per chosen table. */
async function setAside(live: Client, d: DirectTable[]): Promise<void> {
  for (const x of d) {
    await live.query(
      `CREATE TEMP TABLE ${x.before.replace("pg_temp.", "")} ON COMMIT DROP AS
       SELECT x.ctid AS pgr_row, x AS pgr_old FROM ONLY ${x.now.q} x`,
    );
    await live.query(`ANALYZE ${x.before}`);
  }
}

/** A column of the row live had, in `before` (alias b). */
const OLD = "(b.pgr_old)";

/**
 * tables: the table now holds exactly its rows at T. Of the rows live had, those whose key is
 * back with the same content were not replaced; the others (deleted: key not at T; overwritten:
 * content differs) are kept in the incident's schema, as the staged path keeps them.
 */
async function reconcileTables(
  live: Client,
  o: ApplyOptions,
  d: DirectTable[],
  copied: Map<string, number>,
): Promise<TableOutcome[]> {
  await openKeepSchema(live, o);
  const out: TableOutcome[] = [];
  for (const [n, x] of d.entries()) {
    const { matched, changed } = await matchBack(live, x, n + 1);
    // Kept: every row live had but the ones back with the same content.
    const kept: Kept = await keepRows(
      live,
      o,
      x.now,
      `SELECT ${OLD}.* FROM ${x.before} b
        WHERE NOT EXISTS (SELECT 1 FROM pg_temp.pgr_same_${n + 1} m WHERE m.pgr_row = b.pgr_row)`,
    );
    const rowsAtT = copied.get(x.atT.key)!;
    out.push({
      table: x.atT.key,
      recreated: false,
      rowsAtT,
      inserted: rowsAtT - matched,
      updated: changed,
      deleted: x.liveRows - matched,
      ...kept,
    });
  }
  return out;
}

/**
 * Of the rows live had, those whose key is back (matched) and those among them back with the same
 * content, by row id in `pgr_same_<n>`: one pass over the loaded table, joined to the few rows
 * live had (the join's hashed side). Nothing to join when live had no rows.
 */
async function matchBack(
  live: Client,
  x: DirectTable,
  n: number,
): Promise<{ matched: number; changed: number }> {
  const pk = colsOf(x.atT, x.atT.pk!);
  const joined = x.liveRows
    ? `SELECT b.pgr_row, ${rowText("y", x.atT)} = ${rowText(OLD, x.atT)} AS same
         FROM ${x.before} b JOIN ONLY ${x.now.q} y ON ${eq("y", OLD, pk)}`
    : `SELECT b.pgr_row, TRUE AS same FROM ${x.before} b WHERE FALSE`;
  await live.query(`CREATE TEMP TABLE pgr_match_${n} ON COMMIT DROP AS ${joined}`);
  await live.query(
    `CREATE TEMP TABLE pgr_same_${n} ON COMMIT DROP AS SELECT pgr_row FROM pg_temp.pgr_match_${n} WHERE same`,
  );
  const r = await live.query<{ matched: number; changed: number }>(
    `SELECT count(*)::int AS matched, count(*) FILTER (WHERE NOT same)::int AS changed
       FROM pg_temp.pgr_match_${n}`,
  );
  return r.rows[0];
}

/**
 * merge: the load brought every row at T; the copies of the keys live still had are deleted
 * again (by row id: the rows live had keep theirs), so those rows stay as live has them.
 */
async function reconcileMerge(
  live: Client,
  d: DirectTable[],
  copied: Map<string, number>,
): Promise<TableOutcome[]> {
  const out: TableOutcome[] = [];
  for (const x of d) {
    const pk = colsOf(x.atT, x.atT.pk!);
    const again = x.liveRows
      ? await live.query(
          `DELETE FROM ONLY ${x.now.q} y USING ${x.before} b
            WHERE ${eq("y", OLD, pk)} AND y.ctid <> b.pgr_row`,
        )
      : { rowCount: 0 };
    const rowsAtT = copied.get(x.atT.key)!;
    out.push({
      table: x.atT.key,
      recreated: false,
      rowsAtT,
      inserted: rowsAtT - (again.rowCount ?? 0),
      updated: 0,
      deleted: 0,
      kept: 0,
    });
  }
  return out;
}

/**
 * Each table ends with the rows the write says: its rows at T (tables), or the rows live had and
 * those inserted (merge). The content needs no second pass: it is the COPY's, and the keys and
 * foreign keys rebuilt above have checked every row.
 */
async function checkCounts(
  live: Client,
  d: DirectTable[],
  outcomes: TableOutcome[],
  mode: "tables" | "merge",
): Promise<void> {
  for (const [i, x] of d.entries()) {
    const r = outcomes[i];
    const expected = mode === "tables" ? r.rowsAtT : x.liveRows + r.inserted;
    const n = await rowCount(live, x.now);
    if (n !== expected) {
      throw new Error(
        `${x.atT.key} has ${n} rows after the copy, not the ${expected} expected; rolled back, nothing was written`,
      );
    }
  }
}
