/** `verify`: the command line around verify/verify.ts; exit 1 when the databases differ. */
import { EXIT, Options, UsageError } from "../../contract/data-tool";
import { EndpointSpec } from "../verify/connect";
import { formatDrillChecks, verifyDrill } from "../verify/drill";
import { formatJson, formatReport } from "../verify/report";
import { verifyDatabases } from "../verify/verify";
import { Io, logTo } from "./io";

/** Connections per side when --jobs is not given. */
const DEFAULT_JOBS = 2;

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
