/** `backup`: the command line around backup/backup.ts. */
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { backup } from "../backup/backup";
import { describeStoredDump } from "../backup/compression";
import { configurationTables, describeTables } from "../postgres/tables";
import { formatBytes } from "../progress";
import { backupNameFlag, Io, logTo } from "./io";
import { CommandHelp } from "./help";

export const backupHelp: CommandHelp<"backup"> = {
  summary: "back up a database to blob storage (pg_dump custom format, zstd)",
  usage:
    "--name NAME [--db-env VAR] [--db-host HOST] [--db-name DB] [--jobs N] [--container C] [--verify-readback]",
  options: {
    name: "the backup's name, e.g. ptt_pd_adhoc_2024-07-24; a taken name is refused (never overwritten)",
    dbEnv: "the variable holding the database URL (default DATABASE_URL)",
    dbHost: "replaces the URL's host, e.g. the PTR server's FQDN",
    dbName: "replaces the URL's database",
    jobs: "parallel block uploads (default 4)",
    container: "the blob container (default $BACKUP_CONTAINER, else database-backup)",
    verifyReadback: "download the committed dump and check its sha256 before writing the manifest",
  },
  notes: `Streams pg_dump -Fc through zstd -1 into block uploads (no temp copy); row counts are taken in
the dump's own snapshot. NAME.manifest.json is written last: a dump without it is incomplete.`,
  examples: [
    "pg-recovery-data backup --name ptt_pd_adhoc_2024-07-24",
    "pg-recovery-data backup --name ptt_pd_2024-07-24-restore-to-ptr --db-host s189p01-ptt-pd-pg-ptr.postgres.database.azure.com --jobs 8",
  ],
};

export async function backupCommand(o: Options<"backup">, io: Io): Promise<number> {
  if (o.name === undefined) {
    throw new UsageError("backup needs --name NAME (e.g. ptt_pd_adhoc_2024-07-24)");
  }
  const r = await backup({
    name: backupNameFlag(o.name),
    dbEnv: o.dbEnv,
    dbHost: o.dbHost,
    dbName: o.dbName,
    jobs: o.jobs,
    container: o.container,
    verifyReadback: o.verifyReadback === true,
    env: io.env,
    log: logTo(io),
  });
  const m = r.manifest;
  const rows = m.rowCounts.tables.reduce((a, t) => a + t.rows, 0);
  io.out(
    [
      `backup ${r.name}: complete`,
      `  blob:     ${r.where}/${r.dumpBlob} (${formatBytes(m.dump.size)} ${describeStoredDump(m.dump)})`,
      `  manifest: ${r.where}/${r.manifestBlob}`,
      `  source:   ${m.server.host}/${m.database.name} (PostgreSQL ${m.server.version}), snapshot at ${m.createdAt}`,
      `  tables:   ${describeTables(m.rowCounts.tables.length, configurationTables(m.rowCounts.tables))}, rows ${rows}${m.rowCounts.exact ? "" : " (approximate: see manifest note)"}`,
      `  sha256:   ${m.dump.sha256}`,
      `  took:     ${r.seconds.toFixed(1)}s`,
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}
