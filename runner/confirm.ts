/**
 * The confirmation before anything changes: the operator types the environment's name (as the
 * stack facts spell it, `pg-recovery:environment.name`), after reading the summary. Automation
 * passes `--yes <env>`; naming the environment there is the same act. Without a terminal and
 * without `--yes`, nobody can have read the summary, so the answer is no.
 */
import { Io } from "./io";

export type Confirmation = { ok: true; how: string } | { ok: false; why: string };

export async function confirm(io: Io, environment: string, yes?: string): Promise<Confirmation> {
  if (yes !== undefined) {
    if (yes === environment) return { ok: true, how: `--yes ${environment}` };
    return {
      ok: false,
      why:
        `--yes "${yes}" does not name this environment: it is "${environment}". Read the summary ` +
        `above, then rerun with --yes ${environment}.`,
    };
  }
  if (!io.interactive) {
    return {
      ok: false,
      why:
        `no terminal to confirm on (stdin is not a TTY). Read the summary above, then rerun with ` +
        `--yes ${environment} to confirm without a prompt.`,
    };
  }
  const answer = (
    await io.ask(`Type the environment's name (${environment}) to go ahead: `)
  ).trim();
  if (answer === environment) return { ok: true, how: "typed the environment's name" };
  return {
    ok: false,
    why:
      answer === ""
        ? `nothing typed. Rerun the command and type ${environment} to go ahead.`
        : `"${answer}" is not "${environment}". Rerun the command and type ${environment} to go ahead.`,
  };
}
