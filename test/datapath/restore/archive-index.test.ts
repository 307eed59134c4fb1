/**
 * Data offsets for streamed custom archives (datapath/archive-index.ts), checked against
 * pg_dump itself: the same database dumped to a pipe and then indexed must carry exactly the
 * offsets pg_dump writes when it can seek, and parallel pg_restore must load it.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { indexArchiveOffsets, readArchiveToc } from "../../../datapath/restore/archive-index";
import { PG_BIN, PG_MAJOR, PgServer, startPostgres } from "../../support/postgres";

/** pg_dump's custom archive format version per major version. */
const ARCHIVE_FORMAT: Record<number, string> = { 15: "1.14.0", 16: "1.15.0", 17: "1.16.0" };

const SCHEMA = `
  CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE events (id bigserial PRIMARY KEY, account_id int REFERENCES accounts, body jsonb);
  CREATE TABLE empty_one (id int);
  CREATE TABLE measurements (at date NOT NULL, v numeric) PARTITION BY RANGE (at);
  CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 3000) g;
  INSERT INTO events (account_id, body)
    SELECT 1 + g % 3000, jsonb_build_object('n', g, 'text', repeat(md5(g::text), 4))
    FROM generate_series(1, 40000) g;
  INSERT INTO measurements SELECT date '2024-06-01' + g % 400, g / 7.0 FROM generate_series(1, 5000) g;
  SELECT lo_from_bytea(0, convert_to(repeat('large object ', 5000), 'UTF8'));
  SELECT lo_from_bytea(0, '\\x00ff00ff'::bytea);`;

describe("datapath archive offsets (streamed pg_dump -Fc, indexed for parallel restore)", function () {
  this.timeout(120_000);
  let pg: PgServer;
  let dir: string;
  const env = () => ({
    ...process.env,
    PGHOST: "127.0.0.1",
    PGPORT: String(pg.port),
    PGUSER: "postgres",
    PGPASSWORD: pg.password,
  });

  /** pg_dump to a pipe (as backups run: no offsets) or to a file (pg_dump writes them). */
  async function dump(file: string, how: "pipe" | "file", compress = "0"): Promise<void> {
    const args = ["-Fc", `--compress=${compress}`, "-d", "src"];
    if (how === "file") args.push("-f", file);
    const child = spawn(path.join(PG_BIN, "pg_dump"), args, {
      env: env(),
      stdio: ["ignore", how === "pipe" ? "pipe" : "ignore", "inherit"],
    });
    const exited = new Promise<void>((resolve, reject) =>
      child.once("close", (code) =>
        code === 0 ? resolve() : reject(new Error(`pg_dump ${code}`)),
      ),
    );
    if (how === "pipe") await pipeline(child.stdout!, fs.createWriteStream(file));
    await exited;
  }

  before(async () => {
    pg = await startPostgres();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-archive-"));
    await pg.createDatabase("src");
    await pg.query("src", SCHEMA);
  });
  after(async () => {
    await pg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const compress of ["0", "1"]) {
    it(`fills in exactly the offsets pg_dump writes itself (--compress=${compress})`, async () => {
      const piped = path.join(dir, `piped-${compress}.dump`);
      const seekable = path.join(dir, `file-${compress}.dump`);
      await dump(piped, "pipe", compress);
      await dump(seekable, "file", compress);

      const before = readArchiveToc(piped);
      // The archive format of the pg_dump under test (PG_TEST_BIN=... runs these on 17: 1.16).
      const format = ARCHIVE_FORMAT[PG_MAJOR];
      if (format) assert.equal(before.version, format);
      const data = before.entries.filter((e) => e.flag !== 3);
      assert.ok(data.length >= 6, "tables plus the large objects carry data");
      assert.ok(
        data.every((e) => e.flag === 1),
        "a piped dump has no offsets",
      );
      assert.ok(data.some((e) => e.desc === "BLOBS"));

      assert.deepEqual(await indexArchiveOffsets(piped), {
        indexed: data.length,
        alreadySet: false,
      });

      const oracle = readArchiveToc(seekable);
      const after = readArchiveToc(piped);
      assert.deepEqual(
        after.entries.map((e) => [e.dumpId, e.desc, e.tag, e.flag, e.offset]),
        oracle.entries.map((e) => [e.dumpId, e.desc, e.tag, e.flag, e.offset]),
      );
      assert.ok(after.entries.filter((e) => e.flag === 2).length === data.length);
    });
  }

  it("parallel pg_restore loads the indexed archive completely", async () => {
    const piped = path.join(dir, "restore.dump");
    await dump(piped, "pipe");
    assert.equal("indexed" in (await indexArchiveOffsets(piped)), true);
    await pg.createDatabase("copy");
    const child = spawn(
      path.join(PG_BIN, "pg_restore"),
      ["--exit-on-error", "--no-owner", "-j", "3", "-d", "copy", piped],
      { env: env(), stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.equal(code, 0, stderr);
    const counts = await pg.query(
      "copy",
      `SELECT (SELECT count(*) FROM accounts)::int AS a, (SELECT count(*) FROM events)::int AS e,
              (SELECT count(*) FROM measurements)::int AS m,
              (SELECT count(*) FROM pg_largeobject_metadata)::int AS lo`,
    );
    assert.deepEqual(counts.rows[0], { a: 3000, e: 40000, m: 5000, lo: 2 });
  });

  it("leaves an archive that already has offsets byte for byte as it was", async () => {
    const seekable = path.join(dir, "already.dump");
    await dump(seekable, "file");
    const bytes = fs.readFileSync(seekable);
    assert.deepEqual(await indexArchiveOffsets(seekable), { indexed: 0, alreadySet: true });
    assert.ok(fs.readFileSync(seekable).equals(bytes));
  });

  it("leaves a truncated archive untouched and says why", async () => {
    const piped = path.join(dir, "truncated.dump");
    await dump(piped, "pipe");
    const whole = fs.readFileSync(piped);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    fs.writeFileSync(piped, cut);
    const r = await indexArchiveOffsets(piped);
    assert.ok("skipped" in r && /ends/.test(r.skipped), JSON.stringify(r));
    assert.ok(fs.readFileSync(piped).equals(cut));
  });

  it("refuses what is not a custom archive (plain SQL, unknown versions)", async () => {
    const plain = path.join(dir, "plain.sql");
    fs.writeFileSync(plain, "--\n-- PostgreSQL database dump\n--\nSELECT 1;\n");
    const r1 = await indexArchiveOffsets(plain);
    assert.ok("skipped" in r1 && /not a pg_dump custom archive/.test(r1.skipped));

    const future = path.join(dir, "future.dump");
    fs.writeFileSync(
      future,
      Buffer.from([..."PGDMP"].map((c) => c.charCodeAt(0)).concat([1, 99, 0, 4, 8, 1])),
    );
    const r2 = await indexArchiveOffsets(future);
    assert.ok("skipped" in r2 && /version 1\.99\.0 not known/.test(r2.skipped), JSON.stringify(r2));
  });
});
