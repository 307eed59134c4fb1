/**
 * The psql-to-psql pipe `whole` copies big tables with (datapath/promote/source.ts), against two
 * real PostgreSQL servers: rows arrive and are counted, and each way it can fail (live refuses a
 * row, the PTR side fails, either session is killed mid-stream) rejects with the side's own error
 * instead of hanging or reporting success.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { parsePgUrl } from "../../../datapath/postgres/connection";
import { pipeFromPtr, SourceOptions } from "../../../datapath/promote/source";
import { killSessions, scalar, usePair } from "./fixture";

/** Rows enough for the copy to be still running when a test kills one side. */
const MANY = 20_000_000;

describe("the psql-to-psql pipe of a big table's rows", function () {
  this.timeout(120_000);
  const pair = usePair();

  async function pipe(
    db: string,
    out: string,
    onStart?: (children: ChildProcess[]) => void,
  ): Promise<number> {
    const env = pair.env(db);
    const source: SourceOptions = {
      ptr: parsePgUrl(env.PTR_URL!),
      env,
      secrets: [],
      settings: { DateStyle: "ISO, YMD" },
    };
    return pipeFromPtr(
      source,
      out,
      {
        live: parsePgUrl(env.LIVE_URL!),
        database: db,
        before: ["TRUNCATE numbers"],
        copySql: "COPY numbers (n) FROM STDIN (FORMAT binary, FREEZE)",
      },
      onStart,
    );
  }

  /** A fresh pair with an empty `numbers` table on live; `check` constrains it. */
  async function fresh(check = "true"): Promise<string> {
    const db = await pair.fresh();
    await pair.live.query(db, `CREATE TABLE numbers (n bigint CHECK (${check}))`);
    return db;
  }

  const count = (db: string) => scalar<string>(pair.live, db, "SELECT count(*)::text FROM numbers");

  it("copies every row and reports live's count", async () => {
    const db = await fresh();
    await pair.live.query(db, "INSERT INTO numbers VALUES (-1)"); // the TRUNCATE removes it
    const rows = await pipe(
      db,
      "COPY (SELECT g::bigint FROM generate_series(1, 100000) g) TO STDOUT (FORMAT binary)",
    );
    assert.equal(rows, 100_000);
    assert.equal(await count(db), "100000");
    assert.equal(
      await scalar(pair.live, db, "SELECT sum(n)::text FROM numbers"),
      String((100_000 * 100_001) / 2),
    );
  });

  it("rejects with live's error when live refuses a row, stops the PTR side, and commits none", async () => {
    // psql on live reads the rest of its input before it reports the error: the watch on its
    // session stops the PTR side instead of letting it send its 20 million rows.
    const db = await fresh("n < 1000");
    const children: ChildProcess[] = [];
    await assert.rejects(
      pipe(
        db,
        `COPY (SELECT g::bigint FROM generate_series(1, ${MANY}) g) TO STDOUT (FORMAT binary)`,
        (started) => children.push(...started),
      ),
      /violates check constraint "numbers_n_check"/,
    );
    const [, ptrSide] = children;
    assert.equal(ptrSide.signalCode, "SIGTERM", "the PTR side was stopped, not run to its end");
    assert.equal(await count(db), "0");
  });

  it("rejects with the PTR side's own error when it fails", async () => {
    const db = await fresh();
    await assert.rejects(
      pipe(db, "COPY no_such_table TO STDOUT (FORMAT binary)"),
      /relation "no_such_table" does not exist/,
    );
  });

  for (const side of ["ptr", "live"] as const) {
    it(`rejects when the ${side} session is killed mid-stream`, async () => {
      const db = await fresh();
      const server = side === "ptr" ? pair.ptr : pair.live;
      const copying = pipe(
        db,
        `COPY (SELECT g::bigint FROM generate_series(1, ${MANY}) g) TO STDOUT (FORMAT binary)`,
      );
      copying.catch(() => undefined);
      // Kill once live's COPY has taken some rows: both ends are then mid-stream.
      for (let i = 0; i < 600; i++) {
        const taken = await scalar<string | null>(
          pair.live,
          "postgres",
          "SELECT max(tuples_processed)::text FROM pg_stat_progress_copy",
        );
        if (Number(taken) > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await killSessions(server, db);
      await assert.rejects(copying, /terminat|server closed|connection|lost/i);
    });
  }
});
