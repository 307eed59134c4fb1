/**
 * promote against two real PostgreSQL servers (the PTR at T, and live with writes after T and a
 * corruption): --plan's numbers for every mode, and the refusals before anything is touched. Each
 * mode's end state is modes.test.ts.
 */
import assert from "node:assert/strict";
import { confirmFor, fingerprint, pick, runPromote, useIncident } from "./fixture";

describe("promote (real PostgreSQL): the plan and the refusals", function () {
  this.timeout(180_000);
  const { pair, incident, unchanged } = useIncident();
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
      const blank = await run(
        pair.env(db),
        "--mode",
        "tables",
        "--tables",
        "",
        "--confirm",
        confirmFor(db),
      );
      assert.equal(blank.code, 2);
      const mode = await run(pair.env(db), "--mode", "partial", "--confirm", confirmFor(db));
      assert.equal(mode.code, 2);
      await unchanged(db, before);
    });
  });
});
