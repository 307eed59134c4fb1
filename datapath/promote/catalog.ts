/**
 * What promote needs to know about one side's schema: user tables with their columns, primary
 * key, unique keys, owned sequences and size; foreign keys with their actions; user triggers and
 * rules.
 * Read in the side's snapshot; names are rendered fully qualified (callers run with
 * search_path = '').
 */
import type { Client } from "pg";
import { formatTableName, TableRef } from "../../contract/table-names";

export interface Column {
  name: string;
  /** Quoted identifier. */
  q: string;
  type: string;
  typeOid: number;
  notNull: boolean;
  /** Generated (stored) columns are computed by the server: never copied. */
  generated: boolean;
  /** A generated column's expression, as SQL over the table (collisions.ts computes it on staged rows). */
  generatedExpr?: string;
  /** "a" GENERATED ALWAYS AS IDENTITY, "d" BY DEFAULT, "" none. */
  identity: string;
}

/**
 * An index as a rebuild inside the write's transaction needs it: its definition as the catalog
 * gives it (pg_get_indexdef, or pg_get_constraintdef when a constraint owns it) and what dropping
 * it would lose besides (comments, replica identity, cluster mark, the foreign keys on it).
 */
export interface IndexDefinition {
  /** The constraint's name, else the index's. */
  name: string;
  /** The index's name (in the table's schema). */
  index: string;
  /** Set when a constraint owns the index: its definition for ADD CONSTRAINT. */
  constraintDef?: string;
  /** CREATE [UNIQUE] INDEX ..., to rebuild a bare index. */
  indexDef: string;
  /** What a rebuild must put back besides the definition (comments, replica identity, cluster). */
  extras: {
    indexComment?: string;
    constraintComment?: string;
    replicaIdentity: boolean;
    clustered: boolean;
  };
  /**
   * Foreign keys (child table key, constraint name, quoted child table) that reference this
   * index; on a partitioned child, the partitioned table's own (its partitions' copies follow it).
   */
  referencedBy: { table: string; name: string; q: string }[];
}

/**
 * A key a written row can collide on: a unique index (constraint or not, partial, on
 * expressions) or an exclusion constraint. Everything needed to find collisions in SQL (the
 * key's expressions, operators and predicate evaluate over the bare table, unqualified) and to
 * drop and rebuild it inside the write's transaction.
 */
export interface UniqueKey extends IndexDefinition {
  kind: "unique" | "exclusion";
  /** Key columns or expressions as SQL over the table (a column is its quoted name). */
  exprs: string[];
  /** Per key: the operator two values collide under, as `OPERATOR(schema.op)`. */
  operators: string[];
  /** Partial index: its WHERE, as SQL over the table. */
  predicate?: string;
  /** NULLS NOT DISTINCT: null keys collide too. */
  nullsNotDistinct: boolean;
  /**
   * Set on a partition's share of its partitioned table's key: that table (as the plan prints
   * it). PostgreSQL builds and drops it only with the partitioned table's, never on its own.
   */
  partitionOf?: string;
}

export interface OwnedSequence {
  /** Quoted, schema-qualified. */
  q: string;
  column: string;
}

export interface TableModel {
  /**
   * `schema.table` as reports print it and `--tables` reads it back (contract/table-names.ts:
   * bare, or quoted where a part has a dot, comma, quote or space).
   */
  key: string;
  schema: string;
  name: string;
  /** Quoted, schema-qualified. */
  q: string;
  columns: Column[];
  /** Columns whose values are copied (all but generated ones). */
  copyColumns: Column[];
  /** Primary key columns in key order; undefined when the table has none. */
  pk?: string[];
  uniques: UniqueKey[];
  /**
   * Every index of the table (primary key, unique, exclusion, plain), in name order, for a bulk
   * write that drops and rebuilds them (apply.ts); empty when one of them cannot be rebuilt from
   * its definition alone (see `loadIndexes`).
   */
  indexes: IndexDefinition[];
  /**
   * CHECK constraints added NOT VALID: rows written before may break them, and writing such a
   * row again fails. (A validated CHECK held for every row at T, as the same one holds on live.)
   */
  unvalidatedChecks: { name: string; expr: string }[];
  sequences: OwnedSequence[];
  /** pg_table_size: heap + TOAST, what copying the rows reads. */
  bytes: number;
  /** The planner's estimate; exact counts come from the comparison. */
  estimatedRows: number;
  /** Quoted `created_at` / `updated_at` when the table has them as timestamps. */
  createdAt?: string;
  updatedAt?: string;
  /** Columns, key and constraints in one comparable text: equal signatures load the same rows. */
  signature: string[];
}

/** pg_constraint's action letters. */
export type FkAction = "a" | "r" | "c" | "n" | "d";
export const FK_ACTION: Record<FkAction, string> = {
  a: "NO ACTION",
  r: "RESTRICT",
  c: "CASCADE",
  n: "SET NULL",
  d: "SET DEFAULT",
};

export interface ForeignKey {
  name: string;
  /** Referencing table key and columns. */
  child: string;
  childColumns: string[];
  /** Referenced table key and columns. */
  parent: string;
  parentColumns: string[];
  onDelete: FkAction;
  onUpdate: FkAction;
  deferrable: boolean;
  definition: string;
  /**
   * Tables holding the referenced rows: `parent`, or when `parent` is partitioned its partitions
   * (those with rows, at any depth). A row's reference is checked against all of them at once.
   */
  parents: string[];
  /**
   * Set on the copy PostgreSQL keeps of a key to a partitioned table for each of its partitions
   * (`parent` is then that partition; the copy serves the partition's delete and update
   * actions): the name of the key it copies. A referenced row is in one partition only, so a
   * copy is never checked on its own, and it goes and comes back with its key.
   */
  copyOf?: string;
  /**
   * A partition's own share of its partitioned table's key (the partition references the rows
   * itself): PostgreSQL checks it, but it cannot be dropped apart from the partitioned table's.
   */
  inherited?: boolean;
}

/** A user trigger on a table (not one a constraint makes): it would fire on the copy's writes. */
export interface Trigger {
  table: string;
  name: string;
  /** pg_trigger.tgenabled (or pg_rewrite.ev_enabled): O origin, D disabled, R replica, A always. */
  enabled: string;
  definition: string;
}

/**
 * A user rewrite rule on a table (CREATE RULE), read and switched off like a trigger: it would act
 * on the copy's writes (a DELETE rewritten into a soft-delete UPDATE, an INSERT logged elsewhere).
 */
export type Rule = Trigger;

export interface DbModel {
  tables: Map<string, TableModel>;
  /**
   * Partitioned parents: their rows live in their partitions, which are listed as tables
   * (`leaves`: the partitions that hold rows, at any depth).
   */
  partitioned: (TableRef & { key: string; q: string; leaves: string[] })[];
  foreignKeys: ForeignKey[];
  triggers: Trigger[];
  rules: Rule[];
}

const USER_NS = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`;
const NOT_EXT = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

export async function readModel(client: Client): Promise<DbModel> {
  const { byOid, tables, partitioned, partitionedByOid } = await readTables(client);
  const oids = [...byOid.keys()];
  const keyOf = await tableKeyOf(client, byOid);
  await readColumns(client, byOid, oids);
  const partitions = await partitionsOf(client);
  for (const [oid, leaves] of partitions) {
    const entry = partitionedByOid.get(oid);
    if (entry) entry.leaves = leaves.flatMap((l) => byOid.get(l)?.key ?? []);
  }
  const foreignKeys = await readConstraints(client, byOid, keyOf, partitions);
  await readKeys(client, byOid, oids, keyOf);
  await loadIndexes(client, oids, byOid, keyOf);
  await readSequences(client, byOid, oids);
  const triggers = await readHooks(client, byOid, oids, HOOKS.triggers);
  const rules = await readHooks(client, byOid, oids, HOOKS.rules);
  for (const t of tables.values()) t.signature.sort();
  return { tables, partitioned, foreignKeys, triggers, rules };
}

/** A side's tables by oid (the catalog's own key), while the model is being read. */
type ByOid = Map<string, TableModel>;

/** A table's or partitioned parent's key (as the plan prints it) by oid. */
type KeyOf = (oid: string) => string | undefined;

/** User tables (not temporary, not an extension's) and partitioned parents, empty of detail. */
async function readTables(client: Client): Promise<{
  byOid: ByOid;
  tables: Map<string, TableModel>;
  partitioned: DbModel["partitioned"];
  partitionedByOid: Map<string, DbModel["partitioned"][number]>;
}> {
  const rels = await client.query<{
    oid: string;
    schema: string;
    name: string;
    q: string;
    relkind: string;
    bytes: string;
    est: string;
  }>(
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name,
            pg_catalog.format('%I.%I', n.nspname, c.relname) AS q, c.relkind::text AS relkind,
            pg_catalog.pg_table_size(c.oid)::text AS bytes,
            greatest(c.reltuples, 0)::int8::text AS est
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${USER_NS} AND ${NOT_EXT}
      ORDER BY 2, 3`,
  );
  const byOid = new Map<string, TableModel>();
  const tables = new Map<string, TableModel>();
  const partitioned: DbModel["partitioned"] = [];
  const partitionedByOid = new Map<string, DbModel["partitioned"][number]>();
  for (const r of rels.rows) {
    const key = formatTableName(r.schema, r.name);
    if (r.relkind === "p") {
      const entry = { schema: r.schema, name: r.name, key, q: r.q, leaves: [] };
      partitioned.push(entry);
      partitionedByOid.set(r.oid, entry);
      continue;
    }
    const t: TableModel = {
      key,
      schema: r.schema,
      name: r.name,
      q: r.q,
      columns: [],
      copyColumns: [],
      uniques: [],
      indexes: [],
      unvalidatedChecks: [],
      sequences: [],
      bytes: Number(r.bytes),
      estimatedRows: Number(r.est),
      signature: [],
    };
    byOid.set(r.oid, t);
    tables.set(key, t);
  }
  return { byOid, tables, partitioned, partitionedByOid };
}

/** Keys of tables and of every partitioned parent: foreign keys may point at either. */
async function tableKeyOf(client: Client, byOid: ByOid): Promise<KeyOf> {
  const partitionedOids = await client.query<{ oid: string; schema: string; name: string }>(
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'p' AND ${USER_NS}`,
  );
  const partitionedKeys = new Map(
    partitionedOids.rows.map((p) => [p.oid, formatTableName(p.schema, p.name)]),
  );
  return (oid) => byOid.get(oid)?.key ?? partitionedKeys.get(oid);
}

/** Each partitioned table's partitions that hold rows (at any depth), by oid. */
async function partitionsOf(client: Client): Promise<Map<string, string[]>> {
  const r = await client.query<{ root: string; leaf: string }>(
    `SELECT c.oid::int8::text AS root, t.relid::int8::text AS leaf
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,
            pg_catalog.pg_partition_tree(c.oid) t
      WHERE c.relkind = 'p' AND ${USER_NS} AND t.isleaf
      ORDER BY 1, 2`,
  );
  const out = new Map<string, string[]>();
  for (const x of r.rows) out.set(x.root, [...(out.get(x.root) ?? []), x.leaf]);
  return out;
}

/** Columns, in order; the copied ones; their lines of the signature; created_at/updated_at. */
async function readColumns(client: Client, byOid: ByOid, oids: string[]): Promise<void> {
  const cols = await client.query<{
    oid: string;
    name: string;
    q: string;
    type: string;
    typoid: number;
    notnull: boolean;
    gen: string;
    ident: string;
    genexpr: string | null;
  }>(
    `SELECT a.attrelid::int8::text AS oid, a.attname AS name, pg_catalog.quote_ident(a.attname) AS q,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS typoid,
            a.attnotnull AS notnull, a.attgenerated::text AS gen, a.attidentity::text AS ident,
            CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END AS genexpr
       FROM pg_catalog.pg_attribute a
       LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE a.attrelid = ANY($1::int8[]::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  for (const c of cols.rows) {
    const t = byOid.get(c.oid)!;
    const col: Column = {
      name: c.name,
      q: c.q,
      type: c.type,
      typeOid: c.typoid,
      notNull: c.notnull,
      generated: c.gen !== "",
      generatedExpr: c.genexpr ?? undefined,
      identity: c.ident,
    };
    t.columns.push(col);
    if (!col.generated) t.copyColumns.push(col);
    t.signature.push(
      `column ${c.name} ${c.type}${c.notnull ? " NOT NULL" : ""}${c.genexpr ? ` GENERATED (${c.genexpr})` : ""}`,
    );
    const ts = c.type.startsWith("timestamp");
    if (ts && c.name === "created_at") t.createdAt = c.q;
    if (ts && c.name === "updated_at") t.updatedAt = c.q;
  }
}

/**
 * Constraints into the signature, primary keys and NOT VALID checks; foreign keys, between
 * tables or parents.
 */
async function readConstraints(
  client: Client,
  byOid: ByOid,
  keyOf: KeyOf,
  partitions: Map<string, string[]>,
): Promise<ForeignKey[]> {
  const cons = await client.query<{
    con: string;
    copied: string | null;
    derived: boolean;
    oid: string;
    name: string;
    type: string;
    cols: string[];
    fcols: string[] | null;
    foid: string | null;
    del: string;
    upd: string;
    deferrable: boolean;
    def: string;
    validated: boolean;
    check: string | null;
  }>(
    `SELECT con.oid::int8::text AS con, con.conrelid::int8::text AS oid, con.conname AS name,
            con.contype::text AS type,
            (SELECT pc.oid::int8::text FROM pg_catalog.pg_constraint pc
              WHERE pc.oid = con.conparentid AND pc.conrelid = con.conrelid) AS copied,
            con.conparentid <> 0 AS derived,
            con.convalidated AS validated,
            CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid) END AS check,
            (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS cols,
            (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) AS fcols,
            nullif(con.confrelid, 0)::int8::text AS foid, con.confdeltype::text AS del,
            con.confupdtype::text AS upd, con.condeferrable AS deferrable,
            pg_catalog.pg_get_constraintdef(con.oid) AS def
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_NS} AND con.contype IN ('p', 'u', 'f', 'c', 'x')
      ORDER BY 1, 2`,
  );
  const foreignKeys: ForeignKey[] = [];
  const byCon = new Map<string, ForeignKey>();
  const copies: { fk: ForeignKey; copied: string }[] = [];
  for (const c of cons.rows) {
    const t = byOid.get(c.oid);
    if (t) t.signature.push(`constraint ${c.name} ${c.type} ${c.def}`);
    if (t && c.type === "p") t.pk = c.cols;
    if (t && c.type === "c" && !c.validated)
      t.unvalidatedChecks.push({ name: c.name, expr: c.check! });
    if (c.type === "f") {
      const child = keyOf(c.oid);
      const parent = keyOf(c.foid!);
      if (!child || !parent) continue;
      const fk: ForeignKey = {
        name: c.name,
        child,
        childColumns: c.cols,
        parent,
        parentColumns: c.fcols ?? [],
        onDelete: c.del as FkAction,
        onUpdate: c.upd as FkAction,
        deferrable: c.deferrable,
        definition: c.def,
        parents: byOid.has(c.foid!)
          ? [parent]
          : (partitions.get(c.foid!) ?? []).flatMap((oid) => byOid.get(oid)?.key ?? []),
      };
      if (c.derived && !c.copied) fk.inherited = true;
      foreignKeys.push(fk);
      byCon.set(c.con, fk);
      if (c.copied) copies.push({ fk, copied: c.copied });
    }
  }
  linkCopies(byCon, copies);
  return foreignKeys;
}

/**
 * Each copy of a key to a partitioned table named after the key it copies (the first one up its
 * chain: a partition may be partitioned in turn).
 */
function linkCopies(byCon: Map<string, ForeignKey>, copies: { fk: ForeignKey; copied: string }[]) {
  const copiedFrom = new Map(copies.map((x) => [x.fk, x.copied]));
  for (const { fk } of copies) {
    let root = byCon.get(copiedFrom.get(fk)!);
    while (root && copiedFrom.has(root)) root = byCon.get(copiedFrom.get(root)!);
    if (root) fk.copyOf = root.name;
  }
}

/**
 * What both index queries select for an `IndexDefinition` (over `pg_index i`, its relation
 * `ic` and the constraint `con` that owns it, if any): names, definitions, what a rebuild puts
 * back, and the foreign keys that reference the index.
 */
const INDEX_DEFINITION_COLUMNS = `ic.relname AS index, con.conname AS con,
            pg_catalog.pg_get_indexdef(i.indexrelid) AS indexdef,
            CASE WHEN con.oid IS NOT NULL THEN pg_catalog.pg_get_constraintdef(con.oid) END AS condef,
            pg_catalog.obj_description(i.indexrelid, 'pg_class') AS icomment,
            CASE WHEN con.oid IS NOT NULL THEN pg_catalog.obj_description(con.oid, 'pg_constraint') END AS ccomment,
            i.indisreplident AS replident, i.indisclustered AS clustered,
            coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                               'oid', f.conrelid::int8::text, 'name', f.conname,
                               'q', f.conrelid::pg_catalog.regclass::pg_catalog.text)
                               ORDER BY f.conname)
                        FROM pg_catalog.pg_constraint f
                       WHERE f.contype = 'f' AND f.conindid = i.indexrelid
                         AND f.conparentid = 0), '[]') AS refs`;

interface IndexDefinitionRow {
  oid: string;
  index: string;
  con: string | null;
  indexdef: string;
  condef: string | null;
  icomment: string | null;
  ccomment: string | null;
  replident: boolean;
  clustered: boolean;
  refs: { oid: string; name: string; q: string }[];
}

function indexDefinition(x: IndexDefinitionRow, keyOf: KeyOf): IndexDefinition {
  return {
    name: x.con ?? x.index,
    index: x.index,
    constraintDef: x.condef ?? undefined,
    indexDef: x.indexdef,
    extras: {
      indexComment: x.icomment ?? undefined,
      constraintComment: x.ccomment ?? undefined,
      replicaIdentity: x.replident,
      clustered: x.clustered,
    },
    referencedBy: x.refs.flatMap((f) => {
      const table = keyOf(f.oid);
      return table ? [{ table, name: f.name, q: f.q }] : [];
    }),
  };
}

/**
 * Keys by index, one query: a unique index without a constraint (partial, on expressions)
 * conflicts just the same as a constraint; an exclusion constraint conflicts by its operators.
 */
async function readKeys(client: Client, byOid: ByOid, oids: string[], keyOf: KeyOf): Promise<void> {
  const keys = await client.query<
    IndexDefinitionRow & {
      contype: string | null;
      exprs: string[];
      ops: (string | null)[];
      pred: string | null;
      nnd: boolean;
      parent: string | null;
    }
  >(
    `SELECT i.indrelid::int8::text AS oid, ${INDEX_DEFINITION_COLUMNS},
            con.contype::text AS contype,
            ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, false)
                    FROM pg_catalog.generate_series(1, i.indnkeyatts::int) k ORDER BY k) AS exprs,
            ARRAY(SELECT (SELECT pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, o.oprname)
                            FROM pg_catalog.pg_operator o
                            JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
                           WHERE o.oid = CASE WHEN con.contype = 'x' THEN con.conexclop[k]
                                   ELSE (SELECT am.amopopr FROM pg_catalog.pg_opclass oc
                                           JOIN pg_catalog.pg_amop am ON am.amopfamily = oc.opcfamily
                                          WHERE oc.oid = i.indclass[k - 1] AND am.amopmethod = ic.relam
                                            AND am.amoplefttype = oc.opcintype
                                            AND am.amoprighttype = oc.opcintype AND am.amopstrategy = 3)
                                   END)
                    FROM pg_catalog.generate_series(1, i.indnkeyatts::int) k ORDER BY k) AS ops,
            pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
            i.indnullsnotdistinct AS nnd,
            (SELECT pi.indrelid::int8::text FROM pg_catalog.pg_inherits h
               JOIN pg_catalog.pg_index pi ON pi.indexrelid = h.inhparent
              WHERE h.inhrelid = i.indexrelid) AS parent
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('u', 'x')
      WHERE i.indrelid = ANY($1::int8[]::oid[]) AND i.indisvalid AND NOT i.indisprimary
        AND (i.indisunique OR con.contype = 'x')
      ORDER BY 1, 2`,
    [oids],
  );
  for (const u of keys.rows) {
    const t = byOid.get(u.oid);
    if (!t) continue;
    t.uniques.push({
      ...indexDefinition(u, keyOf),
      kind: u.contype === "x" ? "exclusion" : "unique",
      exprs: u.exprs,
      operators: u.ops.map((o) => o ?? "="),
      predicate: u.pred ?? undefined,
      nullsNotDistinct: u.nnd,
      partitionOf: u.parent === null ? undefined : keyOf(u.parent),
    });
    // Rows at T load into live only if live's keys are the ones T had (T's rows satisfied them).
    if (!u.con) t.signature.push(`unique index ${u.indexdef.replace(/^.*? ON /, "ON ")}`);
  }
}

/** Sequences owned by a column (serial, identity). */
async function readSequences(client: Client, byOid: ByOid, oids: string[]): Promise<void> {
  const seqs = await client.query<{ oid: string; q: string; col: string }>(
    `SELECT d.refobjid::int8::text AS oid, pg_catalog.format('%I.%I', sn.nspname, s.relname) AS q,
            a.attname AS col
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::int8[]::oid[])
      ORDER BY 1, 2`,
    [oids],
  );
  for (const s of seqs.rows) byOid.get(s.oid)?.sequences.push({ q: s.q, column: s.col });
}

/**
 * What acts on a table's writes, one row per trigger or rule: its table's oid, name, enabled
 * state (the same letters in both catalogs) and definition. Not the triggers constraints make,
 * nor a view's `_RETURN` rule (a table has none).
 */
const HOOKS = {
  triggers: `SELECT t.tgrelid::int8::text AS oid, t.tgname AS name, t.tgenabled::text AS enabled,
                    pg_catalog.pg_get_triggerdef(t.oid) AS def
               FROM pg_catalog.pg_trigger t
              WHERE NOT t.tgisinternal AND t.tgrelid = ANY($1::int8[]::oid[])
              ORDER BY 1, 2`,
  // On one line, as the plan lists it (PostgreSQL breaks a rule before ON and WHERE).
  rules: `SELECT r.ev_class::int8::text AS oid, r.rulename AS name, r.ev_enabled::text AS enabled,
                 pg_catalog.regexp_replace(pg_catalog.pg_get_ruledef(r.oid), '\\s+', ' ', 'g') AS def
            FROM pg_catalog.pg_rewrite r
           WHERE r.ev_class = ANY($1::int8[]::oid[]) AND r.rulename <> '_RETURN'
           ORDER BY 1, 2`,
};

async function readHooks(
  client: Client,
  byOid: ByOid,
  oids: string[],
  sql: string,
): Promise<Trigger[]> {
  const r = await client.query<{ oid: string; name: string; enabled: string; def: string }>(sql, [
    oids,
  ]);
  return r.rows.map((x) => ({
    table: byOid.get(x.oid)!.key,
    name: x.name,
    enabled: x.enabled,
    definition: x.def,
  }));
}

/** A table's or partitioned table's quoted name in this catalog, if it has it. */
export const quotedName = (m: DbModel, key: string): string | undefined =>
  m.tables.get(key)?.q ?? m.partitioned.find((x) => x.key === key)?.q;

/** Lines of one signature missing from the other, for "schema differs" messages. */
export function signatureDifferences(ptr: TableModel, live: TableModel): string[] {
  const a = new Set(ptr.signature);
  const b = new Set(live.signature);
  return [
    ...ptr.signature.filter((s) => !b.has(s)).map((s) => `at T only: ${s}`),
    ...live.signature.filter((s) => !a.has(s)).map((s) => `live only: ${s}`),
  ];
}

/** True when rows of `ptr` load into `live` column for column (same order and types). */
export function sameRowShape(ptr: TableModel, live: TableModel): boolean {
  return (
    ptr.columns.length === live.columns.length &&
    ptr.columns.every(
      (c, i) =>
        c.name === live.columns[i].name &&
        c.type === live.columns[i].type &&
        c.generated === live.columns[i].generated,
    )
  );
}

/**
 * Every index of the tables, as a rebuild needs it. A table keeps none (its `indexes` stays
 * empty: written row by row) when one of its indexes holds something its definition does not
 * carry: a tablespace of its own, a statistics target on a column, an attachment to a
 * partitioned index (the table is a partition), or an unfinished build (not valid or not ready).
 */
async function loadIndexes(
  client: Client,
  oids: string[],
  byOid: ByOid,
  keyOf: KeyOf,
): Promise<void> {
  const r = await client.query<IndexDefinitionRow & { fixed: boolean }>(
    `SELECT i.indrelid::int8::text AS oid, ${INDEX_DEFINITION_COLUMNS},
            (ic.reltablespace <> 0 OR NOT i.indisvalid OR NOT i.indisready OR tc.relispartition
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0)) AS fixed
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
       LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
        AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = ANY($1::int8[]::oid[])
      ORDER BY 1, 2`,
    [oids],
  );
  const fixed = new Set(r.rows.filter((x) => x.fixed).map((x) => x.oid));
  for (const x of r.rows) {
    const t = byOid.get(x.oid);
    if (!t || fixed.has(x.oid)) continue;
    t.indexes.push(indexDefinition(x, keyOf));
  }
}
