/**
 * pg-recovery-data: the data-moving half of pg-recovery (no Pulumi here: this runs in a
 * Kubernetes Job and on operators' laptops). The entry point of the image and of
 * `npm run pg-recovery-data`.
 *
 * One parser (the contract's, shared with the overlay that builds the Jobs' argv), one Io, one
 * usage text, one module per command under commands/. Progress goes to stderr, the summary or
 * report to stdout. Exit codes: 0 ok; 1 failed, refused or differences; 2 usage or
 * configuration (nothing was attempted).
 */
import { Command, EXIT, Options, parseArgv, UsageError } from "../contract/data-tool";
import { backupCommand } from "./commands/backup";
import { envSecrets, Io, processIo, redact, USAGE } from "./commands/io";
import { listCommand } from "./commands/list";
import { promoteCommand } from "./commands/promote";
import { restoreCommand } from "./commands/restore";
import { verifyCommand } from "./commands/verify";
import { ConfigError } from "./errors";

export type { Io } from "./commands/io";

type Run<C extends Command> = (options: Options<C>, io: Io) => Promise<number>;

/** One module per command; a contract command without one is refused as unknown here. */
const COMMAND_MODULES: { [C in Command]: Run<C> | undefined } = {
  backup: backupCommand,
  list: listCommand,
  restore: restoreCommand,
  verify: verifyCommand,
  promote: promoteCommand,
};

const HELP = ["help", "--help", "-h"];

/** Runs one command line (without the executable); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.length === 0 || HELP.includes(argv[0])) {
    (argv.length === 0 ? io.err : io.out)(USAGE);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const command = argv[0];
  try {
    const parsed = parseArgv(argv);
    if (parsed.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    const run = COMMAND_MODULES[parsed.command] as Run<Command> | undefined;
    if (!run) throw new UsageError(`command "${parsed.command}" is not available in this build`);
    return await run(parsed.options, io);
  } catch (e) {
    const message = redact((e as Error)?.message ?? String(e), envSecrets(io.env));
    if (e instanceof UsageError) {
      io.err(`pg-recovery-data: ${message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(`pg-recovery-data ${command}: ${message}\n(pg-recovery-data --help for usage)\n`);
      return EXIT.usage;
    }
    io.err(`pg-recovery-data ${command}: error: ${message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`pg-recovery-data: unexpected error: ${(e as Error)?.message}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
