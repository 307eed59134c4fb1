/**
 * `finish` and `abort`: revert everything the overlay declared (`destroy --run-program`, so the
 * replica-restore hooks run), then take the incident keys out of the stack's config, back to
 * scenario none. `finish` is the end of a completed incident and waits for no one: it refuses
 * while a data Job still runs. `abort` reverts from any point, stopping running Jobs, and says so
 * before the operator confirms.
 *
 * When the program can no longer pass its own door for the incident's config (days later, the
 * restore time has left the retention), the destroy cannot run the program; the same revert is
 * then done as the README's manual path does it: scenario none, then up (same hooks).
 */
import { formatLondon } from "../contract/time";
import { convergeStep, engineStep } from "./converge";
import { doorVerdict, INCIDENT_KEYS, key, scenarioOf } from "./door";
import { ConfigMap, EngineError, OutputMap } from "./engine";
import { Done, Refusal } from "./io";
import { JobRole } from "./jobs";
import { closedBy, JournalEvent, latestIncident } from "./journal";
import { Session, lastApplied } from "./session";
import { journalJobStates, runningJobs } from "./steps";

const ALL_ROLES: JobRole[] = [
  "adhoc-backup",
  "validation",
  "promotion",
  "promotion-archive",
  "restore-from-storage",
  "drill-verify",
  "drill-restore",
];

/** The environment's name as the facts spell it (what the operator types to confirm). */
export function environmentName(
  config: Record<string, { value: string }>,
  fallback: string,
): string {
  try {
    const env = JSON.parse(config[key("environment")]?.value ?? "{}") as { name?: unknown };
    return typeof env.name === "string" && env.name ? env.name : fallback;
  } catch {
    return fallback;
  }
}

/** Servers the revert leaves in place, from the outputs before it. */
export function serversKept(outputs: OutputMap): string[] {
  const kept: string[] = [];
  const ptr = outputs.pointInTimeRestore?.value as
    { serverName?: string; keptOnDestroy?: boolean; fqdn?: string } | undefined;
  if (ptr?.serverName && ptr.keptOnDestroy === true) {
    kept.push(
      `${ptr.serverName} (the point-in-time restore: the incident's evidence; delete it after the review)`,
    );
  }
  const rebuilt = outputs.serverRebuild?.value as
    { serverName?: string; mode?: string } | undefined;
  if (rebuilt?.serverName) {
    kept.push(
      `${rebuilt.serverName} (${rebuilt.mode === "revive" ? "revived" : "rebuilt"}: production from now on)`,
    );
  }
  return kept;
}

/** `finish` or `abort`, as the operator typed it. */
interface RevertCommand {
  command: "finish" | "abort";
  yes?: string;
  dryRun?: boolean;
}

export async function revert(s: Session, cmd: RevertCommand): Promise<void> {
  const verb = cmd.command;
  const config = await s.stack.config();
  const resources = await s.stack.resources();
  const incidentKeys = INCIDENT_KEYS.map(key).filter((k) => config[k] !== undefined);
  const events = s.journal.read();

  if (resources.length === 0 && incidentKeys.length === 0) {
    return alreadyReverted(s, verb, events);
  }
  if (verb === "finish") await refuseWhileJobsRun(s);
  s.note("command", verb, { dryRun: cmd.dryRun });
  if (resources.length === 0 && cmd.dryRun) {
    throw new Done(
      `Dry run: nothing is declared; ${verb} would only take ${incidentKeys.join(", ")} out of the config. Nothing was changed.`,
    );
  }
  const outputs = await keepEvidence(s, resources.length > 0, cmd.dryRun);
  const kept = serversKept(outputs);
  const scaledDown = resources.some((r) => r.type === "kubernetes:apps/v1:DeploymentPatch");

  if (resources.length) await revertDeclared(s, cmd, config);

  const removed = await removeIncidentKeys(s, config);
  s.note("config", `incident keys removed: back to scenario none`, { removed });
  const appBack = latestIncident(events).some((e) => e.kind === "app-back");
  if (scaledDown && !appBack) s.note("app-back", `the app's replicas restored (${verb})`);
  s.note(verb === "finish" ? "finished" : "aborted", `${verb}ed: everything reverted`, { kept });
  s.io.out(revertedText(verb, scenarioOf(config), s.stack.name, kept));
}

/**
 * Nothing declared and scenario none: a rerun after a finish or abort says when it was done (a
 * no-op); with no trace of one, there is simply no incident, and that is refused.
 */
async function alreadyReverted(s: Session, verb: string, events: JournalEvent[]): Promise<void> {
  const stackName = s.stack.name;
  const closed = closedBy(events);
  const last = lastApplied(await s.stack.history());
  const byHistory = last?.kind === "destroy" && /^pg-recovery (finish|abort)/.test(last.message);
  if (closed || byHistory) {
    const at = new Date(closed?.at ?? last!.endTime ?? last!.startTime);
    s.io.out(
      `Already ${closed?.kind ?? "finished"} at ${at.toISOString()} (${formatLondon(at)})` +
        `${closed?.who ? ` by ${closed.who.name}` : ""}: nothing is declared on ${stackName} and its ` +
        `config is back to scenario none. Nothing to do. The incident record: pg-recovery record --stack ${stackName}`,
    );
    return;
  }
  throw new Refusal(
    `nothing to ${verb} on ${stackName}: no incident (nothing declared, scenario none). Nothing was changed.`,
  );
}

/** `finish` waits for no one: a data Job still running would be deleted mid-way, so refuse. */
async function refuseWhileJobsRun(s: Session): Promise<void> {
  const stackName = s.stack.name;
  const running = await runningJobs(s, ALL_ROLES);
  if (running.length) {
    throw new Refusal(
      `${running.map((r) => `Job ${r.name}`).join(", ")} still running: finish would delete ` +
        `${running.length > 1 ? "them" : "it"} mid-way. Wait (pg-recovery status --stack ${stackName}), ` +
        `or stop ${running.length > 1 ? "them" : "it"} with pg-recovery abort --stack ${stackName}. Nothing was changed.`,
    );
  }
}

/**
 * Journals what the revert is about to delete (the Jobs' outcomes and logs, the stack's outputs)
 * for the incident record; returns the outputs (none when nothing is declared).
 */
async function keepEvidence(s: Session, declared: boolean, dryRun?: boolean): Promise<OutputMap> {
  // The Jobs go with the revert: keep their outcomes and logs for the record first.
  if (!dryRun) await journalJobStates(s);
  const outputs = declared ? await s.stack.outputs().catch(() => ({}) as OutputMap) : {};
  if (Object.keys(outputs).length) {
    s.note("outputs", "outputs before the revert", {
      outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])),
    });
  }
  return outputs;
}

/**
 * Reverts what the overlay declared: `destroy --run-program` while the program passes its door
 * for the incident's config, else scenario none + up (the same deletions and hooks).
 */
async function revertDeclared(s: Session, cmd: RevertCommand, config: ConfigMap): Promise<void> {
  const verb = cmd.command;
  const stackName = s.stack.name;
  const warnings = await revertWarnings(s, verb, config);
  const verdict = doorVerdict(config, s.now);
  let done = false;
  if (verdict.ok && verdict.incident.scenario !== "none") {
    done = await destroyWithProgram(s, {
      verb,
      warnings,
      environment: environmentName(config, stackName),
      yes: cmd.yes,
      dryRun: cmd.dryRun,
    });
  }
  if (!done) {
    // The program refuses the incident's config now: revert as scenario none + up instead.
    // Refused by the door here, nothing has said why yet; refused by the engine, it just did.
    const why = verdict.ok
      ? " (see above), "
      : `:\n  - ${verdict.refused.problems.join("\n  - ")}\n`;
    s.io.err(
      `The incident's config no longer passes the program's checks${why}so the revert ` +
        `runs as scenario none + up: the same deletions and hooks.`,
    );
    await convergeStep(s, {
      change: { set: { scenario: "none" }, remove: [] },
      message: `pg-recovery ${verb} (as scenario none + up); by ${s.who.name}`,
      heading: `What ${verb} will do on ${stackName} (scenario none, then up), in the runbook's order:`,
      yes: cmd.yes,
      dryRun: cmd.dryRun,
      warnings: () => warnings,
    });
  }
}

/**
 * Takes the incident's keys (as the revert found them) and the scenario out of the stack's
 * config, back to scenario none; returns the keys it meant to remove, for the journal.
 */
async function removeIncidentKeys(s: Session, config: ConfigMap): Promise<string[]> {
  const present = INCIDENT_KEYS.map(key).filter((k) => config[k] !== undefined);
  const now = await s.stack.config();
  const toRemove = present.concat(now[key("scenario")] !== undefined ? [key("scenario")] : []);
  await s.stack.removeConfig([...new Set(toRemove)].filter((k) => now[k] !== undefined));
  return toRemove;
}

/** The closing words: what was undone (a drill only read live), what was kept, the record. */
function revertedText(verb: string, scenario: string, stackName: string, kept: string[]): string {
  return [
    ``,
    scenario === "drill"
      ? `Drill removed: the drill server and its Jobs are deleted (live was only read); ${stackName} is back to scenario none.`
      : `${verb === "finish" ? "Finished" : "Aborted"}: maintenance off, pipeline unfrozen, replicas as recorded before the incident; ${stackName} is back to scenario none.`,
    kept.length ? `Kept: ${kept.join("; ")}.` : ``,
    `The incident record: pg-recovery record --stack ${stackName}`,
  ]
    .filter(Boolean)
    .join("\n");
}

async function revertWarnings(s: Session, verb: string, config: ConfigMap): Promise<string[]> {
  const warnings: string[] = [];
  if (verb === "abort") {
    const running = await runningJobs(s, ALL_ROLES);
    for (const r of running) {
      warnings.push(
        `Job ${r.name} is running; the revert deletes it, which stops it mid-way` +
          (r.role === "promotion"
            ? " (promote writes in one transaction, or swaps the whole database at its end: stopped before that, live stays as it was; read the job's log)"
            : ""),
      );
    }
  }
  const segment = latestIncident(s.journal.read());
  const promoted = segment.some(
    (e) => e.kind === "job" && /promotion into live\]: succeeded/.test(e.text),
  );
  if (scenarioOf(config) === "corrupted" && !promoted && verb === "finish") {
    warnings.push(
      "no promotion ran in this incident (as far as this machine's journal knows): live keeps its data as it is now.",
    );
  }
  return warnings;
}

/** `destroy --run-program`; false when the program refuses the config (fall back). */
async function destroyWithProgram(
  s: Session,
  opts: { verb: string; warnings: string[]; environment: string; yes?: string; dryRun?: boolean },
): Promise<boolean> {
  const { verb } = opts;
  const stackName = s.stack.name;
  try {
    await engineStep(s, {
      what: "destroy",
      preview: (p) => s.stack.previewDestroy(p),
      run: (p) =>
        s.stack.destroy(`pg-recovery ${verb}: destroy --run-program; by ${s.who.name}`, p),
      heading: `What ${verb} will do on ${stackName} (pulumi destroy --run-program), in the runbook's order:`,
      environment: opts.environment,
      yes: opts.yes,
      dryRun: opts.dryRun,
      warnings: () => opts.warnings,
      afterFailure: `Part of the revert may be done. Rerun \`pg-recovery ${verb} --stack ${stackName}\` to continue.`,
      undo: async () => undefined,
    });
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    // Only a failed preview gets here (a failed run is a Refusal already).
    if (e.problems.some((p) => p.includes("pg-recovery:"))) {
      s.io.err(e.message);
      return false;
    }
    throw new Refusal(`${e.message}\nNothing was changed.`);
  }
  return true;
}
