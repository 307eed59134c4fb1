/**
 * The drill in a short mode: a real primary with WAL archiving, a base backup, a corruption and
 * a point-in-time restore to T, all checked. About 10 s.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { runDrill } from "../tools/drill";

describe("drill (corrupted scenario, short)", function () {
  this.timeout(120_000);

  it("restores to T: rows at T present, nothing after T, corruption gone", async () => {
    const lines: string[] = [];
    const r = await runDrill({ seconds: 2, log: (l) => lines.push(l) });
    const out = lines.join("\n");
    assert.ok(r.ok, out);
    // The README promises nine checks; every one ran and passed.
    assert.equal(r.checks.length, 9, out);
    assert.deepEqual(
      r.checks.filter((c) => !c.ok).map((c) => c.name),
      [],
    );
    assert.match(r.restoreTarget, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    assert.ok(r.transactions.beforeT > 20 && r.transactions.afterT > 0, out);
    // The newest preserved commit is at or before T (nothing after T survives), and recent: the
    // writer commits every few ms up to its 150 ms pause before T. Commit times are logged by the
    // client after the server answers, so under load one can land closer to T than the pause
    // (96 ms seen in CI): the bound is behaviour, not speed.
    assert.ok(r.rpoMs >= 0 && r.rpoMs < 5000, `RPO ${r.rpoMs} ms`);
    assert.match(out, /DRILL PASSED/);
    assert.ok(!fs.existsSync(r.dir), "work dir left behind");
  });
});
