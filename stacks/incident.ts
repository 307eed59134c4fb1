/**
 * The config door: turns the stack's raw `pg-recovery:*` config into a typed, validated
 * description of the incident. Every mistake is reported here, before any resource is declared,
 * with the key that is wrong and how to fix it.
 */
import { FREEZE_DEFAULTS } from "../components/pipeline-freeze";
import { PROMOTION_MODES, PromotionMode } from "../contract/data-tool";
import { closestWord as suggest } from "../contract/did-you-mean";
import {
  canonicalTableName,
  parseTableName,
  splitTableList,
  TableNameError,
} from "../contract/table-names";
import { formatUtc, parseRestoreTime } from "../contract/time";
import {
  Environment,
  LONGEST_RETENTION_MS,
  MAX_BACKUP_RETENTION_DAYS,
  parseEnvironment,
} from "./environment";

export const PROJECT = "pg-recovery";
export const SCENARIOS = ["none", "corrupted", "server-gone", "drill"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Config keys this project reads, without the `pg-recovery:` prefix. */
export const CONFIG_KEYS = [
  "scenario",
  "incidentDate",
  "restoreTime",
  "requiredReviews",
  "serverDeletedAt",
  "ptrServerName",
  "retainRestoredServer",
  "scaleDown",
  "promote",
  "promotionMode",
  "promotionTables",
  "confirm",
  "drillServerName",
  "environment",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** The freeze's own default: one source, the component's. */
export const DEFAULT_REQUIRED_REVIEWS = FREEZE_DEFAULTS.requiredApprovingReviewCount;
/** Azure revives a dropped server only from a point at least this long after the drop... */
export const REVIVE_MIN_DELAY_MS = 10 * 60_000;
/** ...and only within this long of the drop. */
export const REVIVE_WINDOW_MS = 5 * 24 * 3600_000;

interface IncidentCommon {
  env: Environment;
  /** `YYYY-MM-DD`: every dated name derives from it, never from the clock. */
  incidentDate: string;
  requiredReviews: number;
  /** False brings the app back (exact pre-incident replicas) while maintenance stays on. */
  scaleDown: boolean;
}

export interface CorruptedIncident extends IncidentCommon {
  scenario: "corrupted";
  restoreTime: Date;
  ptrServerName: string;
  retainRestoredServer: boolean;
  /**
   * Copy the PTR data back into live; only set after `confirm` named the live server and a mode
   * was chosen (each mode loses different data, so there is no default).
   */
  promotion?: Promotion;
  /** Tables named for promotion (also evaluated by the validation job's plan). */
  promotionTables: string[];
}

export type Promotion =
  { mode: "whole" } | { mode: Exclude<PromotionMode, "whole">; tables: string[] };

/** `revive`: ReviveDropped at `restoreTime`; `rebuild`: new empty server + restore from storage. */
export type ServerGoneIncident = IncidentCommon & { scenario: "server-gone" } & (
    | {
        mode: "revive";
        restoreTime: Date;
        serverDeletedAt: Date;
        restoreFromStorage: false;
      }
    | {
        mode: "rebuild";
        restoreTime?: undefined;
        /** Restore the latest complete backup into the rebuilt (new, empty) server. */
        restoreFromStorage: true;
      }
  );

/**
 * A restore drill: live restored at `restoreTime` into a throwaway server, checked and measured
 * by read-only Jobs, then deleted. Nothing of live, the app or the pipeline is written.
 */
export interface DrillExercise {
  scenario: "drill";
  env: Environment;
  /** `YYYY-MM-DD`, the drill's date: its Job names derive from it. */
  incidentDate: string;
  restoreTime: Date;
  /** The throwaway server (`<live>-drill` by default); deleted when the drill is destroyed. */
  drillServerName: string;
}

/** Keys that only an incident uses (a drill never freezes, scales, revives or promotes). */
export const INCIDENT_ONLY_KEYS = [
  "serverDeletedAt",
  "scaleDown",
  "promote",
  "promotionMode",
  "promotionTables",
  "confirm",
] as const satisfies readonly ConfigKey[];

/** The drill server's default name: never the live or the PTR name. */
export const drillServerDefault = (live: string) => `${live}-drill`;
export const ptrServerDefault = (live: string) => `${live}-ptr`;

export interface SteadyState {
  scenario: "none";
  env: Environment;
}

export type Incident = SteadyState | CorruptedIncident | ServerGoneIncident | DrillExercise;

export class IncidentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `pg-recovery: the stack config is not a valid incident (nothing was changed):\n` +
        problems.map((p, i) => `  ${i + 1}. ${p}`).join("\n"),
    );
    this.name = "IncidentConfigError";
  }
}

/** Raw config as Pulumi hands it over: strings, plus the parsed environment object. */
export interface RawConfig {
  values: Partial<Record<Exclude<ConfigKey, "environment">, string>>;
  environment: unknown;
  /** Every key set in the `pg-recovery:` namespace, to catch typos. */
  keysSet: string[];
}

const k = (key: string) => `${PROJECT}:${key}`;

/** An incident proper: what remains once `none` and `drill` are handled apart. */
type IncidentScenario = Exclude<Scenario, "none" | "drill">;

/**
 * The settings every incident reads, each parsed once. A value that is wrong is already a
 * problem; it is left undefined (or at its default) so that the cross-field rules still run and
 * the operator sees every mistake in one go.
 */
interface IncidentSettings {
  incidentDate?: string;
  requiredReviews?: number;
  scaleDown: boolean;
  promote: boolean;
  promotionMode?: PromotionMode;
  promotionTables: string[];
  retainRestoredServer: boolean;
  restoreTime?: Date;
  confirm?: string;
}

/**
 * The door itself: every check runs, in a fixed order (the order the operator reads the
 * problems in), and the incident is returned only when none was found.
 */
export function parseIncident(raw: RawConfig, now: Date): Incident {
  const problems: string[] = [];
  const v = raw.values;
  rejectUnknownKeys(raw.keysSet, problems);
  const env = readEnvironment(raw.environment, problems);
  const scenario = readScenario(v.scenario, problems);
  if (scenario === "none" || !scenario) return steadyState(env, problems);
  const drillServerName = checkDrillServerName(v, env, problems);
  if (scenario === "drill") return parseDrill(v, env, drillServerName, now, problems);

  const settings = readIncidentSettings(v, scenario, now, problems);
  checkPromotionTarget(scenario, settings, env, problems);
  checkPromotionChoice(v, scenario, settings, problems);
  checkScaleDownBeforePromotion(settings, problems);
  if (scenario === "corrupted") return parseCorrupted(v, settings, env, problems);
  return parseServerGone(v, settings, env, now, problems);
}

/** Keys outside CONFIG_KEYS are typos or leftovers: each is reported, with the closest real key. */
function rejectUnknownKeys(keysSet: string[], problems: string[]): void {
  for (const key of keysSet) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      const hint = suggest(key, CONFIG_KEYS);
      problems.push(
        `${k(key)} is not a pg-recovery setting${hint ? `; did you mean ${k(hint)}?` : "."} ` +
          `Remove it with \`pulumi config rm ${k(key)}\`.`,
      );
    }
  }
}

/** The environment facts, or undefined (their problems reported) so later checks can skip them. */
function readEnvironment(raw: unknown, problems: string[]): Environment | undefined {
  const result = parseEnvironment(k("environment"), raw);
  if (!result.ok) {
    problems.push(...result.problems);
    return undefined;
  }
  return result.value;
}

/** Narrows config text to a scenario (checked, not cast). */
const isScenario = (text: string): text is Scenario =>
  (SCENARIOS as readonly string[]).includes(text);

/** The scenario (`none` when unset), or undefined when the text names none of them. */
function readScenario(text: string | undefined, problems: string[]): Scenario | undefined {
  const scenarioText = (text ?? "none").trim();
  if (isScenario(scenarioText)) return scenarioText;
  const hint = suggest(scenarioText, SCENARIOS);
  problems.push(
    `${k("scenario")} "${scenarioText}" is not a scenario. Use one of ${SCENARIOS.join(", ")}` +
      `${hint ? ` (did you mean ${hint}?)` : ""}: \`pulumi config set ${k("scenario")} corrupted\`.`,
  );
  return undefined;
}

/**
 * Steady state (also the answer for an unknown scenario, which is refused): nothing else is
 * read, so only the problems found so far can stop it.
 */
function steadyState(env: Environment | undefined, problems: string[]): SteadyState {
  if (problems.length || !env) throw new IncidentConfigError(problems);
  return { scenario: "none", env };
}

/** Every setting an incident reads, parsed one by one in a fixed order (the problems' order). */
function readIncidentSettings(
  v: RawConfig["values"],
  scenario: IncidentScenario,
  now: Date,
  problems: string[],
): IncidentSettings {
  const incidentDate = checkIncidentDate(
    v.incidentDate,
    scenario,
    "every dated name (backups, jobs, the freeze ruleset) derives from it",
    problems,
  );
  const requiredReviews = checkRequiredReviews(v.requiredReviews, problems);
  const scaleDown = parseBoolean("scaleDown", v.scaleDown, true, problems);
  const promote = parseBoolean("promote", v.promote, false, problems);
  const promotionMode = parsePromotionMode(v.promotionMode, problems);
  const promotionTables = parseTables(v.promotionTables, problems);
  const retainRestoredServer = parseBoolean(
    "retainRestoredServer",
    v.retainRestoredServer,
    true,
    problems,
  );
  const restoreTime = optionalTime("restoreTime", v.restoreTime, now, problems);
  const confirm = v.confirm?.trim();
  return {
    incidentDate,
    requiredReviews,
    scaleDown,
    promote,
    promotionMode,
    promotionTables,
    retainRestoredServer,
    restoreTime,
    confirm,
  };
}

/**
 * `incidentDate`, required in every scenario but steady state: dated names derive from it, never
 * from the clock. `why` says what derives from it in this scenario.
 */
function checkIncidentDate(
  text: string | undefined,
  scenario: Scenario,
  why: string,
  problems: string[],
): string | undefined {
  const incidentDate = text?.trim();
  if (!incidentDate) {
    problems.push(
      `${k("incidentDate")} is required when ${k("scenario")} is ${scenario}: ${why}. ` +
        `Set it: \`pulumi config set ${k("incidentDate")} YYYY-MM-DD\`.`,
    );
  } else if (!isCalendarDate(incidentDate)) {
    problems.push(
      `${k("incidentDate")} "${incidentDate}" is not a date in YYYY-MM-DD form (e.g. 2024-07-24).`,
    );
  }
  return incidentDate;
}

/** The freeze's required reviews: 1 to 10, GitHub's own bounds, so the ruleset is accepted. */
function checkRequiredReviews(text: string | undefined, problems: string[]): number | undefined {
  const requiredReviews = parseInteger(text, DEFAULT_REQUIRED_REVIEWS);
  if (requiredReviews === undefined || requiredReviews < 1 || requiredReviews > 10) {
    problems.push(
      `${k("requiredReviews")} "${text}" must be a whole number from 1 to 10 ` +
        `(GitHub's limit for required approving reviews; default ${DEFAULT_REQUIRED_REVIEWS}): ` +
        `\`pulumi config set ${k("requiredReviews")} ${DEFAULT_REQUIRED_REVIEWS}\`.`,
    );
  }
  return requiredReviews;
}

/** Promotion's target: only the corrupted scenario promotes, and `confirm` names live exactly. */
function checkPromotionTarget(
  scenario: IncidentScenario,
  s: IncidentSettings,
  env: Environment | undefined,
  problems: string[],
): void {
  const liveServer = env?.azure.server.name;
  // Promotion overwrites live data, so it needs the operator to name the exact target.
  if (s.promote && scenario !== "corrupted") {
    problems.push(
      `${k("promote")} only applies to the corrupted scenario (it copies the restored server back into live). ` +
        `Remove it: \`pulumi config rm ${k("promote")}\`.`,
    );
  }
  if (s.confirm && liveServer && s.confirm !== liveServer) {
    problems.push(
      `${k("confirm")} "${s.confirm}" does not match the live server "${liveServer}". It must name ` +
        `the server whose data will be overwritten, exactly: \`pulumi config set ${k("confirm")} ${liveServer}\`.`,
    );
  } else if (scenario === "corrupted" && s.promote && !s.confirm && liveServer) {
    problems.push(
      `${k("promote")} is true but ${k("confirm")} is not set. Promotion overwrites the live database ` +
        `${liveServer}/${env?.azure.server.database}; confirm that exact target: ` +
        `\`pulumi config set ${k("confirm")} ${liveServer}\` (or set ${k("promote")} false to stop before it).`,
    );
  }
}

/**
 * Promotion's mode and tables: outside the corrupted scenario they are refused; inside it, a
 * promotion needs a mode (each loses different data, so there is no default), and the table
 * list must fit the mode.
 */
function checkPromotionChoice(
  v: RawConfig["values"],
  scenario: IncidentScenario,
  s: IncidentSettings,
  problems: string[],
): void {
  if (scenario !== "corrupted") {
    rejectPromotionChoiceOutsideCorrupted(v, problems);
    return;
  }
  if (s.promote && s.promotionMode === undefined && !v.promotionMode?.trim()) {
    problems.push(
      `${k("promote")} is true but ${k("promotionMode")} is not set. Each mode loses different data, so ` +
        `choose after reading the promotion plan in the validation report: whole (live becomes the ` +
        `restored database: every write since the restore time is lost), tables (only the named tables ` +
        `go back to the restore time), merge (only re-inserts rows deleted since the restore time, in ` +
        `the named tables). \`pulumi config set ${k("promotionMode")} tables\`.`,
    );
  }
  if (s.promotionMode === "whole" && s.promotionTables.length > 0) {
    problems.push(
      `${k("promotionTables")} is set but ${k("promotionMode")} is whole, which replaces every table: ` +
        `the list would be ignored. Remove it (\`pulumi config rm ${k("promotionTables")}\`) or ` +
        `choose tables or merge: \`pulumi config set ${k("promotionMode")} tables\`.`,
    );
  }
  if (
    (s.promotionMode === "tables" || s.promotionMode === "merge") &&
    s.promotionTables.length === 0 &&
    !v.promotionTables?.trim()
  ) {
    problems.push(
      `${k("promotionMode")} ${s.promotionMode} needs ${k("promotionTables")}: the damaged tables, as ` +
        `schema.table, comma-separated (the validation report lists the tables that differ): ` +
        `\`pulumi config set ${k("promotionTables")} public.courses,public.sites\`.`,
    );
  }
}

/** Server gone has nothing to promote: a promotion mode or table list there is a mistake. */
function rejectPromotionChoiceOutsideCorrupted(v: RawConfig["values"], problems: string[]): void {
  for (const key of ["promotionMode", "promotionTables"] as const) {
    if (v[key]?.trim()) {
      problems.push(
        `${k(key)} only applies to the corrupted scenario (promotion copies the restored server back into live). ` +
          `Remove it: \`pulumi config rm ${k(key)}\`.`,
      );
    }
  }
}

/** Promotion needs the scale-down: writes the app makes while live is overwritten would be lost. */
function checkScaleDownBeforePromotion(s: IncidentSettings, problems: string[]): void {
  if (s.promote && !s.scaleDown) {
    problems.push(
      `${k("promote")} is true while ${k("scaleDown")} is false: promotion overwrites the live database, ` +
        `and writes the app makes meanwhile would be lost. Scale down first: \`pulumi config set ${k("scaleDown")} true\`.`,
    );
  }
}

/**
 * Corrupted: a point-in-time restore to `restoreTime` into a new (PTR) server, then validation
 * and, once chosen and confirmed, promotion. Throws with every problem found so far.
 */
function parseCorrupted(
  v: RawConfig["values"],
  s: IncidentSettings,
  env: Environment | undefined,
  problems: string[],
): CorruptedIncident {
  const liveServer = env?.azure.server.name;
  if (!v.restoreTime?.trim()) {
    problems.push(
      `${k("restoreTime")} is required for the corrupted scenario: the instant to restore to, one minute ` +
        `before the corruption, as RFC 3339 with an offset: \`pulumi config set ${k("restoreTime")} 2024-07-24T05:59:00Z\`.`,
    );
  }
  if (v.serverDeletedAt?.trim()) {
    problems.push(
      `${k("serverDeletedAt")} only applies to the server-gone scenario; remove it: \`pulumi config rm ${k("serverDeletedAt")}\`.`,
    );
  }
  const ptrServerName = checkPtrServerName(v, liveServer, problems);
  const { incidentDate, requiredReviews, restoreTime } = s;
  if (problems.length || !env || !restoreTime || !incidentDate || requiredReviews === undefined) {
    throw new IncidentConfigError(problems);
  }
  return {
    scenario: "corrupted",
    env,
    incidentDate,
    requiredReviews,
    scaleDown: s.scaleDown,
    restoreTime,
    ptrServerName,
    retainRestoredServer: s.retainRestoredServer,
    promotion: chosenPromotion(s, liveServer),
    promotionTables: s.promotionTables,
  };
}

/**
 * The PTR server's name (`<live>-ptr` by default): a valid Flexible Server name, and never the
 * live server's, because the restore creates a NEW server.
 */
function checkPtrServerName(
  v: RawConfig["values"],
  liveServer: string | undefined,
  problems: string[],
): string {
  const ptrServerName = v.ptrServerName?.trim() || (liveServer ? ptrServerDefault(liveServer) : "");
  if (ptrServerName && !/^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/.test(ptrServerName)) {
    problems.push(
      `${k("ptrServerName")} "${ptrServerName}" is not a valid Flexible Server name (3-63 lowercase letters, digits, '-'). ` +
        `Fix it, or \`pulumi config rm ${k("ptrServerName")}\` to use ${liveServer}-ptr.`,
    );
  }
  if (liveServer && ptrServerName === liveServer) {
    problems.push(
      `${k("ptrServerName")} must differ from the live server ${liveServer}: the restore creates a NEW server. ` +
        `\`pulumi config rm ${k("ptrServerName")}\` to use ${liveServer}-ptr.`,
    );
  }
  return ptrServerName;
}

/**
 * The promotion to declare: only when `promote`, a `confirm` naming the live server and a mode
 * all agree; otherwise none, and the run stops before promotion.
 */
function chosenPromotion(
  s: IncidentSettings,
  liveServer: string | undefined,
): Promotion | undefined {
  if (!s.promote || s.confirm !== liveServer || !s.promotionMode) return undefined;
  return s.promotionMode === "whole"
    ? { mode: "whole" }
    : { mode: s.promotionMode, tables: s.promotionTables };
}

/**
 * Server gone: revive the dropped server (both `serverDeletedAt` and `restoreTime`, inside
 * Azure's window) or, with neither, rebuild it empty and restore from storage.
 */
function parseServerGone(
  v: RawConfig["values"],
  s: IncidentSettings,
  env: Environment | undefined,
  now: Date,
  problems: string[],
): ServerGoneIncident {
  if (v.ptrServerName?.trim()) {
    problems.push(
      `${k("ptrServerName")} only applies to the corrupted scenario (server-gone recreates the server under its original name); ` +
        `remove it: \`pulumi config rm ${k("ptrServerName")}\`.`,
    );
  }
  const deletedAt = optionalTime("serverDeletedAt", v.serverDeletedAt, now, problems);
  checkRevivePair(v, problems);
  const { incidentDate, requiredReviews, restoreTime } = s;
  if (restoreTime && deletedAt) checkReviveWindow(restoreTime, deletedAt, now, problems);
  if (problems.length || !env || !incidentDate || requiredReviews === undefined) {
    throw new IncidentConfigError(problems);
  }
  const common = {
    scenario: "server-gone",
    env,
    incidentDate,
    requiredReviews,
    scaleDown: s.scaleDown,
  } as const;
  if (restoreTime && deletedAt) {
    return {
      ...common,
      mode: "revive",
      restoreTime,
      serverDeletedAt: deletedAt,
      restoreFromStorage: false,
    };
  }
  // The rebuilt server is new and empty, so restoring into it overwrites nothing.
  return { ...common, mode: "rebuild", restoreFromStorage: true };
}

/** Reviving needs `serverDeletedAt` and `restoreTime` together; one alone is a half-made choice. */
function checkRevivePair(v: RawConfig["values"], problems: string[]): void {
  if (!v.restoreTime?.trim() && v.serverDeletedAt?.trim()) {
    problems.push(
      `${k("serverDeletedAt")} is set but ${k("restoreTime")} is not: reviving the dropped server needs both. ` +
        `Set ${k("restoreTime")} (>= deletion + 10 minutes) to revive it, or ` +
        `\`pulumi config rm ${k("serverDeletedAt")}\` to rebuild an empty server and restore from storage.`,
    );
  }
  if (v.restoreTime?.trim() && !v.serverDeletedAt?.trim()) {
    problems.push(
      `${k("serverDeletedAt")} is required to revive a dropped server (server-gone with ${k("restoreTime")}): ` +
        `the time the server was deleted, from the Azure activity log, RFC 3339 with an offset: ` +
        `\`pulumi config set ${k("serverDeletedAt")} 2024-07-24T05:59:00Z\`. Or remove ${k("restoreTime")} to rebuild from storage.`,
    );
  }
}

/** Azure revives a dropped server only from 10 minutes after the drop, and only for 5 days. */
function checkReviveWindow(
  restoreTime: Date,
  deletedAt: Date,
  now: Date,
  problems: string[],
): void {
  const earliest = new Date(deletedAt.getTime() + REVIVE_MIN_DELAY_MS);
  if (restoreTime.getTime() < earliest.getTime()) {
    problems.push(
      `${k("restoreTime")} ${formatUtc(restoreTime)} is less than 10 minutes after the deletion ` +
        `(${formatUtc(deletedAt)}); Azure revives a dropped server only from ${formatUtc(earliest)} or later. ` +
        `Set ${k("restoreTime")} to ${formatUtc(earliest)} or later.`,
    );
  }
  const windowEnd = new Date(deletedAt.getTime() + REVIVE_WINDOW_MS);
  if (now.getTime() > windowEnd.getTime()) {
    problems.push(
      `${k("serverDeletedAt")} ${formatUtc(deletedAt)} is more than 5 days ago (window closed ${formatUtc(windowEnd)}): ` +
        `Azure can no longer revive it. Remove ${k("restoreTime")} to rebuild the server and restore from storage instead.`,
    );
  }
}

/** The drill: its date and restore time, nothing an incident writes (see DrillExercise). */
function parseDrill(
  v: RawConfig["values"],
  env: Environment | undefined,
  drillServerName: string | undefined,
  now: Date,
  problems: string[],
): DrillExercise {
  for (const key of INCIDENT_ONLY_KEYS) {
    if (v[key]?.trim()) {
      problems.push(
        `${k(key)} is an incident setting; a drill only reads live (no freeze, maintenance, ` +
          `scale-down or promotion). Remove it: \`pulumi config rm ${k(key)}\`.`,
      );
    }
  }
  const incidentDate = checkIncidentDate(
    v.incidentDate,
    "drill",
    "the drill's date, which its Job names derive from",
    problems,
  );
  if (!v.restoreTime?.trim()) {
    problems.push(
      `${k("restoreTime")} is required for a drill: the instant to restore live to (a recent one, ` +
        `inside the retention), RFC 3339 with an offset: \`pulumi config set ${k("restoreTime")} 2024-07-24T05:59:00Z\`.`,
    );
  }
  const restoreTime = optionalTime("restoreTime", v.restoreTime, now, problems);
  if (problems.length || !env || !incidentDate || !restoreTime || !drillServerName) {
    throw new IncidentConfigError(problems);
  }
  return { scenario: "drill", env, incidentDate, restoreTime, drillServerName };
}

/** `drillServerName` (or its default), checked in every scenario: it must never name live or the PTR. */
function checkDrillServerName(
  v: RawConfig["values"],
  env: Environment | undefined,
  problems: string[],
): string | undefined {
  const live = env?.azure.server.name;
  if (!live) return undefined;
  const name = v.drillServerName?.trim() || drillServerDefault(live);
  const ptr = v.ptrServerName?.trim() || ptrServerDefault(live);
  const fix = `\`pulumi config rm ${k("drillServerName")}\` to use ${drillServerDefault(live)}`;
  if (!/^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/.test(name)) {
    problems.push(
      `${k("drillServerName")} "${name}" is not a valid Flexible Server name (3-63 lowercase letters, digits, '-'). ` +
        `Fix it, or ${fix}.`,
    );
  } else if (name === live || name === ptr) {
    problems.push(
      `${k("drillServerName")} "${name}" is the ${name === live ? "live" : "point-in-time restore (PTR)"} ` +
        `server's name: the drill creates its own server and deletes it afterwards, so it must ` +
        `never share a name with a server that is kept. Use ${fix}.`,
    );
  }
  return name;
}

/** An optional instant: unset stays undefined; set, it is checked like any restore point. */
function optionalTime(
  key: ConfigKey,
  text: string | undefined,
  now: Date,
  problems: string[],
): Date | undefined {
  return text?.trim() ? checkedTime(key, text, now, problems) : undefined;
}

/** A restore point as RFC 3339 with an offset, and in the past: nothing can restore the future. */
function checkedTime(
  key: ConfigKey,
  text: string,
  now: Date,
  problems: string[],
): Date | undefined {
  const parsed = parseRestoreTime(k(key), text);
  if (!parsed.ok) {
    problems.push(parsed.problem);
    return undefined;
  }
  if (parsed.utc.getTime() > now.getTime()) {
    problems.push(
      `${k(key)} ${formatUtc(parsed.utc)} is in the future (now is ${formatUtc(now)}). ` +
        `Check the date and the offset: a restore point must already have happened. ` +
        `Set it with \`pulumi config set ${k(key)} YYYY-MM-DDThh:mm:ssZ\`.`,
    );
    return undefined;
  }
  if (key === "restoreTime" && parsed.utc.getTime() < now.getTime() - LONGEST_RETENTION_MS) {
    // The server's own retention is checked against the server before anything is declared
    // (stacks/preflight.ts); this bound holds for every server, so it needs no lookup.
    problems.push(
      `${k(key)} ${formatUtc(parsed.utc)} is more than ${MAX_BACKUP_RETENTION_DAYS} days ago ` +
        `(now is ${formatUtc(now)}): Azure keeps point-in-time backups at most ` +
        `${MAX_BACKUP_RETENTION_DAYS} days, so no server can be restored to it. Check the date; ` +
        `for an older state restore a backup from storage. ` +
        `Set it with \`pulumi config set ${k(key)} YYYY-MM-DDThh:mm:ssZ\`.`,
    );
    return undefined;
  }
  return parsed.utc;
}

/** Narrows config text to a promotion mode (checked, not cast). */
const isPromotionMode = (text: string): text is PromotionMode =>
  (PROMOTION_MODES as readonly string[]).includes(text);

/** `promotionMode`, when set: one of the data tool's modes, or a problem with the nearest one. */
function parsePromotionMode(
  text: string | undefined,
  problems: string[],
): PromotionMode | undefined {
  const t = text?.trim();
  if (!t) return undefined;
  if (isPromotionMode(t)) return t;
  const hint = suggest(t, PROMOTION_MODES);
  problems.push(
    `${k("promotionMode")} "${t}" is not a promotion mode. Use one of ${PROMOTION_MODES.join(", ")}` +
      `${hint ? ` (did you mean ${hint}?)` : ""}: \`pulumi config set ${k("promotionMode")} tables\`.`,
  );
  return undefined;
}

/**
 * `public.a,public.b`, or a YAML list in the stack file (which Pulumi hands over as JSON). Each
 * entry is read by the data tool's own parser (contract/table-names.ts), so what passes here is
 * what `--tables` accepts, quoted and mixed-case names included; the schema is required here.
 */
function parseTables(text: string | undefined, problems: string[]): string[] {
  const t = text?.trim();
  if (!t) return [];
  let items: unknown[];
  if (t.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(t);
      items = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      items = [t];
    }
  } else items = splitTableList(t);
  const tables = items.map((x) => String(x).trim());
  const canonical = new Map<string, string>();
  const bad = tables.filter((x) => {
    try {
      const typed = parseTableName(x);
      canonical.set(x, canonicalTableName(typed));
      return typed.schema === undefined;
    } catch (e) {
      if (e instanceof TableNameError) return true;
      throw e;
    }
  });
  if (bad.length > 0) {
    problems.push(
      `${k("promotionTables")} has ${bad.map((b) => `"${b}"`).join(", ")}: each entry must be schema.table ` +
        `(as the promotion plan prints it; a part with capitals or odd characters may be double-quoted, ` +
        `e.g. public."__EFMigrationsHistory"), comma-separated: \`pulumi config set ${k("promotionTables")} public.courses,public.sites\`.`,
    );
    return [];
  }
  const keys = tables.map((x) => canonical.get(x)!);
  const dupes = tables.filter((_, i) => keys.indexOf(keys[i]) !== i);
  const unique = tables.filter((_, i) => keys.indexOf(keys[i]) === i);
  if (dupes.length > 0) {
    problems.push(
      `${k("promotionTables")} names ${[...new Set(dupes)].join(", ")} more than once; list each ` +
        `table once: \`pulumi config set ${k("promotionTables")} ${unique.join(",")}\`.`,
    );
  }
  return unique;
}

/** A true/false switch; unset means its default, and anything else is a problem. */
function parseBoolean(key: ConfigKey, text: string | undefined, dflt: boolean, problems: string[]) {
  if (text === undefined || text.trim() === "") return dflt;
  const t = text.trim().toLowerCase();
  if (t === "true") return true;
  if (t === "false") return false;
  problems.push(
    `${k(key)} "${text}" must be true or false: \`pulumi config set ${k(key)} ${dflt}\`.`,
  );
  return dflt;
}

/** A whole number, its default when unset; undefined (the caller reports it) when not a number. */
function parseInteger(text: string | undefined, dflt: number): number | undefined {
  if (text === undefined || text.trim() === "") return dflt;
  return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

/** `YYYY-MM-DD` naming a real day (2024-02-30 is not one). */
function isCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}
