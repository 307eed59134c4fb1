/**
 * What a runner command is, declared once: its flags (each with what it means), its usage line
 * and an example. The command line (args.ts) builds the parser, the help and the usage errors
 * from this, so the help cannot drift from what the parser takes. Light on purpose: nothing here
 * loads the engine, so `--help` and a usage error cost no more than reading this.
 */
import * as path from "node:path";
import { closestWord } from "../../contract/did-you-mean";

/** The repository root: the product's Pulumi project. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface Flag {
  /** Commander's notation: `--stack <env>`, `--dry-run`, `--set <key=value>`. */
  flags: string;
  /** What it does, for the help. */
  description: string;
  /** The values it takes (did-you-mean for the others). */
  choices?: readonly string[];
  /** May be given more than once (collected in order). */
  repeatable?: boolean;
}

export interface CommandDefinition {
  name: string;
  /** One line, for the list of commands. */
  summary: string;
  /** The usage line after `pg-recovery <name> `. */
  usage: string;
  /** What it does, a few lines, for its own help. */
  description: string;
  flags: Flag[];
  /** Complete command lines, shown under the help. */
  examples: string[];
}

/** The values commander parsed, by attribute name (`--work-dir` -> `workDir`). */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** The parse of one command's flags: its typed command, or the usage problem. */
export type Shaped<C> = { ok: true; command: C } | { ok: false; message: string };

export const STACK: Flag = {
  flags: "--stack <env>",
  description:
    "the environment's stack: its Pulumi.<env>.yaml holds the facts (e.g. qa, production)",
};
export const WORK_DIR: Flag = {
  flags: "--work-dir <dir>",
  description: "the Pulumi project directory (default: this repository)",
};
export const YES: Flag = {
  flags: "--yes <env>",
  description: "confirm by naming the environment instead of typing it (for automation)",
};
export const DRY_RUN: Flag = {
  flags: "--dry-run",
  description: "run the checks and show the summary, then stop: nothing is changed",
};
export const PULUMI: Flag = {
  flags: "--pulumi <path>",
  description:
    "the Pulumi CLI to use (default: $PULUMI_CLI, else pulumi on PATH, else the one the " +
    "Automation API installed under ~/.pulumi/versions, else it installs that one)",
};
export const SET: Flag = {
  flags: "--set <key=value>",
  description:
    "a config override, with or without the pg-recovery: prefix (repeatable), " +
    "e.g. --set scenario=corrupted --set restoreTime=2024-07-24T05:59:00Z",
  repeatable: true,
};

/** The flags every command that drives the engine takes. */
export const ENGINE_FLAGS = [STACK, WORK_DIR, YES, PULUMI];
/** ... and the commands that change things also take --dry-run. */
export const CHANGING_FLAGS = [STACK, DRY_RUN, YES, WORK_DIR, PULUMI];
/** The flags of the commands that need no engine (plan, commands). */
export const OFFLINE_FLAGS = [STACK, SET, WORK_DIR];

/** A command's own flags, listed in its help right after --stack, then `common`'s others. */
export function flagsWith(common: Flag[], ...own: Flag[]): Flag[] {
  return [common[0], ...own, ...common.slice(1)];
}

/** What every engine command's typed form carries. */
export interface Common {
  stack: string;
  /** The Pulumi project directory (default: the repository root). */
  workDir: string;
  /** `--yes <env>`: confirms without a prompt by naming the environment. */
  yes?: string;
  /** `--dry-run`: the checks and the summary, then stop; nothing is changed. */
  dryRun?: boolean;
  /** `--pulumi <path>`: the CLI to use (else resolved, see pulumi-cli.ts). */
  pulumi?: string;
}

export function commonOf(values: Values, cwd: string): Common {
  const get = (k: string) => values[k] as string | undefined;
  return {
    stack: get("stack") ?? "",
    workDir: path.resolve(cwd, get("workDir") ?? REPO_ROOT),
    yes: get("yes"),
    dryRun: values.dryRun === true,
    ...(get("pulumi") ? { pulumi: path.resolve(cwd, get("pulumi")!) } : {}),
  };
}

/** The typed form of a command that takes nothing but the common flags. */
export function commonShape<N extends string>(command: N) {
  return (values: Values, cwd: string): Shaped<Common & { command: N }> => ({
    ok: true,
    command: { ...commonOf(values, cwd), command },
  });
}

/** What the offline commands (plan, commands) carry. */
export interface Offline {
  stack: string;
  /** Where the stack files are (default: this repository). */
  workDir: string;
  /** Config overrides, as `--set` gives them. */
  sets: Record<string, string>;
}

export function offlineOf(values: Values, cwd: string): Shaped<Offline> {
  const sets = setsOf(values);
  if (!sets.ok) return sets;
  return {
    ok: true,
    command: {
      stack: values.stack as string,
      workDir: path.resolve(cwd, (values.workDir as string | undefined) ?? REPO_ROOT),
      sets: sets.command,
    },
  };
}

/** `--set key=value ...` as a map, or the first malformed one. */
export function setsOf(values: Values): Shaped<Record<string, string>> {
  const sets: Record<string, string> = {};
  for (const item of (values.set as string[] | undefined) ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) {
      return {
        ok: false,
        message: `--set "${item}" must be key=value, e.g. --set scenario=corrupted`,
      };
    }
    sets[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return { ok: true, command: sets };
}

/** A value of an enumerated flag, or the problem with did-you-mean. */
export function choiceOf(
  flag: string,
  value: string | undefined,
  choices: readonly string[],
  example: string,
): Shaped<string> {
  if (value !== undefined && choices.includes(value)) return { ok: true, command: value };
  const list = `${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
  const hint = value === undefined ? undefined : closestWord(value, choices);
  return {
    ok: false,
    message:
      `${flag} must be ${list}${value === undefined ? "" : ` (not "${value}")`}` +
      (hint ? `. Did you mean ${flag} ${hint}?` : `: e.g. ${example}`),
  };
}
