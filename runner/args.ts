/**
 * The command line: `pg-recovery <command> [flags]`, parsed by commander from each command's one
 * definition (runner/commands/<command>.ts), which also gives its `--help` and its usage line.
 * Only the shape is checked here (flags known, values present, enumerated values known); what
 * the values mean (times, tables, the live server's name) is checked by the config door, with
 * its own messages, before anything changes.
 */
import { Command as Commander, CommanderError, Option } from "commander";
import { COMMANDS, CommandName, Command } from "./commands";
import { closestWord } from "../contract/did-you-mean";
import { CommandDefinition, Values } from "./commands/definition";

export { REPO_ROOT } from "./commands/definition";
export type { Command } from "./commands";
export type { StartCommand } from "./commands/start";
export type { PromoteCommand } from "./commands/promote";
export type { DrillCommand } from "./commands/drill";
export type { StatusCommand } from "./commands/status";
export type { RecordCommand } from "./commands/record";
export type { CommandsCommand } from "./commands/commands";
export type { PlanCommand } from "./commands/plan";

export type Parsed =
  { ok: true; command: Command } | { ok: false; message: string; help?: boolean };

const NAMES = Object.keys(COMMANDS) as CommandName[];

/** The manual's first screen: every command in one line, and where each explains itself. */
export const USAGE = [
  `usage: pg-recovery <command> --stack <env> [flags]`,
  ``,
  `An incident in at most five commands, each showing what it will do before it changes anything:`,
  ...NAMES.map((n) => `  ${n.padEnd(9)}${COMMANDS[n].definition.summary}`),
  ``,
  `pg-recovery <command> --help explains every flag of a command, with an example.`,
  `Times are RFC 3339 with an offset: 2024-07-24T05:59:00Z or 2024-07-24T06:59:00+01:00.`,
  `Exit codes: 0 done; 1 failed or refused (nothing more was changed); 2 usage.`,
].join("\n");

/** `usage: pg-recovery start --stack <env> ...`: the one line a usage error shows. */
export const usageLine = (d: CommandDefinition) => `usage: pg-recovery ${d.name} ${d.usage}`;

/** The command's own help: usage, what it does, every flag, examples. */
export function helpFor(name: CommandName): string {
  return helpText(
    buildProgram(name, () => undefined),
    COMMANDS[name].definition,
  );
}

function helpText(program: Commander, d: CommandDefinition): string {
  const examples = d.examples.map((e) => `  ${e}`).join("\n");
  return `${program.helpInformation()}\nExample${d.examples.length > 1 ? "s" : ""}:\n${examples}`;
}

function attribute(flags: string): string {
  return new Option(flags).attributeName();
}

function buildProgram(name: CommandName, onAction: (values: Values) => void): Commander {
  const d = COMMANDS[name].definition;
  const cmd = new Commander(`pg-recovery ${d.name}`)
    .usage(d.usage)
    // Definitions break lines for reading; commander wraps to the terminal (paragraphs kept).
    .description(d.description.replace(/(?<!\n)\n(?!\n)/g, " "))
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .action(() => onAction(cmd.opts() as Values));
  for (const f of d.flags) {
    const option = new Option(f.flags, f.description);
    if (f.repeatable) option.argParser((v: string, prev?: string[]) => [...(prev ?? []), v]);
    cmd.addOption(option);
  }
  return cmd;
}

function usageError(d: CommandDefinition, message: string): Parsed {
  return {
    ok: false,
    message: `${message}\n${usageLine(d)}\n(pg-recovery ${d.name} --help explains every flag)`,
  };
}

/** commander's "error: unknown option '--x'\n(Did you mean --y?)" as one line. */
function oneLine(e: CommanderError): string {
  const text = e.message
    .replace(/^error: /, "")
    .replace(/\n\(Did you mean (.*)\?\)/, ". Did you mean $1?");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function parseCommandLine(argv: string[], cwd: string = process.cwd()): Parsed {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] && (NAMES as string[]).includes(rest[0])) {
      return { ok: false, message: helpFor(rest[0] as CommandName), help: true };
    }
    return { ok: false, message: USAGE, help: true };
  }
  if (!(NAMES as string[]).includes(name)) {
    const hint = closestWord(name, NAMES);
    return {
      ok: false,
      message:
        `unknown command "${name}"${hint ? `. Did you mean ${hint}?` : ""}\n` +
        `usage: pg-recovery <command> --stack <env> [flags]; commands: ${NAMES.join(", ")}\n` +
        `(pg-recovery --help lists them, pg-recovery <command> --help explains one)`,
    };
  }
  const command = name as CommandName;
  const module = COMMANDS[command];
  const d = module.definition;
  let values: Values | undefined;
  const program = buildProgram(command, (v) => (values = v));
  try {
    program.parse(rest, { from: "user" });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.help") {
      return { ok: false, message: helpText(program, d), help: true };
    }
    return usageError(d, oneLine(e));
  }
  if (!values) return usageError(d, `could not read the flags`);
  if (!values.stack) {
    return usageError(d, `--stack is required: the environment's stack, e.g. --stack qa.`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(String(values.stack))) {
    return usageError(d, `--stack "${values.stack}" is not a stack name (letters, digits, . _ -).`);
  }
  for (const f of d.flags) {
    const v = values[attribute(f.flags)];
    if (typeof v === "string" && v.trim() === "") {
      return usageError(d, `${f.flags.split(" ")[0]} is empty; give it a value or leave it out.`);
    }
  }
  const shaped = module.shape(values, cwd);
  return shaped.ok ? shaped : usageError(d, shaped.message);
}
