/** `verify`: the command line around verify/verify.ts; exit 1 when the databases differ. */
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { EndpointSpec } from "../verify/connect";
import { formatDrillChecks, verifyDrill } from "../verify/drill";
import { formatJson, formatReport } from "../verify/report";
import { verifyDatabases } from "../verify/verify";
import { Io, logTo } from "./io";
import { CommandHelp } from "./help";

/** Connections per side when --jobs is not given. */
const DEFAULT_JOBS = 2;

export const verifyHelp: CommandHelp<"verify"> = {
  summary: "compare two databases read-only; exit 1 on any difference",
  usage:
    "[--source URL | --source-env VAR] [--source-host HOST] [--source-name DB]" +
    " [--target URL | --target-env VAR] [--target-host HOST] [--target-name DB]" +
    " [--restore-target TIME [--drill]] [--schema S,...] [--jobs N] [--json]",
  options: {
    sourceUrl: "the reference database's URL itself (e.g. live), instead of a variable",
    sourceEnv: "the variable holding the reference's URL (default DATABASE_URL)",
    sourceHost: "replaces the reference URL's host",
    sourceName: "replaces the reference URL's database",
    targetUrl: "the candidate database's URL itself (e.g. the PTR server), instead of a variable",
    targetEnv: "the variable holding the candidate's URL (default DATABASE_URL)",
    targetHost: "replaces the candidate URL's host, e.g. the PTR server's FQDN",
    targetName: "replaces the candidate URL's database",
    restoreTarget:
      "the restore point, RFC 3339 with an offset: rows created or updated after it are flagged",
    drill:
      "a restore drill (with --restore-target): the target is live restored at that time, so rows" +
      " live wrote later are expected and counted; a row live wrote up to it that the target lacks" +
      " fails its table; a table with no write-time column is reported with its counts",
    schema: "compare only these schemas (comma-separated, or the flag repeated)",
    jobs: `connections per side (default ${DEFAULT_JOBS}, at most 8)`,
    json: "the report as JSON",
  },
  notes: `Each side is read in one snapshot: schema (tables to privileges), row counts, a content hash
per table, sequence positions, the newest created_at/updated_at per table.`,
  examples: [
    "pg-recovery-data verify --target-host s189p01-ptt-pd-pg-ptr.postgres.database.azure.com --restore-target 2024-07-24T05:59:00Z",
    "pg-recovery-data verify --target-name ptt_production_copy --json",
  ],
};

export async function verifyCommand(o: Options<"verify">, io: Io): Promise<number> {
  const side = (label: "source" | "target"): EndpointSpec => {
    const [url, env, host, database] =
      label === "source"
        ? [o.sourceUrl, o.sourceEnv, o.sourceHost, o.sourceName]
        : [o.targetUrl, o.targetEnv, o.targetHost, o.targetName];
    if (url !== undefined && env !== undefined) {
      throw new UsageError(`give --${label} or --${label}-env, not both`);
    }
    return { url, env, host, database };
  };
  if (o.drill) {
    if (o.restoreTarget === undefined) {
      throw new UsageError(
        "--drill needs --restore-target: the instant the drill server was restored to",
      );
    }
    const checks = await verifyDrill({
      source: side("source"),
      target: side("target"),
      restoreTarget: o.restoreTarget,
      schemas: o.schema,
      env: io.env,
      progress: logTo(io),
    });
    io.out(formatDrillChecks(checks, o.json === true));
    return checks.some((c) => c.outcome === "failed") ? EXIT.failed : EXIT.ok;
  }
  const report = await verifyDatabases({
    source: side("source"),
    target: side("target"),
    restoreTarget: o.restoreTarget,
    schemas: o.schema,
    jobs: o.jobs ?? DEFAULT_JOBS,
    env: io.env,
    progress: logTo(io),
  });
  io.out(o.json ? formatJson(report) : formatReport(report));
  return report.identical ? EXIT.ok : EXIT.failed;
}
