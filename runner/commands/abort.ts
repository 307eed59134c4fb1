/** `pg-recovery abort`: the same revert as finish, from any point (even with jobs running). */
import type { Deps } from "../context";
import { CHANGING_FLAGS, CommandDefinition, Common, commonOf, Shaped, Values } from "./definition";
import { withSession } from "./plumbing";

export const definition: CommandDefinition = {
  name: "abort",
  summary: "the same revert as finish, from any point (even with jobs running)",
  usage: "--stack <env> [--dry-run] [--yes <env>]",
  description:
    "Reverts everything the overlay declared, from any point of the incident: running Jobs are\n" +
    "deleted (stopped mid-way), and the summary says so before you confirm.",
  flags: CHANGING_FLAGS,
  examples: ["pg-recovery abort --stack qa --dry-run"],
};

export interface AbortCommand extends Common {
  command: "abort";
}

export function shape(values: Values, cwd: string): Shaped<AbortCommand> {
  return { ok: true, command: { ...commonOf(values, cwd), command: "abort" } };
}

export async function run(cmd: AbortCommand, deps: Deps): Promise<void> {
  await withSession(deps, "abort", cmd, { changing: true }, async (s) => {
    const { revert } = await import("../revert");
    await revert(s, cmd);
  });
}
