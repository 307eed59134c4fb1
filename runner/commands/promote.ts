/** `pg-recovery promote`: copy the restored data into live, as the promotion plan described. */
import type { Deps } from "../context";
import { CHANGING_FLAGS, choiceOf, CommandDefinition, commonOf, flagsWith } from "./definition";
import type { Common, Shaped, Values } from "./definition";
import { withSession } from "./plumbing";

/** As contract/data-tool.ts's PROMOTION_MODES (a test holds them equal; this file stays light). */
export const MODES = ["whole", "tables", "merge"] as const;

export const definition: CommandDefinition = {
  name: "promote",
  summary: "copy the restored data into live, as the promotion plan described; waits for the job",
  usage:
    "--stack <env> --mode whole|tables|merge [--tables schema.table,...] --confirm <live server> [--dry-run] [--yes <env>]",
  description:
    "After start (corrupted) and the validation report: writes the restored server's data into\n" +
    "the live database in the mode the promotion plan recommended, and waits for the promotion Job.\n" +
    "Live data is overwritten, so --confirm must name the live server exactly.",
  flags: flagsWith(
    CHANGING_FLAGS,
    {
      flags: "--mode <mode>",
      description:
        "whole (swap the whole database), tables (replace the listed tables) or merge (re-insert " +
        "missing rows of the listed tables, losing nothing)",
      choices: MODES,
    },
    {
      flags: "--tables <list>",
      description: "for tables and merge: the tables, schema.table, comma-separated",
    },
    {
      flags: "--confirm <server>",
      description: "the live server's name, exactly: the target whose data is overwritten",
    },
  ),
  examples: [
    "pg-recovery promote --stack qa --mode merge --tables public.courses --confirm s189t01-ptt-qa-pg --dry-run",
  ],
};

export interface PromoteCommand extends Common {
  command: "promote";
  mode: string;
  tables?: string;
  confirm: string;
}

export function shape(values: Values, cwd: string): Shaped<PromoteCommand> {
  const common = commonOf(values, cwd);
  const mode = values.mode as string | undefined;
  const confirmed = values.confirm as string | undefined;
  if (!mode || !confirmed) {
    // Name only what is missing: a mode given and not asked for again reads as a typo.
    const missing = [
      ...(mode ? [] : ["--mode (whole, tables or merge, as chosen from the promotion plan)"]),
      ...(confirmed ? [] : ["--confirm <live server name>"]),
    ];
    return {
      ok: false,
      message:
        `promote needs ${missing.join(" and ")}: e.g. pg-recovery promote --stack ${common.stack} ` +
        `--mode ${mode ?? "merge"}${mode === "whole" ? "" : " --tables public.courses"} --confirm <live server>.`,
    };
  }
  const chosen = choiceOf("--mode", mode, MODES, `--mode merge`);
  if (!chosen.ok) return chosen;
  return {
    ok: true,
    command: {
      ...common,
      command: "promote",
      mode,
      tables: values.tables as string | undefined,
      confirm: confirmed,
    },
  };
}

export async function run(cmd: PromoteCommand, deps: Deps): Promise<void> {
  const { preflightPromote } = await import("../preflight");
  preflightPromote(cmd, deps.io.now());
  await withSession(deps, "promote", cmd, { changing: true }, async (s) => {
    const { promote } = await import("../steps");
    await promote(s, cmd);
  });
}
