/**
 * Row-level comparison of one table between the PTR copy (state at T) and live, by primary key,
 * across two servers, in bounded memory.
 *
 * Each side streams `(key..., hash of the row)` ordered by key through a server-side cursor in
 * batches; this process merge-joins the two streams. A key only at T: deleted since T; only on
 * live: added since T; on both with different hashes: changed since T. The next batch of each
 * side is fetched while the current one is merged.
 *
 * Order: both servers must sort keys the way the merge compares them. Integer key columns sort
 * natively (the primary key index serves the scan) and compare as integers here; every other
 * type sorts by its text rendering under the "C" collation (byte order, whatever the database
 * collation) and compares here by code point, which is the same order.
 *
 * The row hash is hashtextextended(row::text): 64 bits per row, so a change goes unnoticed with
 * probability ~2^-64. Renderings are comparable because both sides run with the same session
 * settings (TimeZone, DateStyle, extra_float_digits, ...).
 */
import type { Client } from "pg";
import type { Column, TableModel } from "./catalog";
import { sameRowShape } from "./catalog";

export type KeyKind = "int" | "text";

const INT_TYPES = new Set([20, 21, 23]); // int8, int2, int4

export function keyKind(c: Column): KeyKind {
  return INT_TYPES.has(c.typeOid) ? "int" : "text";
}

/** An alias no column of the table shadows (`alias::text` must mean the whole row). */
export function rowAlias(t: TableModel): string {
  let a = "r";
  while (t.columns.some((c) => c.name === a)) a += "_";
  return `"${a}"`;
}

export function orderExpr(alias: string, c: Column, kind: KeyKind): string {
  return kind === "int" ? `${alias}.${c.q}` : `(${alias}.${c.q})::pg_catalog.text COLLATE "C"`;
}

export const textExpr = (alias: string, c: Column) => `(${alias}.${c.q})::pg_catalog.text`;

/** Compares integer renderings ("-12", "7") without parsing them. */
function compareInt(a: string, b: string): number {
  const na = a.charCodeAt(0) === 45; // '-'
  const nb = b.charCodeAt(0) === 45;
  if (na !== nb) return na ? -1 : 1;
  let r = a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (na) r = -r;
  return r;
}

/** Code point order (= UTF-8 byte order = PostgreSQL's "C" collation) of two JS strings. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 puts surrogates (code points above U+FFFF) below U+E000..U+FFFF; lift them above.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

export function compareKeys(a: unknown[], b: unknown[], kinds: KeyKind[]): number {
  for (let i = 0; i < kinds.length; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const r = kinds[i] === "int" ? compareInt(x, y) : compareCodePoints(x, y);
    if (r !== 0) return r;
  }
  return 0;
}

/** `(1)`, `(7, ab)`: a key as reports print it. */
export function renderKey(row: unknown[], n: number): string {
  return `(${row.slice(0, n).join(", ")})`;
}

let cursorSeq = 0;

/**
 * A server-side cursor read in batches, the next batch requested as soon as one is handed out.
 * Must run inside a transaction (the side's snapshot).
 */
export class CursorStream {
  private readonly name = `pgr_cursor_${++cursorSeq}`;
  private pending?: Promise<unknown[][]>;
  private done = false;
  /** The DECLARE, once sent: close() waits for it, as a session runs one query at a time. */
  private opening?: Promise<unknown>;

  constructor(
    private readonly client: Client,
    private readonly sql: string,
    private readonly batch = 10_000,
    private readonly params: unknown[] = [],
  ) {}

  private fetch(): Promise<unknown[][]> {
    const p = this.client
      .query<unknown[]>({ text: `FETCH ${this.batch} FROM ${this.name}`, rowMode: "array" })
      .then((r) => r.rows);
    p.catch(() => undefined); // awaited by next(); a failure must not be "unhandled" before
    return p;
  }

  /** The next batch, or null at the end. */
  async next(): Promise<unknown[][] | null> {
    if (!this.opening) {
      this.opening = this.client.query(
        `DECLARE ${this.name} NO SCROLL CURSOR FOR ${this.sql}`,
        this.params,
      );
      await this.opening;
      this.pending = this.fetch();
    }
    if (this.done || !this.pending) return null;
    const rows = await this.pending;
    if (rows.length < this.batch) {
      this.done = true;
      this.pending = undefined;
    } else this.pending = this.fetch();
    return rows.length ? rows : null;
  }

  async close(): Promise<void> {
    if (!this.opening) return;
    // The stream's own next() resumes first after the DECLARE (it awaited it before), so a
    // FETCH it sends then is pending here too.
    await this.opening.catch(() => undefined);
    await this.pending?.catch(() => undefined);
    await this.client.query(`CLOSE ${this.name}`).catch(() => undefined);
  }
}

/** Row-at-a-time view over a CursorStream. */
class Rows {
  private batch: unknown[][] = [];
  private i = 0;
  constructor(private readonly s: CursorStream) {}
  async peek(): Promise<unknown[] | null> {
    if (this.i < this.batch.length) return this.batch[this.i];
    const b = await this.s.next();
    if (!b) return null;
    this.batch = b;
    this.i = 0;
    return b[0];
  }
  advance(): void {
    this.i++;
  }
}

export interface Samples {
  deleted: string[];
  changed: string[];
  added: string[];
}

export interface TableDiff {
  key: string;
  /** "primary key": row-level counts; "content": no usable key, only counts and one hash. */
  method: "primary key" | "content";
  atT: number;
  live: number;
  /** Present at T, gone from live. */
  deleted: number;
  /** Present on both, different content; null when the row shapes differ (not comparable). */
  changed: number | null;
  /** Only on live. */
  added: number;
  samples: Samples;
  /** For "content": whether the multiset of rows is the same on both sides. */
  sameContent?: boolean;
}

const SAMPLES = 5;

/**
 * Diffs one table present on both sides. `ptr` and `live` are sessions inside their snapshots,
 * with comparable session settings.
 */
export async function diffTable(
  ptr: Client,
  live: Client,
  atT: TableModel,
  now: TableModel,
  batch = 10_000,
): Promise<TableDiff> {
  const samples: Samples = { deleted: [], changed: [], added: [] };
  const usableKey =
    atT.pk && now.pk && atT.pk.join("\0") === now.pk.join("\0") && sameKeyTypes(atT, now);
  if (!usableKey) return diffByContent(ptr, live, atT, now, samples);

  const shape = sameRowShape(atT, now);
  const keyCols = atT.pk!.map((n) => atT.columns.find((c) => c.name === n)!);
  const kinds = keyCols.map(keyKind);
  const sql = (t: TableModel) => {
    const a = rowAlias(t);
    const cols = keyCols.map((c) => textExpr(a, c));
    const hash = shape ? `pg_catalog.hashtextextended(${a}::pg_catalog.text, 0)` : "0::int8";
    return `SELECT ${cols.join(", ")}, ${hash} FROM ONLY ${t.q} AS ${a} ORDER BY ${keyCols
      .map((c, i) => orderExpr(a, c, kinds[i]))
      .join(", ")}`;
  };
  const left = new CursorStream(ptr, sql(atT), batch);
  const right = new CursorStream(live, sql(now), batch);
  const L = new Rows(left);
  const R = new Rows(right);
  const n = keyCols.length;
  const d: TableDiff = {
    key: atT.key,
    method: "primary key",
    atT: 0,
    live: 0,
    deleted: 0,
    changed: shape ? 0 : null,
    added: 0,
    samples,
  };
  try {
    let [l, r] = await Promise.all([L.peek(), R.peek()]);
    while (l || r) {
      const c = !l ? 1 : !r ? -1 : compareKeys(l, r, kinds);
      if (c < 0) {
        d.atT++;
        d.deleted++;
        if (samples.deleted.length < SAMPLES) samples.deleted.push(renderKey(l!, n));
        L.advance();
        l = await L.peek();
      } else if (c > 0) {
        d.live++;
        d.added++;
        if (samples.added.length < SAMPLES) samples.added.push(renderKey(r!, n));
        R.advance();
        r = await R.peek();
      } else {
        d.atT++;
        d.live++;
        if (shape && l![n] !== r![n]) {
          d.changed!++;
          if (samples.changed.length < SAMPLES) samples.changed.push(renderKey(l!, n));
        }
        L.advance();
        R.advance();
        [l, r] = await Promise.all([L.peek(), R.peek()]);
      }
    }
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
  return d;
}

function sameKeyTypes(a: TableModel, b: TableModel): boolean {
  return a.pk!.every(
    (k) => a.columns.find((c) => c.name === k)?.type === b.columns.find((c) => c.name === k)?.type,
  );
}

/** No usable key: counts and an order-independent content hash (as verify computes it). */
async function diffByContent(
  ptr: Client,
  live: Client,
  atT: TableModel,
  now: TableModel,
  samples: Samples,
): Promise<TableDiff> {
  const q = (t: TableModel) => {
    const a = rowAlias(t);
    return `SELECT count(*)::text AS n,
                   coalesce(sum(pg_catalog.hashtextextended(${a}::pg_catalog.text, 5381)), 0)::text AS h
              FROM ONLY ${t.q} AS ${a}`;
  };
  const [x, y] = await Promise.all([
    ptr.query<{ n: string; h: string }>(q(atT)),
    live.query<{ n: string; h: string }>(q(now)),
  ]);
  const n0 = Number(x.rows[0].n);
  const n1 = Number(y.rows[0].n);
  const same = sameRowShape(atT, now) && n0 === n1 && x.rows[0].h === y.rows[0].h;
  return {
    key: atT.key,
    method: "content",
    atT: n0,
    live: n1,
    deleted: Math.max(0, n0 - n1),
    changed: null,
    added: Math.max(0, n1 - n0),
    samples,
    sameContent: same,
  };
}

/** Newest created_at / updated_at of a table as RFC 3339 UTC, or null. */
export async function newestWrites(
  client: Client,
  t: TableModel,
): Promise<{ createdAt: string | null; updatedAt: string | null }> {
  if (!t.createdAt && !t.updatedAt) return { createdAt: null, updatedAt: null };
  // Timestamps without zone read as UTC (the session TimeZone), as Rails stores them.
  const fmt = (c?: string) =>
    c
      ? `pg_catalog.to_char(max(nullif(${c}::pg_catalog.timestamptz, 'infinity')) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
      : "NULL::text";
  const r = await client.query<{ c: string | null; u: string | null }>(
    `SELECT ${fmt(t.createdAt)} AS c, ${fmt(t.updatedAt)} AS u FROM ONLY ${t.q}`,
  );
  return { createdAt: r.rows[0].c, updatedAt: r.rows[0].u };
}

export interface KeyStreamSpec {
  client: Client;
  /** Selects the key columns as text, ordered as `kinds` say; the left one adds a row count. */
  sql: string;
}

export interface AntiJoinResult {
  /** Left rows (summed counts) whose key none of the right streams has. */
  rows: number;
  samples: string[];
}

/**
 * Left keys (with a row count per key) that no right stream holds: e.g. live child rows whose
 * referenced key the restored parent table no longer has.
 */
export async function antiJoin(
  left: KeyStreamSpec,
  rights: KeyStreamSpec[],
  kinds: KeyKind[],
  batch = 10_000,
): Promise<AntiJoinResult> {
  const ls = new CursorStream(left.client, left.sql, batch);
  const rss = rights.map((r) => new CursorStream(r.client, r.sql, batch));
  const L = new Rows(ls);
  const Rs = rss.map((s) => new Rows(s));
  const out: AntiJoinResult = { rows: 0, samples: [] };
  const n = kinds.length;
  try {
    for (let l = await L.peek(); l; L.advance(), l = await L.peek()) {
      let found = false;
      for (const R of Rs) {
        let r = await R.peek();
        while (r && compareKeys(r, l, kinds) < 0) {
          R.advance();
          r = await R.peek();
        }
        if (r && compareKeys(r, l, kinds) === 0) found = true;
      }
      if (!found) {
        out.rows += Number(l[n]);
        if (out.samples.length < SAMPLES) out.samples.push(renderKey(l, n));
      }
    }
  } finally {
    await Promise.all([ls.close(), ...rss.map((s) => s.close())]);
  }
  return out;
}
