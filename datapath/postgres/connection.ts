/**
 * Postgres connection handling: URL from an environment variable, host/database overrides,
 * redaction, and libpq environment variables so passwords never appear on a command line
 * (where `ps` would show them to every user on the node).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { Client, ClientConfig } from "pg";
import { DATA_TOOL_ENV } from "../../contract/data-tool";
import { ConfigError } from "../errors";

export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** libpq sslmode; undefined means libpq's default ("prefer"). */
  sslmode?: string;
  /** Other libpq URL parameters we pass through (sslrootcert, application_name, ...). */
  params: Record<string, string>;
}

export interface TargetSpec {
  /** A literal URL (tests, laptops); wins over the environment variable. */
  url?: string;
  /** Environment variable holding the URL; default DATABASE_URL. */
  dbEnv?: string;
  /** Replaces the URL's host (e.g. the point-in-time-restore server). */
  dbHost?: string;
  /** Replaces the URL's database. */
  dbName?: string;
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
// URL parameters mapped to the libpq environment variables that carry them.
const PARAM_ENV: Record<string, string> = {
  sslrootcert: "PGSSLROOTCERT",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  application_name: "PGAPPNAME",
  connect_timeout: "PGCONNECT_TIMEOUT",
  target_session_attrs: "PGTARGETSESSIONATTRS",
};
// Inherited libpq variables that could silently redirect or re-authenticate a tool.
const CLEARED_ENV = [
  "PGHOST",
  "PGHOSTADDR",
  "PGPORT",
  "PGUSER",
  "PGPASSWORD",
  "PGDATABASE",
  "PGSSLMODE",
  "PGSERVICE",
  "PGSERVICEFILE",
  "PGOPTIONS",
  ...Object.values(PARAM_ENV),
];

export class ConnectionConfigError extends ConfigError {}
/** The environment variable that should hold the URL is not set (worded by the command). */
export class UrlNotSetError extends ConnectionConfigError {}

const urlNotSet = (name: string) =>
  `environment variable ${name} is not set: set it to postgres://USER:PASSWORD@HOST:5432/DATABASE or name another variable with --db-env`;

/**
 * Reads and parses the URL named by the spec, applying overrides. `missing` words the error when
 * the variable is not set, for the command's own flags.
 */
export function resolveTarget(
  spec: TargetSpec = {},
  env: NodeJS.ProcessEnv = process.env,
  missing: (name: string) => string = urlNotSet,
): PgTarget {
  const raw = connectionUrl(spec.url, spec.dbEnv, env, missing);
  const target = parsePgUrl(raw);
  if (spec.dbHost) target.host = spec.dbHost;
  if (spec.dbName) target.database = spec.dbName;
  if (!target.database) {
    throw new ConnectionConfigError(
      `no database in the connection URL ${redactUrl(raw)}: add /DATABASE to it or pass --db-name`,
    );
  }
  return target;
}

/**
 * The connection URL: the literal one if given, else the named environment variable's (default
 * DATABASE_URL).
 */
function connectionUrl(
  url: string | undefined,
  envName: string | undefined,
  env: NodeJS.ProcessEnv,
  missing: (name: string) => string,
): string {
  if (url !== undefined) return url;
  const name = envName ?? DATA_TOOL_ENV.databaseUrl;
  const value = env[name];
  if (!value) throw new UrlNotSetError(missing(name));
  return value;
}

export function parsePgUrl(raw: string): PgTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Never echo the string: it may hold a password.
    throw new ConnectionConfigError("the database connection string is not a postgres:// URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new ConnectionConfigError(
      `unsupported connection URL scheme "${u.protocol}": expected postgres:// or postgresql://`,
    );
  }
  const params: Record<string, string> = {};
  for (const [k, v] of u.searchParams) params[k] = v;
  const sslmode = params.sslmode;
  delete params.sslmode;
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) {
    throw new ConnectionConfigError(`unsupported sslmode "${sslmode}" in the connection URL`);
  }
  // `?host=/socket/dir` is libpq's way to name a Unix socket directory.
  const host = params.host ?? decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, "$1");
  delete params.host;
  const password = params.password ?? (u.password ? decodeURIComponent(u.password) : undefined);
  delete params.password;
  return {
    host: host || "localhost",
    port: u.port ? Number(u.port) : params.port ? Number(params.port) : 5432,
    user: params.user ?? decodeURIComponent(u.username),
    password,
    database: params.dbname ?? decodeURIComponent(u.pathname.replace(/^\//, "")),
    sslmode,
    params: Object.fromEntries(
      Object.entries(params).filter(([k]) => !["port", "user", "dbname"].includes(k)),
    ),
  };
}

/** A printable URL for the target: no password, no secret-looking parameters. */
export function describeTarget(t: PgTarget): string {
  const host = net.isIPv6(t.host) ? `[${t.host}]` : t.host;
  const user = t.user ? `${encodeURIComponent(t.user)}${t.password ? ":***" : ""}@` : "";
  const q = t.sslmode ? `?sslmode=${t.sslmode}` : "";
  return `postgres://${user}${host}:${t.port}/${encodeURIComponent(t.database)}${q}`;
}

/** Redacts the password (and secret-looking parameters) of a URL string. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) {
      if (/pass|secret|key|token|sig/i.test(k)) u.searchParams.set(k, "***");
    }
    return u.toString();
  } catch {
    return "<unparseable connection string>";
  }
}

/**
 * The server half of `--confirm SERVER/DATABASE`: the host's first DNS label
 * (`s189p01-ptt-pd-pg` for `s189p01-ptt-pd-pg.postgres.database.azure.com`), or the whole host
 * when it is an IP address or a socket directory, since a label of those means nothing.
 */
export function serverLabel(host: string): string {
  if (net.isIP(host) || host.startsWith("/")) return host;
  return host.split(".")[0];
}

export function confirmationFor(t: PgTarget, database = t.database): string {
  return `${serverLabel(t.host)}/${database}`;
}

/** Environment for pg_dump/pg_restore/psql: the target in libpq variables, nothing on argv. */
export function libpqEnv(
  t: PgTarget,
  base: NodeJS.ProcessEnv = process.env,
  database = t.database,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of CLEARED_ENV) delete env[k];
  env.PGHOST = t.host;
  env.PGPORT = String(t.port);
  if (t.user) env.PGUSER = t.user;
  if (t.password !== undefined) env.PGPASSWORD = t.password;
  else if (base.PGPASSWORD !== undefined) env.PGPASSWORD = base.PGPASSWORD;
  env.PGDATABASE = database;
  if (t.sslmode) env.PGSSLMODE = t.sslmode;
  for (const [k, v] of Object.entries(t.params)) {
    if (PARAM_ENV[k]) env[PARAM_ENV[k]] = v;
  }
  return env;
}

/** A libpq connection string naming only a database (for `pg_restore -d`); the rest is in env. */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function sslConfig(t: PgTarget, mode: string): ClientConfig["ssl"] {
  if (mode === "disable") return false;
  const ca = t.params.sslrootcert ? fs.readFileSync(t.params.sslrootcert, "utf8") : undefined;
  if (mode === "verify-full") return { rejectUnauthorized: true, ca };
  // libpq's verify-ca checks the chain but not the host name.
  if (mode === "verify-ca")
    return { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
  // require/prefer/allow encrypt without verifying, as libpq does.
  return { rejectUnauthorized: false };
}

/**
 * Opens a node-postgres session with libpq's sslmode semantics, including the default "prefer":
 * try TLS, fall back to plain only when the server does not offer TLS.
 */
export async function connect(t: PgTarget, database = t.database): Promise<Client> {
  const mode = t.sslmode ?? "prefer";
  const base: ClientConfig = {
    host: t.host,
    port: t.port,
    user: t.user || undefined,
    password: t.password,
    database,
    application_name: t.params.application_name ?? "pg-recovery",
    connectionTimeoutMillis: 30_000,
  };
  const attempt = async (ssl: ClientConfig["ssl"]) => {
    const client = new Client({ ...base, ssl });
    // An idle session dropped by the server must not crash the process via an unhandled event.
    client.on("error", () => undefined);
    await client.connect();
    // Restore and backup sessions run long statements (count(*), ANALYZE, renames behind
    // terminated sessions); a role's statement_timeout must not cut them short.
    await client.query("SET statement_timeout = 0");
    return client;
  };
  if (mode === "prefer" || mode === "allow") {
    try {
      return await attempt(sslConfig(t, mode));
    } catch (e) {
      if (!/does not support SSL/i.test(String((e as Error).message))) throw e;
      return attempt(false);
    }
  }
  return attempt(sslConfig(t, mode));
}

/** Every secret in the target, for scrubbing tool output before it is printed. */
export function secretsOf(t: PgTarget): string[] {
  return t.password ? [t.password, encodeURIComponent(t.password)] : [];
}
