/**
 * A restore drill's checks, as the data tool reports them and the runner collects them: one JSON
 * object per line on stdout (`--json`), each naming its check and its outcome. Lines that are
 * not check lines (progress, human text) are ignored by the reader, so logs can be mixed.
 *
 * No Pulumi here: both sides of the Job boundary read this.
 */
import { DATA_TOOL_ENV, Options } from "./data-tool";

/** The scratch database the storage restore goes into, on the drill server. */
export const DRILL_SCRATCH_DATABASE = "pgr_drill_restore";

/**
 * The drill's two data tool runs, as its Jobs run them (and the real-PostgreSQL rehearsal):
 * live (the app's URL) against the drill server at the restore target; the newest complete
 * backup into the scratch database on the drill server. Never a host other than the drill's is
 * written: the restore's host and database are always replaced.
 */
export function drillInvocations<S>(a: { drillHost: S; restoreTarget: S }): {
  verify: { command: "verify"; options: Options<"verify", S | string> };
  restore: { command: "restore"; options: Options<"restore", S | string> };
} {
  const db = DATA_TOOL_ENV.databaseUrl;
  return {
    verify: {
      command: "verify",
      options: {
        sourceEnv: db,
        targetEnv: db,
        targetHost: a.drillHost,
        restoreTarget: a.restoreTarget,
        drill: true,
        json: true,
      },
    },
    restore: {
      command: "restore",
      options: {
        latest: true,
        dbEnv: db,
        dbHost: a.drillHost,
        dbName: DRILL_SCRATCH_DATABASE,
        json: true,
      },
    },
  };
}

/** `passed` and `failed` decide the drill; `reported` is information (e.g. a table with no time column). */
export type CheckOutcome = "passed" | "failed" | "reported";

export interface DrillCheck {
  /** Marks a line as a check line, and its version. */
  drillCheck: 1;
  /** e.g. `schema`, `rows public.courses`, `recency`, `restore-latest`. */
  check: string;
  outcome: CheckOutcome;
  /** One sentence a person reads in the record. */
  detail: string;
  /** Figures the record uses (times as RFC 3339 UTC, durations in seconds, counts). */
  figures?: Record<string, string | number | boolean | null>;
}

export function checkLine(
  check: string,
  outcome: CheckOutcome,
  detail: string,
  figures?: DrillCheck["figures"],
): string {
  const line: DrillCheck = { drillCheck: 1, check, outcome, detail };
  if (figures) line.figures = figures;
  return JSON.stringify(line);
}

/** The check lines of a log (any prefix such as a `[container]` tag before the `{` is allowed). */
export function parseCheckLines(text: string): DrillCheck[] {
  const out: DrillCheck[] = [];
  for (const raw of text.split("\n")) {
    const at = raw.indexOf('{"drillCheck":');
    if (at < 0) continue;
    try {
      const v = JSON.parse(raw.slice(at)) as Partial<DrillCheck>;
      if (
        v.drillCheck === 1 &&
        typeof v.check === "string" &&
        (v.outcome === "passed" || v.outcome === "failed" || v.outcome === "reported") &&
        typeof v.detail === "string"
      ) {
        out.push(v as DrillCheck);
      }
    } catch {
      // A cut or garbled line is not a check; the runner reports missing checks itself.
    }
  }
  return out;
}
