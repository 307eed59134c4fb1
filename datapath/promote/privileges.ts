/**
 * Who may write each promotion mode, asked the same way by the plan and the write, so that a
 * write refused for want of a privilege is refused by its plan too, before anything is written.
 *
 * Altering the tables (`tables`, `merge`). Besides the rows, their transaction alters tables: it
 * disables the chosen tables' user triggers and rules, and around a bulk insert (and on the
 * direct path) drops and rebuilds their indexes and keys and the foreign keys into them
 * (keys.ts). PostgreSQL lets only a table's owner, or a member of the owner's role, do that: a
 * role that may write the rows but not alter the table would fail partway and roll back, where
 * the plan had said the write would pass. Which of those steps a write takes depends on the
 * counts it finds when it runs, so the plan and the write both ask for every table it may alter.
 *
 * The database (`whole`). It creates a fresh database on live's server and swaps it in by
 * renaming live's: CREATE DATABASE takes CREATEDB, and renaming a database takes its owner (with
 * CREATEDB); the same check as restore's (postgres/roles.ts).
 *
 * The incident's schema (`tables`). It keeps the rows it replaces in `pgr_<incident>_replaced`
 * (keep.ts), created if a rerun has not: CREATE SCHEMA IF NOT EXISTS asks for CREATE on the
 * database even when the schema exists, and the schema's comment is its owner's to set.
 */
import type { Client } from "pg";
import { DbModel, quotedName } from "./catalog";
import { ident } from "../postgres/connection";
import { swapPrivilegeProblems } from "../postgres/roles";

/** The chosen tables live has, and the tables with a foreign key into one, by key. */
export function tablesAltered(model: DbModel, chosen: Set<string>): string[] {
  const children = model.foreignKeys.filter((fk) => chosen.has(fk.parent)).map((fk) => fk.child);
  return [...new Set([...chosen, ...children])].filter((k) => quotedName(model, k)).sort();
}

/**
 * The refusal, as one line, when this role may not alter a table the write may alter; none when
 * it may (its owner, a member of the owner's role, or a superuser).
 */
export async function ownershipProblems(
  live: Client,
  model: DbModel,
  chosen: Set<string>,
): Promise<string[]> {
  const keys = tablesAltered(model, chosen);
  if (!keys.length) return [];
  const r = await live.query<{ k: string; owner: string; me: string }>(
    `SELECT x.k, pg_catalog.pg_get_userbyid(c.relowner) AS owner, CURRENT_USER AS me
       FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS x(k, q)
       JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(x.q)
      WHERE NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')
      ORDER BY 1`,
    [keys, keys.map((k) => quotedName(model, k)!)],
  );
  if (!r.rows.length) return [];
  const me = r.rows[0].me;
  const owners = [...new Set(r.rows.map((x) => x.owner))];
  return [
    `the role ${me} may not alter ${r.rows.map((x) => `${x.k} (owned by ${x.owner})`).join(", ")}: ` +
      "tables and merge disable a table's triggers and rules, and may drop and rebuild its indexes " +
      "and keys and the foreign keys into it, in their transaction, which only its owner may do. " +
      `Run promote as the owner, or make ${me} a member of the owner's role: ` +
      owners.map((o) => `GRANT ${ident(o)} TO ${ident(me)};`).join(" "),
  ];
}

/**
 * The refusal, as one line, when this role may not create the incident's schema `keepSchema` or,
 * where a rerun made it, may not use it as its owner; none when it may.
 */
export async function keepSchemaProblems(live: Client, keepSchema: string): Promise<string[]> {
  const r = await live.query<{ me: string; db: string; create: boolean; owner: string | null }>(
    `SELECT CURRENT_USER AS me, pg_catalog.current_database() AS db,
            pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') AS create,
            (SELECT pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n
              WHERE n.nspname = $1 AND NOT pg_catalog.pg_has_role(n.nspowner, 'USAGE')) AS owner`,
    [keepSchema],
  );
  const { me, db, create, owner } = r.rows[0];
  const why = `tables keeps the rows it replaces in the incident's schema ${keepSchema}`;
  if (!create) {
    return [
      `the role ${me} may not create schemas in database ${db}: ${why}. Run promote as a role ` +
        `that may, or grant it: GRANT CREATE ON DATABASE ${ident(db)} TO ${ident(me)};`,
    ];
  }
  if (owner !== null) {
    return [
      `the incident's schema ${keepSchema} belongs to ${owner}, not to the role ${me}: ${why}. ` +
        `Run promote as ${owner}, or name another incident (--incident), or make ${me} a ` +
        `member of the owner's role: GRANT ${ident(owner)} TO ${ident(me)};`,
    ];
  }
  return [];
}

/** The refusals, one line each, when this role may not create databases or rename live's. */
export const wholeProblems = (live: Client): Promise<string[]> =>
  swapPrivilegeProblems(live, null, {
    create: "whole copies the PTR into a fresh database on live's server",
    rename: "whole keeps it under another name",
  });
