/**
 * Roles and database-level properties: what a backup records about them, what a restore checks
 * before it touches anything, and how it applies them.
 *
 * pg_dump without --create writes no database-level properties (owner, comment, settings,
 * CONNECT/CREATE/TEMP grants), so the backup records them in the manifest and the restore applies
 * them when it creates the database. Objects keep their owners and grants (pg_restore without
 * --no-owner): each role named must exist on the target, and each owner must be one the restoring
 * user can give objects to. A role the target lacks is refused before anything is changed,
 * unless the operator names a role to take its place (--map-missing-roles-to).
 */
import { Client } from "pg";
import { RestoreRefusedError } from "../errors";
import { LogFn } from "../progress";
import { ident, literal } from "./connection";

/** One entry of an ACL relative to the built-in defaults (as verify renders it). */
export interface AclChange {
  /** `+` granted beyond the defaults, `-` a default revoked. */
  sign: "+" | "-";
  /** A role name, `PUBLIC`, or `(owner)` for whoever owns the object. */
  grantee: string;
  privilege: string;
  grantable: boolean;
}

export interface DatabaseProperties {
  owner: string;
  comment: string | null;
  /** Differences from the default ACL; empty when the database has the defaults. */
  acl: AclChange[];
  /** `ALTER DATABASE ... SET` (role null) and `ALTER ROLE r IN DATABASE ... SET`, as name=value. */
  settings: { role: string | null; settings: string[] }[];
  /** -1 for no limit. */
  connectionLimit: number;
}

/** Roles the objects of a database refer to. */
export interface RoleReferences {
  /** Roles owning objects: the restoring user must be able to give objects to them. */
  owners: string[];
  /** Roles named in grants, default privileges and policies. */
  grantees: string[];
}

/** Maps each missing role to the role taking its place (`--map-missing-roles-to`). */
export type RoleMap = ReadonlyMap<string, string>;

const ACL_SQL = (acl: string, owner: string) => {
  const who = `CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = ${owner} THEN '(owner)' ELSE pg_catalog.pg_get_userbyid(x.grantee) END`;
  const cols = `${who} AS grantee, x.privilege_type AS privilege, x.is_grantable AS grantable`;
  const actual = `pg_catalog.aclexplode(coalesce(${acl}, pg_catalog.acldefault('d', ${owner})))`;
  const defaults = `pg_catalog.aclexplode(pg_catalog.acldefault('d', ${owner}))`;
  return `SELECT '+' AS sign, * FROM (SELECT ${cols} FROM ${actual} x EXCEPT SELECT ${cols} FROM ${defaults} x) a
          UNION ALL
          SELECT '-', * FROM (SELECT ${cols} FROM ${defaults} x EXCEPT SELECT ${cols} FROM ${actual} x) r
          ORDER BY 2, 3, 1`;
};

/** The database's owner, comment, ACL, settings and connection limit (read from any database). */
export async function databaseProperties(
  client: Client,
  database: string,
): Promise<DatabaseProperties | undefined> {
  const d = await client.query(
    `SELECT d.oid, pg_catalog.pg_get_userbyid(d.datdba) AS owner, d.datdba,
            pg_catalog.shobj_description(d.oid, 'pg_database') AS comment, d.datconnlimit AS connlimit
       FROM pg_catalog.pg_database d WHERE d.datname = $1`,
    [database],
  );
  if (d.rowCount === 0) return undefined;
  const row = d.rows[0];
  const aclRows = await client.query<AclChange>(
    `WITH d AS (SELECT datacl, datdba FROM pg_catalog.pg_database WHERE oid = $1)
     SELECT q.* FROM d, LATERAL (${ACL_SQL("d.datacl", "d.datdba")}) q`,
    [row.oid],
  );
  const settings = await client.query<{ role: string | null; settings: string[] }>(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(s.setrole) END AS role,
            s.setconfig AS settings
       FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = $1
      ORDER BY s.setrole`,
    [row.oid],
  );
  return {
    owner: row.owner,
    comment: row.comment,
    acl: aclRows.rows,
    settings: settings.rows,
    connectionLimit: row.connlimit,
  };
}

/**
 * Roles the current database's objects refer to, from pg_shdepend (owners, grants, policies,
 * default privileges). Objects owned by the bootstrap superuser are not recorded there; the
 * archive's own table of contents is checked again after the download.
 */
export async function referencedRoles(client: Client): Promise<RoleReferences> {
  const r = await client.query<{ role: string; owner: boolean }>(
    `SELECT pg_catalog.pg_get_userbyid(s.refobjid) AS role, bool_or(s.deptype = 'o') AS owner
       FROM pg_catalog.pg_shdepend s
      WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
        AND s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass AND s.deptype IN ('o', 'a', 'r', 'i')
      GROUP BY 1 ORDER BY 1`,
  );
  return {
    owners: r.rows.filter((x) => x.owner).map((x) => x.role),
    grantees: r.rows.filter((x) => !x.owner).map((x) => x.role),
  };
}

/** Roles the database-level properties name. */
export function propertyRoles(p: DatabaseProperties): RoleReferences {
  const grantees = new Set<string>();
  for (const a of p.acl)
    if (a.grantee !== "PUBLIC" && a.grantee !== "(owner)") grantees.add(a.grantee);
  for (const s of p.settings) if (s.role) grantees.add(s.role);
  return { owners: [p.owner], grantees: [...grantees].sort() };
}

export function mergeRoles(...refs: RoleReferences[]): RoleReferences {
  const owners = new Set(refs.flatMap((r) => r.owners));
  const grantees = new Set(refs.flatMap((r) => r.grantees).filter((g) => !owners.has(g)));
  return { owners: [...owners].sort(), grantees: [...grantees].sort() };
}

export interface RolePlan {
  /** Missing roles and the role that takes their place; empty when none is missing. */
  map: RoleMap;
}

/**
 * Checks that every role exists on the target and every owner is one the restoring user can
 * give objects to; `mapTo` stands in for the missing ones. Throws RestoreRefusedError naming
 * every problem and the way out; nothing has been changed when it does.
 */
export async function planRoles(
  admin: Client,
  refs: RoleReferences,
  mapTo: string | undefined,
  what: string,
): Promise<RolePlan> {
  const names = [...new Set([...refs.owners, ...refs.grantees, ...(mapTo ? [mapTo] : [])])];
  const me = (
    await admin.query<{ me: string; superuser: boolean; num: number }>(
      `SELECT current_user AS me, r.rolsuper AS superuser, current_setting('server_version_num')::int AS num
         FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    )
  ).rows[0];
  // PostgreSQL 16 split membership: giving an object to a role needs the SET option.
  const how = me.num >= 160000 ? "SET" : "MEMBER";
  const found = await admin.query<{ name: string; usable: boolean }>(
    `SELECT r.rolname AS name, pg_catalog.pg_has_role(current_user, r.oid, '${how}') AS usable
       FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1::text[])`,
    [names],
  );
  const exists = new Map(found.rows.map((r) => [r.name, me.superuser || r.usable]));
  if (mapTo !== undefined) {
    if (!exists.has(mapTo)) {
      throw new RestoreRefusedError(
        `--map-missing-roles-to ${mapTo}: no such role on the target; nothing was changed`,
      );
    }
    if (!exists.get(mapTo)) {
      throw new RestoreRefusedError(
        `--map-missing-roles-to ${mapTo}: ${me.me} cannot give objects to ${mapTo} (GRANT ${ident(mapTo)} TO ${ident(me.me)}${how === "SET" ? " WITH SET TRUE" : ""}); nothing was changed`,
      );
    }
  }
  const missing = names.filter((n) => !exists.has(n)).sort();
  const unusable = refs.owners.filter((n) => exists.has(n) && !exists.get(n)).sort();
  const problems: string[] = [];
  if (missing.length && mapTo === undefined) {
    problems.push(
      `${what} refers to role(s) the target server does not have: ${missing.join(", ")}. ` +
        `Create them first, or pass --map-missing-roles-to ROLE to give their objects and grants to an existing role`,
    );
  }
  if (unusable.length) {
    problems.push(
      `${me.me} cannot give objects to ${unusable.join(", ")}: ` +
        unusable
          .map(
            (r) => `GRANT ${ident(r)} TO ${ident(me.me)}${how === "SET" ? " WITH SET TRUE" : ""}`,
          )
          .join("; ") +
        ", or restore as a user that can",
    );
  }
  if (problems.length)
    throw new RestoreRefusedError(`${problems.join(". ")}. Nothing was changed.`);
  return { map: new Map(mapTo === undefined ? [] : missing.map((m) => [m, mapTo])) };
}

export const mapped = (map: RoleMap, role: string): string => map.get(role) ?? role;

/**
 * Applies recorded properties to a database the restore created (before it is renamed into
 * place): settings, comment, grants and connection limit. The owner is returned for the caller
 * to set after the rename (renaming needs ownership). A setting the restoring user may not set
 * is reported and skipped, not fatal: the data is what is being recovered.
 */
export async function applyDatabaseProperties(
  admin: Client,
  database: string,
  p: DatabaseProperties,
  map: RoleMap,
  log: LogFn,
): Promise<void> {
  const db = ident(database);
  const me = (await admin.query<{ u: string }>("SELECT current_user AS u")).rows[0].u;
  if (p.comment !== null) await admin.query(`COMMENT ON DATABASE ${db} IS ${literal(p.comment)}`);
  if (p.connectionLimit !== -1) {
    await admin.query(`ALTER DATABASE ${db} CONNECTION LIMIT ${Number(p.connectionLimit)}`);
  }
  // The ACL relative to the owner: `(owner)` is us until the owner is set, which carries it over.
  for (const a of p.acl) {
    const who =
      a.grantee === "PUBLIC"
        ? "PUBLIC"
        : ident(a.grantee === "(owner)" ? me : mapped(map, a.grantee));
    const stmt =
      a.sign === "+"
        ? `GRANT ${a.privilege} ON DATABASE ${db} TO ${who}${a.grantable ? " WITH GRANT OPTION" : ""}`
        : `REVOKE ${a.grantable ? "GRANT OPTION FOR " : ""}${a.privilege} ON DATABASE ${db} FROM ${who}`;
    await admin.query(stmt);
  }
  for (const s of p.settings) {
    const scope = s.role ? `ROLE ${ident(mapped(map, s.role))} IN DATABASE` : "DATABASE";
    for (const item of s.settings) {
      const stmt = `ALTER ${scope} ${db} SET ${settingSql(item)}`;
      await admin.query(stmt).catch((e) => {
        log(`restore: WARNING: could not apply ${stmt}: ${(e as Error).message}`);
      });
    }
  }
}

// GUCs whose stored value is a list that must not be re-quoted as one string.
const LIST_GUCS = new Set([
  "search_path",
  "temp_tablespaces",
  "session_preload_libraries",
  "local_preload_libraries",
]);

/** `name = value` for ALTER ... SET from a pg_db_role_setting item `name=value`. */
export function settingSql(item: string): string {
  const eq = item.indexOf("=");
  const [k, v] = [item.slice(0, eq), item.slice(eq + 1)];
  const value = LIST_GUCS.has(k) ? v : literal(v);
  const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(k) ? k : ident(k);
  return `${name} = ${value}`;
}

/** Why a command needs what `swapPrivilegeProblems` checks, in its own words. */
export interface SwapPurpose {
  /** e.g. "whole copies the PTR into a fresh database on live's server" */
  create: string;
  /** e.g. "whole keeps it under another name" */
  rename: string;
}

/**
 * What a fresh database swapped in for `db` (null: the session's) takes of this role, as one line
 * per refusal with the fix; none when it may. CREATE DATABASE takes CREATEDB; renaming the old
 * database aside takes its owner (or a member of the owner's role). Asked before anything is
 * created, and by a plan, so a role without them is refused up front rather than partway.
 */
export async function swapPrivilegeProblems(
  client: Client,
  db: string | null,
  why: SwapPurpose,
): Promise<string[]> {
  const r = await client.query<{ me: string; db: string; createdb: boolean; owner: string | null }>(
    `SELECT CURRENT_USER AS me, COALESCE($1::pg_catalog.text, pg_catalog.current_database()) AS db,
            (SELECT a.rolcreatedb OR a.rolsuper FROM pg_catalog.pg_roles a
              WHERE a.rolname = CURRENT_USER) AS createdb,
            (SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database d
              WHERE d.datname = COALESCE($1::pg_catalog.text, pg_catalog.current_database())
                AND NOT pg_catalog.pg_has_role(d.datdba, 'USAGE')) AS owner`,
    [db],
  );
  const { me, owner } = r.rows[0];
  const out: string[] = [];
  if (!r.rows[0].createdb) {
    out.push(
      `the role ${me} may not create databases: ${why.create}. Run it as a role that may ` +
        `(the server's admin), or: ALTER ROLE ${ident(me)} CREATEDB;`,
    );
  }
  if (owner !== null) {
    out.push(
      `the role ${me} does not own database ${r.rows[0].db} (owned by ${owner}): ${why.rename}, ` +
        `and only its owner may rename it. Run it as ${owner}, or make ${me} a member of the ` +
        `owner's role: GRANT ${ident(owner)} TO ${ident(me)};`,
    );
  }
  return out;
}
