/**
 * Foreign keys across the boundary of the chosen tables, and what a mode would do to them:
 *  - into the set (a table outside references a chosen table): `tables` removes the chosen
 *    table's rows written after T; an outside row referencing one of them would be deleted
 *    (CASCADE), changed (SET NULL/DEFAULT) or left pointing at nothing (NO ACTION/RESTRICT, the
 *    statement fails). All three are refused. `merge` only adds rows: never a problem.
 *  - out of the set (a chosen table references a table outside): the restored rows need their
 *    referenced rows on live; one deleted since T is refused.
 * Computed read-only across the two servers by streaming keys (compare.ts's anti-join), so the
 * plan can show it; the modes check again exactly, inside their transaction, before writing.
 */
import type { Client } from "pg";
import { FK_ACTION, ForeignKey, DbModel, TableModel } from "./catalog";
import {
  antiJoin,
  compareKeys,
  CursorStream,
  KeyKind,
  keyKind,
  orderExpr,
  renderKey,
  textExpr,
} from "./compare";

export type Direction = "into" | "out";

export interface Crossing {
  fk: ForeignKey;
  direction: Direction;
  /** Rows the mode cannot keep consistent; 0 when there are none. */
  violations: number;
  samples: string[];
  /** What the violation means, in words (empty when there is none). */
  consequence: string;
}

const isInt = (t: TableModel, col: string) =>
  keyKind(t.columns.find((c) => c.name === col)!) === "int";

/** How reference keys sort (and so which come first as samples): integers when both sides are. */
export function kindsFor(child: TableModel, parent: TableModel, fk: ForeignKey): KeyKind[] {
  return fk.childColumns.map((c, i) =>
    isInt(child, c) && isInt(parent, fk.parentColumns[i]) ? "int" : "text",
  );
}

/** `within`: only the rows referencing a row of that table (and its columns) now. */
function groupedKeysSql(
  t: TableModel,
  cols: string[],
  kinds: KeyKind[],
  within?: { t: TableModel; cols: string[] },
): string {
  const a = `"c"`;
  const cs = cols.map((n) => t.columns.find((c) => c.name === n)!);
  const filter = within
    ? ` AND EXISTS (SELECT 1 FROM ONLY ${within.t.q} p WHERE ${within.cols
        .map((n, i) => `p.${within.t.columns.find((c) => c.name === n)!.q} = ${a}.${cs[i].q}`)
        .join(" AND ")})`
    : "";
  return (
    `SELECT ${cs.map((c) => textExpr(a, c)).join(", ")}, count(*)::pg_catalog.text FROM ONLY ${t.q} AS ${a}` +
    ` WHERE ${cs.map((c) => `${a}.${c.q} IS NOT NULL`).join(" AND ")}${filter}` +
    ` GROUP BY ${cs.map((c) => `${a}.${c.q}`).join(", ")}` +
    ` ORDER BY ${cs.map((c, i) => orderExpr(a, c, kinds[i])).join(", ")}`
  );
}

function keysSql(t: TableModel, cols: string[], kinds: KeyKind[]): string {
  const a = `"p"`;
  const cs = cols.map((n) => t.columns.find((c) => c.name === n)!);
  return (
    `SELECT ${cs.map((c) => textExpr(a, c)).join(", ")} FROM ONLY ${t.q} AS ${a}` +
    ` WHERE ${cs.map((c) => `${a}.${c.q} IS NOT NULL`).join(" AND ")}` +
    ` ORDER BY ${cs.map((c, i) => orderExpr(a, c, kinds[i])).join(", ")}`
  );
}

export function describeFk(fk: ForeignKey): string {
  return `${fk.name} on ${fk.child} (${fk.childColumns.join(", ")}) -> ${fk.parent} (${fk.parentColumns.join(", ")}) ON DELETE ${FK_ACTION[fk.onDelete]}${fk.onUpdate !== "a" ? ` ON UPDATE ${FK_ACTION[fk.onUpdate]}` : ""}`;
}

/** Words for "outside rows would lose the row they reference" under the key's actions. */
export function intoConsequence(fk: ForeignKey, rows: number): string {
  const action = fk.onDelete;
  if (action === "c") return `would delete ${rows} rows of ${fk.child} (ON DELETE CASCADE)`;
  if (action === "n" || action === "d") {
    return `would change ${rows} rows of ${fk.child} (ON DELETE ${FK_ACTION[action]})`;
  }
  return `${rows} rows of ${fk.child} would lose the ${fk.parent} row they reference (ON DELETE ${FK_ACTION[action]})`;
}

/**
 * The one wording of a foreign key the rows cannot keep consistent, for the plan and the write
 * alike: `rows` rows, `samples` the first referenced keys (distinct, in key order).
 */
export function fkLine(
  fk: ForeignKey,
  direction: Direction,
  mode: "tables" | "merge",
  rows: number,
  samples: string[],
): string {
  // Five keys are shown at most (plan and write alike): five may mean more.
  const refs = `referenced keys: ${samples.join(", ")}${samples.length >= 5 ? ", ..." : ""}`;
  if (direction === "into") {
    return (
      `${fk.name} (${describeFk(fk)}): ${intoConsequence(fk, rows)}; ${refs}; way out: add ` +
      `${fk.child} to --tables (its rows go back to T too), or --mode merge (adds rows, removes none)`
    );
  }
  return (
    `${fk.name} (${describeFk(fk)}): ${rows} rows of ${fk.child} to ${mode === "merge" ? "re-insert" : "restore"} ` +
    `reference ${fk.parent} rows that live no longer has; ${refs}; way out: add ${addBack(fk)} to --tables ` +
    `(the rows they reference come back too)`
  );
}

/** What to add to --tables for a key's referenced rows: its table, or a partitioned one's partitions. */
function addBack(fk: ForeignKey): string {
  if (fk.parents.length === 1 && fk.parents[0] === fk.parent) return fk.parent;
  const shown = fk.parents.slice(0, 5).join(", ");
  return `the partitions of ${fk.parent} that held them (${shown}${fk.parents.length > 5 ? ", ..." : ""})`;
}

/** The foreign keys crossing the set's boundary; `tablesOnly` skips the row checks. */
export function crossingKeys(
  ptr: DbModel,
  live: DbModel,
  set: Set<string>,
): { fk: ForeignKey; direction: Direction }[] {
  const out: { fk: ForeignKey; direction: Direction }[] = [];
  // Into the set: as live has them (they act on live's rows).
  for (const fk of intoKeys(live, set)) out.push({ fk, direction: "into" });
  // Out of the set: as they were at T (the restored rows carry them); a key to a partitioned
  // table against all its partitions at once (its copies are not checked on their own).
  for (const fk of ptr.foreignKeys) {
    if (set.has(fk.child) && !fk.copyOf && !fk.parents.some((p) => set.has(p))) {
      out.push({ fk, direction: "out" });
    }
  }
  return out;
}

/**
 * The keys into the chosen tables, each on a table with rows. A key to a partitioned table is
 * checked through its copy for each chosen partition, on the rows referencing that partition;
 * when the referencing table is partitioned too, the copy is its alone, and acts on each of its
 * partitions (`child` then that partition). Any other key of a partitioned table is its
 * partitions' own too, and checked as theirs.
 */
export function intoKeys(live: DbModel, set: Set<string>): ForeignKey[] {
  return live.foreignKeys.flatMap((fk) => {
    if (!set.has(fk.parent) || set.has(fk.child)) return [];
    if (live.tables.has(fk.child)) return [fk];
    if (!fk.copyOf) return [];
    const leaves = live.partitioned.find((p) => p.key === fk.child)?.leaves ?? [];
    return leaves.filter((c) => !set.has(c)).map((child) => ({ ...fk, child }));
  });
}

/** The tables on live holding a key's referenced rows (catalog.ts `parents`). */
export const parentsOn = (m: DbModel, fk: ForeignKey): TableModel[] =>
  fk.parents.map((k) => m.tables.get(k)).filter((t) => t !== undefined);

/**
 * Checks every crossing key for `mode` by streaming keys from both sides. `ptr` and `live` are
 * sessions in their snapshots.
 */
export async function checkCrossings(
  ptrClient: Client,
  liveClient: Client,
  ptr: DbModel,
  live: DbModel,
  set: Set<string>,
  mode: "tables" | "merge",
): Promise<Crossing[]> {
  const out: Crossing[] = [];
  for (const { fk, direction } of crossingKeys(ptr, live, set)) {
    if (direction === "into") {
      // merge only adds rows to the chosen tables: nothing outside can lose its reference.
      if (mode === "merge") {
        out.push({ fk, direction, violations: 0, samples: [], consequence: "" });
        continue;
      }
      const child = live.tables.get(fk.child)!;
      const parentAtT = ptr.tables.get(fk.parent)!;
      const kinds = kindsFor(child, parentAtT, fk);
      // A partition's copy of a key: only the rows referencing that partition depend on it.
      const within = fk.copyOf
        ? { t: live.tables.get(fk.parent)!, cols: fk.parentColumns }
        : undefined;
      const r = await antiJoin(
        { client: liveClient, sql: groupedKeysSql(child, fk.childColumns, kinds, within) },
        [{ client: ptrClient, sql: keysSql(parentAtT, fk.parentColumns, kinds) }],
        kinds,
      );
      out.push({
        fk,
        direction,
        violations: r.rows,
        samples: r.samples,
        consequence: r.rows ? intoConsequence(fk, r.rows) : "",
      });
    } else {
      const childAtT = ptr.tables.get(fk.child)!;
      const parentsNow = parentsOn(live, fk);
      const kinds = parentsNow.length
        ? kindsFor(childAtT, parentsNow[0], fk)
        : fk.childColumns.map((): KeyKind => "text");
      let r = await antiJoin(
        { client: ptrClient, sql: groupedKeysSql(childAtT, fk.childColumns, kinds) },
        parentsNow.map((p) => ({ client: liveClient, sql: keysSql(p, fk.parentColumns, kinds) })),
        kinds,
      );
      // merge re-inserts only the rows live lacks: count exactly those (a row at T live still
      // has, changed since, is not re-inserted), as the write will.
      if (mode === "merge" && r.rows > 0 && live.tables.has(fk.child)) {
        r = await missingDangling(ptrClient, liveClient, childAtT, parentsNow, fk, kinds);
      }
      out.push({
        fk,
        direction,
        violations: r.rows,
        samples: r.samples,
        consequence: r.rows
          ? `${r.rows} rows of ${fk.child} at T reference ${fk.parent} rows that live no longer has`
          : "",
      });
    }
  }
  return out;
}

/**
 * merge, a key out of the set with dangling references: the rows at T live lacks (those merge
 * re-inserts) whose reference live does not have. The rows at T are streamed from the PTR and
 * matched on live in batches; the referenced keys sorted as the write sorts them.
 */
async function missingDangling(
  ptrClient: Client,
  liveClient: Client,
  child: TableModel,
  parentsNow: TableModel[],
  fk: ForeignKey,
  kinds: KeyKind[],
): Promise<{ rows: number; samples: string[] }> {
  const pk = child.pk!.map((n) => child.columns.find((c) => c.name === n)!);
  const ref = fk.childColumns.map((n) => child.columns.find((c) => c.name === n)!);
  const cols = [...pk, ...ref];
  const a = `"c"`;
  const stream = new CursorStream(
    ptrClient,
    `SELECT ${cols.map((c) => textExpr(a, c)).join(", ")} FROM ONLY ${child.q} AS ${a}
      WHERE ${ref.map((c) => `${a}.${c.q} IS NOT NULL`).join(" AND ")}`,
    10_000,
  );
  const names = cols.map((_, i) => `v${i}`);
  const typed = cols.map((c, i) => `u.v${i}::${c.type} AS v${i}`).join(", ");
  const own = pk.map((c, i) => `m.${c.q} = x.v${i}`).join(" AND ");
  const exists = (parent: TableModel) =>
    `EXISTS (SELECT 1 FROM ONLY ${parent.q} p WHERE ${fk.parentColumns
      .map((n, i) => `p.${parent.columns.find((c) => c.name === n)!.q} = x.v${pk.length + i}`)
      .join(" AND ")})`;
  const has = parentsNow.length ? `(${parentsNow.map(exists).join(" OR ")})` : "FALSE";
  const sql = `SELECT ${ref.map((_, i) => `x.v${pk.length + i}::pg_catalog.text`).join(", ")}
                 FROM (SELECT ${typed} FROM unnest(${names.map((_, i) => `$${i + 1}::pg_catalog.text[]`).join(", ")}) AS u(${names.join(", ")})) x
                WHERE NOT EXISTS (SELECT 1 FROM ONLY ${child.q} m WHERE ${own}) AND NOT ${has}`;
  let rows = 0;
  const refs = new Map<string, unknown[]>();
  try {
    for (let batch = await stream.next(); batch; batch = await stream.next()) {
      const params = names.map((_, i) => batch.map((r) => r[i]));
      const hit = await liveClient.query<unknown[]>({
        text: sql,
        values: params,
        rowMode: "array",
      });
      rows += hit.rows.length;
      for (const k of hit.rows) refs.set(JSON.stringify(k), k);
    }
  } finally {
    await stream.close();
  }
  const sorted = [...refs.values()].sort((x, y) => compareKeys(x, y, kinds));
  return { rows, samples: sorted.slice(0, 5).map((k) => renderKey(k, k.length)) };
}
