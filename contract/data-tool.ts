/**
 * The contract between the overlay and the data tool: command names, flags and environment
 * variables, defined once. The overlay's Jobs build their argv with `buildArgv`; the data tool's
 * CLI parses with `parseArgv`, over the commander definition `defineCommand` builds from the same
 * table (the CLI adds only help text to it). Both are typed from `COMMANDS`, so a flag renamed
 * here is a type error on both sides of the Job boundary, and `parseArgv(buildArgv(x))` gives
 * back `x`.
 *
 * No Pulumi here: the data tool runs inside a Kubernetes Job and on an operator's laptop.
 */
import { Command as CommandLine, CommanderError, Option } from "commander";
import { closestWord } from "./did-you-mean";
import { splitTableList } from "./table-names";

/** The data tool's executable name (the image's entry point; `npm run pg-recovery-data`). */
export const DATA_TOOL = "pg-recovery-data";

/** Environment variables the data tool reads. */
export const DATA_TOOL_ENV = {
  /** Default variable holding a PostgreSQL URL (the app's own secret key). */
  databaseUrl: "DATABASE_URL",
  storageConnectionString: "AZURE_STORAGE_CONNECTION_STRING",
  storageAccountUrl: "AZURE_STORAGE_ACCOUNT_URL",
  storageSasToken: "AZURE_STORAGE_SAS_TOKEN",
  /** Blob container; `--container` wins. */
  container: "BACKUP_CONTAINER",
  /** PostgreSQL client tools directory; else PATH. */
  pgBin: "PG_BIN",
  tmpDir: "TMPDIR",
} as const;

/** How promotion writes the restored data into live (see `pg-recovery-data promote --help`). */
export const PROMOTION_MODES = ["whole", "tables", "merge"] as const;
export type PromotionMode = (typeof PROMOTION_MODES)[number];

/** The container used when neither `--container` nor `$BACKUP_CONTAINER` names one. */
export const DEFAULT_CONTAINER = "database-backup";

/** Exit codes, as `pg-recovery-data --help` and docs/data-tool.md state them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface StringFlag {
  readonly kind: "string";
  readonly flag: string;
  /** The value's name in usage and help (`--db-env VAR`). */
  readonly value: string;
  /** The values it takes, when they are a fixed set (a typo gets a did-you-mean). */
  readonly choices?: readonly string[];
}
interface ListFlag {
  readonly kind: "list";
  readonly flag: string;
  readonly value: string;
}
interface BooleanFlag {
  readonly kind: "boolean";
  readonly flag: string;
}
interface CountFlag {
  readonly kind: "count";
  readonly flag: string;
  readonly max: number;
}
export type FlagSpec = StringFlag | ListFlag | BooleanFlag | CountFlag;

const text = (flag: string, value: string): StringFlag => ({ kind: "string", flag, value });
const oneOf = (flag: string, choices: readonly string[]): StringFlag => ({
  kind: "string",
  flag,
  value: choices.join("|"),
  choices,
});
const list = (flag: string, value: string): ListFlag => ({ kind: "list", flag, value });
const bool = (flag: string): BooleanFlag => ({ kind: "boolean", flag });
const count = (flag: string, max: number): CountFlag => ({ kind: "count", flag, max });

const storage = { container: text("container", "C") };
const database = {
  dbEnv: text("db-env", "VAR"),
  dbHost: text("db-host", "HOST"),
  dbName: text("db-name", "DB"),
  jobs: count("jobs", 999),
};
const endpoint = <S extends string>(side: S) => ({
  url: text(side, "URL"),
  env: text(`${side}-env`, "VAR"),
  host: text(`${side}-host`, "HOST"),
  name: text(`${side}-name`, "DB"),
});

/** Every command and its flags. Keys are what code reads; `flag` is what a human types. */
export const COMMANDS = {
  backup: {
    ...storage,
    ...database,
    name: text("name", "NAME"),
    verifyReadback: bool("verify-readback"),
  },
  list: { ...storage, json: bool("json") },
  restore: {
    ...storage,
    ...database,
    name: text("name", "NAME"),
    latest: bool("latest"),
    confirm: text("confirm", "SERVER/DATABASE"),
    tempDir: text("temp-dir", "DIR"),
    mapMissingRolesTo: text("map-missing-roles-to", "ROLE"),
    /** One JSON line per check (a restore drill collects them). */
    json: bool("json"),
  },
  verify: {
    sourceUrl: endpoint("source").url,
    sourceEnv: endpoint("source").env,
    sourceHost: endpoint("source").host,
    sourceName: endpoint("source").name,
    targetUrl: endpoint("target").url,
    targetEnv: endpoint("target").env,
    targetHost: endpoint("target").host,
    targetName: endpoint("target").name,
    restoreTarget: text("restore-target", "TIME"),
    /**
     * A restore drill: the source (live) has moved on since --restore-target, so rows it shows
     * as written after it are expected and reported, not differences.
     */
    drill: bool("drill"),
    schema: list("schema", "S,..."),
    jobs: count("jobs", 8),
    json: bool("json"),
  },
  promote: {
    fromEnv: text("from-env", "VAR"),
    fromHost: text("from-host", "HOST"),
    fromName: text("from-name", "DB"),
    toEnv: text("to-env", "VAR"),
    toHost: text("to-host", "HOST"),
    toName: text("to-name", "DB"),
    restoreTarget: text("restore-target", "TIME"),
    mode: oneOf("mode", PROMOTION_MODES),
    tables: list("tables", "SCHEMA.TABLE,..."),
    plan: bool("plan"),
    confirm: text("confirm", "SERVER/DATABASE"),
    incident: text("incident", "NAME"),
    jobs: count("jobs", 64),
    json: bool("json"),
  },
} as const satisfies Record<string, Record<string, FlagSpec>>;

export type Command = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as Command[];

type ValueOf<F extends FlagSpec, S> = F extends BooleanFlag
  ? boolean
  : F extends CountFlag
    ? number
    : F extends ListFlag
      ? S[]
      : S;

/** A command's options; `S` is the type of a string value (a Pulumi `Input<string>` in Jobs). */
export type Options<C extends Command, S = string> = {
  -readonly [K in keyof (typeof COMMANDS)[C]]?: (typeof COMMANDS)[C][K] extends FlagSpec
    ? ValueOf<(typeof COMMANDS)[C][K], S>
    : never;
};

export type Invocation<S = string> = {
  [C in Command]: { command: C; options: Options<C, S> };
}[Command];

/** A wrong command line: the CLI prints the message and its usage and exits 2. */
export class UsageError extends Error {}

/** The argv for one invocation of the data tool (without the executable). */
export function buildArgv<S>(invocation: Invocation<S>): (string | S)[] {
  const specs: Record<string, FlagSpec> = COMMANDS[invocation.command];
  const argv: (string | S)[] = [invocation.command];
  for (const [key, value] of Object.entries(invocation.options) as [string, unknown][]) {
    const spec = specs[key];
    if (!spec) throw new Error(`${invocation.command} has no option "${key}"`);
    if (value === undefined || value === false) continue;
    if (spec.kind === "boolean") argv.push(`--${spec.flag}`);
    else if (spec.kind === "list") {
      for (const item of value as S[]) argv.push(`--${spec.flag}`, item);
    } else if (spec.kind === "count") argv.push(`--${spec.flag}`, String(value));
    else argv.push(`--${spec.flag}`, value as S);
  }
  return argv;
}

export interface Parsed<C extends Command = Command> {
  command: C;
  options: Options<C>;
  help: boolean;
}

/** How a flag and its value read in usage and help: `--db-env VAR`, `--json`. */
export function flagTerm(spec: FlagSpec): string {
  if (spec.kind === "boolean") return `--${spec.flag}`;
  return `--${spec.flag} ${spec.kind === "count" ? "N" : spec.value}`;
}

/**
 * One command's command line as commander sees it: every flag of `COMMANDS[command]` with the
 * checks on its value, and nothing else (no help text, no action). The CLI adds the help text;
 * `parseCommand` parses with the same definition, so what the CLI accepts is what this accepts.
 */
export function defineCommand<C extends Command>(command: C): CommandLine {
  const cmd = new CommandLine(command)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .allowExcessArguments(false)
    .helpOption("-h, --help", "this help");
  const specs: Record<string, FlagSpec> = COMMANDS[command];
  for (const spec of Object.values(specs)) {
    // commander reads `,` and `|` in a flags string as separators: the value's real name is
    // flagTerm's, which the CLI's help prints.
    const option = new Option(
      spec.kind === "boolean" ? `--${spec.flag}` : `--${spec.flag} <value>`,
    );
    if (spec.kind !== "boolean") option.argParser(valueParser(spec));
    cmd.addOption(option);
  }
  return cmd;
}

/**
 * The check of one flag's value (commander calls it per occurrence, with the value so far: a
 * list accumulates, anything else is given once).
 */
function valueParser(spec: Exclude<FlagSpec, BooleanFlag>) {
  return (v: string, previous: unknown): unknown => {
    if (v === "" || v.startsWith("--")) {
      throw new UsageError(`--${spec.flag} needs a value${v ? ` (got the flag ${v})` : ""}`);
    }
    if (spec.kind === "list") {
      // Quote-aware: `"a,b".c` is one name (contract/table-names.ts).
      const items = splitTableList(v);
      if (items.some((s) => s === "")) {
        throw new UsageError(
          `--${spec.flag} "${v}" has an empty name (two commas in a row, or one at an end)`,
        );
      }
      return [...((previous as string[] | undefined) ?? []), ...items];
    }
    // A second value would silently replace the first: which backup, which database?
    if (previous !== undefined) throw new UsageError(`--${spec.flag} is given twice`);
    if (spec.kind === "count") {
      const digits = String(spec.max).length;
      if (!new RegExp(`^[1-9]\\d{0,${digits - 1}}$`).test(v) || Number(v) > spec.max) {
        throw new UsageError(
          `--${spec.flag} must be a whole number from 1 to ${spec.max}, got "${v}"`,
        );
      }
      return Number(v);
    }
    if (spec.choices && !spec.choices.includes(v)) {
      const hint = closestWord(v, spec.choices);
      throw new UsageError(
        `--${spec.flag} must be one of ${spec.choices.join(", ")}, got "${v}"` +
          (hint ? ` (did you mean ${hint}?)` : ""),
      );
    }
    return v;
  };
}

/**
 * Parses `<command> [flags]` strictly: unknown flags, stray positionals and empty values are
 * usage errors, so a typo never silently changes what gets restored.
 */
export function parseArgv(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError("no command given");
  return parseCommand(commandNamed(command), rest);
}

/** The command a word names; an unknown word is a usage error with a did-you-mean. */
export function commandNamed(word: string): Command {
  if ((COMMAND_NAMES as string[]).includes(word)) return word as Command;
  const hint = closestWord(word, COMMAND_NAMES);
  throw new UsageError(`unknown command "${word}"${hint ? ` (did you mean ${hint}?)` : ""}`);
}

export function parseCommand<C extends Command>(
  command: C,
  argv: string[],
  cmd: CommandLine = defineCommand(command),
): Parsed<C> {
  try {
    cmd.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError && e.code === "commander.helpDisplayed") {
      return { command, options: {}, help: true };
    }
    if (e instanceof CommanderError) throw new UsageError(commanderMessage(e, cmd.args[0]));
    throw e;
  }
  const out: Record<string, unknown> = {};
  const specs: Record<string, FlagSpec> = COMMANDS[command];
  for (const [key, spec] of Object.entries(specs)) {
    const v = cmd.getOptionValue(new Option(`--${spec.flag}`).attributeName());
    if (v !== undefined) out[key] = v;
  }
  return { command, options: out as Options<C>, help: false };
}

/** Commander's error as one line in the house's words ("did you mean", no "error:" prefix). */
function commanderMessage(e: CommanderError, argument: string | undefined): string {
  const m = e.message.replace(/^error: /, "");
  if (m.startsWith("too many arguments"))
    return `unexpected argument${argument ? ` "${argument}"` : ""}: flags start with --`;
  return m
    .replace(/\n\(Did you mean (.*)\?\)$/, " (did you mean $1?)")
    .replace(/^option '--([\w-]+) <[^>]*>' argument missing$/, "--$1 needs a value")
    .replace(/^unknown option '(.*?)'/, "unknown flag $1");
}
