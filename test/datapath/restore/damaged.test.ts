/**
 * Damaged backup artifacts (a flipped byte, a truncated copy) are refused before any database
 * is touched. Real PostgreSQL and Azurite.
 */
import { ContainerClient } from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import { backup } from "../../../datapath/backup/backup";
import { BackupCorruptError, restore } from "../../../datapath/restore/restore";
import { parseManifest } from "../../../datapath/storage/manifest";
import { databases, fingerprint, quiet, useDataPath } from "../../support/datapath";
import { marker, seeded } from "../../support/datapath-schemas";

describe("datapath restore of damaged artifacts (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("dmg", seeded());

  let env: NodeJS.ProcessEnv;
  let client: ContainerClient;
  let target: Record<string, string>;

  before(async () => {
    ({ env, client } = fx.setup());
    await backup({ name: "ptt_test_source", url: fx.pg.url("app"), env, log: quiet });
    await seeded("victim", marker("untouched"))(fx.pg);
    target = await fingerprint(fx.pg, "victim");
  });

  /** Stores `data` as backup `name` with the source's manifest (renamed, optionally resized). */
  async function forge(name: string, data: Buffer, keepSize: boolean) {
    const m = parseManifest(
      (await client.getBlobClient("ptt_test_source.manifest.json").downloadToBuffer()).toString(),
    );
    m.name = name;
    m.dump.blob = `${name}.dump`;
    if (!keepSize) m.dump.size = data.length;
    await client.getBlockBlobClient(`${name}.dump`).upload(data, data.length);
    const body = JSON.stringify(m);
    await client.getBlockBlobClient(`${name}.manifest.json`).upload(body, body.length);
  }

  async function assertTargetUntouched() {
    assert.deepEqual(await fingerprint(fx.pg, "victim"), target);
    assert.ok(
      !(await databases(fx.pg)).some((d) => d.startsWith("victim_")),
      "no scratch/kept databases",
    );
  }

  it("rejects a flipped byte (sha256 mismatch) without touching the target", async () => {
    const good = await client.getBlobClient("ptt_test_source.dump").downloadToBuffer();
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await forge("ptt_test_flipped", bad, true);
    await assert.rejects(
      restore({
        name: "ptt_test_flipped",
        url: fx.pg.url("victim"),
        confirm: "127.0.0.1/victim",
        env,
        log: quiet,
      }),
      (e: Error) => e instanceof BackupCorruptError && /corrupt/.test(e.message),
    );
    await assertTargetUntouched();
  });

  it("rejects a truncated copy, whether or not its manifest size was adjusted", async () => {
    const good = await client.getBlobClient("ptt_test_source.dump").downloadToBuffer();
    const cut = good.subarray(0, Math.floor(good.length * 0.7));
    await forge("ptt_test_truncated", cut, true);
    await forge("ptt_test_truncated_resized", cut, false);
    for (const name of ["ptt_test_truncated", "ptt_test_truncated_resized"]) {
      await assert.rejects(
        restore({ name, url: fx.pg.url("victim"), confirm: "127.0.0.1/victim", env, log: quiet }),
        BackupCorruptError,
      );
    }
    await assertTargetUntouched();
  });
});
