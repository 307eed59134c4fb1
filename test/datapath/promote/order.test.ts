/**
 * The merge-join of promote's comparison is only right if this process orders keys exactly as
 * the servers do: checked against PostgreSQL's own ORDER BY on awkward values. Plus the small
 * pure pieces: table names as typed, the incident schema's name.
 */
import assert from "node:assert/strict";
import { Instant, parseRfc3339 } from "../../../contract/time";
import { compareCodePoints, compareKeys } from "../../../datapath/promote/compare";
import { incidentTag, keepSchemaName } from "../../../datapath/promote/promote";
import { parseTableName, PromoteRefusedError } from "../../../datapath/promote/selection";
import { PgServer, startPostgres } from "../../support/postgres";

describe("promote: key order and names", function () {
  this.timeout(60_000);
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  it("orders text keys as PostgreSQL's C collation does, astral characters included", async () => {
    const values = [
      "",
      "a",
      "A",
      "ab",
      "a b",
      "Z",
      "z",
      "é",
      "e\u0301",
      "日本",
      "\uffff",
      "\ue000x",
      "🐘",
      "🐘a",
      "\ud7ff",
      "~",
      "10",
      "9",
      "-1",
    ];
    const r = await pg.query(
      "postgres",
      `SELECT v FROM unnest($1::text[]) v ORDER BY v COLLATE "C"`,
      [values],
    );
    const server = r.rows.map((x: { v: string }) => x.v);
    const here = [...values].sort(compareCodePoints);
    assert.deepEqual(here, server);
  });

  it("orders integer keys numerically, negatives first, and composite keys column by column", async () => {
    const ints = [
      "10",
      "9",
      "-1",
      "-10",
      "0",
      "9223372036854775807",
      "-9223372036854775808",
      "100",
    ];
    const r = await pg.query(
      "postgres",
      "SELECT v::text AS t FROM unnest($1::int8[]) v ORDER BY v",
      [ints],
    );
    const server = r.rows.map((x: { t: string }) => x.t);
    assert.deepEqual(
      [...ints].sort((a, b) => compareKeys([a], [b], ["int"])),
      server,
    );
    assert.ok(compareKeys(["1", "b"], ["1", "a"], ["int", "text"]) > 0);
    assert.ok(compareKeys(["1", "b"], ["2", "a"], ["int", "text"]) < 0);
    assert.equal(compareKeys(["7", "x"], ["7", "x"], ["int", "text"]), 0);
  });

  it("reads table names as SQL does: unquoted folds to lower case, quotes keep dots and case", () => {
    assert.deepEqual(parseTableName("public.Users"), { schema: "public", table: "users" });
    assert.deepEqual(parseTableName("users"), { table: "users" });
    assert.deepEqual(parseTableName('"My Schema"."A.b""c"'), {
      schema: "My Schema",
      table: 'A.b"c',
    });
    assert.throws(() => parseTableName("a.b.c"), PromoteRefusedError);
    assert.throws(() => parseTableName("public."), PromoteRefusedError);
    assert.throws(() => parseTableName('"open'), PromoteRefusedError);
  });

  it("names the incident schema from --incident, or from the restore target", () => {
    assert.equal(keepSchemaName("2024-07-24"), "pgr_2024_07_24_replaced");
    assert.equal(keepSchemaName("INC 42/b"), "pgr_inc_42_b_replaced");
    assert.ok(Buffer.byteLength(keepSchemaName("x".repeat(200))) <= 63);
    const t: Instant = parseRfc3339("2024-07-24T06:59:00.25+01:00");
    assert.equal(incidentTag(t), "20240724t055900z");
  });
});
