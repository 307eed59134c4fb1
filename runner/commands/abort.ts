/** `pg-recovery abort`: the same revert as finish, from any point (even with jobs running). */
import { CHANGING_FLAGS, CommandDefinition, commonShape } from "./definition";
import { revertRun } from "./plumbing";

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

export const shape = commonShape("abort");

export const run = revertRun("abort");
