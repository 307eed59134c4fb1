/** `backup`: the command line around backup/backup.ts. */
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { backup } from "../backup/backup";
import { describeStoredDump } from "../backup/compression";
import { configurationTables, describeTables } from "../postgres/tables";
import { formatBytes } from "../progress";
import { backupNameFlag, Io, logTo } from "./io";

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
