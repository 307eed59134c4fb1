/**
 * The data tool's help, generated from one definition per command (the contract's flags plus the
 * command module's words), and its usage errors: one line, the command's usage line, a
 * did-you-mean for commands, flags and enumerated values. In-process: no database, no storage.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  COMMAND_NAMES,
  COMMANDS,
  EXIT,
  flagTerm,
  FlagSpec,
  parseArgv,
} from "../../contract/data-tool";
import { HELP, main } from "../../datapath/cli";
import { usageLine } from "../../datapath/commands/help";

const ROOT = path.join(__dirname, "..", "..");

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env: {},
  });
  return { code, out, err };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const specs = (command: string): FlagSpec[] =>
  Object.values(COMMANDS[command as keyof typeof COMMANDS] as Record<string, FlagSpec>);

describe("datapath CLI help and usage errors", () => {
  it("--help lists every command with what it does, and what the commands share", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      const r = await run(argv);
      assert.equal(r.code, EXIT.ok);
      assert.equal(r.err, "");
      for (const command of COMMAND_NAMES) {
        assert.match(
          r.out,
          new RegExp(`^  ${command} +${escape(HELP[command].summary)}$`, "m"),
          command,
        );
      }
      assert.match(r.out, /^exit codes: 0 ok; 1 failed/m);
    }
    const none = await run([]);
    assert.equal(none.code, EXIT.usage);
    assert.match(none.err, /^usage: pg-recovery-data <command>/);
  });

  for (const command of COMMAND_NAMES) {
    it(`${command} --help explains every flag it takes, with examples that parse`, async () => {
      const r = await run([command, "--help"]);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.equal((await run(["help", command])).out, r.out, "help <command> is the same");
      assert.match(r.out, new RegExp(`^usage: pg-recovery-data ${command}`));
      for (const spec of specs(command)) {
        // The flag's term, then its explanation on the same line.
        const line = new RegExp(`^  ${escape(flagTerm(spec))} +\\S.{10,}$`, "m");
        assert.match(r.out, line, `${command} ${flagTerm(spec)}`);
        assert.match(HELP[command].usage, new RegExp(`--${spec.flag}(?![\\w-])`), "usage line");
      }
      const examples = r.out.slice(r.out.indexOf("\nexamples:\n")).replace(/ \\\n +/g, " ");
      const lines = examples.split("\n").filter((l) => l.startsWith("  pg-recovery-data "));
      assert.ok(lines.length >= 1, "an example");
      for (const example of lines) {
        const argv = example.trim().split(/\s+/).slice(1);
        assert.doesNotThrow(() => parseArgv(argv), example);
        assert.equal(argv[0], command);
      }
    });
  }

  it("a usage error: one line, the command's usage line, not the manual (exit 2)", async () => {
    const cases: [string[], RegExp][] = [
      [["list", "--jsn"], /^pg-recovery-data list: unknown flag --jsn \(did you mean --json\?\)$/],
      [["rstore"], /^pg-recovery-data: unknown command "rstore" \(did you mean restore\?\)$/],
      [
        ["promote", "--mode", "mrge"],
        /^pg-recovery-data promote: --mode must be one of whole, tables, merge, got "mrge" \(did you mean merge\?\)$/,
      ],
      [["list", "stray"], /^pg-recovery-data list: unexpected argument "stray"/],
      [["restore", "--name", "--latest"], /^pg-recovery-data restore: --name needs a value/],
      [
        ["promote", "--tables", "public.a,,public.b"],
        /^pg-recovery-data promote: --tables "public\.a,,public\.b" has an empty name \(two commas in a row, or one at an end\)$/,
      ],
      [
        ["promote", "--restore-target", "2024-07-24T05:59:00Z", "--plan", "--incident", "#!"],
        /^pg-recovery-data promote: --incident names the schema pgr_<incident>_replaced: it needs a letter or digit, got "#!"$/,
      ],
      [
        ["verify", "--jobs", "9"],
        /^pg-recovery-data verify: --jobs must be a whole number from 1 to 8/,
      ],
    ];
    for (const [argv, first] of cases) {
      const r = await run(argv);
      assert.equal(r.code, EXIT.usage, argv.join(" "));
      assert.equal(r.out, "");
      const lines = r.err.trimEnd().split("\n");
      assert.match(lines[0], first);
      assert.match(lines[1], /^usage: pg-recovery-data /);
      assert.ok(lines.length <= 7, `${argv.join(" ")}: ${lines.length} lines\n${r.err}`);
      assert.doesNotMatch(r.err, /environment:|examples:/);
    }
  });

  it("docs/data-tool.md shows every command's usage line as --help prints it", () => {
    const text = fs.readFileSync(path.join(ROOT, "docs", "data-tool.md"), "utf8");
    const start = text.indexOf("```text\n") + "```text\n".length;
    const block = text.slice(start, text.indexOf("```\n", start));
    const lines = COMMAND_NAMES.map((c) => `${usageLine(c, HELP[c])}\n`).join("");
    assert.equal(block, lines, "docs/data-tool.md: paste the usage lines of each command's --help");
  });
});
