/** `pg-recovery commands`: break-glass, the equivalent kubectl, az and gh api commands. */
import type { Deps } from "../context";
import {
  CommandDefinition,
  REPO_ROOT,
  SET,
  setsOf,
  Shaped,
  STACK,
  Values,
  WORK_DIR,
} from "./definition";
import * as path from "node:path";

export const definition: CommandDefinition = {
  name: "commands",
  summary: "break-glass: the equivalent kubectl, az and gh api commands, in runbook order",
  usage: "--stack <env> [--set key=value ...]",
  description:
    "Prints, from the offline plan (no engine, no cloud), the kubectl, az and gh api commands that\n" +
    "do what the overlay declares for the stack's scenario, in runbook order, each with its revert\n" +
    "command: for when the runner itself cannot be used.",
  flags: [STACK, SET, WORK_DIR],
  examples: [
    "pg-recovery commands --stack qa --set scenario=corrupted --set incidentDate=2024-07-24 --set restoreTime=2024-07-24T05:59:00Z",
  ],
};

export interface CommandsCommand {
  command: "commands";
  stack: string;
  workDir: string;
  /** Config overrides, as `pg-recovery plan --set` takes them. */
  sets: Record<string, string>;
}

export function shape(values: Values, cwd: string): Shaped<CommandsCommand> {
  const sets = setsOf(values);
  if (!sets.ok) return sets;
  return {
    ok: true,
    command: {
      command: "commands",
      stack: values.stack as string,
      workDir: path.resolve(cwd, (values.workDir as string | undefined) ?? REPO_ROOT),
      sets: sets.command,
    },
  };
}

export async function run(cmd: CommandsCommand, deps: Deps): Promise<void> {
  const { evaluateOffline, loadStackConfig } = await import("../../offline/offline");
  const { breakGlassScript } = await import("../break-glass");
  const { doorFirst } = await import("../plan");
  const config = loadStackConfig(cmd.stack, cmd.sets, cmd.workDir);
  doorFirst(config, cmd.sets, deps.io.now());
  const run = await evaluateOffline(config, deps.io.now());
  deps.io.out(breakGlassScript(cmd.stack, config, run));
}
