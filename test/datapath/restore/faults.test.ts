/**
 * Faults injected mid-restore: storage halted during the download, pg_restore killed, a load
 * failing partway, SIGTERM to the CLI. Every fault must leave the target exactly as it was
 * (fingerprint before and after), no `_restore_` scratch database and no temp file behind.
 * Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { backup } from "../../../datapath/backup/backup";
import { restore } from "../../../datapath/restore/restore";
import { verifyDatabases } from "../../../datapath/verify/verify";
import { Azurite, haltMidDownload } from "../../support/azurite";
import {
  builtCli,
  contentFingerprint,
  differences,
  execFileAsync,
  fastRetry,
  PG_RESTORE_COPYING,
  quiet,
  ROOT,
  scratchDatabases,
  useDataPath,
  waitFor,
} from "../../support/datapath";
import { BULK_SCHEMA, marker, seeded } from "../../support/datapath-schemas";

describe("datapath faults mid-restore: the target stays exactly as it was, no scratch left", function () {
  this.timeout(60_000);
  const fx = useDataPath("rf", seeded("bulk", BULK_SCHEMA));

  let env: NodeJS.ProcessEnv;
  let live: Record<string, string>;
  // Made in before(), not at load time: a skipped or filtered suite must not leave it behind.
  let tempDir: string;

  before(async () => {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-adv-tmp-"));
    ({ env } = fx.setup());
    await backup({ name: "bulk_adhoc", url: fx.pg.url("bulk"), env, log: quiet });
    await seeded("live", marker("old live data"))(fx.pg);
    live = await contentFingerprint(fx.pg, "live");
  });

  after(() => {
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  });

  async function assertUntouched(what: string) {
    assert.deepEqual(await contentFingerprint(fx.pg, "live"), live, `${what}: live changed`);
    assert.deepEqual(await scratchDatabases(fx.pg), [], `${what}: scratch database left behind`);
    assert.deepEqual(fs.readdirSync(tempDir), [], `${what}: temp files left behind`);
    const conn = await fx.pg.query(
      "postgres",
      "SELECT datallowconn FROM pg_database WHERE datname = 'live'",
    );
    assert.deepEqual(conn.rows, [{ datallowconn: true }], `${what}: live still connectable`);
  }

  it("(a) storage halted during the download", async () => {
    const store = new Azurite();
    await store.start();
    try {
      const { env: storeEnv } = fx.setup(store.connectionString);
      await backup({ name: "bulk_for_outage", url: fx.pg.url("bulk"), env: storeEnv, log: quiet });
      await haltMidDownload(store, (log) =>
        assert.rejects(
          restore({
            name: "bulk_for_outage",
            url: fx.pg.url("live"),
            confirm: "127.0.0.1/live",
            env: storeEnv,
            tempDir,
            jobs: 1,
            storage: { ...fastRetry(3_000), blockSize: 64 * 1024 },
            log,
          }),
          /downloading bulk_for_outage\.dump failed/,
        ),
      );
      await assertUntouched("storage outage");
    } finally {
      await store.stop();
    }
  });

  it("(b) pg_restore killed mid-load", async () => {
    let child: ChildProcess | undefined;
    const killed = (async () => {
      await waitFor(fx.pg, PG_RESTORE_COPYING, "pg_restore to start copying");
      child!.kill("SIGKILL");
    })();
    await assert.rejects(
      restore({
        name: "bulk_adhoc",
        url: fx.pg.url("live"),
        confirm: "127.0.0.1/live",
        env,
        tempDir,
        jobs: 1,
        log: quiet,
        onLoadStarted: (c) => (child = c),
      }),
      /pg_restore was killed by SIGKILL/,
    );
    await killed;
    await assertUntouched("pg_restore killed");
  });

  it("(c) --confirm into a live database, loading fails partway (a role the target lacks)", async () => {
    // A GRANT to a role that exists where the backup was taken and when the restore checks the
    // target's roles, but is gone by the time pg_restore reaches the grants (dropped while the
    // load runs): pg_restore fails in post-data, after every table was loaded. (A role missing
    // from the start is refused before anything is touched: see owners.test.ts.)
    await fx.pg.query(
      "bulk",
      "CREATE ROLE adv_reporting; GRANT SELECT ON a_small TO adv_reporting",
    );
    await backup({ name: "bulk_with_grant", url: fx.pg.url("bulk"), env, log: quiet });
    let dropped: Promise<unknown> | undefined;
    const dropRole = () =>
      fx.pg.query("bulk", "REVOKE SELECT ON a_small FROM adv_reporting; DROP ROLE adv_reporting");
    const session = new Client({ connectionString: fx.pg.url("live") });
    await session.connect();
    try {
      await assert.rejects(
        restore({
          name: "bulk_with_grant",
          url: fx.pg.url("live"),
          confirm: "127.0.0.1/live",
          env,
          tempDir,
          jobs: 1,
          log: (line) => {
            // Roles are checked; the load is about to start and takes a while (200,000 rows).
            if (/pg_restore -j/.test(line)) dropped ??= dropRole();
          },
        }),
        /role "adv_reporting" does not exist/,
      );
      assert.ok(dropped, "the role was dropped during the load");
      await dropped;
      // The application's session was never cut off.
      assert.deepEqual((await session.query("SELECT v FROM marker")).rows, [
        { v: "old live data" },
      ]);
    } finally {
      await session.end();
    }
    await assertUntouched("failed load");
  });

  it("(d) SIGTERM to the CLI mid-load: target untouched, partial copy dropped, rerun succeeds", async () => {
    const cliEnv = { ...env, DATABASE_URL: fx.pg.url("live"), PG_RECOVERY_TMPDIR: tempDir };
    const args = ["restore", "--name", "bulk_adhoc", "--confirm", "127.0.0.1/live", "--jobs", "1"];
    const cli = spawn(process.execPath, [await builtCli(), ...args], {
      cwd: ROOT,
      env: cliEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    cli.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      cli.once("exit", (code, signal) => resolve([code, signal])),
    );
    await waitFor(fx.pg, PG_RESTORE_COPYING, "the CLI's pg_restore to start copying");
    cli.kill("SIGTERM");
    const [code, signal] = await exited;
    assert.ok(code !== 0, `the CLI must not report success (code ${code}, signal ${signal})`);
    assert.match(stderr, /SIGTERM received/);
    // No orphaned pg_restore still loading into a database nobody will use.
    await waitFor(
      fx.pg,
      "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_restore')",
      "pg_restore sessions to end",
      5_000,
    );
    await assertUntouched("SIGTERM");
    const rerun = await execFileAsync(process.execPath, [await builtCli(), ...args], {
      cwd: ROOT,
      env: cliEnv,
    });
    assert.match(rerun.stdout, /restore of bulk_adhoc into 127\.0\.0\.1\/live: complete/);
    const swapped = await verifyDatabases({ source: fx.pg.url("bulk"), target: fx.pg.url("live") });
    assert.deepEqual(differences(swapped), []);
  });
});
