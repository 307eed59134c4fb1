/**
 * The forward steps of an incident: `start`, `promote`, `resume`. Each is one converge step
 * (door, config, preview in the runbook's words, confirmation, up) followed by the Jobs that
 * step runs: followed while they run, their outcomes and reports printed and journaled.
 */
import { isoDay } from "../contract/backup-names";
import type { PromoteCommand, StartCommand } from "./args";
import { convergeStep, StepResult, StepSpec } from "./converge";
import { flagsGiven, INCIDENT_KEYS, key, sameInstant, scenarioOf, valueOf } from "./door";
import { ChangePlan, ConfigMap } from "./engine";
import { Done, Refusal } from "./io";
import {
  Cluster,
  describeJob,
  finished,
  JobRef,
  JobRole,
  jobRefs,
  JobStatus,
  validationReports,
  waitForJobs,
} from "./jobs";
import { latestIncident } from "./journal";
import { redactText } from "./redact";
import type { GivenTime, StartTimes } from "./preflight";
import { appliedScenario, Session } from "./session";

/** Keeps the Job logs flowing while `up` runs, and collects their outcomes after. */
class JobWatch {
  private running?: Promise<JobStatus[]>;
  private upEndedAt?: number;
  private readonly stop = new AbortController();

  constructor(
    private readonly s: Session,
    private readonly cluster: Cluster | undefined,
    private readonly roles: JobRole[],
    private readonly followRoles: JobRole[],
  ) {}

  /** Starts watching the Jobs a plan is about to create. */
  startFrom(plan: ChangePlan): void {
    const refs = jobRefs(
      plan.steps
        .filter((st) => st.op !== "delete" && st.inputs)
        .map((st) => ({
          type: st.type,
          name: st.name,
          kubernetes: {
            namespace: (st.inputs?.metadata as { namespace?: string } | undefined)?.namespace,
            name: (st.inputs?.metadata as { name?: string } | undefined)?.name,
          },
        })),
    ).filter((r) => this.roles.includes(r.role));
    this.start(refs);
  }

  private start(refs: JobRef[]): void {
    if (!this.cluster || refs.length === 0 || this.running) return;
    const missingAfterUp = this.s.deps.jobWait?.missingAfterUpMs ?? 15_000;
    this.running = waitForJobs(this.cluster, refs, this.s.io, {
      followRoles: this.followRoles,
      ...this.s.deps.jobWait,
      // A Job is only missing for good once `up` has ended: until then it may be yet to come
      // (the validation Job waits for the restored server, hours in production).
      missingIsFinal: () =>
        this.upEndedAt !== undefined && Date.now() - this.upEndedAt > missingAfterUp,
      signal: this.stop.signal,
    });
  }

  /** After `up` (or with nothing to update): the outcomes of this step's Jobs. */
  async outcomes(upSucceeded: boolean): Promise<JobStatus[]> {
    this.upEndedAt = Date.now();
    if (!upSucceeded) this.stop.abort();
    if (!this.running && upSucceeded && this.cluster) {
      // Nothing was updated (a rerun): watch the Jobs the stack already has.
      const refs = jobRefs(await this.s.stack.resources()).filter((r) =>
        this.roles.includes(r.role),
      );
      this.start(refs);
    }
    return this.running ? await this.running : [];
  }
}

/** Converges one step while watching its Jobs; journals and prints their outcomes. */
async function stepWithJobs(
  s: Session,
  spec: StepSpec,
  roles: JobRole[],
  followRoles: JobRole[],
): Promise<{ result: StepResult; jobs: JobStatus[] }> {
  // The context comes from the environment facts, which no step changes.
  const cluster = roles.length ? clusterFromConfig(s, await s.stack.config()) : undefined;
  const watch = new JobWatch(s, cluster, roles, followRoles);
  let result: StepResult;
  try {
    result = await convergeStep(s, { ...spec, onConfirmed: (plan) => watch.startFrom(plan) });
  } catch (e) {
    await watch.outcomes(false);
    if (cluster && !(e instanceof Done)) await reportFailedJobs(s, cluster, roles);
    throw e;
  }
  const jobs = await watch.outcomes(true);
  for (const j of jobs) s.note("job", describeJob(j), { ...j });
  if (cluster) await journalLogs(s, cluster, jobs);
  return { result, jobs };
}

/** Containers of each data Job, as data-jobs.ts names them (when the pod is gone). */
const CONTAINERS: Record<JobRole, string[]> = {
  "adhoc-backup": ["backup"],
  validation: ["verify", "promotion-plan"],
  promotion: ["promote"],
  "promotion-archive": ["backup-restored"],
  "restore-from-storage": ["restore"],
  "drill-verify": ["verify"],
  "drill-restore": ["restore-latest"],
};

const LOG_TITLES: Partial<Record<JobRole, string>> = {
  "adhoc-backup": "Ad-hoc backup (the backup Job's log)",
  promotion: "Promotion result (the promote Job's log: what it wrote and kept)",
  "promotion-archive": "Archival backup of the PTR (its Job's log)",
  "restore-from-storage": "Restore from storage (the restore Job's log)",
};

/**
 * The logs of finished data Jobs go into the journal (masked), so the incident record keeps what
 * each wrote after `finish` has deleted the Jobs. The validation's two reports are kept by
 * printValidation.
 */
export async function journalLogs(s: Session, cluster: Cluster, jobs: JobStatus[]): Promise<void> {
  for (const j of jobs) {
    const title = LOG_TITLES[j.role];
    if (!title || !finished(j.state)) continue;
    const names = j.containers.length ? j.containers.map((c) => c.name) : CONTAINERS[j.role];
    const parts: string[] = [];
    let unavailable: string | undefined;
    for (const name of names) {
      try {
        const text = (await cluster.logs(j, name)).replace(/\n+$/, "");
        parts.push(names.length > 1 ? `[${name}]\n${text}` : text);
      } catch (e) {
        unavailable = (e as Error).message;
      }
    }
    s.note(
      "report",
      title,
      parts.length
        ? { job: j.name, text: redactText(parts.join("\n")).slice(0, 64_000) }
        : { job: j.name, unavailable },
    );
  }
}

/** After a failed update: the step's Jobs that failed, so the operator sees why. */
async function reportFailedJobs(s: Session, cluster: Cluster, roles: JobRole[]): Promise<void> {
  const refs = jobRefs(await s.stack.resources().catch(() => [])).filter((r) =>
    roles.includes(r.role),
  );
  for (const ref of refs) {
    const st = await cluster.job(ref).catch(() => undefined);
    if (st && st.state === "failed") {
      s.io.out(describeJob(st));
      s.note("job", describeJob(st), { ...st });
    }
  }
}

const who = (s: Session) => s.who.name;

/* ------------------------------------------------------------------ start */

/**
 * Starts an incident, or continues the one in progress for the same scenario (refusing one that
 * clashes): one converge step with the scenario's config, then its Jobs' reports and what is next.
 */
export async function start(s: Session, cmd: StartCommand, times: StartTimes): Promise<void> {
  const before = await s.stack.config();
  const continuing = refuseClashes(s, before, cmd, times);
  const config = startConfig(s, before, cmd, times, continuing);
  s.note("command", `start ${cmd.scenario}`, {
    scenario: cmd.scenario,
    incidentDate: config.incidentDate,
    restoreTime: config.restoreTime,
    serverDeletedAt: config.deletedAt,
    noticedAt: cmd.noticedAt,
    continuing,
    dryRun: cmd.dryRun,
  });
  const roles: JobRole[] =
    cmd.scenario === "corrupted" ? ["adhoc-backup", "validation"] : ["restore-from-storage"];
  const { result, jobs } = await stepWithJobs(s, startSpec(s, cmd, times, config), roles, [
    "adhoc-backup",
    "restore-from-storage",
  ]);
  await printStartOutcome(s, result, jobs);
}

/**
 * Refuses a start that clashes with the stack: a drill under way, another scenario's incident,
 * or other values for this one. Returns whether start continues the incident in progress.
 */
function refuseClashes(
  s: Session,
  before: ConfigMap,
  cmd: StartCommand,
  times: StartTimes,
): boolean {
  const current = scenarioOf(before);
  const stackName = s.stack.name;
  if (current === "drill") {
    throw new Refusal(
      `a restore drill is under way on ${stackName} (dated ${valueOf(before, "incidentDate") ?? "unset"}). ` +
        `Remove it first (it only read live): pg-recovery abort --stack ${stackName}, then start. Nothing was changed.`,
    );
  }
  if (current !== "none" && current !== cmd.scenario) {
    throw new Refusal(
      `an incident is in progress on ${stackName}: scenario ${current} (incident date ` +
        `${valueOf(before, "incidentDate") ?? "unset"}). start continues an incident only for the same ` +
        `scenario. Continue it with the steps pg-recovery status --stack ${stackName} suggests, or revert ` +
        `it first: pg-recovery abort --stack ${stackName}. Nothing was changed.`,
    );
  }
  const continuing = current === cmd.scenario;
  const conflicts = continuing ? otherValues(before, cmd, times) : [];
  if (conflicts.length) {
    throw new Refusal(
      `an incident is in progress on ${stackName} with other values: ${conflicts.join("; ")}. ` +
        `Rerun start with the incident's values (or without them) to continue it. To restore to ` +
        `another time, revert first (pg-recovery abort --stack ${stackName}), then start again. ` +
        `Nothing was changed.`,
    );
  }
  return continuing;
}

/** Start's converge step: its config, and the incident's facts in the update's message. */
function startSpec(
  s: Session,
  cmd: StartCommand,
  times: StartTimes,
  config: StartConfig,
): StepSpec {
  const { set, remove, restoreTime, deletedAt, incidentDate } = config;
  const facts = [
    cmd.scenario,
    `incident ${incidentDate}`,
    restoreTime ? `restore to ${restoreTime}` : undefined,
    deletedAt ? `deleted at ${deletedAt}` : undefined,
    times.noticedAt !== undefined ? `noticed ${cmd.noticedAt} (as typed)` : undefined,
  ].filter(Boolean);
  return {
    change: { set, remove },
    message: `pg-recovery start: ${facts.join(", ")}; by ${who(s)}`,
    heading: `What start will do on ${s.stack.name}, in the runbook's order:`,
    yes: cmd.yes,
    dryRun: cmd.dryRun,
    given: flagsGiven([
      ...(cmd.incidentDate ? (["incidentDate"] as const) : []),
      ...(times.restoreTime ? (["restoreTime"] as const) : []),
      ...(times.deletedAt ? (["serverDeletedAt"] as const) : []),
    ]),
  };
}

/** After start's step: the validation's reports (when it finished), the Jobs, what comes next. */
async function printStartOutcome(s: Session, result: StepResult, jobs: JobStatus[]): Promise<void> {
  const validation = jobs.find((j) => j.role === "validation");
  if (validation && finished(validation.state)) {
    await printValidation(s, validation);
  }
  printJobsSummary(s, jobs);
  printNextAfterStart(s, result);
}

/** After start: the next command for the scenario, and how to look at the restored data. */
function printNextAfterStart(s: Session, result: StepResult): void {
  const stackName = s.stack.name;
  const incident = result.incident;
  if (incident.scenario === "corrupted") {
    const live = incident.env.azure.server.name;
    s.io.out(
      [
        ``,
        `Next, once you have read the report and the plan:`,
        `  pg-recovery promote --stack ${stackName} --mode <whole|tables|merge> [--tables schema.table,...] --confirm ${live}`,
        `or, if nothing needs promoting: pg-recovery resume --stack ${stackName}, then pg-recovery finish --stack ${stackName}.`,
        `Inspect by hand: ${connectHint(result) ?? "see pulumi stack output pointInTimeRestore"}`,
      ].join("\n"),
    );
  } else {
    s.io.out(
      [
        ``,
        `Next: check the app through the temporary hosts, then bring it back while maintenance stays on:`,
        `  pg-recovery resume --stack ${stackName}`,
        incident.scenario === "server-gone" && incident.mode === "rebuild"
          ? `The rebuilt server has a new admin password: update the app's DATABASE_URL secret (pulumi stack output --show-secrets administratorPassword).`
          : ``,
      ]
        .filter((l, i, all) => l !== "" || i < all.length - 1)
        .join("\n"),
    );
  }
}

/** A rerun's values that differ from the incident in progress (same scenario). */
function otherValues(before: ConfigMap, cmd: StartCommand, times: StartTimes): string[] {
  const conflicts: string[] = [];
  const date = valueOf(before, "incidentDate");
  if (cmd.incidentDate && date && cmd.incidentDate !== date) {
    conflicts.push(`--incident-date ${cmd.incidentDate} (the incident's is ${date})`);
  }
  const rt = valueOf(before, "restoreTime");
  if (times.restoreTime && rt && !sameInstant(times.restoreTime.instant, rt)) {
    conflicts.push(`--restore-time ${cmd.restoreTime} (the incident's is ${rt})`);
  }
  const del = valueOf(before, "serverDeletedAt");
  if (times.deletedAt && del && !sameInstant(times.deletedAt.instant, del)) {
    conflicts.push(`--deleted-at ${cmd.deletedAt} (the incident's is ${del})`);
  }
  return conflicts;
}

/** What start sets and removes, and the incident's values that result. */
type StartConfig = ReturnType<typeof startConfig>;

/**
 * The config start sets and removes: a rerun keeps the incident's own values (and its text for
 * an instant it names again); a new incident starts clean.
 */
function startConfig(
  s: Session,
  before: ConfigMap,
  cmd: StartCommand,
  times: StartTimes,
  continuing: boolean,
) {
  // Keep the incident's own text for a value that names the same instant: no config churn.
  const keep = (k: "restoreTime" | "serverDeletedAt", given?: GivenTime) =>
    given
      ? continuing && sameInstant(given.instant, valueOf(before, k))
        ? valueOf(before, k)
        : given.text
      : continuing
        ? valueOf(before, k)
        : undefined;
  const restoreTime = keep("restoreTime", times.restoreTime);
  const deletedAt = keep("serverDeletedAt", times.deletedAt);
  // The incident's date never comes from a later day's clock: a rerun keeps the stack's.
  const incidentDate =
    cmd.incidentDate ?? (continuing ? valueOf(before, "incidentDate") : undefined) ?? isoDay(s.now);

  const set: Record<string, string> = { scenario: cmd.scenario, incidentDate };
  if (restoreTime) set.restoreTime = restoreTime;
  if (deletedAt) set.serverDeletedAt = deletedAt;
  // A new incident starts clean: nothing left over from an earlier one.
  const remove = INCIDENT_KEYS.filter(
    (k) => !(k in set) && (!continuing || k === "serverDeletedAt" || k === "restoreTime"),
  ).filter((k) => before[key(k)] !== undefined);
  return { set, remove, restoreTime, deletedAt, incidentDate };
}

function connectHint(result: StepResult): string | undefined {
  const ptr = result.outcome?.outputs.pointInTimeRestore?.value as { connect?: string } | undefined;
  return ptr?.connect;
}

async function printValidation(s: Session, job: JobStatus): Promise<void> {
  const cluster = clusterFromConfig(s, await s.stack.config());
  if (!cluster) return;
  for (const section of await validationReports(cluster, job)) {
    s.io.out(`\n== ${section.title} ==`);
    if (section.text !== undefined) {
      const text = redactText(section.text).replace(/\n+$/, "");
      s.io.out(text || "(empty)");
      s.note("report", section.title, {
        job: job.name,
        container: section.container,
        text: text.slice(0, 64_000),
      });
    } else {
      s.io.out(
        `(not available here: ${section.unavailable}; read it with: kubectl -n ${job.namespace} logs job/${job.name} -c ${section.container})`,
      );
      s.note("report", section.title, {
        job: job.name,
        container: section.container,
        unavailable: section.unavailable,
      });
    }
  }
  const exits = job.containers.map((c) => `${c.name} exit ${c.exitCode ?? "?"}`).join(", ");
  s.io.out(
    `\nValidation ${job.state} (${exits}). verify exits 1 when the PTR and live differ, which is ` +
      `expected (that is the corruption): read the report, and inspect by hand before promoting.`,
  );
}

function printJobsSummary(s: Session, jobs: JobStatus[]): void {
  if (jobs.length === 0) return;
  s.io.out(`\nJobs:`);
  for (const j of jobs) s.io.out(`  ${describeJob(j)}`);
}

/* ------------------------------------------------------------------ promote */

export async function promote(s: Session, cmd: PromoteCommand): Promise<void> {
  await refuseBeforeStart(s);
  s.note("command", `promote ${cmd.mode}${cmd.tables ? ` ${cmd.tables}` : ""}`, {
    mode: cmd.mode,
    tables: cmd.tables,
    dryRun: cmd.dryRun,
  });
  const { result, jobs } = await stepWithJobs(s, promoteSpec(s, cmd), ["promotion"], ["promotion"]);
  printJobsSummary(s, jobs);
  await printAfterPromote(s, result);
}

/** promote writes into live only after a corrupted-scenario start was applied. */
async function refuseBeforeStart(s: Session): Promise<void> {
  const stackName = s.stack.name;
  const config = await s.stack.config();
  const applied = appliedScenario(await s.stack.history());
  if (applied === "corrupted" && scenarioOf(config) === "corrupted") return;
  throw new Refusal(
    `promote before start: no corrupted-scenario incident has been applied on ${stackName} ` +
      `(${applied === "none" ? "nothing is declared" : `the stack is at scenario ${applied}`}). ` +
      `Run pg-recovery start --stack ${stackName} --scenario corrupted --restore-time <time> first, ` +
      `and read the validation report. Nothing was changed.`,
  );
}

/** The stack config promote sets (the mode, the confirmed target, the tables) and its words. */
function promoteSpec(s: Session, cmd: PromoteCommand): StepSpec {
  const set: Record<string, string> = {
    promote: "true",
    promotionMode: cmd.mode,
    confirm: cmd.confirm,
  };
  if (cmd.tables) set.promotionTables = cmd.tables;
  return {
    change: { set, remove: cmd.tables ? [] : ["promotionTables"] },
    message: `pg-recovery promote: mode ${cmd.mode}${cmd.tables ? `, tables ${cmd.tables}` : ""}, confirmed ${cmd.confirm}; by ${who(s)}`,
    heading: `What promote will do on ${s.stack.name}, in the runbook's order:`,
    yes: cmd.yes,
    dryRun: cmd.dryRun,
    given: flagsGiven([
      "promotionMode",
      "confirm",
      ...(cmd.tables ? (["promotionTables"] as const) : []),
    ]),
  };
}

async function printAfterPromote(s: Session, result: StepResult): Promise<void> {
  const archive = jobRefs(await s.stack.resources()).find((r) => r.role === "promotion-archive");
  const promotion = result.outcome?.outputs.promotion?.value as
    { archivalBackup?: { backup?: string } } | undefined;
  s.io.out(
    [
      ``,
      archive
        ? `The archival backup of the PTR (${promotion?.archivalBackup?.backup ?? "restore-to-ptr"}) runs beside it as Job ${archive.name}; status shows it.`
        : ``,
      `Next: bring the app back while maintenance stays on, and test it through the temporary hosts:`,
      `  pg-recovery resume --stack ${s.stack.name}`,
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

/* ------------------------------------------------------------------ resume */

export async function resume(s: Session, cmd: { yes?: string; dryRun?: boolean }): Promise<void> {
  const stackName = s.stack.name;
  const config = await s.stack.config();
  const applied = appliedScenario(await s.stack.history());
  if (applied === "none" || scenarioOf(config) === "none") {
    throw new Refusal(
      `nothing to resume on ${stackName}: no incident is applied. pg-recovery status --stack ${stackName} ` +
        `shows where things are. Nothing was changed.`,
    );
  }
  await waitForPromotion(s, config, cmd.dryRun);
  if (!cmd.dryRun) await journalJobStates(s);
  s.note("command", "resume", { dryRun: cmd.dryRun });
  const { result } = await stepWithJobs(
    s,
    {
      change: { set: { scaleDown: "false" }, remove: ["promote", "confirm"] },
      message: `pg-recovery resume: the app back (recorded replicas), maintenance stays on; by ${who(s)}`,
      heading: `What resume will do on ${stackName}, in the runbook's order:`,
      yes: cmd.yes,
      dryRun: cmd.dryRun,
    },
    [],
    [],
  );
  if (result.outcome) s.note("app-back", "the app's replicas restored (resume)");
  printAfterResume(s, result);
}

/**
 * A running promotion must finish first: resume removes its Job, and the app would write into a
 * database being promoted. The PTR's archival backup too: removing its Job would stop it. A
 * failed promotion (not its archive) refuses: its log comes before the app.
 */
async function waitForPromotion(s: Session, config: ConfigMap, dryRun?: boolean): Promise<void> {
  const roles: JobRole[] = ["promotion", "promotion-archive", "restore-from-storage"];
  const running = await runningJobs(s, roles);
  const names = running.map((r) => `Job ${r.name}`).join(", ");
  if (!running.length) return;
  if (dryRun) {
    s.io.out(`(dry run: resume would first wait for ${names})`);
    return;
  }
  s.io.err(`Waiting for ${names} to finish first ...`);
  const cluster = clusterFromConfig(s, config);
  if (!cluster) return;
  const done = await waitForJobs(cluster, running, s.io, { followRoles: roles, ...s.deps.jobWait });
  const failed = done.filter((j) => j.state !== "succeeded" && j.role !== "promotion-archive");
  if (!failed.length) return;
  await journalJobStates(s);
  throw new Refusal(
    `${failed.map(describeJob).join("; ")}. Read its log before bringing the app back; ` +
      `to revert instead: pg-recovery abort --stack ${s.stack.name}. Nothing was changed.`,
  );
}

function printAfterResume(s: Session, result: StepResult): void {
  const urls = (
    result.outcome?.outputs.maintenance?.value as { temporaryUrls?: string[] } | undefined
  )?.temporaryUrls;
  s.io.out(
    [
      ``,
      `The app is back at its recorded replica counts; the public hosts still show maintenance.`,
      urls?.length ? `Test it through: ${urls.join(" ")}` : ``,
      `Then complete the process (maintenance off, pipeline unfrozen):`,
      `  pg-recovery finish --stack ${s.stack.name}`,
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

export function clusterFromConfig(
  s: Session,
  config: Record<string, { value: string }>,
): Cluster | undefined {
  try {
    const envText = config[key("environment")]?.value;
    const context = envText
      ? (JSON.parse(envText) as { kubernetes?: { context?: string } }).kubernetes?.context
      : undefined;
    return s.deps.cluster(context);
  } catch (e) {
    s.io.err(
      `  (not watching the Jobs: ${(e as Error).message}; pg-recovery status --stack ${s.stack.name} shows them later)`,
    );
    return undefined;
  }
}

/**
 * Journals every finished Job of the stack not journaled as finished yet, with its log: before a
 * step deletes Jobs, so the record keeps their outcomes (the PTR's archival backup, say, which
 * nothing waits for).
 */
export async function journalJobStates(s: Session): Promise<void> {
  const refs = jobRefs(await s.stack.resources());
  if (refs.length === 0) return;
  const known = new Set(
    latestIncident(s.journal.read())
      .filter(
        (e) => e.kind === "job" && (e.data?.state === "succeeded" || e.data?.state === "failed"),
      )
      .map((e) => String(e.data?.name)),
  );
  const todo = refs.filter((r) => !known.has(r.name));
  if (todo.length === 0) return;
  const cluster = clusterFromConfig(s, await s.stack.config());
  if (!cluster) return;
  const states: JobStatus[] = [];
  for (const ref of todo) {
    const st = await cluster.job(ref).catch(() => undefined);
    if (!st) continue;
    s.note("job", describeJob(st), { ...st });
    states.push(st);
  }
  await journalLogs(s, cluster, states);
}

/** The stack's Jobs of these roles that have not finished. */
export async function runningJobs(s: Session, roles: JobRole[]): Promise<JobRef[]> {
  const refs = jobRefs(await s.stack.resources()).filter((r) => roles.includes(r.role));
  if (refs.length === 0) return [];
  const cluster = clusterFromConfig(s, await s.stack.config());
  if (!cluster) return [];
  const out: JobRef[] = [];
  for (const ref of refs) {
    const st = await cluster.job(ref).catch(() => undefined);
    if (st && (st.state === "running" || st.state === "pending")) out.push(ref);
  }
  return out;
}
