/**
 * `tables` and `merge`: the chosen tables take rows from the PTR copy, in ONE transaction on live.
 * Any failure (an error, a refusal, the connection dropped, the process killed) before COMMIT
 * leaves live exactly as it was: the server rolls the transaction back.
 *
 * The transaction first locks the chosen tables (EXCLUSIVE: reads go on, writes wait) and the
 * tables joined to them by foreign keys (SHARE), failing fast if the app still holds them. When
 * every chosen table has lost most of its rows, its rows at T then go straight into it
 * (direct.ts), from a savepoint; a constraint that stops that path rolls back to the savepoint
 * and the staged path below runs instead, naming it as the plan does. The staged path, in order:
 *  1. the lock above;
 *  2. recreate a chosen table dropped since T from its definition at T;
 *  3. stream each chosen table's rows at T (the PTR snapshot) into a temporary staging table
 *     (COPY, no storage in between); merge, when live still has most of a table: only the rows
 *     live lacks (missing.ts);
 *  4. check, exactly and before writing: no row outside the chosen tables would be deleted,
 *     changed or left without the row it references; no restored row references a row live no
 *     longer has (a foreign key live enforces as the rows are written is left to the write,
 *     which runs from a savepoint and, when the key refuses, rolls back to name it here:
 *     enforcedOnWrite; merge, when the role may set session_replication_role, checks them all
 *     here and inserts without the keys' per-row checks); no row written back breaks a CHECK
 *     added NOT VALID; (merge) no re-inserted row collides with a live row on a unique key
 *     (partial, on expressions) or an exclusion constraint. Any hit refuses with the
 *     constraint, rows and way out named, in the words the plan uses (foreign-keys.ts's fkLine,
 *     collisions.ts). (tables) a key whose values moved between rows since T is noted for
 *     rebuilding (collisions.ts says why);
 *  5. tables: keep every row about to be deleted or overwritten in `pgr_<incident>_replaced`;
 *  6. with the chosen tables' user triggers and rules disabled (so rows end exactly as at T) and the keys
 *     noted in 4 dropped, as well as every index of a table taking a bulk insert (rebuild.ts;
 *     all rebuilt, with the foreign keys on them, right after), apply the
 *     difference: insert rows missing from live, update rows that differ, delete rows added
 *     since T (tables), or only insert the missing rows (merge). Changed rows are updated in
 *     place, never deleted and re-inserted, so ON DELETE actions never fire for them;
 *  7. check the result against the staging copy (tables: same rows and content hash);
 *  8. raise the tables' sequences to at least the restored maximum; COMMIT.
 */
import type { Client } from "pg";
import { sqlState } from "../errors";
import { Column, DbModel, ForeignKey, IndexDefinition, quotedName, TableModel } from "./catalog";
import { loadRowsAtT } from "./load";
import type { CopySource } from "./source";
import {
  Collision,
  collisionLine,
  ofPartition,
  violationLine,
  writeCollisions,
  writeViolations,
} from "./collisions";
import { KeyKind, orderExpr } from "./compare";
import { describeFk, fkLine, intoKeys, kindsFor, parentsOn } from "./foreign-keys";
import { REBUILD_MIN_ROWS, rebuildLine, rebuildsIndexes } from "./rebuild";
import { keepSchemaProblems, ownershipProblems } from "./privileges";
import { ChosenTable, parentFirst, PromoteRefusedError, refusedBeforeWriting } from "./selection";
import { applyDirect, directTables, stepsBack } from "./direct";
import { StagedMissing, stageMissingOnly } from "./missing";
import { colsOf, eq, notNull, render, rowCount, rowText, withSetting } from "./sql";
import { keepRows, Kept, openKeepSchema } from "./keep";
import {
  dropKeys,
  mayReplicaRole,
  rebuildKeys,
  restoreForeignKeys,
  setUserTriggersAndRules,
  suspendForeignKeys,
} from "./keys";

export interface ApplyOptions {
  mode: "tables" | "merge";
  /** A session on the PTR copy inside its snapshot, with the comparable session settings. */
  ptr: Client;
  /** A session on live, not in a transaction, with the same settings. */
  live: Client;
  ptrModel: DbModel;
  liveModel: DbModel;
  chosen: ChosenTable[];
  /** Schema for the replaced rows (tables mode), e.g. pgr_2024_07_24_replaced. */
  keepSchema: string;
  /** The restore target, for comments on what was kept. */
  restoreTarget: string;
  /**
   * Streams `COPY (...) TO STDOUT` at T through a psql child (faster for big tables); without
   * it the rows come through the `ptr` session.
   */
  source?: (copySql: string) => CopySource;
  /** The definition at T of a table dropped since (pg_dump --schema-only of it). */
  definitionAtT: (t: TableModel) => Promise<string>;
  /** How long to wait for a lock the app holds before giving up. Default 10 s. */
  lockTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Bytes streamed so far into a table's staging copy (progress; tests inject faults here: a
   * returned promise holds the copy until it settles).
   */
  onCopyChunk?: (table: string, bytes: number) => void | Promise<void>;
}

export interface TableOutcome {
  table: string;
  recreated: boolean;
  rowsAtT: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Rows kept in the replaced schema (tables mode). */
  kept: number;
  keptIn?: string;
}

export interface SequenceOutcome {
  sequence: string;
  from: string;
  to: string;
}

/** Where the time of one run goes (the bench reports it), seconds per phase. */
export interface ApplyTimings {
  /** Rows at T streamed into the staging tables. */
  staging: number;
  /** Planner statistics of the staging tables. */
  analyze: number;
  /** The rows live lacks or has extra, and the checks before writing. */
  comparison: number;
  /** tables: the replaced rows set aside. */
  keep: number;
  writes: number;
  /** Suspended foreign keys added back, validated. */
  constraints: number;
  /** The result against the staging copy. */
  checks: number;
}

export interface ApplyResult {
  mode: "tables" | "merge";
  timings: ApplyTimings;
  tables: TableOutcome[];
  sequences: SequenceOutcome[];
  keepSchema?: string;
  triggersDisabled: string[];
  rulesDisabled: string[];
  bytesCopied: number;
  /** Foreign keys of other tables into a recreated table: they did not survive its drop. */
  notRecreated: string[];
  /** tables: keys dropped and rebuilt around the writes (values moved between rows since T). */
  keysRebuilt: string[];
  /** Tables whose indexes were dropped and rebuilt around a bulk insert (rebuild.ts). */
  indexesRebuilt: string[];
}

interface Staged {
  c: ChosenTable;
  t: TableModel;
  stage: string;
  /** Primary keys of the staged rows live lacks: what gets inserted. */
  missing: string;
  missingRows: number;
  /**
   * Rows live has before the writes: read with the keys (merge of the rows live lacks), else
   * counted when the insert may be a bulk one (rebuild.ts, suspendsForeignKeys).
   */
  liveRows: number;
  /** Primary keys of live rows T did not have (tables mode deletes them). */
  extra: string;
  recreated: boolean;
  /**
   * merge staged only the rows live lacks, this many (live still holds most of the table,
   * missing.ts): every staged row is one to insert.
   */
  stagedMissing?: number;
  rowsAtT: number;
}

const SAMPLE = 5;

export async function applyChosen(o: ApplyOptions): Promise<ApplyResult> {
  const log = o.log ?? (() => undefined);
  const live = o.live;
  const timings: ApplyTimings = {
    staging: 0,
    analyze: 0,
    comparison: 0,
    keep: 0,
    writes: 0,
    constraints: 0,
    checks: 0,
  };
  const timed = async <T>(
    phase: keyof ApplyTimings,
    what: string | undefined,
    fn: () => Promise<T>,
  ): Promise<T> => {
    const t = Date.now();
    const r = await fn();
    timings[phase] += (Date.now() - t) / 1000;
    if (what) log(`promote: ${what} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
    return r;
  };
  const ordered = parentFirst(o.chosen, o.ptrModel);
  const set = new Set(ordered.map((c) => c.atT.key));
  const result: ApplyResult = {
    mode: o.mode,
    timings,
    tables: [],
    sequences: [],
    triggersDisabled: [],
    rulesDisabled: [],
    bytesCopied: 0,
    notRecreated: [],
    keysRebuilt: [],
    indexesRebuilt: [],
  };
  // Before anything is written, as the plan refuses it (privileges.ts).
  const privileges = [
    ...(await ownershipProblems(live, o.liveModel, set)),
    ...(o.mode === "tables" ? await keepSchemaProblems(live, o.keepSchema) : []),
  ];
  if (privileges.length) throw refused(o, privileges);
  await live.query("BEGIN ISOLATION LEVEL READ COMMITTED");
  try {
    await live.query(`SET LOCAL lock_timeout = ${Math.max(1, o.lockTimeoutMs ?? 10_000)}`);
    await lockTables(live, o, set);

    // The runbook's case (tables that lost most of their rows) goes straight in (direct.ts); a
    // constraint it meets sends it back, from a savepoint, to the staged path, which names it.
    const direct = await directTables(o, ordered);
    let done = false;
    if (direct) {
      log(
        `promote: ${direct.map((x) => `${x.atT.key} (${x.liveRows} rows on live)`).join(", ")}: the rows at T go straight into live`,
      );
      await live.query("SAVEPOINT pgr_direct");
      try {
        Object.assign(result, await applyDirect(o, direct, timed));
        await live.query("RELEASE SAVEPOINT pgr_direct");
        done = true;
      } catch (e) {
        if (!stepsBack(e)) throw e;
        await live.query("ROLLBACK TO SAVEPOINT pgr_direct");
        log(`promote: ${(e as Error).message}; comparing the rows at T with live instead`);
      }
    }
    if (!done) await applyStaged(o, ordered, set, result, timed);
    result.sequences = await raiseSequences(
      o.ptr,
      live,
      ordered.map((c) => c.atT),
    );
    await live.query("COMMIT");
    return result;
  } catch (e) {
    await live.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/** Runs one step of the write, its time added to `phase` and logged with `what`. */
export type Timed = <T>(
  phase: keyof ApplyTimings,
  what: string | undefined,
  fn: () => Promise<T>,
) => Promise<T>;

/**
 * Step 2 and 3 for one chosen table (the `n`th): recreated if dropped since T, then its rows at T
 * (merge: only the rows live lacks, when live still has most of the table) in a staging table.
 */
async function stageOne(
  o: ApplyOptions,
  c: ChosenTable,
  n: number,
  set: Set<string>,
  result: ApplyResult,
  timed: Timed,
): Promise<Staged> {
  const log = o.log ?? (() => undefined);
  const live = o.live;
  let recreated = false;
  if (!c.live) {
    log(`promote: ${c.atT.key} was dropped since T; recreating it from its definition at T`);
    await runDefinition(live, await o.definitionAtT(c.atT));
    recreated = true;
    result.notRecreated.push(
      ...o.ptrModel.foreignKeys
        .filter((fk) => fk.parent === c.atT.key && !set.has(fk.child))
        .map(describeFk),
    );
  }
  const t = c.atT;
  const stage = `pg_temp.pgr_stage_${n}`;
  const cols = t.copyColumns.map((x) => x.q).join(", ");
  await live.query(
    `CREATE TEMP TABLE pgr_stage_${n} ON COMMIT DROP AS SELECT ${cols} FROM ONLY ${t.q} WITH NO DATA`,
  );
  const onChunk = (bytes: number) => {
    result.bytesCopied += bytes;
    return o.onCopyChunk?.(t.key, result.bytesCopied);
  };
  let few: StagedMissing | undefined;
  const rows = await timed("staging", `staged ${t.key} as at T`, async () => {
    // merge: only the rows live lacks, when they are few (cost in proportion to the damage).
    few = o.mode === "merge" && c.live ? await stageMissingOnly(o, t, stage, onChunk) : undefined;
    return few?.atT ?? loadRowsAtT(o, t, stage, onChunk);
  }).catch((e: Error) => {
    throw new Error(`copying ${t.key} from the PTR: ${e.message}; nothing was written`, {
      cause: e,
    });
  });
  await timed("analyze", undefined, () => live.query(`ANALYZE ${stage}`));
  return {
    c,
    t,
    stage,
    missing: `pg_temp.pgr_missing_${n}`,
    missingRows: 0,
    extra: `pg_temp.pgr_extra_${n}`,
    recreated,
    stagedMissing: few?.staged,
    liveRows: few?.live ?? 0,
    rowsAtT: rows,
  };
}

/**
 * The staged path, steps 2 to 7 of the list at the top: rows at T into staging tables, compared
 * with live, checked, then the difference written.
 */
async function applyStaged(
  o: ApplyOptions,
  ordered: ChosenTable[],
  set: Set<string>,
  result: ApplyResult,
  timed: Timed,
): Promise<void> {
  const live = o.live;
  const staged: Staged[] = [];
  for (const [i, c] of ordered.entries())
    staged.push(await stageOne(o, c, i + 1, set, result, timed));
  await timed("comparison", "found the rows live lacks", () => findMissing(live, staged, o.mode));

  // merge only inserts, and the tables its rows reference are locked (SHARE): with every key out
  // of the chosen tables checked before writing, the keys' per-row checks would repeat it, and
  // each locks its referenced row (a WAL record; a full page image of that row's page after a
  // checkpoint). So the insert skips them where the role may (replica role, keys.ts).
  const replica = o.mode === "merge" && (await mayReplicaRole(live));
  if (o.mode === "merge") o.log?.(replicaLine(replica));
  const enforced = replica ? new Set<ForeignKey>() : enforcedOnWrite(o, staged, set);
  const refusals = await timed("comparison", "checked keys and references", () =>
    checkBeforeWriting(live, o, staged, set, enforced),
  );
  // Refusing anyway: the keys left to the write are checked too, so every refusal is named at
  // once, as the plan names them.
  if (refusals.length) {
    throw refused(o, enforced.size ? await checkBeforeWriting(live, o, staged, set) : refusals);
  }
  await live.query("SAVEPOINT pgr_write");
  try {
    await writeStaged(o, staged, set, result, timed, replica);
  } catch (e) {
    if (!enforced.size || sqlState(e) !== FOREIGN_KEY_VIOLATION) throw e;
    await live.query("ROLLBACK TO SAVEPOINT pgr_write");
    o.log?.(`promote: ${(e as Error).message}; rolled back the writes to name it`);
    const all = await checkBeforeWriting(live, o, staged, set);
    throw all.length ? refused(o, all) : e;
  }
  await live.query("RELEASE SAVEPOINT pgr_write");
}

const replicaLine = (replica: boolean) =>
  replica
    ? "promote: foreign keys checked before writing; the insert runs with session_replication_role = replica (no per-row check locking each referenced row)"
    : "promote: this role may not set session_replication_role: each inserted row's foreign keys are checked as it goes in";

const refused = (o: ApplyOptions, problems: string[]) => refusedBeforeWriting(o.mode, problems);

/** SQLSTATE foreign_key_violation. */
const FOREIGN_KEY_VIOLATION = "23503";

/**
 * Foreign keys out of the chosen tables that live enforces as the rows are written: a restored
 * row referencing a row live no longer has stops the write by itself (the key's trigger on each
 * re-inserted row, or its validation when a bulk insert adds it back). Checking them before
 * writing would read the same rows twice, so the write's checks leave them out and the write
 * runs from a savepoint: when one refuses, it rolls back and the full checks name it in the
 * plan's words. Kept in the checks: a key live does not have as at T, a deferrable one (it would
 * refuse at COMMIT, past the savepoint), one added NOT VALID (it lets rows it never checked
 * stay, which the check refuses), and those of a table recreated here.
 */
function enforcedOnWrite(o: ApplyOptions, staged: Staged[], set: Set<string>): Set<ForeignKey> {
  const recreated = new Set(staged.filter((s) => s.recreated).map((s) => s.t.key));
  const onLive = new Set(o.liveModel.foreignKeys.map(fkId));
  return new Set(
    o.ptrModel.foreignKeys.filter(
      (fk) =>
        set.has(fk.child) &&
        !recreated.has(fk.child) &&
        onLive.has(fkId(fk)) &&
        !fk.deferrable &&
        !/\bNOT VALID$/.test(fk.definition),
    ),
  );
}

/** A foreign key by table, name and definition: the same key on both servers. */
const fkId = (fk: ForeignKey) => `${fk.child}\0${fk.name}\0${fk.definition}`;

/**
 * Steps 5 to 7 of the list at the top: keep, write the difference (with `replica`, under
 * session_replication_role = replica: every key was checked before), rebuild, check.
 */
async function writeStaged(
  o: ApplyOptions,
  staged: Staged[],
  set: Set<string>,
  result: ApplyResult,
  timed: Timed,
  replica: boolean,
): Promise<void> {
  const live = o.live;

  // tables: keys whose values moved between rows since T are rebuilt around the writes.
  const moved =
    o.mode === "tables"
      ? await timed("comparison", "checked keys for values moved between rows since T", () =>
          findMovedKeys(live, o, staged),
        )
      : [];
  result.keysRebuilt = moved.map((c) => collisionLine(c, "tables"));
  const bulk = bulkTables(o, staged);
  result.indexesRebuilt = bulk.map((b) => b.line);

  let kept = new Map<string, Kept>();
  if (o.mode === "tables") {
    result.keepSchema = o.keepSchema;
    kept = await timed("keep", `kept the rows to replace in ${o.keepSchema}`, () =>
      keepReplacedRows(live, o, staged),
    );
  }
  const disabled = await setUserTriggersAndRules(live, o.liveModel, set, "disable");
  result.triggersDisabled = disabled.triggers;
  result.rulesDisabled = disabled.rules;
  const suspended = await suspendForeignKeys(
    live,
    o,
    new Set(staged.filter((s) => suspendsForeignKeys(s, replica)).map((s) => s.t.key)),
  );
  const dropped = await dropKeys(live, o, toDrop(o, moved, bulk), suspended);
  const write = () => applyDifference(live, o.mode, staged);
  const counts = await timed("writes", "wrote the difference", () =>
    replica ? withSetting(live, "session_replication_role", "replica", write) : write(),
  );
  if (dropped.length) {
    await timed("constraints", `rebuilt ${dropped.length} indexes and keys`, () =>
      rebuildKeys(live, dropped),
    );
  }
  await timed("constraints", `re-validated ${suspended.length} foreign keys`, () =>
    restoreForeignKeys(live, suspended),
  );
  await setUserTriggersAndRules(live, o.liveModel, set, "restore");
  result.tables = staged.map((s) => ({
    table: s.t.key,
    recreated: s.recreated,
    rowsAtT: s.rowsAtT,
    ...counts.get(s.t.key)!,
    kept: kept.get(s.t.key)?.kept ?? 0,
    keptIn: kept.get(s.t.key)?.keptIn,
  }));
  await timed("checks", "checked the result against the staged rows", () =>
    checkResult(live, o.mode, staged),
  );
}

async function lockTables(live: Client, o: ApplyOptions, set: Set<string>): Promise<void> {
  const chosen = [...set].map((k) => o.liveModel.tables.get(k)).filter((t) => t !== undefined);
  // Tables referencing a chosen one (a partitioned one locks its partitions), and the tables
  // holding the rows a chosen one references (a partitioned table's partitions).
  const neighbours = new Set<string>();
  for (const fk of o.liveModel.foreignKeys) {
    if (fk.parents.some((p) => set.has(p)) && !set.has(fk.child)) neighbours.add(fk.child);
    if (set.has(fk.child)) fk.parents.filter((p) => !set.has(p)).forEach((p) => neighbours.add(p));
  }
  try {
    if (chosen.length) {
      await live.query(`LOCK TABLE ${chosen.map((t) => t.q).join(", ")} IN EXCLUSIVE MODE`);
    }
    const others = [...neighbours].flatMap((k) => quotedName(o.liveModel, k) ?? []);
    if (others.length) await live.query(`LOCK TABLE ${others.join(", ")} IN SHARE MODE`);
  } catch (e) {
    if (sqlState(e) === "55P03") {
      throw new PromoteRefusedError(
        `the chosen tables (or tables referencing them) are in use by other sessions; scale the app down first. Nothing was written. (${(e as Error).message})`,
      );
    }
    throw e;
  }
}

/** Runs pg_dump's schema script for one table in this transaction (psql meta lines dropped). */
async function runDefinition(live: Client, ddl: string): Promise<void> {
  const sql = ddl
    .split("\n")
    .filter((l) => !l.startsWith("\\"))
    .join("\n");
  await live.query(sql);
  // The script resets session settings (search_path, lock_timeout...); put ours back.
  await live.query("SELECT pg_catalog.set_config('search_path', '', false)");
}

/**
 * Rows matching `where` (alias c) and their first referenced keys, distinct, in the order the
 * plan's comparison sorts them (foreign-keys.ts), so both word a foreign key alike.
 */
async function references(
  live: Client,
  from: string,
  where: string,
  cols: Column[],
  kinds: KeyKind[],
): Promise<{ n: number; refs: string[] }> {
  // The sample only when there is one: the check passes far more often than it refuses, and
  // the sample's query reads every row again.
  const count = await live.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${from} WHERE ${where}`,
  );
  const n = count.rows[0].n;
  if (n === 0) return { n, refs: [] };
  const r = await live.query<{ refs: string[] }>(
    `SELECT ARRAY(SELECT ${render("c", cols)} FROM ${from} WHERE ${where}
                   GROUP BY ${cols.map((x) => `c.${x.q}`).join(", ")}
                   ORDER BY ${cols.map((x, i) => orderExpr("c", x, kinds[i])).join(", ")}
                   LIMIT ${SAMPLE}) AS refs`,
  );
  return { n, refs: r.rows[0].refs };
}

/**
 * Exact checks on live against the staged rows; each problem names the constraint and rows.
 * `enforced`: foreign keys out of the set left to the write (see enforcedOnWrite).
 */
async function checkBeforeWriting(
  live: Client,
  o: ApplyOptions,
  staged: Staged[],
  set: Set<string>,
  enforced: ReadonlySet<ForeignKey> = new Set(),
): Promise<string[]> {
  const c: Checking = {
    live,
    o,
    set,
    stageOf: new Map(staged.map((s) => [s.t.key, s])),
    incoming: (s) => (o.mode === "tables" ? s.stage : missingRows(s)),
  };
  return [
    ...(o.mode === "tables" ? await keysInto(c) : []),
    ...(await keysOut(c, enforced)),
    ...(await rowsBreakingKeys(c, staged)),
  ];
}

/** What the checks before writing share. */
interface Checking {
  live: Client;
  o: ApplyOptions;
  set: Set<string>;
  stageOf: Map<string, Staged>;
  /** Rows a chosen table ends up with from T: all staged (tables) or those live lacks (merge). */
  incoming: (s: Staged) => string;
}

/** tables: outside rows whose referenced row the chosen table will not have. */
async function keysInto({ live, o, set, stageOf }: Checking): Promise<string[]> {
  const problems: string[] = [];
  for (const fk of intoKeys(o.liveModel, set)) {
    const child = o.liveModel.tables.get(fk.child)!;
    const s = stageOf.get(fk.parent)!;
    const cc = colsOf(child, fk.childColumns);
    const pc = colsOf(s.t, fk.parentColumns);
    const match = fk.childColumns.map((_, i) => `p.${pc[i].q} = c.${cc[i].q}`).join(" AND ");
    // A partition's copy of a key: only the rows referencing that partition now depend on it.
    const now = o.liveModel.tables.get(fk.parent);
    const within =
      fk.copyOf && now ? ` AND EXISTS (SELECT 1 FROM ONLY ${now.q} p WHERE ${match})` : "";
    const hit = await references(
      live,
      `ONLY ${child.q} c`,
      `${notNull("c", cc)}${within} AND NOT EXISTS (SELECT 1 FROM ${s.stage} p WHERE ${match})`,
      cc,
      kindsFor(child, s.t, fk),
    );
    if (hit.n) problems.push(fkLine(fk, "into", o.mode, hit.n, hit.refs));
  }
  return problems;
}

/**
 * Rows written from T whose referenced row live will not have. `enforced`: foreign keys left to
 * the write (see enforcedOnWrite).
 */
async function keysOut(c: Checking, enforced: ReadonlySet<ForeignKey>): Promise<string[]> {
  const { live, o, set, stageOf, incoming } = c;
  const problems: string[] = [];
  for (const fk of o.ptrModel.foreignKeys) {
    // A partition's copy of a key is checked as its key, on every partition at once.
    if (!set.has(fk.child) || fk.copyOf || enforced.has(fk)) continue;
    // tables: both sides as at T, consistent.
    if (o.mode === "tables" && fk.parents.every((p) => set.has(p))) continue;
    const s = stageOf.get(fk.child)!;
    const cc = colsOf(s.t, fk.childColumns);
    const exists = (from: string, parent: TableModel) => {
      const pc = colsOf(parent, fk.parentColumns);
      return `EXISTS (SELECT 1 FROM ${from} p WHERE ${fk.childColumns.map((_, i) => `p.${pc[i].q} = c.${cc[i].q}`).join(" AND ")})`;
    };
    // The referenced rows after the write: live's, and a chosen table's that come in.
    const refs = fk.parents.flatMap((key) => {
      const now = o.liveModel.tables.get(key);
      const stage = stageOf.get(key);
      return [
        ...(now && !(stage && o.mode === "tables") ? [exists(`ONLY ${now.q}`, now)] : []),
        ...(stage ? [exists(incoming(stage), stage.t)] : []),
      ];
    });
    const parentNow = parentsOn(o.liveModel, fk)[0];
    const hit = await references(
      live,
      `${incoming(s)} c`,
      `${notNull("c", cc)} AND NOT (${refs.length ? refs.join(" OR ") : "FALSE"})`,
      cc,
      parentNow ? kindsFor(s.t, parentNow, fk) : cc.map((): KeyKind => "text"),
    );
    if (hit.n) problems.push(fkLine(fk, "out", o.mode, hit.n, hit.refs));
  }
  return problems;
}

/**
 * Rows written from T that break a CHECK added NOT VALID (a table recreated here has T's), and
 * rows written that collide with a live row on a unique or exclusion key: in merge any key, in
 * tables a partition's share of its partitioned table's key (collisions.ts `refuses`).
 */
async function rowsBreakingKeys(
  { live, o, incoming }: Checking,
  staged: Staged[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const s of staged) {
    const t = o.liveModel.tables.get(s.t.key) ?? s.t;
    for (const v of await writeViolations(live, t, incoming(s), o.mode)) {
      problems.push(violationLine(v, o.mode));
    }
  }
  for (const s of staged) {
    const now = o.liveModel.tables.get(s.t.key);
    if (!now || s.recreated) continue;
    // merge: every key; tables: a partition's shares, which the write cannot drop (the others
    // are dropped and rebuilt if values moved, writeStaged).
    const keys = o.mode === "merge" ? now.uniques : now.uniques.filter(ofPartition);
    for (const c of await writeCollisions(live, now, incoming(s), o.mode, keys)) {
      problems.push(collisionLine(c, o.mode));
    }
  }
  return problems;
}

/** Copies the rows about to be deleted or overwritten into the incident's schema. */
async function keepReplacedRows(
  live: Client,
  o: ApplyOptions,
  staged: Staged[],
): Promise<Map<string, Kept>> {
  const out = new Map<string, Kept>();
  await openKeepSchema(live, o);
  for (const s of staged) {
    if (s.recreated) continue; // nothing on live to replace
    const pk = colsOf(s.t, s.t.pk!);
    const select = `SELECT x.* FROM ONLY ${s.t.q} x
      WHERE NOT EXISTS (SELECT 1 FROM ${s.stage} s WHERE ${eq("s", "x", pk)} AND ${rowText("s", s.t)} = ${rowText("x", s.t)})`;
    out.set(s.t.key, await keepRows(live, o, s.t, select));
  }
  return out;
}

/**
 * The rows to insert, set aside before any write. `INSERT ... WHERE NOT EXISTS (the same table)`
 * lets the planner pick a nested loop over a table it believes empty (just emptied by the
 * corruption), which then rescans its own growing heap once per row: minutes instead of seconds
 * at 200k rows (measured). Computed first, against fresh statistics, the anti-join sees a
 * table that does not change under it. A table merge found mostly intact (`stagedMissing`)
 * keeps its statistics: they already describe a full table, and ANALYZE would cost ~0.1 s a
 * 100 MB table.
 */
async function findMissing(
  live: Client,
  staged: Staged[],
  mode: "tables" | "merge",
): Promise<void> {
  for (const s of staged) {
    if (!s.recreated && s.stagedMissing === undefined) await live.query(`ANALYZE ${s.t.q}`);
    const pk = colsOf(s.t, s.t.pk!);
    if (s.stagedMissing !== undefined) {
      s.missingRows = s.stagedMissing; // staged by the keys live lacks, under the lock
    } else {
      const r = await live.query(
        `CREATE TEMP TABLE ${s.missing.replace("pg_temp.", "")} ON COMMIT DROP AS
         SELECT ${pk.map((c) => `s.${c.q}`).join(", ")} FROM ${s.stage} s
          WHERE NOT EXISTS (SELECT 1 FROM ONLY ${s.t.q} x WHERE ${eq("x", "s", pk)})`,
      );
      s.missingRows = r.rowCount ?? 0;
    }
    // A bulk insert (rebuild.ts) is judged against the rows live has now.
    if (!s.recreated && s.missingRows >= REBUILD_MIN_ROWS && s.stagedMissing === undefined) {
      s.liveRows = await rowCount(live, s.t);
    }
    // merge deletes nothing (and may have staged only the missing rows): no extra rows.
    if (mode === "merge") continue;
    // The same for the delete: a later NOT EXISTS against a table being written is the hazard.
    await live.query(
      `CREATE TEMP TABLE ${s.extra.replace("pg_temp.", "")} ON COMMIT DROP AS
       SELECT ${pk.map((c) => `x.${c.q}`).join(", ")} FROM ONLY ${s.t.q} x
        WHERE NOT EXISTS (SELECT 1 FROM ${s.stage} s WHERE ${eq("s", "x", pk)})`,
    );
  }
}

/**
 * The staged rows live lacks, as a row source: the whole staging table when every row is missing
 * (a DELETE without WHERE: no join needed) or only those were staged, else the staged rows
 * joined to their keys.
 */
function missingRows(s: Staged): string {
  if (s.missingRows === s.rowsAtT || s.stagedMissing !== undefined) return s.stage;
  const pk = colsOf(s.t, s.t.pk!);
  return `(SELECT s.* FROM ${s.stage} s WHERE EXISTS (SELECT 1 FROM ${s.missing} m WHERE ${eq("m", "s", pk)}))`;
}

/**
 * Whether a table's foreign keys are dropped for the insert and added back (validated) after it:
 * one validating join over the whole table instead of a check per inserted row. Measured on the
 * bench's orders (826k rows; a key to 631k customers): the per-row checks cost ~13 us a row (0.22 s
 * for 16,518 rows), the join ~0.4 s whatever the rows inserted (~0.5 us a row live has); so the
 * join pays from SUSPEND_SHARE of the rows live has, and at least BULK_ROWS. Under `replica` (merge, keys.ts) the
 * insert makes no per-row checks, and every key was checked before writing: nothing to save.
 */
function suspendsForeignKeys(s: Staged, replica: boolean): boolean {
  return !replica && s.missingRows >= BULK_ROWS && s.missingRows > s.liveRows * SUSPEND_SHARE;
}

/** From this many rows to insert into a table (live's rows are counted from there, findMissing)... */
const BULK_ROWS = REBUILD_MIN_ROWS;
/** ...and this share of the rows live has (the break-even measured: ~3.6 %), keys checked once. */
const SUSPEND_SHARE = 0.04;

/** tables: the chosen tables' keys some row at T would collide on halfway through the writes. */
async function findMovedKeys(
  live: Client,
  o: ApplyOptions,
  staged: Staged[],
): Promise<Collision[]> {
  const moved: Collision[] = [];
  for (const s of staged) {
    const now = o.liveModel.tables.get(s.t.key);
    if (!now || s.recreated) continue;
    const keys = now.uniques.filter((k) => !ofPartition(k)); // refused before writing otherwise
    moved.push(...(await writeCollisions(live, now, s.stage, "tables", keys)));
  }
  return moved;
}

/** Tables taking a bulk insert (rebuild.ts), with the line the plan predicts for each. */
function bulkTables(o: ApplyOptions, staged: Staged[]): { t: TableModel; line: string }[] {
  return staged.flatMap((s) => {
    const now = o.liveModel.tables.get(s.t.key);
    if (!now || s.recreated || !rebuildsIndexes(now, s.missingRows, s.liveRows)) return [];
    return [{ t: now, line: rebuildLine(now, s.missingRows, s.liveRows) }];
  });
}

/** What to drop: every index of a bulk table, and the moved keys of the other tables. */
function toDrop(
  o: ApplyOptions,
  moved: Collision[],
  bulk: { t: TableModel }[],
): { t: TableModel; k: IndexDefinition }[] {
  const whole = new Set(bulk.map((b) => b.t.key));
  return [
    ...bulk.flatMap((b) => b.t.indexes.map((k) => ({ t: b.t, k }))),
    ...moved
      .filter((c) => !whole.has(c.table))
      .map((c) => ({ t: o.liveModel.tables.get(c.table)!, k: c.key })),
  ];
}

type Counts = Pick<TableOutcome, "inserted" | "updated" | "deleted">;

/**
 * The writes. First order: inserts and updates parent-first (a restored row finds the row it
 * references), then deletes child-first (no chosen row still references a deleted one). If that
 * trips a unique key (a row added since T holds a value a restored row needs) or a foreign key,
 * the other order is tried from a savepoint: deletes first, then inserts and updates.
 */
async function applyDifference(
  live: Client,
  mode: "tables" | "merge",
  staged: Staged[],
): Promise<Map<string, Counts>> {
  const run = async (deletesFirst: boolean) => {
    const counts = new Map<string, Counts>(
      staged.map((s) => [s.t.key, { inserted: 0, updated: 0, deleted: 0 }]),
    );
    const del = async () => {
      if (mode !== "tables") return;
      for (const s of [...staged].reverse()) {
        const pk = colsOf(s.t, s.t.pk!);
        const r = await live.query(
          `DELETE FROM ONLY ${s.t.q} AS x USING ${s.extra} e WHERE ${eq("x", "e", pk)}`,
        );
        counts.get(s.t.key)!.deleted = r.rowCount ?? 0;
      }
    };
    if (deletesFirst) await del();
    for (const s of staged) {
      const list = s.t.copyColumns.map((c) => c.q).join(", ");
      // Updates first: they compare only rows live already has, not the ones about to arrive.
      if (mode === "tables") counts.get(s.t.key)!.updated = await updateChanged(live, s);
      const ins = await live.query(
        `INSERT INTO ${s.t.q} (${list}) OVERRIDING SYSTEM VALUE SELECT ${list} FROM ${missingRows(s)} s`,
      );
      counts.get(s.t.key)!.inserted = ins.rowCount ?? 0;
    }
    if (!deletesFirst) await del();
    return counts;
  };
  await live.query("SAVEPOINT pgr_apply");
  try {
    return await run(false);
  } catch (e) {
    const code = sqlState(e);
    if (mode !== "tables" || (code !== "23505" && code !== "23503")) throw e;
    await live.query("ROLLBACK TO SAVEPOINT pgr_apply");
    return run(true);
  }
}

/**
 * tables: live's rows that differ from their row at T take its values. A column GENERATED ALWAYS
 * AS IDENTITY may be updated only to DEFAULT, so it is switched to BY DEFAULT for the statement
 * and back, in the transaction (a catalog change: no rewrite, the sequence untouched).
 */
async function updateChanged(live: Client, s: Staged): Promise<number> {
  const pk = colsOf(s.t, s.t.pk!);
  const rest = s.t.copyColumns.filter((c) => !s.t.pk!.includes(c.name));
  if (!rest.length) return 0;
  const always = rest.filter((c) => c.identity === "a");
  const owner = always.length ? await identityOwner(live, s.t) : "";
  const identity = async (how: "BY DEFAULT" | "ALWAYS") => {
    if (!always.length) return;
    const alter = always.map((c) => `ALTER COLUMN ${c.q} SET GENERATED ${how}`).join(", ");
    await live.query(`ALTER TABLE ${owner} ${alter}`);
  };
  await identity("BY DEFAULT");
  const r = await live.query(
    `UPDATE ONLY ${s.t.q} AS x SET (${rest.map((c) => c.q).join(", ")}) = ROW(${rest.map((c) => `s.${c.q}`).join(", ")})
       FROM ${s.stage} s
      WHERE ${eq("x", "s", pk)} AND ${rowText("x", s.t)} IS DISTINCT FROM ${rowText("s", s.t)}`,
  );
  await identity("ALWAYS");
  return r.rowCount ?? 0;
}

/**
 * Where `ALTER TABLE` sets the kind of `t`'s identity columns: `ONLY` the table itself (an
 * inheritance child has identities of its own), or from PostgreSQL 17, where a partition shares
 * its partitioned table's identity, the root of its partition tree (the change then reaches every
 * partition: all of them are locked until the transaction ends).
 */
async function identityOwner(live: Client, t: TableModel): Promise<string> {
  const r = await live.query<{ q: string }>(
    `SELECT CASE WHEN c.relispartition
                  AND pg_catalog.current_setting('server_version_num')::int >= 170000
                 THEN pg_catalog.pg_partition_root(c.oid)::pg_catalog.regclass::pg_catalog.text
                 ELSE 'ONLY ' || c.oid::pg_catalog.regclass::pg_catalog.text END AS q
       FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass`,
    [t.q],
  );
  return r.rows[0].q;
}

/** The chosen tables now hold what the staging copy holds (tables), or gained exactly it (merge). */
async function checkResult(
  live: Client,
  mode: "tables" | "merge",
  staged: Staged[],
): Promise<void> {
  for (const s of staged) {
    // Hashing each value with its type's own hash function is ~3x cheaper than hashing the
    // row's text; a type without one (json, point, ...) falls back to the text, from a savepoint.
    const row = `ROW(${s.t.copyColumns.map((c) => `x.${c.q}`).join(", ")})`;
    const sql = (from: string, hash: string) =>
      `SELECT count(*)::text AS n, coalesce(sum(${hash}), 0)::text AS h FROM ${from} x`;
    const digests = async (hash: string) => {
      const a = await live.query<{ n: string; h: string }>(sql(`ONLY ${s.t.q}`, hash));
      const b = await live.query<{ n: string; h: string }>(sql(s.stage, hash));
      return [a.rows[0], b.rows[0]];
    };
    if (mode === "tables") {
      await live.query("SAVEPOINT pgr_digest");
      let x: { n: string; h: string };
      let y: { n: string; h: string };
      try {
        [x, y] = await digests(`pg_catalog.hash_record_extended(${row}, 0)`);
        await live.query("RELEASE SAVEPOINT pgr_digest");
      } catch (e) {
        if (sqlState(e) !== "42883") throw e;
        await live.query("ROLLBACK TO SAVEPOINT pgr_digest");
        [x, y] = await digests(`pg_catalog.hashtextextended(${rowText("x", s.t)}, 0)`);
      }
      if (x.n !== y.n || x.h !== y.h) {
        throw new Error(
          `${s.t.key} does not match its state at T after the copy (${x.n} rows vs ${y.n}); rolled back, nothing was written`,
        );
      }
    } else {
      const pk = colsOf(s.t, s.t.pk!);
      const missing = await live.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${s.stage} s WHERE NOT EXISTS (SELECT 1 FROM ONLY ${s.t.q} x WHERE ${eq("x", "s", pk)})`,
      );
      if (missing.rows[0].n !== "0") {
        throw new Error(
          `${s.t.key}: ${missing.rows[0].n} rows at T still missing after the merge; rolled back, nothing was written`,
        );
      }
    }
  }
}

/**
 * Sequences owned by the chosen tables end at least at the largest value restored (and never
 * below where live or the PTR copy had them). setval is not transactional, so this runs last,
 * just before COMMIT: a failure here can leave a sequence higher, never lower.
 */
async function raiseSequences(
  ptr: Client,
  live: Client,
  tables: TableModel[],
): Promise<SequenceOutcome[]> {
  const out: SequenceOutcome[] = [];
  for (const t of tables) {
    for (const seq of t.sequences) {
      const col = t.columns.find((c) => c.name === seq.column)!;
      const now = (
        await live.query<{ v: string; called: boolean }>(
          `SELECT last_value::text AS v, is_called AS called FROM ${seq.q}`,
        )
      ).rows[0];
      const atT = (
        await ptr.query<{ v: string; called: boolean }>(
          `SELECT last_value::text AS v, is_called AS called FROM ${seq.q}`,
        )
      ).rows[0];
      const max = (
        await live.query<{ m: string | null }>(
          `SELECT max(${col.q})::pg_catalog.int8::text AS m FROM ONLY ${t.q}`,
        )
      ).rows[0].m;
      const used = (v: { v: string; called: boolean }) =>
        v.called ? BigInt(v.v) : BigInt(v.v) - 1n;
      const current = used(now);
      let target = current;
      for (const c of [used(atT), max === null ? null : BigInt(max)]) {
        if (c !== null && c > target) target = c;
      }
      if (target > current) {
        await live.query("SELECT pg_catalog.setval($1::pg_catalog.regclass, $2::int8, true)", [
          seq.q,
          target.toString(),
        ]);
        out.push({ sequence: seq.q, from: current.toString(), to: target.toString() });
      }
    }
  }
  return out;
}
