/**
 * pg-recovery-data: the data-moving half of pg-recovery (no Pulumi here: this runs in a
 * Kubernetes Job and on operators' laptops). The entry point of the image and of
 * `npm run pg-recovery-data`.
 *
 * One parser (the contract's commander definition, shared with the overlay that builds the Jobs'
 * argv), one Io, one module per command under commands/ (its help and its run). Progress goes
 * to stderr, the summary or report to stdout. Exit codes: 0 ok; 1 failed, refused or
 * differences; 2 usage or configuration (nothing was attempted).
 */
import {
  Command,
  commandNamed,
  DATA_TOOL,
  EXIT,
  Options,
  parseCommand,
  UsageError,
} from "../contract/data-tool";
import { backupCommand, backupHelp } from "./commands/backup";
import { commandHelp, commandLine, HelpTable, programHelp, usageLine } from "./commands/help";
import { envSecrets, Io, processIo, redact } from "./commands/io";
import { listCommand, listHelp } from "./commands/list";
import { promoteCommand, promoteHelp } from "./commands/promote";
import { restoreCommand, restoreHelp } from "./commands/restore";
import { verifyCommand, verifyHelp } from "./commands/verify";
import { ConfigError, withFix } from "./errors";

export type { Io } from "./commands/io";

type Run<C extends Command> = (options: Options<C>, io: Io) => Promise<number>;

/** One module per command: what it runs. */
const RUN: { [C in Command]: Run<C> } = {
  backup: backupCommand,
  list: listCommand,
  restore: restoreCommand,
  verify: verifyCommand,
  promote: promoteCommand,
};

/** One module per command: what its --help says (and the program's list of commands). */
export const HELP: HelpTable = {
  backup: backupHelp,
  list: listHelp,
  restore: restoreHelp,
  verify: verifyHelp,
  promote: promoteHelp,
};

const HELP_WORDS = ["help", "--help", "-h"];

/** Runs one command line (without the executable); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.length === 0) {
    io.err(programHelp(HELP));
    return EXIT.usage;
  }
  let command: Command;
  try {
    // `help restore` is `restore --help`.
    command = commandNamed(HELP_WORDS.includes(argv[0]) ? (argv[1] ?? argv[0]) : argv[0]);
  } catch (e) {
    if (HELP_WORDS.includes(argv[0]) && argv.length === 1) {
      io.out(programHelp(HELP));
      return EXIT.ok;
    }
    io.err(
      `${DATA_TOOL}: ${(e as Error).message}\n` +
        `usage: ${DATA_TOOL} <command> [flags]  (${DATA_TOOL} --help lists the commands)\n`,
    );
    return EXIT.usage;
  }
  if (HELP_WORDS.includes(argv[0])) {
    io.out(commandHelp(command, HELP[command]));
    return EXIT.ok;
  }
  return runCommand(command, argv.slice(1), io);
}

async function runCommand<C extends Command>(command: C, args: string[], io: Io): Promise<number> {
  const help = HELP[command] as HelpTable[C];
  try {
    const parsed = parseCommand(command, args, commandLine(command, help));
    if (parsed.help) {
      io.out(commandHelp(command, help));
      return EXIT.ok;
    }
    return await (RUN[command] as Run<C>)(parsed.options, io);
  } catch (e) {
    const message = redact((e as Error)?.message ?? String(e), envSecrets(io.env));
    if (e instanceof UsageError) {
      // One line, the command's usage line, and where the whole story is: not the manual.
      io.err(
        `${DATA_TOOL} ${command}: ${message}\n${usageLine(command, help)}\n` +
          `(${DATA_TOOL} ${command} --help explains every flag)\n`,
      );
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(`${DATA_TOOL} ${command}: ${message}\n(${DATA_TOOL} ${command} --help for usage)\n`);
      return EXIT.usage;
    }
    io.err(`${DATA_TOOL} ${command}: error: ${withFix(message)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${DATA_TOOL}: unexpected error: ${(e as Error)?.message}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
