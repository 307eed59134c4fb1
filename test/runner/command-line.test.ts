/**
 * The runner's command line as a newcomer meets it: each command's help from its one definition,
 * usage errors in one line with the command's usage line, did-you-mean, nothing heavy loaded for
 * help, the checks that need no engine run without one, and the plan's JSON alone on stdout.
 */
import * as assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EXIT, PROMOTION_MODES } from "../../contract/data-tool";
import { helpFor, parseCommandLine, REPO_ROOT, usageLine } from "../../runner/args";
import { COMMANDS, CommandName } from "../../runner/commands";
import { MODES } from "../../runner/commands/promote";
import { EngineUnavailable } from "../../runner/io";
import { DATE, jobsSucceed, promoteArgv, run, start, startArgv, yes } from "./support/commands";
import { testIo, world } from "./support/fakes";

const NAMES = Object.keys(COMMANDS) as CommandName[];
const BIN = path.join(REPO_ROOT, "runner", "bin", "pg-recovery.js");

function spawn(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd: REPO_ROOT, env, maxBuffer: 32 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe("runner: each command's help, from its definition", () => {
  for (const name of NAMES) {
    it(`${name} --help explains every flag it takes, with an example`, async () => {
      const w = world();
      const r = await run(w, [name, "--help"]);
      assert.equal(r.code, EXIT.ok);
      assert.equal(r.err, "");
      const d = COMMANDS[name].definition;
      assert.match(r.out, new RegExp(`^Usage: pg-recovery ${name} `));
      for (const f of d.flags) {
        const flag = f.flags.split(" ")[0];
        const line = r.out.split("\n").find((l) => l.trimStart().startsWith(flag));
        assert.ok(line, `${flag} is listed`);
        assert.ok(line.trim().length > flag.length + 4, `${flag} is explained`);
      }
      assert.match(r.out, /Examples?:\n {2}pg-recovery /);
      for (const e of d.examples) assert.ok(r.out.includes(e), e);
      assert.equal(helpFor(name), r.out);
    });
  }

  it("the manual lists every command in a line", () => {
    const r = parseCommandLine(["--help"]);
    assert.ok(!r.ok && r.help);
    for (const name of NAMES) assert.match(r.message, new RegExp(`^ {2}${name} +\\S`, "m"));
  });

  it("promote's modes are the contract's", () => {
    assert.deepEqual([...MODES], [...PROMOTION_MODES]);
  });
});

describe("runner: usage errors, one line and the usage line", () => {
  const usage = async (argv: string[]) => {
    const r = await run(world(), argv);
    assert.equal(r.code, EXIT.usage);
    assert.equal(r.out, "");
    return r.err.split("\n");
  };

  it("an unknown flag: the error, the command's usage line, where the help is; not the manual", async () => {
    const lines = await usage(["resume", "--stack", "qa", "--forse"]);
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.match(lines[0], /^Unknown option '--forse'/);
    assert.equal(lines[1], usageLine(COMMANDS.resume.definition));
    assert.match(lines[2], /pg-recovery resume --help/);
  });

  it("did you mean: a command, a flag, a scenario, a mode", async () => {
    assert.match((await usage(["strat", "--stack", "qa"]))[0], /Did you mean start\?/);
    assert.match(
      (await usage(["start", "--stack", "qa", "--scenario", "corrupted", "--restor-time", "x"]))[0],
      /Did you mean --restore-time\?/,
    );
    assert.match(
      (await usage(startArgv({ scenario: "server-gon" })))[0],
      /--scenario must be corrupted or server-gone \(not "server-gon"\)\. Did you mean --scenario server-gone\?/,
    );
    assert.match(
      (await usage(promoteArgv({ mode: "merg", tables: "public.a" })))[0],
      /--mode must be whole, tables or merge \(not "merg"\)\. Did you mean --mode merge\?/,
    );
  });

  it("a missing value and a missing --stack say so, with the usage line", async () => {
    const missing = await usage(["status", "--stack"]);
    assert.match(missing[0], /^Option '--stack <env>' argument missing/);
    assert.equal(missing[1], usageLine(COMMANDS.status.definition));
    assert.match((await usage(["plan", "--json"]))[0], /--stack is required/);
  });
});

describe("runner: what needs no engine runs without one", function () {
  this.timeout(120_000);
  let home: string;
  /** A shell with this Node and no Pulumi CLI anywhere resolution looks. */
  let bare: NodeJS.ProcessEnv;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "no-pulumi-"));
    bare = {
      ...process.env,
      // This Node and npm, and no directory that holds a pulumi.
      PATH: [path.dirname(process.execPath), ...(process.env.PATH ?? "").split(path.delimiter)]
        .filter((d) => d && !fs.existsSync(path.join(d, "pulumi")))
        .join(path.delimiter),
      PULUMI_HOME: home,
      PULUMI_CLI: "",
    };
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it("an older Node than engines: one line saying which, what is needed and how to get it, exit 1", function () {
    // Needs a Node older than 24 besides this one (Debian's /usr/bin/node is 20 on these images).
    const old = ["/usr/bin/node", "/usr/local/bin/node"].find((f) => {
      const v = spawnSync(f, ["--version"], { encoding: "utf8" }).stdout ?? "";
      return /^v(\d+)/.test(v) && Number(/^v(\d+)/.exec(v)![1]) < 24;
    });
    if (!old) {
      console.warn(
        "    (skipped: no Node older than 24 on this machine; install Debian's nodejs to run it)",
      );
      this.skip();
    }
    const r = spawnSync(old!, [BIN, "--help"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^pg-recovery needs Node >=24 \(package.json engines\); this is Node \d+\./,
    );
    assert.match(lines[0], /export PATH="\$\(bash tools\/node-lts\.sh\):\$PATH"/);
  });

  it("--help loads none of the engine, the cluster client or the program", () => {
    const script =
      `require("ts-node").register({ project: "tsconfig.json", transpileOnly: true });` +
      `const { main } = require("./runner/cli.ts");` +
      `main(["start", "--help"]).then(() => main(["--help"])).then(() => {` +
      `  const heavy = Object.keys(require.cache).filter((k) => /@pulumi|@kubernetes|[/]stacks[/]|[/]components[/]/.test(k));` +
      `  process.stderr.write(JSON.stringify(heavy)); });`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stderr), []);
  });

  it("start --dry-run with a bad time, and no Pulumi CLI: the door's message, exit 1, no trace", async () => {
    const r = await spawn(
      process.execPath,
      [
        BIN,
        ...startArgv({
          stack: "qa",
          scenario: "corrupted",
          restoreTime: "2099-07-24T05:59:00Z",
          dryRun: true,
        }),
      ],
      bare,
    );
    assert.equal(r.code, EXIT.failed, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /pg-recovery:restoreTime 2099-07-24T05:59:00Z is in the future/);
    assert.match(r.stderr, /`--restore-time YYYY-MM-DDThh:mm:ssZ`/);
    assert.doesNotMatch(r.stderr, /Pulumi CLI/, "refused before the engine was looked for");
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  it("drill --dry-run with a bad --date or a future --restore-time, and no Pulumi CLI: refused by its flag", async () => {
    const drill = (...flags: string[]) =>
      spawn(process.execPath, [BIN, "drill", "--stack", "qa", ...flags, "--dry-run"], bare);
    const date = await drill("--date", "2026-13-01");
    assert.equal(date.code, EXIT.failed, date.stderr);
    assert.match(
      date.stderr,
      /pg-recovery:incidentDate "2026-13-01" is not a date in YYYY-MM-DD form/,
    );
    assert.match(date.stderr, /pg-recovery:incidentDate is --date: fix the flag and rerun\./);
    const time = await drill("--restore-time", "2099-07-24T05:59:00Z");
    assert.equal(time.code, EXIT.failed, time.stderr);
    assert.match(time.stderr, /pg-recovery:restoreTime 2099-07-24T05:59:00Z is in the future/);
    assert.match(time.stderr, /`--restore-time YYYY-MM-DDThh:mm:ssZ`/);
    for (const r of [date, time]) {
      assert.equal(r.stdout, "");
      assert.doesNotMatch(
        r.stderr,
        /Pulumi CLI|pulumi config|stack file/,
        "refused by the flag, before the engine",
      );
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });

  it("record: from this machine's journal when the engine cannot be used", async () => {
    const w = world();
    jobsSucceed(w);
    assert.equal((await run(w, [...start, ...yes])).code, EXIT.ok);
    const io = testIo();
    const noEngine = {
      ...w.deps(io),
      engine: async (): Promise<never> => {
        throw new EngineUnavailable(
          "no usable Pulumi CLI (none on PATH).\nFix it with one of: ...",
        );
      },
    };
    const r = await run(w, ["record", "--stack", "production", "--out", home], io, noEngine);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(
      r.err,
      /^no usable Pulumi CLI \(none on PATH\)\.\nWriting the record from this machine's journal only\./,
    );
    const json = r.out
      .split("\n")
      .find((l) => l.trim().endsWith(".json"))!
      .trim();
    const record = JSON.parse(fs.readFileSync(json, "utf8")) as { incidentDate?: string };
    assert.equal(record.incidentDate, DATE);
  });

  it("plan --json through the npm script and npx: stdout is JSON alone", async () => {
    const args = [
      "--stack",
      "qa",
      "--set",
      "scenario=server-gone",
      "--set",
      "incidentDate=2026-11-24",
      "--json",
    ];
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts.plan, "node runner/bin/pg-recovery.js plan");
    const viaNpx = await spawn("npx", ["pg-recovery", "plan", ...args], bare);
    assert.equal(viaNpx.code, 0, viaNpx.stderr);
    assert.equal(JSON.parse(viaNpx.stdout).scenario, "server-gone");
    const viaNpm = await spawn("npm", ["run", "--silent", "plan", "--", ...args], bare);
    assert.equal(viaNpm.code, 0, viaNpm.stderr);
    assert.deepEqual(JSON.parse(viaNpm.stdout), JSON.parse(viaNpx.stdout));
  });
});
