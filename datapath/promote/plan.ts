/**
 * `promote --plan`: what each mode would write and lose, read-only on both servers.
 *
 * Per user table, by primary key, between the PTR copy (state at T) and live: rows deleted,
 * changed and added since T, and the newest created_at/updated_at on each side; then per mode
 * the rows it writes, restores and loses, the bytes it copies; the foreign keys crossing the
 * chosen tables and what the mode would do to them; the user triggers and rules on the chosen
 * tables; tables without a primary key. Each side is read inside one snapshot (REPEATABLE READ), tables
 * compared in parallel over `jobs` sessions per side.
 */
import type { Client } from "pg";
import type { PromotionMode } from "../../contract/data-tool";
import { DbModel, Rule, Trigger } from "./catalog";
import { diffTable, newestWrites, TableDiff } from "./compare";
import {
  CheckViolation,
  Collision,
  collisionLine,
  planCollisions,
  planViolations,
  refuses,
  violationLine,
} from "./collisions";
import { checkCrossings, Crossing, describeFk, fkLine } from "./foreign-keys";
import { keepSchemaProblems, ownershipProblems, wholeProblems } from "./privileges";
import { rebuildLine, rebuildsIndexes } from "./rebuild";
import { ChosenTable } from "./selection";
import { rowCount } from "./sql";

export interface Newest {
  createdAt: string | null;
  updatedAt: string | null;
}

export interface TableReport extends TableDiff {
  status: "on both" | "dropped since T" | "created since T";
  /** PTR size of the table (what copying it reads). */
  bytes: number;
  newestAtT: Newest;
  newestLive: Newest;
  /** The PTR copy holds a created_at/updated_at later than T (clock skew, or the wrong PTR). */
  writesAfterTAtT: boolean;
}

export interface ModeSummary {
  mode: PromotionMode;
  /** Tables the mode writes. */
  tables: string[];
  bytesToCopy: number;
  inserts: number;
  updates: number;
  deletes: number;
  /** Rows brought back to their state at T (deleted or changed since). */
  restores: number;
  /** Rows written after T that the mode discards (added, or the post-T version of a change). */
  loses: number;
  /** Tables that exist only on live and disappear. */
  losesTables: string[];
  /** merge: rows changed since T that stay as they are on live. */
  notRepaired: number;
  /** Counts that could not be known (no primary key or a different row shape). */
  uncertain: string[];
  /** Why the mode would be refused; empty when it would run. */
  refusals: string[];
  /** What the write does beyond the rows (tables: keys it rebuilds), worded as the write reports it. */
  notes: string[];
}

export interface PromotionPlan {
  restoreTarget: string;
  ptr: string;
  live: string;
  mode?: PromotionMode;
  chosen: string[];
  tables: TableReport[];
  tablesWithoutPrimaryKey: string[];
  modes: ModeSummary[];
  foreignKeys: Crossing[];
  /** Foreign keys into a chosen table dropped since T: not recreated with it. */
  droppedReferences: string[];
  triggers: Trigger[];
  rules: Rule[];
  seconds: number;
}

export interface PlanInput {
  /** Sessions per side, all in that side's snapshot; [0] also runs the key checks. */
  ptr: Client[];
  live: Client[];
  ptrModel: DbModel;
  liveModel: DbModel;
  restoreTarget: { utc: string; epochMicros: bigint };
  ptrName: string;
  liveName: string;
  mode?: PromotionMode;
  /** Resolved --tables, when given. */
  chosen?: ChosenTable[];
  /** Problems resolving --tables (the plan still reports everything else). */
  chosenProblems?: string[];
  /** The incident's schema a tables write would keep replaced rows in. */
  keepSchema: string;
  log?: (line: string) => void;
}

const micros = (s: string | null) => (s ? Date.parse(s) * 1000 : null);

export async function buildPlan(p: PlanInput): Promise<PromotionPlan> {
  const started = Date.now();
  const log = p.log ?? (() => undefined);
  const keys = [...new Set([...p.ptrModel.tables.keys(), ...p.liveModel.tables.keys()])].sort();
  const reports = new Array<TableReport>(keys.length);
  let next = 0;
  let done = 0;
  const pairs = Math.min(p.ptr.length, p.live.length);
  const tMicros = Number(p.restoreTarget.epochMicros);
  await Promise.all(
    Array.from({ length: pairs }, async (_, w) => {
      while (next < keys.length) {
        const i = next++;
        reports[i] = await reportTable(keys[i], p, p.ptr[w], p.live[w], tMicros);
        done++;
        log(`promote plan: compared ${keys[i]} (${done}/${keys.length})`);
      }
    }),
  );

  const chosen = p.chosen ?? [];
  const set = new Set(chosen.map((c) => c.atT.key));
  const crossings =
    chosen.length > 0
      ? await checkCrossings(p.ptr[0], p.live[0], p.ptrModel, p.liveModel, set, "tables")
      : [];
  const mergeCrossings =
    chosen.length > 0
      ? await checkCrossings(p.ptr[0], p.live[0], p.ptrModel, p.liveModel, set, "merge")
      : [];
  const collisions =
    chosen.length > 0
      ? await planCollisions(p.ptr[0], p.live[0], chosen)
      : { tables: [], merge: [] };
  const violations =
    chosen.length > 0
      ? await planViolations(p.ptr[0], p.live[0], chosen)
      : { tables: [], merge: [] };
  const owners = chosen.length > 0 ? await ownershipProblems(p.live[0], p.liveModel, set) : [];
  const keep = chosen.length > 0 ? await keepSchemaProblems(p.live[0], p.keepSchema) : [];
  const byKey = new Map(reports.map((r) => [r.key, r]));
  const modes: ModeSummary[] = [wholeSummary(reports, p.ptrModel, await wholeProblems(p.live[0]))];
  if (chosen.length || p.chosenProblems?.length) {
    const problems = [...(p.chosenProblems ?? []), ...owners];
    const rows = (m: "tables" | "merge") => ({
      collisions: collisions[m],
      violations: violations[m],
    });
    modes.push(
      chosenSummary("tables", chosen, byKey, crossings, rows("tables"), [...problems, ...keep]),
    );
    modes.push(chosenSummary("merge", chosen, byKey, mergeCrossings, rows("merge"), problems));
  }
  const droppedReferences = p.ptrModel.foreignKeys
    .filter((fk) => set.has(fk.parent) && !set.has(fk.child) && !p.liveModel.tables.has(fk.parent))
    .map(describeFk);
  return {
    restoreTarget: p.restoreTarget.utc,
    ptr: p.ptrName,
    live: p.liveName,
    mode: p.mode,
    chosen: [...set],
    tables: reports,
    tablesWithoutPrimaryKey: keys.filter((k) => {
      const t = p.ptrModel.tables.get(k) ?? p.liveModel.tables.get(k)!;
      return !t.pk;
    }),
    modes,
    // Into-the-set keys are the same for both modes' report; out-of-set ones say "upper bound"
    // for merge, so show the tables-mode figures and the merge refusals in its summary.
    foreignKeys: crossings,
    droppedReferences,
    triggers: p.liveModel.triggers.filter((t) => set.has(t.table)),
    rules: p.liveModel.rules.filter((r) => set.has(r.table)),
    seconds: (Date.now() - started) / 1000,
  };
}

async function reportTable(
  key: string,
  p: PlanInput,
  ptr: Client,
  live: Client,
  tMicros: number,
): Promise<TableReport> {
  const atT = p.ptrModel.tables.get(key);
  const now = p.liveModel.tables.get(key);
  const none: Newest = { createdAt: null, updatedAt: null };
  if (atT && now) {
    // One after the other: they share the two sessions, where a failure (a permission, a
    // policy) aborts the transaction and the query queued behind it would report only that.
    const d = await diffTable(ptr, live, atT, now);
    const [na, nl] = await Promise.all([newestWrites(ptr, atT), newestWrites(live, now)]);
    return finish({ ...d, status: "on both", bytes: atT.bytes, newestAtT: na, newestLive: nl });
  }
  const only = (atT ?? now)!;
  const client = atT ? ptr : live;
  const rows = await rowCount(client, only);
  const newest = await newestWrites(client, only);
  return finish({
    key,
    method: only.pk ? "primary key" : "content",
    atT: atT ? rows : 0,
    live: atT ? 0 : rows,
    deleted: atT ? rows : 0,
    changed: 0,
    added: atT ? 0 : rows,
    samples: { deleted: [], changed: [], added: [] },
    status: atT ? "dropped since T" : "created since T",
    bytes: atT ? atT.bytes : 0,
    newestAtT: atT ? newest : none,
    newestLive: atT ? none : newest,
  });

  function finish(r: Omit<TableReport, "writesAfterTAtT">): TableReport {
    const n = [micros(r.newestAtT.createdAt), micros(r.newestAtT.updatedAt)];
    return { ...r, writesAfterTAtT: n.some((m) => m !== null && m > tMicros) };
  }
}

function wholeSummary(reports: TableReport[], ptr: DbModel, problems: string[]): ModeSummary {
  const s = empty("whole", [...ptr.tables.keys()]);
  s.refusals.push(...problems);
  for (const r of reports) {
    s.bytesToCopy += r.bytes;
    s.inserts += r.atT;
    s.restores += r.deleted + (r.changed ?? 0);
    s.loses += r.added + (r.changed ?? 0);
    if (r.status === "created since T") s.losesTables.push(r.key);
    if (r.changed === null && r.status === "on both") s.uncertain.push(r.key);
  }
  return s;
}

function chosenSummary(
  mode: "tables" | "merge",
  chosen: ChosenTable[],
  byKey: Map<string, TableReport>,
  crossings: Crossing[],
  met: { collisions: Collision[]; violations: CheckViolation[] },
  problems: string[],
): ModeSummary {
  const s = empty(
    mode,
    chosen.map((c) => c.atT.key),
  );
  s.refusals.push(...problems);
  for (const c of chosen) {
    const r = byKey.get(c.atT.key)!;
    s.bytesToCopy += r.bytes;
    const changed = r.changed ?? 0;
    if (r.changed === null) s.uncertain.push(r.key);
    s.inserts += r.deleted;
    s.restores += r.deleted;
    if (mode === "tables") {
      s.updates += changed;
      s.deletes += r.added;
      s.restores += changed;
      s.loses += r.added + changed;
    } else s.notRepaired += changed;
  }
  // Both modes: the tables whose indexes the write rebuilds around a bulk insert.
  for (const c of chosen) {
    const r = byKey.get(c.atT.key)!;
    if (c.live && rebuildsIndexes(c.live, r.deleted, r.live)) {
      s.notes.push(rebuildLine(c.live, r.deleted, r.live));
    }
  }
  // merge (and tables on a partition's share of a key): refused, as the write refuses; tables:
  // the keys the write rebuilds.
  for (const c of met.collisions) {
    (refuses(c, mode) ? s.refusals : s.notes).push(collisionLine(c, mode));
  }
  s.refusals.push(...met.violations.map((v) => violationLine(v, mode)));
  for (const x of crossings) {
    if (x.violations > 0) {
      s.refusals.push(fkLine(x.fk, x.direction, mode, x.violations, x.samples));
    }
  }
  return s;
}

function empty(mode: PromotionMode, tables: string[]): ModeSummary {
  return {
    mode,
    tables,
    bytesToCopy: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    restores: 0,
    loses: 0,
    losesTables: [],
    notRepaired: 0,
    uncertain: [],
    refusals: [],
    notes: [],
  };
}
