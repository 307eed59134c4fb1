/**
 * Two real PostgreSQL servers standing in for the point-in-time restore (state at T) and live
 * (state at T, then the app's writes after T, then a corruption), with an app-like schema, and
 * independent fingerprints (row count + md5 of the sorted row texts per table) to compare them;
 * and the promote CLI run against them.
 */
import assert from "node:assert/strict";
import { Client } from "pg";
import { main } from "../../../datapath/cli";
import { promote, PromoteOptions, PromoteOutcome } from "../../../datapath/promote/promote";
import { PG_BIN, PgServer, startPostgres } from "../../support/postgres";

export const RESTORE_TARGET = "2025-06-01T13:00:00+01:00"; // 12:00Z; every seed time is earlier

/** The state at T: identical on both servers. */
export const SEED = `
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE posts (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX posts_user_idx ON posts (user_id);
CREATE TABLE comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  post_id bigint NOT NULL REFERENCES posts (id),
  body text,
  created_at timestamptz NOT NULL
);
CREATE TABLE tags (name text PRIMARY KEY, uses int NOT NULL DEFAULT 0);
CREATE TABLE audit_log (at timestamptz NOT NULL, msg text);
CREATE TABLE subscribers (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE settings (
  key text PRIMARY KEY,
  value jsonb,
  words tsvector GENERATED ALWAYS AS (to_tsvector('simple', key)) STORED
);
-- An app trigger: it would stamp restored rows with the time of the copy.
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();

INSERT INTO users (email, name, created_at, updated_at)
SELECT 'u' || g || '@example.com', 'User ' || g || ' Zoë ☕',
       timestamptz '2025-05-01 00:00+00' + g * interval '1 minute',
       timestamptz '2025-05-02 00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 200) g;
INSERT INTO posts (user_id, title, created_at, updated_at)
SELECT 1 + g % 200, 'Post ' || g || repeat(' lorem', g % 40),
       timestamptz '2025-05-03 00:00+00' + g * interval '1 minute',
       timestamptz '2025-05-04 00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 1000) g;
INSERT INTO comments (post_id, body, created_at)
SELECT 1 + g % 1000, CASE WHEN g % 7 = 0 THEN NULL ELSE 'comment ' || g END,
       timestamptz '2025-05-05 00:00+00' + g * interval '1 second'
  FROM generate_series(1, 3000) g;
INSERT INTO tags (name, uses) SELECT 'tag-' || g || CASE WHEN g % 5 = 0 THEN ' 日本' ELSE '' END, g FROM generate_series(1, 50) g;
INSERT INTO audit_log SELECT timestamptz '2025-05-06 00:00+00' + g * interval '1 hour', 'event ' || g FROM generate_series(1, 100) g;
INSERT INTO subscribers (email) SELECT 's' || g || '@example.com' FROM generate_series(1, 10) g;
INSERT INTO settings (key, value) SELECT 'key' || g, jsonb_build_object('g', g) FROM generate_series(1, 10) g;
`;

/** The app keeps writing after T, in every table. */
export const AFTER_T = `
INSERT INTO users (email, name, created_at, updated_at)
SELECT 'new' || g || '@example.com', 'New ' || g, timestamptz '2025-06-01 12:05+00' + g * interval '1 s',
       timestamptz '2025-06-01 12:05+00' + g * interval '1 s'
  FROM generate_series(1, 20) g;
UPDATE users SET name = name || ' (edited)', updated_at = timestamptz '2025-06-01 12:10+00' WHERE id BETWEEN 11 AND 15;
INSERT INTO posts (user_id, title, created_at, updated_at)
SELECT 1 + g % 200, 'After T ' || g, timestamptz '2025-06-01 12:06+00', timestamptz '2025-06-01 12:06+00'
  FROM generate_series(1, 50) g;
INSERT INTO comments (post_id, body, created_at)
SELECT 1 + g % 1000, 'late ' || g, timestamptz '2025-06-01 12:07+00' FROM generate_series(1, 100) g;
INSERT INTO audit_log SELECT timestamptz '2025-06-01 12:08+00', 'after ' || g FROM generate_series(1, 30) g;
UPDATE tags SET uses = uses + 1000 WHERE name = 'tag-1';
INSERT INTO settings (key, value) VALUES ('late', '{"after": true}');
`;

export interface Pair {
  ptr: PgServer;
  live: PgServer;
  /** A fresh database on both servers, seeded with the state at T. */
  fresh(extraSeed?: string): Promise<string>;
  env(db: string, ptrDb?: string): NodeJS.ProcessEnv;
}

export function usePair(): Pair {
  let ptr: PgServer | undefined;
  let live: PgServer | undefined;
  let seq = 0;
  before(async () => {
    [ptr, live] = await Promise.all([startPostgres(), startPostgres()]);
  });
  after(async () => {
    await Promise.all([ptr?.stop(), live?.stop()]);
  });
  return {
    get ptr() {
      return ptr!;
    },
    get live() {
      return live!;
    },
    async fresh(extraSeed = "") {
      const db = `app_${++seq}`;
      for (const s of [ptr!, live!]) {
        await s.createDatabase(db);
        await s.query(db, SEED + extraSeed);
      }
      return db;
    },
    env(db, ptrDb = db) {
      return {
        ...process.env,
        PG_BIN,
        PTR_URL: ptr!.url(ptrDb),
        LIVE_URL: live!.url(db),
        PG_RECOVERY_PROGRESS_MS: "0",
      };
    },
  };
}

export interface TablePrint {
  rows: number;
  md5: string;
}

/** Per user table: row count and md5 of the sorted row texts. Computed without the tool. */
export async function fingerprint(url: string): Promise<Map<string, TablePrint>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ q: string; key: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS q, n.nspname || '.' || c.relname AS key
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 2`,
    );
    const out = new Map<string, TablePrint>();
    for (const t of tables.rows) {
      const r = await c.query<{ n: string; h: string }>(
        `SELECT count(*)::text AS n, md5(coalesce(string_agg(x, E'\\n' ORDER BY x COLLATE "C"), '')) AS h
           FROM (SELECT t::text AS x FROM ONLY ${t.q} t) s`,
      );
      out.set(t.key, { rows: Number(r.rows[0].n), md5: r.rows[0].h });
    }
    const seqs = await c.query<{ q: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS q FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' ORDER BY 1`,
    );
    for (const s of seqs.rows) {
      const v = await c.query<{ v: string; c: boolean }>(
        `SELECT last_value::text AS v, is_called AS c FROM ${s.q}`,
      );
      out.set(`sequence ${s.q}`, { rows: Number(v.rows[0].v), md5: String(v.rows[0].c) });
    }
    return out;
  } finally {
    await c.end();
  }
}

export async function scalar<T = string>(s: PgServer, db: string, sql: string): Promise<T> {
  const r = await s.query(db, sql);
  return Object.values(r.rows[0])[0] as T;
}

/** The promote CLI against the pair (PTR_URL, LIVE_URL), restore target RESTORE_TARGET. */
export async function runPromote(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  let out = "";
  let err = "";
  const code = await main(
    [
      "promote",
      "--from-env",
      "PTR_URL",
      "--to-env",
      "LIVE_URL",
      "--restore-target",
      RESTORE_TARGET,
      ...args,
    ],
    { out: (s) => (out += s), err: (s) => (err += s), env },
  );
  return { code, out, err };
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

export const confirmFor = (db: string) => `127.0.0.1/${db}`;

/** Ends the sessions to `db` on `server` but this one (a connection lost mid-copy); `only` narrows them. */
export async function killSessions(
  server: PgServer,
  db: string,
  only = "pid <> pg_backend_pid()",
): Promise<void> {
  await server.query(
    "postgres",
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND ${only}`,
    [db],
  );
}

/**
 * The pair, plus an incident on it: live = T + writes after T + a corruption; and the check
 * that live is exactly as before and no incident schema was left.
 */
export function useIncident() {
  const pair = usePair();
  return {
    pair,
    async incident(corruption: string, extraSeed = ""): Promise<string> {
      const db = await pair.fresh(extraSeed);
      await pair.live.query(db, AFTER_T);
      await pair.live.query(db, corruption);
      return db;
    },
    /** promote() itself (not the CLI) from the PTR at T into live's `db`, confirmed; then `o`. */
    promoteInto(
      db: string,
      o: Pick<
        PromoteOptions,
        "mode" | "tables" | "onCopyChunk" | "log" | "pipeFrom" | "lockTimeoutMs" | "env"
      >,
    ): Promise<PromoteOutcome> {
      return promote({
        from: { env: "PTR_URL" },
        to: { env: "LIVE_URL" },
        restoreTarget: RESTORE_TARGET,
        confirm: confirmFor(db),
        env: pair.env(db),
        ...o,
      });
    },
    /** The write of `mode` for `tables` into `db`, confirmed by naming live; then `extra` flags. */
    write(db: string, mode: string, tables: string, ...extra: string[]): Promise<Run> {
      const confirm = confirmFor(db);
      return runPromote(
        pair.env(db),
        "--mode",
        mode,
        "--tables",
        tables,
        "--confirm",
        confirm,
        ...extra,
      );
    },
    async unchanged(db: string, before: Map<string, unknown>): Promise<void> {
      assert.deepEqual(await fingerprint(pair.live.url(db)), before, "live changed");
      const schemas = await scalar<string>(
        pair.live,
        db,
        "SELECT count(*)::text FROM pg_namespace WHERE nspname LIKE 'pgr_%'",
      );
      assert.equal(schemas, "0", "an incident schema was left behind");
    },
  };
}

export function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
