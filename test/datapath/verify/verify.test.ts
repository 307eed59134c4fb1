/**
 * verify against real PostgreSQL: identical copies pass, and each kind of damage a bad restore
 * could cause is caught, exits 1 and names the object.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { main } from "../../../datapath/cli";
import { verifyDatabases, VerifyReport } from "../../../datapath/verify/verify";
import { asReader, hasExtension, PG_BIN, PgServer, startPostgres } from "../../support/postgres";

const execFileAsync = promisify(execFile);
const HAVE_CITEXT = hasExtension("citext");
const RESTORE_TARGET = "2025-06-01T12:00:00+01:00"; // all fixture write times are earlier

const FIXTURE = `
${HAVE_CITEXT ? "CREATE EXTENSION citext;" : ""}
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE providers (
  id bigserial PRIMARY KEY,
  code ${HAVE_CITEXT ? "citext" : "text"} NOT NULL UNIQUE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL
);
CREATE TABLE courses (
  id serial PRIMARY KEY,
  provider_id bigint NOT NULL REFERENCES providers (id),
  title text,
  fee numeric(10, 2) CHECK (fee >= 0),
  tags text[],
  meta jsonb,
  raw bytea,
  rating double precision,
  mood mood,
  duration interval,
  starts_on date,
  expires_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz
);
CREATE INDEX courses_title_idx ON courses (lower(title));
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY,
  occurred_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  payload jsonb,
  PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE notes (id int PRIMARY KEY, body text, "r" int);
CREATE TABLE big (id int PRIMARY KEY, filler text);
-- Names that could collide with the hash query's own aliases, and a table with no columns.
CREATE TABLE "Odd ""Name""" (r int, x text, s int, ts timestamptz, "updated_at" timestamp);
CREATE TABLE no_columns ();

INSERT INTO providers (code, name, created_at, updated_at)
SELECT 'P' || g, 'Provider ' || g || ' café ☕ 日本語 🐘',
       timestamptz '2024-01-01 00:00+00' + g * interval '1 hour',
       timestamp '2024-02-01 00:00' + g * interval '1 hour'
  FROM generate_series(1, 200) g;
INSERT INTO courses (provider_id, title, fee, tags, meta, raw, rating, mood, duration, starts_on,
                     expires_at, created_at, updated_at)
SELECT 1 + g % 200,
       CASE WHEN g % 17 = 0 THEN NULL ELSE 'Course ' || g || ' — Ünïcödé' END,
       CASE WHEN g % 13 = 0 THEN NULL ELSE (g * 1.25)::numeric(10, 2) END,
       CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN ARRAY['a', NULL, 'b c'] ELSE ARRAY['x' || g] END,
       jsonb_build_object('g', g, 'nested', jsonb_build_array(1, 'two', NULL), 'f', g / 3.0),
       decode(md5(g::text), 'hex'),
       CASE WHEN g % 11 = 0 THEN NULL ELSE g / 7.0 END,
       (ARRAY['sad', 'ok', 'happy']::mood[])[1 + g % 3],
       g * interval '90 minutes',
       date '2024-09-01' + g,
       timestamptz '2030-01-01 00:00+00', -- future, but not a write time: must not flag
       timestamptz '2024-03-01 00:00+00' + g * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN NULL ELSE timestamptz '2025-05-01 00:00+00' + g * interval '1 second' END
  FROM generate_series(1, 3000) g;
INSERT INTO events (occurred_at, created_at, payload)
SELECT timestamptz '2024-06-01 00:00+00' + g * interval '3 hours',
       timestamptz '2024-06-01 00:00+00' + g * interval '3 hours', jsonb_build_object('n', g)
  FROM generate_series(1, 2000) g;
INSERT INTO notes VALUES (1, NULL, 1), (2, '', 2), (3, 'x', NULL);
INSERT INTO "Odd ""Name""" VALUES (1, 'a', 1, now(), '2024-01-01'), (2, NULL, 2, NULL, NULL);
INSERT INTO no_columns DEFAULT VALUES;
INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
SELECT setval('courses_id_seq', 5000);
ANALYZE;
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `pg-recovery-data verify ARGV` in-process, with its own environment. */
async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(["verify", ...argv], {
    out: (t) => (stdout += t),
    err: (t) => (stderr += t),
    env,
  });
  return { code, stdout, stderr };
}

describe("datapath verify", function () {
  this.timeout(90_000);
  let a: PgServer;
  let b: PgServer;
  let copies = 0;

  /** A fresh byte-identical copy of the fixture (CREATE DATABASE ... TEMPLATE). */
  async function copy(mutation?: string): Promise<string> {
    const name = `copy_${++copies}`;
    await a.query("postgres", `CREATE DATABASE ${name} TEMPLATE orig`);
    if (mutation) await a.query(name, mutation);
    return name;
  }

  async function verifyAgainst(db: string, extra: string[] = []): Promise<Run> {
    return run(["--source", a.url("orig"), "--target", a.url(db), ...extra]);
  }

  before(async () => {
    [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    await a.createDatabase("orig");
    await a.query("orig", FIXTURE);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("reports identical copies as IDENTICAL, exit 0, without leaking passwords", async () => {
    const db = await copy();
    const r = await verifyAgainst(db, ["--restore-target", RESTORE_TARGET]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /verdict: IDENTICAL\n$/);
    assert.match(
      r.stdout,
      /== schema ==[\s\S]*== rows ==[\s\S]*== content ==[\s\S]*== sequences ==[\s\S]*== recency ==/,
    );
    assert.match(r.stdout, /public\.events_2024\s+1,/); // partitions are hashed individually
    assert.ok(!(r.stdout + r.stderr).includes(a.password), "password printed");
    assert.match(r.stderr, /table \d+\/\d+/); // progress goes to stderr
  });

  it("prints a stable JSON report with --json", async () => {
    const db = await copy();
    const one = await verifyAgainst(db, ["--json", "--restore-target", RESTORE_TARGET]);
    const two = await verifyAgainst(db, [
      "--json",
      "--restore-target",
      RESTORE_TARGET,
      "--jobs",
      "3",
    ]);
    assert.equal(one.code, 0);
    const [r1, r2] = [one, two].map((x) => JSON.parse(x.stdout) as VerifyReport);
    assert.equal(r1.verdict, "IDENTICAL");
    assert.equal(r1.restoreTarget, "2025-06-01T11:00:00Z");
    // Only the run's stats and the pool size itself may differ.
    const strip = (r: VerifyReport) => ({
      ...r,
      stats: null,
      source: { ...r.source, connections: 0 },
      target: { ...r.target, connections: 0 },
    });
    assert.deepEqual(strip(r1), { ...strip(r2) }, "report must not depend on pool size");
    const courses = r1.tables.find((t) => t.table === "public.courses")!;
    assert.deepEqual(courses.timeColumns, ["created_at", "updated_at"]); // not expires_at
    assert.equal(courses.source!.rows, 3000);
    assert.match(courses.source!.hash, /^[0-9a-f]{32}$/);
    assert.ok(!one.stdout.includes(a.password));
  });

  it("finds two servers identical after pg_dump | psql, via env vars and host/name overrides", async () => {
    await b.createDatabase("restored");
    const env = { ...process.env, PGPASSWORD: a.password };
    const { stdout: dump } = await execFileAsync(
      `${PG_BIN}/pg_dump`,
      ["-h", a.host, "-p", String(a.port), "-U", "postgres", "--no-owner", "orig"],
      { env, maxBuffer: 64 * 1024 * 1024 },
    );
    const psql = execFile(
      `${PG_BIN}/psql`,
      [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        b.host,
        "-p",
        String(b.port),
        "-U",
        "postgres",
        "restored",
      ],
      { env: { ...process.env, PGPASSWORD: b.password } },
    );
    psql.stdin!.end(dump);
    await new Promise<void>((res, rej) =>
      psql.on("exit", (c) => (c === 0 ? res() : rej(new Error(`psql ${c}`)))),
    );

    const toolEnv = {
      ...process.env,
      VERIFY_TEST_LIVE: a.url("postgres"),
      VERIFY_TEST_PTR: b.url("postgres"),
    };
    {
      const r = await run(
        [
          "--source-env",
          "VERIFY_TEST_LIVE",
          "--source-name",
          "orig",
          "--target-env",
          "VERIFY_TEST_PTR",
          "--target-host",
          "localhost",
          "--target-name",
          "restored",
          "--restore-target",
          RESTORE_TARGET,
        ],
        toolEnv,
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `target \\(candidate\\): postgres://postgres:\\*\\*\\*@localhost:${b.port}/restored`,
        ),
      );
    }
  });

  const cases: { name: string; mutation: string; section: string; object: RegExp }[] = [
    {
      name: "one changed character in one text cell",
      mutation: "UPDATE courses SET title = 'Course 42 — Ünïcödè' WHERE id = 42",
      section: "content",
      object: /public\.courses/,
    },
    {
      name: "NULL versus empty string",
      mutation: "UPDATE notes SET body = '' WHERE id = 1",
      section: "content",
      object: /public\.notes/,
    },
    {
      name: "a changed value in one partition",
      mutation: "UPDATE events SET payload = '{\"n\": 0}' WHERE id = 7",
      section: "content",
      object: /public\.events_2024/,
    },
    {
      name: "a changed value in a table whose columns are named like the query's aliases",
      mutation: `UPDATE "Odd ""Name""" SET x = 'b' WHERE r = 1`,
      section: "content",
      object: /public\.Odd "Name"/,
    },
    {
      name: "an extra row in a table with no columns",
      mutation: "INSERT INTO no_columns DEFAULT VALUES",
      section: "rows",
      object: /public\.no_columns/,
    },
    {
      name: "one missing row",
      mutation: "DELETE FROM courses WHERE id = 2999",
      section: "rows",
      object: /public\.courses/,
    },
    {
      name: "one extra row",
      mutation: "INSERT INTO notes VALUES (4, 'new', 4)",
      section: "rows",
      object: /public\.notes/,
    },
    {
      name: "a dropped table",
      mutation: "DROP TABLE notes",
      section: "schema",
      object: /public\.notes/,
    },
    {
      name: "a moved sequence",
      mutation: "SELECT setval('providers_id_seq', 150)",
      section: "sequences",
      object: /public\.providers_id_seq/,
    },
    {
      name: "a changed column type",
      mutation: "ALTER TABLE providers ALTER COLUMN name TYPE varchar(200)",
      section: "schema",
      object: /public\.providers\.name/,
    },
    {
      name: "a changed index",
      mutation:
        "DROP INDEX courses_title_idx; CREATE INDEX courses_title_idx ON courses (upper(title))",
      section: "schema",
      object: /public\.courses_title_idx/,
    },
    {
      name: "rows newer than the restore target",
      // Same on both sides would not matter: flagged on the target alone.
      mutation: "UPDATE providers SET updated_at = timestamp '2025-06-01 11:00:01' WHERE id = 3",
      section: "recency",
      object: /public\.providers/,
    },
  ];

  for (const c of cases) {
    it(`catches ${c.name}: exit 1, names the object`, async () => {
      const db = await copy(c.mutation);
      const r = await verifyAgainst(db, ["--restore-target", RESTORE_TARGET]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /verdict: \d+ DIFFERENCES?\n$/);
      const line = r.stdout
        .split("\n")
        .find((l) => l.startsWith(`  [${c.section}] `) && c.object.test(l));
      assert.ok(line, `no [${c.section}] difference naming ${c.object} in:\n${r.stdout}`);
    });
  }

  it("flags rows newer than the restore target only on the target side", async () => {
    const db = await copy(
      "UPDATE providers SET updated_at = timestamp '2025-06-01 11:00:01' WHERE id = 3",
    );
    // Swapped roles: the newer row is now on the source (live went on writing): not a difference
    // of recency, only of content.
    const r = await run([
      "--source",
      a.url(db),
      "--target",
      a.url("orig"),
      "--restore-target",
      RESTORE_TARGET,
      "--json",
    ]);
    const report = JSON.parse(r.stdout) as VerifyReport;
    assert.deepEqual(
      report.differences.map((d) => `${d.section} ${d.object}`),
      ["content public.providers"],
    );
    const p = report.tables.find((t) => t.table === "public.providers")!;
    assert.equal(p.source!.newest, "2025-06-01T11:00:01Z");
    assert.equal(p.afterRestoreTarget, false);
  });

  it("hashes big tables in block ranges with the same result, and still catches a change", async () => {
    const db = await copy("UPDATE big SET filler = filler || '.' WHERE id = 2500");
    const whole = await verifyDatabases({ source: a.url("orig"), target: a.url(db) });
    const chunked = await verifyDatabases({
      source: a.url("orig"),
      target: a.url(db),
      chunkPages: 3,
      jobs: 3,
    });
    const big = (r: VerifyReport) => r.tables.find((t) => t.table === "public.big")!;
    assert.equal(big(whole).source!.hash, big(chunked).source!.hash);
    assert.equal(big(whole).target!.hash, big(chunked).target!.hash);
    assert.equal(big(chunked).source!.rows, 5000);
    assert.deepEqual(
      chunked.differences.map((d) => `${d.section} ${d.object}`),
      ["content public.big"],
    );
  });

  it("fails, naming the fix, where row-level security would hide rows from its role", async () => {
    // Both sides filtered alike would compare equal: a validation of half the rows.
    const rls =
      "ALTER TABLE courses ENABLE ROW LEVEL SECURITY; CREATE POLICY evens ON courses USING (id % 2 = 0);";
    const [one, two] = [await copy(rls), await copy(rls)];
    const r = await run(["--source", await asReader(a, one), "--target", await asReader(a, two)]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /row-level security would hide rows of these tables from this role \(on source .*: public\.courses; on target .*: public\.courses\), .* Connect as a role that sees every row/,
    );
    assert.doesNotMatch(r.stdout, /IDENTICAL/);
  });

  it("fails before reading any row, naming every table and the grants, where its role may not read one", async () => {
    // Before, verify hashed the other tables and stopped at courses on "permission denied".
    const [one, two] = [await copy(), await copy()];
    const [source, target] = [await asReader(a, one), await asReader(a, two)];
    for (const db of [one, two]) await a.query(db, "REVOKE SELECT ON courses FROM pgr_reader");
    const r = await run(["--source", source, "--target", target]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /this role \(pgr_reader\) may not read these tables \(on source .*: public\.courses; on target .*: public\.courses\): connect as their owner, or grant it .* GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "pgr_reader";/,
    );
    assert.doesNotMatch(r.stderr, /hashing/);
  });

  it("refuses usage and configuration errors with exit 2, fails on a bad connection with exit 1", async () => {
    const db = await copy();
    const noOffset = await verifyAgainst(db, ["--restore-target", "2024-07-24T06:00:00"]);
    assert.equal(noOffset.code, 2);
    assert.match(noOffset.stderr, /no UTC offset/);
    const same = await run(["--source", a.url("orig"), "--target", a.url("orig")]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /same database/);
    const typo = await verifyAgainst(db, ["--schema", "public,pubic"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /schema\(s\) not found on the source: pubic/);
    const unknown = await run(["--bogus"]);
    assert.equal(unknown.code, 2);
    const down = await run([
      "--source",
      a.url("orig"),
      "--target",
      "postgres://u:pw@127.0.0.1:1/x",
    ]);
    // Exit 1 like backup and restore: the command ran and could not reach a database.
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot connect to target postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x/);
    const noEnv = await run(["--source-env", "VERIFY_TEST_UNSET_VAR", "--target", a.url(db)]);
    assert.equal(noEnv.code, 2);
    assert.match(
      noEnv.stderr,
      /VERIFY_TEST_UNSET_VAR \(the source's URL\) is not set: set it, or name another variable with --source-env/,
    );
  });
});
