/**
 * The database side of a restore around the actual load: inspecting the live database,
 * creating/dropping the fresh copy, and the swap by rename that puts it in place.
 */
import { Client } from "pg";
import { BackupEntry } from "../storage/catalog";
import {
  confirmationFor,
  connect,
  describeTarget,
  ident,
  literal,
  PgTarget,
} from "../postgres/connection";
import { RestoreRefusedError } from "../errors";
import { fitIdentifier } from "../storage/naming";
import { LogFn } from "../progress";
import { listUserTables } from "../postgres/tables";

export async function connectMaintenance(target: PgTarget): Promise<Client> {
  let lastError: unknown;
  for (const db of ["postgres", "template1"]) {
    try {
      return await connect(target, db);
    } catch (e) {
      lastError = e;
      if (!/does not exist/.test((e as Error).message)) break;
    }
  }
  throw new Error(
    `cannot connect to ${describeTarget({ ...target, database: "postgres" })}: ${(lastError as Error).message}`,
  );
}

export interface LiveState {
  exists: boolean;
  /** Undefined when the database exists but could not be inspected. */
  userTables?: number;
  owner?: string;
  encoding?: string;
  collate?: string;
  ctype?: string;
  oid?: number;
}

export async function inspectLive(admin: Client, target: PgTarget, log: LogFn): Promise<LiveState> {
  const r = await admin.query(
    `SELECT d.oid, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
            d.datcollate AS collate, d.datctype AS ctype, d.datallowconn AS allowconn
       FROM pg_database d WHERE d.datname = $1`,
    [target.database],
  );
  if (r.rowCount === 0) return { exists: false };
  const row = r.rows[0];
  if (!row.allowconn) {
    log(
      `restore: warning: ${target.database} does not accept connections (ALLOW_CONNECTIONS false, perhaps from an interrupted restore); it stays that way unless it is replaced`,
    );
  }
  const state: LiveState = {
    exists: true,
    owner: row.owner,
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    oid: row.oid,
  };
  state.userTables = await countUserTables(target, target.database).catch(() => undefined);
  return state;
}

export async function countUserTables(
  target: PgTarget,
  database: string,
  client?: Client,
): Promise<number> {
  const c = client ?? (await connect(target, database));
  try {
    // The app's own tables: an extension's configuration table comes with CREATE EXTENSION.
    return (await listUserTables(c)).filter((t) => !t.extension).length;
  } finally {
    if (!client) await c.end().catch(() => undefined);
  }
}

export async function databaseExists(admin: Client, name: string): Promise<boolean> {
  const r = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return (r.rowCount ?? 0) > 0;
}

export async function dropDatabase(admin: Client, name: string): Promise<void> {
  const major =
    Number((await admin.query("SHOW server_version_num")).rows[0].server_version_num) / 10000;
  // FORCE (13+) also ends sessions left on the partial copy.
  await admin.query(`DROP DATABASE IF EXISTS ${ident(name)}${major >= 13 ? " WITH (FORCE)" : ""}`);
}

/** First of `base`, `base_2`, `base_3`, ... that no database uses. */
export async function freeName(admin: Client, base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? base : fitIdentifier(base, `_${i}`);
    if (!(await databaseExists(admin, candidate))) return candidate;
  }
}

/** The fresh database: same encoding and locale as the live one, else as the source. */
export async function createScratch(
  admin: Client,
  name: string,
  live: LiveState,
  entry: BackupEntry,
): Promise<void> {
  const src = live.exists
    ? { encoding: live.encoding!, collate: live.collate!, ctype: live.ctype! }
    : (entry.manifest?.database ?? { encoding: "UTF8", collate: undefined, ctype: undefined });
  const base = `CREATE DATABASE ${ident(name)} TEMPLATE template0 ENCODING ${literal(src.encoding)}`;
  if (src.collate && src.ctype) {
    try {
      await admin.query(
        `${base} LC_COLLATE ${literal(src.collate)} LC_CTYPE ${literal(src.ctype)}`,
      );
      return;
    } catch (e) {
      // A locale name the target server does not have (new server, other OS image).
      if (!/locale|collation|incompatible/i.test((e as Error).message)) throw e;
    }
  }
  await admin.query(base);
}

/**
 * Puts the restored copy in place of the live database: rename both in one transaction. When
 * replacing a database, new connections to it are blocked first and (only when confirmed)
 * sessions still on it are terminated, so the rename cannot race the application.
 */
export async function swapIn(
  admin: Client,
  target: PgTarget,
  o: {
    live: LiveState;
    scratch: string;
    kept?: string;
    confirmed: boolean;
    backup: string;
    /** Owner to give the database once it is in place (renaming needs ownership). */
    owner?: string;
    log: LogFn;
  },
): Promise<void> {
  const db = target.database;
  if (!o.live.exists || !o.kept) {
    await admin.query(`ALTER DATABASE ${ident(o.scratch)} RENAME TO ${ident(db)}`);
    await setOwner(admin, db, o.owner, o.log);
    return;
  }
  // Keep one session on live to re-check it after new connections are blocked.
  const probe = await connect(target, db).catch(() => undefined);
  let blocked = false;
  // Ctrl-C or a Job's SIGTERM between "block connections" and "rename" would leave the live
  // database refusing connections: hold such signals until the swap has finished either way.
  const deferred: NodeJS.Signals[] = [];
  const hold = (sig: NodeJS.Signals) => {
    deferred.push(sig);
    o.log(`restore: ${sig} received during the swap; finishing the swap first`);
  };
  process.on("SIGINT", hold);
  process.on("SIGTERM", hold);
  try {
    try {
      await admin.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS false`);
      blocked = true;
    } catch (e) {
      o.log(
        `restore: could not block new connections to ${db} (${(e as Error).message}); continuing`,
      );
    }
    if (!o.confirmed) {
      const n = probe ? await countUserTables(target, db, probe) : undefined;
      if (n !== 0) {
        throw new RestoreRefusedError(
          `database ${confirmationFor(target)} gained user tables during the restore; rerun with --confirm ${confirmationFor(target)}`,
        );
      }
    }
    await probe?.end().catch(() => undefined);
    for (let attempt = 1; ; attempt++) {
      const others = await admin.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [db],
      );
      if (others.rows[0].n > 0) {
        if (!o.confirmed) {
          throw new RestoreRefusedError(
            `${others.rows[0].n} other sessions are connected to ${db}; stop them, or pass --confirm ${confirmationFor(target)} to terminate them`,
          );
        }
        o.log(`restore: terminating ${others.rows[0].n} sessions on ${db}`);
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [db],
        );
      }
      try {
        await admin.query("BEGIN");
        await admin.query(`ALTER DATABASE ${ident(db)} RENAME TO ${ident(o.kept)}`);
        await admin.query(`ALTER DATABASE ${ident(o.scratch)} RENAME TO ${ident(db)}`);
        await admin.query("COMMIT");
        break;
      } catch (e) {
        await admin.query("ROLLBACK").catch(() => undefined);
        // 55006: a session (re)appeared between terminate and rename.
        if ((e as { code?: string }).code !== "55006" || attempt >= 5) throw e;
      }
    }
    blocked = false;
    await admin
      .query(`ALTER DATABASE ${ident(o.kept)} ALLOW_CONNECTIONS true`)
      .catch(() => undefined);
    await admin
      .query(
        `COMMENT ON DATABASE ${ident(o.kept)} IS ${literal(`live database replaced by pg-recovery restore of ${o.backup} at ${new Date().toISOString()}`)}`,
      )
      .catch(() => undefined);
    // The swap has happened: from here on, problems are warnings, not failures. (Settings,
    // comment and grants were copied onto the new database before the swap.)
    await setOwner(admin, db, o.owner, o.log);
  } finally {
    process.off("SIGINT", hold);
    process.off("SIGTERM", hold);
    await probe?.end().catch(() => undefined);
    if (blocked)
      await admin
        .query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS true`)
        .catch(() => undefined);
    // Re-deliver a held signal now that no handler of ours intercepts it.
    if (deferred.length) process.kill(process.pid, deferred[0]);
  }
}

/** Gives the database its owner; a failure after the swap is a loud warning, not a failure. */
async function setOwner(
  admin: Client,
  db: string,
  owner: string | undefined,
  log: LogFn,
): Promise<void> {
  if (owner === undefined) return;
  const me = (await admin.query("SELECT current_user AS u")).rows[0].u;
  if (owner === me) return;
  await admin.query(`ALTER DATABASE ${ident(db)} OWNER TO ${ident(owner)}`).catch((e) => {
    log(
      `restore: WARNING: ${db} is in place but still owned by ${me}, not ${owner}: ${(e as Error).message}. ` +
        `Run: ALTER DATABASE ${ident(db)} OWNER TO ${ident(owner)}`,
    );
  });
}
