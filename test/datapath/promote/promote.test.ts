/**
 * promote against two real PostgreSQL servers (the PTR at T, and live with writes after T and a
 * corruption): --plan's numbers for every mode, and the refusals before anything is touched. Each
 * mode's end state is modes.test.ts.
 */
import assert from "node:assert/strict";
import { Client } from "pg";
import { confirmFor, fingerprint, pick, runPromote, scalar, useIncident } from "./fixture";
import { asReader, type PgServer } from "../../support/postgres";

/** Every row of a table, in key order, as text: compared before and after, row by row. */
async function rowsOf(s: PgServer, db: string, table: string): Promise<string[]> {
  const r = await s.query(db, `SELECT t::text AS row FROM ${table} t ORDER BY 1`);
  return r.rows.map((x: { row: string }) => x.row);
}

/** A key's definition and the foreign keys on it, to check a rebuild put them back as they were. */
const KEYS = `SELECT conname, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint
               WHERE contype IN ('u', 'x', 'f') ORDER BY 1`;
const INDEXES = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`;

type Plan = {
  modes: { mode: string; refusals: string[]; notes: string[] }[];
};
const modeOf = (plan: Plan, m: string) => plan.modes.find((x) => x.mode === m)!;

describe("promote (real PostgreSQL): the plan and the refusals", function () {
  this.timeout(180_000);
  const { pair, incident, promoteInto, unchanged, write } = useIncident();
  /** The plan for `table` in `db`, as --json prints it. */
  const planFor = async (db: string, table: string): Promise<Plan> =>
    JSON.parse((await run(pair.env(db), "--plan", "--tables", table, "--json")).out);
  const run = runPromote;

  describe("--plan", () => {
    it("reports per table rows deleted, changed and added since T, and per mode what is written and lost, changing nothing", async () => {
      const db = await incident("UPDATE posts SET title = 'oops'; DELETE FROM tags;");
      const before = await fingerprint(pair.live.url(db));
      const r = await run(pair.env(db), "--plan", "--tables", "public.posts,public.tags", "--json");
      assert.equal(r.code, 0, r.err);
      const plan = JSON.parse(r.out);
      const t = (k: string) => plan.tables.find((x: { key: string }) => x.key === k);
      assert.deepEqual(pick(t("public.posts"), ["atT", "live", "deleted", "changed", "added"]), {
        atT: 1000,
        live: 1050,
        deleted: 0,
        changed: 1000,
        added: 50,
      });
      assert.deepEqual(pick(t("public.users"), ["atT", "live", "deleted", "changed", "added"]), {
        atT: 200,
        live: 220,
        deleted: 0,
        changed: 5,
        added: 20,
      });
      assert.deepEqual(pick(t("public.tags"), ["atT", "live", "deleted", "changed", "added"]), {
        atT: 50,
        live: 0,
        deleted: 50,
        changed: 0,
        added: 0,
      });
      assert.deepEqual(pick(t("public.comments"), ["deleted", "changed", "added"]), {
        deleted: 0,
        changed: 0,
        added: 100,
      });
      assert.equal(t("public.audit_log").method, "content");
      assert.equal(t("public.audit_log").sameContent, false);
      assert.equal(t("public.users").newestLive.createdAt, "2025-06-01T12:05:20.000000Z");
      assert.equal(t("public.users").newestAtT.updatedAt, "2025-05-02T03:20:00.000000Z");
      assert.equal(t("public.posts").writesAfterTAtT, false);
      assert.deepEqual(plan.tablesWithoutPrimaryKey, ["public.audit_log"]);

      const mode = (m: string) => plan.modes.find((x: { mode: string }) => x.mode === m);
      // whole: every row written after T goes (20 + 5 users, 50 + 1000 posts, 100 comments, 1
      // setting, and the audit log's 30 extra rows, counted without a key); the 5 users, 1000
      // posts and 50 tags of T come back.
      assert.equal(mode("whole").loses, 25 + 1050 + 100 + 1 + 30);
      assert.equal(mode("whole").restores, 5 + 1000 + 50);
      assert.deepEqual(
        pick(mode("tables"), ["inserts", "updates", "deletes", "restores", "loses"]),
        { inserts: 50, updates: 1000, deletes: 50, restores: 1050, loses: 1050 },
      );
      assert.deepEqual(pick(mode("merge"), ["inserts", "loses", "notRepaired"]), {
        inserts: 50,
        loses: 0,
        notRepaired: 1000,
      });
      assert.deepEqual(mode("tables").refusals, []);
      assert.deepEqual(
        plan.foreignKeys.map((f: { name: string; direction: string; violations: number }) => [
          f.name,
          f.direction,
          f.violations,
        ]),
        [
          ["comments_post_id_fkey", "into", 0],
          ["posts_user_id_fkey", "out", 0],
        ],
      );
      assert.deepEqual(
        plan.triggers.map((x: { name: string }) => x.name),
        ["posts_touch"],
      );
      await unchanged(db, before);

      const text = await run(pair.env(db), "--plan", "--tables", "public.posts,public.tags");
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /public\.posts\s+1,000\s+1,050\s+0\s+1,000\s+50/);
      assert.match(text.out, /tables: public\.posts, public\.tags take their content at T/);
      assert.match(text.out, /posts_touch/);
    });

    it("shows the cascade a tables promotion would cause, naming the constraint and keys", async () => {
      const db = await incident(
        "INSERT INTO posts (user_id, title, created_at, updated_at) VALUES (201, 'by a new user', now(), now());",
      );
      const r = await run(pair.env(db), "--plan", "--tables", "public.users", "--json");
      assert.equal(r.code, 0, r.err);
      const plan = JSON.parse(r.out);
      const fk = plan.foreignKeys.find((f: { name: string }) => f.name === "posts_user_id_fkey");
      assert.equal(fk.violations, 1);
      assert.deepEqual(fk.samples, ["(201)"]);
      const tables = plan.modes.find((x: { mode: string }) => x.mode === "tables");
      assert.match(
        tables.refusals.join("\n"),
        /would delete 1 rows of public\.posts \(ON DELETE CASCADE\)/,
      );
      // The write refuses with the plan's own line.
      const before = await fingerprint(pair.live.url(db));
      const w = await write(db, "tables", "public.users");
      assert.equal(w.code, 1);
      assert.equal(tables.refusals.length, 1);
      assert.ok(
        w.err.includes(`\n  ${tables.refusals[0]}`),
        `${w.err}\n---\n${tables.refusals[0]}`,
      );
      await unchanged(db, before);
    });
  });

  // A role that may set session_replication_role (the tests' superuser) checks every key before
  // writing and inserts without the keys' per-row checks; one that may not leaves a key live
  // enforces to the insert and names it after rolling back; a deferrable key (it would refuse
  // only at COMMIT) is checked before writing either way.
  for (const [how, seed, owner, said, rolledBack] of [
    [
      "checked before writing (replica role)",
      "",
      false,
      "session_replication_role = replica",
      false,
    ],
    [
      "left to the write (a role that may not set session_replication_role)",
      "",
      true,
      "may not set session_replication_role",
      true,
    ],
    [
      "deferrable, checked before writing",
      "ALTER TABLE posts ALTER CONSTRAINT posts_user_id_fkey DEFERRABLE INITIALLY DEFERRED;",
      true,
      "may not set session_replication_role",
      false,
    ],
  ] as const) {
    it(`merge: a foreign key out of the chosen tables counted exactly (a row live still has, changed since, is not re-inserted); ${how}`, async () => {
      // User 7 goes with their posts; user 8's posts were moved to user 9 before user 8 went: at
      // T they reference user 8, but merge does not re-insert them (live has them).
      const db = await incident(
        `UPDATE posts SET user_id = 9 WHERE user_id = 8;
         DELETE FROM comments WHERE post_id IN (SELECT id FROM posts WHERE user_id = 7);
         DELETE FROM users WHERE id IN (7, 8);`,
        seed,
      );
      const before = await fingerprint(pair.live.url(db));
      const plan: Plan = await planFor(db, "public.posts");
      const refusals = modeOf(plan, "merge").refusals;
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^posts_user_id_fkey .*: 5 rows of public\.posts to re-insert reference public\.users rows that live no longer has; referenced keys: \(7\); way out: add public\.users to --tables/,
      );
      const r = owner
        ? await runPromote(
            { ...pair.env(db), LIVE_URL: await asOwner(db) },
            "--mode",
            "merge",
            "--tables",
            "public.posts",
            "--confirm",
            confirmFor(db),
          )
        : await write(db, "merge", "public.posts");
      assert.equal(r.code, 1);
      assert.ok(r.err.includes(`\n  ${refusals[0]}`), r.err);
      assert.ok(r.err.includes(said), r.err);
      assert.equal(r.err.includes("rolled back the writes to name it"), rolledBack, r.err);
      await unchanged(db, before);
    });
  }

  describe("foreign keys and partitioned tables: a referenced row is in one partition, any of them", () => {
    // posts reference regions (two partitions) across both: post n references region n + 500
    // (but 950, which appears only after T).
    const REGIONS = `
      CREATE TABLE regions (id int PRIMARY KEY) PARTITION BY RANGE (id);
      CREATE TABLE regions_low PARTITION OF regions FOR VALUES FROM (0) TO (1000);
      CREATE TABLE regions_high PARTITION OF regions FOR VALUES FROM (1000) TO (2000);
      INSERT INTO regions SELECT g FROM generate_series(1, 1999) g WHERE g NOT IN (950, 1950);
      ALTER TABLE posts ADD COLUMN region int REFERENCES regions;
      UPDATE posts SET region = CASE WHEN id = 450 THEN 1 ELSE id + 500 END;`;
    /**
     * visits, partitioned in two (ids 0-499, 500-999), referencing regions (`action`: its ON
     * DELETE clause); visit g references region `region` (SQL over g).
     */
    const VISITS = (region: string, action = "") => `${REGIONS}
      CREATE TABLE visits (id int PRIMARY KEY, region int REFERENCES regions${action})
        PARTITION BY RANGE (id);
      CREATE TABLE visits_a PARTITION OF visits FOR VALUES FROM (0) TO (500);
      CREATE TABLE visits_b PARTITION OF visits FOR VALUES FROM (500) TO (1000);
      INSERT INTO visits SELECT g, ${region} FROM generate_series(1, 999) g;`;
    /** The write refused with the plan's own line, and live left exactly as `before`. */
    async function refusedAsPlanned(
      db: string,
      mode: string,
      tables: string,
      refusal: string,
      before: Awaited<ReturnType<typeof fingerprint>>,
    ) {
      const r = await write(db, mode, tables);
      assert.equal(r.code, 1, r.err);
      assert.ok(r.err.includes(`\n  ${refusal}`), r.err);
      await unchanged(db, before);
      return r;
    }
    const LOST_POSTS =
      "DELETE FROM comments WHERE post_id % 100 = 0; DELETE FROM posts WHERE id % 100 = 0;";

    it("merge: rows referencing either partition are re-inserted, planned without refusal", async () => {
      const db = await incident(LOST_POSTS, REGIONS);
      for (const m of ["tables", "merge"]) {
        assert.deepEqual(modeOf(await planFor(db, "public.posts"), m).refusals, [], m);
      }
      const r = await write(db, "merge", "public.posts", "--json");
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).tables[0].inserted, 10);
      const back = "SELECT array_agg(region ORDER BY id) AS r FROM posts WHERE id % 100 = 0";
      assert.deepEqual(
        (await pair.live.query(db, back)).rows,
        (await pair.ptr.query(db, back)).rows,
      );
    });

    it("merge: rows whose region live lost are refused before writing, under the key itself, as planned", async () => {
      const db = await incident(
        `${LOST_POSTS} DELETE FROM regions WHERE id IN (700, 1200);`,
        REGIONS,
      );
      const before = await fingerprint(pair.live.url(db));
      const refusals = modeOf(await planFor(db, "public.posts"), "merge").refusals;
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^posts_region_fkey \(posts_region_fkey on public\.posts \(region\) -> public\.regions \(id\).*\): 2 rows of public\.posts to re-insert reference public\.regions rows that live no longer has; referenced keys: \(700\), \(1200\); way out: add the partitions of public\.regions that held them \(public\.regions_low, public\.regions_high\) to --tables/,
      );
      const r = await write(db, "merge", "public.posts");
      assert.equal(r.code, 1, r.err);
      assert.ok(r.err.includes(`\n  ${refusals[0]}`), r.err);
      assert.ok(r.err.includes("session_replication_role = replica"), r.err);
      assert.ok(!r.err.includes("rolled back the writes"), r.err);
      await unchanged(db, before);
    });

    it("tables on one partition: only the rows referencing its rows written after T are refused", async () => {
      // After T: regions 950 (low) and 1950 (high) appear, posts 1 and 2 move to them.
      const db = await incident(
        `INSERT INTO regions VALUES (950), (1950);
         UPDATE posts SET region = 950 WHERE id = 1; UPDATE posts SET region = 1950 WHERE id = 2;`,
        REGIONS,
      );
      const before = await fingerprint(pair.live.url(db));
      const refusals = modeOf(await planFor(db, "public.regions_low"), "tables").refusals;
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^posts_region_fkey\d+ .*-> public\.regions_low \(id\).*: 1 rows of public\.posts would lose the public\.regions_low row they reference \(ON DELETE NO ACTION\); referenced keys: \(950\);/,
      );
      await refusedAsPlanned(db, "tables", "public.regions_low", refusals[0], before);
    });

    it("merge into partitions of a partitioned table referencing it: each partition's key checked on every partition", async () => {
      // visits (two partitions) reference regions in both; visit 10 references region 11, gone
      // since T (no visit live keeps references it).
      const db = await incident(
        "DELETE FROM visits WHERE id % 10 = 0; DELETE FROM regions WHERE id = 11;",
        VISITS("CASE WHEN g % 2 = 0 THEN 1 ELSE 1000 END + g % 901"),
      );
      const before = await fingerprint(pair.live.url(db));
      const tables = "public.visits_a,public.visits_b";
      const refusals = modeOf(await planFor(db, tables), "merge").refusals;
      assert.deepEqual(refusals, [
        "visits_region_fkey (visits_region_fkey on public.visits_a (region) -> public.regions (id) ON DELETE NO ACTION): 1 rows of public.visits_a to re-insert reference public.regions rows that live no longer has; referenced keys: (11); way out: add the partitions of public.regions that held them (public.regions_low, public.regions_high) to --tables (the rows they reference come back too)",
      ]);
      await refusedAsPlanned(db, "merge", tables, refusals[0], before);
    });

    it("tables on one partition: a partitioned table's rows referencing its rows written after T are refused, on their partition", async () => {
      // visits (two partitions) reference regions; after T visit 1 moves to region 950 (new).
      const db = await incident(
        "INSERT INTO regions VALUES (950); UPDATE visits SET region = 950 WHERE id = 1;",
        VISITS("1 + g % 900", " ON DELETE CASCADE"),
      );
      const before = await fingerprint(pair.live.url(db));
      const refusals = modeOf(await planFor(db, "public.regions_low"), "tables").refusals;
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^visits_region_fkey\d+ .*-> public\.regions_low \(id\) ON DELETE CASCADE\): would delete 1 rows of public\.visits_a \(ON DELETE CASCADE\); referenced keys: \(950\); way out: add public\.visits_a to --tables/,
      );
      await refusedAsPlanned(db, "tables", "public.regions_low", refusals[0], before);
    });

    it("merge into partitions referencing it waits for no session writing to its partitions: refused before writing", async () => {
      // The insert skips the keys' per-row checks, so the rows it references must not change
      // under it: every partition is locked SHARE, and a session inserting into one holds it.
      const db = await incident("DELETE FROM visits WHERE id % 10 = 0;", VISITS("1 + g % 900"));
      const before = await fingerprint(pair.live.url(db));
      const app = new Client({ connectionString: pair.live.url(db) });
      await app.connect();
      try {
        await app.query("BEGIN");
        await app.query("INSERT INTO regions VALUES (1950)");
        await assert.rejects(
          promoteInto(db, { mode: "merge", tables: ["public.visits_a"], lockTimeoutMs: 300 }),
          /in use by other sessions; scale the app down first\. Nothing was written/,
        );
      } finally {
        await app.query("ROLLBACK");
        await app.end();
      }
      await unchanged(db, before);
    });

    for (const [mode, owner] of [
      ["tables", false],
      ["merge", true],
    ] as const) {
      it(`${mode}${owner ? " (row-by-row checks)" : ""}: 15,000 rows into a partition sharing its partitioned table's key, checked row by row (it cannot be dropped alone)`, async () => {
        const db = await incident(
          "DELETE FROM visits WHERE id % 2 = 0;",
          `CREATE TABLE visits (id int PRIMARY KEY, user_id bigint REFERENCES users (id))
             PARTITION BY RANGE (id);
           CREATE TABLE visits_a PARTITION OF visits FOR VALUES FROM (0) TO (100000);
           INSERT INTO visits SELECT g, 1 + g % 200 FROM generate_series(1, 30000) g;`,
        );
        const keys =
          "SELECT conrelid::regclass::text AS t, conname, convalidated FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'visits%' ORDER BY 1";
        const before = (await pair.live.query(db, keys)).rows;
        const env = owner ? { ...pair.env(db), LIVE_URL: await asOwner(db) } : pair.env(db);
        const r = await runPromote(
          env,
          "--mode",
          mode,
          "--tables",
          "public.visits_a",
          "--confirm",
          confirmFor(db),
        );
        assert.equal(r.code, 0, r.err);
        assert.deepEqual((await pair.live.query(db, keys)).rows, before);
        const rows = "SELECT count(*)::int AS n FROM visits_a";
        assert.deepEqual((await pair.live.query(db, rows)).rows, [{ n: 30000 }]);
      });
    }

    it("tables on a partition whose share of a partitioned key had values swapped since T: refused before writing, as planned", async () => {
      // The partition's unique index is attached to visits's: dropping it alone, as the write
      // does for a key whose values moved, fails ("cannot drop inherited constraint").
      const db = await incident(
        "UPDATE visits SET note = 'tmp' WHERE id = 2; UPDATE visits SET note = 'n2' WHERE id = 4; UPDATE visits SET note = 'n4' WHERE id = 2;",
        `CREATE TABLE visits (id int, region int, note text, PRIMARY KEY (id, region),
           UNIQUE (note, region)) PARTITION BY LIST (region);
         CREATE TABLE visits_a PARTITION OF visits FOR VALUES IN (1);
         CREATE TABLE visits_b PARTITION OF visits FOR VALUES IN (2);
         INSERT INTO visits SELECT g, 1 + g % 2, 'n' || g FROM generate_series(1, 99) g;`,
      );
      const before = await fingerprint(pair.live.url(db));
      const plan = modeOf(await planFor(db, "public.visits_a"), "tables");
      assert.deepEqual(plan.notes, []);
      assert.deepEqual(plan.refusals, [
        "visits_a_note_region_key (unique public.visits_a (note, region)): 2 rows at T take a value a different live row holds now (moved between rows or re-created after T); it is the partition's share of public.visits's key, which PostgreSQL drops only with public.visits's, for every partition, so the rows cannot be written in place; rows (key at T (value) held by live row): (2, 1) (n2, 1) held by (4, 1), (4, 1) (n4, 1) held by (2, 1); way out: change those live rows' values first (the write then sets them as at T), or --mode whole",
      ]);
      const r = await refusedAsPlanned(db, "tables", "public.visits_a", plan.refusals[0], before);
      assert.doesNotMatch(r.err, /inherited constraint/);
    });

    for (const mode of ["tables", "merge"]) {
      it(`${mode}: a table referencing it that lost every row goes straight in, its key back as it was`, async () => {
        const db = await incident(
          "DELETE FROM likes;",
          `${REGIONS}
           CREATE TABLE likes (id bigint PRIMARY KEY, region int NOT NULL REFERENCES regions);
           INSERT INTO likes SELECT g, 1 + g % 1998 FROM generate_series(1, 12000) g
            WHERE 1 + g % 1998 NOT IN (950, 1950);`,
        );
        const keys =
          "SELECT conname, pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint WHERE conrelid = 'likes'::regclass ORDER BY 1";
        const before = (await pair.live.query(db, keys)).rows;
        assert.equal(before.length, 4, JSON.stringify(before)); // the key, its 2 copies, the pkey
        const r = await write(db, mode, "public.likes");
        assert.equal(r.code, 0, r.err);
        assert.match(r.err, /the rows at T go straight into live/);
        assert.deepEqual((await pair.live.query(db, keys)).rows, before);
        assert.deepEqual(await rowsOf(pair.live, db, "likes"), await rowsOf(pair.ptr, db, "likes"));
      });
    }
  });

  // A large re-insert into a table live still mostly has (the staged path): dropping its foreign
  // key and validating it again after the insert reads the whole table, so it is done only when
  // the per-row checks it saves cost more (a large share of the table), and never when the
  // insert makes no per-row checks (replica role).
  for (const [how, rows, owner, suspended] of [
    ["replica role: the key stays", 100_000, false, false],
    ["per-row checks, 14 % of live's rows: the key is checked once", 100_000, true, true],
    ["per-row checks, 3 % of live's rows: the key checks each row", 400_000, true, false],
  ] as const) {
    it(`merge: 12,500 rows re-inserted into ${rows} with a foreign key; ${how}`, async () => {
      const db = await incident(
        "DELETE FROM likes WHERE id % 8 = 0 AND id <= 100000;",
        `CREATE TABLE likes (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));
         INSERT INTO likes SELECT g, 1 + g % 200 FROM generate_series(1, ${rows}) g;`,
      );
      const key = "SELECT oid FROM pg_constraint WHERE conname = 'likes_user_id_fkey'";
      const before = (await pair.live.query(db, key)).rows;
      const env = owner ? { ...pair.env(db), LIVE_URL: await asOwner(db) } : pair.env(db);
      const r = await runPromote(
        env,
        "--mode",
        "merge",
        "--tables",
        "public.likes",
        "--confirm",
        confirmFor(db),
      );
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, new RegExp(`re-validated ${suspended ? 1 : 0} foreign keys`));
      // Dropped and added back, the key is a new constraint; kept, the same one.
      const after = (await pair.live.query(db, key)).rows;
      assert.equal(after.length, 1);
      assert.equal(after[0].oid === before[0].oid, !suspended);
      assert.deepEqual(await rowsOf(pair.live, db, "likes"), await rowsOf(pair.ptr, db, "likes"));
    });
  }

  /**
   * A URL of live's `db` for a role that owns its tables but is no superuser (so may not set
   * session_replication_role), as an app's owner role on a managed service may be.
   */
  async function asOwner(db: string): Promise<string> {
    await pair.live.query(
      db,
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgr_app_owner') THEN
           CREATE ROLE pgr_app_owner LOGIN PASSWORD 'owner-pw';
         END IF;
       END $$;
       DO $$ DECLARE r record; BEGIN
         FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
                   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') LOOP
           EXECUTE format('ALTER TABLE %s OWNER TO pgr_app_owner', r.t);
         END LOOP;
       END $$;`,
    );
    const u = new URL(pair.live.url(db));
    u.username = "pgr_app_owner";
    u.password = "owner-pw";
    return u.toString();
  }

  it("a table whose row-level security hides rows from the role: plan and write refuse, with the fix", async () => {
    // Without row_security = off the role would read half of posts on each side and repair
    // that half, exit 0.
    const db = await incident(
      "DELETE FROM comments WHERE post_id % 10 = 0; DELETE FROM posts WHERE id % 10 = 0;",
      "ALTER TABLE posts ENABLE ROW LEVEL SECURITY; CREATE POLICY even ON posts USING (id % 2 = 0);",
    );
    const before = await fingerprint(pair.live.url(db));
    const env = {
      ...pair.env(db),
      LIVE_URL: await asReader(pair.live, db),
      PTR_URL: await asReader(pair.ptr, db),
    };
    const merge = ["--mode", "merge", "--tables", "public.posts", "--confirm", confirmFor(db)];
    for (const args of [["--plan", "--tables", "public.posts"], merge]) {
      const r = await run(env, ...args);
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        /row-level security would hide rows of these tables from this role \(on the PTR .*: public\.posts; on live .*: public\.posts\), .* Connect as a role that sees every row \(the table's owner, or a role with BYPASSRLS\)/,
      );
      assert.doesNotMatch(r.err, /compared public\./); // before any table was read
    }
    await unchanged(db, before);
  });

  it("a role that may write the rows but not alter the tables nor create the incident's schema: plan and write refuse, with the fix", async () => {
    // posts has a user trigger; comments has a foreign key into posts; tables keeps the rows it
    // replaces in a schema it creates. Before, the plan passed and the write failed on "must be
    // owner of table posts" (or "permission denied for database") and rolled back.
    const db = await incident(
      "DELETE FROM comments WHERE post_id % 10 = 0; DELETE FROM posts WHERE id % 10 = 0;",
    );
    const before = await fingerprint(pair.live.url(db));
    const env = {
      ...pair.env(db),
      LIVE_URL: await asReader(pair.live, db),
      PTR_URL: await asReader(pair.ptr, db),
    };
    const alter =
      /the role pgr_reader may not alter public\.comments \(owned by \w+\), public\.posts \(owned by \w+\): .* Run promote as the owner, or make pgr_reader a member of the owner's role: GRANT "\w+" TO "pgr_reader";/;
    const keep = new RegExp(
      `the role pgr_reader may not create schemas in database ${db}: tables keeps the rows it replaces in the incident's schema pgr_20250601t120000z_replaced\\. Run promote as a role that may, or grant it: GRANT CREATE ON DATABASE "${db}" TO "pgr_reader";`,
    );
    const expected = { tables: [alter, keep], merge: [alter] };
    const plan = await run(env, "--plan", "--tables", "public.posts", "--json");
    assert.equal(plan.code, 0, plan.err);
    for (const mode of ["tables", "merge"] as const) {
      const refusals: string[] = JSON.parse(plan.out).modes.find(
        (x: { mode: string }) => x.mode === mode,
      ).refusals;
      assert.equal(refusals.length, expected[mode].length, `${mode}: ${refusals.join("; ")}`);
      refusals.forEach((line, i) => assert.match(line, expected[mode][i]));
      const r = await run(
        env,
        "--mode",
        mode,
        "--tables",
        "public.posts",
        "--confirm",
        confirmFor(db),
      );
      assert.equal(r.code, 1, r.err);
      assert.ok(
        r.err.includes(`refused, nothing was written (${mode} mode):\n  ${refusals.join("\n  ")}`),
        r.err,
      );
    }
    await unchanged(db, before);
  });

  it("a role that may not read a table: the plan stops before comparing any, naming it and the grants", async () => {
    const db = await incident("DELETE FROM tags;");
    const env = {
      ...pair.env(db),
      LIVE_URL: await asReader(pair.live, db),
      PTR_URL: await asReader(pair.ptr, db),
    };
    await pair.live.query(db, "REVOKE SELECT ON tags FROM pgr_reader");
    const r = await run(env, "--plan");
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /this role \(pgr_reader\) may not read these tables \(on live .*: public\.tags\): .* GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "pgr_reader";/,
    );
    assert.doesNotMatch(r.err, /compared public\./);
  });

  it("whole as a role that may neither create databases nor rename live's: plan and write refuse, with the fix", async () => {
    // Before, the plan passed and the write stopped on "permission denied to create database".
    const db = await incident(
      "DELETE FROM comments WHERE post_id % 10 = 0; DELETE FROM posts WHERE id % 10 = 0;",
    );
    const env = {
      ...pair.env(db),
      LIVE_URL: await asReader(pair.live, db),
      PTR_URL: await asReader(pair.ptr, db),
    };
    const expected = [
      /^the role pgr_reader may not create databases: .* ALTER ROLE "pgr_reader" CREATEDB;$/,
      new RegExp(
        `^the role pgr_reader does not own database ${db} \\(owned by \\w+\\): whole keeps it under another name, and only its owner may rename it\\. .* GRANT "\\w+" TO "pgr_reader";$`,
      ),
    ];
    const databases = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database";
    const before = await scalar<string>(pair.live, db, databases);
    const plan = await run(env, "--plan", "--json");
    assert.equal(plan.code, 0, plan.err);
    const refusals: string[] = JSON.parse(plan.out).modes.find(
      (x: { mode: string }) => x.mode === "whole",
    ).refusals;
    assert.equal(refusals.length, 2, refusals.join("; "));
    refusals.forEach((line, i) => assert.match(line, expected[i]));
    const r = await run(env, "--mode", "whole", "--confirm", confirmFor(db));
    assert.equal(r.code, 1, r.err);
    assert.ok(
      r.err.includes(`refused, nothing was written (whole mode):\n  ${refusals.join("\n  ")}`),
      r.err,
    );
    assert.equal(await scalar<string>(pair.live, db, databases), before);
  });

  it("tables as the tables' owner: refused when the incident's schema is another role's, written under another --incident", async () => {
    const db = await incident("UPDATE posts SET title = 'oops' WHERE id % 10 = 0;");
    const env = { ...pair.env(db), LIVE_URL: await asOwner(db) };
    await pair.live.query(
      db,
      `GRANT CREATE ON DATABASE ${db} TO pgr_app_owner; CREATE SCHEMA pgr_20250601t120000z_replaced;`,
    );
    const before = await fingerprint(pair.live.url(db));
    const args = ["--tables", "public.posts", "--confirm", confirmFor(db)];
    const r = await run(env, "--mode", "tables", ...args);
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err,
      /refused, nothing was written \(tables mode\):\n {2}the incident's schema pgr_20250601t120000z_replaced belongs to \w+, not to the role pgr_app_owner: .* or name another incident \(--incident\)/,
    );
    assert.deepEqual(await fingerprint(pair.live.url(db)), before, "live changed");
    const again = await run(env, "--mode", "tables", ...args, "--incident", "second");
    assert.equal(again.code, 0, again.err);
    assert.match(
      again.out,
      /public\.posts +1,000 +0 +100 +50 +150 in pgr_second_replaced\.public__posts/,
    );
  });

  describe("keys the written rows can collide on: the plan says what the write does", () => {
    // Mailing list with a partial unique index on an expression; bookings with an exclusion
    // constraint; newsletters referencing users by e-mail (a foreign key on a unique key).
    const KEYED = `
      CREATE TABLE mailing (id serial PRIMARY KEY, email text NOT NULL, unsubscribed_at timestamptz);
      CREATE UNIQUE INDEX mailing_active_email ON mailing (lower(email)) WHERE unsubscribed_at IS NULL;
      INSERT INTO mailing (email, unsubscribed_at)
      SELECT 'm' || g || '@example.com', CASE WHEN g % 4 = 0 THEN timestamptz '2025-05-01 00:00+00' END
        FROM generate_series(1, 10) g;
      CREATE TABLE bookings (
        id serial PRIMARY KEY,
        during tstzrange NOT NULL,
        CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
      );
      INSERT INTO bookings (during)
      SELECT tstzrange(timestamptz '2025-05-01 00:00+00' + g * interval '1 hour',
                       timestamptz '2025-05-01 00:00+00' + (g + 1) * interval '1 hour')
        FROM generate_series(1, 10) g;
      CREATE TABLE newsletters (
        id serial PRIMARY KEY,
        email text NOT NULL REFERENCES users (email) ON UPDATE CASCADE
      );
      INSERT INTO newsletters (email) VALUES ('u1@example.com'), ('u2@example.com');
      CREATE TABLE digests (
        id int PRIMARY KEY,
        email text NOT NULL REFERENCES users (email) ON UPDATE CASCADE
      ) PARTITION BY RANGE (id);
      CREATE TABLE digests_low PARTITION OF digests FOR VALUES FROM (0) TO (100);
      INSERT INTO digests VALUES (1, 'u1@example.com');`;

    it("tables: unique values swapped between rows after T; the plan says the key is rebuilt, the write does it", async () => {
      const db = await incident(
        `UPDATE users SET email = 'swap' WHERE id = 1;
         UPDATE users SET email = 'u1@example.com' WHERE id = 2;
         UPDATE users SET email = 'u2@example.com' WHERE id = 1;
         COMMENT ON CONSTRAINT users_email_key ON users IS 'one address per user';
         ALTER TABLE users REPLICA IDENTITY USING INDEX users_email_key;
         ALTER TABLE users CLUSTER ON users_email_key;`,
        KEYED,
      );
      const keys = (await pair.live.query(db, KEYS)).rows;
      const FACTS = `SELECT obj_description(c.oid, 'pg_constraint') AS comment, i.indisreplident,
                            i.indisclustered, t.relreplident
                       FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
                       JOIN pg_class t ON t.oid = c.conrelid WHERE c.conname = 'users_email_key'`;
      const facts = (await pair.live.query(db, FACTS)).rows;
      assert.deepEqual(facts, [
        {
          comment: "one address per user",
          indisreplident: true,
          indisclustered: true,
          relreplident: "i",
        },
      ]);
      const newsletters = await rowsOf(pair.live, db, "newsletters");
      const digests = await rowsOf(pair.live, db, "digests");
      const plan: Plan = await planFor(db, "public.users");
      const notes = modeOf(plan, "tables").notes;
      assert.equal(notes.length, 1, notes.join("\n"));
      assert.match(notes[0], /^users_email_key \(unique public\.users \(email\)\): 2 rows at T/);
      assert.match(
        notes[0],
        /\(1\) \(u1@example\.com\) held by \(2\), \(2\) \(u2@example\.com\) held by \(1\)/,
      );
      assert.match(
        notes[0],
        /digests_email_fkey on public\.digests, newsletters_email_fkey on public\.newsletters/,
      );
      assert.deepEqual(modeOf(plan, "tables").refusals, []);
      const text = await run(pair.env(db), "--plan", "--tables", "public.users");
      assert.ok(text.out.includes(`\n    ${notes[0]}\n`), text.out);

      const r = await write(db, "tables", "public.users", "--json");
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out).keysRebuilt, notes);
      assert.deepEqual(await rowsOf(pair.live, db, "users"), await rowsOf(pair.ptr, db, "users"));
      // Outside the chosen table nothing changed; the key and the foreign key on it are back as
      // they were, and they hold.
      assert.deepEqual(await rowsOf(pair.live, db, "newsletters"), newsletters);
      assert.deepEqual(await rowsOf(pair.live, db, "digests"), digests);
      assert.deepEqual((await pair.live.query(db, KEYS)).rows, keys);
      assert.deepEqual((await pair.live.query(db, FACTS)).rows, facts);
      await assert.rejects(
        pair.live.query(db, "UPDATE users SET email = 'u1@example.com' WHERE id = 3"),
        /users_email_key/,
      );
    });

    it("merge: a re-inserted row collides on a partial unique index; the plan predicts the refusal the write makes", async () => {
      // Row 2 (active) is deleted and the app re-subscribes the address, in another case; row 4
      // (unsubscribed at T, outside the index) and row 3 come back without colliding.
      const db = await incident(
        `DELETE FROM mailing WHERE id IN (2, 3, 4);
         INSERT INTO mailing (email) VALUES ('M2@Example.com'), ('m4@example.com');`,
        KEYED,
      );
      const before = await fingerprint(pair.live.url(db));
      const rows = await rowsOf(pair.live, db, "mailing");
      const plan: Plan = await planFor(db, "public.mailing");
      const refusals = modeOf(plan, "merge").refusals;
      assert.equal(refusals.length, 1, refusals.join("\n"));
      assert.match(
        refusals[0],
        /^mailing_active_email \(unique public\.mailing \(lower\(email\)\) WHERE \(unsubscribed_at IS NULL\)\): 1 rows to re-insert collide/,
      );
      assert.match(refusals[0], /\(2\) \(m2@example\.com\) held by \(11\)/);
      assert.match(refusals[0], /way out: --mode tables for public\.mailing/);
      const text = await run(pair.env(db), "--plan", "--tables", "public.mailing");
      assert.ok(text.out.includes(`\n    WOULD BE REFUSED: ${refusals[0]}\n`), text.out);

      const r = await write(db, "merge", "public.mailing");
      assert.equal(r.code, 1);
      assert.equal(
        r.err
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l === refusals[0]).length,
        1,
        r.err,
      );
      assert.match(r.err, /nothing was written/);
      assert.deepEqual(await rowsOf(pair.live, db, "mailing"), rows);
      await unchanged(db, before);

      // The way out works as the plan says: tables rebuilds the index around the rows at T.
      const notes = modeOf(plan, "tables").notes;
      assert.match(notes.join("\n"), /mailing_active_email .*: 1 rows at T take a value/);
      const indexes = (await pair.live.query(db, INDEXES)).rows;
      const t = await write(db, "tables", "public.mailing", "--json");
      assert.equal(t.code, 0, t.err);
      assert.deepEqual(JSON.parse(t.out).keysRebuilt, notes);
      assert.deepEqual(
        await rowsOf(pair.live, db, "mailing"),
        await rowsOf(pair.ptr, db, "mailing"),
      );
      assert.deepEqual((await pair.live.query(db, INDEXES)).rows, indexes);
    });

    it("an exclusion constraint: merge refused as planned, tables rebuilds it as planned", async () => {
      const db = await incident(
        `DELETE FROM bookings WHERE id = 3;
         INSERT INTO bookings (during) VALUES (tstzrange('2025-05-01 03:30+00', '2025-05-01 03:45+00'));`,
        KEYED,
      );
      const before = await fingerprint(pair.live.url(db));
      const plan: Plan = await planFor(db, "public.bookings");
      const [refusal] = modeOf(plan, "merge").refusals;
      assert.match(
        refusal,
        /^bookings_no_overlap \(exclusion public\.bookings \(during WITH &&\)\): 1 rows/,
      );
      assert.match(
        refusal,
        /\(3\) \(\["2025-05-01 03:00:00\+00","2025-05-01 04:00:00\+00"\)\) held by \(11\)/,
      );
      const m = await write(db, "merge", "public.bookings");
      assert.equal(m.code, 1);
      assert.ok(m.err.includes(refusal), m.err);
      await unchanged(db, before);

      const t = await write(db, "tables", "public.bookings", "--json");
      assert.equal(t.code, 0, t.err);
      assert.deepEqual(JSON.parse(t.out).keysRebuilt, modeOf(plan, "tables").notes);
      assert.deepEqual(
        await rowsOf(pair.live, db, "bookings"),
        await rowsOf(pair.ptr, db, "bookings"),
      );
    });

    it("a unique key on a generated column: computed for the staged rows, merge refused as planned", async () => {
      const db = await incident(
        "DELETE FROM handles WHERE id = 2; INSERT INTO handles (handle) VALUES ('H2');",
        `CREATE TABLE handles (
           id serial PRIMARY KEY,
           handle text NOT NULL,
           handle_key text GENERATED ALWAYS AS (lower(handle)) STORED UNIQUE
         );
         INSERT INTO handles (handle) SELECT 'h' || g FROM generate_series(1, 5) g;`,
      );
      const before = await fingerprint(pair.live.url(db));
      const plan: Plan = await planFor(db, "public.handles");
      const [refusal] = modeOf(plan, "merge").refusals;
      assert.match(refusal, /^handles_handle_key_key .*: 1 rows .*\(2\) \(h2\) held by \(6\)/);
      const r = await write(db, "merge", "public.handles");
      assert.equal(r.code, 1);
      assert.ok(r.err.includes(`\n  ${refusal}`), r.err);
      await unchanged(db, before);
    });

    it("a CHECK added NOT VALID that rows at T break: both modes refused as planned, naming the rows", async () => {
      const db = await incident(
        "DELETE FROM prices WHERE id IN (2, 9); UPDATE prices SET pence = 5 WHERE id = 10;",
        `CREATE TABLE prices (id int PRIMARY KEY, pence int NOT NULL);
         INSERT INTO prices SELECT g, g * 10 FROM generate_series(1, 10) g;
         ALTER TABLE prices ADD CONSTRAINT prices_pence_small CHECK (pence < 80) NOT VALID;`,
      );
      const before = await fingerprint(pair.live.url(db));
      const plan: Plan = await planFor(db, "public.prices");
      // Row 8 breaks it too but is the same on live: neither mode writes it.
      const expected = {
        merge:
          /^prices_pence_small \(check public\.prices: \(pence < 80\), NOT VALID\): 1 rows at T to re-insert break it .*rows \(key\): \(9\); way out/,
        tables:
          /^prices_pence_small .*: 2 rows at T to write back break it .*rows \(key\): \(9\), \(10\); way out/,
      };
      for (const mode of ["merge", "tables"] as const) {
        const [refusal, ...more] = modeOf(plan, mode).refusals;
        assert.deepEqual(more, []);
        assert.match(refusal, expected[mode]);
        const r = await write(db, mode, "public.prices");
        assert.equal(r.code, 1);
        assert.ok(r.err.includes(`\n  ${refusal}`), r.err);
        await unchanged(db, before);
      }
    });

    it("names as the plan prints them: mixed case bare, quoted, and ambiguous ones refused with both", async () => {
      const db = await incident(
        `DELETE FROM "__EFMigrationsHistory"; DELETE FROM "Odd.Name";`,
        `CREATE TABLE "__EFMigrationsHistory" ("MigrationId" text PRIMARY KEY, "ProductVersion" text);
         INSERT INTO "__EFMigrationsHistory" VALUES ('20200101_Init', '3.1'), ('20200202_More', '3.1');
         CREATE TABLE "Odd.Name" (id int PRIMARY KEY); INSERT INTO "Odd.Name" VALUES (1), (2);
         CREATE TABLE "Twin" (id int PRIMARY KEY); CREATE TABLE twin (id int PRIMARY KEY);`,
      );
      const plan = await run(pair.env(db), "--plan");
      assert.equal(plan.code, 0, plan.err);
      assert.match(plan.out, /^ {2}public\.__EFMigrationsHistory /m);
      assert.match(plan.out, /^ {2}public\."Odd\.Name" /m);
      for (const typed of [
        'public.__EFMigrationsHistory,public."Odd.Name"',
        '"public"."__EFMigrationsHistory",public."Odd.Name"',
        '__efmigrationshistory,"Odd.Name"',
      ]) {
        const p = await run(pair.env(db), "--plan", "--tables", typed, "--json");
        assert.equal(p.code, 0, p.err);
        assert.deepEqual(
          JSON.parse(p.out).chosen,
          ["public.__EFMigrationsHistory", 'public."Odd.Name"'],
          typed,
        );
      }
      const twin = await write(db, "merge", "public.TWIN");
      assert.equal(twin.code, 1);
      assert.match(twin.err, /public\.TWIN is ambiguous: public\.Twin, public\.twin/);
      const r = await write(db, "merge", 'public.__EFMigrationsHistory,public."Odd.Name"');
      assert.equal(r.code, 0, r.err);
      for (const t of ['"__EFMigrationsHistory"', '"Odd.Name"']) {
        assert.deepEqual(await rowsOf(pair.live, db, t), await rowsOf(pair.ptr, db, t));
      }
    });
  });

  describe("a bulk insert rebuilds the table's indexes: the plan says so, the rebuild restores them", () => {
    // 12,000 rows (above the rebuild's threshold), every kind of index, comments, replica
    // identity, a cluster mark and foreign keys from another table into two of its keys.
    const BULK = `
      CREATE TABLE ledger (
        id bigint PRIMARY KEY,
        ref text NOT NULL CONSTRAINT ledger_ref UNIQUE,
        amount int NOT NULL,
        span tstzrange NOT NULL,
        CONSTRAINT ledger_no_overlap EXCLUDE USING gist (span WITH &&)
      );
      CREATE UNIQUE INDEX ledger_big_ref ON ledger (lower(ref)) WHERE amount > 100;
      CREATE INDEX ledger_amount ON ledger (amount DESC) WITH (fillfactor = 80);
      COMMENT ON INDEX ledger_amount IS 'by amount';
      COMMENT ON CONSTRAINT ledger_ref ON ledger IS 'the reference';
      ALTER TABLE ledger REPLICA IDENTITY USING INDEX ledger_ref;
      ALTER TABLE ledger CLUSTER ON ledger_amount;
      INSERT INTO ledger
      SELECT g, 'R' || g, g % 1000,
             tstzrange(timestamptz '2025-01-01 00:00+00' + g * interval '1 minute',
                       timestamptz '2025-01-01 00:00+00' + (g + 1) * interval '1 minute')
        FROM generate_series(1, 12000) g;
      CREATE TABLE ledger_links (
        id serial PRIMARY KEY,
        ledger_id bigint REFERENCES ledger (id) ON DELETE SET NULL,
        ledger_ref text CONSTRAINT ledger_links_ref REFERENCES ledger (ref) ON DELETE SET NULL
      );
      INSERT INTO ledger_links (ledger_id, ledger_ref) SELECT g, 'R' || g FROM generate_series(1, 30) g;`;
    /** Every definition a rebuild must put back, as the catalog prints it. */
    const DEFS = `
      SELECT 'index ' || indexname || ': ' || indexdef || ' -- ' ||
             coalesce(obj_description((quote_ident(schemaname) || '.' || quote_ident(indexname))::regclass, 'pg_class'), '') AS d
        FROM pg_indexes WHERE schemaname = 'public'
      UNION ALL
      SELECT 'constraint ' || conname || ' on ' || conrelid::regclass || ': ' || pg_get_constraintdef(oid) ||
             ' valid ' || convalidated || ' -- ' || coalesce(obj_description(oid, 'pg_constraint'), '')
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      UNION ALL
      SELECT 'replica identity ' || c.relname || ': ' || c.relreplident::text ||
             coalesce(' ' || (SELECT string_agg(i.indexrelid::regclass::text, ',') FROM pg_index i
                               WHERE i.indrelid = c.oid AND i.indisreplident), '') ||
             coalesce(' clustered ' || (SELECT string_agg(i.indexrelid::regclass::text, ',') FROM pg_index i
                               WHERE i.indrelid = c.oid AND i.indisclustered), '')
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      ORDER BY 1`;

    for (const mode of ["tables", "merge"]) {
      it(`${mode}: a table that lost every row after T, through the drop and rebuild`, async () => {
        const db = await incident("DELETE FROM ledger;", BULK);
        const defs = (await pair.live.query(db, DEFS)).rows;
        const all = JSON.stringify(defs);
        for (const x of [
          "-- by amount",
          "-- the reference",
          "ledger: i ledger_ref clustered ledger_amount",
          "ledger_links_ref on ledger_links: FOREIGN KEY",
        ]) {
          assert.ok(all.includes(x), `${x} in ${all}`);
        }
        const plan: Plan = JSON.parse(
          (await run(pair.env(db), "--plan", "--tables", "public.ledger", "--json")).out,
        );
        const notes = modeOf(plan, mode).notes;
        assert.equal(notes.length, 1, notes.join("\n"));
        assert.match(
          notes[0],
          /^public\.ledger: 12000 rows to insert into 0 live rows; the write drops its 5 indexes and keys \(ledger_amount, ledger_big_ref, ledger_no_overlap, ledger_pkey, ledger_ref\) and the foreign keys that reference them \(ledger_links_ledger_id_fkey on public\.ledger_links, ledger_links_ref on public\.ledger_links\)/,
        );
        assert.deepEqual(modeOf(plan, mode).refusals, []);
        const text = await run(pair.env(db), "--plan", "--tables", "public.ledger");
        assert.ok(text.out.includes(notes[0]), text.out);

        const r = await write(db, mode, "public.ledger", "--json");
        assert.equal(r.code, 0, r.err);
        const result = JSON.parse(r.out);
        assert.deepEqual(result.indexesRebuilt, notes);
        assert.deepEqual(result.keysRebuilt, []);
        assert.deepEqual(
          await rowsOf(pair.live, db, "ledger"),
          await rowsOf(pair.ptr, db, "ledger"),
        );
        assert.deepEqual((await pair.live.query(db, DEFS)).rows, defs);
        // Loaded frozen into the emptied table: every page holding rows all-visible (the index
        // builds count them; PostgreSQL 16+ also extends the table by empty pages, which are
        // not), so nothing rewrites the pages later and the foreign keys' checks can read the
        // indexes alone.
        const pages = (
          await pair.live.query(
            db,
            `SELECT (SELECT relallvisible FROM pg_class WHERE oid = 'public.ledger'::regclass) AS visible,
                    (SELECT count(DISTINCT (ctid::text::point)[0])::int FROM public.ledger) AS held`,
          )
        ).rows[0];
        assert.ok(pages.held > 10, JSON.stringify(pages));
        assert.ok(pages.visible >= pages.held, JSON.stringify(pages));
      });
    }

    it("a table loaded frozen validates its foreign key on indexed columns by merging the indexes", async () => {
      const db = await incident(
        "DELETE FROM visits;",
        `CREATE TABLE visits (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));
         CREATE INDEX visits_user ON visits (user_id);
         INSERT INTO visits SELECT g, 1 + g % 200 FROM generate_series(1, 12000) g;`,
      );
      const r = await write(db, "tables", "public.visits");
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /validating visits_user_id_fkey by merging the indexes/);
      assert.deepEqual(await rowsOf(pair.live, db, "visits"), await rowsOf(pair.ptr, db, "visits"));
      const key = await pair.live.query(
        db,
        "SELECT convalidated FROM pg_constraint WHERE conname = 'visits_user_id_fkey'",
      );
      assert.deepEqual(key.rows, [{ convalidated: true }]);
    });

    it("a small insert keeps the indexes: no rebuild planned or done", async () => {
      const db = await incident("DELETE FROM ledger WHERE id <= 50;", BULK);
      const plan: Plan = JSON.parse(
        (await run(pair.env(db), "--plan", "--tables", "public.ledger", "--json")).out,
      );
      assert.deepEqual(modeOf(plan, "merge").notes, []);
      const r = await write(db, "merge", "public.ledger", "--json");
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out).indexesRebuilt, []);
      assert.equal(JSON.parse(r.out).tables[0].inserted, 50);
    });
  });

  describe("refusals before anything is touched", () => {
    it("a missing or wrong --confirm, and usage mistakes", async () => {
      const db = await incident("DELETE FROM tags;");
      const before = await fingerprint(pair.live.url(db));
      const missing = await run(pair.env(db), "--mode", "merge", "--tables", "public.tags");
      assert.equal(missing.code, 1);
      assert.match(missing.err, new RegExp(`--confirm 127\\.0\\.0\\.1/${db}`));
      const wrong = await run(pair.env(db), "--mode", "whole", "--confirm", "127.0.0.1/other");
      assert.equal(wrong.code, 1);
      assert.match(wrong.err, /does not match live/);
      const empty = await run(pair.env(db), "--mode", "tables", "--confirm", confirmFor(db));
      assert.equal(empty.code, 2);
      assert.match(empty.err, /needs --tables/);
      const blank = await write(db, "tables", "");
      assert.equal(blank.code, 2);
      const mode = await run(pair.env(db), "--mode", "partial", "--confirm", confirmFor(db));
      assert.equal(mode.code, 2);
      // Each side named as promote's flags name it (--from-*, --to-*), not as verify's.
      const noLive = await run({ ...pair.env(db), LIVE_URL: "" }, "--plan");
      assert.equal(noLive.code, 2);
      assert.match(noLive.err, /LIVE_URL \(live's URL\) is not set: .* --to-env/);
      const noDb = await run(
        { ...pair.env(db), PTR_URL: pair.ptr.url(db).replace(/\/[^/?]*$/, "") },
        "--plan",
      );
      assert.equal(noDb.code, 2);
      assert.match(noDb.err, /the PTR: no database in the connection URL .* pass --from-name/);
      assert.doesNotMatch(`${noLive.err}${noDb.err}`, /target|source/);
      await unchanged(db, before);
    });
  });
});
