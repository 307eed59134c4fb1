/** `pg-recovery status`: what is declared, the jobs and their state, times so far. */
import type { Deps } from "../context";
import { CommandDefinition, Common, commonOf, ENGINE_FLAGS, flagsWith } from "./definition";
import type { Shaped, Values } from "./definition";
import { withSession } from "./plumbing";

export const definition: CommandDefinition = {
  name: "status",
  summary: "what is declared, the jobs and their state, times so far",
  usage: "--stack <env> [--json]",
  description:
    "Reads the stack (its config, resources and history), the cluster's Jobs and this machine's\n" +
    "journal, and says where the incident stands and the next command. Changes nothing.",
  flags: flagsWith(ENGINE_FLAGS, {
    flags: "--json",
    description: "print the same as JSON on stdout (nothing else on stdout)",
  }),
  examples: ["pg-recovery status --stack qa", "pg-recovery status --stack qa --json | jq .next"],
};

export interface StatusCommand extends Common {
  command: "status";
  json: boolean;
}

export function shape(values: Values, cwd: string): Shaped<StatusCommand> {
  return {
    ok: true,
    command: { ...commonOf(values, cwd), command: "status", json: !!values.json },
  };
}

export async function run(cmd: StatusCommand, deps: Deps): Promise<void> {
  await withSession(deps, "status", cmd, { changing: false }, async (s) => {
    const { status } = await import("../status");
    await status(s, cmd.json);
  });
}
