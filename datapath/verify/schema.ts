/**
 * Schema side of verify: reads the catalog into comparable "object key -> definition text" entries
 * and diffs two of them. Definitions come from Postgres' own deparsers (pg_get_indexdef,
 * pg_get_constraintdef, format_type ...) under search_path='' so names are fully qualified.
 */
import type { Client } from "pg";

export type Category =
  | "database"
  | "extension"
  | "schema"
  | "table"
  | "column"
  | "constraint"
  | "index"
  | "sequence"
  | "view"
  | "trigger"
  | "rule"
  | "enum"
  | "domain"
  | "type"
  | "function"
  | "policy"
  | "large object"
  | "owner"
  | "privilege"
  | "comment";

export const CATEGORIES: readonly Category[] = [
  "database",
  "extension",
  "schema",
  "table",
  "column",
  "constraint",
  "index",
  "sequence",
  "view",
  "trigger",
  "rule",
  "enum",
  "domain",
  "type",
  "function",
  "policy",
  "large object",
  "owner",
  "privilege",
  "comment",
];

export interface SchemaObject {
  category: Category;
  /** Stable identity across databases, e.g. `public.users.email` for a column. */
  key: string;
  /**
   * The object this one belongs to, as `category` and `key` joined by NUL (see parentId), so a
   * missing table is reported once, not once per column, index, owner or comment.
   */
  parent?: string;
  def: string;
}

/** The `parent` of a sub-object: its owner's category and key. */
export const parentId = (category: Category, key: string): string => `${category}\u0000${key}`;

export interface TableInfo {
  key: string;
  /** Quoted for SQL, e.g. `"public"."Users"`. */
  qname: string;
  relkind: string;
  /** Tables and populated materialized views have rows to hash; partitioned parents don't. */
  hashable: boolean;
  heapPages: number;
  bytes: number;
  columns: string[];
  /** Quoted write-time columns used for the recency check. */
  timeColumns: string[];
  /**
   * Set for an extension's configuration table (pg_extension.extconfig): only the rows pg_dump
   * carries are compared, those matching the extension's filter (extcondition, '' for all).
   */
  extensionConfig?: ExtensionConfig;
}

export interface ExtensionConfig {
  extension: string;
  /** pg_dump's filter as the extension declared it, e.g. `WHERE NOT builtin`; '' for every row. */
  condition: string;
}

export interface CatalogSnapshot {
  objects: SchemaObject[];
  tables: Map<string, TableInfo>;
  /** Sequence key -> quoted name. */
  sequences: Map<string, string>;
}

export interface SchemaDifference {
  category: Category;
  key: string;
  change: "missing on target" | "extra on target" | "differs";
  source: string | null;
  target: string | null;
}

/**
 * Write-time columns: Rails-style created_at/updated_at and close relatives. Other timestamp
 * columns (expires_at, starts_at, deadline ...) legitimately hold future times, so they are not
 * evidence of data written after the restore point.
 */
export const WRITE_TIME_COLUMN =
  /^(?:[a-z0-9_]*_)?(?:created|updated|modified|inserted|changed|recorded)(?:_(?:at|on|time|ts|timestamp))?$/i;

// $1 is text[] of schemas, or NULL for "every non-system schema" ("pg_" prefixes are reserved).
const NSP = (alias: string) =>
  `(CASE WHEN $1::text[] IS NULL THEN ${alias}.nspname !~ '^pg_' AND ${alias}.nspname <> 'information_schema' ELSE ${alias}.nspname = ANY($1::text[]) END)`;

// Objects created by CREATE EXTENSION are compared via the extension's version, not one by one.
const NOT_EXT = (classTable: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${classTable}'::pg_catalog.regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

type Cell = string | boolean | string[] | null;
type Row = Record<string, Cell>;
/** Runs one catalog query; its parameters default to the schema list ($1 in NSP). */
type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;

const text = (v: Cell) => (v === null ? "" : String(v));

/** Reads one side's catalog. `schemas` null means every non-system schema. */
export async function readCatalog(
  client: Client,
  schemas: string[] | null,
): Promise<CatalogSnapshot> {
  const q: Query = async (sql, params = [schemas]) => (await client.query<Row>(sql, params)).rows;
  const tables = new Map<string, TableInfo>();
  const sequences = new Map<string, string>();
  // One connection runs one query at a time anyway; sequential keeps errors simple.
  const objects = [
    ...(await readRelations(q, tables)),
    ...(await readColumns(q, tables)),
    ...(await readConstraints(q)),
    ...(await readIndexes(q)),
    ...(await readSequenceDefinitions(q, sequences)),
    ...(await readTriggers(q)),
    ...(await readRules(q)),
    ...(await readEnums(q)),
    ...(await readFunctions(q)),
    ...(await readExtensions(q)),
    ...(await readPolicies(q)),
    ...(await readLargeObjects(client)),
    ...(await readSchemas(q)),
    ...(await readDomains(q)),
    ...(await readTypes(q)),
    ...(await readOwnersAndPrivileges(q)),
    ...(await readComments(q)),
    ...(await readDatabase(q)),
  ];
  await readExtensionConfig(q, tables, sequences);
  return { objects, tables, sequences };
}

/** An object known by its key alone, e.g. an enum with its labels. */
const keyed =
  (category: Category) =>
  (r: Row): SchemaObject => ({ category, key: text(r.key), def: text(r.def) });

/** A table's sub-object (`tbl`, `name`, `def` row), folded into the table's difference. */
const tablePart =
  (category: Category) =>
  (r: Row): SchemaObject => ({
    category,
    key: `${text(r.tbl)}.${text(r.name)}`,
    parent: parentId("table", text(r.tbl)),
    def: text(r.def),
  });

const Q_RELATIONS = `
SELECT c.oid::int8::text AS oid, n.nspname || '.' || c.relname AS key,
       pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname,
       c.relkind::text AS relkind, c.relpersistence::text AS persistence, c.relispopulated AS populated,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound,
       (SELECT string_agg(pn.nspname || '.' || pc.relname, ',' ORDER BY i.inhseqno)
          FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
          JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) AS parents,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef,
       (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int)::text AS pages,
       pg_catalog.pg_table_size(c.oid)::text AS bytes
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
 ORDER BY 2`;

const RELKIND: Record<string, string> = {
  r: "table",
  p: "partitioned table",
  v: "view",
  m: "materialized view",
  f: "foreign table",
};

/** Every relation as a "table" object (plus its view text), and the tables whose rows count. */
async function readRelations(q: Query, tables: Map<string, TableInfo>): Promise<SchemaObject[]> {
  const objects: SchemaObject[] = [];
  for (const r of await q(Q_RELATIONS)) {
    const key = text(r.key);
    const kind = text(r.relkind);
    objects.push({ category: "table", key, def: relationDef(r, kind) });
    if (kind === "v" || kind === "m") {
      objects.push({ category: "view", key, parent: parentId("table", key), def: text(r.viewdef) });
    }
    if (kind === "r" || kind === "m" || kind === "p") {
      tables.set(key, {
        key,
        qname: text(r.qname),
        relkind: kind,
        hashable: kind === "r" || (kind === "m" && r.populated === true),
        heapPages: Number(r.pages),
        bytes: Number(r.bytes),
        columns: [],
        timeColumns: [],
      });
    }
  }
  return objects;
}

function relationDef(r: Row, kind: string): string {
  const parts = [RELKIND[kind] ?? kind];
  if (r.persistence === "u") parts.push("unlogged");
  if (r.rls) parts.push(r.rls_forced ? "row level security forced" : "row level security");
  if (r.partkey) parts.push(`partition by ${text(r.partkey)}`);
  if (r.parents) parts.push(`inherits ${text(r.parents)}`);
  if (r.bound) parts.push(text(r.bound));
  if (kind === "m" && r.populated === false) parts.push("not populated");
  return parts.join("; ");
}

const Q_COLUMNS = `
SELECT n.nspname || '.' || c.relname AS tbl, a.attname AS name, pg_catalog.quote_ident(a.attname) AS qname,
       row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS ord,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS def, a.attidentity::text AS ident,
       a.attgenerated::text AS gen,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS coll,
       a.atttypid IN ('pg_catalog.timestamp'::pg_catalog.regtype, 'pg_catalog.timestamptz'::pg_catalog.regtype) AS is_ts
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
 ORDER BY 1, 4`;

/** Columns as objects; also fills in each table's column list and write-time columns. */
async function readColumns(q: Query, tables: Map<string, TableInfo>): Promise<SchemaObject[]> {
  return (await q(Q_COLUMNS)).map((r): SchemaObject => {
    const tbl = text(r.tbl);
    const name = text(r.name);
    const t = tables.get(tbl);
    if (t) {
      t.columns.push(name);
      if (r.is_ts && WRITE_TIME_COLUMN.test(name)) t.timeColumns.push(text(r.qname));
    }
    return {
      category: "column",
      key: `${tbl}.${name}`,
      parent: parentId("table", tbl),
      def: columnDef(r),
    };
  });
}

function columnDef(r: Row): string {
  const def = [`#${text(r.ord)}`, text(r.type)];
  if (r.notnull) def.push("not null");
  if (r.def) def.push(`default ${text(r.def)}`);
  if (r.ident)
    def.push(r.ident === "a" ? "generated always as identity" : "generated by default as identity");
  if (r.gen) def.push("generated stored");
  if (r.coll) def.push(`collate ${text(r.coll)}`);
  return def.join(" ");
}

const Q_CONSTRAINTS = `
SELECT n.nspname || '.' || c.relname AS tbl, con.conname AS name,
       con.contype::text || ' ' || pg_catalog.pg_get_constraintdef(con.oid) AS def
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} ORDER BY 1, 2`;

async function readConstraints(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_CONSTRAINTS)).map(tablePart("constraint"));
}

const Q_INDEXES = `
SELECT n.nspname || '.' || c.relname AS tbl, n.nspname || '.' || ic.relname AS key,
       pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END AS def
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} ORDER BY 2`;

/** Index names are schema-wide, so an index's key is its own name, not its table's. */
async function readIndexes(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_INDEXES)).map((r): SchemaObject => ({
    category: "index",
    key: text(r.key),
    parent: parentId("table", text(r.tbl)),
    def: text(r.def),
  }));
}

const Q_SEQUENCES = `
SELECT n.nspname || '.' || c.relname AS key, pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname,
       pg_catalog.format('%s start %s increment %s min %s max %s cache %s%s',
         pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
         s.seqcache, CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END) AS def
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")} ORDER BY 1`;

/** Sequences as objects; also records each one's quoted name, to read its position later. */
async function readSequenceDefinitions(
  q: Query,
  sequences: Map<string, string>,
): Promise<SchemaObject[]> {
  return (await q(Q_SEQUENCES)).map((r) => {
    sequences.set(text(r.key), text(r.qname));
    return keyed("sequence")(r);
  });
}

const Q_TRIGGERS = `
SELECT n.nspname || '.' || c.relname AS tbl, t.tgname AS name,
       pg_catalog.pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' (DISABLED)' ELSE '' END AS def
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND ${NSP("n")} ORDER BY 1, 2`;

async function readTriggers(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_TRIGGERS)).map(tablePart("trigger"));
}

// Rules on tables (CREATE RULE); a view's own _RETURN rule is its definition, compared as "view".
const Q_RULES = `
SELECT n.nspname || '.' || c.relname AS tbl, r.rulename AS name,
       pg_catalog.pg_get_ruledef(r.oid) || CASE r.ev_enabled WHEN 'D' THEN ' (DISABLED)' ELSE '' END AS def
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN' AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
 ORDER BY 1, 2`;

async function readRules(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_RULES)).map(tablePart("rule"));
}

const Q_ENUMS = `
SELECT n.nspname || '.' || t.typname AS key,
       string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) AS def
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_type", "t.oid")}
 GROUP BY 1 ORDER BY 1`;

async function readEnums(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_ENUMS)).map(keyed("enum"));
}

// Bodies are hashed: the report only needs to say "differs", and bodies can be long.
const Q_FUNCTIONS = `
SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS key,
       'md5 ' || pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)) AS def
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p') AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_proc", "p.oid")}
 ORDER BY 1`;

async function readFunctions(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_FUNCTIONS)).map(keyed("function"));
}

const Q_EXTENSIONS = `
SELECT e.extname AS key, e.extversion || ' in schema ' || n.nspname AS def
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 ORDER BY 1`;

async function readExtensions(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_EXTENSIONS, [])).map(keyed("extension"));
}

// Row-level security policies: a restore that lost one would silently widen access.
const Q_POLICIES = `
SELECT n.nspname || '.' || c.relname AS tbl, p.polname AS name,
       pg_catalog.concat_ws(' ', CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
         'for ' || p.polcmd::text,
         'to ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r) END, ',' ORDER BY 1)
                     FROM pg_catalog.unnest(p.polroles) AS r),
         'using (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',
         'with check (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')') AS def
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} ORDER BY 1, 2`;

async function readPolicies(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_POLICIES)).map(tablePart("policy"));
}

// Large objects live outside every table (pg_dump carries them as BLOBs; restore keeps their
// OIDs). Compared as one object per database: count, OIDs and content digest.
const Q_LARGE_OBJECTS = `
SELECT count(*)::text AS n, pg_catalog.md5(coalesce(string_agg(oid::text, ',' ORDER BY oid), '')) AS oids
  FROM pg_catalog.pg_largeobject_metadata`;
// lo_get needs read access to each object (owner or superuser, unless lo_compat_privileges);
// whole objects are read into memory, so this suits the usual few small attachments.
const Q_LARGE_OBJECT_CONTENT = `
SELECT pg_catalog.md5(coalesce(string_agg(pg_catalog.md5(pg_catalog.lo_get(oid)), '' ORDER BY oid), '')) AS h
  FROM pg_catalog.pg_largeobject_metadata`;

async function readLargeObjects(client: Client): Promise<SchemaObject[]> {
  const def = await largeObjects(client);
  return def ? [{ category: "large object", key: "pg_largeobject", def }] : [];
}

/**
 * One definition text for all large objects, or null when there are none. Reading content can
 * be refused (non-owner without superuser): then only count and OIDs are compared, and the
 * text says so. A savepoint keeps the refusal from aborting the snapshot transaction.
 */
async function largeObjects(client: Client): Promise<string | null> {
  const meta = (await client.query<{ n: string; oids: string }>(Q_LARGE_OBJECTS)).rows[0];
  if (meta.n === "0") return null;
  let content: string;
  await client.query("SAVEPOINT pg_recovery_lo");
  try {
    content = `content md5 ${(await client.query<{ h: string }>(Q_LARGE_OBJECT_CONTENT)).rows[0].h}`;
    await client.query("RELEASE SAVEPOINT pg_recovery_lo");
  } catch (e) {
    await client.query("ROLLBACK TO SAVEPOINT pg_recovery_lo");
    content = `content not compared (${(e as Error).message})`;
  }
  return `${meta.n} large objects, oids md5 ${meta.oids}, ${content}`;
}

const Q_SCHEMAS = `
SELECT n.nspname AS key FROM pg_catalog.pg_namespace n
 WHERE ${NSP("n")} AND n.nspname !~ '^pg_(toast|temp_)' AND ${NOT_EXT("pg_catalog.pg_namespace", "n.oid")}
 ORDER BY 1`;

async function readSchemas(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_SCHEMAS)).map((r) => ({ category: "schema", key: text(r.key), def: "schema" }));
}

// Types beyond enums: a domain with its base type, default, NOT NULL and every CHECK; a
// standalone composite type with its attributes; a range type with its subtype.
const Q_DOMAINS = `
SELECT n.nspname || '.' || t.typname AS key,
       pg_catalog.format_type(t.typbasetype, t.typtypmod)
       || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || t.typdefault, '')
       || CASE WHEN t.typcollation <> bt.typcollation THEN ' collate ' || co.collname ELSE '' END
       || coalesce((SELECT pg_catalog.string_agg(' constraint ' || pg_catalog.quote_ident(c.conname) || ' '
                      || pg_catalog.pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
                      FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid), '') AS def
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
 WHERE t.typtype = 'd' AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_type", "t.oid")}
 ORDER BY 1`;

async function readDomains(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_DOMAINS)).map(keyed("domain"));
}

const Q_TYPES = `
SELECT n.nspname || '.' || t.typname AS key,
       CASE t.typtype
         WHEN 'c' THEN 'composite (' || coalesce((
           SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' '
                    || pg_catalog.format_type(a.atttypid, a.atttypmod)
                    || CASE WHEN a.attcollation <> at.typcollation THEN ' collate ' || co.collname ELSE '' END,
                    ', ' ORDER BY a.attnum)
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
            WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
         WHEN 'r' THEN 'range of ' || (SELECT pg_catalog.format_type(r.rngsubtype, NULL)
                                        FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)
         ELSE 'base type' END AS def
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
 WHERE (t.typtype = 'r' OR (t.typtype = 'c' AND c.relkind = 'c') OR (t.typtype = 'b' AND t.typcategory <> 'A'))
   AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_type", "t.oid")}
 ORDER BY 1`;

async function readTypes(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_TYPES)).map(keyed("type"));
}

/**
 * Access control as text, relative to the object's built-in defaults and without grantors: `+who:
 * PRIVILEGE` for what was granted beyond the defaults, `-who:PRIVILEGE` for defaults revoked;
 * `(owner)` stands for the owner, so a change of owner alone is reported once, as an owner
 * difference. NULL when the object has exactly the defaults. (Grantors differ whenever a
 * different user restores; defaults differ between major versions, e.g. MAINTAIN in 17.)
 */
function aclSql(acl: string, kind: string, owner: string): string {
  const who = (g: string) =>
    `CASE WHEN ${g} = 0 THEN 'PUBLIC' WHEN ${g} = ${owner} THEN '(owner)' ELSE pg_catalog.pg_get_userbyid(${g}) END`;
  const item = `${who("x.grantee")} || ':' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END`;
  const actual = `pg_catalog.aclexplode(coalesce(${acl}, pg_catalog.acldefault(${kind}, ${owner})))`;
  const defaults = `pg_catalog.aclexplode(pg_catalog.acldefault(${kind}, ${owner}))`;
  return `(SELECT pg_catalog.string_agg(e.item, ', ' ORDER BY e.item) FROM (
      (SELECT '+' || ${item} AS item FROM ${actual} x EXCEPT SELECT '+' || ${item} FROM ${defaults} x)
      UNION ALL
      (SELECT '-' || ${item} FROM ${defaults} x EXCEPT SELECT '-' || ${item} FROM ${actual} x)) e)`;
}

// Owners and privileges of everything compared above that has them. `pcat`/`key` name the
// object as its own category does, so they fold into its difference when it is missing.
const Q_OWNED = `
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS pcat,
       n.nspname || '.' || c.relname AS key, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       ${aclSql("c.relacl", `(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char"`, "c.relowner")} AS acl
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
UNION ALL
SELECT 'function', n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       pg_catalog.pg_get_userbyid(p.proowner), ${aclSql("p.proacl", `'f'::"char"`, "p.proowner")}
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p') AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_proc", "p.oid")}
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum' ELSE 'type' END,
       n.nspname || '.' || t.typname, pg_catalog.pg_get_userbyid(t.typowner),
       ${aclSql("t.typacl", `'T'::"char"`, "t.typowner")}
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
 WHERE (t.typtype IN ('d', 'e', 'r') OR (t.typtype = 'c' AND c.relkind = 'c'))
   AND ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_type", "t.oid")}
UNION ALL
SELECT 'schema', n.nspname, pg_catalog.pg_get_userbyid(n.nspowner),
       ${aclSql("n.nspacl", `'n'::"char"`, "n.nspowner")}
  FROM pg_catalog.pg_namespace n
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_namespace", "n.oid")}
 ORDER BY 1, 2`;

// Column-level grants (table-level ones are in Q_OWNED).
const Q_COLUMN_PRIVILEGES = `
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS key,
       ${aclSql("a.attacl", `'c'::"char"`, "c.relowner")} AS acl
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND ${NSP("n")}
 ORDER BY 1`;

// ALTER DEFAULT PRIVILEGES: what objects created later will grant.
const Q_DEFAULT_PRIVILEGES = `
SELECT 'for role ' || pg_catalog.pg_get_userbyid(d.defaclrole)
       || coalesce(' in schema ' || n.nspname, '') || ' on '
       || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
            WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END AS key,
       (SELECT pg_catalog.string_agg(DISTINCT
                 CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = d.defaclrole THEN '(owner)'
                      ELSE pg_catalog.pg_get_userbyid(x.grantee) END
                 || ':' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END, ', ')
          FROM pg_catalog.aclexplode(d.defaclacl) x) AS acl
  FROM pg_catalog.pg_default_acl d
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
 WHERE d.defaclnamespace = 0 OR ${NSP("n")}
 ORDER BY 1`;

/** Owners and privileges: per object, per column, and the defaults for objects to come. */
async function readOwnersAndPrivileges(q: Query): Promise<SchemaObject[]> {
  const owned = (await q(Q_OWNED)).flatMap((r): SchemaObject[] => {
    const pcat = text(r.pcat) as Category;
    const parent = parentId(pcat, text(r.key));
    const key = `${pcat} ${text(r.key)}`;
    return [
      { category: "owner", key, parent, def: text(r.owner) },
      { category: "privilege", key, parent, def: r.acl === null ? "defaults" : text(r.acl) },
    ];
  });
  const columns = (await q(Q_COLUMN_PRIVILEGES)).map((r): SchemaObject => ({
    category: "privilege",
    key: `column ${text(r.key)}`,
    parent: parentId("column", text(r.key)),
    def: text(r.acl),
  }));
  const defaults = (await q(Q_DEFAULT_PRIVILEGES)).map((r): SchemaObject => ({
    category: "privilege",
    key: `default privileges ${text(r.key)}`,
    def: text(r.acl),
  }));
  return [...owned, ...columns, ...defaults];
}

// Comments, on the objects compared above (anything else by its identity, unfolded).
const Q_COMMENTS = `
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index'
         WHEN 'c' THEN 'type' ELSE 'table' END AS pcat,
       n.nspname || '.' || c.relname AS key, '' AS sub, d.description AS def
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_class c ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objoid = c.oid AND d.objsubid = 0
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
UNION ALL
SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_class c ON d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objoid = c.oid
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_class", "c.oid")}
UNION ALL
SELECT 'function', n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_proc p ON d.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objoid = p.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_proc", "p.oid")}
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum' ELSE 'type' END,
       n.nspname || '.' || t.typname, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_type t ON d.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objoid = t.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_type", "t.oid")}
UNION ALL
SELECT 'schema', n.nspname, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_namespace n ON d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.objoid = n.oid
 WHERE ${NSP("n")} AND ${NOT_EXT("pg_catalog.pg_namespace", "n.oid")}
UNION ALL
SELECT q.pcat, q.key, q.sub, q.description FROM (
  SELECT CASE WHEN con.conrelid <> 0 THEN 'constraint' ELSE 'domain' END AS pcat,
         CASE WHEN con.conrelid <> 0 THEN n.nspname || '.' || c.relname || '.' || con.conname
              ELSE tn.nspname || '.' || t.typname END AS key,
         CASE WHEN con.conrelid <> 0 THEN '' ELSE ' constraint ' || con.conname END AS sub,
         d.description, coalesce(n.nspname, tn.nspname) AS nspname
    FROM pg_catalog.pg_description d
    JOIN pg_catalog.pg_constraint con ON d.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.objoid = con.oid
    LEFT JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
    LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_type t ON t.oid = con.contypid
    LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace) q
 WHERE ${NSP("q")}
UNION ALL
SELECT 'trigger', n.nspname || '.' || c.relname || '.' || tg.tgname, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_trigger tg ON d.classoid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND d.objoid = tg.oid
  JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")}
UNION ALL
SELECT 'rule', n.nspname || '.' || c.relname || '.' || ru.rulename, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_rewrite ru ON d.classoid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objoid = ru.oid
  JOIN pg_catalog.pg_class c ON c.oid = ru.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ru.rulename <> '_RETURN' AND ${NSP("n")}
UNION ALL
SELECT 'policy', n.nspname || '.' || c.relname || '.' || po.polname, '', d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_policy po ON d.classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objoid = po.oid
  JOIN pg_catalog.pg_class c ON c.oid = po.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE ${NSP("n")}
 ORDER BY 1, 2, 3`;

async function readComments(q: Query): Promise<SchemaObject[]> {
  return (await q(Q_COMMENTS)).map((r): SchemaObject => {
    const pcat = text(r.pcat) as Category;
    return {
      category: "comment",
      key: `${pcat} ${text(r.key)}${text(r.sub)}`,
      parent: parentId(pcat, text(r.key)),
      def: text(r.def),
    };
  });
}

// The database itself: what CREATE DATABASE does not copy and pg_dump without --create does
// not write. Compared whatever --schema says; not the name (a restore may rename).
const Q_DATABASE = `
SELECT pg_catalog.pg_get_userbyid(d.datdba) AS owner,
       pg_catalog.shobj_description(d.oid, 'pg_database') AS comment,
       ${aclSql("d.datacl", `'d'::"char"`, "d.datdba")} AS acl,
       (SELECT pg_catalog.string_agg(coalesce(pg_catalog.pg_get_userbyid(NULLIF(s.setrole, 0)), 'every role')
                 || ': ' || (SELECT pg_catalog.string_agg(x, ', ' ORDER BY x) FROM pg_catalog.unnest(s.setconfig) x),
                 '; ' ORDER BY 1)
          FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings,
       pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datconnlimit::text AS connlimit
  FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`;

/** One object per property of the database, e.g. `database owner`. */
async function readDatabase(q: Query): Promise<SchemaObject[]> {
  const [database] = await q(Q_DATABASE, []);
  if (!database) return [];
  return Object.entries(database).map(([k, v]): SchemaObject => {
    const what = k === "connlimit" ? "connection limit" : k === "acl" ? "privileges" : k;
    const def = v === null ? (k === "acl" ? "defaults" : "none") : text(v);
    return { category: "database", key: `database ${what}`, def };
  });
}

// Extension configuration tables and sequences (pg_extension_config_dump): the extension's own
// objects are compared by its version, but pg_dump carries these tables' rows (those matching
// the extension's filter) and these sequences' positions, so verify compares them too.
const Q_EXTENSION_CONFIG = `
SELECT e.extname AS ext, n.nspname || '.' || c.relname AS key,
       pg_catalog.format('%I.%I', n.nspname, c.relname) AS qname, c.relkind::text AS relkind,
       coalesce(e.extcondition[x.i], '') AS cond,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
       (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int)::text AS pages,
       pg_catalog.pg_table_size(c.oid)::text AS bytes
  FROM pg_catalog.pg_extension e
 CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) AS x(i)
  JOIN pg_catalog.pg_class c ON c.oid = e.extconfig[x.i]
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'S') AND ${NSP("n")}
 ORDER BY 2`;

/** Adds extension configuration tables and sequences to those whose data is compared. */
async function readExtensionConfig(
  q: Query,
  tables: Map<string, TableInfo>,
  sequences: Map<string, string>,
): Promise<void> {
  for (const r of await q(Q_EXTENSION_CONFIG)) {
    // Only the data: the table's definition comes with the extension (compared by version).
    if (r.relkind === "S") {
      sequences.set(text(r.key), text(r.qname));
      continue;
    }
    tables.set(text(r.key), {
      key: text(r.key),
      qname: text(r.qname),
      relkind: "r",
      hashable: true,
      heapPages: Number(r.pages),
      bytes: Number(r.bytes),
      columns: r.columns as string[],
      timeColumns: [],
      extensionConfig: { extension: text(r.ext), condition: text(r.cond) },
    });
  }
}

/** Requested schemas that do not exist: a typo must not yield a vacuous IDENTICAL. */
export async function missingSchemas(client: Client, schemas: string[]): Promise<string[]> {
  const res = await client.query<{ n: string }>(
    "SELECT n FROM unnest($1::text[]) AS n WHERE n NOT IN (SELECT nspname FROM pg_catalog.pg_namespace)",
    [schemas],
  );
  return res.rows.map((r) => r.n);
}

/** Per-category object counts, for the report's "compared" line. */
export function countByCategory(objects: SchemaObject[]): Record<Category, number> {
  const out = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const o of objects) out[o.category]++;
  return out;
}

/**
 * Diffs two catalogs. Sub-objects (columns, constraints, indexes, triggers, rules, view text) of a table
 * that exists on only one side are folded into that table's single difference.
 */
export function diffSchemas(source: SchemaObject[], target: SchemaObject[]): SchemaDifference[] {
  const id = (o: SchemaObject) => parentId(o.category, o.key);
  const src = new Map(source.map((o) => [id(o), o]));
  const tgt = new Map(target.map((o) => [id(o), o]));
  const onBoth = (o: SchemaObject) =>
    o.parent === undefined || (src.has(o.parent) && tgt.has(o.parent));

  const out: SchemaDifference[] = [];
  for (const [k, o] of src) {
    const t = tgt.get(k);
    if (!t) {
      if (onBoth(o))
        out.push({
          category: o.category,
          key: o.key,
          change: "missing on target",
          source: o.def,
          target: null,
        });
    } else if (t.def !== o.def) {
      out.push({
        category: o.category,
        key: o.key,
        change: "differs",
        source: o.def,
        target: t.def,
      });
    }
  }
  for (const [k, t] of tgt) {
    if (!src.has(k) && onBoth(t)) {
      out.push({
        category: t.category,
        key: t.key,
        change: "extra on target",
        source: null,
        target: t.def,
      });
    }
  }
  const order = (c: Category) => CATEGORIES.indexOf(c);
  return out.sort((a, b) => order(a.category) - order(b.category) || cmp(a.key, b.key));
}

/** Code-point order, so reports sort identically on every machine and locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
