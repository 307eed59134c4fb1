/**
 * The data tool "as a new user would" use it: a schema the other tests have not seen (what a
 * Rails app or an operator may have), round-tripped, and verify catching one changed value in
 * it. Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import { Client } from "pg";
import { backup } from "../../datapath/backup/backup";
import { restore } from "../../datapath/restore/restore";
import { verifyDatabases } from "../../datapath/verify/verify";
import { contentFingerprint, differences, quiet, useDataPath } from "../support/datapath";
import { EXOTIC_SCHEMA, seeded } from "../support/datapath-schemas";

describe("datapath round trip of an unseen, exotic schema", function () {
  this.timeout(60_000);
  const fx = useDataPath("exo", seeded("exotic", EXOTIC_SCHEMA));

  let env: NodeJS.ProcessEnv;

  before(async () => {
    ({ env } = fx.setup());
    await backup({ name: "exotic_adhoc", url: fx.pg.url("exotic"), env, log: quiet });
    await restore({ name: "exotic_adhoc", url: fx.pg.url("exotic_copy"), env, log: quiet });
  });

  it("round-trips: verify reports zero differences, and what verify does not compare survives too", async () => {
    const report = await verifyDatabases({
      source: fx.pg.url("exotic"),
      target: fx.pg.url("exotic_copy"),
    });
    assert.deepEqual(differences(report), []);
    assert.equal(report.tables.find((t) => t.table === "ops.sessions")?.target?.rows, 100);
    assert.equal(report.tables.find((t) => t.table === "ops.event_log")?.target?.rows, 58);
    assert.deepEqual(
      await contentFingerprint(fx.pg, "exotic_copy"),
      await contentFingerprint(fx.pg, "exotic"),
    );
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
      ["exotic", "exotic_copy"].map(async (db) => (await fx.pg.query(db, facts)).rows[0]),
    );
    assert.deepEqual(dst, src);
    assert.deepEqual([src.rls, src.persistence, src.populated, src.los], [true, "u", false, 2]);
    // The identity keeps its custom options and position: the next id is the same on both.
    const next = `INSERT INTO "Billing"."Invoices" ("Code", net_pence, qty) VALUES ('ZZ999', 1, 1) RETURNING "Id"`;
    const [a, b] = await Promise.all(["exotic_copy", "exotic"].map((db) => fx.pg.query(db, next)));
    assert.equal(a.rows[0].Id, b.rows[0].Id);
    await Promise.all(
      ["exotic_copy", "exotic"].map((db) =>
        fx.pg.query(db, `DELETE FROM "Billing"."Invoices" WHERE "Code" = 'ZZ999'`),
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
    const c = new Client({ connectionString: fx.pg.url("exotic_copy") });
    await c.connect();
    try {
      // The touch trigger would also change updated_at: keep each change to one value.
      await c.query("SET session_replication_role = replica");
      for (const [table, change, revert, what] of changes) {
        assert.equal((await c.query(change)).rowCount, 1, what);
        const report = await verifyDatabases({
          source: fx.pg.url("exotic"),
          target: fx.pg.url("exotic_copy"),
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
      source: fx.pg.url("exotic"),
      target: fx.pg.url("exotic_copy"),
    });
    assert.deepEqual(differences(report), [], "all changes reverted");
  });

  it("verify also compares row-level security, policies and large objects", async () => {
    const check = async (change: string, revert: string, expected: string[]) => {
      await fx.pg.query("exotic_copy", change);
      try {
        const report = await verifyDatabases({
          source: fx.pg.url("exotic"),
          target: fx.pg.url("exotic_copy"),
        });
        assert.deepEqual(differences(report), expected, change);
      } finally {
        await fx.pg.query("exotic_copy", revert);
      }
    };
    const lo = (
      await fx.pg.query("exotic_copy", "SELECT min(oid)::int AS o FROM pg_largeobject_metadata")
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
      source: fx.pg.url("exotic"),
      target: fx.pg.url("exotic_copy"),
    });
    assert.deepEqual(differences(report), [], "all changes reverted");
    assert.equal(report.schema.compared.source.policy, 1);
    assert.equal(report.schema.compared.target["large object"], 1);
  });
});
