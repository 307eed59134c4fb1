/**
 * The runner's journal: what happened, when, and who did it, one JSON line per event.
 *
 * Where it lives, and why: `~/.pg-recovery/<stack>/journal.jsonl` (`PG_RECOVERY_HOME` moves
 * `~/.pg-recovery`). The stack's config cannot hold it (the config door refuses unknown
 * `pg-recovery:` keys, and a config change would be a diff of the stack file), and stack tags are
 * short strings some backends don't keep. The backend's own update history already holds every
 * change the runner makes, on any backend and from any machine (each update's message names the
 * runner command, who ran it and the times it was given); this journal adds what the engine never
 * sees: confirmations, refusals, preview summaries, job outcomes and reports. Each event is
 * appended and flushed before the runner goes on, so a lost terminal loses at most the step in
 * flight, and a rerun reads where things are from the stack itself, not from here.
 *
 * An incident is the run of events from a `start` after the previous `finish`/`abort`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { redact } from "./redact";
import { Who } from "./who";

export interface JournalEvent {
  /** RFC 3339 UTC. */
  at: string;
  stack: string;
  /** The runner command (start, promote, ...). */
  command: string;
  /**
   * command: a command began; config: config changed; preview: a summary was shown; confirmed /
   * refused; update: an update or destroy ended; failed: it did not; job: a job's outcome;
   * report: a job's report text; app-back: the app's replicas were restored; finished / aborted.
   */
  kind: string;
  text: string;
  data?: Record<string, unknown>;
  who?: Who;
}

export const CLOSING_KINDS = ["finished", "aborted"];

export function journalHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PG_RECOVERY_HOME ?? path.join(os.homedir(), ".pg-recovery");
}

export class Journal {
  readonly file: string;

  constructor(
    readonly stack: string,
    home: string = journalHome(),
  ) {
    if (!/^[A-Za-z0-9._-]+$/.test(stack)) throw new Error(`invalid stack name "${stack}"`);
    this.file = path.join(home, stack, "journal.jsonl");
  }

  append(event: Omit<JournalEvent, "at" | "stack"> & { at?: string }): JournalEvent {
    // Masked on the way in: the journal is a file in the operator's home, copied into records.
    const full: JournalEvent = redact({
      at: new Date().toISOString(),
      stack: this.stack,
      ...event,
    });
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // After a torn last line (a runner killed mid-write), start a new line: the event must not
    // be glued to the fragment and skipped with it.
    const lead = endsTorn(this.file) ? "\n" : "";
    const fd = fs.openSync(this.file, "a", 0o600);
    try {
      fs.writeSync(fd, `${lead}${JSON.stringify(full)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return full;
  }

  /** Every event; a torn last line (the runner killed mid-write) is skipped. */
  read(): JournalEvent[] {
    if (!fs.existsSync(this.file)) return [];
    const events: JournalEvent[] = [];
    for (const line of fs.readFileSync(this.file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as JournalEvent);
      } catch {
        // A partial line from a killed process: everything before it is intact.
      }
    }
    return events;
  }

  /** The latest incident's events: from its first `start` to its finish/abort (or now). */
  latestIncident(): JournalEvent[] {
    return latestIncident(this.read());
  }
}

/** The file exists, is not empty, and its last byte is not a newline. */
function endsTorn(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return false;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

export function latestIncident(events: JournalEvent[]): JournalEvent[] {
  // The incident ends at the last closing event; if events follow it, a new one has begun.
  let end = events.length;
  let lastClose = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (CLOSING_KINDS.includes(events[i].kind)) {
      lastClose = i;
      break;
    }
  }
  let start = 0;
  if (lastClose >= 0) {
    const after = events.slice(lastClose + 1);
    if (after.some((e) => e.kind === "command" && e.command === "start")) {
      start = lastClose + 1;
    } else {
      end = lastClose + 1;
      // Back to the end of the incident before this one.
      let prevClose = -1;
      for (let i = lastClose - 1; i >= 0; i--) {
        if (CLOSING_KINDS.includes(events[i].kind)) {
          prevClose = i;
          break;
        }
      }
      start = prevClose + 1;
    }
  }
  const slice = events.slice(start, end);
  // Commands that only looked (status, finish twice) before the first start are not the incident.
  const first = slice.findIndex((e) => e.kind === "command" && e.command === "start");
  return first > 0 ? slice.slice(first) : slice;
}

/** The closing event of the latest incident, if it is closed. */
export function closedBy(events: JournalEvent[]): JournalEvent | undefined {
  const last = latestIncident(events);
  const close = [...last].reverse().find((e) => CLOSING_KINDS.includes(e.kind));
  return close;
}
