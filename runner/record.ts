/**
 * `record`: the incident record, as Markdown (to read and paste into the review) and JSON (to
 * keep): a timeline of every step with UTC and Europe/London times, who ran each command, the
 * incident's config, the preview summaries, the outputs, the Jobs' outcomes and reports, the
 * backups written, the servers kept, RPO and RTO.
 *
 * Never a secret: its sources hold none (see automation.ts and journal.ts), and the whole record
 * passes through redact() again before it is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { formatLondon, parseRfc3339 } from "../contract/time";
import { key, scenarioOf } from "./door";
import { ConfigMap } from "./engine";
import { Gathered, gather, incidentHistory, timeline, TimelineEntry } from "./facts";
import { describeJob, JobStatus, ROLE_TITLES } from "./jobs";
import { CLOSING_KINDS, JournalEvent } from "./journal";
import { redact, redactText } from "./redact";
import { serversKept } from "./revert";
import { Session } from "./session";
import { Who } from "./who";

export interface Moment {
  utc: string;
  london: string;
}

export interface IncidentRecord {
  title: string;
  stack: string;
  backend: string;
  generatedAt: Moment;
  generatedBy: Who;
  scenario: string;
  incidentDate?: string;
  state: "open" | "finished" | "aborted";
  restoreTarget?: Moment;
  noticedAt?: Moment & { asTyped: string };
  firstCommand?: Moment;
  appBack?: Moment;
  closed?: Moment & { kind: string };
  rpo: string;
  rto: string;
  people: (Who & { commands: string[] })[];
  timeline: TimelineEntry[];
  config: Record<string, string>;
  environment: Record<string, string | undefined>;
  previews: { at: Moment; command: string; lines: string[]; warnings: string[] }[];
  outputs: Record<string, unknown>;
  jobs: (JobStatus & { title: string; summary: string })[];
  reports: { title: string; job: string; text?: string; unavailable?: string }[];
  backups: { name: string; what: string; state: string }[];
  serversKept: string[];
  gaps: string[];
}

const moment = (at: string | Date): Moment => {
  const d = new Date(at);
  return { utc: d.toISOString().replace(/\.\d{3}Z$/, "Z"), london: formatLondon(d) };
};

export function durationText(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts = h ? [`${h}h`, `${String(m).padStart(2, "0")}m`] : m ? [`${m}m`] : [];
  return `${ms < 0 ? "-" : ""}${[...parts, `${String(sec).padStart(parts.length ? 2 : 1, "0")}s`].join(" ")}`;
}

const toDate = (text: string | undefined): Date | undefined => {
  if (!text) return undefined;
  try {
    return new Date(Number(parseRfc3339(text).epochMicros / 1000n));
  } catch {
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
};

/** The incident's config as last applied (or as it stands, while open). */
function incidentConfig(g: Gathered): ConfigMap {
  if (scenarioOf(g.config) !== "none") return g.config;
  const applied = incidentHistory(g)
    .filter((h) => h.kind === "update" && scenarioOf(h.config) !== "none")
    .pop();
  return applied?.config ?? g.config;
}

export function buildRecord(g: Gathered, now: Date, by: Who): IncidentRecord {
  const config = incidentConfig(g);
  const get = (k: string) => config[key(k)]?.value;
  const scenario = scenarioOf(config);
  const incidentDate = get("incidentDate");
  const events = g.journal;
  const at = momentsOf(g, get("restoreTime"));
  const gaps = [...g.notes];
  const outputs = outputsOf(g);
  const jobs = g.jobs.map((j) => ({
    ...j,
    title: ROLE_TITLES[j.role] ?? j.role,
    summary: describeJob(j),
  }));
  if (jobs.length === 0 && scenario !== "none") {
    gaps.push(
      "no Job outcomes known: they are journaled where start/promote ran, and the Jobs are gone after finish",
    );
  }
  const outputMap = Object.fromEntries(
    Object.entries(outputs).map(([k, v]) => [k, { value: v, secret: false }]),
  );
  const keptFromClose = at.closing?.data?.kept as string[] | undefined;

  const record: IncidentRecord = {
    title: `Incident record: ${g.stack}${incidentDate ? `, ${incidentDate}` : ""} (${scenario})`,
    stack: g.stack,
    backend: g.backend,
    generatedAt: moment(now),
    generatedBy: by,
    scenario,
    incidentDate,
    state: at.closedKind === "aborted" ? "aborted" : at.closedKind ? "finished" : "open",
    restoreTarget: at.restore ? moment(at.restore) : undefined,
    noticedAt: at.noticed && at.typed ? { ...moment(at.noticed), asTyped: at.typed } : undefined,
    firstCommand: at.firstAt ? moment(at.firstAt) : undefined,
    appBack: at.appBackAt ? moment(at.appBackAt) : undefined,
    closed:
      at.closedAt && at.closedKind ? { ...moment(at.closedAt), kind: at.closedKind } : undefined,
    rpo: recoveryPoint(scenario, get, at),
    rto: recoveryTime(at),
    people: peopleOf(g),
    timeline: timeline(g),
    config: Object.fromEntries(
      Object.entries(config)
        .filter(([k]) => k !== key("environment"))
        .map(([k, v]) => [k, v.secret ? "[secret]" : v.value]),
    ),
    environment: environmentOf(config),
    previews: events
      .filter((e) => e.kind === "preview")
      .map((e) => ({
        at: moment(e.at),
        command: e.command,
        lines: (e.data?.lines as string[] | undefined) ?? [],
        warnings: (e.data?.warnings as string[] | undefined) ?? [],
      })),
    outputs,
    jobs,
    reports: events
      .filter((e) => e.kind === "report")
      .map((e) => ({
        title: e.text,
        job: String(e.data?.job ?? ""),
        text: e.data?.text as string | undefined,
        unavailable: e.data?.unavailable as string | undefined,
      })),
    backups: backupsOf(g, outputs, jobs),
    serversKept: keptFromClose ?? serversKept(outputMap),
    gaps,
  };
  return redact(record);
}

/** The incident's moments, from the journal, else from the backend's update history. */
interface Moments {
  /** The time noticed, as the operator typed it. */
  typed?: string;
  noticed?: Date;
  restore?: Date;
  firstAt?: string;
  appBackAt?: string;
  closing?: JournalEvent;
  closedAt?: string;
  closedKind?: string;
}

function momentsOf(g: Gathered, restoreTime: string | undefined): Moments {
  const events = g.journal;
  const history = incidentHistory(g);
  const starts = events.filter((e) => e.kind === "command" && e.command === "start");
  const typed =
    (starts.find((e) => e.data?.noticedAt)?.data?.noticedAt as string | undefined) ??
    history.map((h) => /noticed (\S+) \(as typed\)/.exec(h.message)?.[1]).find(Boolean);
  const appBackAt =
    events.find((e) => e.kind === "app-back")?.at ??
    history.find((h) => /^pg-recovery resume\b/.test(h.message) && h.result === "succeeded")
      ?.endTime;
  const closing = events.find((e) => CLOSING_KINDS.includes(e.kind));
  const closingHistory = history.find(
    (h) => /^pg-recovery (finish|abort)\b/.test(h.message) && h.result === "succeeded",
  );
  const closedKind =
    closing?.kind ??
    (closingHistory
      ? /^pg-recovery abort/.test(closingHistory.message)
        ? "aborted"
        : "finished"
      : undefined);
  return {
    typed,
    noticed: toDate(typed),
    restore: toDate(restoreTime),
    firstAt: events[0]?.at ?? history[0]?.startTime,
    appBackAt,
    closing,
    closedAt: closing?.at ?? closingHistory?.endTime,
    closedKind,
  };
}

/** RPO: the writes the recovery gives up, in the scenario's terms. */
function recoveryPoint(
  scenario: string,
  get: (k: string) => string | undefined,
  at: Moments,
): string {
  const { restore, noticed, firstAt } = at;
  if (scenario === "corrupted") {
    const mode = get("promotionMode");
    const loss =
      mode === "whole"
        ? "promotion mode whole: every write in that window is lost"
        : mode === "tables"
          ? `promotion mode tables: the window's changes to ${get("promotionTables")} are lost, other tables keep theirs`
          : mode === "merge"
            ? `promotion mode merge: nothing is lost, rows deleted in ${get("promotionTables")} come back`
            : "no promotion mode was chosen";
    return restore && noticed
      ? `${durationText(noticed.getTime() - restore.getTime())}: from the restore target to when the corruption was noticed (as typed); ${loss}`
      : restore && firstAt
        ? `${durationText(Date.parse(firstAt) - restore.getTime())}: from the restore target to the first command (the time noticed was not typed: start --noticed-at); ${loss}`
        : "unknown: no restore target recorded";
  }
  if (scenario === "server-gone") {
    const deleted = toDate(get("serverDeletedAt"));
    return restore && deleted
      ? `none expected: the dropped server is revived at ${moment(restore).utc}, ${durationText(restore.getTime() - deleted.getTime())} after it was deleted (${moment(deleted).utc}), so every write before the deletion is kept`
      : "back to the latest complete backup: its name and time are in the restore-from-storage Job's log";
  }
  return "no incident recorded";
}

/** RTO: from the first command to the app back. */
function recoveryTime({ firstAt, appBackAt }: Moments): string {
  return firstAt && appBackAt
    ? `${durationText(Date.parse(appBackAt) - Date.parse(firstAt))}: from the first command to the app back`
    : firstAt
      ? "the app is not back yet"
      : "unknown";
}

/** One entry per distinct identity, with the commands each ran (the history's, if no journal). */
function peopleOf(g: Gathered): IncidentRecord["people"] {
  const people = new Map<string, Who & { commands: string[] }>();
  for (const e of g.journal.filter((x) => x.kind === "command" && x.who)) {
    const who = e.who!;
    const id = `${who.name}|${who.git ?? ""}|${who.cloud ?? ""}|${who.github ?? ""}`;
    const entry = people.get(id) ?? { ...who, commands: [] };
    if (!entry.commands.includes(e.command)) entry.commands.push(e.command);
    people.set(id, entry);
  }
  if (people.size === 0) {
    for (const h of incidentHistory(g)) {
      const name = /; by (.+)$/.exec(h.message)?.[1];
      const command = /^pg-recovery (\w+)/.exec(h.message)?.[1] ?? "pulumi";
      if (!name) continue;
      const entry = people.get(name) ?? { name, local: "unknown", commands: [] };
      if (!entry.commands.includes(command)) entry.commands.push(command);
      people.set(name, entry);
    }
  }
  return [...people.values()];
}

/** The stack's outputs, or the last ones journaled once the stack is back to none. */
function outputsOf(g: Gathered): Record<string, unknown> {
  if (Object.keys(g.outputs).length > 0) {
    return Object.fromEntries(Object.entries(g.outputs).map(([k, v]) => [k, v.value]));
  }
  const outputsEvent = [...g.journal]
    .reverse()
    .find((e) => e.kind === "outputs" || (e.kind === "update" && e.data?.outputs));
  return (outputsEvent?.data?.outputs as Record<string, unknown> | undefined) ?? {};
}

/** The backups the incident wrote, with the state of the Job that wrote each. */
function backupsOf(
  g: Gathered,
  outputs: Record<string, unknown>,
  jobs: JobStatus[],
): IncidentRecord["backups"] {
  const backups: IncidentRecord["backups"] = [];
  const stateOf = (role: string) => jobs.find((j) => j.role === role)?.state ?? "unknown";
  // Every update's outputs: a backup named by an earlier step (promote) is gone from later ones.
  const everyOutputs = [
    ...g.journal.map((e) => e.data?.outputs as Record<string, unknown> | undefined),
    outputs,
  ].filter((o): o is Record<string, unknown> => !!o);
  const adhoc = everyOutputs.map((o) => o.adhocBackup).find((b) => typeof b === "string");
  if (typeof adhoc === "string") {
    backups.push({
      name: adhoc,
      what: "ad-hoc backup of live (runbook corrupted 2)",
      state: stateOf("adhoc-backup"),
    });
  }
  const archival = everyOutputs
    .map(
      (o) => (o.promotion as { archivalBackup?: { backup?: string } } | undefined)?.archivalBackup,
    )
    .find((a) => a?.backup);
  if (archival?.backup) {
    backups.push({
      name: archival.backup,
      what: "archival backup of the PTR (runbook corrupted 5)",
      state: stateOf("promotion-archive"),
    });
  }
  return backups;
}

/** The environment's names the review needs, from the facts as configured (unvalidated). */
function environmentOf(config: ConfigMap): IncidentRecord["environment"] {
  let env: Record<string, unknown> = {};
  try {
    env = JSON.parse(config[key("environment")]?.value ?? "{}") as Record<string, unknown>;
  } catch {
    env = {};
  }
  const envAt = (...p: string[]) =>
    p.reduce<unknown>(
      (o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
      env,
    ) as string | undefined;
  return {
    name: envAt("name"),
    liveServer: envAt("azure", "server", "name"),
    database: envAt("azure", "server", "database"),
    resourceGroup: envAt("azure", "resourceGroup"),
    kubernetesContext: envAt("kubernetes", "context"),
    namespace: envAt("kubernetes", "namespace"),
    repository: envAt("github", "repository"),
  };
}

const cell = (v: unknown) =>
  String(v ?? "")
    .replace(/\|/g, "\\|")
    .replace(/\n/g, " ");
const when = (m?: Moment) => (m ? `${m.utc} (${m.london})` : "—");

export function renderMarkdown(r: IncidentRecord): string {
  const L: string[] = [];
  L.push(`# ${r.title}`, "");
  L.push(
    `Generated ${r.generatedAt.utc} (${r.generatedAt.london}) by ${r.generatedBy.name}, from the stack's ` +
      `update history (${r.backend}) and the runner's journal. No secrets: values under secret keys and ` +
      `credentials in text are masked as [secret].`,
    "",
  );
  L.push(...summarySection(r));
  L.push(...peopleSection(r));
  L.push("", "## Timeline", "", "| UTC | Europe/London | who | what |", "|---|---|---|---|");
  for (const t of r.timeline)
    L.push(`| ${t.utc} | ${cell(t.london)} | ${cell(t.who ?? "")} | ${cell(t.event)} |`);
  L.push("", "## Configuration", "", "| key | value |", "|---|---|");
  for (const [k, v] of Object.entries(r.config)) L.push(`| \`${k}\` | ${cell(v)} |`);
  L.push(
    "",
    `Environment facts: ${Object.entries(r.environment)
      .filter(([, v]) => v)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}.`,
  );
  L.push(...previewsSection(r));
  L.push(...jobsSection(r));
  L.push("", "## Backups written", "");
  if (r.backups.length === 0) L.push("None.");
  for (const b of r.backups) L.push(`- \`${b.name}\`: ${b.what}; its Job ${b.state}`);
  L.push("", "## Servers kept", "");
  if (r.serversKept.length === 0) L.push("None.");
  for (const s of r.serversKept) L.push(`- ${s}`);
  L.push(
    "",
    "## Outputs (as last known)",
    "",
    "```json",
    JSON.stringify(r.outputs, null, 2),
    "```",
  );
  if (r.gaps.length) {
    L.push("", "## Gaps", "");
    for (const gap of r.gaps) L.push(`- ${gap}`);
  }
  return redactText(`${L.join("\n")}\n`);
}

/** The summary table: state, scenario, the instants, RPO and RTO. */
function summarySection(r: IncidentRecord): string[] {
  const L: string[] = [];
  L.push("## Summary", "", "| | |", "|---|---|");
  const rows: [string, string][] = [
    ["state", r.state],
    ["scenario", r.scenario],
    ["incident date", r.incidentDate ?? "—"],
    [
      "environment",
      `${r.environment.name ?? r.stack} (live server ${r.environment.liveServer ?? "?"}, database ${r.environment.database ?? "?"})`,
    ],
    ["restore target", when(r.restoreTarget)],
    [
      "corruption noticed (as typed)",
      r.noticedAt ? `${r.noticedAt.asTyped} = ${when(r.noticedAt)}` : "not typed",
    ],
    ["first command", when(r.firstCommand)],
    ["app back", when(r.appBack)],
    [r.closed?.kind ?? "closed", when(r.closed)],
    ["RPO", r.rpo],
    ["RTO", r.rto],
  ];
  for (const [k, v] of rows) L.push(`| ${cell(k)} | ${cell(v)} |`);
  return L;
}

/** Who ran it: each person, their commands and identities. */
function peopleSection(r: IncidentRecord): string[] {
  const people = r.people.map((p) => {
    const ids = [
      p.git && `git ${p.git}`,
      p.cloud && `cloud ${p.cloud}`,
      p.github && `GitHub ${p.github}`,
      p.local && `local ${p.local}`,
    ]
      .filter(Boolean)
      .join("; ");
    return `- **${p.name}**: ${p.commands.join(", ")} (${ids})`;
  });
  return ["", "## Who ran it", "", ...(people.length ? people : ["Not recorded."])];
}

/** What each step was shown before it was confirmed. */
function previewsSection(r: IncidentRecord): string[] {
  const shown = r.previews.flatMap((p) => [
    `**${p.command}**, ${p.at.utc} (${p.at.london}):`,
    "",
    ...(p.lines.length ? p.lines : ["nothing to change"]).map((line) => `- ${line}`),
    ...p.warnings.map((w) => `- WARNING: ${w}`),
    "",
  ]);
  return [
    "",
    "## What each step was shown before it was confirmed",
    "",
    ...(shown.length ? shown : ["Not journaled on this machine."]),
  ];
}

/** The Jobs, their outcomes, and the reports they wrote. */
function jobsSection(r: IncidentRecord): string[] {
  const L: string[] = [];
  L.push("## Jobs", "");
  if (r.jobs.length === 0) L.push("None known.");
  else {
    L.push("| Job | what | outcome | started | finished |", "|---|---|---|---|---|");
    for (const j of r.jobs) {
      const exits = j.containers
        .map((c) => `${c.name} ${c.exitCode ?? c.reason ?? "?"}`)
        .join(", ");
      L.push(
        `| ${cell(j.name)} | ${cell(j.title)} | ${cell(`${j.state}${exits ? ` (${exits})` : ""}`)} | ${cell(j.startedAt ?? "")} | ${cell(j.finishedAt ?? "")} |`,
      );
    }
  }
  for (const rep of r.reports) {
    L.push("", `### ${rep.title} (Job ${rep.job})`, "");
    if (rep.text !== undefined) L.push("```", rep.text, "```");
    else L.push(`Not available: ${rep.unavailable}`);
  }
  return L;
}

export async function writeRecord(
  s: Session,
  outDir: string,
): Promise<{ markdown: string; json: string }> {
  const g = await gather(s);
  const record = buildRecord(g, s.io.now(), s.who);
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `pg-recovery-${g.stack}-${record.incidentDate ?? "no-incident"}`);
  const markdown = `${base}.md`;
  const json = `${base}.json`;
  fs.writeFileSync(markdown, renderMarkdown(record));
  fs.writeFileSync(json, `${JSON.stringify(record, null, 2)}\n`);
  return { markdown, json };
}
