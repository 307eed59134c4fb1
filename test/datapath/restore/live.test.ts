/**
 * Restoring over a database that holds data: refused without the exact --confirm, and with it
 * swapped in by rename, sessions ended, the old database kept. Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import { Client } from "pg";
import { backup } from "../../../datapath/backup/backup";
import { restore, RestoreRefusedError } from "../../../datapath/restore/restore";
import { databases, fingerprint, quiet, useDataPath } from "../../support/datapath";
import { marker, seeded } from "../../support/datapath-schemas";

describe("datapath restore over a live database (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("live", seeded());

  let env: NodeJS.ProcessEnv;

  before(async () => {
    ({ env } = fx.setup());
    await backup({ name: "ptt_test_for_live", url: fx.pg.url("app"), env, log: quiet });
    await seeded("live", marker("old live data"))(fx.pg);
  });

  it("refuses without the matching --confirm and leaves the data as it was", async () => {
    const before = await fingerprint(fx.pg, "live");
    await assert.rejects(
      restore({ name: "ptt_test_for_live", url: fx.pg.url("live"), env, log: quiet }),
      (e: Error) =>
        e instanceof RestoreRefusedError && /--confirm 127\.0\.0\.1\/live/.test(e.message),
    );
    await assert.rejects(
      restore({
        name: "ptt_test_for_live",
        url: fx.pg.url("live"),
        confirm: "127.0.0.1/app",
        env,
        log: quiet,
      }),
      RestoreRefusedError,
    );
    assert.deepEqual(await fingerprint(fx.pg, "live"), before);
    assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("live_")));
  });

  it("with the right --confirm swaps in the backup, ends sessions, and keeps the old database", async () => {
    const session = new Client({ connectionString: fx.pg.url("live") });
    await session.connect();
    session.on("error", () => undefined);
    const r = await restore({
      name: "ptt_test_for_live",
      url: fx.pg.url("live"),
      confirm: "127.0.0.1/live",
      env,
      log: quiet,
    });
    await session.end().catch(() => undefined);
    assert.match(r.keptDatabase!, /^live_pre_restore_[0-9a-f]{8}$/);
    assert.deepEqual(await fingerprint(fx.pg, "live"), await fingerprint(fx.pg, "app"));
    const kept = await fx.pg.query(r.keptDatabase!, "SELECT v FROM marker");
    assert.deepEqual(kept.rows, [{ v: "old live data" }]);
    // Rerunning is deterministic and never overwrites what was kept.
    const again = await restore({
      name: "ptt_test_for_live",
      url: fx.pg.url("live"),
      confirm: "127.0.0.1/live",
      env,
      log: quiet,
    });
    assert.equal(again.keptDatabase, `${r.keptDatabase}_2`);
  });
});
