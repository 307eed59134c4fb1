/**
 * The data tool's command line as an operator and the overlay's Jobs run it (a real process):
 * summaries on stdout, progress on stderr, no secrets printed, and the exit codes that
 * docs/data-tool.md states:
 * 0 ok; 1 failed, refused or differences; 2 usage or configuration.
 */
import * as assert from "node:assert/strict";
import { EXIT } from "../../contract/data-tool";
import { backup } from "../../datapath/backup/backup";
import { DEV_KEY } from "../support/azurite";
import { CliRun, quiet, runCli, useDataPath } from "../support/datapath";
import { seeded } from "../support/datapath-schemas";

describe("datapath CLI (real process, PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("cli", seeded());

  it("CLI: contract, exit codes, summary on stdout, no secrets printed", async () => {
    const { env } = fx.setup();
    const cliEnv = { ...env, DATABASE_URL: fx.pg.url("app"), PG_RECOVERY_PROGRESS_MS: "0" };
    const cli = (args: string[]) => runCli(args, cliEnv);
    const b = await cli(["backup", "--name", "ptt_test_adhoc_2024-07-26", "--jobs", "2"]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /backup ptt_test_adhoc_2024-07-26: complete/);
    assert.match(b.stderr, /uploaded/);
    const l = await cli(["list", "--json"]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(JSON.parse(l.stdout)[0].status, "complete");
    const refused = await cli(["restore", "--latest", "--db-name", "app"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--confirm 127\.0\.0\.1\/app/);
    const usage = await cli(["restore", "--name", "x", "--latest"]);
    assert.equal(usage.code, 2);
    const ok = await cli([
      "restore",
      "--name",
      "ptt_test_adhoc_2024-07-26",
      "--db-name",
      "cli_copy",
      "--jobs",
      "2",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      /restore of ptt_test_adhoc_2024-07-26 into 127\.0\.0\.1\/cli_copy: complete/,
    );
    for (const out of [b, l, refused, usage, ok]) {
      for (const secret of [fx.pg.password, DEV_KEY]) {
        assert.ok(!(out.stdout + out.stderr).includes(secret), "a secret was printed");
      }
    }
  });

  describe("exit codes", () => {
    let env: NodeJS.ProcessEnv;
    let down: string;

    before(async () => {
      ({ env } = fx.setup());
      env = { ...env, DATABASE_URL: fx.pg.url("app") };
      await backup({ name: "ptt_test_exit", url: fx.pg.url("app"), env, log: quiet });
      // Nothing listens on port 1; the password must not be printed either.
      down = "postgres://postgres:Secret-Pw-123@127.0.0.1:1/app";
      await fx.pg.query("postgres", "CREATE DATABASE app_same TEMPLATE app");
      await fx.pg.query("postgres", "CREATE DATABASE app_changed TEMPLATE app");
      await fx.pg.query("app_changed", "UPDATE providers SET name = 'changed' WHERE id = 7");
    });

    /** The exit codes docs/data-tool.md states, tried from the command line, all at once. */
    it("0 ok, 1 failed/refused/differences, 2 usage/configuration", async () => {
      const unset = { ...env, DATABASE_URL: undefined };
      const cases: [string, string[], NodeJS.ProcessEnv, number, RegExp][] = [
        ["help", ["--help"], env, EXIT.ok, /usage: pg-recovery-data/],
        ["command help", ["verify", "--help"], env, EXIT.ok, /usage: pg-recovery-data/],
        ["no command", [], env, EXIT.usage, /usage: pg-recovery-data/],
        ["unknown command", ["rewind"], env, EXIT.usage, /unknown command "rewind"/],
        ["unknown flag", ["list", "--bogus"], env, EXIT.usage, /bogus/],
        ["missing --name", ["backup"], env, EXIT.usage, /backup needs --name/],
        ["bad --jobs", ["backup", "--name", "x", "--jobs", "0"], env, EXIT.usage, /--jobs/],
        [
          "path-like backup name",
          ["backup", "--name", "../etc/passwd"],
          env,
          EXIT.usage,
          /--name: backup name "\.\.\/etc\/passwd" may only contain/,
        ],
        [
          "path-like restore name",
          ["restore", "--name", "/etc/passwd", "--db-name", "x"],
          env,
          EXIT.usage,
          /--name: backup name/,
        ],
        [
          "both --source and --source-env",
          ["verify", "--source", down, "--source-env", "X"],
          env,
          EXIT.usage,
          /--source or --source-env, not both/,
        ],
        [
          "DATABASE_URL unset",
          ["backup", "--name", "x"],
          unset,
          EXIT.usage,
          /DATABASE_URL is not set/,
        ],
        [
          "backup, server unreachable",
          ["backup", "--name", "ptt_test_down", "--db-env", "DOWN_URL"],
          { ...env, DOWN_URL: down },
          EXIT.failed,
          /cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/app/,
        ],
        [
          "restore, server unreachable",
          ["restore", "--name", "ptt_test_exit", "--db-env", "DOWN_URL"],
          { ...env, DOWN_URL: down },
          EXIT.failed,
          /cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres/,
        ],
        [
          "verify, server unreachable",
          ["verify", "--target", down],
          env,
          EXIT.failed,
          /cannot connect to target postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/app/,
        ],
        [
          "restore refused (live target without --confirm)",
          ["restore", "--name", "ptt_test_exit"],
          env,
          EXIT.failed,
          /needs --confirm 127\.0\.0\.1\/app/,
        ],
        [
          "verify, differences",
          ["verify", "--target-name", "app_changed"],
          env,
          EXIT.failed,
          /verdict: 1 DIFFERENCE\n/,
        ],
        [
          "verify, identical",
          ["verify", "--target-name", "app_same"],
          env,
          EXIT.ok,
          /verdict: IDENTICAL\n/,
        ],
      ];
      const runs: CliRun[] = await Promise.all(cases.map(([, args, e]) => runCli(args, e)));
      const failures: string[] = [];
      cases.forEach(([what, args, , code, pattern], i) => {
        const r = runs[i];
        const output = r.stdout + r.stderr;
        if (r.code !== code || !pattern.test(output)) {
          failures.push(
            `${what} (${args.join(" ")}): exit ${r.code}, wanted ${code} and ${pattern}\n${output}`,
          );
        }
        for (const secret of ["Secret-Pw-123", fx.pg.password, DEV_KEY]) {
          if (output.includes(secret)) failures.push(`${what}: printed a secret`);
        }
      });
      assert.deepEqual(failures, []);
      // A refused name wrote nothing.
      const listed = await runCli(["list", "--json"], env);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { name: string }[]).map((e) => e.name),
        ["ptt_test_exit"],
      );
    });
  });
});
