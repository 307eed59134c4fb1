/**
 * Where an incident stands, read from the stack itself (config, resources, outputs, the backend's
 * update history), the journal of this machine, and the cluster's Jobs. `status` prints it;
 * `record` writes it down. Read-only.
 */
import { JOBS, RUNBOOK, runbookStepOf, shortType } from "../contract/runbook";
import { formatLondon } from "../contract/time";
import { INCIDENT_KEYS, key, scenarioOf, valueOf } from "./door";
import { ConfigMap, DeployedResource, HistoryEntry, isChange, OutputMap } from "./engine";
import { Cluster, describeJob, jobRefs, JobStatus } from "./jobs";
import { CLOSING_KINDS, JournalEvent, latestIncident } from "./journal";
import { adoptable, appliedScenario, lastApplied, Session } from "./session";
import { clusterFromConfig } from "./steps";

export interface TimelineEntry {
  at: string;
  utc: string;
  london: string;
  who?: string;
  event: string;
  source: "journal" | "history";
}

export interface Gathered {
  stack: string;
  backend: string;
  journalFile: string;
  config: ConfigMap;
  scenario: string;
  /** The scenario the resources were last converged to. */
  appliedScenario: string;
  /** Incident keys whose value differs from the last successful update's. */
  pending: string[];
  resources: DeployedResource[];
  outputs: OutputMap;
  history: HistoryEntry[];
  /** The latest incident's journal events. */
  journal: JournalEvent[];
  jobs: JobStatus[];
  notes: string[];
}

export async function gather(s: Session): Promise<Gathered> {
  const notes: string[] = [];
  const resources = await s.stack.resources();
  const history = await s.stack.history();
  const local = await s.stack.config();
  // A fresh checkout mid-incident: read the incident as the stack last applied it.
  const taken = adoptable(local, history);
  const config = { ...local, ...taken };
  if (Object.keys(taken).length) {
    notes.push(
      `this checkout's stack file has no incident config; shown as the stack's last update applied it`,
    );
  }
  const outputs = resources.length ? await s.stack.outputs() : {};
  const journal = latestIncident(s.journal.read());
  const last = lastApplied(history);
  const pending =
    last && last.kind === "update"
      ? INCIDENT_KEYS.map(key).filter((k) => last.config[k]?.value !== config[k]?.value)
      : INCIDENT_KEYS.map(key).filter((k) => config[k] !== undefined);

  // Jobs: the cluster's word for the ones still there, the journal's for the ones gone.
  const jobs = new Map<string, JobStatus>();
  for (const e of journal) {
    if (e.kind === "job" && e.data?.name)
      jobs.set(String(e.data.name), e.data as unknown as JobStatus);
  }
  const refs = jobRefs(resources);
  if (refs.length) {
    let cluster: Cluster | undefined;
    try {
      cluster = clusterFromConfig(s, config);
    } catch {
      cluster = undefined;
    }
    for (const ref of refs) {
      try {
        if (cluster) jobs.set(ref.name, await cluster.job(ref));
      } catch (e) {
        notes.push(`Job ${ref.name}: could not read it from the cluster (${(e as Error).message})`);
      }
    }
    if (!cluster) notes.push("the cluster could not be reached: Job states are the journal's");
  }
  if (journal.length === 0) {
    notes.push(
      `no journal on this machine (${s.journal.file}): confirmations, job outcomes and reports ` +
        `are journaled where the commands ran; the timeline below is the backend's update history`,
    );
  }
  return {
    stack: s.stack.name,
    backend: s.engine.describe(),
    journalFile: s.journal.file,
    config,
    scenario: scenarioOf(config),
    appliedScenario: appliedScenario(history),
    pending: scenarioOf(config) === "none" && !resources.length ? [] : pending,
    resources,
    outputs,
    history,
    journal,
    jobs: [...jobs.values()],
    notes,
  };
}

/** The history entries of the latest incident (newest last). */
export function incidentHistory(g: Gathered): HistoryEntry[] {
  const chronological = [...g.history].reverse();
  if (g.journal.length) {
    const from = Date.parse(g.journal[0].at) - 60_000;
    const closing = g.journal.find((e) => CLOSING_KINDS.includes(e.kind));
    const to = closing ? Date.parse(closing.at) + 60_000 : Infinity;
    return chronological.filter((h) => {
      const t = Date.parse(h.startTime);
      return t >= from && t <= to;
    });
  }
  // No journal: back to the previous revert by the runner.
  let start = 0;
  for (let i = chronological.length - 1; i >= 0; i--) {
    const m = chronological[i].message;
    if (/^pg-recovery start\b/.test(m)) {
      start = i;
      while (start > 0 && !/^pg-recovery (finish|abort)\b/.test(chronological[start - 1].message))
        start--;
      break;
    }
  }
  return chronological.slice(start);
}

const whoOfMessage = (m: string) => /; by (.+)$/.exec(m)?.[1];

function stamp(at: string): { utc: string; london: string } {
  const d = new Date(at);
  return { utc: d.toISOString().replace(/\.\d{3}Z$/, "Z"), london: formatLondon(d) };
}

/** What happened, in order: the journal's events and the engine's updates (deduplicated). */
export function timeline(g: Gathered): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const journalUpdates: { from: number; to: number }[] = [];
  for (const e of g.journal) {
    const text = journalLine(e);
    if (!text) continue;
    if (e.kind === "update" && e.data?.startedAt) {
      journalUpdates.push({
        from: Date.parse(String(e.data.startedAt)) - 5000,
        to: Date.parse(String(e.data.endedAt ?? e.at)) + 5000,
      });
    }
    entries.push({ at: e.at, ...stamp(e.at), who: e.who?.name, event: text, source: "journal" });
  }
  for (const h of incidentHistory(g)) {
    const t = Date.parse(h.startTime);
    if (journalUpdates.some((u) => t >= u.from && t <= u.to)) continue;
    const at = h.endTime ?? h.startTime;
    const what = h.message || "(no message: run by hand)";
    entries.push({
      at,
      ...stamp(at),
      who: whoOfMessage(h.message) ?? "unknown (the backend records no user)",
      event: `pulumi ${h.kind} ${h.result}: ${what.replace(/; by .+$/, "")}${h.counts ? ` (${countsOf(h.counts)})` : ""}`,
      source: "history",
    });
  }
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

const countsOf = (c: Record<string, number>) =>
  Object.entries(c)
    .filter(([op, n]) => n > 0 && isChange(op))
    .map(([op, n]) => `${n} ${op}`)
    .join(", ") || "no changes";

function journalLine(e: JournalEvent): string | undefined {
  switch (e.kind) {
    case "command":
      return (
        `pg-recovery ${e.text}${e.data?.dryRun ? " --dry-run" : ""}` +
        `${e.data?.noticedAt ? ` (noticed ${e.data.noticedAt}, as typed)` : ""}`
      );
    case "preview": {
      const counts = (e.data?.counts ?? {}) as Record<string, number>;
      return `preview shown (${countsOf(counts)})`;
    }
    case "report":
      return undefined;
    case "outputs":
      return undefined;
    default:
      return e.text;
  }
}

/** Resources by runbook step, for status and the record. */
export function declaredBySteps(
  resources: DeployedResource[],
): { step: string; items: string[] }[] {
  const out: { step: string; items: string[] }[] = [];
  for (const step of RUNBOOK) {
    const mine = resources.filter(
      (r) => runbookStepOf(r.name)?.id === step.id && !r.type.includes(":index:"),
    );
    if (mine.length) {
      out.push({
        step: step.title,
        items: mine.map((r) => `${shortType(r.type)} ${r.kubernetes?.name ?? r.name}`),
      });
    }
  }
  const other = resources.filter(
    (r) => !runbookStepOf(r.name) && r.type.includes(":") && !r.type.includes(":index:"),
  );
  if (other.length)
    out.push({ step: "other", items: other.map((r) => `${shortType(r.type)} ${r.name}`) });
  return out;
}

/** The phase, and the command that comes next. */
export function nextStep(g: Gathered): { phase: string; next: string } {
  const st = g.stack;
  const closed = g.journal.find((e) => CLOSING_KINDS.includes(e.kind));
  if (g.resources.length === 0 && g.scenario === "none") {
    return closed
      ? { phase: `${closed.kind} at ${closed.at}`, next: `pg-recovery record --stack ${st}` }
      : {
          phase: "steady state: no incident",
          next: `pg-recovery start --stack ${st} --scenario corrupted --restore-time <time>`,
        };
  }
  const lastCommand = [...g.journal]
    .reverse()
    .find((e) => e.kind === "command")
    ?.text.split(" ")[0];
  if (g.pending.length) {
    return {
      phase: `config set but not applied (${g.pending.join(", ")})`,
      next: `rerun pg-recovery ${lastCommand ?? "start"} --stack ${st} to continue, or pg-recovery abort --stack ${st}`,
    };
  }
  const scaleDown = valueOf(g.config, "scaleDown") !== "false";
  const promoted = g.resources.some((r) => JOBS[r.name]?.role === "promotion");
  if (!scaleDown)
    return { phase: "app back, maintenance on", next: `pg-recovery finish --stack ${st}` };
  if (g.appliedScenario === "corrupted") {
    return promoted
      ? { phase: "promoted", next: `pg-recovery resume --stack ${st}` }
      : {
          phase: "started: restored and validated",
          next: `read the validation report, then pg-recovery promote --stack ${st} --mode <whole|tables|merge> --confirm <live server> (or pg-recovery resume --stack ${st})`,
        };
  }
  return { phase: `started (${g.appliedScenario})`, next: `pg-recovery resume --stack ${st}` };
}

export function jobLines(g: Gathered): string[] {
  return g.jobs.map(describeJob);
}
