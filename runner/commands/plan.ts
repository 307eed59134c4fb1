/** `pg-recovery plan`: the offline plan (also `npm run plan -- ...`). */
import type { Deps } from "../context";
import * as path from "node:path";
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

export const definition: CommandDefinition = {
  name: "plan",
  summary:
    "the offline plan: what the overlay declares for a scenario, with no engine and no cloud",
  usage: "--stack <production|qa> [--set key=value ...] [--json]",
  description:
    "Runs the real program under Pulumi's mocks with the stack's YAML file and prints what it\n" +
    "declares, in runbook order. No cloud credentials, no Pulumi CLI; live lookups are answered\n" +
    "from the stack's environment facts and listed as such. `npm run plan -- ...` is the same.",
  flags: [
    { ...STACK, flags: "--stack <env>" },
    SET,
    {
      flags: "--json",
      description:
        'print {"stack", "scenario", "resources": [{"type", "name", "inputs"}], ...} on stdout, JSON only',
    },
    WORK_DIR,
  ],
  examples: [
    "pg-recovery plan --stack qa --set scenario=server-gone --set incidentDate=2024-07-24",
    "pg-recovery plan --stack qa --set scenario=server-gone --set incidentDate=2024-07-24 --json | jq '.resources | length'",
  ],
};

export interface PlanCommand {
  command: "plan";
  stack: string;
  /** Where the stack files are (default: this repository). */
  workDir: string;
  sets: Record<string, string>;
  json: boolean;
}

export function shape(values: Values, cwd: string): Shaped<PlanCommand> {
  const sets = setsOf(values);
  if (!sets.ok) return sets;
  return {
    ok: true,
    command: {
      command: "plan",
      stack: values.stack as string,
      workDir: path.resolve(cwd, (values.workDir as string | undefined) ?? REPO_ROOT),
      sets: sets.command,
      json: !!values.json,
    },
  };
}

export async function run(cmd: PlanCommand, deps: Deps): Promise<void> {
  const { offlinePlan } = await import("../plan");
  deps.io.out(await offlinePlan(cmd.stack, cmd.sets, cmd.workDir, cmd.json, deps.io.now()));
}
