/**
 * The command line: `pg-recovery <command> --stack <env> [flags]`, parsed into one typed
 * command. Only the shape is checked here (flags known, values present); what the values mean
 * (times, modes, tables, the live server's name) is checked by the config door, with its own
 * messages, before anything changes.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";

/** The repository root: the product's Pulumi project. */
export const REPO_ROOT = path.resolve(__dirname, "..");

interface Common {
  stack: string;
  /** The Pulumi project directory (default: the repository root). */
  workDir: string;
  /** `--yes <env>`: confirms without a prompt by naming the environment. */
  yes?: string;
  /** `--dry-run`: the checks and the summary, then stop; nothing is changed. */
  dryRun?: boolean;
}

export interface StartCommand extends Common {
  command: "start";
  scenario: "corrupted" | "server-gone";
  restoreTime?: string;
  incidentDate?: string;
  deletedAt?: string;
  /** When the corruption was noticed, as the operator typed it (for the RPO). */
  noticedAt?: string;
}

export interface PromoteCommand extends Common {
  command: "promote";
  mode: string;
  tables?: string;
  confirm: string;
}

export interface PlainCommand extends Common {
  command: "resume" | "finish" | "abort";
}

export interface StatusCommand extends Common {
  command: "status";
  json: boolean;
}

export interface RecordCommand extends Common {
  command: "record";
  /** Directory the Markdown and JSON files are written to. */
  out: string;
}

/** `drill`: the restore drill (runner/drill/run.ts). */
export interface DrillCommand extends Common {
  command: "drill";
  restoreTime?: string;
  date?: string;
  keep: boolean;
  history: boolean;
  out: string;
}

export interface CommandsCommand {
  command: "commands";
  stack: string;
  workDir: string;
  /** Config overrides, as `npm run plan -- --set` takes them. */
  sets: Record<string, string>;
}

export type Command =
  | StartCommand
  | PromoteCommand
  | PlainCommand
  | StatusCommand
  | RecordCommand
  | CommandsCommand
  | DrillCommand;

export type Parsed =
  { ok: true; command: Command } | { ok: false; message: string; help?: boolean };

export const USAGE = `usage: pg-recovery <command> --stack <env> [flags]

An incident in at most five commands, each showing what it will do before it changes anything:
  start    --stack <env> --scenario corrupted --restore-time <RFC 3339> [--incident-date YYYY-MM-DD] [--noticed-at <RFC 3339>]
           freeze, maintenance, scale-down, ad-hoc backup, point-in-time restore; then waits for the
           backup and validation jobs and prints the validation report and the promotion plan
  start    --stack <env> --scenario server-gone [--deleted-at <RFC 3339> --restore-time <RFC 3339>] [--incident-date ...]
           revive the dropped server (with the times) or rebuild it and restore the latest complete backup
  promote  --stack <env> --mode whole|tables|merge [--tables schema.table,...] --confirm <live server>
           copy the restored data into live, as the promotion plan described; waits for the job
  resume   --stack <env>   the app back (its recorded replica counts) while maintenance stays on
  finish   --stack <env>   revert everything (destroy --run-program) and return the stack to scenario none
  abort    --stack <env>   the same revert, from any point (even with jobs running)
  status   --stack <env> [--json]   what is declared, the jobs and their state, times so far
  record   --stack <env> [--out DIR]   the incident record, Markdown and JSON (never a secret)
  drill    --stack <env> [--restore-time <RFC 3339>] [--date YYYY-MM-DD] [--keep] [--out DIR]   a restore drill: live restored
           into a throwaway server and the latest backup into a scratch database, checked, measured,
           recorded, removed; live is only read (docs/drill.md). --history: the past drills and a chart
  commands --stack <env> [--set key=value ...]   break-glass: the equivalent kubectl, az and gh api
           commands from the offline plan, in runbook order, with their revert commands

Flags for every command:
  --yes <env>       confirm by naming the environment instead of typing it (for automation)
  --dry-run         start/promote/resume/finish/abort: the checks and the summary only; nothing changes
  --work-dir DIR    the Pulumi project (default: this repository)
Times are RFC 3339 with an offset: 2024-07-24T05:59:00Z or 2024-07-24T06:59:00+01:00.
Exit codes: 0 done; 1 failed or refused (nothing more was changed); 2 usage.`;

const COMMANDS = [
  "start",
  "promote",
  "resume",
  "finish",
  "abort",
  "status",
  "record",
  "commands",
  "drill",
] as const;

type Option = { type: "string" | "boolean"; multiple?: boolean };

const COMMON: Record<string, Option> = {
  stack: { type: "string" },
  "work-dir": { type: "string" },
  yes: { type: "string" },
  help: { type: "boolean" },
};

/** Commands that change things: they also take --dry-run. */
const CHANGING: Record<string, Option> = { ...COMMON, "dry-run": { type: "boolean" } };

const OPTIONS: Record<(typeof COMMANDS)[number], Record<string, Option>> = {
  start: {
    ...CHANGING,
    scenario: { type: "string" },
    "restore-time": { type: "string" },
    "incident-date": { type: "string" },
    "deleted-at": { type: "string" },
    "noticed-at": { type: "string" },
  },
  promote: {
    ...CHANGING,
    mode: { type: "string" },
    tables: { type: "string" },
    confirm: { type: "string" },
  },
  resume: CHANGING,
  finish: CHANGING,
  abort: CHANGING,
  status: { ...COMMON, json: { type: "boolean" } },
  record: { ...COMMON, out: { type: "string" } },
  drill: {
    ...CHANGING,
    "restore-time": { type: "string" },
    date: { type: "string" },
    keep: { type: "boolean" },
    history: { type: "boolean" },
    out: { type: "string" },
  },
  commands: {
    stack: { type: "string" },
    "work-dir": { type: "string" },
    set: { type: "string", multiple: true },
    help: { type: "boolean" },
  },
};

export function parseCommandLine(argv: string[], cwd: string = process.cwd()): Parsed {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    return { ok: false, message: USAGE, help: true };
  }
  if (!(COMMANDS as readonly string[]).includes(name)) {
    return { ok: false, message: `unknown command "${name}".\n\n${USAGE}` };
  }
  const command = name as (typeof COMMANDS)[number];
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: rest, options: OPTIONS[command], strict: true }).values;
  } catch (e) {
    return { ok: false, message: `${(e as Error).message}\n\n${USAGE}` };
  }
  if (values.help) return { ok: false, message: USAGE, help: true };
  const get = (flag: string) => values[flag] as string | undefined;
  const stack = get("stack");
  if (!stack) {
    return {
      ok: false,
      message: `--stack is required: the environment's stack, e.g. --stack qa.\n\n${USAGE}`,
    };
  }
  const workDir = path.resolve(cwd, get("work-dir") ?? REPO_ROOT);
  for (const [flag, v] of Object.entries(values)) {
    if (typeof v === "string" && v.trim() === "") {
      return { ok: false, message: `--${flag} is empty; give it a value or leave it out.` };
    }
  }
  const common = { stack, workDir, yes: get("yes"), dryRun: values["dry-run"] === true };

  switch (command) {
    case "start": {
      const scenario = get("scenario");
      if (scenario !== "corrupted" && scenario !== "server-gone") {
        return {
          ok: false,
          message:
            `--scenario must be corrupted or server-gone${scenario ? ` (not "${scenario}")` : ""}: ` +
            `e.g. pg-recovery start --stack ${stack} --scenario corrupted --restore-time 2024-07-24T05:59:00Z`,
        };
      }
      if (scenario === "corrupted" && !get("restore-time")) {
        return {
          ok: false,
          message:
            `--restore-time is required for the corrupted scenario: one minute before the corruption, ` +
            `RFC 3339 with an offset, e.g. --restore-time 2024-07-24T06:59:00+01:00.`,
        };
      }
      if (scenario === "corrupted" && get("deleted-at")) {
        return {
          ok: false,
          message: `--deleted-at only applies to --scenario server-gone (when the server was dropped).`,
        };
      }
      return {
        ok: true,
        command: {
          ...common,
          command,
          scenario,
          restoreTime: get("restore-time"),
          incidentDate: get("incident-date"),
          deletedAt: get("deleted-at"),
          noticedAt: get("noticed-at"),
        },
      };
    }
    case "promote": {
      const mode = get("mode");
      const confirmed = get("confirm");
      if (!mode || !confirmed) {
        return {
          ok: false,
          message:
            `promote needs --mode (whole, tables or merge, as chosen from the promotion plan) and ` +
            `--confirm <live server name>: e.g. pg-recovery promote --stack ${stack} --mode merge ` +
            `--tables public.courses --confirm <live server>.`,
        };
      }
      return {
        ok: true,
        command: { ...common, command, mode, tables: get("tables"), confirm: confirmed },
      };
    }
    case "status":
      return { ok: true, command: { ...common, command, json: !!values.json } };
    case "record":
      return {
        ok: true,
        command: { ...common, command, out: path.resolve(cwd, get("out") ?? ".") },
      };
    case "drill":
      return {
        ok: true,
        command: {
          ...common,
          command,
          restoreTime: get("restore-time"),
          date: get("date"),
          keep: values.keep === true,
          history: values.history === true,
          out: path.resolve(cwd, get("out") ?? "."),
        },
      };
    case "commands": {
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
      return { ok: true, command: { command, stack, workDir, sets } };
    }
    default:
      return { ok: true, command: { ...common, command } };
  }
}
