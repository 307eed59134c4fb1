/**
 * `whole`: live becomes the PTR database, copied straight from the PTR server into a fresh
 * database on the live server (no storage round trip), checked, then swapped in by rename with
 * the old database kept, as restore does (restore/swap.ts).
 *
 * The copy, all in one snapshot of the PTR database (the leader session exports it):
 *  1. `pg_dump --format=custom` of everything but the table rows (schema, sequence values,
 *     large objects, materialized view refreshes): small, written to a temp file;
 *  2. pg_restore's pre-data section into the fresh database (tables, no indexes yet; owners and
 *     grants as at T: the PTR server has the live server's roles);
 *  3. every table's rows streamed server to server, `jobs` tables at a time, largest first,
 *     `COPY ... TO STDOUT (FORMAT binary)` on the PTR side into `COPY ... FROM STDIN (FREEZE)`
 *     on the fresh database. A big table is piped from a psql child on the PTR into a psql
 *     child on live (libpq does the per-row work, which costs this process ~1 µs a row, and
 *     relaying the bytes cost it more than both psqls); a small one goes through sessions here
 *     (two psql starts cost ~150 ms, which dominates small tables). As soon as a big table's
 *     rows are in, the same worker builds its indexes and primary and unique keys (pg_restore
 *     of just those entries of the dump, so they are exactly pg_dump's) and ANALYZEs it, while
 *     the other workers still copy: the builds overlap the copies instead of all waiting for
 *     the last table (pgcopydb's schedule), and the table is read again while it is still
 *     cached;
 *  4. pg_restore's data section (sequence values, large objects) and then the rest of its
 *     post-data section with `-j jobs` (the small tables' indexes, foreign keys, triggers...),
 *     the foreign keys on indexed columns last, validated without hash joins
 *     (indexedForeignKeys says why);
 *  5. row counts of the fresh copy against the PTR snapshot's, and ANALYZE of the tables not
 *     analyzed yet.
 * Any failure before the swap drops the fresh database: live is untouched.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Client } from "pg";
import {
  connect,
  dbnameConninfo,
  describeTarget,
  ident,
  libpqEnv,
  literal,
  PgTarget,
} from "../postgres/connection";
import { runTool } from "../postgres/pgtools";
import { formatBytes, LogFn, Progress } from "../progress";
import { Interruption } from "../restore/interruption";
import {
  connectMaintenance,
  databaseExists,
  dropDatabase,
  freeName,
  inspectLive,
  LiveState,
  swapIn,
} from "../restore/swap";
import { fitIdentifier } from "../storage/naming";
import { copyBetween } from "./copy";
import type { TableModel } from "./catalog";
import { pipeFromPtr } from "./source";
import { leadsBtreeIndex, rowCount } from "./sql";

export interface WholeOptions {
  /** The PTR database. */
  ptr: PgTarget;
  /**
   * PTR sessions inside the snapshot the copy reads ([0] exported it and must stay open until
   * the end); small tables are streamed through them.
   */
  ptrSessions: Client[];
  /** The snapshot exported by ptrLeader; undefined when the server refused to export one. */
  snapshot?: string;
  /** User tables at T (their rows are copied). */
  tables: TableModel[];
  live: PgTarget;
  confirmed: boolean;
  /** Short tag for the derived database names (from the restore target). */
  tag: string;
  jobs: number;
  env: NodeJS.ProcessEnv;
  secrets: string[];
  log: LogFn;
  /** Session settings both COPY ends use (text renderings must agree for the text fallback). */
  sessionSettings: Readonly<Record<string, string>>;
  /**
   * Per chunk of a small table's rows; once, with 0 bytes, before a piped table's copy starts
   * (tests inject faults here; a promise holds the copy).
   */
  onCopyChunk?: (table: string, bytes: number) => void | Promise<void>;
  /** Tables from this size are piped psql to psql (default 16 MB; tests pipe small ones). */
  pipeFrom?: number;
}

export interface WholeResult {
  database: string;
  keptDatabase?: string;
  tables: number;
  rows: number;
  bytes: number;
  timings: { schema: number; copy: number; postData: number; verify: number; swap: number };
}

/** Tables from this size (pg_table_size) are piped psql to psql rather than through this process. */
const BIG_TABLE = 16 * 1024 * 1024;

type CopyFormat = "binary" | "text";

/** A pg_dump pattern matching exactly this table (quotes make every character literal). */
const exactPattern = (t: TableModel) =>
  `"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`;

export async function promoteWhole(o: WholeOptions): Promise<WholeResult> {
  const { log, live } = o;
  const db = live.database;
  const admin = await connectMaintenance(live);
  const interruption = new Interruption(log);
  const timings = { schema: 0, copy: 0, postData: 0, verify: 0, swap: 0 };
  const timed = async <T>(phase: keyof typeof timings, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const r = await fn();
    timings[phase] = (Date.now() - t) / 1000;
    return r;
  };
  let scratch: string | undefined;
  const tmp = fs.mkdtempSync(path.join(o.env.PG_RECOVERY_TMPDIR ?? os.tmpdir(), "pgr-promote-"));
  try {
    const liveState = await claimLive(admin, o);
    scratch = await clearedScratch(admin, o);
    const fresh: Fresh = { name: scratch, tmp, interruption };
    const schema = await timed("schema", () => copySchema(o, admin, fresh));
    const copied = await timed("copy", () => copyRows(o, fresh, schema));
    const atT = await timed("postData", () => finishSchema(o, fresh, schema, copied.early));
    await timed("verify", () => verifyCopy(o, fresh, copied, atT));
    const kept = await timed("swap", () => swapFresh(admin, o, fresh, liveState));
    scratch = undefined;
    return {
      database: db,
      keptDatabase: kept,
      tables: o.tables.length,
      rows: [...copied.rows.values()].reduce((a, b) => a + b, 0),
      bytes: o.tables.reduce((a, x) => a + x.bytes, 0),
      timings,
    };
  } catch (e) {
    // The name is chosen before the copy exists: a failure before CREATE DATABASE left none.
    if (scratch && (await databaseExists(admin, scratch).catch(() => true))) {
      log(`promote: failed; dropping the partial copy ${scratch}; ${db} was not changed`);
      await dropDatabase(admin, scratch).catch((d) =>
        log(`promote: could not drop ${scratch}: ${(d as Error).message}`),
      );
    }
    throw e;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    await admin.end().catch(() => undefined);
    interruption.release();
  }
}

/** A big table's own index and key entries, and the listing of the rest of post-data. */
interface TableOfContents {
  early: Map<string, string[]>;
  /** Foreign key entries whose referencing columns lead a btree index (see indexedForeignKeys). */
  indexedForeignKeys: string[];
  /** The dump's listing with the entries of `built` tables and indexedForeignKeys commented out. */
  rest(built: Set<string>): string;
}

/** The fresh database the copy goes into, and what every phase shares. */
interface Fresh {
  name: string;
  /** A private temp directory (the dump, pg_restore's lists). */
  tmp: string;
  interruption: Interruption;
}

/** The schema copied: pg_restore of the dump into the fresh database, and its contents. */
interface Schema {
  toc: TableOfContents;
  /** pg_restore of one section (`--jobs`, `--use-list` as given); resolves to its output. */
  section(name: "data" | "post-data", jobs?: number, list?: string): Promise<string>;
  /** pg_restore of just the entries listed in the file `list`. */
  listed(list: string): Promise<string>;
  /** The same, `jobs` at a time, planning without hash joins (see indexedForeignKeys). */
  validated(list: string, jobs: number): Promise<string>;
}

/** The same advisory lock as restore (one writer of a database at a time); live's state. */
async function claimLive(admin: Client, o: WholeOptions): Promise<LiveState> {
  const db = o.live.database;
  const lock = await admin.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [
    `pg-recovery restore ${db}`,
  ]);
  if (!lock.rows[0].ok) {
    throw new Error(`another restore or promotion into ${db} is running; wait for it to finish`);
  }
  return inspectLive(admin, o.live, o.log);
}

/** The fresh database's name, free: a copy an earlier failed promotion left is dropped. */
async function clearedScratch(admin: Client, o: WholeOptions): Promise<string> {
  const scratch = fitIdentifier(o.live.database, `_promote_${o.tag}`);
  if (await databaseExists(admin, scratch)) {
    o.log(`promote: dropping ${scratch}, left over from an earlier failed promotion`);
    await dropDatabase(admin, scratch);
  }
  return scratch;
}

/** Phase 1 and 2: pg_dump of everything but the rows, the fresh database, its pre-data. */
async function copySchema(o: WholeOptions, admin: Client, fresh: Fresh): Promise<Schema> {
  const dumpFile = path.join(fresh.tmp, "schema.dump");
  // Every table whose rows we stream ourselves is excluded from the dump's data.
  await fresh.interruption.race(
    runTool(
      "pg_dump",
      [
        "--format=custom",
        "--compress=0",
        ...(o.snapshot ? [`--snapshot=${o.snapshot}`] : []),
        ...o.tables.map((x) => `--exclude-table-data=${exactPattern(x)}`),
        `--file=${dumpFile}`,
      ],
      { env: libpqEnv(o.ptr, o.env), secrets: o.secrets },
    ),
  );
  const enc = await o.ptrSessions[0].query<{ e: string; c: string; t: string }>(
    `SELECT pg_catalog.pg_encoding_to_char(encoding) AS e, datcollate AS c, datctype AS t
       FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()`,
  );
  await createFresh(admin, fresh.name, enc.rows[0]);
  const options = `-c synchronous_commit=off -c maintenance_work_mem=${o.env.PG_RESTORE_MAINTENANCE_WORK_MEM ?? "512MB"}`;
  const env = { ...libpqEnv(o.live, o.env, fresh.name), PGOPTIONS: options };
  const pgRestore = (args: string[], pgOptions = options) =>
    fresh.interruption.race(
      runTool(
        "pg_restore",
        [
          "--format=custom",
          "--exit-on-error",
          ...args,
          `--dbname=${dbnameConninfo(fresh.name)}`,
          dumpFile,
        ],
        { env: { ...env, PGOPTIONS: pgOptions }, secrets: o.secrets },
      ),
    );
  const section = (name: string, jobs = 1, list?: string) =>
    pgRestore([`--section=${name}`, `--jobs=${jobs}`, ...(list ? [`--use-list=${list}`] : [])]);
  await section("pre-data");
  return {
    toc: await tableOfContents(o, dumpFile, env),
    section,
    listed: (list) => pgRestore([`--use-list=${list}`]),
    validated: (list, jobs) =>
      pgRestore([`--use-list=${list}`, `--jobs=${jobs}`], `${options} -c enable_hashjoin=off`),
  };
}

/**
 * Phase 3: every table's rows; a big table's indexes and keys built, and the table analyzed, by
 * its worker as soon as its rows are in. Resolves to the rows per table and the tables whose
 * indexes are built.
 */
async function copyRows(
  o: WholeOptions,
  fresh: Fresh,
  schema: Schema,
): Promise<{ rows: Map<string, number>; early: Set<string> }> {
  const early = new Set<string>();
  const rows = await copyTables(o, fresh.name, fresh.interruption, async (table, sink) => {
    const entries = schema.toc.early.get(table.key);
    if (!entries?.length) return;
    const list = path.join(fresh.tmp, `early-${early.size}.list`);
    early.add(table.key);
    fs.writeFileSync(list, `${entries.join("\n")}\n`);
    await schema.listed(list);
    await sink.query(`ANALYZE ${table.q}`);
  });
  return { rows, early };
}

/**
 * Phase 4: the dump's data section, then the rest of post-data; meanwhile the row counts of the
 * snapshot (the two run on different servers in production). Resolves to the counts at T.
 */
async function finishSchema(
  o: WholeOptions,
  fresh: Fresh,
  schema: Schema,
  built: Set<string>,
): Promise<Map<string, number>> {
  const rest = path.join(fresh.tmp, "post-data.list");
  fs.writeFileSync(rest, schema.toc.rest(built));
  const [atT] = await Promise.all([
    countRows(o.ptrSessions, o.tables),
    schema
      .section("data")
      .then(() => schema.section("post-data", o.jobs, rest))
      .then(() => addIndexedForeignKeys(o, fresh, schema)),
  ]);
  return atT;
}

/** Phase 4's last step: the foreign keys on indexed columns (see indexedForeignKeys). */
async function addIndexedForeignKeys(o: WholeOptions, fresh: Fresh, schema: Schema) {
  const keys = schema.toc.indexedForeignKeys;
  if (!keys.length) return;
  o.log(
    `promote: adding ${keys.length} foreign key${keys.length === 1 ? "" : "s"} on indexed columns, validated by merging the indexes (hash joins off)`,
  );
  const list = path.join(fresh.tmp, "foreign-keys.list");
  fs.writeFileSync(list, `${keys.join("\n")}\n`);
  await schema.validated(list, o.jobs);
}

/** Phase 5: the copy's row counts against the snapshot's; ANALYZE of the tables not yet done. */
async function verifyCopy(
  o: WholeOptions,
  fresh: Fresh,
  copied: { rows: Map<string, number>; early: Set<string> },
  atT: Map<string, number>,
): Promise<void> {
  const problems = o.tables
    .filter((x) => copied.rows.get(x.key) !== atT.get(x.key))
    .map((x) => `${x.key}: ${atT.get(x.key)} rows at T, ${copied.rows.get(x.key)} copied`);
  if (problems.length) {
    throw new Error(`the fresh copy does not match the PTR database: ${problems.join("; ")}`);
  }
  await analyze(
    o.live,
    fresh.name,
    o.tables.filter((x) => !copied.early.has(x.key)),
    o.jobs,
  );
}

/** The swap by rename (restore/swap.ts), signals held; resolves to the kept database's name. */
async function swapFresh(
  admin: Client,
  o: WholeOptions,
  fresh: Fresh,
  liveState: LiveState,
): Promise<string | undefined> {
  const kept = liveState.exists
    ? await freeName(admin, fitIdentifier(o.live.database, `_pre_promote_${o.tag}`))
    : undefined;
  fresh.interruption.check();
  fresh.interruption.disarm();
  await swapIn(admin, o.live, {
    live: liveState,
    scratch: fresh.name,
    kept,
    confirmed: o.confirmed,
    backup: `the PTR database ${describeTarget(o.ptr)}`,
    log: o.log,
  });
  return kept;
}

async function createFresh(
  admin: Client,
  name: string,
  src: { e: string; c: string; t: string },
): Promise<void> {
  const base = `CREATE DATABASE ${ident(name)} TEMPLATE template0 ENCODING ${literal(src.e)}`;
  try {
    await admin.query(`${base} LC_COLLATE ${literal(src.c)} LC_CTYPE ${literal(src.t)}`);
  } catch (e) {
    // A locale the live server does not have (other OS image): the server default, as restore.
    if (!/locale|collation|incompatible/i.test((e as Error).message)) throw e;
    await admin.query(base);
  }
}

/**
 * The dump's table of contents (pg_restore -l), and per big table the entries of its own indexes
 * and primary, unique and exclusion keys: what can be built as soon as its rows are in. Found by
 * object id (the dump ran in the snapshot the catalog query reads), not by names, which a
 * listing does not quote. Partitions are left out: their indexes attach to their parent's, which
 * the post-data section builds.
 */
async function tableOfContents(
  o: WholeOptions,
  dumpFile: string,
  env: NodeJS.ProcessEnv,
): Promise<TableOfContents> {
  const lines = (
    await runTool("pg_restore", ["--list", dumpFile], { env, secrets: o.secrets })
  ).split("\n");
  const byObject = new Map<string, string>();
  for (const line of lines) {
    // "<dump id>; <catalog oid> <object oid> INDEX|CONSTRAINT <schema> <name...> <owner>"
    const m = /^\d+; (\d+) (\d+) (INDEX|CONSTRAINT) (?!ATTACH )/.exec(line);
    if (m) byObject.set(`${m[3]} ${m[2]}`, line);
  }
  const early = new Map<string, string[]>();
  for (const t of o.tables) {
    if (t.bytes < BIG_TABLE) continue;
    const r = await o.ptrSessions[0].query<{ i: string; c: string | null }>(
      `SELECT i.indexrelid::pg_catalog.int8::text AS i,
              (SELECT k.oid::pg_catalog.int8::text FROM pg_catalog.pg_constraint k
                WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                  AND k.contype IN ('p', 'u', 'x')) AS c
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class r ON r.oid = i.indrelid
        WHERE i.indrelid = $1::pg_catalog.regclass AND NOT r.relispartition`,
      [t.q],
    );
    const entries = r.rows.flatMap((x) =>
      [byObject.get(`INDEX ${x.i}`), x.c ? byObject.get(`CONSTRAINT ${x.c}`) : undefined].filter(
        (l): l is string => l !== undefined,
      ),
    );
    if (entries.length) early.set(t.key, entries);
  }
  const indexed = await indexedForeignKeys(o.ptrSessions[0], lines);
  const rest = (built: Set<string>) => {
    const done = new Set([...built].flatMap((k) => early.get(k) ?? []).concat(indexed));
    return `${lines.map((l) => (done.has(l) ? `;${l}` : l)).join("\n")}\n`;
  };
  return { early, indexedForeignKeys: indexed, rest };
}

/**
 * The listing's foreign key entries whose referencing columns lead a plain btree index of their
 * table (the referenced side always has a unique one). Adding such a key validates it with one
 * anti-join, which PostgreSQL plans as a hash join of the referenced table when left to itself;
 * but a hash of millions of keys misses the CPU cache on every probe, and merging the two
 * indexes, which the fresh copy's frozen, analyzed tables let it read alone, is several times
 * faster: 1.4 s against 6.4 s for 10.7 million page views referencing 2.5 million customers.
 * These are added last, with hash joins off; other keys keep the planner's choice (without an
 * index on the referencing side, the merge would first sort the whole table).
 */
async function indexedForeignKeys(ptr: Client, lines: string[]): Promise<string[]> {
  const r = await ptr.query<{ c: string }>(
    `SELECT k.oid::pg_catalog.int8::text AS c FROM pg_catalog.pg_constraint k
      WHERE k.contype = 'f' AND ${leadsBtreeIndex("k.conrelid", "k.conkey")}`,
  );
  const wanted = new Set(r.rows.map((x) => x.c));
  // "<dump id>; <catalog oid> <object oid> FK CONSTRAINT <schema> <table> <name> <owner>"
  return lines.filter((l) => {
    const m = /^\d+; \d+ (\d+) FK CONSTRAINT /.exec(l);
    return m !== null && wanted.has(m[1]);
  });
}

/**
 * Streams every table's rows, `jobs` at a time, biggest first; `afterCopy` runs in the same
 * worker once a table's rows are committed (its indexes). Resolves to rows per table.
 */
async function copyTables(
  o: WholeOptions,
  scratch: string,
  interruption: Interruption,
  afterCopy: (t: TableModel, sink: Client) => Promise<void>,
): Promise<Map<string, number>> {
  const queue = [...o.tables].sort((a, b) => b.bytes - a.bytes);
  const total = queue.reduce((a, x) => a + x.bytes, 0);
  const progress = new Progress("promote whole: copy", "", o.log);
  const rows = new Map<string, number>();
  let done = 0;
  const workers = Math.max(1, Math.min(o.jobs, queue.length));
  o.log(
    `promote: streaming ${queue.length} tables (${formatBytes(total)} at T) from ${describeTarget(o.ptr)}, ${workers} at a time`,
  );
  const sinks: Client[] = [];
  let failed = false;
  try {
    for (let i = 0; i < workers; i++) sinks.push(await connect(o.live, scratch));
    for (const s of sinks) {
      for (const [k, v] of Object.entries(o.sessionSettings)) {
        await s.query("SELECT pg_catalog.set_config($1, $2, false)", [k, v]);
      }
      await s.query("SET synchronous_commit = off");
    }
    await Promise.all(
      sinks.map(async (sink, w) => {
        while (!failed && queue.length) {
          const t = queue.shift()!;
          const copy = (format: CopyFormat) =>
            interruption.race(
              t.bytes >= (o.pipeFrom ?? BIG_TABLE)
                ? copyPiped(o, t, scratch, format, interruption)
                : copyThrough(o, t, o.ptrSessions[w], sink, format),
            );
          try {
            rows.set(t.key, await copy("binary"));
          } catch (e) {
            // A type without binary I/O functions (some extensions' types): text works for all.
            if (!/binary (output|input) function|no binary/i.test((e as Error).message)) {
              failed = true;
              throw new Error(`copying ${t.key} from the PTR: ${(e as Error).message}`, {
                cause: e,
              });
            }
            await sink.query("ROLLBACK").catch(() => undefined);
            rows.set(t.key, await copy("text"));
          }
          try {
            await afterCopy(t, sink);
          } catch (e) {
            failed = true;
            throw new Error(`building the indexes of ${t.key}: ${(e as Error).message}`, {
              cause: e,
            });
          }
          progress.setTables(++done, o.tables.length);
        }
      }),
    );
    progress.finish();
    return rows;
  } finally {
    await Promise.all(sinks.map((s) => s.end().catch(() => undefined)));
  }
}

/** The two ends of one table's COPY (every column but generated ones, in `format`). */
function copyStatements(t: TableModel, format: CopyFormat): { out: string; into: string } {
  // A table with no columns (or only generated ones) still has rows: COPY without a list.
  const cols = t.copyColumns.length ? ` (${t.copyColumns.map((c) => c.q).join(", ")})` : "";
  const fmt = format === "binary" ? " (FORMAT binary)" : "";
  // FREEZE needs the table created or truncated in the same transaction; it spares the first
  // reads after the swap from setting hint bits on every page.
  return {
    out: `COPY ${t.q}${cols} TO STDOUT${fmt}`,
    into: `COPY ${t.q}${cols} FROM STDIN (FORMAT ${format}, FREEZE)`,
  };
}

/** A small table: a PTR session in the snapshot streams it through this process into `sink`. */
async function copyThrough(
  o: WholeOptions,
  t: TableModel,
  via: Client,
  sink: Client,
  format: CopyFormat,
): Promise<number> {
  const { out, into } = copyStatements(t, format);
  await sink.query("BEGIN");
  await sink.query(`TRUNCATE ${t.q}`);
  try {
    const r = await copyBetween(via, out, sink, into, (n) => o.onCopyChunk?.(t.key, n));
    await sink.query("COMMIT");
    return r.rowsIn;
  } catch (e) {
    await sink.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/**
 * A big table: piped from a psql on the PTR into a psql on the fresh database (source.ts), the
 * rows never passing through this process. Live commits them itself: a failure anywhere drops
 * the fresh database they went into.
 */
async function copyPiped(
  o: WholeOptions,
  t: TableModel,
  scratch: string,
  format: CopyFormat,
  interruption: Interruption,
): Promise<number> {
  await o.onCopyChunk?.(t.key, 0);
  const { out, into } = copyStatements(t, format);
  const source = {
    ptr: o.ptr,
    env: o.env,
    secrets: o.secrets,
    settings: o.sessionSettings,
    snapshot: o.snapshot,
  };
  const sink = { live: o.live, database: scratch, before: [`TRUNCATE ${t.q}`], copySql: into };
  return pipeFromPtr(source, out, sink, (children) => interruption.track(children));
}

/**
 * Row counts in the PTR snapshot, on all its sessions at once, biggest tables first: one session
 * counting a big database in turn would outlast the post-data section it overlaps.
 */
async function countRows(ptr: Client[], tables: TableModel[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const queue = [...tables].sort((a, b) => b.bytes - a.bytes);
  await Promise.all(
    ptr.map(async (session) => {
      while (queue.length) {
        const t = queue.shift()!;
        out.set(t.key, await rowCount(session, t));
      }
    }),
  );
  return out;
}

/** Per-table ANALYZE in parallel: the app's first queries need planner statistics. */
async function analyze(
  live: PgTarget,
  database: string,
  tables: TableModel[],
  jobs: number,
): Promise<void> {
  const queue = [...tables];
  const clients: Client[] = [];
  try {
    for (let i = 0; i < Math.max(1, Math.min(jobs, tables.length)); i++) {
      clients.push(await connect(live, database));
    }
    await Promise.all(
      clients.map(async (c) => {
        while (queue.length) await c.query(`ANALYZE ${queue.shift()!.q}`);
      }),
    );
    await clients[0].query(
      `DO $$ DECLARE r record; BEGIN
         FOR r IN SELECT c.oid::regclass AS t FROM pg_class c WHERE c.relkind = 'p' LOOP
           EXECUTE 'ANALYZE ' || r.t;
         END LOOP; END $$`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
