/**
 * verify --drill (datapath/verify/drill.ts) against real PostgreSQL, live and the drill being two
 * databases of one server: when live's definition of a table moved on since the restore target
 * (a column added or dropped by a migration), the schema check names it and the table's rows are
 * still compared, on the columns both have, instead of the whole verify failing on a column one
 * side lacks.
 */
import assert from "node:assert/strict";
import type { DrillCheck } from "../../../contract/drill-check";
import { verifyDrill } from "../../../datapath/verify/drill";
import { PgServer, startPostgres } from "../../support/postgres";

const RESTORE_TARGET = "2025-06-01T12:00:00Z";

/** orders as at the restore target: 20 rows, the last written an hour before it. */
const AT_T = `
CREATE TABLE orders (id int PRIMARY KEY, note text, created_at timestamptz NOT NULL);
INSERT INTO orders
SELECT g, 'order ' || g, timestamptz '2025-06-01 11:00+00' - g * interval '1 minute'
  FROM generate_series(1, 20) g;`;

describe("verify --drill when live's table definition moved on since the restore target", function () {
  this.timeout(60_000);
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.stop());

  const drillOf = async (name: string, live: string, drill: string): Promise<DrillCheck[]> => {
    await pg.createDatabase(`${name}_live`);
    await pg.createDatabase(`${name}_drill`);
    await pg.query(`${name}_live`, `${AT_T}\n${live}`);
    await pg.query(`${name}_drill`, `${AT_T}\n${drill}`);
    return verifyDrill({
      source: { url: pg.url(`${name}_live`) },
      target: { url: pg.url(`${name}_drill`) },
      restoreTarget: RESTORE_TARGET,
    });
  };
  const check = (checks: DrillCheck[], name: string) => checks.find((c) => c.check === name)!;

  for (const [how, live, drill, lacks] of [
    [
      "a write-time column the drill has and live dropped",
      "",
      "ALTER TABLE orders ADD COLUMN updated_at timestamptz; UPDATE orders SET updated_at = created_at;",
      "live lacks updated_at",
    ],
    [
      "a column live added since",
      "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';",
      "",
      "the drill lacks status",
    ],
  ] as const) {
    it(`${how}: the schema fails, the rows are compared on the shared columns`, async () => {
      const checks = await drillOf(how.includes("added") ? "added" : "dropped", live, drill);
      assert.equal(check(checks, "schema").outcome, "failed");
      const rows = check(checks, "rows public.orders");
      assert.equal(rows.outcome, "passed", rows.detail);
      assert.match(rows.detail, /^equal up to the restore target \(20 rows\)/);
      assert.ok(
        rows.detail.includes(`compared on the 3 columns both have (${lacks})`),
        rows.detail,
      );
      assert.equal(check(checks, "verify").outcome, "failed");
    });
  }

  it("a row that differs on a shared column still fails the table's check", async () => {
    const checks = await drillOf(
      "differs",
      "ALTER TABLE orders ADD COLUMN status text; UPDATE orders SET note = 'changed' WHERE id = 3;",
      "",
    );
    const rows = check(checks, "rows public.orders");
    assert.equal(rows.outcome, "failed", rows.detail);
    assert.match(rows.detail, /^1 of the 20 rows live wrote up to the restore target/);
  });
});
