/**
 * Connections for verify: endpoint resolution (env var + host/db overrides) and a per-side pool of
 * read-only sessions that all see one snapshot.
 *
 * URL parsing, redaction and TLS (libpq sslmode semantics, default "prefer": Azure Flexible
 * Server requires TLS) come from postgres/connection.ts so there is one implementation of each.
 */
import type { Client } from "pg";
import { ROW_SECURITY_FIX } from "../errors";
import { unreadableError, unreadableRelations } from "../postgres/tables";
import {
  ConnectionConfigError,
  connect as connectTarget,
  describeTarget,
  PgTarget,
  resolveTarget,
  UrlNotSetError,
} from "../postgres/connection";

export interface EndpointSpec {
  /** Literal URL (laptops/tests); wins over env. */
  url?: string;
  /** Name of the environment variable holding the URL (default DATABASE_URL). */
  env?: string;
  /** Replace the host (e.g. the PTR server's FQDN); credentials and port are kept. */
  host?: string;
  /** Replace the database name. */
  database?: string;
}

/** How a command names one side to its user: its flags' prefix and the side in words. */
export interface SideNaming {
  /** `--<flag>-env`, `--<flag>-name`: `source`, `target` (verify), `from`, `to` (promote). */
  flag: string;
  /** "the source", "the PTR", "live". */
  words: string;
}

/** verify's sides, named as its flags are. */
export const VERIFY_SIDES: Record<Side["label"], SideNaming> = {
  source: { flag: "source", words: "the source" },
  target: { flag: "target", words: "the target" },
};

/** Resolves a spec to a connection target; throws naming the side and its flags. */
export function resolveEndpoint(
  spec: EndpointSpec,
  side: SideNaming,
  environment: NodeJS.ProcessEnv = process.env,
): PgTarget {
  try {
    return resolveTarget(
      { url: spec.url, dbEnv: spec.env, dbHost: spec.host, dbName: spec.database },
      environment,
      (name) =>
        `environment variable ${name} (${side.words}'s URL) is not set: set it, or name another variable with --${side.flag}-env`,
    );
  } catch (err) {
    // The unset variable's message already names the side; the rest get it as a prefix.
    if (err instanceof ConnectionConfigError && !(err instanceof UrlNotSetError)) {
      throw new ConnectionConfigError(
        `${side.words}: ${err.message.replace("--db-name", `--${side.flag}-name`)}`,
      );
    }
    throw err;
  }
}

/** host:port/database, for "are these the same database?" checks. */
export function identityOf(t: PgTarget): string {
  return `${t.host.toLowerCase()}:${t.port}/${t.database}`;
}

/**
 * Session settings so that every value's text rendering is identical across servers: hashes are
 * computed over `row::text`, which depends on these. search_path='' makes catalog renderings
 * (format_type, pg_get_indexdef, regclass values) fully schema-qualified.
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: "UTC",
  DateStyle: "ISO, YMD",
  IntervalStyle: "postgres",
  extra_float_digits: "3",
  bytea_output: "hex",
  lc_monetary: "C",
  search_path: "",
  // Long scans must not be cut short by an app role's defaults; the leader sits idle in its
  // transaction while workers use its exported snapshot.
  statement_timeout: "0",
  idle_in_transaction_session_timeout: "0",
  // We parallelise ourselves (chunks over a small pool); server-side parallel workers on top
  // would oversubscribe small machines.
  max_parallel_workers_per_gather: "0",
  // A row-level security policy that would hide rows from this role is an error, not a silent
  // subset: a comparison or a copy of part of a table would pass for the whole (as pg_dump).
  row_security: "off",
};

export interface Side {
  readonly label: "source" | "target";
  /** Printable URL: never contains the password. */
  readonly redacted: string;
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  /**
   * clients[0] is the leader; all are inside REPEATABLE READ READ ONLY transactions on one
   * snapshot. Only the leader when the server refused to export its snapshot.
   */
  readonly clients: Client[];
  close(): Promise<void>;
}

async function connect(target: PgTarget): Promise<Client> {
  const client = await connectTarget({
    ...target,
    params: { application_name: "pg-recovery-verify", ...target.params },
  });
  const names = Object.keys(SESSION_SETTINGS);
  const sql = `SELECT ${names.map((_, i) => `pg_catalog.set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(", ")}`;
  await client.query(
    sql,
    names.flatMap((n) => [n, SESSION_SETTINGS[n]]),
  );
  return client;
}

const BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/**
 * Refuses, before any row is read, when this role may not read a relation on either side
 * (postgres/tables.ts's unreadableRelations). The read would stop at the first such table with
 * "permission denied", minutes into the others; this names every one at once, with the grants
 * that fix it.
 */
export async function refuseUnreadable(
  sides: [name: string, side: Side][],
  schemas: string[] | null,
): Promise<void> {
  const found = await Promise.all(
    sides.map(async ([name, side]) => ({
      where: `on ${name} ${side.redacted}`,
      rows: await unreadableRelations(side.clients[0], schemas),
    })),
  );
  if (found.some((f) => f.rows.length)) throw unreadableError(found);
}

/**
 * Refuses, before any row is read, when row-level security would hide rows of a table (in
 * `schemas`, or any) from the role on either side: a role that is neither superuser nor BYPASSRLS
 * reading a table with row-level security enabled that it does not own, or whose owner it is
 * but FORCE applies. The sessions' `row_security = off` would stop the read at that table
 * anyway; this names every such table at once, before minutes of work on the others.
 */
export async function refuseHiddenRows(
  sides: [name: string, side: Side][],
  schemas: string[] | null,
): Promise<void> {
  const found = await Promise.all(
    sides.map(async ([name, side]) => {
      const r = await side.clients[0].query<{ t: string }>(
        `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS t
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity
            AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[]))
            AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
                      WHERE r.rolname = current_user)
            AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))
          ORDER BY 1`,
        [schemas],
      );
      const tables = r.rows.map((x) => x.t).join(", ");
      return tables ? `on ${name} ${side.redacted}: ${tables}` : "";
    }),
  );
  const lines = found.filter(Boolean);
  if (lines.length) {
    throw new Error(
      `row-level security would hide rows of these tables from this role (${lines.join("; ")}), ${ROW_SECURITY_FIX}`,
    );
  }
}

/**
 * Opens `size` sessions on one side. The leader exports its snapshot and the others import it
 * (as pg_dump -j does), so chunks hashed on different connections see one consistent state.
 */
export async function openSide(
  label: Side["label"],
  target: PgTarget,
  size: number,
): Promise<Side> {
  const clients: Client[] = [];
  const close = async () => {
    await Promise.all(
      clients.map(async (c) => {
        await c.query("ROLLBACK").catch(() => undefined);
        await c.end().catch(() => undefined);
      }),
    );
  };
  try {
    const leader = await connect(target);
    clients.push(leader);
    await leader.query(BEGIN);
    let snapshot: string | null = null;
    if (size > 1) {
      try {
        snapshot = (
          await leader.query<{ s: string }>("SELECT pg_catalog.pg_export_snapshot() AS s")
        ).rows[0].s;
      } catch {
        // Some hosted roles/standbys refuse; fall back to the leader alone (still consistent).
        // Nothing has been read yet, so a fresh transaction loses nothing.
        await leader.query("ROLLBACK");
        await leader.query(BEGIN);
      }
    }
    const v = await leader.query<{ v: string; n: string }>(
      "SELECT pg_catalog.current_setting('server_version') AS v, pg_catalog.current_setting('server_version_num') AS n",
    );
    if (snapshot) {
      const opened = await Promise.allSettled(
        Array.from({ length: size - 1 }, () => connect(target)),
      );
      const others = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      clients.push(...others); // before any rethrow, so close() ends them
      const failed = opened.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      await Promise.all(
        others.map(async (c) => {
          await c.query(BEGIN);
          await c.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
        }),
      );
    }
    return {
      label,
      redacted: describeTarget(target),
      serverVersion: v.rows[0].v,
      serverVersionNum: Number(v.rows[0].n),
      clients,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
