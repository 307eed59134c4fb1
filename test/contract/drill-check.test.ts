/** The drill's check lines: written by the data tool, read back by the runner from mixed logs. */
import * as assert from "node:assert/strict";
import { checkLine, drillInvocations, parseCheckLines } from "../../contract/drill-check";
import { buildArgv, parseArgv } from "../../contract/data-tool";

describe("contract: drill check lines", () => {
  it("reads back what checkLine wrote, among progress lines and behind a log prefix", () => {
    const log = [
      "verify --drill: reading schema",
      checkLine("schema", "passed", "identical"),
      `[drill-verify/verify] ${checkLine("recency", "failed", "rows after T", { drillNewest: null })}`,
      '{"drillCheck":1,"check":"x","outcome":"maybe","detail":"bad outcome"}',
      '{"drillCheck":1,"check":"cut',
    ].join("\n");
    assert.deepEqual(parseCheckLines(log), [
      { drillCheck: 1, check: "schema", outcome: "passed", detail: "identical" },
      {
        drillCheck: 1,
        check: "recency",
        outcome: "failed",
        detail: "rows after T",
        figures: { drillNewest: null },
      },
    ]);
  });

  it("the drill's invocations parse back, and the restore always names the drill's host and database", () => {
    const run = drillInvocations({
      drillHost: "x-drill.example",
      restoreTarget: "2026-11-25T09:00:00Z",
    });
    for (const inv of [run.verify, run.restore]) {
      const back = parseArgv(buildArgv(inv) as string[]);
      assert.deepEqual(back.options, inv.options);
    }
    assert.equal(run.restore.options.dbHost, "x-drill.example");
    assert.equal(run.restore.options.dbName, "pgr_drill_restore");
  });
});
