/**
 * `verify`: mechanically compares a reference database (source, e.g. live) with a candidate
 * (target, e.g. the point-in-time restore) — schema, row counts, content hashes, sequence
 * positions and, given --restore-target, whether the target holds writes from after that point.
 *
 * Read-only: each side runs inside REPEATABLE READ READ ONLY transactions sharing one snapshot.
 * The command line around it is datapath/commands/verify.ts.
 *
 * Recency rule: per table, the newest value of its write-time columns (timestamp/timestamptz
 * named created_at, updated_at and relatives, see WRITE_TIME_COLUMN; timestamps without zone
 * read as UTC, as Rails stores them; 'infinity' ignored). A table whose newest value on the
 * target is later than --restore-target is a difference: the restore holds writes from after
 * the point it was meant to stop at. The app sets these columns from its own clock before
 * commit, so a flag can also mean clock skew; the report shows both sides' values to judge.
 * Tables without such columns are listed as unchecked (future-dated columns such as expires_at
 * would give false alarms).
 */
import { UsageError } from "../../contract/data-tool";
import { fromEpochMicros, Instant, parseRfc3339 } from "../../contract/time";
import { describeTarget } from "../postgres/connection";
import {
  EndpointSpec,
  identityOf,
  openSide,
  refuseHiddenRows,
  refuseUnreadable,
  resolveEndpoint,
  VERIFY_SIDES,
  Side,
} from "./connect";
import { CHUNK_PAGES, hashSide, HashProgress, readSequences, TableDigest } from "./hash";
import {
  Difference,
  describeExtensionConfig,
  describeSequence,
  EndpointInfo,
  SequenceResult,
  TableResult,
  verdictFor,
  VerifyReport,
} from "./report";
import {
  CatalogSnapshot,
  cmp,
  countByCategory,
  diffSchemas,
  missingSchemas,
  readCatalog,
} from "./schema";

export { formatJson, formatReport } from "./report";
export type { VerifyReport } from "./report";
export type { EndpointSpec } from "./connect";

export interface VerifyOptions {
  /** Reference database: a URL or how to build one (env var + host/db overrides). */
  source: EndpointSpec | string;
  /** Candidate database (e.g. the restored server). */
  target: EndpointSpec | string;
  /** RFC 3339 with an explicit offset; enables the recency check. */
  restoreTarget?: string;
  /** Schemas to compare; default every non-system schema. */
  schemas?: string[];
  /** Connections per side (default 2): tables and block ranges are hashed in parallel. */
  jobs?: number;
  /** Progress lines (the CLI sends them to stderr). */
  progress?: (line: string) => void;
  /** Block-range size for splitting big tables; tests shrink it to exercise chunking. */
  chunkPages?: number;
  /** Where `env` endpoint specs are looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const specOf = (s: EndpointSpec | string): EndpointSpec => (typeof s === "string" ? { url: s } : s);

export async function verifyDatabases(opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const log = opts.progress ?? (() => undefined);
  const env = opts.env ?? process.env;
  // Configuration problems (ConnectionConfigError) and a malformed restore target are the
  // caller's to fix: both fail before any connection is opened.
  const source = resolveEndpoint(specOf(opts.source), VERIFY_SIDES.source, env);
  const target = resolveEndpoint(specOf(opts.target), VERIFY_SIDES.target, env);
  let restoreTarget: Instant | null = null;
  if (opts.restoreTarget !== undefined) {
    try {
      restoreTarget = parseRfc3339(opts.restoreTarget);
    } catch (err) {
      throw new UsageError(`--restore-target: ${(err as Error).message}`);
    }
  }
  // Comparing live with itself would print a reassuring IDENTICAL: refuse.
  if (identityOf(source) === identityOf(target)) {
    throw new UsageError(
      `source and target are the same database (${identityOf(source)}); ` +
        `use --target-host/--target-name to point at the candidate`,
    );
  }
  const jobs = Math.max(1, Math.min(opts.jobs ?? 2, 8));
  const schemas = opts.schemas?.length ? [...opts.schemas].sort(cmp) : null;

  const opened = await Promise.allSettled([
    openSide("source", source, jobs),
    openSide("target", target, jobs),
  ]);
  const sides = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    opened.forEach((r, i) => {
      if (r.status === "rejected") {
        const url = describeTarget(i === 0 ? source : target);
        throw new Error(
          `cannot connect to ${i === 0 ? "source" : "target"} ${url}: ${(r.reason as Error).message}`,
        );
      }
    });
    return await compare(sides[0], sides[1], {
      restoreTarget,
      schemas,
      jobs,
      started,
      log,
      chunkPages: opts.chunkPages ?? CHUNK_PAGES,
    });
  } finally {
    await Promise.all(sides.map((s) => s.close()));
  }
}

interface CompareContext {
  restoreTarget: Instant | null;
  schemas: string[] | null;
  jobs: number;
  started: number;
  log: (line: string) => void;
  chunkPages: number;
}

async function compare(source: Side, target: Side, ctx: CompareContext): Promise<VerifyReport> {
  if (ctx.schemas) await requireSchemas(source, ctx.schemas);
  const sides: [string, Side][] = [
    ["source", source],
    ["target", target],
  ];
  await refuseUnreadable(sides, ctx.schemas);
  await refuseHiddenRows(sides, ctx.schemas);
  ctx.log(`verify: reading schema of source ${source.redacted} and target ${target.redacted}`);
  const [srcCat, tgtCat] = await Promise.all([
    readCatalog(source.clients[0], ctx.schemas),
    readCatalog(target.clients[0], ctx.schemas),
  ]);
  // Sequences are not MVCC: read them as close to the snapshot as possible.
  const [srcSeq, tgtSeq] = await Promise.all([
    readSequences(source.clients[0], srcCat.sequences),
    readSequences(target.clients[0], tgtCat.sequences),
  ]);
  const schemaDiffs = diffSchemas(srcCat.objects, tgtCat.objects);
  const hashed = await hashCommonTables(source, target, srcCat, tgtCat, ctx);

  const tables = tableResults(srcCat, tgtCat, hashed.source, hashed.target, ctx.restoreTarget);
  const sequences = sequenceResults(srcSeq, tgtSeq);
  const differences = collectDifferences(schemaDiffs, tables, sequences, ctx.restoreTarget);
  const stats = hashStats(hashed, srcCat, tgtCat, ctx);
  return {
    version: 1,
    verdict: verdictFor(differences.length),
    identical: differences.length === 0,
    differenceCount: differences.length,
    source: endpointInfo(source),
    target: endpointInfo(target),
    restoreTarget: ctx.restoreTarget?.utc ?? null,
    schemas: ctx.schemas,
    schema: {
      compared: {
        source: countByCategory(srcCat.objects),
        target: countByCategory(tgtCat.objects),
      },
      differences: schemaDiffs,
    },
    tables,
    sequences,
    differences,
    stats,
  };
}

async function requireSchemas(source: Side, schemas: string[]): Promise<void> {
  const missing = await missingSchemas(source.clients[0], schemas);
  if (missing.length) {
    throw new UsageError(`schema(s) not found on the source: ${missing.join(", ")}`);
  }
}

interface Hashed {
  /** The tables hashed: hashable on both sides. */
  common: string[];
  source: Map<string, TableDigest>;
  target: Map<string, TableDigest>;
  ms: number;
}

async function hashCommonTables(
  source: Side,
  target: Side,
  srcCat: CatalogSnapshot,
  tgtCat: CatalogSnapshot,
  ctx: CompareContext,
): Promise<Hashed> {
  const common = [...srcCat.tables.keys()]
    .filter((k) => srcCat.tables.get(k)!.hashable && tgtCat.tables.get(k)?.hashable)
    .sort(cmp);
  ctx.log(`verify: hashing ${common.length} tables on both sides, ${ctx.jobs} connections each`);
  const started = Date.now();
  const progress = throttledProgress(ctx.log);
  const [srcDigests, tgtDigests] = await Promise.all([
    hashSide(
      source,
      common.map((k) => srcCat.tables.get(k)!),
      progress,
    ),
    hashSide(
      target,
      common.map((k) => tgtCat.tables.get(k)!),
      progress,
    ),
  ]);
  return { common, source: srcDigests, target: tgtDigests, ms: Date.now() - started };
}

/** The report's stats; logs the hashing rate (hashing alone, where stats count the whole run). */
function hashStats(
  hashed: Hashed,
  srcCat: CatalogSnapshot,
  tgtCat: CatalogSnapshot,
  ctx: CompareContext,
): VerifyReport["stats"] {
  const bytesHashed = hashed.common.reduce(
    (n, k) => n + srcCat.tables.get(k)!.bytes + tgtCat.tables.get(k)!.bytes,
    0,
  );
  const rowsHashed = [...hashed.source.values(), ...hashed.target.values()].reduce(
    (n, d) => n + d.rows,
    0,
  );
  const elapsedMs = Date.now() - ctx.started;
  ctx.log(
    `verify: hashed ${(bytesHashed / 1e6).toFixed(1)} MB in ${(hashed.ms / 1000).toFixed(1)} s ` +
      `(${(bytesHashed / 1e6 / Math.max(hashed.ms / 1000, 0.001)).toFixed(1)} MB/s)`,
  );
  return {
    elapsedMs,
    jobsPerSide: ctx.jobs,
    rowsHashed,
    bytesHashed,
    mbPerSecond: bytesHashed / 1e6 / Math.max(elapsedMs / 1000, 0.001),
  };
}

function endpointInfo(s: Side): EndpointInfo {
  return { url: s.redacted, serverVersion: s.serverVersion, connections: s.clients.length };
}

function tableResults(
  srcCat: CatalogSnapshot,
  tgtCat: CatalogSnapshot,
  srcDigests: Map<string, TableDigest>,
  tgtDigests: Map<string, TableDigest>,
  restoreTarget: Instant | null,
): TableResult[] {
  const keys = [...new Set([...srcCat.tables.keys(), ...tgtCat.tables.keys()])].sort(cmp);
  const side = (d: TableDigest | undefined) =>
    d
      ? {
          rows: d.rows,
          hash: d.hash,
          newest: d.newestMicros === null ? null : fromEpochMicros(d.newestMicros).utc,
        }
      : null;
  return keys.flatMap((k) => {
    const info = (tgtCat.tables.get(k) ?? srcCat.tables.get(k))!;
    const s = srcDigests.get(k);
    const t = tgtDigests.get(k);
    if (!s && !t) return []; // partitioned parents, one-sided tables: reported by schema
    const after =
      restoreTarget !== null &&
      t?.newestMicros !== null &&
      t?.newestMicros !== undefined &&
      t.newestMicros > restoreTarget.epochMicros;
    const result: TableResult = {
      table: k,
      timeColumns: info.timeColumns,
      source: side(s),
      target: side(t),
      rowsMatch: !!s && !!t && s.rows === t.rows,
      contentMatch: !!s && !!t && s.rows === t.rows && s.hash === t.hash,
      afterRestoreTarget: after,
    };
    if (info.extensionConfig) result.extensionConfig = info.extensionConfig;
    return [result];
  });
}

function sequenceResults(
  src: Map<string, { lastValue: string; isCalled: boolean }>,
  tgt: Map<string, { lastValue: string; isCalled: boolean }>,
): SequenceResult[] {
  const keys = [...src.keys()].filter((k) => tgt.has(k)).sort(cmp);
  return keys.map((k) => {
    const s = src.get(k)!;
    const t = tgt.get(k)!;
    return {
      sequence: k,
      source: s,
      target: t,
      match: s.lastValue === t.lastValue && s.isCalled === t.isCalled,
    };
  });
}

function collectDifferences(
  schemaDiffs: ReturnType<typeof diffSchemas>,
  tables: TableResult[],
  sequences: SequenceResult[],
  restoreTarget: Instant | null,
): Difference[] {
  const out: Difference[] = [];
  for (const d of schemaDiffs) {
    // Relations say what they are ("materialized view missing on target"), not just "table".
    const what = d.category === "table" ? (d.source ?? d.target ?? "").split(";")[0] : d.category;
    out.push({ section: "schema", object: d.key, detail: `${what} ${d.change}` });
  }
  for (const t of tables) {
    if (!t.source || !t.target) continue;
    const of = t.extensionConfig ? ` (${describeExtensionConfig(t.extensionConfig)})` : "";
    if (!t.rowsMatch) {
      out.push({
        section: "rows",
        object: t.table,
        detail: `source has ${t.source.rows} rows, target has ${t.target.rows}${of}`,
      });
    } else if (!t.contentMatch) {
      // Different counts already imply different content: count each table once.
      out.push({
        section: "content",
        object: t.table,
        detail: `same row count, different values${of}`,
      });
    }
  }
  for (const s of sequences) {
    if (!s.match)
      out.push({ section: "sequences", object: s.sequence, detail: describeSequence(s) });
  }
  for (const t of tables) {
    if (t.afterRestoreTarget) {
      out.push({
        section: "recency",
        object: t.table,
        detail: `target's newest ${t.timeColumns.join("/")} ${t.target!.newest} is after the restore target ${restoreTarget!.utc}`,
      });
    }
  }
  return out;
}

/** At most one progress line per second per side, plus each side's final line. */
function throttledProgress(log: (line: string) => void): (p: HashProgress) => void {
  const last: Record<string, number> = {};
  return (p) => {
    const now = Date.now();
    const done = p.tablesDone === p.tablesTotal;
    if (!done && now - (last[p.side] ?? 0) < 1000) return;
    last[p.side] = now;
    const mbs = p.bytes / 1e6 / Math.max(p.elapsedMs / 1000, 0.001);
    log(
      `verify: ${p.side} table ${p.tablesDone}/${p.tablesTotal} (last ${p.table}), ` +
        `${p.rows.toLocaleString("en-GB")} rows hashed, ${mbs.toFixed(1)} MB/s`,
    );
  };
}
