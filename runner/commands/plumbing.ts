/**
 * What the engine commands share when they run: the preflight (the config door's checks on what
 * the command line gave, before any engine is needed), then the session on the stack, and for
 * changing commands the repair of an interrupted update. Everything heavy is loaded here, at
 * run time, never by a command's definition.
 */
import type { Deps, Session } from "../context";
import type { Common } from "./definition";

/** finish and abort: the same revert (abort also from mid-way, with Jobs running). */
export function revertRun(name: "finish" | "abort") {
  return (cmd: Common & { command: "finish" | "abort" }, deps: Deps): Promise<void> =>
    withSession(deps, name, cmd, { changing: true }, async (s) => {
      const { revert } = await import("../revert");
      await revert(s, cmd);
    });
}

/** Opens the stack (engine, journal, who); changing commands first adopt and repair. */
export async function withSession(
  deps: Deps,
  name: string,
  cmd: Common,
  opts: { create?: boolean; changing: boolean },
  body: (s: Session) => Promise<void>,
): Promise<void> {
  const { openSession, adoptAppliedIncident } = await import("../session");
  const session = await openSession(deps, name, cmd.stack, cmd.workDir, {
    create: opts.create ?? false,
    changing: opts.changing,
    pulumi: cmd.pulumi,
  });
  if (opts.changing) {
    const { repairInterrupted } = await import("../repair");
    await adoptAppliedIncident(session);
    await repairInterrupted(session);
  }
  await body(session);
}
