/**
 * `verify --drill`: a restore drill's comparison of the drill database (target: live restored at
 * --restore-target on a throwaway server) with live (source), which has moved on since.
 *
 *  - schema: identical, as in every verify;
 *  - per table with write-time columns (see WRITE_TIME_COLUMN): the rows live shows as written
 *    up to the restore target must all be in the drill database, value for value; rows live
 *    wrote later are expected and counted; rows the drill database holds that live no longer
 *    has at or before the target were changed or deleted in live since (a delete leaves no
 *    time), also expected and counted. A row live wrote up to the target that the drill lacks
 *    fails the table: the restore lost it;
 *  - per table without one: no way to tell old rows from new, so it is reported with its counts
 *    (identical content passes);
 *  - recency: the drill database holds nothing written after the restore target.
 *
 * Rows are compared as md5 of their text, sorted in the "C" collation on both servers and merged
 * through cursors, so memory stays flat whatever the table's size. Read-only, on one snapshot
 * per side, like verify.
 */
import { Client } from "pg";
import { checkLine, CheckOutcome, DrillCheck } from "../../contract/drill-check";
import { UsageError } from "../../contract/data-tool";
import { Instant, parseRfc3339 } from "../../contract/time";
import { ident, PgTarget } from "../postgres/connection";
import { EndpointSpec, identityOf, openSide, resolveEndpoint, Side, VERIFY_SIDES } from "./connect";
import { CatalogSnapshot, cmp, diffSchemas, readCatalog, TableInfo } from "./schema";

export interface DrillVerifyOptions {
  source: EndpointSpec;
  target: EndpointSpec;
  restoreTarget: string;
  schemas?: string[];
  env?: NodeJS.ProcessEnv;
  progress?: (line: string) => void;
}

const BATCH = 5000;

/** Runs the drill's checks; each check is a DrillCheck (see contract/drill-check.ts). */
export async function verifyDrill(o: DrillVerifyOptions): Promise<DrillCheck[]> {
  const started = Date.now();
  const log = o.progress ?? (() => undefined);
  const { t, source, target } = drillEndpoints(o);
  const live = await openSide("source", source, 1);
  try {
    const drill = await openSide("target", target, 1);
    try {
      const schemas = o.schemas?.length ? [...o.schemas].sort(cmp) : null;
      return await runChecks(live, drill, t, schemas, log, started);
    } finally {
      await drill.close();
    }
  } finally {
    await live.close();
  }
}

/** The restore target and both endpoints, refused before any connection is opened. */
function drillEndpoints(o: DrillVerifyOptions): {
  t: Instant;
  source: PgTarget;
  target: PgTarget;
} {
  const env = o.env ?? process.env;
  let t: Instant;
  try {
    t = parseRfc3339(o.restoreTarget);
  } catch (e) {
    throw new UsageError(`--restore-target: ${(e as Error).message}`);
  }
  const source = resolveEndpoint(o.source, VERIFY_SIDES.source, env);
  const target = resolveEndpoint(o.target, VERIFY_SIDES.target, env);
  if (identityOf(source) === identityOf(target)) {
    throw new UsageError(
      `source and target are the same database (${identityOf(source)}); --drill compares live with the drill server`,
    );
  }
  return { t, source, target };
}

async function runChecks(
  live: Side,
  drill: Side,
  t: Instant,
  schemas: string[] | null,
  log: (line: string) => void,
  started: number,
): Promise<DrillCheck[]> {
  log(`verify --drill: reading schema of live ${live.redacted} and the drill ${drill.redacted}`);
  const [lc, dc] = await Promise.all([
    readCatalog(live.clients[0], schemas),
    readCatalog(drill.clients[0], schemas),
  ]);
  const schema = schemaCheck(lc, dc);
  const keys = [...lc.tables.keys()]
    .filter((k) => lc.tables.get(k)!.hashable && dc.tables.get(k)?.hashable)
    .sort(cmp);
  const rows = await rowChecks(live.clients[0], drill.clients[0], lc, dc, keys, t, log);
  const checks = [schema, ...rows.checks, recencyCheck(rows, t)];
  const failed = checks.filter((c) => c.outcome === "failed").length;
  checks.push(
    drillCheck(
      "verify",
      failed ? "failed" : "passed",
      failed
        ? `${failed} check(s) failed of ${checks.length}`
        : `the drill database matches live up to ${t.utc} (${keys.length} tables)`,
      {
        sourceVersion: live.serverVersion,
        targetVersion: drill.serverVersion,
        tables: keys.length,
        seconds: Math.round((Date.now() - started) / 1000),
      },
    ),
  );
  return checks;
}

function drillCheck(
  check: string,
  outcome: CheckOutcome,
  detail: string,
  figures?: DrillCheck["figures"],
): DrillCheck {
  return { drillCheck: 1, check, outcome, detail, ...(figures ? { figures } : {}) };
}

function schemaCheck(lc: CatalogSnapshot, dc: CatalogSnapshot): DrillCheck {
  const diffs = diffSchemas(lc.objects, dc.objects);
  return drillCheck(
    "schema",
    diffs.length ? "failed" : "passed",
    diffs.length
      ? `${diffs.length} difference(s): ${diffs
          .slice(0, 5)
          .map((d) => `${d.category} ${d.key} ${d.change}`)
          .join("; ")}`
      : `identical (${lc.objects.length} objects)`,
  );
}

interface RowChecks {
  /** One per table. */
  checks: DrillCheck[];
  drillNewest: string | null;
  liveNewestBefore: string | null;
  /** `table (n rows)` for each table where the drill holds rows written after the target. */
  newerInDrill: string[];
}

/**
 * `keys`: the tables hashable on both sides, each compared on the columns both have (all of
 * them, unless live's definition moved on since the restore target: the schema check names the
 * difference, and the rows are still compared on what the two share).
 */
async function rowChecks(
  live: Client,
  drill: Client,
  lc: CatalogSnapshot,
  dc: CatalogSnapshot,
  keys: string[],
  t: Instant,
  log: (line: string) => void,
): Promise<RowChecks> {
  const out: RowChecks = {
    checks: [],
    drillNewest: null,
    liveNewestBefore: null,
    newerInDrill: [],
  };
  for (const [i, key] of keys.entries()) {
    log(`verify --drill: table ${i + 1}/${keys.length} ${key}`);
    const table = sharedColumns(lc.tables.get(key)!, dc.tables.get(key)!);
    const r = await compareTable(live, drill, table, t);
    out.drillNewest = later(out.drillNewest, r.drill.newest);
    out.liveNewestBefore = later(out.liveNewestBefore, r.live.newestBefore);
    if (r.drill.after > 0) out.newerInDrill.push(`${key} (${r.drill.after} rows)`);
    const [outcome, detail] = tableVerdict(table, r);
    out.checks.push(drillCheck(`rows ${key}`, outcome, `${detail}${table.note ?? ""}`));
  }
  return out;
}

function recencyCheck(rows: RowChecks, t: Instant): DrillCheck {
  const { newerInDrill, drillNewest, liveNewestBefore } = rows;
  return drillCheck(
    "recency",
    newerInDrill.length ? "failed" : "passed",
    newerInDrill.length
      ? `the drill database holds rows written after the restore target ${t.utc}: ${newerInDrill.join(", ")}`
      : `nothing in the drill database is newer than the restore target ${t.utc}`,
    { restoreTarget: t.utc, drillNewest, liveNewestAtOrBeforeRestoreTarget: liveNewestBefore },
  );
}

export function formatDrillChecks(checks: DrillCheck[], json: boolean): string {
  const lines = checks.map((c) =>
    json
      ? checkLine(c.check, c.outcome, c.detail, c.figures)
      : `[${c.outcome === "failed" ? "FAILED" : c.outcome}] ${c.check}: ${c.detail}`,
  );
  return `${lines.join("\n")}\n`;
}

interface SideCounts {
  rows: number;
  after: number;
  newestBefore: string | null;
  newest: string | null;
}
interface TableComparison {
  live: SideCounts;
  drill: SideCounts;
  /** Rows (at or before T) only one side has. */
  onlyLive: number;
  onlyDrill: number;
}

function tableVerdict(t: TableInfo, r: TableComparison): [CheckOutcome, string] {
  const timed = t.timeColumns.length > 0;
  if (!timed) {
    if (r.onlyLive === 0 && r.onlyDrill === 0) return ["passed", `identical (${r.live.rows} rows)`];
    return [
      "reported",
      `no write-time column to tell old rows from new: live ${r.live.rows} rows, drill ${r.drill.rows} ` +
        `(${r.onlyLive} only in live, ${r.onlyDrill} only in the drill)`,
    ];
  }
  const expected = [
    r.live.after ? `${r.live.after} rows written later in live (expected)` : "",
    r.onlyDrill ? `${r.onlyDrill} rows changed or deleted in live since (expected)` : "",
  ].filter(Boolean);
  if (r.onlyLive > 0) {
    return [
      "failed",
      `${r.onlyLive} of the ${r.live.rows - r.live.after} rows live wrote up to the restore target ` +
        `are missing from (or differ in) the drill database, which has ${r.drill.rows} rows`,
    ];
  }
  return [
    "passed",
    `equal up to the restore target (${r.live.rows - r.live.after} rows)${expected.length ? `; ${expected.join("; ")}` : ""}`,
  ];
}

function later(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * A table as both sides have it: the drill's, or, when the column lists differ, only the
 * columns both have (in the drill's order) with a note for the check's detail.
 */
interface SharedTable extends TableInfo {
  /** The columns both sides have, quoted, when they are not all of them; else compared whole. */
  shared?: string[];
  note?: string;
}

function sharedColumns(live: TableInfo, drill: TableInfo): SharedTable {
  const same =
    live.columns.length === drill.columns.length &&
    live.columns.every((c, i) => c === drill.columns[i]);
  if (same) return drill;
  const both = drill.columns.filter((c) => live.columns.includes(c));
  const sides: [string, string[]][] = [
    ["live", drill.columns.filter((c) => !live.columns.includes(c))],
    ["the drill", live.columns.filter((c) => !drill.columns.includes(c))],
  ];
  const lacks = sides
    .filter(([, cols]) => cols.length)
    .map(([side, cols]) => `${side} lacks ${cols.join(", ")}`);
  return {
    ...drill,
    timeColumns: drill.timeColumns.filter((c) => live.timeColumns.includes(c)),
    shared: both.map(ident),
    note: `; compared on the ${both.length} columns both have (${lacks.join("; ") || "in another order"})`,
  };
}

async function compareTable(
  live: Client,
  drill: Client,
  t: SharedTable,
  at: Instant,
): Promise<TableComparison> {
  let alias = "r";
  while (t.columns.includes(alias)) alias += "_";
  const a = `"${alias}"`;
  const target = `'${at.utc}'::pg_catalog.timestamptz`;
  // As verify reads write times: timestamps without zone as UTC (the session's), no 'infinity'.
  const ts = t.timeColumns.length
    ? `greatest(${t.timeColumns
        .map((c) => `nullif(${a}.${c}::pg_catalog.timestamptz, 'infinity'::pg_catalog.timestamptz)`)
        .join(", ")})`
    : undefined;
  const counts = async (c: Client): Promise<SideCounts> => {
    const sql = ts
      ? `SELECT count(*)::int8::text AS n, count(*) FILTER (WHERE s.ts > ${target})::int8::text AS after,` +
        ` to_char(max(s.ts) FILTER (WHERE s.ts <= ${target}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS before,` +
        ` to_char(max(s.ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS newest` +
        ` FROM (SELECT ${ts} AS ts FROM ONLY ${t.qname} AS ${a}) AS s`
      : `SELECT count(*)::int8::text AS n, '0' AS after, NULL AS before, NULL AS newest FROM ONLY ${t.qname}`;
    const row = (
      await c.query<{ n: string; after: string; before: string | null; newest: string | null }>(sql)
    ).rows[0];
    return {
      rows: Number(row.n),
      after: Number(row.after),
      newestBefore: row.before,
      newest: row.newest,
    };
  };
  const [lc, dc] = await Promise.all([counts(live), counts(drill)]);
  const where = ts ? ` WHERE NOT coalesce(${ts} > ${target}, false)` : "";
  const row = t.shared ? `ROW(${t.shared.map((c) => `${a}.${c}`).join(", ")})` : a;
  const sql = `SELECT md5(${row}::text) COLLATE "C" AS h FROM ONLY ${t.qname} AS ${a}${where} ORDER BY 1`;
  const { onlyA, onlyB } = await mergeSorted(live, drill, sql);
  return { live: lc, drill: dc, onlyLive: onlyA, onlyDrill: onlyB };
}

/** Counts the hashes only one side returns (multisets, both sorted the same way). */
async function mergeSorted(
  a: Client,
  b: Client,
  sql: string,
): Promise<{ onlyA: number; onlyB: number }> {
  const cursor = "pgr_drill_rows";
  await Promise.all([a, b].map((c) => c.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`)));
  try {
    const reader = (c: Client) => {
      let buf: string[] = [];
      let i = 0;
      let done = false;
      return async (): Promise<string | undefined> => {
        if (i >= buf.length && !done) {
          buf = (await c.query<{ h: string }>(`FETCH ${BATCH} FROM ${cursor}`)).rows.map(
            (r) => r.h,
          );
          i = 0;
          if (buf.length < BATCH) done = true;
        }
        return i < buf.length ? buf[i++] : undefined;
      };
    };
    const nextA = reader(a);
    const nextB = reader(b);
    let onlyA = 0;
    let onlyB = 0;
    let x = await nextA();
    let y = await nextB();
    while (x !== undefined || y !== undefined) {
      if (y === undefined || (x !== undefined && x < y)) {
        onlyA++;
        x = await nextA();
      } else if (x === undefined || y < x) {
        onlyB++;
        y = await nextB();
      } else {
        x = await nextA();
        y = await nextB();
      }
    }
    return { onlyA, onlyB };
  } finally {
    await Promise.all([a, b].map((c) => c.query(`CLOSE ${cursor}`).catch(() => undefined)));
  }
}
