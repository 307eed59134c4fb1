/**
 * CursorStream (datapath/promote/compare.ts) keeps its session to one query at a time, as
 * PostgreSQL runs them (node-postgres queues a second one, and pg@9 will refuse it): a close()
 * while the cursor's DECLARE is still running, as when the other side of a comparison fails
 * first, waits for it and for the FETCH that follows before sending CLOSE.
 */
import assert from "node:assert/strict";
import type { Client } from "pg";
import { CursorStream } from "../../../datapath/promote/compare";

/** A session that answers each query after `ms`, recording them and how many ran at once. */
function slowSession(ms: number) {
  const sent: string[] = [];
  let running = 0;
  let most = 0;
  const session = {
    async query(q: string | { text: string }) {
      const text = typeof q === "string" ? q : q.text;
      sent.push(text.split(" ")[0]);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return { rows: [] };
    },
  };
  return { session, sent, most: () => most };
}

describe("CursorStream: one query at a time on its session", () => {
  it("close() during the DECLARE waits for it and the FETCH after it, then closes", async () => {
    const s = slowSession(20);
    // The fake has the one method CursorStream calls.
    const stream = new CursorStream(s.session as unknown as Client, "SELECT 1", 10);
    const first = stream.next();
    await stream.close();
    assert.equal(await first, null);
    assert.deepEqual(s.sent, ["DECLARE", "FETCH", "CLOSE"]);
    assert.equal(s.most(), 1);
  });

  it("close() of a stream never read sends nothing", async () => {
    const s = slowSession(1);
    await new CursorStream(s.session as unknown as Client, "SELECT 1").close();
    assert.deepEqual(s.sent, []);
  });
});
