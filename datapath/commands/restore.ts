/** `restore`: the command line around restore/restore.ts. */
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { describeTables } from "../postgres/tables";
import { restore } from "../restore/restore";
import { backupNameFlag, Io, logTo } from "./io";

export async function restoreCommand(o: Options<"restore">, io: Io): Promise<number> {
  if ((o.name === undefined) === (o.latest !== true)) {
    throw new UsageError("restore needs exactly one of --name NAME or --latest");
  }
  const r = await restore({
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
