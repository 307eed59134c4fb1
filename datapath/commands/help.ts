/**
 * The help of the data tool, generated from one definition per command: the contract's flags
 * (`defineCommand`, the parser the overlay's argv is checked against) plus each command module's
 * `CommandHelp` (what the command does, its usage line, a sentence per flag, examples). A flag
 * added to the contract without its sentence here is a type error.
 */
import { Command as CommandLine, Help, Option } from "commander";
import {
  Command,
  COMMANDS,
  DATA_TOOL,
  DATA_TOOL_ENV,
  DEFAULT_CONTAINER,
  defineCommand,
  flagTerm,
  FlagSpec,
} from "../../contract/data-tool";
import { STORAGE_UNREACHABLE_BOUND_S } from "../storage/blobs";

/** What a command module says about itself; `options` explains every flag of the contract. */
export interface CommandHelp<C extends Command> {
  /** One line for the list of commands. */
  summary: string;
  /** Which flags go together, after `pg-recovery-data <command>`. */
  usage: string;
  /** One explanation per flag, keyed as the contract's `COMMANDS[command]`. */
  options: { readonly [K in keyof (typeof COMMANDS)[C]]-?: string };
  /** What the command does, in a few lines (after the flags). */
  notes?: string;
  /** Command lines an operator can copy (at least one). */
  examples: readonly string[];
}

export type HelpTable = { [C in Command]: CommandHelp<C> };

const HELP_WIDTH = 100;

/** The contract's spec of a commander option, so help prints `--tables SCHEMA.TABLE,...`. */
function specOf(command: Command, option: Option): FlagSpec | undefined {
  const specs: Record<string, FlagSpec> = COMMANDS[command];
  return Object.values(specs).find((s) => `--${s.flag}` === option.long);
}

const lowercaseTitles = { styleTitle: (title: string) => title.toLowerCase() };

/**
 * `usage: pg-recovery-data <command> ...`, wrapped between groups (`[--db-env VAR]`,
 * `(--name NAME | --latest)`) so no group is split across lines.
 */
function wrapUsage(command: Command, usage: string): string {
  const groups: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of usage) {
    if (ch === " " && depth === 0) {
      if (current) groups.push(current);
      current = "";
      continue;
    }
    if (ch === "[" || ch === "(") depth++;
    if (ch === "]" || ch === ")") depth--;
    current += ch;
  }
  if (current) groups.push(current);
  const head = `usage: ${DATA_TOOL} ${command}`;
  const indent = " ".repeat(head.length);
  const lines = [head];
  for (const group of groups) {
    const last = lines.length - 1;
    if (lines[last].length + 1 + group.length > HELP_WIDTH && lines[last].trim() !== "") {
      lines.push(`${indent} ${group}`);
    } else lines[last] += ` ${group}`;
  }
  return lines.join("\n");
}

/** A long example broken before its flags, shell-style, so it still copies as one command. */
function wrapExample(example: string): string {
  const lines = [""];
  for (const word of example.split(/ (?=--)/)) {
    const last = lines.length - 1;
    if (lines[last] && lines[last].length + word.length > HELP_WIDTH - 8) lines.push(word);
    else lines[last] += lines[last] ? ` ${word}` : word;
  }
  return lines.join(" \\\n      ");
}

/** One command's definition: the contract's parser with this command's help attached. */
export function commandLine<C extends Command>(command: C, help: CommandHelp<C>): CommandLine {
  const cmd = defineCommand(command);
  const specs: Record<string, FlagSpec> = COMMANDS[command];
  const explain: Record<string, string> = help.options;
  for (const option of cmd.options) {
    const key = Object.keys(specs).find((k) => `--${specs[k].flag}` === option.long);
    if (key) option.description = explain[key];
  }
  const examples = help.examples.map((e) => `  ${wrapExample(e)}`).join("\n");
  return cmd
    .description(help.summary)
    .usage(help.usage)
    .configureHelp({
      ...lowercaseTitles,
      helpWidth: HELP_WIDTH,
      // The usage line is printed whole (wrapped by group) in place of commander's.
      formatHelp(c: CommandLine, helper: Help): string {
        const text = Help.prototype.formatHelp.call(this, c, helper);
        return text.replace(/^usage: .*\n/, `${wrapUsage(command, help.usage)}\n`);
      },
      // Flags in the order the usage line names them.
      visibleOptions(c: CommandLine): Option[] {
        const at = (o: Option) => {
          const i = help.usage.search(new RegExp(`${o.long}(?![\\w-])`));
          return i < 0 ? Infinity : i;
        };
        return Help.prototype.visibleOptions.call(this, c).sort((a, b) => at(a) - at(b));
      },
      optionTerm: (o) => {
        const spec = specOf(command, o);
        return spec ? flagTerm(spec) : o.flags;
      },
    })
    .addHelpText(
      "after",
      `${help.notes ? `\n${help.notes.trimEnd()}\n` : ""}\nexamples:\n${examples}\n`,
    );
}

/** `pg-recovery-data <command> --help`. */
export function commandHelp<C extends Command>(command: C, help: CommandHelp<C>): string {
  const cmd = commandLine(command, help);
  // helpInformation leaves out the text added with addHelpText: ask for the whole output.
  let text = "";
  cmd.configureOutput({ writeOut: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

/** The one line a usage error prints after its message. */
export function usageLine(command: Command, help: { readonly usage: string }): string {
  return wrapUsage(command, help.usage);
}

/** What every command shares: where credentials come from, where backups go, exit codes. */
const ENVIRONMENT = `environment:
  ${DATA_TOOL_ENV.databaseUrl}: the database URL (or the variable --db-env, --source-env, ... names);
    passwords reach pg_dump and psql through PGPASSWORD, never a command line
  ${DATA_TOOL_ENV.storageConnectionString}, or ${DATA_TOOL_ENV.storageAccountUrl} with ${DATA_TOOL_ENV.storageSasToken}:
    the backup storage
  ${DATA_TOOL_ENV.container}: the blob container when --container is not given (else ${DEFAULT_CONTAINER})
  ${DATA_TOOL_ENV.pgBin}: the PostgreSQL client tools (else PATH)
  PG_RECOVERY_TMPDIR: where restore and promote keep files (else the OS temp dir)

Progress goes to stderr, the summary or report to stdout; nothing printed holds a password,
key or SAS token. Storage that does not answer fails the command within ${STORAGE_UNREACHABLE_BOUND_S} s.

exit codes: 0 ok; 1 failed, refused, or (verify) differences found; 2 usage or configuration
(nothing was attempted).`;

/** `pg-recovery-data --help`: the commands, then what they share. */
export function programHelp(table: HelpTable): string {
  const program = new CommandLine(DATA_TOOL)
    .usage("<command> [flags]")
    .description(
      "The data half of pg-recovery: backs up, lists, restores, verifies and promotes PostgreSQL\n" +
        "databases, in the overlay's Kubernetes Jobs or by hand.",
    )
    .helpOption("-h, --help", "this help")
    .helpCommand(false)
    .configureHelp({ ...lowercaseTitles, helpWidth: HELP_WIDTH, subcommandTerm: (c) => c.name() })
    .addHelpText(
      "after",
      `\n${DATA_TOOL} <command> --help explains each flag of a command, with examples.\n` +
        `(In a checkout: npm run ${DATA_TOOL} -- <command> ...)\n\n${ENVIRONMENT}\n`,
    );
  for (const command of Object.keys(table) as Command[]) {
    program.addCommand(new CommandLine(command).description(table[command].summary));
  }
  let text = "";
  program.configureOutput({ writeOut: (s) => (text += s) });
  program.outputHelp();
  return text;
}
