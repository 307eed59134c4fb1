/**
 * The nightly workflow's plain `.sql.gz` dumps: restored by name and by --latest, and refused
 * when truncated. Real PostgreSQL and Azurite.
 */
import { ContainerClient } from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { BackupCorruptError, restore } from "../../../datapath/restore/restore";
import {
  databases,
  execFileAsync,
  fingerprint,
  listBackups,
  quiet,
  useDataPath,
} from "../../support/datapath";
import { seeded } from "../../support/datapath-schemas";
import { PG_BIN } from "../../support/postgres";

describe("datapath restore of legacy nightly .sql.gz dumps (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("leg", seeded());

  let env: NodeJS.ProcessEnv;
  let client: ContainerClient;
  let plain: Buffer;

  before(async () => {
    ({ env, client } = fx.setup());
    // Exactly what the nightly workflow runs.
    const { stdout } = await execFileAsync(
      path.join(PG_BIN, "pg_dump"),
      ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", fx.pg.url("app")],
      { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
    );
    plain = stdout as unknown as Buffer;
    await client.createIfNotExists();
    await client.getBlockBlobClient("ptt_test_2024-07-21.sql.gz").upload(plain, plain.length);
  });

  it("restores an existing-style plain dump, found by name and by --latest", async () => {
    const r = await restore({
      name: "ptt_test_2024-07-21.sql.gz",
      url: fx.pg.url("from_legacy"),
      env,
      log: quiet,
    });
    assert.equal(r.format, "plain-gzip");
    assert.deepEqual(await fingerprint(fx.pg, "from_legacy"), await fingerprint(fx.pg, "app"));
    const latest = await restore({
      latest: true,
      url: fx.pg.url("from_legacy_latest"),
      env,
      log: quiet,
    });
    assert.equal(latest.backup, "ptt_test_2024-07-21");
    const list = await listBackups({ env });
    assert.deepEqual(
      list.map((e) => [e.name, e.status]),
      [["ptt_test_2024-07-21", "legacy"]],
    );
  });

  it("rejects a truncated .sql.gz and a complete gzip of a truncated dump", async () => {
    const cut = plain.subarray(0, plain.length - 200);
    await client.getBlockBlobClient("ptt_test_2024-07-22.sql.gz").upload(cut, cut.length);
    const text = zlib.gunzipSync(plain).toString("utf8");
    const headless = zlib.gzipSync(
      text.slice(0, text.indexOf("-- PostgreSQL database dump complete")),
    );
    await client.getBlockBlobClient("ptt_test_2024-07-23.sql.gz").upload(headless, headless.length);
    await assert.rejects(
      restore({ name: "ptt_test_2024-07-22", url: fx.pg.url("legacy_bad"), env, log: quiet }),
      (e: Error) => e instanceof BackupCorruptError && /gzip/.test(e.message),
    );
    await assert.rejects(
      restore({ name: "ptt_test_2024-07-23", url: fx.pg.url("legacy_bad"), env, log: quiet }),
      (e: Error) => e instanceof BackupCorruptError && /dump complete/.test(e.message),
    );
    assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("legacy_bad")));
  });
});
