/**
 * The config door, as the runner passes through it: every command computes the config it is
 * about to set, and that config goes through `parseIncident` (the program's own door, same
 * messages) with the stack's facts before anything is written. A refusal names the runner's
 * flag for each key it mentions.
 */
import { parseRfc3339 } from "../contract/time";
import {
  CONFIG_KEYS,
  ConfigKey,
  Incident,
  IncidentConfigError,
  parseIncident,
  PROJECT,
  RawConfig,
} from "../stacks/incident";
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
  "serverDeletedAt",
  "scaleDown",
  "promote",
  "promotionMode",
  "promotionTables",
  "confirm",
] as const satisfies readonly ConfigKey[];

/** The runner's flag for each key it sets. */
export const FLAG_OF: Partial<Record<ConfigKey, string>> = {
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

/** The door's verdict on a config; a refusal carries its messages and the runner's flags. */
export function passDoor(config: ConfigMap, now: Date): Incident {
  try {
    return parseIncident(rawConfigOf(config), now);
  } catch (e) {
    if (e instanceof IncidentConfigError) {
      const flags = Object.entries(FLAG_OF)
        .filter(([k]) => e.problems.some((p) => p.includes(key(k))))
        .map(([k, flag]) => `${key(k)} is ${flag}`);
      const hint = flags.length
        ? `\nWith pg-recovery, ${flags.join(", ")}: fix the flag and rerun.`
        : `\nFix the stack file (Pulumi.<stack>.yaml) and rerun.`;
      throw new Refusal(`${e.message}${hint}`);
    }
    throw e;
  }
}

/** The incident the config describes, or undefined when the door refuses it. */
export function incidentOf(config: ConfigMap, now: Date): Incident | undefined {
  try {
    return parseIncident(rawConfigOf(config), now);
  } catch {
    return undefined;
  }
}

export const valueOf = (config: ConfigMap, k: ConfigKey): string | undefined =>
  config[key(k)]?.value;

/** The scenario the config names (`none` when unset). */
export function scenarioOf(config: ConfigMap): string {
  return (valueOf(config, "scenario") ?? "none").trim() || "none";
}

/** True when two RFC 3339 texts name the same instant (or both are absent). */
export function sameInstant(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  try {
    return parseRfc3339(a).epochMicros === parseRfc3339(b).epochMicros;
  } catch {
    return a.trim() === b.trim();
  }
}
