/**
 * Backups that do not finish: pg_dump killed, storage gone, the source connection dropped.
 * Nothing may be marked complete, `restore --latest` keeps the previous backup, and the name can
 * be used again. Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import { ChildProcess } from "node:child_process";
import { backup } from "../../../datapath/backup/backup";
import { restore } from "../../../datapath/restore/restore";
import { Azurite } from "../../support/azurite";
import { fastRetry, fingerprint, listBackups, quiet, useDataPath } from "../../support/datapath";
import { BULK_SCHEMA, seeded } from "../../support/datapath-schemas";

describe("datapath interrupted backups (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("bf", async (pg) => {
    await seeded()(pg);
    await seeded("bulk", BULK_SCHEMA)(pg);
  });

  it("pg_dump killed mid-stream: nothing committed, --latest keeps the previous backup", async () => {
    const { env, client } = fx.setup();
    await backup({ name: "ptt_test_good", url: fx.pg.url("app"), env, log: quiet });
    let dump: ChildProcess | undefined;
    let killedAt = 0;
    await assert.rejects(
      backup({
        name: "ptt_test_killed",
        url: fx.pg.url("bulk"),
        env,
        log: quiet,
        jobs: 1,
        storage: { blockSize: 256 * 1024 },
        onDumpStarted: (c) => (dump = c),
        onBytes: (n) => {
          if (n > 1024 * 1024 && !killedAt) {
            killedAt = n;
            dump!.kill("SIGKILL");
          }
        },
      }),
      /nothing was marked complete.*pg_dump was killed by SIGKILL/s,
    );
    assert.ok(killedAt > 0, "the dump was interrupted after data had been uploaded");
    assert.equal(await client.getBlobClient("ptt_test_killed.dump").exists(), false);
    assert.equal(await client.getBlobClient("ptt_test_killed.manifest.json").exists(), false);
    const listed = await listBackups({ env });
    assert.ok(!listed.some((e) => e.name === "ptt_test_killed" && e.status === "complete"));

    const r = await restore({ latest: true, url: fx.pg.url("after_kill"), env, log: quiet });
    assert.equal(r.backup, "ptt_test_good");
    // The name is free again: nothing was committed under it.
    await backup({ name: "ptt_test_killed", url: fx.pg.url("app"), env, log: quiet });
  });

  it("storage dying mid-upload: nothing committed, --latest keeps the previous backup", async () => {
    const store = new Azurite();
    await store.start();
    try {
      const { env, client } = fx.setup(store.connectionString);
      await backup({ name: "ptt_test_before", url: fx.pg.url("app"), env, log: quiet });
      let crashed: Promise<void> | undefined;
      await assert.rejects(
        backup({
          name: "ptt_test_during",
          url: fx.pg.url("bulk"),
          env,
          log: quiet,
          jobs: 1,
          storage: { ...fastRetry(), blockSize: 256 * 1024 },
          onBytes: (n) => {
            if (n > 1024 * 1024 && !crashed) crashed = store.halt();
          },
        }),
        /nothing was marked complete/,
      );
      await crashed;
      await store.start();
      assert.equal(await client.getBlobClient("ptt_test_during.dump").exists(), false);
      assert.equal(await client.getBlobClient("ptt_test_during.manifest.json").exists(), false);
      const r = await restore({ latest: true, url: fx.pg.url("after_crash"), env, log: quiet });
      assert.equal(r.backup, "ptt_test_before");
      assert.deepEqual(await fingerprint(fx.pg, "after_crash"), await fingerprint(fx.pg, "app"));
    } finally {
      await store.stop();
    }
  });

  it("source connection dropped (pg_terminate_backend of pg_dump) mid-dump: nothing complete, name reusable", async () => {
    const { env } = fx.setup();
    // Deterministic "mid-dump": pg_dump is frozen (SIGSTOP) as it announces the first table's
    // data, with the big table still to come; its backend is ended; then it runs on into the
    // dropped connection. (Waiting for uploaded bytes raced a fast dump to the finish, and a
    // held table lock parks the tool's own catalog queries before pg_dump even starts.)
    let terminated: { rows: { pg_terminate_backend: boolean }[] } | undefined;
    let frozen: Promise<void> | undefined;
    const dumping = backup({
      name: "bulk_dropped",
      url: fx.pg.url("bulk"),
      env,
      log: quiet,
      jobs: 1,
      onDumpStarted: (child) => {
        child.stderr?.on("data", (d: Buffer) => {
          if (frozen || !/dumping contents of table "public\.a_small"/.test(String(d))) return;
          child.kill("SIGSTOP");
          frozen = (async () => {
            try {
              terminated = (await fx.pg.query(
                "postgres",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_dump'",
              )) as unknown as typeof terminated;
            } finally {
              child.kill("SIGCONT");
            }
          })();
        });
      },
    });
    await assert.rejects(dumping, /nothing was marked complete.*pg_dump exited with code 1/s);
    await frozen;
    assert.deepEqual(
      terminated?.rows,
      [{ pg_terminate_backend: true }],
      "pg_dump's backend was ended",
    );
    assert.deepEqual(
      (await listBackups({ env })).filter((e) => e.status === "complete"),
      [],
    );
    const again = await backup({ name: "bulk_dropped", url: fx.pg.url("bulk"), env, log: quiet });
    assert.equal(again.name, "bulk_dropped");
    assert.deepEqual(
      (await listBackups({ env })).map((e) => [e.name, e.status]),
      [["bulk_dropped", "complete"]],
    );
  });
});
