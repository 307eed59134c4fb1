/**
 * The checks that need no engine, before the engine is needed: the command line's times read
 * once, here at the edge, into the contract's instant type, and the config door run on what the
 * command would set over the stack file, so `start --dry-run` with a bad time says what is wrong
 * on a machine with no Pulumi CLI at all. Only problems with the values the command line gave
 * refuse here: the rest of the config is the stack's, which only the engine knows for sure (a
 * fresh checkout mid-incident takes it over from the stack's last update); the door runs again
 * on the real config before anything is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  formatLondon,
  fromEpochMicros,
  Instant,
  parseRestoreTime,
  parseRfc3339,
} from "../contract/time";
import { isoDay } from "../contract/backup-names";
import { loadStackConfig } from "../offline/stack-config";
import {
  ConfigKey,
  INCIDENT_ONLY_KEYS,
  IncidentConfigError,
  parseIncident,
} from "../stacks/incident";
import type { DrillCommand, PromoteCommand, StartCommand } from "./args";
import {
  applyChange,
  doorRefusal,
  flagsGiven,
  Given,
  INCIDENT_KEYS,
  key,
  rawConfigOf,
} from "./door";
import { ConfigMap } from "./engine";
import { Refusal } from "./io";

/** A time as the operator typed it (kept in the config as typed) and the instant it names. */
export interface GivenTime {
  text: string;
  instant: Instant;
}

export interface StartTimes {
  restoreTime?: GivenTime;
  deletedAt?: GivenTime;
  noticedAt?: GivenTime;
}

/** Reads a restore point (Azure's rules) from its flag; a refusal in the door's words. */
function restorePoint(k: ConfigKey, text: string | undefined): GivenTime | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRestoreTime(key(k), text);
  if (!parsed.ok) {
    throw doorRefusal(new IncidentConfigError([parsed.problem]), flagsGiven([k]));
  }
  return { text, instant: fromEpochMicros(BigInt(parsed.utc.getTime()) * 1000n) };
}

/** `--restore-time` of a command other than start (the drill), parsed once at the edge. */
export function givenRestoreTime(text: string | undefined): GivenTime | undefined {
  return restorePoint("restoreTime", text);
}

/** The command line's times, each parsed once. */
export function givenTimes(cmd: StartCommand, now: Date): StartTimes {
  const times: StartTimes = {
    restoreTime: restorePoint("restoreTime", cmd.restoreTime),
    deletedAt: restorePoint("serverDeletedAt", cmd.deletedAt),
  };
  if (cmd.noticedAt !== undefined) {
    try {
      times.noticedAt = { text: cmd.noticedAt, instant: parseRfc3339(cmd.noticedAt) };
    } catch (e) {
      throw new Refusal(`--noticed-at: ${(e as Error).message}. Nothing was changed.`);
    }
  }
  checkNoticedAt(times, now);
  return times;
}

const msOf = (i: Instant) => Number(i.epochMicros / 1000n);

function checkNoticedAt(times: StartTimes, now: Date): void {
  const noticed = times.noticedAt;
  if (!noticed) return;
  if (msOf(noticed.instant) > now.getTime()) {
    throw new Refusal(
      `--noticed-at ${noticed.instant.utc} is in the future (now is ${now.toISOString()}); check the date and the offset. Nothing was changed.`,
    );
  }
  const rt = times.restoreTime;
  if (rt && rt.instant.epochMicros > noticed.instant.epochMicros) {
    throw new Refusal(
      `--restore-time ${rt.instant.utc} is after --noticed-at ${noticed.instant.utc} ` +
        `(${formatLondon(new Date(msOf(noticed.instant)))}): the restore ` +
        `point must be before the corruption, and so before it was noticed. Nothing was changed.`,
    );
  }
}

/** The stack file's config, or undefined without one (the engine then says which stacks exist). */
function stackFileConfig(stack: string, workDir: string): ConfigMap | undefined {
  if (!fs.existsSync(path.join(workDir, `Pulumi.${stack}.yaml`))) return undefined;
  const config = loadStackConfig(stack, {}, workDir);
  return Object.fromEntries(
    Object.entries(config).map(([k, value]) => [k, { value, secret: false }]),
  );
}

/** The door on the stack file plus what the command sets; refuses on the values it gave. */
function preflight(
  stack: string,
  workDir: string,
  set: Record<string, string>,
  remove: string[],
  given: Given,
  now: Date,
): void {
  const file = stackFileConfig(stack, workDir);
  if (!file) return;
  try {
    parseIncident(rawConfigOf(applyChange(file, { set, remove })), now);
  } catch (e) {
    if (!(e instanceof IncidentConfigError)) throw e;
    const mine = e.problems.filter((p) =>
      Object.keys(given).some((k) => new RegExp(`${key(k)}\\b`).test(p)),
    );
    if (mine.length) throw doorRefusal(new IncidentConfigError(mine), given);
  }
}

export function preflightStart(cmd: StartCommand, times: StartTimes, now: Date): void {
  const set: Record<string, string> = { scenario: cmd.scenario };
  const flagged: ConfigKey[] = [];
  const put = (k: ConfigKey, value: string | undefined) => {
    if (value === undefined) return;
    set[k] = value;
    flagged.push(k);
  };
  put("incidentDate", cmd.incidentDate);
  set.incidentDate ??= isoDay(now);
  put("restoreTime", times.restoreTime?.text);
  put("serverDeletedAt", times.deletedAt?.text);
  const remove = INCIDENT_KEYS.filter((k) => !(k in set));
  preflight(cmd.stack, cmd.workDir, set, remove, flagsGiven(flagged), now);
}

export function preflightPromote(cmd: PromoteCommand, now: Date): void {
  // promote runs only on a corrupted-scenario incident (the session checks the stack's).
  const set: Record<string, string> = {
    scenario: "corrupted",
    promote: "true",
    promotionMode: cmd.mode,
    confirm: cmd.confirm,
  };
  if (cmd.tables) set.promotionTables = cmd.tables;
  const given = flagsGiven([
    "promotionMode",
    "confirm",
    ...(cmd.tables ? ["promotionTables" as const] : []),
  ]);
  preflight(cmd.stack, cmd.workDir, set, [], given, now);
}

/** The drill's values its own flags gave (its date is `--date`), for the door's hints. */
export function drillGiven(o: { restoreTime?: GivenTime; date?: string }): Given {
  return {
    ...(o.restoreTime ? flagsGiven(["restoreTime"]) : {}),
    ...(o.date !== undefined ? { incidentDate: "--date" as const } : {}),
  };
}

/**
 * The drill's date and restore time, as given, against the door over the stack file: a bad
 * `--date` or a restore time in the future is refused before any engine is looked for.
 */
export function preflightDrill(
  cmd: DrillCommand,
  restoreTime: GivenTime | undefined,
  now: Date,
): void {
  const set: Record<string, string> = {
    scenario: "drill",
    incidentDate: cmd.date ?? isoDay(now),
    ...(restoreTime ? { restoreTime: restoreTime.text } : {}),
  };
  const given = drillGiven({ restoreTime, date: cmd.date });
  preflight(cmd.stack, cmd.workDir, set, [...INCIDENT_ONLY_KEYS], given, now);
}
