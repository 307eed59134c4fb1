/**
 * `pg-recovery <command>`: the incident runner's entry point. Parses the command line (one
 * module per command, runner/commands/), runs the command, and turns refusals into their
 * message and exit code. Nothing heavy is loaded until a command runs: the engine, the cluster
 * client and the program are imported by the commands that need them.
 */
import { EXIT } from "../contract/data-tool";
import { parseCommandLine } from "./args";
import { COMMANDS } from "./commands";
import type { Deps } from "./context";
import { Done, Io, processIo, Refusal } from "./io";
import { Journal } from "./journal";
import { whoRan } from "./who";

export function defaultDeps(io: Io = processIo()): Deps {
  return {
    io,
    engine: async (workDir, opts) =>
      (await import("./automation")).automationEngine(workDir, opts, io),
    // Synchronous by contract; the client library loads on the first Job a command watches.
    cluster: (context) => kubernetesModule().kubernetesCluster(context),
    journal: (stack) => new Journal(stack),
    who: (workDir) => whoRan(workDir),
  };
}

function kubernetesModule(): typeof import("./kubernetes") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when needed
  return require("./kubernetes") as typeof import("./kubernetes");
}

export async function main(argv: string[], deps: Deps = defaultDeps()): Promise<number> {
  const io = deps.io;
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) {
    (parsed.help ? io.out : io.err)(parsed.message);
    return parsed.help ? EXIT.ok : EXIT.usage;
  }
  const cmd = parsed.command;
  try {
    // Each module's run takes its own command type; `cmd.command` names the module.
    const run = COMMANDS[cmd.command].run as (c: typeof cmd, d: Deps) => Promise<void>;
    await run(cmd, deps);
    return EXIT.ok;
  } catch (e) {
    // Expected conditions print their message alone; this shows where they came from too.
    if (process.env.PG_RECOVERY_DEBUG === "1") io.err(String((e as Error)?.stack ?? e));
    if (e instanceof Done) {
      io.out(e.message);
      return EXIT.ok;
    }
    if (e instanceof Refusal) {
      io.err(e.message);
      return e.code;
    }
    const { expected } = await import("./errors");
    const known = expected(e);
    if (known) {
      io.err(known.message);
      return known.code;
    }
    // Not an expected condition: a bug, with what it takes to report it.
    io.err(
      `pg-recovery failed (a bug; please report it with this): ${(e as Error)?.stack ?? String(e)}`,
    );
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
