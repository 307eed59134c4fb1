/**
 * backup -> restore round trips against a real PostgreSQL server and a real Blob API (Azurite):
 * a varied schema in both framings (zstd and pg_dump's gzip), names never overwritten, SAS
 * credentials. Each test works in its own container so "latest" is never shared.
 */
import {
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { backup, BackupExistsError } from "../../datapath/backup/backup";
import { restore } from "../../datapath/restore/restore";
import { parseManifest } from "../../datapath/storage/manifest";
import { verifyDatabases } from "../../datapath/verify/verify";
import { DEV_ACCOUNT, DEV_KEY } from "../support/azurite";
import { databases, fingerprint, listBackups, quiet, useDataPath } from "../support/datapath";
import { seeded } from "../support/datapath-schemas";
import { PG_MAJOR } from "../support/postgres";

describe("datapath round trips (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("rt", seeded());
  const setup = () => fx.setup();

  it("round-trips a varied schema and writes a complete manifest (zstd and gzip framings)", async () => {
    const { env, client } = setup();
    const source = await fingerprint(fx.pg, "app");

    const r = await backup({
      name: "ptt_test_adhoc_2024-07-24",
      url: fx.pg.url("app"),
      env,
      log: quiet,
    });
    assert.equal(r.manifest.dump.wrapper, "zstd");
    const blob = await client.getBlobClient("ptt_test_adhoc_2024-07-24.dump").downloadToBuffer();
    const manifest = parseManifest(
      (
        await client.getBlobClient("ptt_test_adhoc_2024-07-24.manifest.json").downloadToBuffer()
      ).toString(),
    );
    assert.equal(manifest.dump.size, blob.length);
    assert.equal(manifest.dump.sha256, createHash("sha256").update(blob).digest("hex"));
    assert.equal(manifest.database.name, "app");
    assert.ok(manifest.rowCounts.exact, "row counts taken in the dump's snapshot");
    const counts = Object.fromEntries(
      manifest.rowCounts.tables.map((t) => [`${t.schema}.${t.table}`, t.rows]),
    );
    for (const [table, rows] of Object.entries(counts)) {
      const r = await fx.pg.query("app", `SELECT count(*)::int AS n FROM ONLY ${table}`);
      assert.equal(rows, r.rows[0].n, table);
    }
    assert.deepEqual(Object.keys(counts).sort(), [
      "audit.events",
      "public.courses_2023",
      "public.courses_2024",
      "public.empty_table",
      "public.providers",
    ]);
    assert.match(manifest.client.pgDump, new RegExp(`^pg_dump \\(PostgreSQL\\) ${PG_MAJOR}\\.`));
    assert.match(manifest.server.version, new RegExp(`^${PG_MAJOR}\\.`));
    assert.ok(manifest.tool.version);

    const restoreLog: string[] = [];
    const res = await restore({
      name: "ptt_test_adhoc_2024-07-24",
      url: fx.pg.url("app_copy"),
      env,
      log: (l) => restoreLog.push(l),
    });
    assert.equal(res.keptDatabase, undefined);
    // The streamed archive had its data offsets filled in before the parallel load.
    assert.ok(
      restoreLog.some((l) => /indexed \d+ data blocks of the archive/.test(l)),
      restoreLog.join("\n"),
    );
    assert.deepEqual(await fingerprint(fx.pg, "app_copy"), source);
    // The runbook's validation step, mechanically: schema, rows, content hashes, sequences.
    const report = await verifyDatabases({
      source: fx.pg.url("app"),
      target: fx.pg.url("app_copy"),
    });
    assert.deepEqual(
      report.differences.map((d) => JSON.stringify(d)),
      [],
      "verify finds backup -> restore identical",
    );

    // pg_dump's own gzip (the fallback without zstd) restores the same.
    const g = await backup({
      name: "ptt_test_gzip",
      url: fx.pg.url("app"),
      env,
      log: quiet,
      compression: "gzip",
    });
    assert.deepEqual([g.manifest.dump.wrapper, g.manifest.dump.compression], ["none", "gzip:1"]);
    await restore({
      name: "ptt_test_gzip",
      url: fx.pg.url("app_copy_gz"),
      env,
      log: quiet,
      jobs: 1,
    });
    assert.deepEqual(await fingerprint(fx.pg, "app_copy_gz"), source);

    const list = await listBackups({ env });
    assert.deepEqual(list.map((e) => [e.name, e.status]).sort(), [
      ["ptt_test_adhoc_2024-07-24", "complete"],
      ["ptt_test_gzip", "complete"],
    ]);
    assert.ok(
      !(await databases(fx.pg)).some((d) => d.includes("_restore_")),
      "no scratch database left behind",
    );
  });

  it("refuses to overwrite an existing backup, ours or legacy", async () => {
    const { env, client } = setup();
    await backup({ name: "ptt_test_adhoc_2024-07-25", url: fx.pg.url("app"), env, log: quiet });
    const before = (await client.getBlobClient("ptt_test_adhoc_2024-07-25.dump").getProperties())
      .etag;
    await assert.rejects(
      backup({ name: "ptt_test_adhoc_2024-07-25", url: fx.pg.url("app"), env, log: quiet }),
      (e: Error) => e instanceof BackupExistsError && /already exists/.test(e.message),
    );
    assert.equal(
      (await client.getBlobClient("ptt_test_adhoc_2024-07-25.dump").getProperties()).etag,
      before,
    );
    await client.getBlockBlobClient("ptt_test_2024-07-20.sql.gz").upload("x", 1);
    await assert.rejects(
      backup({ name: "ptt_test_2024-07-20", url: fx.pg.url("app"), env, log: quiet }),
      BackupExistsError,
    );
  });

  it("works with an account URL + SAS token instead of a connection string", async () => {
    const { env, container, client } = setup();
    await client.createIfNotExists();
    const sas = generateBlobSASQueryParameters(
      {
        containerName: container,
        permissions: ContainerSASPermissions.parse("racwl"),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    ).toString();
    const sasEnv = {
      ...env,
      AZURE_STORAGE_CONNECTION_STRING: undefined,
      AZURE_STORAGE_ACCOUNT_URL: `http://127.0.0.1:${fx.az.port}/${DEV_ACCOUNT}`,
      AZURE_STORAGE_SAS_TOKEN: sas,
    };
    const lines: string[] = [];
    await backup({
      name: "ptt_test_sas",
      url: fx.pg.url("app"),
      env: sasEnv,
      log: (l) => lines.push(l),
      verifyReadback: true,
    });
    assert.deepEqual(
      (await listBackups({ env: sasEnv })).map((e) => e.status),
      ["complete"],
    );
    const sig = new URLSearchParams(sas).get("sig")!;
    assert.ok(!lines.join("\n").includes(sig), "SAS signature printed");
  });
});
