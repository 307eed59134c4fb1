/**
 * backup / list / restore against a real PostgreSQL server and a real Blob API (Azurite):
 * round trips, interrupted backups, damaged artifacts, live-database protection, legacy
 * `.sql.gz` dumps. Each test works in its own container so "latest" is never shared.
 */
import {
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChildProcess, execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { Client } from "pg";
import { backup, BackupExistsError } from "../datapath/backup";
import { listBackups } from "../datapath/catalog";
import { parseManifest } from "../datapath/manifest";
import { BackupCorruptError, restore, RestoreRefusedError } from "../datapath/restore";
import { StorageOptions } from "../datapath/storage";
import { verifyDatabases } from "../datapath/verify";
import { Azurite, DEV_ACCOUNT, DEV_KEY, startAzurite } from "./support/azurite";
import { PG_BIN, PgServer, startPostgres } from "./support/postgres";

const execFileAsync = promisify(execFile);
const quiet = () => undefined;
const ROOT = path.join(__dirname, "..");

/** Per-table row count and content hash, plus sequences, indexes and constraints. */
async function fingerprint(pg: PgServer, db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pg.query(
    db,
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_toast' ORDER BY 1`,
  );
  for (const { t } of tables.rows) {
    const r = await pg.query(
      db,
      `SELECT count(*) AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ONLY ${t} x`,
    );
    out[`table ${t}`] = `${r.rows[0].n} ${r.rows[0].h}`;
  }
  const seqs = await pg.query(
    db,
    "SELECT schemaname || '.' || sequencename AS s, last_value FROM pg_sequences ORDER BY 1",
  );
  for (const s of seqs.rows) out[`sequence ${s.s}`] = String(s.last_value);
  const idx = await pg.query(
    db,
    "SELECT indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') ORDER BY 1",
  );
  out.indexes = idx.rows.map((r) => r.indexdef).join("\n");
  const cons = await pg.query(
    db,
    `SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) AS c FROM pg_constraint
      WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1`,
  );
  out.constraints = cons.rows.map((r) => r.c).join("\n");
  return out;
}

async function databases(pg: PgServer): Promise<string[]> {
  const r = await pg.query("postgres", "SELECT datname FROM pg_database ORDER BY 1");
  return r.rows.map((x) => x.datname);
}

/** A varied schema: extension types, jsonb, bytea, arrays, numerics, partitions, FKs, sequences. */
const VARIED_SCHEMA = `
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE SCHEMA audit;
CREATE TABLE providers (
  id bigserial PRIMARY KEY,
  code citext NOT NULL UNIQUE,
  name text NOT NULL,
  attrs hstore,
  profile jsonb,
  logo bytea,
  tags text[],
  fee numeric(20, 6),
  ratio double precision,
  opened date,
  updated_at timestamptz,
  note text
);
INSERT INTO providers (code, name, attrs, profile, logo, tags, fee, ratio, opened, updated_at, note)
SELECT 'P' || g,
       'Provider ' || g || ' – Ünïcödé ✓ 🎓',
       CASE WHEN g % 5 = 0 THEN NULL ELSE hstore(ARRAY['k' || g, 'v' || (g * 2)]) END,
       jsonb_build_object('id', g, 'nested', jsonb_build_object('a', ARRAY[g, g + 1]), 's', 'quote '' and "dq"'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') || '\\x00ff'::bytea END,
       ARRAY['t' || g % 3, NULL, 'with,comma'],
       (g * 1.234567)::numeric(20, 6),
       g / 3.0,
       DATE '2020-01-01' + g,
       TIMESTAMPTZ '2024-07-24 06:00:00+01' + g * interval '1 minute',
       CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN E'tab\\there\\nnewline \\\\ backslash' WHEN 2 THEN '' ELSE repeat('x', 3000) END
  FROM generate_series(1, 1500) g;
CREATE TABLE courses (
  id serial,
  provider_id bigint NOT NULL REFERENCES providers (id),
  title text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE courses_2023 PARTITION OF courses FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE courses_2024 PARTITION OF courses FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO courses (provider_id, title, created_at)
SELECT 1 + g % 1500, 'Course ' || g, TIMESTAMPTZ '2023-06-01 00:00:00+00' + g * interval '1 hour'
  FROM generate_series(1, 8000) g;
CREATE INDEX courses_title_idx ON courses (title);
CREATE SEQUENCE invoice_number_seq START 1000;
SELECT setval('invoice_number_seq', 4242);
CREATE TABLE audit.events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payload jsonb,
  amount_pence integer,
  amount_pounds numeric GENERATED ALWAYS AS (amount_pence / 100.0) STORED
);
INSERT INTO audit.events (payload, amount_pence) SELECT jsonb_build_object('n', g), g FROM generate_series(1, 300) g;
CREATE TABLE empty_table (id int PRIMARY KEY, v text);
CREATE VIEW provider_names AS SELECT id, name FROM providers;
`;

describe("datapath backup/restore (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  let pg: PgServer;
  let az: Azurite;
  let containerSeq = 0;
  const fastRetry: StorageOptions = {
    retry: { maxTries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 200, tryTimeoutInMs: 10_000 },
  };

  /** Environment the tool sees, with a fresh container per test. */
  function setup(connectionString = az.connectionString) {
    const container = `t${++containerSeq}-${Date.now().toString(36)}`;
    const env = {
      ...process.env,
      PG_BIN,
      AZURE_STORAGE_CONNECTION_STRING: connectionString,
      BACKUP_CONTAINER: container,
    };
    const client =
      BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
    return { env, container, client };
  }

  before(async () => {
    [pg, az] = await Promise.all([startPostgres(), startAzurite()]);
    await pg.createDatabase("app");
    await pg.query("app", VARIED_SCHEMA);
  });

  after(async () => {
    await Promise.all([pg?.stop(), az?.stop()]);
  });

  it("round-trips a varied schema and writes a complete manifest (zstd and gzip framings)", async () => {
    const { env, client } = setup();
    const source = await fingerprint(pg, "app");

    const r = await backup({
      name: "ptt_test_adhoc_2024-07-24",
      url: pg.url("app"),
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
      const r = await pg.query("app", `SELECT count(*)::int AS n FROM ONLY ${table}`);
      assert.equal(rows, r.rows[0].n, table);
    }
    assert.deepEqual(Object.keys(counts).sort(), [
      "audit.events",
      "public.courses_2023",
      "public.courses_2024",
      "public.empty_table",
      "public.providers",
    ]);
    assert.match(manifest.client.pgDump, /^pg_dump \(PostgreSQL\) 15/);
    assert.match(manifest.server.version, /^15/);
    assert.ok(manifest.tool.version);

    const restoreLog: string[] = [];
    const res = await restore({
      name: "ptt_test_adhoc_2024-07-24",
      url: pg.url("app_copy"),
      env,
      log: (l) => restoreLog.push(l),
    });
    assert.equal(res.keptDatabase, undefined);
    // The streamed archive had its data offsets filled in before the parallel load.
    assert.ok(
      restoreLog.some((l) => /indexed \d+ data blocks of the archive/.test(l)),
      restoreLog.join("\n"),
    );
    assert.deepEqual(await fingerprint(pg, "app_copy"), source);
    // The runbook's validation step, mechanically: schema, rows, content hashes, sequences.
    const report = await verifyDatabases({ source: pg.url("app"), target: pg.url("app_copy") });
    assert.deepEqual(
      report.differences.map((d) => JSON.stringify(d)),
      [],
      "verify finds backup -> restore identical",
    );

    // pg_dump's own gzip (the fallback without zstd) restores the same.
    const g = await backup({
      name: "ptt_test_gzip",
      url: pg.url("app"),
      env,
      log: quiet,
      compression: "gzip",
    });
    assert.deepEqual([g.manifest.dump.wrapper, g.manifest.dump.compression], ["none", "gzip:1"]);
    await restore({ name: "ptt_test_gzip", url: pg.url("app_copy_gz"), env, log: quiet, jobs: 1 });
    assert.deepEqual(await fingerprint(pg, "app_copy_gz"), source);

    const list = await listBackups({ env });
    assert.deepEqual(list.map((e) => [e.name, e.status]).sort(), [
      ["ptt_test_adhoc_2024-07-24", "complete"],
      ["ptt_test_gzip", "complete"],
    ]);
    assert.ok(
      !(await databases(pg)).some((d) => d.includes("_restore_")),
      "no scratch database left behind",
    );
  });

  it("refuses to overwrite an existing backup, ours or legacy", async () => {
    const { env, client } = setup();
    await backup({ name: "ptt_test_adhoc_2024-07-25", url: pg.url("app"), env, log: quiet });
    const before = (await client.getBlobClient("ptt_test_adhoc_2024-07-25.dump").getProperties())
      .etag;
    await assert.rejects(
      backup({ name: "ptt_test_adhoc_2024-07-25", url: pg.url("app"), env, log: quiet }),
      (e: Error) => e instanceof BackupExistsError && /already exists/.test(e.message),
    );
    assert.equal(
      (await client.getBlobClient("ptt_test_adhoc_2024-07-25.dump").getProperties()).etag,
      before,
    );
    await client.getBlockBlobClient("ptt_test_2024-07-20.sql.gz").upload("x", 1);
    await assert.rejects(
      backup({ name: "ptt_test_2024-07-20", url: pg.url("app"), env, log: quiet }),
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
      AZURE_STORAGE_ACCOUNT_URL: `http://127.0.0.1:${az.port}/${DEV_ACCOUNT}`,
      AZURE_STORAGE_SAS_TOKEN: sas,
    };
    const lines: string[] = [];
    await backup({
      name: "ptt_test_sas",
      url: pg.url("app"),
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

  describe("interrupted backups", () => {
    before(async () => {
      // Enough incompressible data that the dump is still running when we interrupt it.
      await pg.createDatabase("bigapp");
      await pg.query(
        "bigapp",
        `CREATE TABLE blobs (id int PRIMARY KEY, a text, b text);
         INSERT INTO blobs SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text)
           FROM generate_series(1, 200000) g;`,
      );
    });

    it("pg_dump killed mid-stream: nothing committed, --latest keeps the previous backup", async () => {
      const { env, client } = setup();
      await backup({ name: "ptt_test_good", url: pg.url("app"), env, log: quiet });
      let dump: ChildProcess | undefined;
      let killedAt = 0;
      await assert.rejects(
        backup({
          name: "ptt_test_killed",
          url: pg.url("bigapp"),
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

      const r = await restore({ latest: true, url: pg.url("after_kill"), env, log: quiet });
      assert.equal(r.backup, "ptt_test_good");
      // The name is free again: nothing was committed under it.
      await backup({ name: "ptt_test_killed", url: pg.url("app"), env, log: quiet });
    });

    it("storage dying mid-upload: nothing committed, --latest keeps the previous backup", async () => {
      const store = new Azurite();
      await store.start();
      try {
        const { env, client } = setup(store.connectionString);
        await backup({ name: "ptt_test_before", url: pg.url("app"), env, log: quiet });
        let crashed: Promise<void> | undefined;
        await assert.rejects(
          backup({
            name: "ptt_test_during",
            url: pg.url("bigapp"),
            env,
            log: quiet,
            jobs: 1,
            storage: { ...fastRetry, blockSize: 256 * 1024 },
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
        const r = await restore({ latest: true, url: pg.url("after_crash"), env, log: quiet });
        assert.equal(r.backup, "ptt_test_before");
        assert.deepEqual(await fingerprint(pg, "after_crash"), await fingerprint(pg, "app"));
      } finally {
        await store.stop();
      }
    });
  });

  describe("damaged artifacts", () => {
    let env: NodeJS.ProcessEnv;
    let client: ContainerClient;
    let target: Record<string, string>;

    before(async () => {
      ({ env, client } = setup());
      await backup({ name: "ptt_test_source", url: pg.url("app"), env, log: quiet });
      await pg.createDatabase("victim");
      await pg.query(
        "victim",
        "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('untouched');",
      );
      target = await fingerprint(pg, "victim");
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
      assert.deepEqual(await fingerprint(pg, "victim"), target);
      assert.ok(
        !(await databases(pg)).some((d) => d.startsWith("victim_")),
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
          url: pg.url("victim"),
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
          restore({ name, url: pg.url("victim"), confirm: "127.0.0.1/victim", env, log: quiet }),
          BackupCorruptError,
        );
      }
      await assertTargetUntouched();
    });
  });

  describe("restoring over a live database", () => {
    let env: NodeJS.ProcessEnv;

    before(async () => {
      ({ env } = setup());
      await backup({ name: "ptt_test_for_live", url: pg.url("app"), env, log: quiet });
      await pg.createDatabase("live");
      await pg.query(
        "live",
        "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old live data');",
      );
    });

    it("refuses without the matching --confirm and leaves the data as it was", async () => {
      const before = await fingerprint(pg, "live");
      await assert.rejects(
        restore({ name: "ptt_test_for_live", url: pg.url("live"), env, log: quiet }),
        (e: Error) =>
          e instanceof RestoreRefusedError && /--confirm 127\.0\.0\.1\/live/.test(e.message),
      );
      await assert.rejects(
        restore({
          name: "ptt_test_for_live",
          url: pg.url("live"),
          confirm: "127.0.0.1/app",
          env,
          log: quiet,
        }),
        RestoreRefusedError,
      );
      assert.deepEqual(await fingerprint(pg, "live"), before);
      assert.ok(!(await databases(pg)).some((d) => d.startsWith("live_")));
    });

    it("with the right --confirm swaps in the backup, ends sessions, and keeps the old database", async () => {
      const session = new Client({ connectionString: pg.url("live") });
      await session.connect();
      session.on("error", () => undefined);
      const r = await restore({
        name: "ptt_test_for_live",
        url: pg.url("live"),
        confirm: "127.0.0.1/live",
        env,
        log: quiet,
      });
      await session.end().catch(() => undefined);
      assert.match(r.keptDatabase!, /^live_pre_restore_[0-9a-f]{8}$/);
      assert.deepEqual(await fingerprint(pg, "live"), await fingerprint(pg, "app"));
      const kept = await pg.query(r.keptDatabase!, "SELECT v FROM marker");
      assert.deepEqual(kept.rows, [{ v: "old live data" }]);
      // Rerunning is deterministic and never overwrites what was kept.
      const again = await restore({
        name: "ptt_test_for_live",
        url: pg.url("live"),
        confirm: "127.0.0.1/live",
        env,
        log: quiet,
      });
      assert.equal(again.keptDatabase, `${r.keptDatabase}_2`);
    });
  });

  describe("legacy nightly .sql.gz dumps", () => {
    let env: NodeJS.ProcessEnv;
    let client: ContainerClient;
    let plain: Buffer;

    before(async () => {
      ({ env, client } = setup());
      // Exactly what the nightly workflow runs.
      const { stdout } = await execFileAsync(
        path.join(PG_BIN, "pg_dump"),
        ["-E", "utf8", "--clean", "--if-exists", "--no-owner", "--compress=1", pg.url("app")],
        { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
      );
      plain = stdout as unknown as Buffer;
      await client.createIfNotExists();
      await client.getBlockBlobClient("ptt_test_2024-07-21.sql.gz").upload(plain, plain.length);
    });

    it("restores an existing-style plain dump, found by name and by --latest", async () => {
      const r = await restore({
        name: "ptt_test_2024-07-21.sql.gz",
        url: pg.url("from_legacy"),
        env,
        log: quiet,
      });
      assert.equal(r.format, "plain-gzip");
      assert.deepEqual(await fingerprint(pg, "from_legacy"), await fingerprint(pg, "app"));
      const latest = await restore({
        latest: true,
        url: pg.url("from_legacy_latest"),
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
      await client
        .getBlockBlobClient("ptt_test_2024-07-23.sql.gz")
        .upload(headless, headless.length);
      await assert.rejects(
        restore({ name: "ptt_test_2024-07-22", url: pg.url("legacy_bad"), env, log: quiet }),
        (e: Error) => e instanceof BackupCorruptError && /gzip/.test(e.message),
      );
      await assert.rejects(
        restore({ name: "ptt_test_2024-07-23", url: pg.url("legacy_bad"), env, log: quiet }),
        (e: Error) => e instanceof BackupCorruptError && /dump complete/.test(e.message),
      );
      assert.ok(!(await databases(pg)).some((d) => d.startsWith("legacy_bad")));
    });
  });

  it("CLI: contract, exit codes, summary on stdout, no secrets printed", async () => {
    const { env } = setup();
    const cliEnv = { ...env, DATABASE_URL: pg.url("app"), PG_RECOVERY_PROGRESS_MS: "0" };
    const cli = (args: string[]) =>
      execFileAsync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "datapath/cli.ts", ...args],
        {
          cwd: ROOT,
          env: cliEnv,
        },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
      );
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
      for (const secret of [pg.password, DEV_KEY]) {
        assert.ok(!(out.stdout + out.stderr).includes(secret), "a secret was printed");
      }
    }
  });
});
