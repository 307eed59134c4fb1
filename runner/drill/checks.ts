/**
 * The drill's evidence from its Jobs: the check lines each data tool run printed (`--json`, see
 * contract/drill-check.ts), and a failed check of the runner's own for a Job that reported
 * nothing or did not end well, so a silent Job can never pass a drill.
 */
import { DrillCheck, parseCheckLines } from "../../contract/drill-check";
import { Cluster, JobRole, JobStatus } from "../jobs";
import { redactText } from "../redact";

/** The drill's Jobs and the container each one's checks are printed by. */
export const DRILL_JOBS: Record<"drill-verify" | "drill-restore", string> = {
  "drill-verify": "verify",
  "drill-restore": "restore-latest",
};
export const DRILL_ROLES = Object.keys(DRILL_JOBS) as JobRole[];

export interface CollectedCheck extends DrillCheck {
  job: string;
  role: JobRole;
}

export async function collectChecks(
  cluster: Cluster,
  jobs: JobStatus[],
): Promise<CollectedCheck[]> {
  const out: CollectedCheck[] = [];
  for (const [role, container] of Object.entries(DRILL_JOBS) as [JobRole, string][]) {
    const job = jobs.find((j) => j.role === role);
    const own = (check: string, detail: string): CollectedCheck => ({
      drillCheck: 1,
      check,
      outcome: "failed",
      detail,
      job: job?.name ?? "(none)",
      role,
    });
    if (!job || job.state === "missing") {
      out.push(own(`${role}: job`, `the Job of this check is not in the cluster`));
      continue;
    }
    let text = "";
    try {
      text = await cluster.logs(job, container);
    } catch (e) {
      out.push(own(`${role}: log`, `its log could not be read: ${(e as Error).message}`));
      continue;
    }
    const checks = parseCheckLines(text).map((c) => ({
      ...c,
      detail: redactText(c.detail),
      job: job.name,
      role,
    }));
    out.push(...checks);
    if (checks.length === 0) {
      const tail = redactText(text.trim().split("\n").slice(-3).join(" | "));
      out.push(
        own(
          `${role}: report`,
          `Job ${job.name} ${job.state} without a check line${tail ? `; its log ends: ${tail}` : ""}`,
        ),
      );
    } else if (job.state !== "succeeded" && !checks.some((c) => c.outcome === "failed")) {
      out.push(
        own(`${role}: job`, `Job ${job.name} ${job.state}${job.message ? `: ${job.message}` : ""}`),
      );
    }
  }
  return out;
}

export const failedChecks = (checks: CollectedCheck[]) =>
  checks.filter((c) => c.outcome === "failed");

/** A figure of the first check with that name that has it. */
export function figure(
  checks: DrillCheck[],
  check: string,
  name: string,
): string | number | boolean | null | undefined {
  return checks.find((c) => c.check === check && c.figures && name in c.figures)?.figures?.[name];
}
