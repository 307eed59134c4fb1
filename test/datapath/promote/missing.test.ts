/**
 * merge's fetch of only the rows live lacks (datapath/promote/missing.ts) against two real
 * PostgreSQL servers, with a tiny bound so every table spans several chunks: the staged rows are
 * exactly the rows at T whose key live lacks, before live's first key, between chunks and after
 * its last, for an integer key (by live's gaps, or by its keys when the gaps are too many) and a
 * composite text key with quotes, commas and braces.
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
INSERT INTO pairs SELECT 'r' || (g % 3), 'c"' || g || ',{}' || chr(92) || '''', g FROM generate_series(1, 200) g;`;

/** Rows deleted on live: the first, a run across chunk bounds, scattered ones, the last. */
const DAMAGE = `
DELETE FROM plain WHERE id IN (1, 2, 50, 51, 52, 53, 54, 55, 56, 57, 58, 99, 150, 199, 200);
DELETE FROM pairs WHERE n IN (3, 4, 5, 77, 131, 132, 133, 134, 135, 136, 137, 138, 200);
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

  for (const [table, key, chunk] of [
    // An integer key: live's 4 gaps go to the PTR, not its keys.
    ["plain", "id", 7],
    // More gaps than the bound (sparse keys): the keys go, 2 a chunk.
    ["plain", "id", 2],
    // A composite text key: the keys go, 5 a chunk.
    ["pairs", "n", 5],
  ] as const) {
    it(`${table}, bound ${chunk}`, () =>
      staging(DAMAGE, table, async ({ ptr, live, t }, db) => {
        let bytes = 0;
        const atT = await stageMissingOnly(
          { ptr, live },
          t,
          "pg_temp.stage",
          (n) => void (bytes += n),
          chunk,
        );
        assert.equal(atT, table === "plain" ? 202 : 200);
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
