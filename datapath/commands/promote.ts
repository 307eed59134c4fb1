/** `promote`: the command line around promote/promote.ts. */
import { EXIT, Options } from "../../contract/data-tool";
import { formatBytes } from "../progress";
import { promote } from "../promote/promote";
import { formatApplied, formatPlan, planJson } from "../promote/report";
import { Io, logTo } from "./io";
import { CommandHelp } from "./help";

export const promoteHelp: CommandHelp<"promote"> = {
  summary: "copy the point-in-time restore into live: whole, tables or merge",
  usage:
    "--restore-target TIME (--plan [--mode M] | --mode whole|tables|merge --confirm SERVER/DATABASE)" +
    " [--tables SCHEMA.TABLE,...] [--from-env VAR] [--from-host HOST] [--from-name DB] [--to-env VAR]" +
    " [--to-host HOST] [--to-name DB] [--incident NAME] [--jobs N] [--json]",
  options: {
    fromEnv: "the variable holding the PTR server's URL (default DATABASE_URL)",
    fromHost: "replaces that URL's host: the PTR server's FQDN",
    fromName: "replaces that URL's database",
    toEnv: "the variable holding live's URL (default DATABASE_URL)",
    toHost: "replaces live's host",
    toName: "replaces live's database",
    restoreTarget: "T, the time the PTR server was restored to (RFC 3339 with an offset)",
    mode:
      "whole: live becomes the PTR database; tables: only the named tables go back to T;" +
      " merge: only the named tables' rows deleted since T are re-inserted",
    tables:
      "the damaged tables, schema.table (comma-separated, or the flag repeated), as the plan and \\dt" +
      ' print them (public.__EFMigrationsHistory) or quoted (public."__EFMigrationsHistory");' +
      " docs/promotion-refusals.md",
    plan: "write nothing: what each mode would write and lose, per table",
    confirm:
      "live's SERVER/DATABASE exactly (SERVER: the host's first DNS label); every mode needs it",
    incident: "names the schema keeping replaced rows, pgr_<incident>_replaced (default: T)",
    jobs: "tables copied at a time (default 2)",
    json: "the plan or the result as JSON",
  },
  notes: `Run --plan first and choose the mode from it (docs/promotion.md). tables and merge write in
one transaction and refuse, before writing, what would break a foreign key outside the set;
whole keeps the old database as <db>_pre_promote_<tag>.`,
  examples: [
    "pg-recovery-data promote --from-host s189p01-ptt-pd-pg-ptr.postgres.database.azure.com --restore-target 2024-07-24T05:59:00Z --plan --tables public.courses",
    "pg-recovery-data promote --from-host s189p01-ptt-pd-pg-ptr.postgres.database.azure.com --restore-target 2024-07-24T05:59:00Z --mode merge --tables public.courses --confirm s189p01-ptt-pd-pg/ptt_production",
  ],
};

export async function promoteCommand(o: Options<"promote">, io: Io): Promise<number> {
  const outcome = await promote({
    from: { env: o.fromEnv, host: o.fromHost, database: o.fromName },
    to: { env: o.toEnv, host: o.toHost, database: o.toName },
    restoreTarget: o.restoreTarget,
    mode: o.mode,
    tables: o.tables,
    plan: o.plan === true,
    confirm: o.confirm,
    incident: o.incident,
    jobs: o.jobs,
    env: io.env,
    log: logTo(io),
  });
  if (outcome.kind === "plan") {
    io.out(o.json ? planJson(outcome.plan) : formatPlan(outcome.plan));
    return EXIT.ok;
  }
  if (outcome.kind === "applied") {
    io.out(
      o.json
        ? `${JSON.stringify({ ...outcome.result, target: outcome.target, seconds: outcome.seconds }, null, 2)}\n`
        : formatApplied(outcome.result, outcome.target, outcome.seconds),
    );
    return EXIT.ok;
  }
  const r = outcome.result;
  const t = r.timings;
  io.out(
    o.json
      ? `${JSON.stringify({ mode: "whole", ...r, target: outcome.target, seconds: outcome.seconds }, null, 2)}\n`
      : [
          `promote --mode whole into ${outcome.target}: complete`,
          `  copied:   ${r.tables} tables, ${r.rows} rows (${formatBytes(r.bytes)} at T) straight from the PTR server; row counts match`,
          r.keptDatabase
            ? `  kept:     the previous database is now ${r.keptDatabase} (drop it after the incident review)`
            : `  kept:     nothing (${r.database} did not exist before)`,
          `  took:     ${outcome.seconds.toFixed(1)}s (schema ${t.schema.toFixed(1)}s, rows with the big tables' indexes ${t.copy.toFixed(1)}s, other indexes and constraints ${t.postData.toFixed(1)}s, checks ${t.verify.toFixed(1)}s, swap ${t.swap.toFixed(1)}s)`,
          "",
        ].join("\n"),
  );
  return EXIT.ok;
}
