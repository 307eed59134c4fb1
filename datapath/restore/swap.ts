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
import { RestoreRefusedError, sqlState } from "../errors";
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
  const kept = o.kept;
  // Keep one session on live to re-check it after new connections are blocked.
  const probe = await connect(target, db).catch(() => undefined);
  let blocked = false;
  // Ctrl-C or a Job's SIGTERM between "block connections" and "rename" would leave the live
  // database refusing connections: hold such signals until the swap has finished either way.
  const signals = holdSignals(o.log);
  try {
    blocked = await blockConnections(admin, db, o.log);
    if (!o.confirmed) await refuseGainedTables(target, probe);
    await probe?.end().catch(() => undefined);
    await renameBoth(admin, target, {
      scratch: o.scratch,
      kept,
      confirmed: o.confirmed,
      log: o.log,
    });
    blocked = false;
    await markKept(admin, kept, o.backup);
    // The swap has happened: from here on, problems are warnings, not failures. (Settings,
    // comment and grants were copied onto the new database before the swap.)
    await setOwner(admin, db, o.owner, o.log);
  } finally {
    signals.stopHolding();
    await probe?.end().catch(() => undefined);
    if (blocked)
      await admin
        .query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS true`)
        .catch(() => undefined);
    // Re-deliver a held signal now that no handler of ours intercepts it.
    signals.redeliver();
  }
}

/**
 * Holds SIGINT/SIGTERM from now on (logging each) instead of letting them end the process.
 * `stopHolding` removes the handlers; `redeliver` then sends the first held signal again.
 */
function holdSignals(log: LogFn): { stopHolding: () => void; redeliver: () => void } {
  const deferred: NodeJS.Signals[] = [];
  const hold = (sig: NodeJS.Signals) => {
    deferred.push(sig);
    log(`restore: ${sig} received during the swap; finishing the swap first`);
  };
  process.on("SIGINT", hold);
  process.on("SIGTERM", hold);
  return {
    stopHolding: () => {
      process.off("SIGINT", hold);
      process.off("SIGTERM", hold);
    },
    redeliver: () => {
      if (deferred.length) process.kill(process.pid, deferred[0]);
    },
  };
}

/** Blocks new connections to `db`; true when it did. Not being able to is only logged. */
async function blockConnections(admin: Client, db: string, log: LogFn): Promise<boolean> {
  try {
    await admin.query(`ALTER DATABASE ${ident(db)} ALLOW_CONNECTIONS false`);
    return true;
  } catch (e) {
    log(`restore: could not block new connections to ${db} (${(e as Error).message}); continuing`);
    return false;
  }
}

/**
 * Unconfirmed, the live database was empty when the restore began: refuses the swap when it
 * now holds user tables, or can no longer be looked into (no `probe` session).
 */
async function refuseGainedTables(target: PgTarget, probe: Client | undefined): Promise<void> {
  const n = probe ? await countUserTables(target, target.database, probe) : undefined;
  if (n !== 0) {
    throw new RestoreRefusedError(
      `database ${confirmationFor(target)} gained user tables during the restore; rerun with --confirm ${confirmationFor(target)}`,
    );
  }
}

/**
 * Renames live to `kept` and the fresh copy to live in one transaction, after clearing the
 * sessions on live; retried a few times when a session slips in between.
 */
async function renameBoth(
  admin: Client,
  target: PgTarget,
  o: { scratch: string; kept: string; confirmed: boolean; log: LogFn },
): Promise<void> {
  const db = target.database;
  for (let attempt = 1; ; attempt++) {
    await clearSessions(admin, target, o.confirmed, o.log);
    try {
      await admin.query("BEGIN");
      await admin.query(`ALTER DATABASE ${ident(db)} RENAME TO ${ident(o.kept)}`);
      await admin.query(`ALTER DATABASE ${ident(o.scratch)} RENAME TO ${ident(db)}`);
      await admin.query("COMMIT");
      return;
    } catch (e) {
      await admin.query("ROLLBACK").catch(() => undefined);
      // 55006: a session (re)appeared between terminate and rename.
      if (sqlState(e) !== "55006" || attempt >= 5) throw e;
    }
  }
}

/** Terminates other sessions on live when confirmed; unconfirmed, their presence is a refusal. */
async function clearSessions(
  admin: Client,
  target: PgTarget,
  confirmed: boolean,
  log: LogFn,
): Promise<void> {
  const db = target.database;
  const others = await admin.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    [db],
  );
  if (others.rows[0].n > 0) {
    if (!confirmed) {
      throw new RestoreRefusedError(
        `${others.rows[0].n} other sessions are connected to ${db}; stop them, or pass --confirm ${confirmationFor(target)} to terminate them`,
      );
    }
    log(`restore: terminating ${others.rows[0].n} sessions on ${db}`);
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [db],
    );
  }
}

/**
 * Makes the replaced database, now `kept`, usable again for the incident review and says in its
 * comment what replaced it. Best effort: the swap has already happened.
 */
async function markKept(admin: Client, kept: string, backup: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${ident(kept)} ALLOW_CONNECTIONS true`).catch(() => undefined);
  await admin
    .query(
      `COMMENT ON DATABASE ${ident(kept)} IS ${literal(`live database replaced by pg-recovery restore of ${backup} at ${new Date().toISOString()}`)}`,
    )
    .catch(() => undefined);
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
