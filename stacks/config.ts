/**
 * Reads the stack's `pg-recovery:*` config from the Pulumi runtime and hands it to the config
 * door (`parseIncident`). Kept apart so the door itself stays a pure function.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, IncidentConfigError, parseIncident, PROJECT } from "./incident";
import type { ConfigKey, Incident } from "./incident";

export function readIncident(now: Date = new Date()): Incident {
  const cfg = new pulumi.Config(PROJECT);
  const values: Partial<Record<Exclude<ConfigKey, "environment">, string>> = {};
  for (const key of CONFIG_KEYS) {
    if (key !== "environment") values[key] = cfg.get(key);
  }
  let environment: unknown;
  try {
    environment = cfg.getObject<unknown>("environment");
  } catch (e) {
    throw new IncidentConfigError([
      `${PROJECT}:environment is not valid JSON/YAML (${(e as Error).message}). Fix it in Pulumi.<stack>.yaml.`,
    ]);
  }
  const prefix = `${PROJECT}:`;
  const keysSet = Object.keys(pulumi.runtime.allConfig())
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  return parseIncident({ values, environment, keysSet }, now);
}
