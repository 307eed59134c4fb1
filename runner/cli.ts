/**
 * `pg-recovery <command>`: the incident runner's entry point. Parses the command line, opens the
 * stack, runs the command, and turns refusals into their message and exit code.
 */
import { evaluateOffline, loadStackConfig, StackConfigError } from "../harness/offline";
import { parseCommandLine } from "./args";
import { automationEngine } from "./automation";
import { breakGlassScript } from "./break-glass";
import { EngineError } from "./engine";
import { Done, EXIT, Io, processIo, Refusal } from "./io";
import { Journal } from "./journal";
import { kubernetesCluster } from "./kubernetes";
import { writeRecord } from "./record";
import { repairInterrupted } from "./repair";
import { revert } from "./revert";
import { adoptAppliedIncident, Deps, openSession } from "./session";
import { drill } from "./drill/run";
import { status } from "./status";
import { promote, resume, start } from "./steps";
import { whoRan } from "./who";

export function defaultDeps(io: Io = processIo()): Deps {
  return {
    io,
    engine: automationEngine,
    cluster: kubernetesCluster,
    journal: (stack) => new Journal(stack),
    who: (workDir) => whoRan(workDir),
  };
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
    if (cmd.command === "commands") {
      const config = loadStackConfig(cmd.stack, cmd.sets, cmd.workDir);
      const run = await evaluateOffline(config, io.now());
      io.out(breakGlassScript(cmd.stack, config, run));
      return EXIT.ok;
    }
    const changing =
      ["start", "promote", "resume", "finish", "abort"].includes(cmd.command) ||
      (cmd.command === "drill" && !cmd.history);
    const session = await openSession(deps, cmd.command, cmd.stack, cmd.workDir, {
      create: cmd.command === "start" || (cmd.command === "drill" && !cmd.history),
      changing,
    });
    if (changing) {
      await adoptAppliedIncident(session);
      await repairInterrupted(session);
    }
    switch (cmd.command) {
      case "start":
        await start(session, cmd);
        break;
      case "promote":
        await promote(session, cmd);
        break;
      case "resume":
        await resume(session, cmd);
        break;
      case "finish":
      case "abort":
        await revert(session, { ...cmd, command: cmd.command });
        break;
      case "status":
        await status(session, cmd.json);
        break;
      case "drill":
        await drill(session, cmd);
        break;
      case "record": {
        const files = await writeRecord(session, cmd.out);
        io.out(`Incident record written:\n  ${files.markdown}\n  ${files.json}`);
        break;
      }
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof Done) {
      io.out(e.message);
      return EXIT.ok;
    }
    if (e instanceof Refusal) {
      io.err(e.message);
      return e.code;
    }
    if (e instanceof EngineError) {
      io.err(e.message);
      return EXIT.failed;
    }
    if (e instanceof StackConfigError) {
      io.err(e.message);
      return EXIT.usage;
    }
    // The program's own config errors (offline plan) carry the operator-facing message.
    const err = e as Error;
    if (
      err?.name === "IncidentConfigError" ||
      (err as { __pulumiRunError?: boolean }).__pulumiRunError
    ) {
      io.err(err.message);
      return EXIT.failed;
    }
    io.err(`pg-recovery failed: ${err?.stack ?? String(e)}`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`pg-recovery failed: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(EXIT.failed);
    },
  );
}
