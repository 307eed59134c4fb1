/**
 * merge's fetch of only the rows live lacks (datapath/promote/missing.ts) against two real
 * PostgreSQL servers, with a tiny bound so every table spans several chunks: the staged rows are
 * exactly the rows at T whose key live lacks, before live's first key, between chunks and after
 * its last, for an integer key (by masks of both sides' keys, or by live's keys when they are too
 * sparse for masks) and a composite text key with quotes, commas and braces.
 */
import assert from "node:assert/strict";
import { Client } from "pg";
import { readModel, TableModel } from "../../../datapath/promote/catalog";
import { stageMissingOnly } from "../../../datapath/promote/missing";
import { usePair } from "./fixture";

const TABLES = `
CREATE TABLE plain (id bigint PRIMARY KEY, note text);
INSERT INTO plain SELECT g, 'n' || g FROM generate_series(1, 200) g;
INSERT INTO plain VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max');
CREATE TABLE pairs (region text, code text, n int NOT NULL, PRIMARY KEY (region, code));
INSERT INTO pairs SELECT 'r' || (g % 3), 'c"' || g || ',{}' || chr(92) || '''', g FROM generate_series(1, 200) g;
CREATE TABLE sparse (id integer PRIMARY KEY, note text);
INSERT INTO sparse SELECT g * 1000 - 100000, 'n' || g FROM generate_series(1, 200) g;`;

/** Rows deleted on live: the first, a run across chunk bounds, scattered ones, the last. */
const DAMAGE = `
DELETE FROM plain WHERE id IN (1, 2, 50, 51, 52, 53, 54, 55, 56, 57, 58, 99, 150, 199, 200);
DELETE FROM plain WHERE id IN (-9223372036854775808, 9223372036854775807); -- bit 0 and bit 63
DELETE FROM pairs WHERE n IN (3, 4, 5, 77, 131, 132, 133, 134, 135, 136, 137, 138, 200);
DELETE FROM sparse WHERE id IN (-99000, -1000, 0, 1000, 57000, 100000);
INSERT INTO plain VALUES (1000, 'added after T');`;

interface Sessions {
  ptr: Client;
  live: Client;
  /** `table` as at T (the PTR's catalog). */
  t: TableModel;
}

describe("merge: only the rows live lacks come from the PTR, chunk by chunk", function () {
  this.timeout(60_000);
  const pair = usePair();

  /**
   * A fresh pair with `damage` done on live; then `fn` with a PTR session in its snapshot, a live
   * session in a transaction and an empty staging table `pg_temp.stage` shaped like `table`.
   */
  async function staging(
    damage: string,
    table: string,
    fn: (s: Sessions, db: string) => Promise<void>,
  ): Promise<void> {
    const db = await pair.fresh(TABLES);
    await pair.live.query(db, damage);
    const ptr = new Client({ connectionString: pair.ptr.url(db) });
    const live = new Client({ connectionString: pair.live.url(db) });
    await Promise.all([ptr.connect(), live.connect()]);
    try {
      await ptr.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await live.query("BEGIN");
      const t = (await readModel(ptr)).tables.get(`public.${table}`)!;
      await live.query(`CREATE TEMP TABLE stage AS SELECT * FROM ${table} WITH NO DATA`);
      await fn({ ptr, live, t }, db);
    } finally {
      await Promise.all([ptr.end(), live.end()]);
    }
  }

  for (const [table, key, chunk, atT, lacking, now] of [
    // An integer key: masks of both sides' keys; the 17 missing keys (the smallest and largest
    // bigint among them) asked for 7 at a time; live also has one row added after T.
    ["plain", "id", 7, 202, 17, 186],
    // Keys too sparse for masks (one key per 1,000): live's keys go, 5 a chunk.
    ["sparse", "id", 5, 200, 6, 194],
    // A composite text key: the keys go, 5 a chunk.
    ["pairs", "n", 5, 200, 13, 187],
  ] as const) {
    it(`${table}, bound ${chunk}`, () =>
      staging(DAMAGE, table, async ({ ptr, live, t }, db) => {
        let bytes = 0;
        const counts = await stageMissingOnly(
          { ptr, live },
          t,
          "pg_temp.stage",
          (n) => void (bytes += n),
          chunk,
        );
        assert.deepEqual(counts, { atT, staged: lacking, live: now });
        const staged = await live.query<{ k: number }>(`SELECT ${key} AS k FROM stage ORDER BY 1`);
        const expected = await pair.ptr.query(db, `SELECT ${key} AS k FROM ${table} ORDER BY 1`);
        const kept = new Set(
          (await live.query<{ k: number }>(`SELECT ${key} AS k FROM ${table}`)).rows.map(
            (r) => r.k,
          ),
        );
        assert.deepEqual(
          staged.rows.map((r) => r.k),
          expected.rows.map((r) => r.k as number).filter((k) => !kept.has(k)),
        );
        assert.ok(bytes > 0);
      }));
  }

  it("stages nothing and says so when live has lost more than the share (the whole table is staged then)", () =>
    staging("DELETE FROM plain WHERE id > 100", "plain", async ({ ptr, live, t }) => {
      assert.equal(
        await stageMissingOnly({ ptr, live }, t, "pg_temp.stage", () => undefined, 7),
        undefined,
      );
      assert.equal((await live.query("SELECT count(*)::int AS n FROM stage")).rows[0].n, 0);
    }));
});
