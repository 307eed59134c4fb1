/**
 * The data tool "as a new user would" use it: a schema the other tests have not seen (what a
 * Rails app or an operator may have), and faults injected mid-backup and mid-restore. Real
 * PostgreSQL 15 and Azurite. Every fault must leave the target exactly as it was (fingerprint
 * before and after) and no `_restore_` scratch database behind.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { backup } from "../datapath/backup";
import { listBackups } from "../datapath/catalog";
import { restore } from "../datapath/restore";
import { StorageOptions } from "../datapath/storage";
import { verifyDatabases, VerifyReport } from "../datapath/verify";
import { Azurite, startAzurite } from "./support/azurite";
import { PG_BIN, PgServer, startPostgres } from "./support/postgres";

const execFileAsync = promisify(execFile);
const quiet = () => undefined;
const ROOT = path.join(__dirname, "..");
const HAVE_BTREE_GIST = fs.existsSync("/usr/share/postgresql/15/extension/btree_gist.control");

/**
 * A schema none of the other tests use: several schemas (one quoted mixed-case), domains,
 * a composite type, enums in arrays, generated and custom identity columns, a table without a
 * primary key holding duplicate rows, views, materialized views (one indexed, one never
 * populated), plpgsql trigger, RLS policy, comments, a CHECK calling a function, an exclusion
 * constraint, large objects, an unlogged table, multi-MB TOASTed values, special float and
 * time values, and most of PostgreSQL's scalar types.
 */
const EXOTIC_SCHEMA = `
${HAVE_BTREE_GIST ? "CREATE EXTENSION btree_gist;" : ""}
CREATE SCHEMA "Billing";
CREATE SCHEMA ops;
CREATE DOMAIN public.email AS text CHECK (VALUE ~ '^[^@\\s]+@[^@\\s]+$');
CREATE DOMAIN public.positive_int AS integer NOT NULL CHECK (VALUE > 0);
CREATE TYPE public.address AS (street text, city text, postcode varchar(8));
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
CREATE TYPE "Billing"."Status" AS ENUM ('Draft', 'Issued', 'Paid');
CREATE FUNCTION public.valid_code(c text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT c ~ '^[A-Z]{2}[0-9]{3}$' $$;
CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TABLE "Billing"."Invoices" (
  "Id" bigint GENERATED ALWAYS AS IDENTITY
    (START WITH 1000 INCREMENT BY 7 MINVALUE 1000 MAXVALUE 9999999 CACHE 3) PRIMARY KEY,
  "Code" text NOT NULL CHECK (public.valid_code("Code")),
  status "Billing"."Status" NOT NULL DEFAULT 'Draft',
  net_pence integer NOT NULL,
  vat_pence integer GENERATED ALWAYS AS (net_pence / 5) STORED,
  amount money,
  billed_to public.address,
  contact public.email,
  qty public.positive_int,
  moods public.mood[],
  updated_at timestamptz
);
CREATE TRIGGER invoices_touch BEFORE UPDATE ON "Billing"."Invoices"
  FOR EACH ROW EXECUTE FUNCTION public.touch_updated_at();
COMMENT ON TABLE "Billing"."Invoices" IS 'Invoices – mixed-case schema ✓';
COMMENT ON COLUMN "Billing"."Invoices"."Code" IS 'two letters, three digits';
INSERT INTO "Billing"."Invoices" ("Code", status, net_pence, amount, billed_to, contact, qty, moods, updated_at)
SELECT 'AB' || lpad((g % 1000)::text, 3, '0'),
       (ARRAY['Draft', 'Issued', 'Paid']::"Billing"."Status"[])[1 + g % 3],
       g * 100, (g * 1.23)::numeric::money, ROW('1 High St', 'Leeds', 'LS1 ' || g % 10)::public.address,
       'user' || g || '@example.com', 1 + g % 9,
       CASE g % 3 WHEN 0 THEN ARRAY['sad', 'happy']::public.mood[] WHEN 1 THEN '{}'::public.mood[] END,
       TIMESTAMPTZ '2024-07-24 05:00:00+00' + g * interval '1 second'
  FROM generate_series(1, 400) g;
ALTER TABLE "Billing"."Invoices" ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoices_paid_only ON "Billing"."Invoices" FOR SELECT USING (status = 'Paid');

CREATE TABLE ops.event_log (kind text, payload jsonb, at timestamp);
INSERT INTO ops.event_log SELECT 'dup', '{"a": 1}', TIMESTAMP '2024-01-01' FROM generate_series(1, 5);
INSERT INTO ops.event_log SELECT NULL, NULL, NULL FROM generate_series(1, 3);
INSERT INTO ops.event_log
SELECT 'k' || g, jsonb_build_object('g', g), TIMESTAMP '2024-01-01' + g * interval '1 day'
  FROM generate_series(1, 50) g;

CREATE TABLE public.oddities (
  id int PRIMARY KEY,
  f8 double precision, f4 real, num numeric,
  ts timestamp, tstz timestamptz, d date, iv interval,
  r int4range, tr tstzrange, dr daterange, nr numrange,
  tv tsvector, tq tsquery, u uuid,
  ip inet, net cidr, mac macaddr, mac8 macaddr8,
  m money, b bit(8), vb varbit, x xml, j json, pt point, bx box,
  t time, ttz timetz, ch char(5), oid_ref oid
);
INSERT INTO public.oddities VALUES
 (1, 'NaN', 'NaN', 'NaN', 'infinity', '-infinity', 'infinity', '1 year 2 mons 3 days 04:05:06.789',
  '[1,10)', '[2024-01-01 00:00+00,infinity)', '(,2024-07-24]', '(1.5,2.5]',
  to_tsvector('english', 'The quick brown foxes jumped'), to_tsquery('english', 'fox & !dog'),
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  '-12.34', B'10101010', B'101', '<a x="1">t&amp;<b/></a>', '{"k": [1, 2.50, "x"]}', '(1.5,-2)',
  '((0,0),(1,1))', '23:59:59.999999', '12:00+05:30', 'ab', 12345),
 (2, 'Infinity', '-Infinity', '-0.000', '-infinity', 'infinity', '-infinity', '-178000000 years',
  'empty', 'empty', '[2024-01-01,2024-01-02)', NULL,
  ''::tsvector, NULL, '00000000-0000-0000-0000-000000000000',
  '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', NULL,
  '0', B'00000000', B'', '<?xml version="1.0"?><r/>', 'null', NULL, NULL,
  '00:00', '00:00-12', '     ', 0),
 (3, '-0', '-0', '1e-30', '2000-02-29 12:34:56.123456', '1970-01-01 00:00:00.000001+00',
  '0001-01-01 BC', '-1 day +02:00', '(,)', NULL, NULL, '[-1e20,1e20]',
  'a:1A b:2B,3 ''quoted''', 'a <-> b', 'b1a2c3d4-0000-4000-8000-000000000003',
  '0.0.0.0/0', '0.0.0.0/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
  '92233720368547758.07', B'11111111', repeat('1', 100)::varbit, 'plain text', '[]',
  '(1e300,-1e-300)', NULL, NULL, NULL, NULL, NULL),
 (4, 1.7976931348623157e308, 1.4e-45, 0.1, NULL, NULL, NULL, '1 day', NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL);

CREATE TABLE ops.bookings (
  id serial PRIMARY KEY, room int NOT NULL, during tstzrange NOT NULL
  ${HAVE_BTREE_GIST ? ", EXCLUDE USING gist (room WITH =, during WITH &&)" : ""}
);
INSERT INTO ops.bookings (room, during)
SELECT g % 5, tstzrange(TIMESTAMPTZ '2024-01-01 00:00+00' + g * interval '1 hour',
                        TIMESTAMPTZ '2024-01-01 00:00+00' + (g + 1) * interval '1 hour')
  FROM generate_series(1, 200) g;

CREATE UNLOGGED TABLE ops.sessions (sid uuid PRIMARY KEY, data jsonb);
INSERT INTO ops.sessions SELECT md5(g::text)::uuid, jsonb_build_object('n', g) FROM generate_series(1, 100) g;

-- Several MB per row, TOASTed: 3.2 MB of text and 1.6 MB of bytea each.
CREATE TABLE ops.attachments (id int PRIMARY KEY, body text, raw bytea);
INSERT INTO ops.attachments
SELECT g, string_agg(md5(g::text || i::text), '' ORDER BY i),
       decode(string_agg(md5(i::text || g::text), '' ORDER BY i), 'hex')
  FROM generate_series(1, 3) g, generate_series(1, 100000) i GROUP BY g;

CREATE VIEW "Billing".paid_invoices AS
  SELECT "Id", "Code", net_pence FROM "Billing"."Invoices" WHERE status = 'Paid';
CREATE MATERIALIZED VIEW ops.invoice_totals AS
  SELECT status, count(*) AS n, sum(net_pence) AS net FROM "Billing"."Invoices" GROUP BY status;
CREATE UNIQUE INDEX invoice_totals_status ON ops.invoice_totals (status);
CREATE MATERIALIZED VIEW ops.never_refreshed AS SELECT 1 AS one WITH NO DATA;

SELECT lo_from_bytea(0, convert_to(repeat('large object payload ', 1000), 'UTF8'));
SELECT lo_from_bytea(0, '\\x00ff00ff'::bytea);
CREATE TABLE ops.documents (id int PRIMARY KEY, content oid);
INSERT INTO ops.documents SELECT row_number() OVER (ORDER BY oid), oid FROM pg_largeobject_metadata;

-- 1,200 columns (the limit is 1,600).
DO $$ BEGIN
  EXECUTE 'CREATE TABLE ops.very_wide ('
    || (SELECT string_agg('c' || g || ' int', ', ') FROM generate_series(1, 1200) g) || ')';
  EXECUTE 'INSERT INTO ops.very_wide SELECT '
    || (SELECT string_agg('g + ' || i, ', ') FROM generate_series(1, 1200) i)
    || ' FROM generate_series(1, 20) g';
END $$;
`;

/** Per-table row count and content, sequences, large objects, policies, comments. */
async function fingerprint(pg: PgServer, db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pg.query(
    db,
    `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND c.relispopulated
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname !~ '^pg_toast' ORDER BY 1`,
  );
  for (const { t } of tables.rows) {
    const r = await pg.query(
      db,
      // Row rendering (record_out), as clients read the values. (Casting an xml column itself
      // to text would differ: pg_dump writes xml through xml_out, which drops a plain
      // `<?xml version="1.0"?>` declaration, so the restored value is stored without it.)
      `SELECT count(*) AS n, md5(coalesce(string_agg(md5(row_::text), '' ORDER BY md5(row_::text)), '')) AS h FROM ONLY ${t} row_`,
    );
    out[`table ${t}`] = `${r.rows[0].n} ${r.rows[0].h}`;
  }
  const extra = await pg.query(
    db,
    `SELECT (SELECT string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY 1) FROM pg_sequences) AS seqs,
            (SELECT string_agg(md5(lo_get(oid)), ',' ORDER BY 1) FROM pg_largeobject_metadata) AS los,
            (SELECT string_agg(tablename || ':' || policyname || ':' || qual, ',' ORDER BY 1) FROM pg_policies) AS policies,
            (SELECT string_agg(description, ',' ORDER BY 1) FROM pg_description d
              WHERE d.classoid = 'pg_class'::regclass) AS comments,
            (SELECT count(*) FROM pg_class WHERE relpersistence = 'u') AS unlogged`,
  );
  Object.assign(out, extra.rows[0]);
  return out;
}

async function scratchDatabases(pg: PgServer): Promise<string[]> {
  const r = await pg.query(
    "postgres",
    "SELECT datname FROM pg_database WHERE datname ~ '_restore_' ORDER BY 1",
  );
  return r.rows.map((x) => x.datname);
}

/** Waits until `sql` (run on db postgres) returns a row, polling every 20 ms. */
async function waitFor(pg: PgServer, sql: string, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await pg.query("postgres", sql)).rowCount) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const PG_RESTORE_COPYING = `SELECT 1 FROM pg_stat_activity
  WHERE application_name = 'pg_restore' AND query ILIKE 'COPY %' AND datname ~ '_restore_'`;

function differences(report: VerifyReport): string[] {
  return report.differences.map((d) => `${d.section} ${d.object}: ${d.detail}`);
}

describe("datapath adversarial: unseen schemas and mid-flight faults", function () {
  this.timeout(60_000);
  let pg: PgServer;
  let az: Azurite;
  let seq = 0;
  const fastRetry: StorageOptions = {
    retry: { maxTries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 200, tryTimeoutInMs: 3_000 },
  };

  function envFor(connectionString = az.connectionString): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PG_BIN,
      AZURE_STORAGE_CONNECTION_STRING: connectionString,
      BACKUP_CONTAINER: `adv${++seq}-${Date.now().toString(36)}`,
    };
  }

  before(async () => {
    [pg, az] = await Promise.all([startPostgres(), startAzurite()]);
    await pg.createDatabase("exotic");
    await pg.query("exotic", EXOTIC_SCHEMA);
    // Enough incompressible data that a dump or a load is still running when interrupted.
    await pg.createDatabase("bulk");
    await pg.query(
      "bulk",
      `CREATE TABLE a_small (id int PRIMARY KEY, v text);
       INSERT INTO a_small SELECT g, 'v' || g FROM generate_series(1, 100) g;
       CREATE TABLE blobs (id int PRIMARY KEY, a text, b text);
       INSERT INTO blobs SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text)
         FROM generate_series(1, 200000) g;`,
    );
  });

  after(async () => {
    await Promise.all([pg?.stop(), az?.stop()]);
  });

  describe("an unseen, exotic schema", () => {
    let env: NodeJS.ProcessEnv;

    before(async () => {
      env = envFor();
      await backup({ name: "exotic_adhoc", url: pg.url("exotic"), env, log: quiet });
      await restore({ name: "exotic_adhoc", url: pg.url("exotic_copy"), env, log: quiet });
    });

    it("round-trips: verify reports zero differences, and what verify does not compare survives too", async () => {
      const report = await verifyDatabases({
        source: pg.url("exotic"),
        target: pg.url("exotic_copy"),
      });
      assert.deepEqual(differences(report), []);
      assert.equal(report.tables.find((t) => t.table === "ops.sessions")?.target?.rows, 100);
      assert.equal(report.tables.find((t) => t.table === "ops.event_log")?.target?.rows, 58);
      assert.deepEqual(await fingerprint(pg, "exotic_copy"), await fingerprint(pg, "exotic"));
      // Objects outside verify's catalog comparison, checked directly.
      const facts = `SELECT
          (SELECT relrowsecurity FROM pg_class WHERE oid = '"Billing"."Invoices"'::regclass) AS rls,
          (SELECT relpersistence FROM pg_class WHERE oid = 'ops.sessions'::regclass) AS persistence,
          (SELECT relispopulated FROM pg_class WHERE oid = 'ops.never_refreshed'::regclass) AS populated,
          (SELECT count(*) FROM pg_largeobject_metadata)::int AS los,
          (SELECT string_agg(pg_get_constraintdef(oid), ';' ORDER BY 1) FROM pg_constraint
            WHERE contypid IN ('public.email'::regtype, 'public.positive_int'::regtype)) AS domains,
          (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)
             FROM pg_attribute WHERE attrelid = 'public.address'::regclass) AS composite`;
      const [src, dst] = await Promise.all(
        ["exotic", "exotic_copy"].map(async (db) => (await pg.query(db, facts)).rows[0]),
      );
      assert.deepEqual(dst, src);
      assert.deepEqual([src.rls, src.persistence, src.populated, src.los], [true, "u", false, 2]);
      // The identity keeps its custom options and position: the next id is the same on both.
      const next = `INSERT INTO "Billing"."Invoices" ("Code", net_pence, qty) VALUES ('ZZ999', 1, 1) RETURNING "Id"`;
      const [a, b] = await Promise.all(["exotic_copy", "exotic"].map((db) => pg.query(db, next)));
      assert.equal(a.rows[0].Id, b.rows[0].Id);
      await Promise.all(
        ["exotic_copy", "exotic"].map((db) =>
          pg.query(db, `DELETE FROM "Billing"."Invoices" WHERE "Code" = 'ZZ999'`),
        ),
      );
    });

    it("verify still catches one changed value in exotic types", async () => {
      // [table, change, revert, what]: each is invisible to count(*); -0 and '24:00:00' are
      // even `=` to the original. Reverted after each check so every change is seen alone.
      const flip = (d: number) =>
        `UPDATE ops.attachments SET raw = set_byte(raw, 999999, (get_byte(raw, 999999) + ${d}) % 256) WHERE id = 2`;
      const changes: [string, string, string, string][] = [
        [
          "public.oddities",
          "UPDATE public.oddities SET f8 = 0 WHERE id = 3",
          "UPDATE public.oddities SET f8 = '-0' WHERE id = 3",
          "float8 -0 -> 0",
        ],
        [
          "public.oddities",
          "UPDATE public.oddities SET iv = '24:00:00' WHERE id = 4",
          "UPDATE public.oddities SET iv = '1 day' WHERE id = 4",
          "interval '1 day' -> '24:00:00'",
        ],
        [
          "public.oddities",
          "UPDATE public.oddities SET ip = '192.168.1.5/25' WHERE id = 1",
          "UPDATE public.oddities SET ip = '192.168.1.5/24' WHERE id = 1",
          "inet netmask",
        ],
        [
          "Billing.Invoices",
          `UPDATE "Billing"."Invoices" SET moods = '{sad,ecstatic}' WHERE "Id" = 1021`,
          `UPDATE "Billing"."Invoices" SET moods = '{}' WHERE "Id" = 1021`,
          "enum array",
        ],
        [
          "ops.event_log",
          "UPDATE ops.event_log SET kind = '' WHERE ctid = (SELECT min(ctid) FROM ops.event_log WHERE kind IS NULL)",
          "UPDATE ops.event_log SET kind = NULL WHERE kind = ''",
          "NULL -> '' in a keyless duplicate row",
        ],
        ["ops.attachments", flip(1), flip(255), "one byte of a TOASTed 1.6 MB bytea"],
      ];
      const c = new Client({ connectionString: pg.url("exotic_copy") });
      await c.connect();
      try {
        // The touch trigger would also change updated_at: keep each change to one value.
        await c.query("SET session_replication_role = replica");
        for (const [table, change, revert, what] of changes) {
          assert.equal((await c.query(change)).rowCount, 1, what);
          const report = await verifyDatabases({
            source: pg.url("exotic"),
            target: pg.url("exotic_copy"),
          });
          assert.deepEqual(
            differences(report),
            [`content ${table}: same row count, different values`],
            what,
          );
          await c.query(revert);
        }
      } finally {
        await c.end();
      }
      const report = await verifyDatabases({
        source: pg.url("exotic"),
        target: pg.url("exotic_copy"),
      });
      assert.deepEqual(differences(report), [], "all changes reverted");
    });

    it("verify also compares row-level security, policies and large objects", async () => {
      const check = async (change: string, revert: string, expected: string[]) => {
        await pg.query("exotic_copy", change);
        try {
          const report = await verifyDatabases({
            source: pg.url("exotic"),
            target: pg.url("exotic_copy"),
          });
          assert.deepEqual(differences(report), expected, change);
        } finally {
          await pg.query("exotic_copy", revert);
        }
      };
      const lo = (
        await pg.query("exotic_copy", "SELECT min(oid)::int AS o FROM pg_largeobject_metadata")
      ).rows[0].o;
      await check(
        `ALTER TABLE "Billing"."Invoices" DISABLE ROW LEVEL SECURITY`,
        `ALTER TABLE "Billing"."Invoices" ENABLE ROW LEVEL SECURITY`,
        ["schema Billing.Invoices: table differs"],
      );
      await check(
        `DROP POLICY invoices_paid_only ON "Billing"."Invoices"`,
        `CREATE POLICY invoices_paid_only ON "Billing"."Invoices" FOR SELECT USING (status = 'Paid')`,
        ["schema Billing.Invoices.invoices_paid_only: policy missing on target"],
      );
      await check(
        `SELECT lo_put(${lo}, 3, '\\x21')`,
        `SELECT lo_put(${lo}, 3, '\\x67')`, // 'g' of "large"
        ["schema pg_largeobject: large object differs"],
      );
      const report = await verifyDatabases({
        source: pg.url("exotic"),
        target: pg.url("exotic_copy"),
      });
      assert.deepEqual(differences(report), [], "all changes reverted");
      assert.equal(report.schema.compared.source.policy, 1);
      assert.equal(report.schema.compared.target["large object"], 1);
    });
  });

  describe("faults mid-restore: the target stays exactly as it was, no scratch left", () => {
    let env: NodeJS.ProcessEnv;
    let live: Record<string, string>;
    // Made in before(), not at load time: a skipped or filtered suite must not leave it behind.
    let tempDir: string;

    before(async () => {
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-adv-tmp-"));
      env = envFor();
      await backup({ name: "bulk_adhoc", url: pg.url("bulk"), env, log: quiet });
      await pg.createDatabase("live");
      await pg.query(
        "live",
        "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old live data');",
      );
      live = await fingerprint(pg, "live");
    });

    after(() => {
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    });

    async function assertUntouched(what: string) {
      assert.deepEqual(await fingerprint(pg, "live"), live, `${what}: live changed`);
      assert.deepEqual(await scratchDatabases(pg), [], `${what}: scratch database left behind`);
      assert.deepEqual(fs.readdirSync(tempDir), [], `${what}: temp files left behind`);
      const conn = await pg.query(
        "postgres",
        "SELECT datallowconn FROM pg_database WHERE datname = 'live'",
      );
      assert.deepEqual(conn.rows, [{ datallowconn: true }], `${what}: live still connectable`);
    }

    it("(a) storage halted during the download", async () => {
      const store = new Azurite();
      await store.start();
      try {
        const storeEnv = envFor(store.connectionString);
        await backup({ name: "bulk_for_outage", url: pg.url("bulk"), env: storeEnv, log: quiet });
        let halted: Promise<void> | undefined;
        const progressMs = process.env.PG_RECOVERY_PROGRESS_MS;
        process.env.PG_RECOVERY_PROGRESS_MS = "0"; // a progress line per downloaded chunk
        try {
          await assert.rejects(
            restore({
              name: "bulk_for_outage",
              url: pg.url("live"),
              confirm: "127.0.0.1/live",
              env: storeEnv,
              tempDir,
              jobs: 1,
              storage: { ...fastRetry, blockSize: 64 * 1024 },
              log: (line) => {
                if (/downloaded/.test(line) && !halted) halted = store.halt();
              },
            }),
            /downloading bulk_for_outage\.dump failed/,
          );
        } finally {
          if (progressMs === undefined) delete process.env.PG_RECOVERY_PROGRESS_MS;
          else process.env.PG_RECOVERY_PROGRESS_MS = progressMs;
        }
        assert.ok(halted, "storage was halted mid-download");
        await halted;
        await assertUntouched("storage outage");
      } finally {
        await store.stop();
      }
    });

    it("(b) pg_restore killed mid-load", async () => {
      let child: ChildProcess | undefined;
      const killed = (async () => {
        await waitFor(pg, PG_RESTORE_COPYING, "pg_restore to start copying");
        child!.kill("SIGKILL");
      })();
      await assert.rejects(
        restore({
          name: "bulk_adhoc",
          url: pg.url("live"),
          confirm: "127.0.0.1/live",
          env,
          tempDir,
          jobs: 1,
          log: quiet,
          onLoadStarted: (c) => (child = c),
        }),
        /pg_restore was killed by SIGKILL/,
      );
      await killed;
      await assertUntouched("pg_restore killed");
    });

    it("(c) --confirm into a live database, loading fails partway (a role the target lacks)", async () => {
      // A GRANT to a role that exists where the backup was taken but not on the target server
      // (a new or revived server without the app's roles): pg_restore fails in post-data, after
      // every table was loaded.
      await pg.query("bulk", "CREATE ROLE adv_reporting; GRANT SELECT ON a_small TO adv_reporting");
      await backup({ name: "bulk_with_grant", url: pg.url("bulk"), env, log: quiet });
      await pg.query(
        "bulk",
        "REVOKE SELECT ON a_small FROM adv_reporting; DROP ROLE adv_reporting",
      );
      const session = new Client({ connectionString: pg.url("live") });
      await session.connect();
      try {
        await assert.rejects(
          restore({
            name: "bulk_with_grant",
            url: pg.url("live"),
            confirm: "127.0.0.1/live",
            env,
            tempDir,
            log: quiet,
          }),
          /role "adv_reporting" does not exist/,
        );
        // The application's session was never cut off.
        assert.deepEqual((await session.query("SELECT v FROM marker")).rows, [
          { v: "old live data" },
        ]);
      } finally {
        await session.end();
      }
      await assertUntouched("failed load");
    });

    it("(d) SIGTERM to the CLI mid-load: target untouched, partial copy dropped, rerun succeeds", async () => {
      const cliEnv = { ...env, DATABASE_URL: pg.url("live"), PG_RECOVERY_TMPDIR: tempDir };
      const args = [
        "restore",
        "--name",
        "bulk_adhoc",
        "--confirm",
        "127.0.0.1/live",
        "--jobs",
        "1",
      ];
      const cli = spawn(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "datapath/cli.ts", ...args],
        { cwd: ROOT, env: cliEnv, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      cli.stderr!.on("data", (d) => (stderr += d));
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        cli.once("exit", (code, signal) => resolve([code, signal])),
      );
      await waitFor(pg, PG_RESTORE_COPYING, "the CLI's pg_restore to start copying");
      cli.kill("SIGTERM");
      const [code, signal] = await exited;
      assert.ok(code !== 0, `the CLI must not report success (code ${code}, signal ${signal})`);
      assert.match(stderr, /SIGTERM received/);
      // No orphaned pg_restore still loading into a database nobody will use.
      await waitFor(
        pg,
        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_restore')",
        "pg_restore sessions to end",
        5_000,
      );
      await assertUntouched("SIGTERM");
      const rerun = await execFileAsync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "datapath/cli.ts", ...args],
        { cwd: ROOT, env: cliEnv },
      );
      assert.match(rerun.stdout, /restore of bulk_adhoc into 127\.0\.0\.1\/live: complete/);
      const swapped = await verifyDatabases({ source: pg.url("bulk"), target: pg.url("live") });
      assert.deepEqual(differences(swapped), []);
    });
  });

  describe("faults mid-backup", () => {
    it("source connection dropped (pg_terminate_backend of pg_dump) mid-dump: nothing complete, name reusable", async () => {
      const env = envFor();
      // Deterministic "mid-dump": pg_dump is frozen (SIGSTOP) as it announces the first table's
      // data, with the big table still to come; its backend is ended; then it runs on into the
      // dropped connection. (Waiting for uploaded bytes raced a fast dump to the finish, and a
      // held table lock parks the tool's own catalog queries before pg_dump even starts.)
      let terminated: { rows: { pg_terminate_backend: boolean }[] } | undefined;
      let frozen: Promise<void> | undefined;
      const dumping = backup({
        name: "bulk_dropped",
        url: pg.url("bulk"),
        env,
        log: quiet,
        jobs: 1,
        onDumpStarted: (child) => {
          child.stderr?.on("data", (d: Buffer) => {
            if (frozen || !/dumping contents of table "public\.a_small"/.test(String(d))) return;
            child.kill("SIGSTOP");
            frozen = (async () => {
              try {
                terminated = (await pg.query(
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
      const again = await backup({ name: "bulk_dropped", url: pg.url("bulk"), env, log: quiet });
      assert.equal(again.name, "bulk_dropped");
      assert.deepEqual(
        (await listBackups({ env })).map((e) => [e.name, e.status]),
        [["bulk_dropped", "complete"]],
      );
    });
  });
});
