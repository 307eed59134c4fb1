/** `pg-recovery plan`: the offline plan (also `npm run plan -- ...`). */
import type { Deps } from "../context";
import { CommandDefinition, flagsWith, Offline, OFFLINE_FLAGS, offlineOf } from "./definition";
import type { Shaped, Values } from "./definition";

export const definition: CommandDefinition = {
  name: "plan",
  summary:
    "the offline plan: what the overlay declares for a scenario, with no engine and no cloud",
  usage: "--stack <production|qa> [--set key=value ...] [--json]",
  description:
    "Runs the real program under Pulumi's mocks with the stack's YAML file and prints what it\n" +
    "declares, in runbook order. No cloud credentials, no Pulumi CLI; live lookups are answered\n" +
    "from the stack's environment facts and listed as such. `npm run plan -- ...` is the same.",
  flags: flagsWith(OFFLINE_FLAGS, {
    flags: "--json",
    description:
      'print {"stack", "scenario", "resources": [{"type", "name", "inputs"}], ...} on stdout, JSON only',
  }),
  examples: [
    "pg-recovery plan --stack qa --set scenario=server-gone --set incidentDate=2024-07-24",
    "pg-recovery plan --stack qa --set scenario=server-gone --set incidentDate=2024-07-24 --json | jq '.resources | length'",
  ],
};

export interface PlanCommand extends Offline {
  command: "plan";
  json: boolean;
}

export function shape(values: Values, cwd: string): Shaped<PlanCommand> {
  const offline = offlineOf(values, cwd);
  if (!offline.ok) return offline;
  return { ok: true, command: { ...offline.command, command: "plan", json: !!values.json } };
}

export async function run(cmd: PlanCommand, deps: Deps): Promise<void> {
  const { offlinePlan } = await import("../plan");
  deps.io.out(await offlinePlan(cmd.stack, cmd.sets, cmd.workDir, cmd.json, deps.io.now()));
}
