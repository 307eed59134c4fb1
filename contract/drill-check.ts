/**
 * A restore drill's checks, as the data tool reports them and the runner collects them: one JSON
 * object per line on stdout (`--json`), each naming its check and its outcome. Lines that are
 * not check lines (progress, human text) are ignored by the reader, so logs can be mixed.
 *
 * No Pulumi here: both sides of the Job boundary read this.
 */

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
