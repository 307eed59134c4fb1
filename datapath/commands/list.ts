/** `list`: every backup in the container, newest first, as a table or JSON. */
import { EXIT, Options } from "../../contract/data-tool";
import { formatBytes } from "../progress";
import { openStorage, probeStorage } from "../storage/blobs";
import { BackupEntry, catalog } from "../storage/catalog";
import { Io, logTo } from "./io";
import { CommandHelp } from "./help";

export const listHelp: CommandHelp<"list"> = {
  summary: "list the backups in the container, newest first",
  usage: "[--container C] [--json]",
  options: {
    container: "the blob container (default $BACKUP_CONTAINER, else database-backup)",
    json: "one JSON object per backup instead of the table",
  },
  notes: `complete: dump and manifest; incomplete: a dump without manifest; legacy: the nightly .sql.gz;
invalid: a blob that is neither.`,
  examples: ["pg-recovery-data list", "pg-recovery-data list --container database-backup --json"],
};

export async function listCommand(o: Options<"list">, io: Io): Promise<number> {
  const storage = openStorage({ container: o.container, log: logTo(io) }, io.env);
  await probeStorage(storage, logTo(io));
  const entries = await catalog(storage);
  io.out(
    o.json
      ? `${JSON.stringify(entries.map(toJson), null, 2)}\n`
      : formatList(entries, storage.where),
  );
  return EXIT.ok;
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
