/** `restore`: the command line around restore/restore.ts. */
import { checkLine } from "../../contract/drill-check";
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { describeTables } from "../postgres/tables";
import { restore, RestoreResult } from "../restore/restore";
import { backupNameFlag, Io, logTo } from "./io";
import { CommandHelp } from "./help";

export const restoreHelp: CommandHelp<"restore"> = {
  summary: "restore a backup into a fresh database, check it, swap it in",
  usage:
    "(--name NAME | --latest) [--db-env VAR] [--db-host HOST] [--db-name DB] [--confirm SERVER/DATABASE]" +
    " [--jobs N] [--container C] [--temp-dir DIR] [--map-missing-roles-to ROLE] [--json]",
  options: {
    name: "the backup to restore (NAME, NAME.dump, NAME.sql.gz or NAME.manifest.json); never another",
    latest:
      "the newest complete or legacy backup; a newest one found damaged is skipped, and said so",
    dbEnv: "the variable holding the target's URL (default DATABASE_URL)",
    dbHost: "replaces the URL's host",
    dbName: "the database to restore into (replaces the URL's database)",
    confirm:
      "the target's SERVER/DATABASE, needed when it holds tables; SERVER is the host's first DNS label",
    jobs: "pg_restore -j and parallel range downloads (default 4)",
    container: "the blob container (default $BACKUP_CONTAINER, else database-backup)",
    tempDir:
      "where the downloaded dump is kept (default $PG_RECOVERY_TMPDIR, else the OS temp dir)",
    mapMissingRolesTo:
      "the role that takes the place of a role the backup names and the target lacks (else refused)",
    json: "one JSON check line per check on stdout (what a restore drill collects)",
  },
  notes: `Checks the dump (sha256, or a legacy .sql.gz's gzip and trailer) before touching any database,
loads it into a fresh <db>_restore_<hash>, checks the row counts, then swaps by rename: the old
database stays as <db>_pre_restore_<hash>. Owners and grants are kept; a new database also gets the
backed-up database's owner, comment, grants and settings. SERVER is the whole host for an IP
address: s189p01-ptt-pd-pg for s189p01-ptt-pd-pg.postgres.database.azure.com.`,
  examples: [
    "pg-recovery-data restore --latest --db-name ptt_production_copy",
    "pg-recovery-data restore --name ptt_pd_2024-07-23 --confirm s189p01-ptt-pd-pg/ptt_production",
  ],
};

export async function restoreCommand(o: Options<"restore">, io: Io): Promise<number> {
  if ((o.name === undefined) === (o.latest !== true)) {
    throw new UsageError("restore needs exactly one of --name NAME or --latest");
  }
  let r: RestoreResult;
  try {
    r = await restore({
      name: o.name === undefined ? undefined : backupNameFlag(o.name, true),
      latest: o.latest === true,
      confirm: o.confirm,
      dbEnv: o.dbEnv,
      dbHost: o.dbHost,
      dbName: o.dbName,
      jobs: o.jobs,
      container: o.container,
      tempDir: o.tempDir,
      mapMissingRolesTo: o.mapMissingRolesTo,
      env: io.env,
      log: logTo(io),
    });
  } catch (e) {
    // A drill collects check lines: a failed restore must say so in one, not only on stderr.
    if (o.json)
      io.out(`${checkLine(restoreCheckName(o), "failed", (e as Error).message.split("\n")[0])}\n`);
    throw e;
  }
  if (o.json) {
    io.out(`${restoreCheckLines(r, restoreCheckName(o)).join("\n")}\n`);
    return EXIT.ok;
  }
  const t = r.timings;
  io.out(
    [
      `restore of ${r.backup} into ${r.server}/${r.database}: complete`,
      `  format:   ${r.format === "custom" ? "pg_dump custom (verified sha256 and row counts)" : "legacy plain SQL .sql.gz (verified gzip and trailer)"}`,
      `  tables:   ${describeTables(r.tables, r.configurationTables)}, rows ${r.rows}`,
      ...r.skipped.map(
        (s) =>
          `  SKIPPED:  newer backup ${s.name} (${s.status}: ${s.problem}); restored ${r.backup} instead`,
      ),
      ...Object.entries(r.mappedRoles).map(
        ([from, to]) =>
          `  roles:    ${from} does not exist here: its objects and grants went to ${to}`,
      ),
      r.keptDatabase
        ? `  kept:     the previous database is now ${r.server}/${r.keptDatabase} (drop it after the incident review)`
        : `  kept:     nothing (${r.database} did not exist before)`,
      `  took:     ${r.seconds.toFixed(1)}s (download ${t.download.toFixed(1)}s, restore ${t.restore.toFixed(1)}s, verify ${t.verify.toFixed(1)}s, swap ${t.swap.toFixed(1)}s)`,
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}

/** `--json`: one check line per backup passed over, then the restore itself (contract/drill-check.ts). */
export function restoreCheckLines(r: RestoreResult, check = "restore-latest"): string[] {
  return [
    ...r.skipped.map((s) =>
      checkLine(
        `skipped ${s.name}`,
        "reported",
        `newer backup passed over (${s.status}): ${s.problem}`,
      ),
    ),
    checkLine(
      check,
      "passed",
      `${r.backup} restored into ${r.server}/${r.database}: ${r.tables} tables, ${r.rows} rows, ` +
        (r.format === "custom"
          ? "sha256 and row counts match its manifest"
          : "legacy plain SQL .sql.gz: gzip and trailer verified, tables counted"),
      {
        backup: r.backup,
        format: r.format,
        takenAt: r.takenAt ?? null,
        tables: r.tables,
        rows: r.rows,
        seconds: Math.round(r.seconds),
        downloadSeconds: Math.round(r.timings.download),
        restoreSeconds: Math.round(r.timings.restore),
      },
    ),
  ];
}

/** `restore-latest` (the drill's check), or `restore <name>`. */
const restoreCheckName = (o: Options<"restore">) =>
  o.latest ? "restore-latest" : `restore ${o.name}`;
