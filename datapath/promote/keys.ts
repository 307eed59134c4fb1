/**
 * Constraints around a bulk write of `tables` and `merge` (apply.ts, direct.ts), all in the
 * write's transaction so a rollback puts every one back: the chosen tables' user triggers and
 * rules disabled, their foreign keys suspended, indexes and keys dropped, then rebuilt and validated
 * from their definitions.
 */
import type { Client } from "pg";
import type { DbModel, ForeignKey, IndexDefinition, Rule, TableModel, Trigger } from "./catalog";
import { leadsBtreeIndex, raiseSetting, withSetting } from "./sql";
import { sqlState } from "../errors";
import { ident, literal } from "../postgres/connection";

/** The two catalogs a write reads its constraints from. */
export interface ModelPair {
  liveModel: DbModel;
  ptrModel: DbModel;
}

/** A foreign key dropped for the write, with its table (quoted) to add it back on. */
export interface SuspendedKey {
  fk: ForeignKey;
  table: string;
}

/** What a write disabled on the chosen tables and put back, as `schema.table.name`. */
export interface DisabledHooks {
  triggers: string[];
  rules: string[];
}

/**
 * Disables the enabled user triggers and rules of the chosen tables, or puts them back as they
 * were (ALTER TABLE is transactional: a rollback restores them too). Both would act on the
 * copy's writes: a trigger maintaining a counter, a rule turning a DELETE into a soft-delete
 * UPDATE (which would leave the rows the write removes, and fail its check after).
 */
export async function setUserTriggersAndRules(
  live: Client,
  model: DbModel,
  set: Set<string>,
  how: "disable" | "restore",
): Promise<DisabledHooks> {
  return {
    triggers: await setEnabled(live, model, model.triggers, "TRIGGER", set, how),
    rules: await setEnabled(live, model, model.rules, "RULE", set, how),
  };
}

async function setEnabled(
  live: Client,
  model: DbModel,
  hooks: Trigger[] | Rule[],
  kind: "TRIGGER" | "RULE",
  set: Set<string>,
  how: "disable" | "restore",
): Promise<string[]> {
  const names: string[] = [];
  for (const h of hooks) {
    if (!set.has(h.table) || h.enabled === "D") continue;
    const table = model.tables.get(h.table)!;
    const enable = { O: "ENABLE", A: "ENABLE ALWAYS", R: "ENABLE REPLICA" }[h.enabled] ?? "ENABLE";
    await live.query(
      `ALTER TABLE ${table.q} ${how === "disable" ? "DISABLE" : enable} ${kind} ${ident(h.name)}`,
    );
    names.push(`${h.table}.${h.name}`);
  }
  return names;
}

/**
 * A foreign key checks every inserted row with a lookup in the referenced table; for a bulk
 * insert one validating join at the end is several times cheaper (measured: most of a 100 MB
 * re-insert). So the chosen tables' own foreign keys are dropped in this transaction when a
 * table takes many rows (`bulk`), and added back (validated) after the writes. The checks before
 * writing already ruled out violations; a rollback restores the constraints in any case.
 */
export async function suspendForeignKeys(
  live: Client,
  o: ModelPair,
  bulk: Set<string>,
): Promise<SuspendedKey[]> {
  // As live has them, or (a table recreated here) as they were at T. A key's copies for the
  // partitions of a partitioned table go with it and come back with it (catalog.ts `copyOf`);
  // a partition's share of its partitioned table's key cannot be dropped alone: it checks each
  // row as it goes in.
  const own = (fk: ForeignKey) => bulk.has(fk.child) && !fk.copyOf && !fk.inherited;
  const fks = [
    ...o.liveModel.foreignKeys.filter(own),
    ...o.ptrModel.foreignKeys.filter((fk) => own(fk) && !o.liveModel.tables.has(fk.child)),
  ];
  const out = fks.map((fk) => ({
    fk,
    table: (o.liveModel.tables.get(fk.child) ?? o.ptrModel.tables.get(fk.child))!.q,
  }));
  for (const x of out) {
    await live.query(`ALTER TABLE ${x.table} DROP CONSTRAINT ${ident(x.fk.name)}`);
  }
  return out;
}

export interface DroppedKey {
  k: IndexDefinition;
  t: TableModel;
  /** Foreign keys referencing it, dropped here (not those already suspended). */
  fks: SuspendedKey[];
}

/**
 * Drops indexes and keys, each with the foreign keys that depend on it, for `rebuildKeys` to
 * build again after the writes. Two reasons (collisions.ts, rebuild.ts): a key whose values moved
 * between rows since T (PostgreSQL checks a non-deferrable key row by row, so updating the rows
 * in place would collide halfway; a swap always does), and a bulk insert (one sort per index
 * instead of one index update per row).
 *
 * DROP INDEX / DROP CONSTRAINT take an ACCESS EXCLUSIVE lock on the table until COMMIT, so even
 * reads wait. Acceptable: promotion runs only with the app scaled down (stacks/incident.ts
 * refuses `promote` without `scaleDown`), the chosen tables are already locked EXCLUSIVE by this
 * transaction, and lock_timeout still bounds the wait for a straggler session.
 */
export async function dropKeys(
  live: Client,
  o: ModelPair,
  keys: { t: TableModel; k: IndexDefinition }[],
  suspended: { fk: ForeignKey }[],
): Promise<DroppedKey[]> {
  const out: DroppedKey[] = [];
  const gone = new Set(suspended.map((x) => `${x.fk.child}\0${x.fk.name}`));
  for (const { t, k } of keys) {
    const fks = k.referencedBy
      .filter((r) => !gone.has(`${r.table}\0${r.name}`))
      .map((r) => ({
        fk: o.liveModel.foreignKeys.find((f) => f.child === r.table && f.name === r.name)!,
        table: r.q,
      }))
      .filter((x) => x.fk);
    for (const x of fks) {
      gone.add(`${x.fk.child}\0${x.fk.name}`);
      await live.query(`ALTER TABLE ${x.table} DROP CONSTRAINT ${ident(x.fk.name)}`);
    }
    await live.query(
      k.constraintDef
        ? `ALTER TABLE ${t.q} DROP CONSTRAINT ${ident(k.name)}`
        : `DROP INDEX ${ident(t.schema)}.${ident(k.index)}`,
    );
    out.push({ k, t, fks });
  }
  return out;
}

/**
 * The sort of an index build spills to disk beyond maintenance_work_mem (64 MB by default): the
 * rebuilds get at least this much, for this transaction only (set_config(..., true) is SET
 * LOCAL). Builds run one at a time, so this is the most they hold at once.
 */
const REBUILD_MEMORY_KB = 256 * 1024;

/**
 * Puts the dropped indexes and keys back as they were (building and checking them), with their
 * comments, replica identity and cluster mark, then their foreign keys.
 */
export async function rebuildKeys(live: Client, dropped: DroppedKey[]): Promise<void> {
  await raiseSetting(live, "maintenance_work_mem", REBUILD_MEMORY_KB);
  for (const { k, t } of dropped) {
    const index = `${ident(t.schema)}.${ident(k.index)}`;
    await live.query(
      k.constraintDef
        ? `ALTER TABLE ${t.q} ADD CONSTRAINT ${ident(k.name)} ${k.constraintDef}`
        : k.indexDef,
    );
    if (k.extras.indexComment !== undefined) {
      await live.query(`COMMENT ON INDEX ${index} IS ${literal(k.extras.indexComment)}`);
    }
    if (k.extras.constraintComment !== undefined) {
      await live.query(
        `COMMENT ON CONSTRAINT ${ident(k.name)} ON ${t.q} IS ${literal(k.extras.constraintComment)}`,
      );
    }
    if (k.extras.replicaIdentity) {
      await live.query(`ALTER TABLE ${t.q} REPLICA IDENTITY USING INDEX ${ident(k.index)}`);
    }
    if (k.extras.clustered) await live.query(`ALTER TABLE ${t.q} CLUSTER ON ${ident(k.index)}`);
  }
  await restoreForeignKeys(
    live,
    dropped.flatMap((d) => d.fks),
  );
}

/**
 * Adds the foreign keys back from their definitions, each validated as it is added: one join of
 * the table with the one it references, run with maintenance_work_mem (64 MB by default; a hash
 * join's hash spills to disk in batches beyond it), so the validations get the rebuilds' memory
 * too. A key of a table in `frozen` (loaded frozen, load.ts) whose columns lead an index is
 * validated with hash joins off: PostgreSQL would hash the referenced table when the
 * referencing one is big, and a hash of millions of keys misses the CPU cache on every probe,
 * where merging the two indexes reads them in order (6.4 s against 1.4 s for 10.7 million rows
 * referencing 2.5 million; the same rule as whole.ts's indexedForeignKeys).
 */
export async function restoreForeignKeys(
  live: Client,
  suspended: SuspendedKey[],
  { frozen = new Set(), log }: { frozen?: ReadonlySet<string>; log?: (line: string) => void } = {},
): Promise<void> {
  if (suspended.length) await raiseSetting(live, "maintenance_work_mem", REBUILD_MEMORY_KB);
  for (const x of suspended) {
    const add = `ALTER TABLE ${x.table} ADD CONSTRAINT ${ident(x.fk.name)} ${x.fk.definition}`;
    if (!frozen.has(x.fk.child) || !(await indexed(live, x))) {
      await live.query(add);
      continue;
    }
    log?.(`promote: validating ${x.fk.name} by merging the indexes (hash joins off)`);
    await withSetting(live, "enable_hashjoin", "off", () => live.query(add));
  }
}

/** Whether the key's referencing columns lead a btree index of its table (sql.ts). */
async function indexed(live: Client, x: SuspendedKey): Promise<boolean> {
  const r = await live.query<{ ok: boolean }>(
    `SELECT ${leadsBtreeIndex(
      "$1::pg_catalog.regclass",
      `(SELECT pg_catalog.array_agg(a.attnum) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = $1::pg_catalog.regclass AND a.attname = ANY($2::pg_catalog.text[]))`,
    )} AS ok`,
    [x.table, x.fk.childColumns],
  );
  return r.rows[0].ok;
}

/** SQLSTATE insufficient_privilege. */
const INSUFFICIENT_PRIVILEGE = "42501";

/**
 * Whether this session may set session_replication_role, which turns off the foreign keys'
 * per-row checks (and every trigger and rule not enabled ALWAYS or REPLICA; the write has
 * disabled the chosen tables' user triggers already): superusers may, and on managed services
 * a role with REPLICATION or `GRANT SET ON PARAMETER` (Azure's admin, by reports). Tried in a
 * savepoint, which undoes it either way.
 */
export async function mayReplicaRole(live: Client): Promise<boolean> {
  await live.query("SAVEPOINT pgr_role");
  try {
    await live.query("SELECT pg_catalog.set_config('session_replication_role', 'replica', true)");
    return true;
  } catch (e) {
    if (sqlState(e) !== INSUFFICIENT_PRIVILEGE) throw e;
    return false;
  } finally {
    await live.query("ROLLBACK TO SAVEPOINT pgr_role");
    await live.query("RELEASE SAVEPOINT pgr_role");
  }
}
