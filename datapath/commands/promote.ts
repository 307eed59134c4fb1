/** `promote`: the command line around promote/promote.ts. */
import { EXIT, Options } from "../../contract/data-tool";
import { formatBytes } from "../progress";
import { promote } from "../promote/promote";
import { formatApplied, formatPlan, planJson } from "../promote/report";
import { Io, logTo } from "./io";

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
