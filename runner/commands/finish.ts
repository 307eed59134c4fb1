/** `pg-recovery finish`: revert everything (destroy --run-program) and return the stack to scenario none. */
import { CHANGING_FLAGS, CommandDefinition, commonShape } from "./definition";
import { revertRun } from "./plumbing";

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

export const shape = commonShape("finish");

export const run = revertRun("finish");
