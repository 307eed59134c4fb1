/**
 * pg-recovery-data: the data-moving half of pg-recovery (no Pulumi here: this runs in a
 * Kubernetes Job and on operators' laptops).
 *
 *   backup  --name NAME [--db-env VAR] [--db-host HOST] [--db-name DB] [--jobs N] [--container C]
 *   list    [--container C] [--json]
 *   restore (--name NAME | --latest) [--db-env VAR] [--db-host HOST] [--db-name DB]
 *           [--confirm SERVER/DATABASE] [--jobs N] [--container C]
 *   verify  ... (see datapath/verify.ts)
 *
 * Progress goes to stderr, the final summary to stdout. Exit codes: 0 ok, 1 failed or refused,
 * 2 usage error.
 */
import { backup } from "./backup";
import { BackupEntry, catalog } from "./catalog";
import { positiveInt, parseFlags, str, UsageError } from "./args";
import { formatBytes } from "./progress";
import { restore } from "./restore";
import { openStorage } from "./storage";
import { runVerifyCommand } from "./verify";

const USAGE = `usage: pg-recovery-data <command> [flags]

  backup  --name NAME [--db-env VAR] [--db-host HOST] [--db-name DB] [--jobs N] [--container C]
          [--verify-readback]
  list    [--container C] [--json]
  restore (--name NAME | --latest) [--db-env VAR] [--db-host HOST] [--db-name DB]
          [--confirm SERVER/DATABASE] [--jobs N] [--container C] [--temp-dir DIR]
  verify  ...                                (pg-recovery-data verify --help)

The database URL is read from $DATABASE_URL (or the variable named by --db-env); --db-host and
--db-name replace its host and database. Storage: $AZURE_STORAGE_CONNECTION_STRING, or
$AZURE_STORAGE_ACCOUNT_URL with $AZURE_STORAGE_SAS_TOKEN; container --container, else
$BACKUP_CONTAINER, else database-backup. PostgreSQL client tools come from $PG_BIN, else PATH.

Restoring over a database that holds tables needs --confirm SERVER/DATABASE, where SERVER is the
first DNS label of the host (s189p01-ptt-pd-pg for s189p01-ptt-pd-pg.postgres.database.azure.com)
or the whole host when it is an IP address.
`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  const log = (line: string) => io.err(`${line}\n`);
  let secrets: string[] = [];
  try {
    switch (command) {
      case "backup": {
        const f = parseFlags("backup", rest);
        if (f.help) return usage(io, 0);
        const name = str(f, "name");
        if (!name) throw new UsageError("backup needs --name NAME (e.g. ptt_pd_adhoc_2024-07-24)");
        const r = await backup({
          name,
          dbEnv: str(f, "db-env"),
          dbHost: str(f, "db-host"),
          dbName: str(f, "db-name"),
          jobs: positiveInt(f, "jobs"),
          container: str(f, "container"),
          verifyReadback: f["verify-readback"] === true,
          env: io.env,
          log,
        });
        const m = r.manifest;
        io.out(
          [
            `backup ${r.name}: complete`,
            `  blob:     ${r.where}/${r.dumpBlob} (${formatBytes(m.dump.size)}, ${m.dump.compression})`,
            `  manifest: ${r.where}/${r.manifestBlob}`,
            `  source:   ${m.server.host}/${m.database.name} (PostgreSQL ${m.server.version}), snapshot at ${m.createdAt}`,
            `  tables:   ${m.rowCounts.tables.length}, rows ${m.rowCounts.tables.reduce((a, t) => a + t.rows, 0)}${m.rowCounts.exact ? "" : " (approximate: see manifest note)"}`,
            `  sha256:   ${m.dump.sha256}`,
            `  took:     ${r.seconds.toFixed(1)}s`,
            "",
          ].join("\n"),
        );
        return 0;
      }
      case "list": {
        const f = parseFlags("list", rest);
        if (f.help) return usage(io, 0);
        const storage = openStorage({ container: str(f, "container") }, io.env);
        secrets = storage.secrets;
        const entries = await catalog(storage);
        io.out(
          f.json
            ? `${JSON.stringify(entries.map(toJson), null, 2)}\n`
            : formatList(entries, storage.where),
        );
        return 0;
      }
      case "restore": {
        const f = parseFlags("restore", rest);
        if (f.help) return usage(io, 0);
        const name = str(f, "name");
        if ((name === undefined) === (f.latest !== true)) {
          throw new UsageError("restore needs exactly one of --name NAME or --latest");
        }
        const r = await restore({
          name,
          latest: f.latest === true,
          confirm: str(f, "confirm"),
          dbEnv: str(f, "db-env"),
          dbHost: str(f, "db-host"),
          dbName: str(f, "db-name"),
          jobs: positiveInt(f, "jobs"),
          container: str(f, "container"),
          tempDir: str(f, "temp-dir"),
          env: io.env,
          log,
        });
        io.out(
          [
            `restore of ${r.backup} into ${r.server}/${r.database}: complete`,
            `  format:   ${r.format === "custom" ? "pg_dump custom (verified sha256 and row counts)" : "legacy plain SQL .sql.gz (verified gzip and trailer)"}`,
            `  tables:   ${r.tables}, rows ${r.rows}`,
            r.keptDatabase
              ? `  kept:     the previous database is now ${r.server}/${r.keptDatabase} (drop it after the incident review)`
              : `  kept:     nothing (${r.database} did not exist before)`,
            `  took:     ${r.seconds.toFixed(1)}s (download ${r.timings.download.toFixed(1)}s, restore ${r.timings.restore.toFixed(1)}s, verify ${r.timings.verify.toFixed(1)}s, swap ${r.timings.swap.toFixed(1)}s)`,
            "",
          ].join("\n"),
        );
        return 0;
      }
      case "verify":
        return await runVerifyCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        return usage(io, command === undefined ? 2 : 0);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`pg-recovery-data: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    const message = redact((e as Error)?.message ?? String(e), [...secrets, ...envSecrets(io.env)]);
    io.err(`pg-recovery-data ${command}: error: ${message}\n`);
    return 1;
  }
}

function usage(io: Io, code: number): number {
  (code === 0 ? io.out : io.err)(USAGE);
  return code;
}

/** Secrets that may reach an error message through a library: scrub them whatever happened. */
function envSecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const cs = env.AZURE_STORAGE_CONNECTION_STRING;
  if (cs) {
    out.push(cs);
    for (const m of cs.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) out.push(m[1]);
  }
  if (env.AZURE_STORAGE_SAS_TOKEN) out.push(env.AZURE_STORAGE_SAS_TOKEN.replace(/^\?/, ""));
  for (const [k, v] of Object.entries(env)) {
    if (!v || !/^postgres(ql)?:\/\//.test(v)) continue;
    try {
      const pw = new URL(v).password;
      if (pw) out.push(pw, decodeURIComponent(pw));
    } catch {
      void k;
    }
  }
  return out;
}

export function redact(text: string, secrets: string[]): string {
  return secrets
    .filter((s) => s && s.length >= 4)
    .sort((a, b) => b.length - a.length)
    .reduce((acc, s) => acc.split(s).join("***"), text);
}

function toJson(e: BackupEntry) {
  return {
    name: e.name,
    status: e.status,
    format: e.format,
    blob: e.blob,
    size: e.size,
    createdAt: e.createdAt?.toISOString(),
    problem: e.problem,
    database: e.manifest?.database.name,
    server: e.manifest?.server.host,
    sha256: e.manifest?.dump.sha256,
    tables: e.manifest?.rowCounts.tables.length,
    rows: e.manifest?.rowCounts.tables.reduce((a, t) => a + t.rows, 0),
  };
}

function formatList(entries: BackupEntry[], where: string): string {
  if (entries.length === 0) return `no backups in ${where}\n`;
  const rows = entries.map((e) => [
    e.name,
    e.status,
    formatBytes(e.size),
    e.createdAt?.toISOString().replace(/\.\d{3}Z$/, "Z") ?? "-",
    e.problem ?? (e.manifest ? `${e.manifest.server.host}/${e.manifest.database.name}` : ""),
  ]);
  const head = ["NAME", "STATUS", "SIZE", "CREATED (UTC)", "NOTE"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [`backups in ${where} (newest first)`, fmt(head), ...rows.map(fmt), ""].join("\n");
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`pg-recovery-data: unexpected error: ${(e as Error)?.message}\n`);
      process.exitCode = 1;
    },
  );
}
