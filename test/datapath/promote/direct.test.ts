/**
 * The direct path of `tables` and `merge` (datapath/promote/direct.ts) against two real
 * PostgreSQL servers: a table that lost most of its rows since T takes its rows at T straight
 * into live, ends as each mode promises, and, where a constraint stops it, the write steps back
 * to the staged path and refuses as the plan said, leaving live as it was.
 */
import assert from "node:assert/strict";
import { fingerprint, killSessions, runPromote, scalar, useIncident } from "./fixture";

/** 20,000 entries at T, with an index, a unique key, a foreign key out and one in. */
const ENTRIES = `
CREATE TABLE entries (
  id bigint PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  ref text NOT NULL UNIQUE,
  amount numeric NOT NULL,
  note text
);
CREATE INDEX entries_user ON entries (user_id);
COMMENT ON INDEX entries_user IS 'by user';
CREATE TABLE entry_links (
  id serial PRIMARY KEY,
  entry_id bigint REFERENCES entries (id) ON DELETE CASCADE
);
INSERT INTO entries SELECT g, 1 + g % 200, 'E' || g, g * 1.5, 'note ' || g FROM generate_series(1, 20000) g;
INSERT INTO entry_links (entry_id) SELECT g FROM generate_series(1, 100) g;`;

/**
 * After T: most entries deleted; of the 1,000 left the first 100 changed; 50 added since T.
 * Live then holds 1,050 rows, 5 % of the 20,000 at T.
 */
const MOSTLY_LOST = `
DELETE FROM entries WHERE id > 1000;
UPDATE entries SET note = 'changed after T' WHERE id <= 100;
INSERT INTO entries SELECT 30000 + g, 1, 'A' || g, 1, 'added after T' FROM generate_series(1, 50) g;`;

/** Definitions of entries' indexes and constraints and those referencing it, with comments. */
const DEFS = `
SELECT string_agg(d, E'\\n' ORDER BY d) FROM (
  SELECT indexname || ': ' || indexdef || ' -- ' ||
         coalesce(obj_description(format('%I', indexname)::regclass, 'pg_class'), '') AS d
    FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('entries', 'entry_links')
  UNION ALL
  SELECT conname || ': ' || pg_get_constraintdef(oid) || ' valid ' || convalidated
    FROM pg_constraint WHERE conrelid IN ('entries'::regclass, 'entry_links'::regclass)) x`;

const DIRECT = /public\.entries \(1050 rows on live\): the rows at T go straight into live/;
const STEPPED_BACK = /comparing the rows at T with live instead/;

/** md5 of the sorted row texts of `entries` matching `where`. */
const rowsOf = (where: string) =>
  `SELECT count(*)::text || ' ' || md5(coalesce(string_agg(e::text, ',' ORDER BY id), ''))
     FROM entries e WHERE ${where}`;

describe("promote (real PostgreSQL): the direct path for a table that lost most of its rows", function () {
  this.timeout(180_000);
  const { pair, incident, write, unchanged, promoteInto } = useIncident();

  it("tables: the rows at T go straight in; the table ends exactly as at T, the replaced rows kept", async () => {
    const db = await incident(MOSTLY_LOST, ENTRIES);
    const defs = await scalar<string>(pair.live, db, DEFS);
    const atT = await fingerprint(pair.ptr.url(db));
    const before = await fingerprint(pair.live.url(db));
    const r = await write(db, "tables", "public.entries", "--incident", "2025-06-01", "--json");
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, DIRECT);
    assert.doesNotMatch(r.err, STEPPED_BACK);
    const result = JSON.parse(r.out);
    assert.deepEqual(
      {
        rowsAtT: result.tables[0].rowsAtT,
        inserted: result.tables[0].inserted,
        updated: result.tables[0].updated,
        deleted: result.tables[0].deleted,
        kept: result.tables[0].kept,
      },
      { rowsAtT: 20000, inserted: 19000, updated: 100, deleted: 50, kept: 150 },
    );
    assert.equal(result.timings.staging, 0);
    assert.equal(result.keepSchema, "pgr_2025_06_01_replaced");
    assert.match(
      result.indexesRebuilt[0],
      /^public\.entries: 19000 rows to insert into 1050 live rows/,
    );
    const after = await fingerprint(pair.live.url(db));
    assert.deepEqual(after.get("public.entries"), atT.get("public.entries"));
    for (const k of ["public.users", "public.posts", "public.comments", "public.entry_links"]) {
      assert.deepEqual(after.get(k), before.get(k), k);
    }
    // The replaced rows: the 100 changed (as live had them) and the 50 added since T.
    assert.equal(
      await scalar(
        pair.live,
        db,
        `SELECT string_agg(note, ',' ORDER BY note) FROM (SELECT DISTINCT note FROM pgr_2025_06_01_replaced.public__entries) x`,
      ),
      "added after T,changed after T",
    );
    assert.equal(await scalar<string>(pair.live, db, DEFS), defs);
    // Truncated before the load: the corruption's dead rows did not stay (without the TRUNCATE
    // the table is about twice its size at T; PostgreSQL 16+ COPY extends a table by several
    // pages at a time, so it may end a little larger than at T).
    const size = "SELECT pg_relation_size('entries')::int";
    const [now, atTSize] = [
      await scalar<number>(pair.live, db, size),
      await scalar<number>(pair.ptr, db, size),
    ];
    assert.ok(now < atTSize * 1.5, `${now} bytes now, ${atTSize} at T`);
    await assert.rejects(
      pair.live.query(db, "INSERT INTO entry_links (entry_id) VALUES (424242)"),
      /entry_links_entry_id_fkey/,
    );
  });

  it("merge: the rows live lacks come back, the rows live kept stay as live has them", async () => {
    const db = await incident(MOSTLY_LOST, ENTRIES);
    const defs = await scalar<string>(pair.live, db, DEFS);
    const liveRows = await scalar<string>(pair.live, db, rowsOf("TRUE"));
    const r = await write(db, "merge", "public.entries", "--json");
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, DIRECT);
    const t = JSON.parse(r.out).tables[0];
    assert.deepEqual([t.rowsAtT, t.inserted, t.updated, t.deleted], [20000, 19000, 0, 0]);
    const lost = "id > 1000 AND id <= 20000";
    assert.equal(
      await scalar<string>(pair.live, db, rowsOf(lost)),
      await scalar<string>(pair.ptr, db, rowsOf(lost)),
    );
    // The 1,050 rows live had, changed and added ones included, are as they were.
    assert.equal(await scalar<string>(pair.live, db, rowsOf(`NOT (${lost})`)), liveRows);
    assert.equal(await scalar<string>(pair.live, db, DEFS), defs);
  });

  it("merge: the table's user rules are off while it writes, so a soft-delete rule does not turn it back", async () => {
    // The app soft-deletes entries by a rule; the corruption went around it. Merge deletes the
    // copies at T of the rows live kept after its load: with the rule on, the DELETE became an
    // UPDATE, the copies stayed and the primary key's rebuild sent the write to the staged path.
    const rule = `CREATE RULE entries_soft_delete AS ON DELETE TO entries
      DO INSTEAD UPDATE entries SET note = 'deleted' WHERE id = OLD.id;`;
    const db = await incident(
      `ALTER TABLE entries DISABLE RULE entries_soft_delete; ${MOSTLY_LOST}
       ALTER TABLE entries ENABLE RULE entries_soft_delete;`,
      ENTRIES + rule,
    );
    const liveRows = await scalar<string>(pair.live, db, rowsOf("TRUE"));
    const r = await write(db, "merge", "public.entries", "--json");
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, DIRECT);
    assert.doesNotMatch(r.err, STEPPED_BACK);
    const result = JSON.parse(r.out);
    assert.deepEqual(result.rulesDisabled, ["public.entries.entries_soft_delete"]);
    const lost = "id > 1000 AND id <= 20000";
    assert.equal(
      await scalar<string>(pair.live, db, rowsOf(lost)),
      await scalar<string>(pair.ptr, db, rowsOf(lost)),
    );
    assert.equal(await scalar<string>(pair.live, db, rowsOf(`NOT (${lost})`)), liveRows);
    assert.equal(
      await scalar(
        pair.live,
        db,
        "SELECT ev_enabled::text FROM pg_rewrite WHERE rulename = 'entries_soft_delete'",
      ),
      "O",
    );
  });

  it("merge: a re-inserted row colliding on a unique key steps back and is refused as planned", async () => {
    // A row added after T takes the ref of row 5000, which merge would bring back.
    const db = await incident(
      `${MOSTLY_LOST} INSERT INTO entries VALUES (40000, 1, 'E5000', 1, 'took a ref');`,
      ENTRIES,
    );
    const before = await fingerprint(pair.live.url(db));
    const plan = await runPromote(pair.env(db), "--plan", "--tables", "public.entries", "--json");
    assert.equal(plan.code, 0, plan.err);
    const refusals: string[] = JSON.parse(plan.out).modes.find(
      (m: { mode: string }) => m.mode === "merge",
    ).refusals;
    assert.equal(refusals.length, 1, refusals.join("\n"));
    assert.match(refusals[0], /^entries_ref_key .*\(5000\) \(E5000\) held by \(40000\)/);
    const r = await write(db, "merge", "public.entries");
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /public\.entries \(1051 rows on live\): the rows at T go straight into live/,
    );
    assert.match(r.err, STEPPED_BACK);
    assert.ok(r.err.includes(`\n  ${refusals[0]}`), r.err);
    await unchanged(db, before);
  });

  it("tables: a cascade outside the chosen tables steps back and is refused as planned", async () => {
    // A link written after T points at an entry added after T: tables would delete both.
    const db = await incident(
      `${MOSTLY_LOST} INSERT INTO entry_links (entry_id) VALUES (30001);`,
      ENTRIES,
    );
    const before = await fingerprint(pair.live.url(db));
    const plan = await runPromote(pair.env(db), "--plan", "--tables", "public.entries", "--json");
    const refusals: string[] = JSON.parse(plan.out).modes.find(
      (m: { mode: string }) => m.mode === "tables",
    ).refusals;
    assert.equal(refusals.length, 1, refusals.join("\n"));
    assert.match(refusals[0], /entry_links_entry_id_fkey/);
    const r = await write(db, "tables", "public.entries");
    assert.equal(r.code, 1);
    assert.match(r.err, DIRECT);
    assert.match(r.err, STEPPED_BACK);
    assert.ok(r.err.includes(`\n  ${refusals[0]}`), r.err);
    await unchanged(db, before);
  });

  it("rolls everything back when the live connection is killed during the direct copy", async () => {
    const db = await incident(MOSTLY_LOST, ENTRIES);
    const before = await fingerprint(pair.live.url(db));
    let killed = 0;
    const lines: string[] = [];
    await assert.rejects(
      promoteInto(db, {
        mode: "tables",
        tables: ["public.entries"],
        onCopyChunk: async () => {
          if (killed++) return;
          await killSessions(pair.live, db, "application_name = 'pg-recovery-promote'");
        },
        log: (line: string) => lines.push(line),
      }),
      /terminat|Connection|closed/i,
    );
    assert.ok(
      lines.some((l) => DIRECT.test(l)),
      lines.join("\n"),
    );
    await unchanged(db, before);
  });

  it("steps back when the exact counts make it no bulk insert, and does what the plan said", async () => {
    // 10,000 rows at T, 2,000 left: eligible by the bounds, but 8,000 rows to insert is below
    // the rebuild's 10,000, so the plan predicts no rebuild and the write must not do one.
    const db = await incident(
      "DELETE FROM entries WHERE id > 2000;",
      ENTRIES.replace("generate_series(1, 20000)", "generate_series(1, 10000)"),
    );
    const plan = await runPromote(pair.env(db), "--plan", "--tables", "public.entries", "--json");
    const merge = JSON.parse(plan.out).modes.find((m: { mode: string }) => m.mode === "merge");
    assert.deepEqual(merge.notes, []);
    const r = await write(db, "merge", "public.entries", "--json");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /public\.entries \(2000 rows on live\): the rows at T go straight into live/,
    );
    assert.match(r.err, /8000 rows to insert is not a bulk insert; comparing the rows at T/);
    const result = JSON.parse(r.out);
    assert.deepEqual(result.indexesRebuilt, []);
    assert.equal(result.tables[0].inserted, 8000);
    assert.equal(
      await scalar<string>(pair.live, db, rowsOf("TRUE")),
      await scalar<string>(pair.ptr, db, rowsOf("TRUE")),
    );
  });

  it("a foreign key added NOT VALID keeps the staged path: it would not be checked when added back", async () => {
    const db = await incident(
      MOSTLY_LOST,
      `${ENTRIES}
       CREATE TABLE entry_notes (entry_id bigint);
       ALTER TABLE entry_notes ADD CONSTRAINT entry_notes_fk FOREIGN KEY (entry_id) REFERENCES entries (id) NOT VALID;`,
    );
    const atT = await fingerprint(pair.ptr.url(db));
    const r = await write(db, "tables", "public.entries");
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /go straight into live/);
    assert.deepEqual(
      (await fingerprint(pair.live.url(db))).get("public.entries"),
      atT.get("public.entries"),
    );
  });
});
