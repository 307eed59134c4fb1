/** Catalog queries shared by backup and restore: server facts, user tables, exact row counts. */
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

/** Ordinary and partition tables whose data pg_dump writes (extension members excluded). */
export async function listUserTables(
  client: Client,
): Promise<{ schema: string; table: string; bytes: number }[]> {
  const r = await client.query(
    `SELECT n.nspname AS schema, c.relname AS table, pg_table_size(c.oid)::float8 AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_(toast|temp_)'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
  );
  return r.rows;
}

/** Exact per-table row counts (ONLY: inheritance children are counted as themselves). */
export async function countRows(
  client: Client,
  tables: { schema: string; table: string; bytes?: number }[],
): Promise<TableCount[]> {
  const out: TableCount[] = [];
  for (const t of tables) {
    const r = await client.query(
      `SELECT count(*)::bigint AS n FROM ONLY ${ident(t.schema)}.${ident(t.table)}`,
    );
    out.push({ schema: t.schema, table: t.table, rows: Number(r.rows[0].n), bytes: t.bytes });
  }
  return out;
}
