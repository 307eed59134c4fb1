/** `pg-recovery resume`: the app back at its recorded replica counts; maintenance stays on. */
import type { Deps } from "../context";
import { CHANGING_FLAGS, CommandDefinition, Common, commonShape } from "./definition";
import { withSession } from "./plumbing";

export const definition: CommandDefinition = {
  name: "resume",
  summary: "the app back (its recorded replica counts) while maintenance stays on",
  usage: "--stack <env> [--dry-run] [--yes <env>]",
  description:
    "Scales the app back to the replica counts recorded before the incident; the public hosts\n" +
    "keep showing maintenance, so the app can be tested through the temporary hosts first.\n" +
    "Waits for a running promotion (or restore) to finish before it does.",
  flags: CHANGING_FLAGS,
  examples: ["pg-recovery resume --stack qa --dry-run"],
};

export interface ResumeCommand extends Common {
  command: "resume";
}

export const shape = commonShape("resume");

export async function run(cmd: ResumeCommand, deps: Deps): Promise<void> {
  await withSession(deps, "resume", cmd, { changing: true }, async (s) => {
    const { resume } = await import("../steps");
    await resume(s, cmd);
  });
}
