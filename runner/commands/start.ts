/** `pg-recovery start`: the incident's first step (corrupted or server-gone). */
import type { Deps } from "../context";
import { CHANGING_FLAGS, choiceOf, CommandDefinition, commonOf, flagsWith } from "./definition";
import type { Common, Shaped, Values } from "./definition";
import { withSession } from "./plumbing";

export const SCENARIOS = ["corrupted", "server-gone"] as const;

export const definition: CommandDefinition = {
  name: "start",
  summary:
    "declare the incident: freeze, maintenance, scale-down, backup, restore; wait for the jobs",
  usage:
    "--stack <env> --scenario corrupted|server-gone [--restore-time <RFC 3339>] " +
    "[--deleted-at <RFC 3339>] [--incident-date YYYY-MM-DD] [--noticed-at <RFC 3339>] [--dry-run] [--yes <env>]",
  description:
    "corrupted: freeze, maintenance, scale-down, ad-hoc backup and a point-in-time restore to\n" +
    "--restore-time; then waits for the backup and validation jobs and prints the validation report\n" +
    "and the promotion plan. server-gone: revive the dropped server (with --deleted-at and\n" +
    "--restore-time) or rebuild it and restore the latest complete backup (without them).\n" +
    "Rerunning with the same values continues where it stopped.\n\n" +
    "Times are RFC 3339 with an offset: 2024-07-24T05:59:00Z or 2024-07-24T06:59:00+01:00.",
  flags: flagsWith(
    CHANGING_FLAGS,
    {
      flags: "--scenario <scenario>",
      description:
        "what happened: corrupted (bad data in live) or server-gone (the server was dropped)",
      choices: SCENARIOS,
    },
    {
      flags: "--restore-time <time>",
      description:
        "the instant to restore to, one minute before the corruption (RFC 3339 with an offset); " +
        "required for corrupted; for server-gone, with --deleted-at, revives the dropped server",
    },
    {
      flags: "--deleted-at <time>",
      description: "server-gone only: when the server was dropped (RFC 3339 with an offset)",
    },
    {
      flags: "--incident-date <YYYY-MM-DD>",
      description: "the incident's date, which every dated name derives from (default: today, UTC)",
    },
    {
      flags: "--noticed-at <time>",
      description:
        "when the corruption was noticed (RFC 3339 with an offset), for the record's RPO",
    },
  ),
  examples: [
    "pg-recovery start --stack qa --scenario corrupted --restore-time 2024-07-24T05:59:00Z --dry-run",
    "pg-recovery start --stack production --scenario server-gone",
  ],
};

export interface StartCommand extends Common {
  command: "start";
  scenario: (typeof SCENARIOS)[number];
  restoreTime?: string;
  incidentDate?: string;
  deletedAt?: string;
  /** When the corruption was noticed, as the operator typed it (for the RPO). */
  noticedAt?: string;
}

export function shape(values: Values, cwd: string): Shaped<StartCommand> {
  const common = commonOf(values, cwd);
  const get = (k: string) => values[k] as string | undefined;
  const scenario = choiceOf(
    "--scenario",
    get("scenario"),
    SCENARIOS,
    `pg-recovery start --stack ${common.stack} --scenario corrupted --restore-time 2024-07-24T05:59:00Z`,
  );
  if (!scenario.ok) return scenario;
  if (scenario.command === "corrupted" && !get("restoreTime")) {
    return {
      ok: false,
      message:
        `--restore-time is required for the corrupted scenario: one minute before the corruption, ` +
        `RFC 3339 with an offset, e.g. --restore-time 2024-07-24T06:59:00+01:00.`,
    };
  }
  if (scenario.command === "corrupted" && get("deletedAt")) {
    return {
      ok: false,
      message: `--deleted-at only applies to --scenario server-gone (when the server was dropped).`,
    };
  }
  return {
    ok: true,
    command: {
      ...common,
      command: "start",
      scenario: scenario.command as StartCommand["scenario"],
      restoreTime: get("restoreTime"),
      incidentDate: get("incidentDate"),
      deletedAt: get("deletedAt"),
      noticedAt: get("noticedAt"),
    },
  };
}

export async function run(cmd: StartCommand, deps: Deps): Promise<void> {
  const { givenTimes, preflightStart } = await import("../preflight");
  // The times are read once, here at the edge; the door's checks run before any engine.
  const times = givenTimes(cmd, deps.io.now());
  preflightStart(cmd, times, deps.io.now());
  await withSession(deps, "start", cmd, { create: true, changing: true }, async (s) => {
    const { start } = await import("../steps");
    await start(s, cmd, times);
  });
}
