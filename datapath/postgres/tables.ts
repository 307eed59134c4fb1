/**
 * Catalog queries shared by backup, restore, verify and promote: server facts, user tables, exact
 * row counts, what the role may not read.
 */
import { Client } from "pg";
import { ident } from "./connection";
import { TableCount } from "../storage/manifest";

export interface ServerInfo {
  version: string;
  versionNum: number;
  major: number;
  encoding: string;
  collate: string;
  ctype: string;
}

export async function serverInfo(client: Client): Promise<ServerInfo> {
  const r = await client.query(
    `SELECT current_setting('server_version') AS version,
            current_setting('server_version_num')::int AS num,
            pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const row = r.rows[0];
  return {
    version: row.version,
    versionNum: row.num,
    major: Math.floor(row.num / 10000),
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
  };
}

/**
 * A table whose data pg_dump writes: an ordinary table or partition, or an extension's
 * configuration table (pg_extension_config_dump, e.g. PostGIS's spatial_ref_sys), of which
 * pg_dump writes only the rows matching the extension's filter.
 */
export interface DataTable {
  schema: string;
  table: string;
  bytes: number;
  /** Set on an extension's configuration table: the extension and its filter ('' = all rows). */
  extension?: { name: string; condition: string };
}

/** Every table whose data pg_dump writes, in one catalog query (see DataTable). */
export async function listUserTables(client: Client): Promise<DataTable[]> {
  const r = await client.query<{
    schema: string;
    table: string;
    bytes: number;
    extname: string | null;
    condition: string | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS table, pg_table_size(c.oid)::float8 AS bytes,
            x.extname, x.condition
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN LATERAL (
         SELECT e.extname, coalesce(e.extcondition[i], '') AS condition
           FROM pg_extension e CROSS JOIN LATERAL generate_subscripts(e.extconfig, 1) AS i
          WHERE e.extconfig[i] = c.oid LIMIT 1) x ON true
      WHERE c.relkind = 'r' AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_(toast|temp_)'
        AND (x.extname IS NOT NULL OR NOT EXISTS (SELECT 1 FROM pg_depend d
               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
      ORDER BY 1, 2`,
  );
  return r.rows.map((row) => {
    const t: DataTable = { schema: row.schema, table: row.table, bytes: row.bytes };
    if (row.extname !== null) t.extension = { name: row.extname, condition: row.condition ?? "" };
    return t;
  });
}

/**
 * `SELECT count(*) FROM ...` of the rows pg_dump writes for a table: all of them (ONLY:
 * inheritance children are counted as themselves), or an extension configuration table's
 * filtered rows.
 */
export function countSql(t: { schema: string; table: string; extension?: { condition: string } }) {
  const from = `ONLY ${ident(t.schema)}.${ident(t.table)}`;
  return `SELECT count(*)::bigint AS n FROM ${from} ${t.extension?.condition ?? ""}`.trimEnd();
}

/** Exact per-table row counts, as pg_dump carries them (see countSql). */
export async function countRows(client: Client, tables: DataTable[]): Promise<TableCount[]> {
  const out: TableCount[] = [];
  for (const t of tables) {
    const r = await client.query(countSql(t));
    const c: TableCount = { schema: t.schema, table: t.table, rows: Number(r.rows[0].n) };
    c.bytes = t.bytes;
    if (t.extension) c.extension = t.extension.name;
    out.push(c);
  }
  return out;
}

/** Qualified names of the extension configuration tables among `tables`. */
export function configurationTables(
  tables: { schema: string; table: string; extension?: unknown }[],
): string[] {
  return tables.filter((t) => t.extension).map((t) => `${t.schema}.${t.table}`);
}

/**
 * What a count of tables counts, for logs and summaries, e.g. "44 tables of data (1 of them an
 * extension configuration table, public.spatial_ref_sys: only the rows pg_dump carries)".
 */
export function describeTables(count: number, configuration: string[]): string {
  const what = `${count} table${count === 1 ? "" : "s"} of data`;
  if (configuration.length === 0) return what;
  const one = configuration.length === 1;
  return (
    `${what} (${one ? "1 of them an" : `${configuration.length} of them`} extension configuration ` +
    `table${one ? "" : "s"}, ${configuration.join(", ")}: only the rows pg_dump carries)`
  );
}

/** A relation this role may not read, in its schema. */
export interface Unreadable {
  /** Quoted, schema-qualified. */
  table: string;
  schema: string;
  role: string;
}

/**
 * The tables, materialized views and sequences (in `schemas`, or any user schema; not an
 * extension's own, which are its to read) this role may not read: no USAGE on the schema, or no
 * SELECT on the relation.
 */
export async function unreadableRelations(
  client: Client,
  schemas: string[] | null,
): Promise<Unreadable[]> {
  const r = await client.query<Unreadable>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS table, n.nspname AS schema,
            CURRENT_USER AS role
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm', 'S')
        AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
        AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[]))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.objid = c.oid AND d.deptype = 'e')
        AND NOT (pg_catalog.has_schema_privilege(n.oid, 'USAGE')
                 AND CASE c.relkind WHEN 'S' THEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT')
                                    ELSE pg_catalog.has_table_privilege(c.oid, 'SELECT') END)
      ORDER BY 1`,
    [schemas],
  );
  return r.rows;
}

/**
 * The error for what `unreadableRelations` found on each side (`where`: "on source postgres://...",
 * empty sides left out), with the grants that fix it.
 */
export function unreadableError(found: { where: string; rows: Unreadable[] }[]): Error {
  const hit = found.filter((f) => f.rows.length);
  const me = ident(hit[0].rows[0].role);
  const nsp = [...new Set(hit.flatMap((f) => f.rows.map((x) => ident(x.schema))))]
    .sort()
    .join(", ");
  const lines = hit.map((f) => `${f.where}: ${f.rows.map((x) => x.table).join(", ")}`);
  return new Error(
    `this role (${hit[0].rows[0].role}) may not read these tables (${lines.join("; ")}): connect ` +
      `as their owner, or grant it what reading takes, then run the command again: ` +
      `GRANT USAGE ON SCHEMA ${nsp} TO ${me}; GRANT SELECT ON ALL TABLES IN SCHEMA ${nsp} TO ${me}; ` +
      `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${nsp} TO ${me};`,
  );
}
