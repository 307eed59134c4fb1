/** Unit tests for the data path's pure helpers: backup names and connection handling. */
import * as assert from "node:assert/strict";
import {
  confirmationFor,
  describeTarget,
  libpqEnv,
  parsePgUrl,
  redactUrl,
  resolveTarget,
  serverLabel,
} from "../datapath/connection";
import { redact } from "../datapath/cli";
import {
  adhocBackupName,
  backupNameProblem,
  isValidBackupName,
  nightlyBackupName,
  normaliseBackupName,
  parseBlobName,
  ptrBackupName,
  restoreDatabaseNames,
} from "../datapath/naming";
import { hasDumpTrailer } from "../datapath/fetch";

describe("datapath naming", () => {
  it("builds the runbook's names from a UTC day", () => {
    const d = new Date("2024-07-24T23:30:00-01:00"); // already the 25th in UTC
    assert.equal(adhocBackupName("pd", "2024-07-24"), "ptt_pd_adhoc_2024-07-24");
    assert.equal(ptrBackupName("pd", "2024-07-24"), "ptt_pd_2024-07-24-restore-to-ptr");
    assert.equal(nightlyBackupName("qa", d), "ptt_qa_2024-07-25");
    assert.throws(() => adhocBackupName("pd", "2024-02-30"), /invalid date/);
    assert.throws(() => adhocBackupName("PD prod", "2024-07-24"), /short name/);
  });

  it("validates names and maps blobs back to backups", () => {
    for (const ok of ["ptt_pd_adhoc_2024-07-24", "ptt_pd_2024-07-24-restore-to-ptr", "x"]) {
      assert.ok(isValidBackupName(ok), ok);
    }
    for (const bad of [
      "",
      "../x",
      "a/b",
      "-x",
      "has space",
      "x.sql.gz",
      "x.dump",
      "x".repeat(201),
    ]) {
      assert.ok(backupNameProblem(bad), bad);
    }
    assert.deepEqual(parseBlobName("a.manifest.json"), { name: "a", kind: "manifest" });
    assert.deepEqual(parseBlobName("ptt_pd_2024-07-24.sql.gz"), {
      name: "ptt_pd_2024-07-24",
      kind: "legacy",
    });
    assert.equal(parseBlobName("notes.txt"), undefined);
    assert.equal(normaliseBackupName("ptt_pd_2024-07-24.sql.gz"), "ptt_pd_2024-07-24");
  });

  it("derives deterministic restore database names that fit in 63 bytes", () => {
    const a = restoreDatabaseNames("ptt_production", "ptt_pd_adhoc_2024-07-24");
    assert.deepEqual(a, restoreDatabaseNames("ptt_production", "ptt_pd_adhoc_2024-07-24"));
    assert.match(a.scratch, /^ptt_production_restore_[0-9a-f]{8}$/);
    assert.match(a.kept, /^ptt_production_pre_restore_[0-9a-f]{8}$/);
    const long = restoreDatabaseNames("d".repeat(63), "b");
    assert.equal(Buffer.byteLength(long.kept), 63);
    assert.match(long.kept, /^d+_pre_restore_[0-9a-f]{8}$/);
    assert.ok(Buffer.byteLength(long.scratch) <= 63);
  });
});

describe("datapath connection", () => {
  const url =
    "postgres://app%40user:p%40ss%3Aw0rd@s189p01-ptt-pd-pg.postgres.database.azure.com:5432/ptt_production?sslmode=require";

  it("parses, overrides and redacts without leaking the password", () => {
    const t = resolveTarget(
      { dbEnv: "MY_URL", dbHost: "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com" },
      { MY_URL: url },
    );
    assert.equal(t.user, "app@user");
    assert.equal(t.password, "p@ss:w0rd");
    assert.equal(t.host, "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com");
    assert.equal(t.sslmode, "require");
    const shown = describeTarget(t);
    assert.ok(!shown.includes("w0rd"), shown);
    assert.match(shown, /app%40user:\*\*\*@s189p01-ptt-pd-pg-ptr/);
    assert.ok(!redactUrl(url).includes("w0rd"));
    assert.ok(!redactUrl("postgres://u@h/db?password=hunter2").includes("hunter2"));
    assert.equal(resolveTarget({ url, dbName: "other" }).database, "other");
    assert.throws(() => resolveTarget({}, {}), /DATABASE_URL is not set/);
    assert.throws(
      () => parsePgUrl("host=x password=secret"),
      (e: Error) => !e.message.includes("secret"),
    );
  });

  it("puts the connection in libpq variables, replacing inherited ones", () => {
    const env = libpqEnv(parsePgUrl(url), { PGHOST: "elsewhere", PGSERVICE: "x", PATH: "/bin" });
    assert.deepEqual(
      [
        env.PGHOST,
        env.PGPORT,
        env.PGUSER,
        env.PGPASSWORD,
        env.PGDATABASE,
        env.PGSSLMODE,
        env.PGSERVICE,
        env.PATH,
      ],
      [
        "s189p01-ptt-pd-pg.postgres.database.azure.com",
        "5432",
        "app@user",
        "p@ss:w0rd",
        "ptt_production",
        "require",
        undefined,
        "/bin",
      ],
    );
  });

  it("names the server for --confirm by its first DNS label, or the whole IP", () => {
    assert.equal(serverLabel("s189p01-ptt-pd-pg.postgres.database.azure.com"), "s189p01-ptt-pd-pg");
    assert.equal(serverLabel("127.0.0.1"), "127.0.0.1");
    assert.equal(serverLabel("::1"), "::1");
    assert.equal(confirmationFor(parsePgUrl(url)), "s189p01-ptt-pd-pg/ptt_production");
  });

  it("scrubs secrets from error text", () => {
    assert.equal(
      redact("failed for p@ss:w0rd and KEY123==", ["p@ss:w0rd", "KEY123=="]),
      "failed for *** and ***",
    );
  });
});

describe("datapath plain dump trailer", () => {
  it("accepts pg_dump's trailer, with or without the \\unrestrict line, and nothing else", () => {
    const t = "COPY x\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
    assert.ok(hasDumpTrailer(t));
    assert.ok(hasDumpTrailer(`${t}\\unrestrict abc123\n\n`));
    assert.ok(!hasDumpTrailer("COPY x\n1\t2\n"));
    assert.ok(!hasDumpTrailer(`${t}CREATE TABLE y ();\n`));
  });
});
