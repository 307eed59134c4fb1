/**
 * promote's modes against two real PostgreSQL servers (the PTR at T, and live with writes after T
 * and a corruption): each mode's end state (chosen tables exactly as at T by content, every other
 * table keeping every row written after T), and a mid-copy failure leaving live untouched.
 */
import assert from "node:assert/strict";
import * as os from "node:os";
import * as path from "node:path";
import { verifyDatabases } from "../../../datapath/verify/verify";
import { EXOTIC_SCHEMA, HAVE_BTREE_GIST, VARIED_SCHEMA } from "../../support/datapath-schemas";
import {
  confirmFor,
  fingerprint,
  killSessions,
  pick,
  runPromote,
  scalar,
  useIncident,
} from "./fixture";

describe("promote (real PostgreSQL): each mode's end state", function () {
  this.timeout(180_000);
  const { pair, incident, unchanged, write, promoteInto } = useIncident();
  const run = runPromote;

  describe("--mode tables", () => {
    it("puts the chosen tables back exactly as at T and keeps every row written after T elsewhere", async () => {
      const db = await incident("UPDATE posts SET title = 'oops'; DELETE FROM tags;");
      const atT = await fingerprint(pair.ptr.url(db));
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "tables", "public.posts,tags", "--incident", "2025-06-01");
      assert.equal(r.code, 0, r.err);
      const after = await fingerprint(pair.live.url(db));
      // Chosen tables: content as at T (the trigger did not re-stamp updated_at).
      assert.deepEqual(after.get("public.posts"), atT.get("public.posts"));
      assert.deepEqual(after.get("public.tags"), atT.get("public.tags"));
      // Every other table: exactly as live had it, writes after T included.
      for (const k of ["public.users", "public.comments", "public.audit_log", "public.settings"]) {
        assert.deepEqual(after.get(k), before.get(k), k);
      }
      assert.equal(after.get("public.users")!.rows, 220);
      assert.equal(after.get("public.comments")!.rows, 3100);
      // The replaced rows are kept for the review: 1000 overwritten + 50 added since T.
      assert.equal(
        await scalar(
          pair.live,
          db,
          "SELECT count(*)::text FROM pgr_2025_06_01_replaced.public__posts",
        ),
        "1050",
      );
      // The sequence is never lowered below what live handed out.
      assert.equal(
        await scalar(pair.live, db, "SELECT last_value::text FROM posts_id_seq"),
        "1050",
      );
      assert.equal(
        await scalar(
          pair.live,
          db,
          "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'posts_touch'",
        ),
        "O",
      );
      assert.match(
        r.out,
        /public\.posts\s+1,000\s+0\s+1,000\s+50\s+1,050 in pgr_2025_06_01_replaced/,
      );
    });

    it("disables the chosen tables' user rules while it writes, as their triggers, and says so in the plan", async () => {
      // The app soft-deletes notes and logs every new one, both by rules; a migration after T
      // hard-deleted ten of them around the rule. With the rules on, the write's DELETE of the
      // note added since T became an UPDATE (the write failed its check after, where the plan
      // had said it would pass) and its re-inserts were logged as new notes.
      const notes = `
        CREATE TABLE notes (id bigint PRIMARY KEY, body text, deleted_at timestamptz);
        INSERT INTO notes SELECT g, 'note ' || g, NULL FROM generate_series(1, 100) g;
        CREATE RULE notes_soft_delete AS ON DELETE TO notes
          DO INSTEAD UPDATE notes SET deleted_at = now() WHERE id = OLD.id;
        CREATE RULE notes_log AS ON INSERT TO notes
          DO ALSO INSERT INTO audit_log VALUES (now(), 'note ' || NEW.id);`;
      const db = await incident(
        `UPDATE notes SET body = 'oops' WHERE id <= 10;
         INSERT INTO notes VALUES (101, 'after T', NULL);
         DELETE FROM notes WHERE id BETWEEN 50 AND 59;
         ALTER TABLE notes DISABLE RULE notes_soft_delete;
         DELETE FROM notes WHERE id > 90 AND id <= 100;
         ALTER TABLE notes ENABLE RULE notes_soft_delete;`,
        notes,
      );
      const atT = await fingerprint(pair.ptr.url(db));
      const before = await fingerprint(pair.live.url(db));
      const plan = await run(pair.env(db), "--plan", "--tables", "public.notes", "--json");
      assert.equal(plan.code, 0, plan.err);
      const planned = JSON.parse(plan.out);
      assert.deepEqual(
        planned.rules.map((x: { name: string }) => x.name),
        ["notes_log", "notes_soft_delete"],
      );
      const tables = planned.modes.find((m: { mode: string }) => m.mode === "tables");
      assert.deepEqual(pick(tables, ["inserts", "deletes", "refusals"]), {
        inserts: 10,
        deletes: 1,
        refusals: [],
      });
      const text = await run(pair.env(db), "--plan", "--tables", "public.notes");
      assert.match(
        text.out,
        /rule public\.notes\.notes_soft_delete: CREATE RULE notes_soft_delete AS ON DELETE TO public\.notes DO INSTEAD/,
      );

      const r = await write(db, "tables", "public.notes", "--incident", "2025-06-01");
      assert.equal(r.code, 0, r.err);
      const after = await fingerprint(pair.live.url(db));
      assert.deepEqual(after.get("public.notes"), atT.get("public.notes"));
      assert.deepEqual(after.get("public.audit_log"), before.get("public.audit_log"));
      assert.match(
        r.out,
        /user rules disabled during the writes, then restored: public\.notes\.notes_log, public\.notes\.notes_soft_delete/,
      );
      assert.equal(
        await scalar(
          pair.live,
          db,
          "SELECT string_agg(rulename || ' ' || ev_enabled::text, ',' ORDER BY rulename) FROM pg_rewrite WHERE ev_class = 'notes'::regclass",
        ),
        "notes_log O,notes_soft_delete O",
      );
    });

    it("recreates a table dropped since T with its rows at T and raises its sequence", async () => {
      const db = await incident("DROP TABLE subscribers;");
      const atT = await fingerprint(pair.ptr.url(db));
      const r = await write(db, "tables", "public.subscribers");
      assert.equal(r.code, 0, r.err);
      const after = await fingerprint(pair.live.url(db));
      assert.deepEqual(after.get("public.subscribers"), atT.get("public.subscribers"));
      assert.equal(await scalar(pair.live, db, "SELECT nextval('subscribers_id_seq')::text"), "11");
      assert.match(r.out, /public\.subscribers \(recreated\)/);
    });

    it("refuses a cascade outside the chosen tables before writing, naming the constraint and rows", async () => {
      const db = await incident(
        "INSERT INTO posts (user_id, title, created_at, updated_at) VALUES (201, 'by a new user', now(), now());",
      );
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "tables", "public.users");
      assert.equal(r.code, 1);
      assert.match(r.err, /posts_user_id_fkey/);
      assert.match(r.err, /would delete 1 rows of public\.posts \(ON DELETE CASCADE\)/);
      assert.match(r.err, /\(201\)/);
      assert.match(r.err, /nothing was written/);
      await unchanged(db, before);
    });

    it("refuses when a kept row would lose the row it references", async () => {
      const db = await incident(
        `INSERT INTO comments (post_id, body, created_at) VALUES (1050, 'on a post written after T', now());
         UPDATE posts SET title = 'oops';`,
      );
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "tables", "public.posts");
      assert.equal(r.code, 1);
      assert.match(r.err, /comments_post_id_fkey/);
      assert.match(
        r.err,
        /1 rows of public\.comments would lose the public\.posts row they reference \(ON DELETE NO ACTION\)/,
      );
      assert.match(r.err, /\(1050\)/);
      await unchanged(db, before);
    });

    it("refuses tables without a primary key, unknown tables, and a schema that differs, all at once", async () => {
      const db = await incident("ALTER TABLE tags ADD COLUMN colour text;");
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "tables", "public.audit_log,public.nope,public.tags");
      assert.equal(r.code, 1);
      assert.match(r.err, /public\.audit_log has no primary key/);
      assert.match(r.err, /table public\.nope does not exist/);
      assert.match(
        r.err,
        /public\.tags: schema differs between T and live \(live only: column colour text\)/,
      );
      await unchanged(db, before);
    });

    it("rolls everything back when the live connection is killed during the copy", async () => {
      const db = await incident("UPDATE posts SET title = 'oops'; DELETE FROM tags;");
      const before = await fingerprint(pair.live.url(db));
      let killed = 0;
      await assert.rejects(
        promoteInto(db, {
          mode: "tables",
          // tags first copied, then posts: the kill lands after tags' rows are staged.
          tables: ["public.tags", "public.posts"],
          onCopyChunk: async (table) => {
            if (table !== "public.posts" || killed++) return;
            await killSessions(pair.live, db, "application_name = 'pg-recovery-promote'");
          },
        }),
        /terminat|Connection|closed/i,
      );
      assert.equal(killed > 0, true);
      await unchanged(db, before);
    });

    it("rolls everything back when the PTR connection is killed during the copy", async () => {
      const db = await incident("UPDATE posts SET title = 'oops';");
      const before = await fingerprint(pair.live.url(db));
      let killed = 0;
      await assert.rejects(
        promoteInto(db, {
          mode: "tables",
          tables: ["public.posts"],
          onCopyChunk: async () => {
            if (killed++) return;
            await killSessions(pair.ptr, db);
          },
        }),
      );
      await unchanged(db, before);
    });
  });

  it("tables: refuses restored rows that reference a row deleted from live since T", async () => {
    // User 7 and (by cascade) their posts go after T; the posts at T still reference user 7.
    const db = await incident(
      "DELETE FROM comments WHERE post_id IN (SELECT id FROM posts WHERE user_id = 7); DELETE FROM users WHERE id = 7;",
    );
    const before = await fingerprint(pair.live.url(db));
    const r = await write(db, "tables", "public.posts");
    assert.equal(r.code, 1);
    assert.match(r.err, /posts_user_id_fkey/);
    assert.match(
      r.err,
      /5 rows of public\.posts to restore reference public\.users rows that live no longer has/,
    );
    assert.match(r.err, /\(7\)/);
    await unchanged(db, before);
  });

  describe("--mode merge", () => {
    it("re-inserts the rows at T missing from live and changes nothing else", async () => {
      const db = await incident("DELETE FROM comments; UPDATE posts SET title = 'oops';");
      const atT = await fingerprint(pair.ptr.url(db));
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "merge", "public.comments", "--json");
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out);
      assert.equal(result.tables[0].inserted, 3000);
      const after = await fingerprint(pair.live.url(db));
      // The comments of T are back (the 100 written after T were deleted by the corruption).
      assert.deepEqual(after.get("public.comments"), atT.get("public.comments"));
      for (const k of [
        "public.users",
        "public.posts",
        "public.tags",
        "public.audit_log",
        "public.settings",
      ]) {
        assert.deepEqual(after.get(k), before.get(k), k);
      }
      assert.equal(after.get("public.posts")!.rows, 1050);
    });

    it("re-inserts a bulk of rows with the table's foreign keys checked once, and puts them back as they were", async () => {
      const likes = `
        CREATE TABLE likes (
          id bigserial PRIMARY KEY,
          post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
          user_id bigint REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED
        );
        INSERT INTO likes (post_id, user_id) SELECT 1 + g % 1000, 1 + g % 200 FROM generate_series(1, 12000) g;`;
      const db = await incident("DELETE FROM likes;", likes);
      const constraints = `SELECT conname, pg_get_constraintdef(oid) AS def, convalidated
                             FROM pg_constraint WHERE conrelid = 'likes'::regclass ORDER BY 1`;
      const before = (await pair.live.query(db, constraints)).rows;
      const r = await write(db, "merge", "public.likes");
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /re-validated 2 foreign keys/);
      assert.deepEqual((await pair.live.query(db, constraints)).rows, before);
      assert.deepEqual(
        (await fingerprint(pair.live.url(db))).get("public.likes"),
        (await fingerprint(pair.ptr.url(db))).get("public.likes"),
      );
      await assert.rejects(
        pair.live.query(db, "INSERT INTO likes (post_id) VALUES (424242)"),
        /likes_post_id_fkey/,
      );
    });

    it("fetches only the few missing rows by key, composite keys with quotes and commas included", async () => {
      const keyed = `
        CREATE TABLE keyed (
          region text,
          code text,
          n int NOT NULL,
          note text,
          PRIMARY KEY (region, code)
        );
        INSERT INTO keyed
        SELECT 'r ' || (g % 7), 'c"' || g || chr(92) || ''', q,{}', g, md5(g::text)
          FROM generate_series(1, 500) g;`;
      const db = await incident(
        "DELETE FROM keyed WHERE n % 50 = 0; UPDATE keyed SET note = 'changed' WHERE n = 7;",
        keyed,
      );
      const r = await write(db, "merge", "public.keyed", "--json");
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out);
      assert.equal(result.tables[0].rowsAtT, 500);
      assert.equal(result.tables[0].inserted, 10);
      // Fewer bytes than the table's rows at T: only the keys and the ten missing rows moved.
      const rowBytes = Number(
        await scalar<string>(pair.ptr, db, "SELECT sum(pg_column_size(k.*))::text FROM keyed k"),
      );
      assert.ok(result.bytesCopied < rowBytes * 0.75, `${result.bytesCopied} of ${rowBytes}`);
      const rows = `SELECT string_agg(format('%s|%s|%s|%s', region, code, n, note), ';' ORDER BY n)
                      FROM keyed WHERE n % 50 = 0 OR n = 7`;
      // The missing rows are back exactly; the row changed since T stays as live has it.
      const atT = await scalar<string>(pair.ptr, db, rows);
      const after = await scalar<string>(pair.live, db, rows);
      assert.equal(after, atT.replace(/\|7\|[0-9a-f]{32}/, "|7|changed"));
      assert.equal(await scalar<string>(pair.live, db, "SELECT count(*)::text FROM keyed"), "500");
    });

    it("refuses a re-inserted row that collides with a live row on a unique key", async () => {
      const db = await incident(
        "DELETE FROM subscribers WHERE id = 3; INSERT INTO subscribers (email) VALUES ('s3@example.com');",
      );
      const before = await fingerprint(pair.live.url(db));
      const r = await write(db, "merge", "public.subscribers");
      assert.equal(r.code, 1);
      assert.match(r.err, /subscribers_email_key/);
      assert.match(r.err, /\(3\) \(s3@example\.com\)/);
      await unchanged(db, before);
    });
  });

  it("merge: a collision under an extension type's equality (citext) and a btree_gist exclusion, planned and refused alike", async () => {
    const db = "varied_keys";
    for (const s of [pair.ptr, pair.live]) {
      await s.createDatabase(db);
      await s.query(db, VARIED_SCHEMA + EXOTIC_SCHEMA);
    }
    // P3 is deleted and re-created in lower case (equal as citext); booking 7 is deleted and
    // its room re-booked for an overlapping hour.
    await pair.live.query(
      db,
      `DELETE FROM courses WHERE provider_id = 3; DELETE FROM providers WHERE id = 3;
       INSERT INTO providers (code, name) VALUES ('p3', 'again');
       DELETE FROM ops.bookings WHERE id = 7;
       INSERT INTO ops.bookings (room, during)
       VALUES (2, tstzrange('2024-01-01 07:30+00', '2024-01-01 07:40+00'));`,
    );
    const before = await fingerprint(pair.live.url(db));
    const tables = HAVE_BTREE_GIST ? "public.providers,ops.bookings" : "public.providers";
    const plan = await run(pair.env(db), "--plan", "--tables", tables, "--json");
    assert.equal(plan.code, 0, plan.err);
    const refusals: string[] = JSON.parse(plan.out).modes.find(
      (m: { mode: string }) => m.mode === "merge",
    ).refusals;
    assert.match(
      refusals[0],
      /^providers_code_key \(unique public\.providers \(code\)\): 1 rows .*\(3\) \(P3\) held by \(1501\)/,
    );
    if (HAVE_BTREE_GIST) {
      assert.match(
        refusals[1],
        /^bookings_room_during_excl \(exclusion ops\.bookings \(room WITH =, during WITH &&\)\): 1 rows .*\(7\) \(2, /,
      );
    }
    assert.equal(refusals.length, HAVE_BTREE_GIST ? 2 : 1);
    const r = await write(db, "merge", tables);
    assert.equal(r.code, 1);
    for (const line of refusals) assert.ok(r.err.includes(`\n  ${line}`), r.err);
    assert.deepEqual(await fingerprint(pair.live.url(db)), before);
  });

  it("tables: exotic types, quoted names, identity, generated columns, domains and RLS come back exactly", async () => {
    const db = "exotic_tables";
    await pair.ptr.createDatabase(db);
    await pair.ptr.query(db, EXOTIC_SCHEMA);
    await pair.live.createDatabase(db);
    // Live starts as the PTR (whole), then is damaged.
    const setup = await run(pair.env(db), "--mode", "whole", "--confirm", confirmFor(db));
    assert.equal(setup.code, 0, setup.err);
    await pair.live.query(
      db,
      `UPDATE "Billing"."Invoices" SET net_pence = 0, status = 'Paid';
       DELETE FROM public.oddities;`,
    );
    const r = await write(db, "tables", '"Billing"."Invoices",public.oddities');
    assert.equal(r.code, 0, r.err);
    const atT = await fingerprint(pair.ptr.url(db));
    const after = await fingerprint(pair.live.url(db));
    assert.deepEqual(after.get("Billing.Invoices"), atT.get("Billing.Invoices"));
    assert.deepEqual(after.get("public.oddities"), atT.get("public.oddities"));
  });

  // PostgreSQL 17 shares a partitioned table's identity with its partitions: the kind is set on
  // the partition tree's root.
  for (const [what, table, ddl] of [
    ["a table", "public.tickets", ""],
    [
      "a partition",
      "public.tickets_a",
      " PARTITION BY RANGE (id); CREATE TABLE tickets_a PARTITION OF tickets FOR VALUES FROM (0) TO (100)",
    ],
  ]) {
    it(`tables on ${what}: a column GENERATED ALWAYS AS IDENTITY outside the key comes back as at T, still ALWAYS`, async () => {
      // An UPDATE may set such a column only to DEFAULT: writing the rows at T must not trip on it.
      const db = await incident(
        "UPDATE tickets SET note = 'changed' WHERE id = 2; UPDATE tickets SET seq = DEFAULT WHERE id = 3; DELETE FROM tickets WHERE id = 4;",
        `CREATE TABLE tickets (id int PRIMARY KEY, seq int GENERATED ALWAYS AS IDENTITY, note text)${ddl};
         INSERT INTO tickets (id, note) SELECT g, 'n' || g FROM generate_series(1, 5) g;`,
      );
      const r = await write(db, "tables", table, "--json");
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(pick(JSON.parse(r.out).tables[0], ["updated", "inserted", "deleted"]), {
        updated: 2,
        inserted: 1,
        deleted: 0,
      });
      const rows = "SELECT id, seq, note FROM tickets ORDER BY id";
      assert.deepEqual(
        (await pair.live.query(db, rows)).rows,
        (await pair.ptr.query(db, rows)).rows,
      );
      const kind =
        "SELECT attidentity FROM pg_attribute WHERE attrelid = 'tickets'::regclass AND attname = 'seq'";
      assert.deepEqual((await pair.live.query(db, kind)).rows, [{ attidentity: "a" }]);
    });
  }

  describe("--mode whole", () => {
    /** `db` with every kind of object on the PTR, and a placeholder on live. */
    async function exotic(db: string): Promise<void> {
      await pair.ptr.createDatabase(db);
      await pair.ptr.query(db, VARIED_SCHEMA);
      await pair.ptr.query(db, EXOTIC_SCHEMA);
      await pair.live.createDatabase(db);
      await pair.live.query(db, "CREATE TABLE placeholder (id int PRIMARY KEY)");
    }

    /** What verify finds different between the PTR's `db` and live's. */
    async function differences(db: string): Promise<string[]> {
      const report = await verifyDatabases({ source: pair.ptr.url(db), target: pair.live.url(db) });
      return report.differences.map((d) => `[${d.section}] ${d.object}: ${d.detail}`);
    }

    it("brings every kind of object across: verify finds the promoted live identical to the PTR", async () => {
      await exotic("exotic");
      const r = await run(pair.env("exotic"), "--mode", "whole", "--confirm", confirmFor("exotic"));
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await differences("exotic"), []);
    });

    it("pipes big tables psql to psql: every kind of object still arrives identical", async () => {
      // pipeFrom 0 pipes every table, binary and (for types without binary I/O) text alike.
      await exotic("exotic_piped");
      const piped: string[] = [];
      const r = await promoteInto("exotic_piped", {
        mode: "whole",
        pipeFrom: 0,
        onCopyChunk: (table, bytes) => {
          if (bytes === 0) piped.push(table);
        },
      });
      assert.equal(r.kind, "whole");
      assert.ok(piped.length > 5, `piped only ${piped.join(", ")}`);
      assert.deepEqual(await differences("exotic_piped"), []);
    });

    it("replaces live with the PTR database straight from the PTR server, keeping the old one", async () => {
      const db = await incident("UPDATE posts SET title = 'oops'; DELETE FROM tags;");
      const atT = await fingerprint(pair.ptr.url(db));
      const before = await fingerprint(pair.live.url(db));
      const r = await run(
        pair.env(db),
        "--mode",
        "whole",
        "--confirm",
        confirmFor(db),
        "--jobs",
        "3",
      );
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await fingerprint(pair.live.url(db)), atT);
      const kept = /previous database is now (\S+)/.exec(r.out)?.[1];
      assert.ok(kept, r.out);
      assert.deepEqual(await fingerprint(pair.live.url(kept)), before);
      // Indexes, constraints and triggers came back too.
      assert.equal(
        await scalar(
          pair.live,
          db,
          "SELECT count(*)::text FROM pg_trigger WHERE tgname = 'posts_touch'",
        ),
        "1",
      );
      await assert.rejects(
        pair.live.query(
          db,
          "INSERT INTO posts (user_id, title, created_at, updated_at) VALUES (99999, 'x', now(), now())",
        ),
        /posts_user_id_fkey/,
      );
      // posts.user_id is indexed (posts_user_idx), comments.post_id is not: one key is added
      // last, by merging indexes; both are there and validated.
      assert.match(r.err, /adding 1 foreign key on indexed columns/);
      assert.equal(
        await scalar(
          pair.live,
          db,
          `SELECT string_agg(conname || ':' || convalidated, ' ' ORDER BY conname) FROM pg_constraint
            WHERE contype = 'f'`,
        ),
        "comments_post_id_fkey:true posts_user_id_fkey:true",
      );
    });
  });

  // Small tables stream through this process (the kill lands between chunks); piped ones (all,
  // with pipeFrom 0) lose the session holding the snapshot before their pipe starts.
  for (const [how, pipeFrom] of [
    ["mid-copy", undefined],
    ["as big tables are piped", 0],
  ] as const) {
    it(`whole: drops the partial copy and leaves live as it was when the PTR connection dies ${how}`, async () => {
      const db = await incident("UPDATE posts SET title = 'oops';");
      const before = await fingerprint(pair.live.url(db));
      let killed = 0;
      await assert.rejects(
        promoteInto(db, {
          mode: "whole",
          pipeFrom,
          onCopyChunk: async () => {
            if (killed++) return;
            await killSessions(pair.ptr, db);
          },
        }),
        /snapshot|terminat|closed|connection/i,
      );
      assert.ok(killed > 0);
      await unchanged(db, before);
      const left = await pair.live.query(
        "postgres",
        "SELECT datname FROM pg_database WHERE datname LIKE $1",
        [`${db}_%`],
      );
      assert.deepEqual(left.rows, [], "the partial copy was left behind");
    });
  }

  it("whole: a failure before the copy exists says nothing of dropping one", async () => {
    const db = await incident("UPDATE posts SET title = 'oops';");
    const before = await fingerprint(pair.live.url(db));
    const lines: string[] = [];
    await assert.rejects(
      promoteInto(db, {
        mode: "whole",
        env: { ...pair.env(db), PG_BIN: path.join(os.tmpdir(), "pgr-no-such-bin") },
        log: (l) => lines.push(l),
      }),
      /pg_dump not found/,
    );
    assert.deepEqual(
      lines.filter((l) => /partial copy/.test(l)),
      [],
      "no copy was made, so none is dropped",
    );
    await unchanged(db, before);
  });
});
