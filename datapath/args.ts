/**
 * Flag parsing for the data-path CLI, on node:util parseArgs (strict: unknown flags and
 * stray positionals are usage errors, so a typo never silently changes what gets restored).
 */
import { parseArgs, ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

const common: Options = {
  container: { type: "string" },
  help: { type: "boolean", short: "h" },
};
const database: Options = {
  "db-env": { type: "string" },
  "db-host": { type: "string" },
  "db-name": { type: "string" },
  jobs: { type: "string" },
};

export const COMMAND_OPTIONS: Record<"backup" | "list" | "restore", Options> = {
  backup: {
    ...common,
    ...database,
    name: { type: "string" },
    "verify-readback": { type: "boolean" },
  },
  list: { ...common, json: { type: "boolean" } },
  restore: {
    ...common,
    ...database,
    name: { type: "string" },
    latest: { type: "boolean" },
    confirm: { type: "string" },
    "temp-dir": { type: "string" },
  },
};

export type Flags = Record<string, string | boolean | undefined>;

export function parseFlags(command: keyof typeof COMMAND_OPTIONS, argv: string[]): Flags {
  try {
    const { values } = parseArgs({
      args: argv,
      options: COMMAND_OPTIONS[command],
      strict: true,
      allowPositionals: false,
    });
    return values as Flags;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function str(flags: Flags, key: string): string | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new UsageError(`--${key} needs a value`);
  return v;
}

export function positiveInt(flags: Flags, key: string): number | undefined {
  const v = str(flags, key);
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,2}$/.test(v))
    throw new UsageError(`--${key} must be a whole number from 1 to 999, got "${v}"`);
  return Number(v);
}
