/** `pg-recovery finish`: revert everything (destroy --run-program) and return the stack to scenario none. */
import type { Deps } from "../context";
import { CHANGING_FLAGS, CommandDefinition, Common, commonOf, Shaped, Values } from "./definition";
import { withSession } from "./plumbing";

export const definition: CommandDefinition = {
  name: "finish",
  summary: "revert everything (destroy --run-program) and return the stack to scenario none",
  usage: "--stack <env> [--dry-run] [--yes <env>]",
  description:
    "The end of a completed incident: maintenance off, pipeline unfrozen, replicas as recorded\n" +
    "before the incident, then the incident keys out of the config. Refuses while a data Job runs\n" +
    "(use abort to stop it). The point-in-time restore server is kept as evidence.",
  flags: CHANGING_FLAGS,
  examples: ["pg-recovery finish --stack qa --dry-run"],
};

export interface FinishCommand extends Common {
  command: "finish";
}

export function shape(values: Values, cwd: string): Shaped<FinishCommand> {
  return { ok: true, command: { ...commonOf(values, cwd), command: "finish" } };
}

export async function run(cmd: FinishCommand, deps: Deps): Promise<void> {
  await withSession(deps, "finish", cmd, { changing: true }, async (s) => {
    const { revert } = await import("../revert");
    await revert(s, cmd);
  });
}
