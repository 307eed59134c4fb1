/**
 * `pg-recovery drill --stack <env>`: the restore drill in one command. The door, a summary in
 * plain words (what is created, that live is only read, how long the drill server will run),
 * the typed confirmation, `up`, the checks' Jobs awaited, the evidence collected and written,
 * then `destroy --run-program` so nothing is left (`--keep` leaves the drill server). Resumable:
 * a rerun continues the drill the stack holds (same date and restore time) and ends it.
 *
 * Never during an incident: a stack whose config or last update is at another scenario is
 * refused before anything is written. Exit 0 only when every check passed and no target was
 * missed; 1 with the failed checks named.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isoDay } from "../../contract/backup-names";
import { formatLondon, formatUtc } from "../../contract/time";
import { DrillExercise, INCIDENT_ONLY_KEYS } from "../../stacks/incident";
import { DRILL_SCRATCH_DATABASE } from "../../components/drill-jobs";
import { STEPS } from "../../contract/runbook";
import { convergeStep, StepResult } from "../converge";
import {
  applyChange,
  ConfigChange,
  key,
  passDoor,
  sameInstant,
  scenarioOf,
  valueOf,
} from "../door";
import { ConfigMap } from "../engine";
import { Done, Refusal } from "../io";
import { drillGiven, type GivenTime } from "../preflight";
import { describeJob, JobStatus, jobRefs, waitForJobs } from "../jobs";
import { revert } from "../revert";
import { appliedScenario, Session } from "../session";
import { clusterFromConfig } from "../steps";
import { collectChecks, CollectedCheck, DRILL_ROLES, failedChecks } from "./checks";
import {
  archiveName,
  blobArchive,
  DrillArchive,
  drillPrefix,
  historySvg,
  historyTable,
  readHistory,
  rtoOf,
} from "./history";
import { buildDrillRecord, DrillRecord, durationText, renderDrillMarkdown } from "./record";

export interface DrillOptions {
  /** `--restore-time`, parsed at the edge; default ten minutes before now, to the minute. */
  restoreTime?: GivenTime;
  /** The drill's date (names derive from it); default today (UTC), or the running drill's. */
  date?: string;
  /** Leave the drill server for inspection (and say how to remove it). */
  keep?: boolean;
  yes?: string;
  dryRun?: boolean;
  /** Directory for the record (Markdown, JSON, SVG). */
  out: string;
  /** Print past drills and write the chart instead of running one. */
  history?: boolean;
  /** The drill archive of an environment (tests hand in their own). */
  archive?: (account: string, container: string) => DrillArchive;
}

/** Azure restores to a point that has already been backed up: a recent minute, not "now". */
export const DEFAULT_RESTORE_LAG_MS = 10 * 60_000;

export function defaultRestoreTime(now: Date): string {
  const t = new Date(Math.floor((now.getTime() - DEFAULT_RESTORE_LAG_MS) / 60_000) * 60_000);
  return formatUtc(t);
}

export async function drill(s: Session, o: DrillOptions): Promise<void> {
  if (o.history) return history(s, o);
  const stackName = s.stack.name;
  const config = await s.stack.config();
  const current = scenarioOf(config);
  const applied = appliedScenario(await s.stack.history());
  refuseDuringIncident(stackName, config, { config: current, "last update": applied });
  const continuing = current === "drill" || applied === "drill";
  const { restoreTime, date } = drillValues(s, o, config, continuing);
  const change = {
    set: { scenario: "drill", incidentDate: date, restoreTime },
    remove: INCIDENT_ONLY_KEYS.filter((k) => config[key(k)] !== undefined),
  };
  // The door first, on the config about to be set: a refusal has written nothing.
  const exercise = passDoor(applyChange(config, change), s.now, drillGiven(o)) as DrillExercise;
  const archive = archiveOf(exercise, o);
  s.io.out(await plainSummary(s, exercise, archive, continuing));
  s.note("command", `drill${continuing ? " (continuing)" : ""}`, {
    scenario: "drill",
    incidentDate: date,
    restoreTime,
    keep: o.keep,
    dryRun: o.dryRun,
  });

  const startedAt = s.io.now();
  const up = await upWatched(s, o, change, exercise, restoreTime);
  const jobs = await awaitChecks(s);
  const checks = await collectChecksOf(s, jobs);
  const record = drillRecordOf(s, exercise, { date, startedAt, up, jobs, checks });
  const files = await keepRecord(s, record, archive, o.out);
  s.note("drill-record", `drill ${record.outcome}`, { files, failures: record.failures });
  s.io.out(
    `\nDrill ${record.outcome.toUpperCase()} on ${stackName}. Record:\n  ${files.join("\n  ")}`,
  );

  await endDrill(s, o, exercise, up.step);
  if (record.outcome === "failed") {
    throw new Refusal(`Drill FAILED on ${stackName}:\n  - ${record.failures.join("\n  - ")}`);
  }
}

/**
 * Never during an incident: refuses when the stack's config or its last update (`where`) is at
 * a scenario other than none or drill, before anything is written.
 */
function refuseDuringIncident(
  stackName: string,
  config: ConfigMap,
  scenarios: Record<"config" | "last update", string>,
): void {
  for (const [where, scenario] of Object.entries(scenarios)) {
    if (scenario !== "none" && scenario !== "drill") {
      throw new Refusal(
        `an incident is in progress on ${stackName}: its ${where} is at scenario ${scenario} ` +
          `(incident date ${valueOf(config, "incidentDate") ?? "unset"}). A drill never runs during an ` +
          `incident: finish the incident first (pg-recovery status --stack ${stackName}), then drill. ` +
          `Nothing was changed.`,
      );
    }
  }
}

/**
 * The drill's restore time and date: a drill under way keeps its own (a rerun that names other
 * values is refused: it would be another drill); a new one takes the options, or the defaults.
 */
function drillValues(
  s: Session,
  o: DrillOptions,
  config: ConfigMap,
  continuing: boolean,
): { restoreTime: string; date: string } {
  const stackName = s.stack.name;
  const heldTime = continuing ? valueOf(config, "restoreTime") : undefined;
  const heldDate = continuing ? valueOf(config, "incidentDate") : undefined;
  const conflicts = [
    o.restoreTime && heldTime && !sameInstant(o.restoreTime.instant, heldTime)
      ? `--restore-time ${o.restoreTime.text} (the drill's is ${heldTime})`
      : undefined,
    o.date && heldDate && o.date !== heldDate
      ? `--date ${o.date} (the drill's is ${heldDate})`
      : undefined,
  ].filter(Boolean);
  if (conflicts.length) {
    throw new Refusal(
      `a drill is already under way on ${stackName} with other values: ${conflicts.join("; ")}. ` +
        `Rerun without them to finish it, or remove it first (pg-recovery abort --stack ${stackName}). ` +
        `Nothing was changed.`,
    );
  }
  const restoreTime = heldTime ?? o.restoreTime?.text ?? defaultRestoreTime(s.now);
  const date = heldDate ?? o.date ?? isoDay(s.now);
  return { restoreTime, date };
}

/** `up` for the drill, and the drill server's seconds as the engine's progress reported them. */
interface DrillUp {
  step: StepResult;
  /** Null when the drill server's line was not seen (nothing created, or an older engine). */
  serverSeconds: () => number | null;
}

/** Sets the drill's config and runs `up`, watching the engine's progress for the drill server. */
async function upWatched(
  s: Session,
  o: DrillOptions,
  change: ConfigChange,
  exercise: DrillExercise,
  restoreTime: string,
): Promise<DrillUp> {
  // The engine's progress names each resource as it is done, with its time: the drill server's
  // is the point-in-time restore's own duration (up's, when the line is not seen).
  let serverSeconds: number | null = null;
  const watched: Session = {
    ...s,
    io: {
      ...s.io,
      err: (line) => {
        serverSeconds = drillServerSeconds(line) ?? serverSeconds;
        s.io.err(line);
      },
    },
  };
  const step = await convergeStep(watched, {
    change,
    message: `pg-recovery drill: restore ${restoreTime} into ${exercise.drillServerName}; by ${s.who.name}`,
    heading: `What the drill will create on ${s.stack.name}:`,
    yes: o.yes,
    dryRun: o.dryRun,
  });
  return { step, serverSeconds: () => serverSeconds };
}

/** The drill's record from what this run saw: the exercise, `up`, the Jobs and their checks. */
function drillRecordOf(
  s: Session,
  exercise: DrillExercise,
  seen: {
    date: string;
    startedAt: Date;
    up: DrillUp;
    jobs: JobStatus[];
    checks: CollectedCheck[];
  },
): DrillRecord {
  return buildDrillRecord({
    stack: s.stack.name,
    environment: exercise.env.name,
    date: seen.date,
    startedAt: seen.startedAt,
    endedAt: s.io.now(),
    by: s.who,
    restoreTime: formatUtc(exercise.restoreTime),
    reachedUtc: reachedOf(seen.up.step),
    liveServer: exercise.env.azure.server.name,
    database: exercise.env.azure.server.database,
    drillServer: exercise.drillServerName,
    scratchDatabase: DRILL_SCRATCH_DATABASE,
    jobs: seen.jobs.map((j) => ({ ...j })),
    upSeconds: seen.up.serverSeconds() ?? upSeconds(s, seen.up.step),
    runnerVersion: runnerVersion(),
    dataToolImage: exercise.env.dataTool.image,
    targets: exercise.env.recoveryTargets,
    checks: seen.checks,
  });
}

/** The drill's end: `--keep` leaves the drill server (and says what it costs); else `finish`. */
async function endDrill(
  s: Session,
  o: DrillOptions,
  exercise: DrillExercise,
  step: StepResult,
): Promise<void> {
  if (o.keep) {
    s.io.out(
      `\nKept for inspection: the drill server ${exercise.drillServerName} (and the finished Jobs). ` +
        `It runs (and costs) until removed: pg-recovery abort --stack ${s.stack.name} --yes ${exercise.env.name}`,
    );
  } else {
    // Confirmed once for the whole drill (the summary said it ends by removing what it made);
    // a rerun that changed nothing asked nothing, so it needs the confirmation here.
    await revert(s, { command: "finish", yes: step.outcome ? exercise.env.name : o.yes });
  }
}

function archiveOf(e: DrillExercise, o: DrillOptions): DrillArchive {
  const storage = e.env.azure.backupStorage;
  return (o.archive ?? blobArchive)(storage.account, storage.container);
}

async function plainSummary(
  s: Session,
  e: DrillExercise,
  archive: DrillArchive,
  continuing: boolean,
): Promise<string> {
  const live = e.env.azure.server;
  const net = e.env.azure.network;
  let estimate = `no earlier drill on record: a point-in-time restore takes minutes to hours (size and Azure's load), the checks read the whole database twice`;
  try {
    const past = (await readHistory(archive, s.stack.name)).records
      .map(rtoOf)
      .filter((x): x is number => x !== null);
    if (past.length) {
      const sorted = [...past].sort((a, b) => a - b);
      estimate = `about ${durationText(sorted[Math.floor(sorted.length / 2)])} (the median of ${past.length} earlier drill${past.length > 1 ? "s" : ""}), at most ${durationText(sorted[sorted.length - 1])} so far`;
    }
  } catch {
    // The archive is the evidence store, not a precondition: the estimate falls back.
  }
  return [
    `Restore drill on ${s.stack.name} (${e.env.name}), dated ${e.incidentDate}${continuing ? " (continuing the drill the stack holds)" : ""}:`,
    `  - creates the drill server ${e.drillServerName}: live ${live.name} restored to ${formatUtc(e.restoreTime)} (${formatLondon(e.restoreTime)}), in subnet ${net.subnet} of ${net.virtualNetwork} and DNS zone ${net.privateDnsZone.name}`,
    `  - runs two Jobs in ${e.env.kubernetes.namespace}: verify the drill database against live; restore the newest complete backup of ${e.env.azure.backupStorage.container} into ${DRILL_SCRATCH_DATABASE} on the drill server`,
    `  - live ${live.name}/${live.database} is only read: no freeze, no maintenance page, no scale-down, no promotion; the app and the pipeline are not touched`,
    `  - then removes everything it made (destroy --run-program), unless --keep`,
    `  - drill server running time: ${estimate}`,
    `  - the record goes to this machine and to ${archive.describe()}/${drillPrefix(s.stack.name)}`,
  ].join("\n");
}

/** Waits for the drill's Jobs (already there after `up`, or from an earlier run). */
async function awaitChecks(s: Session): Promise<JobStatus[]> {
  const refs = jobRefs(await s.stack.resources()).filter((r) => DRILL_ROLES.includes(r.role));
  const cluster = clusterFromConfig(s, await s.stack.config());
  if (!cluster || refs.length === 0) return [];
  s.io.err(`Waiting for the drill's checks: ${refs.map((r) => `Job ${r.name}`).join(", ")} ...`);
  const jobs = await waitForJobs(cluster, refs, s.io, { followRoles: [], ...s.deps.jobWait });
  for (const j of jobs) s.note("job", describeJob(j), { ...j });
  return jobs;
}

async function collectChecksOf(s: Session, jobs: JobStatus[]): Promise<CollectedCheck[]> {
  const cluster = clusterFromConfig(s, await s.stack.config());
  const checks = cluster ? await collectChecks(cluster, jobs) : [];
  for (const c of checks) {
    s.io.out(`  [${c.outcome === "failed" ? "FAILED" : c.outcome}] ${c.check}: ${c.detail}`);
  }
  s.note("report", "drill checks", { checks, failed: failedChecks(checks).length });
  return checks;
}

/** `✓ created Server drill-server-server (...) (1234s)`: the seconds, from the engine's progress. */
export function drillServerSeconds(line: string): number | null {
  const m = new RegExp(
    `✓ created \\S+ ${STEPS.drillServer.resource}-server\\b.*\\((\\d+)s\\)\\s*$`,
  ).exec(line);
  return m ? Number(m[1]) : null;
}

function reachedOf(step: StepResult): string | undefined {
  const server = step.outcome?.outputs.drillServer?.value as
    { restoreTimeUtc?: string } | undefined;
  return server?.restoreTimeUtc;
}

/** `up`'s duration for this drill: this run's, or the last one journaled (a resumed drill). */
function upSeconds(s: Session, step: StepResult): number | null {
  const times =
    step.outcome ??
    (s.journal
      .read()
      .filter((e) => e.kind === "update" && e.data?.startedAt)
      .map((e) => e.data as { startedAt: string; endedAt: string })
      .pop() as { startedAt: string; endedAt: string } | undefined);
  if (!times) return null;
  return Math.round((Date.parse(times.endedAt) - Date.parse(times.startedAt)) / 1000);
}

function runnerVersion(): string {
  try {
    const pkg = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8"),
    ) as { version?: string };
    return `pg-recovery ${pkg.version ?? "?"}`;
  } catch {
    return "pg-recovery ?";
  }
}

/** Writes the record (JSON, Markdown, chart) locally and to the archive. */
async function keepRecord(
  s: Session,
  record: DrillRecord,
  archive: DrillArchive,
  out: string,
): Promise<string[]> {
  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, `drill-${record.stack}-${record.date}`);
  let past: DrillRecord[] = [];
  try {
    const existing = await archive.list(drillPrefix(record.stack));
    const name = archiveName(record.stack, record.date, existing);
    record.archived = `${archive.describe()}/${name}`;
    past = (await readHistory(archive, record.stack)).records;
    await archive.put(name, `${JSON.stringify(record, null, 2)}\n`);
  } catch (e) {
    record.archived = `not archived: ${(e as Error).message.split("\n")[0]}`;
    s.io.err(`  (the record could not be archived in ${archive.describe()}: ${record.archived})`);
  }
  const chart = `${base}-history.svg`;
  fs.writeFileSync(chart, historySvg([...past, record], record.stack));
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  fs.writeFileSync(`${base}.md`, renderDrillMarkdown(record, path.basename(chart)));
  return [`${base}.md`, `${base}.json`, chart];
}

async function history(s: Session, o: DrillOptions): Promise<void> {
  const config = await s.stack.config();
  let facts: { azure?: { backupStorage?: { account?: string; container?: string } } } = {};
  try {
    facts = JSON.parse(config[key("environment")]?.value ?? "{}") as typeof facts;
  } catch {
    // The door reports a broken environment; here there is simply no archive to read.
  }
  const storage = facts.azure?.backupStorage;
  if (!storage?.account || !storage.container) {
    throw new Refusal(
      `the stack's environment names no backup storage (pg-recovery:environment.azure.backupStorage): no drill history to read.`,
    );
  }
  const archive = (o.archive ?? blobArchive)(storage.account, storage.container);
  const { records, unreadable } = await readHistory(archive, s.stack.name);
  if (records.length === 0) {
    throw new Done(
      `No drill on record in ${archive.describe()}/${drillPrefix(s.stack.name)}. Run one: pg-recovery drill --stack ${s.stack.name}`,
    );
  }
  s.io.out(historyTable(records));
  for (const u of unreadable) s.io.err(`  (skipped unreadable record ${u})`);
  fs.mkdirSync(o.out, { recursive: true });
  const chart = path.join(o.out, `drill-${s.stack.name}-history.svg`);
  fs.writeFileSync(chart, historySvg(records, s.stack.name));
  s.io.out(`\nChart: ${chart}`);
}
