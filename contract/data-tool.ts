/**
 * The contract between the overlay and the data tool: command names, flags and environment
 * variables, defined once. The overlay's Jobs build their argv with `buildArgv`; the data tool's
 * CLI parses with `parseArgv`. Both are typed from `COMMANDS`, so a flag renamed here is a type
 * error on both sides of the Job boundary, and `parseArgv(buildArgv(x))` gives back `x`.
 *
 * No Pulumi here: the data tool runs inside a Kubernetes Job and on an operator's laptop.
 */
import { parseArgs } from "node:util";

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

/** Exit codes, as the README states them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface StringFlag {
  readonly kind: "string";
  readonly flag: string;
}
interface ListFlag {
  readonly kind: "list";
  readonly flag: string;
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
type FlagSpec = StringFlag | ListFlag | BooleanFlag | CountFlag;

const text = (flag: string): StringFlag => ({ kind: "string", flag });
const list = (flag: string): ListFlag => ({ kind: "list", flag });
const bool = (flag: string): BooleanFlag => ({ kind: "boolean", flag });
const count = (flag: string, max: number): CountFlag => ({ kind: "count", flag, max });

const storage = { container: text("container") };
const database = {
  dbEnv: text("db-env"),
  dbHost: text("db-host"),
  dbName: text("db-name"),
  jobs: count("jobs", 999),
};
const endpoint = <S extends string>(side: S) => ({
  url: text(side),
  env: text(`${side}-env`),
  host: text(`${side}-host`),
  name: text(`${side}-name`),
});

/** Every command and its flags. Keys are what code reads; `flag` is what a human types. */
export const COMMANDS = {
  backup: {
    ...storage,
    ...database,
    name: text("name"),
    verifyReadback: bool("verify-readback"),
  },
  list: { ...storage, json: bool("json") },
  restore: {
    ...storage,
    ...database,
    name: text("name"),
    latest: bool("latest"),
    confirm: text("confirm"),
    tempDir: text("temp-dir"),
    mapMissingRolesTo: text("map-missing-roles-to"),
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
    restoreTarget: text("restore-target"),
    /**
     * A restore drill: the source (live) has moved on since --restore-target, so rows it shows
     * as written after it are expected and reported, not differences.
     */
    drill: bool("drill"),
    schema: list("schema"),
    jobs: count("jobs", 8),
    json: bool("json"),
  },
  promote: {
    fromEnv: text("from-env"),
    fromHost: text("from-host"),
    fromName: text("from-name"),
    toEnv: text("to-env"),
    toHost: text("to-host"),
    toName: text("to-name"),
    restoreTarget: text("restore-target"),
    mode: text("mode"),
    tables: list("tables"),
    plan: bool("plan"),
    confirm: text("confirm"),
    incident: text("incident"),
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

/**
 * Parses `<command> [flags]` strictly: unknown flags, stray positionals and empty values are
 * usage errors, so a typo never silently changes what gets restored.
 */
export function parseArgv(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError("no command given");
  if (!(COMMAND_NAMES as string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  return parseCommand(command as Command, rest);
}

export function parseCommand<C extends Command>(command: C, argv: string[]): Parsed<C> {
  const specs: Record<string, FlagSpec> = COMMANDS[command];
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = { help: { type: "boolean", short: "h" } };
  for (const spec of Object.values(specs)) {
    // Node's parseArgs refuses `multiple: undefined`: the key is there only for lists.
    options[spec.flag] =
      spec.kind === "list"
        ? { type: "string", multiple: true }
        : { type: spec.kind === "boolean" ? "boolean" : "string" };
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const v = values[spec.flag];
    if (v === undefined) continue;
    if (spec.kind === "boolean") out[key] = v === true;
    else if (spec.kind === "list") {
      const items = (v as string[]).flatMap((s) => s.split(",")).map((s) => s.trim());
      if (items.some((s) => s === "")) throw new UsageError(`--${spec.flag} needs a value`);
      out[key] = items;
    } else if (typeof v !== "string" || v === "") {
      throw new UsageError(`--${spec.flag} needs a value`);
    } else if (spec.kind === "count") {
      const digits = String(spec.max).length;
      if (!new RegExp(`^[1-9]\\d{0,${digits - 1}}$`).test(v) || Number(v) > spec.max) {
        throw new UsageError(
          `--${spec.flag} must be a whole number from 1 to ${spec.max}, got "${v}"`,
        );
      }
      out[key] = Number(v);
    } else out[key] = v;
  }
  return { command, options: out as Options<C>, help: values.help === true };
}
