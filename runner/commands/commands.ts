/** `pg-recovery commands`: break-glass, the equivalent kubectl, az and gh api commands. */
import type { Deps } from "../context";
import { CommandDefinition, Offline, OFFLINE_FLAGS, offlineOf, Shaped, Values } from "./definition";

export const definition: CommandDefinition = {
  name: "commands",
  summary: "break-glass: the equivalent kubectl, az and gh api commands, in runbook order",
  usage: "--stack <env> [--set key=value ...]",
  description:
    "Prints, from the offline plan (no engine, no cloud), the kubectl, az and gh api commands that\n" +
    "do what the overlay declares for the stack's scenario, in runbook order, each with its revert\n" +
    "command: for when the runner itself cannot be used.",
  flags: OFFLINE_FLAGS,
  examples: [
    "pg-recovery commands --stack qa --set scenario=corrupted --set incidentDate=2024-07-24 --set restoreTime=2024-07-24T05:59:00Z",
  ],
};

export interface CommandsCommand extends Offline {
  command: "commands";
}

export function shape(values: Values, cwd: string): Shaped<CommandsCommand> {
  const offline = offlineOf(values, cwd);
  return offline.ok ? { ok: true, command: { ...offline.command, command: "commands" } } : offline;
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
