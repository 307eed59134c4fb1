/**
 * The merge-join of promote's comparison is only right if this process orders keys exactly as
 * the servers do: checked against PostgreSQL's own ORDER BY on awkward values. Plus the small
 * pure pieces: table names as typed, the incident schema's name.
 */
import assert from "node:assert/strict";
import { Instant, parseRfc3339 } from "../../../contract/time";
import { compareCodePoints, compareKeys } from "../../../datapath/promote/compare";
import { incidentTag, keepSchemaName } from "../../../datapath/promote/promote";
import {
  formatTableName,
  matchTableName,
  parseTableName,
  splitTableList,
  TableNameError,
} from "../../../contract/table-names";
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

  it("reads table names as the plan prints them: case kept, quotes keep dots, commas and case", () => {
    const q = (text: string) => ({ text, quoted: true });
    const b = (text: string) => ({ text, quoted: false });
    assert.deepEqual(parseTableName("public.__EFMigrationsHistory"), {
      schema: b("public"),
      table: b("__EFMigrationsHistory"),
    });
    assert.deepEqual(parseTableName(" users "), { table: b("users") });
    assert.deepEqual(parseTableName('"My Schema"."A.b""c"'), {
      schema: q("My Schema"),
      table: q('A.b"c'),
    });
    for (const bad of ["a.b.c", "public.", '"open', 'pub"lic.x', '"a"b.c', "public. users", ""]) {
      assert.throws(() => parseTableName(bad), TableNameError, bad);
    }
    assert.deepEqual(splitTableList('public.a, "x,y".b ,c'), ["public.a", '"x,y".b', "c"]);
    // Printed names read back as the same table.
    for (const [schema, name, printed] of [
      ["public", "__EFMigrationsHistory", "public.__EFMigrationsHistory"],
      ["My Schema", 'A.b"c', '"My Schema"."A.b""c"'],
      ["public", "a,b", 'public."a,b"'],
    ]) {
      assert.equal(formatTableName(schema, name), printed);
      const t = parseTableName(printed);
      assert.deepEqual([t.schema!.text, t.table.text], [schema, name]);
    }
  });

  it("matches the exact spelling first, then ignoring case when unique; quotes match exactly", () => {
    const tables = [
      { schema: "public", name: "__EFMigrationsHistory" },
      { schema: "public", name: "Users" },
      { schema: "public", name: "users" },
      { schema: "Billing", name: "Invoices" },
    ];
    const find = (typed: string) => {
      const m = matchTableName(parseTableName(typed), tables);
      return m.kind === "found"
        ? m.table.name
        : m.kind === "ambiguous"
          ? `ambiguous ${m.candidates.map((c) => c.name).join("/")}`
          : `none ${m.nearly.map((c) => c.name).join("/")}`;
    };
    assert.equal(find("public.__EFMigrationsHistory"), "__EFMigrationsHistory");
    assert.equal(find("public.__efmigrationshistory"), "__EFMigrationsHistory");
    assert.equal(find('public."__EFMigrationsHistory"'), "__EFMigrationsHistory");
    assert.equal(find('public."__efmigrationshistory"'), "none __EFMigrationsHistory");
    assert.equal(find("public.Users"), "Users");
    assert.equal(find("users"), "users");
    assert.equal(find("public.USERS"), "ambiguous Users/users");
    assert.equal(find("billing.invoices"), "Invoices");
    assert.equal(find("invoices"), "Invoices");
    assert.equal(find("public.nope"), "none ");
  });

  it("names the incident schema from --incident, or from the restore target", () => {
    assert.equal(keepSchemaName("2024-07-24"), "pgr_2024_07_24_replaced");
    assert.equal(keepSchemaName("INC 42/b"), "pgr_inc_42_b_replaced");
    assert.ok(Buffer.byteLength(keepSchemaName("x".repeat(200))) <= 63);
    const t: Instant = parseRfc3339("2024-07-24T06:59:00.25+01:00");
    assert.equal(incidentTag(t), "20240724t055900z");
  });
});
