/** `pg-recovery record`: the incident record, Markdown and JSON (never a secret). */
import type { Deps } from "../context";
import { CommandDefinition, Common, commonOf, ENGINE_FLAGS, flagsWith } from "./definition";
import type { Shaped, Values } from "./definition";
import { withSession } from "./plumbing";
import * as path from "node:path";

export const definition: CommandDefinition = {
  name: "record",
  summary: "the incident record, Markdown and JSON (never a secret)",
  usage: "--stack <env> [--out <dir>]",
  description:
    "Writes the incident's record (timeline, who ran what, the jobs and their outcomes, RPO and\n" +
    "durations) from the stack's history and this machine's journal. Without a usable engine (no\n" +
    "Pulumi CLI, backend unreachable) it is written from the journal alone, and says so.",
  flags: flagsWith(ENGINE_FLAGS, {
    flags: "--out <dir>",
    description: "the directory the two files are written to (default: .)",
  }),
  examples: ["pg-recovery record --stack qa --out ./incident"],
};

export interface RecordCommand extends Common {
  command: "record";
  /** Directory the Markdown and JSON files are written to. */
  out: string;
}

export function shape(values: Values, cwd: string): Shaped<RecordCommand> {
  return {
    ok: true,
    command: {
      ...commonOf(values, cwd),
      command: "record",
      out: path.resolve(cwd, (values.out as string | undefined) ?? "."),
    },
  };
}

export async function run(cmd: RecordCommand, deps: Deps): Promise<void> {
  const { writeRecord } = await import("../record");
  const { EngineUnavailable } = await import("../io");
  let files: { markdown: string; json: string } | undefined;
  try {
    await withSession(deps, "record", cmd, { changing: false }, async (s) => {
      files = await writeRecord(s, cmd.out);
    });
  } catch (e) {
    if (!(e instanceof EngineUnavailable)) throw e;
    // The journal is this machine's own: the record needs no engine to be written from it.
    deps.io.err(
      `${e.message.split("\n")[0]}\nWriting the record from this machine's journal only.`,
    );
    const { journalOnlySession } = await import("../session");
    files = await writeRecord(journalOnlySession(deps, "record", cmd.stack, cmd.workDir), cmd.out);
  }
  deps.io.out(`Incident record written:\n  ${files!.markdown}\n  ${files!.json}`);
}
