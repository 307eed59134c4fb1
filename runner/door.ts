/**
 * The config door, as the runner passes through it: every command computes the config it is
 * about to set, and that config goes through `parseIncident` (the program's own door, same
 * messages) with the stack's facts before anything is written. A refusal names the runner's
 * flag for each key it mentions.
 */
import { Instant, parseRfc3339 } from "../contract/time";
import {
  CONFIG_KEYS,
  INCIDENT_ONLY_KEYS,
  IncidentConfigError,
  parseIncident,
  PROJECT,
} from "../stacks/incident";
import type { ConfigKey, Incident, RawConfig } from "../stacks/incident";
import { ConfigMap } from "./engine";
import { Refusal } from "./io";

export const key = (k: string) => `${PROJECT}:${k}`;

/**
 * The keys the runner sets during an incident, and removes when it is over. Keys an operator may
 * keep in the stack file for good (requiredReviews, ptrServerName, retainRestoredServer) are
 * left alone.
 */
export const INCIDENT_KEYS = [
  "scenario",
  "incidentDate",
  "restoreTime",
  ...INCIDENT_ONLY_KEYS,
] as const satisfies readonly ConfigKey[];

/** A command-line flag that gave a key's value: `--restore-time`, or the drill's `--date`. */
export type Flag = `--${string}`;

/** The runner's flag for each key it sets. */
export const FLAG_OF: Partial<Record<ConfigKey, Flag>> = {
  scenario: "--scenario",
  incidentDate: "--incident-date",
  restoreTime: "--restore-time",
  serverDeletedAt: "--deleted-at",
  promotionMode: "--mode",
  promotionTables: "--tables",
  confirm: "--confirm",
};

/** Keys to set (unprefixed -> value) and keys to remove. */
export interface ConfigChange {
  set: Record<string, string>;
  remove: string[];
}

export function applyChange(config: ConfigMap, change: ConfigChange): ConfigMap {
  const next: ConfigMap = { ...config };
  for (const k of change.remove) delete next[key(k)];
  for (const [k, v] of Object.entries(change.set)) next[key(k)] = { value: v, secret: false };
  return next;
}

/** Keys whose value differs between two configs (prefixed). */
export function changedKeys(before: ConfigMap, after: ConfigMap): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k]?.value !== after[k]?.value).sort();
}

export function rawConfigOf(config: ConfigMap): RawConfig {
  const values: RawConfig["values"] = {};
  for (const k of CONFIG_KEYS) {
    if (k !== "environment" && config[key(k)] !== undefined) values[k] = config[key(k)].value;
  }
  const envText = config[key("environment")]?.value;
  let environment: unknown = undefined;
  if (envText !== undefined) {
    try {
      environment = JSON.parse(envText);
    } catch {
      environment = envText;
    }
  }
  const keysSet = Object.keys(config)
    .filter((k) => k.startsWith(`${PROJECT}:`))
    .map((k) => k.slice(PROJECT.length + 1));
  return { values, environment, keysSet };
}

/**
 * How a key's value reached the config, so a hint names the way to change it: a runner flag
 * (its name), a `--set key=value` (plan, commands), a key those offline commands could take with
 * `--set` though it came from the stack file or nowhere ("settable"), or (absent) the stack
 * file. Keyed by the name as given: a `--set` may name a key that is not a setting.
 */
export type Given = Partial<Record<ConfigKey | string, Flag | "set" | "settable">>;

const isFlag = (by: Given[string]): by is Flag => by?.startsWith("--") === true;

/** Keys given by the runner's own flags (FLAG_OF), for the door's hints. */
export const flagsGiven = (keys: ConfigKey[]): Given =>
  Object.fromEntries(
    keys.flatMap((k): [string, Flag][] => {
      const flag = FLAG_OF[k];
      return flag ? [[k, flag]] : [];
    }),
  );

/** A door problem reworded for values given on the command line. */
export function hintFor(problem: string, given: Given): string {
  return problem
    .replace(
      new RegExp(`\`pulumi config set ${PROJECT}:(\\w+) ([^\`]*)\``, "g"),
      (whole, k: string, value: string) => {
        const by = given[k];
        if (isFlag(by)) return `\`${by} ${value}\``;
        if (by === "set" || by === "settable") return `\`--set ${k}=${value}\``;
        return whole;
      },
    )
    .replace(new RegExp(`with \`pulumi config rm ${PROJECT}:(\\w+)\``, "g"), (whole, k: string) =>
      given[k] === "set" ? `from the command line (drop \`--set ${k}=...\`)` : whole,
    );
}

/** A key a door problem names: `pg-recovery:<key>`. */
const MENTIONED_KEY = new RegExp(`${PROJECT}:(\\w+)`, "g");

/** The door's verdict on a config; a refusal carries its messages and the way to fix each. */
export function passDoor(config: ConfigMap, now: Date, given: Given = {}): Incident {
  const v = doorVerdict(config, now);
  if (!v.ok) throw doorRefusal(v.refused, given);
  return v.incident;
}

/** The door on a config: the incident it describes, or the problems that refuse it. */
export type DoorVerdict =
  { ok: true; incident: Incident } | { ok: false; refused: IncidentConfigError };

export function doorVerdict(config: ConfigMap, now: Date): DoorVerdict {
  try {
    return { ok: true, incident: parseIncident(rawConfigOf(config), now) };
  } catch (e) {
    if (e instanceof IncidentConfigError) return { ok: false, refused: e };
    throw e;
  }
}

export function doorRefusal(e: IncidentConfigError, given: Given): Refusal {
  // Every key a problem names, settings or not (an unknown key is named as it was given).
  const mentioned = [
    ...new Set(e.problems.flatMap((p) => [...p.matchAll(MENTIONED_KEY)].map((m) => m[1]))),
  ];
  const flags = mentioned.flatMap((k) => {
    const by = given[k];
    return isFlag(by) ? [`${key(k)} is ${by}`] : [];
  });
  const sets = mentioned.filter((k) => given[k] === "set");
  const settable = mentioned.filter((k) => given[k] === "settable");
  const fromFile = mentioned.some((k) => !given[k]);
  const hint = [
    flags.length ? `With pg-recovery, ${flags.join(", ")}: fix the flag and rerun.` : "",
    sets.length ? `${sets.join(", ")} came from --set: fix the --set and rerun.` : "",
    settable.length
      ? `Give ${settable.join(", ")} with --set (or in the stack file, Pulumi.<stack>.yaml) and rerun.`
      : "",
    fromFile || !(flags.length || sets.length || settable.length)
      ? `Fix the stack file (Pulumi.<stack>.yaml) and rerun.`
      : "",
  ].filter(Boolean);
  const reworded = new IncidentConfigError(e.problems.map((p) => hintFor(p, given)));
  return new Refusal(`${reworded.message}\n${hint.join(" ")}`);
}

export const valueOf = (config: ConfigMap, k: ConfigKey): string | undefined =>
  config[key(k)]?.value;

/** The scenario the config names (`none` when unset). */
export function scenarioOf(config: ConfigMap): string {
  return (valueOf(config, "scenario") ?? "none").trim() || "none";
}

/** True when the stack's RFC 3339 text names the given instant (or both are absent). */
export function sameInstant(given: Instant | undefined, stored: string | undefined): boolean {
  if (given === undefined || stored === undefined)
    return given === undefined && stored === undefined;
  try {
    return parseRfc3339(stored).epochMicros === given.epochMicros;
  } catch {
    return false;
  }
}
