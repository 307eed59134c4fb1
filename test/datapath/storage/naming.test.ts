/** Blob and database names derived from backup names. */
import * as assert from "node:assert/strict";
import {
  normaliseBackupName,
  parseBlobName,
  restoreDatabaseNames,
} from "../../../datapath/storage/naming";

describe("datapath naming", () => {
  it("maps blobs back to backups", () => {
    assert.deepEqual(parseBlobName("a.manifest.json"), { name: "a", kind: "manifest" });
    assert.deepEqual(parseBlobName("ptt_pd_2024-07-24.sql.gz"), {
      name: "ptt_pd_2024-07-24",
      kind: "legacy",
    });
    assert.equal(parseBlobName("notes.txt"), undefined);
    assert.equal(normaliseBackupName("ptt_pd_2024-07-24.sql.gz"), "ptt_pd_2024-07-24");
  });

  it("derives deterministic restore database names that fit in 63 bytes", () => {
    const a = restoreDatabaseNames("ptt_production", "ptt_pd_adhoc_2024-07-24");
    assert.deepEqual(a, restoreDatabaseNames("ptt_production", "ptt_pd_adhoc_2024-07-24"));
    assert.match(a.scratch, /^ptt_production_restore_[0-9a-f]{8}$/);
    assert.match(a.kept, /^ptt_production_pre_restore_[0-9a-f]{8}$/);
    const long = restoreDatabaseNames("d".repeat(63), "b");
    assert.equal(Buffer.byteLength(long.kept), 63);
    assert.match(long.kept, /^d+_pre_restore_[0-9a-f]{8}$/);
    assert.ok(Buffer.byteLength(long.scratch) <= 63);
  });
});
