/**
 * `restore --latest` and a damaged newest backup: the damaged one is reported, loudly, and the
 * next complete backup restored instead; `--name` still never falls back. Real PostgreSQL and
 * Azurite.
 */
import { ContainerClient } from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import { backup } from "../../../datapath/backup/backup";
import { BackupCorruptError, restore } from "../../../datapath/restore/restore";
import { parseManifest } from "../../../datapath/storage/manifest";
import { databases, fingerprint, quiet, runCli, useDataPath } from "../../support/datapath";
import { numberedRows, seeded } from "../../support/datapath-schemas";

describe("datapath restore --latest past a damaged newest backup (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("lat", seeded("app", numberedRows(2000, "md5(g::text)")));
  let env: NodeJS.ProcessEnv;
  let client: ContainerClient;

  /** Stores a copy of `source` as backup `name`, newer than everything, with one byte flipped. */
  async function forgeDamaged(source: string, name: string, createdAt: Date) {
    const m = parseManifest(
      (await client.getBlobClient(`${source}.manifest.json`).downloadToBuffer()).toString(),
    );
    const data = Buffer.from(await client.getBlobClient(`${source}.dump`).downloadToBuffer());
    data[Math.floor(data.length / 2)] ^= 0xff;
    m.name = name;
    m.dump.blob = `${name}.dump`;
    m.createdAt = createdAt.toISOString();
    await client.getBlockBlobClient(`${name}.dump`).upload(data, data.length);
    const body = JSON.stringify(m);
    await client.getBlockBlobClient(`${name}.manifest.json`).upload(body, body.length);
  }

  before(async () => {
    ({ env, client } = fx.setup());
    await backup({ name: "ptt_test_2024-07-22", url: fx.pg.url("app"), env, log: quiet });
    await fx.pg.query("app", "UPDATE t SET v = 'newer' WHERE id = 1");
    await backup({ name: "ptt_test_2024-07-23", url: fx.pg.url("app"), env, log: quiet });
    await forgeDamaged("ptt_test_2024-07-23", "ptt_test_2024-07-24", new Date(Date.now() + 60_000));
  });

  it("reports the damaged newest backup and restores the next complete one", async () => {
    const lines: string[] = [];
    const r = await restore({
      latest: true,
      url: fx.pg.url("from_latest"),
      env,
      log: (l) => lines.push(l),
    });
    assert.equal(r.backup, "ptt_test_2024-07-23");
    assert.deepEqual(
      r.skipped.map((s) => [s.name, s.status]),
      [["ptt_test_2024-07-24", "invalid"]],
    );
    // zstd's frame checksum or the sha256 of the whole blob, whichever notices first.
    assert.match(r.skipped[0].problem, /^backup ptt_test_2024-07-24 is corrupt: /);
    const log = lines.join("\n");
    assert.match(
      log,
      /WARNING: backup ptt_test_2024-07-24 is DAMAGED: backup ptt_test_2024-07-24 is corrupt/,
    );
    assert.match(log, /WARNING: falling back to the next backup, ptt_test_2024-07-23/);
    assert.deepEqual(await fingerprint(fx.pg, "from_latest"), await fingerprint(fx.pg, "app"));
  });

  it("--name never falls back", async () => {
    await assert.rejects(
      restore({ name: "ptt_test_2024-07-24", url: fx.pg.url("by_name"), env, log: quiet }),
      BackupCorruptError,
    );
    assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("by_name")));
  });

  it("fails when every backup is damaged, after reporting each", async () => {
    const { env: onlyBad, client: badClient } = fx.setup();
    const previous = client;
    client = badClient;
    try {
      await backup({ name: "good_then_damaged", url: fx.pg.url("app"), env: onlyBad, log: quiet });
      await forgeDamaged("good_then_damaged", "damaged_1", new Date(Date.now() + 60_000));
      await forgeDamaged("good_then_damaged", "damaged_2", new Date(Date.now() + 120_000));
      // The only good one goes away: the container holds damaged backups alone.
      await badClient.getBlobClient("good_then_damaged.manifest.json").delete();
      await badClient.getBlobClient("good_then_damaged.dump").delete();
      const lines: string[] = [];
      await assert.rejects(
        restore({
          latest: true,
          url: fx.pg.url("all_bad"),
          env: onlyBad,
          log: (l) => lines.push(l),
        }),
        (e: Error) => e instanceof BackupCorruptError && /damaged_1 is corrupt/.test(e.message),
      );
      assert.match(lines.join("\n"), /backup damaged_2 is DAMAGED/);
      assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("all_bad")));
    } finally {
      client = previous;
    }
  });

  it("CLI: the summary says which backup was skipped and why", async () => {
    const run = await runCli(["restore", "--latest", "--db-name", "from_cli"], {
      ...env,
      DATABASE_URL: fx.pg.url("app"),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /SKIPPED: {2}newer backup ptt_test_2024-07-24 \(invalid: backup ptt_test_2024-07-24 is corrupt: .*\); restored ptt_test_2024-07-23 instead\n/,
    );
    assert.match(run.stderr, /WARNING: backup ptt_test_2024-07-24 is DAMAGED/);
  });
});
