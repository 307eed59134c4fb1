/** Backup names, as the overlay builds them and the data tool checks them. */
import * as assert from "node:assert/strict";
import { backupNameProblem, incidentBackupNames, isoDay } from "../../contract/backup-names";

describe("contract backup names", () => {
  it("builds the runbook's names from a UTC day", () => {
    const d = new Date("2024-07-24T23:30:00-01:00"); // already the 25th in UTC
    assert.deepEqual(incidentBackupNames("pd", "2024-07-24"), {
      adhoc: "ptt_pd_adhoc_2024-07-24",
      restoredCopy: "ptt_pd_2024-07-24-restore-to-ptr",
    });
    assert.equal(incidentBackupNames("qa", isoDay(d)).adhoc, "ptt_qa_adhoc_2024-07-25");
    assert.throws(() => incidentBackupNames("pd", "2024-02-30"), /invalid date/);
    assert.throws(() => incidentBackupNames("PD prod", "2024-07-24"), /short name/);
  });

  it("accepts the runbook's names and refuses paths, flags and file suffixes", () => {
    for (const ok of ["ptt_pd_adhoc_2024-07-24", "ptt_pd_2024-07-24-restore-to-ptr", "x"]) {
      assert.equal(backupNameProblem(ok), undefined, ok);
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
  });
});
