/**
 * A bulk write rebuilds the table's indexes instead of maintaining them row by row.
 *
 * Inserting into a table whose indexes exist costs, per row and per index, a descent to a random
 * leaf page and its WAL (a full-page image the first time a page changes after a checkpoint);
 * building an index afterwards reads the table once, sorts it and writes the index sequentially,
 * as pg_restore does after its load. The build costs in proportion to every row the table ends
 * with, the maintenance only to the rows inserted, so the rebuild pays off only when the insert
 * is a large share of the table:
 *  - more than REBUILD_SHARE of the rows live has now: the build then sorts at most ~6 rows per
 *    inserted row (live + inserted <= 6 x inserted), a sequential cost well below one random
 *    leaf update and its WAL per inserted row and index;
 *  - and at least REBUILD_MIN_ROWS: below that both ways take well under a second, and the row
 *    by row way keeps the table's indexes untouched.
 * A table losing every row after T (the runbook's case) takes the rebuild, a merge that re-inserts
 * 1 % of a table does not.
 *
 * The rebuild cannot meet a duplicate the row by row insert would have caught, so it never fails
 * where the plan said the write passes: `tables` ends with exactly the rows at T, which held the
 * same keys (the selection refuses a table whose keys differ); `merge`'s re-inserted rows that
 * collide with live rows on a unique or exclusion key are refused before any write, in the plan's
 * words (apply.ts checkBeforeWriting, collisions.ts), and the primary key cannot collide (only
 * keys live lacks are inserted).
 *
 * The plan predicts the rebuild from its exact counts (rows live lacks, rows live has) with the
 * same rule and the same words (`rebuildLine`), so `--plan` says what the write does.
 */
import type { IndexDefinition, TableModel } from "./catalog";

/** Rebuild when the rows to insert exceed this share of the rows live has now... */
export const REBUILD_SHARE = 0.2;
/** ...and are at least this many. */
export const REBUILD_MIN_ROWS = 10_000;

/** Whether the write rebuilds `t`'s indexes around inserting `inserts` rows into `liveRows`. */
export function rebuildsIndexes(t: TableModel, inserts: number, liveRows: number): boolean {
  return t.indexes.length > 0 && inserts >= REBUILD_MIN_ROWS && inserts > liveRows * REBUILD_SHARE;
}

/** The one wording of the rebuild, for the plan's notes and the write's result alike. */
export function rebuildLine(t: TableModel, inserts: number, liveRows: number): string {
  const names = (xs: IndexDefinition[]) => xs.map((x) => x.name).join(", ");
  const refs = t.indexes.flatMap((x) => x.referencedBy.map((r) => `${r.name} on ${r.table}`));
  return (
    `${t.key}: ${inserts} rows to insert into ${liveRows} live rows; the write drops its ` +
    `${t.indexes.length} indexes and keys (${names(t.indexes)})` +
    `${refs.length ? ` and the foreign keys that reference them (${refs.join(", ")})` : ""}, ` +
    `inserts the rows, then rebuilds them from their definitions, in its transaction (one sort ` +
    `per index instead of one index update per row)`
  );
}
