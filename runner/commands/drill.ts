/** `pg-recovery drill`: the restore drill, live only read, everything it made removed after. */
import type { Deps } from "../context";
import { CHANGING_FLAGS, CommandDefinition, Common, commonOf, Shaped, Values } from "./definition";
import { withSession } from "./plumbing";
import * as path from "node:path";

export const definition: CommandDefinition = {
  name: "drill",
  summary: "restore drill: PITR and latest backup into a throwaway server, checked, then removed",
  usage:
    "--stack <env> [--restore-time <RFC 3339>] [--date YYYY-MM-DD] [--keep] [--out <dir>] " +
    "[--dry-run] [--yes <env>] | --stack <env> --history [--out <dir>]",
  description:
    "Restores live at --restore-time into a drill server (<live>-drill) and the newest complete\n" +
    "backup into a scratch database on it, verifies both, writes the drill record (RPO, RTO,\n" +
    "every check; Markdown, JSON and an SVG chart) and archives it to the backup container, then\n" +
    "removes everything it made. Live, the app, the maintenance page and the pipeline are never\n" +
    "touched; a stack with an incident in progress is refused. Exit 0 only when every check\n" +
    "passed and no recovery target was missed. A rerun continues or cleans up a drill cut short;\n" +
    "`pg-recovery abort` removes a drill's resources. See docs/drill.md.",
  flags: [
    ...CHANGING_FLAGS.slice(0, 1),
    {
      flags: "--restore-time <time>",
      description:
        "the point to restore to (RFC 3339 with an offset; default: ten minutes ago, to the minute)",
    },
    {
      flags: "--date <YYYY-MM-DD>",
      description: "the drill's date, which its names derive from (default: today, UTC)",
    },
    {
      flags: "--keep",
      description: "leave the drill server for inspection (the command to remove it is printed)",
    },
    {
      flags: "--history",
      description: "print past drills from the backup container as a table and write the chart",
    },
    {
      flags: "--out <dir>",
      description: "the directory the record (or the history chart) is written to (default: .)",
    },
    ...CHANGING_FLAGS.slice(1),
  ],
  examples: [
    "pg-recovery drill --stack qa --dry-run",
    "pg-recovery drill --stack qa --yes qa --out ./drill",
    "pg-recovery drill --stack qa --history",
  ],
};

/** `drill`: the restore drill (runner/drill/run.ts). */
export interface DrillCommand extends Common {
  command: "drill";
  restoreTime?: string;
  date?: string;
  keep: boolean;
  history: boolean;
  out: string;
}

export function shape(values: Values, cwd: string): Shaped<DrillCommand> {
  const get = (k: string) => values[k] as string | undefined;
  if (values.history === true && (get("restoreTime") || get("date") || values.keep === true)) {
    return {
      ok: false,
      message: `--history reads past drills only: leave out --restore-time, --date and --keep.`,
    };
  }
  return {
    ok: true,
    command: {
      ...commonOf(values, cwd),
      command: "drill",
      restoreTime: get("restoreTime"),
      date: get("date"),
      keep: values.keep === true,
      history: values.history === true,
      out: path.resolve(cwd, get("out") ?? "."),
    },
  };
}

export async function run(cmd: DrillCommand, deps: Deps): Promise<void> {
  // --history only reads; a drill writes the stack (the scenario, its server, its Jobs).
  const changing = !cmd.history;
  const { givenRestoreTime, preflightDrill } = await import("../preflight");
  const restoreTime = givenRestoreTime(cmd.restoreTime);
  if (changing) preflightDrill(cmd, restoreTime, deps.io.now());
  await withSession(deps, "drill", cmd, { create: changing, changing }, async (s) => {
    const { drill } = await import("../drill/run");
    await drill(s, { ...cmd, restoreTime });
  });
}
