/**
 * The verify report: a stable, machine-readable structure (--json) and its human rendering.
 * Everything except `stats` is deterministic for the same two databases.
 */
import type { Category, ExtensionConfig, SchemaDifference } from "./schema";

export type Section = "schema" | "rows" | "content" | "sequences" | "recency";

export interface Difference {
  section: Section;
  /** Table, sequence or schema object the difference is about. */
  object: string;
  detail: string;
}

export interface TableSideResult {
  rows: number;
  /** 32 hex digits (see hash.ts). */
  hash: string;
  /** Newest write-time value, RFC 3339 UTC, or null. */
  newest: string | null;
}

export interface TableResult {
  table: string;
  /** Write-time columns used for recency (from the target side when both have the table). */
  timeColumns: string[];
  source: TableSideResult | null;
  target: TableSideResult | null;
  rowsMatch: boolean;
  contentMatch: boolean;
  /** Target holds a write time later than the restore target. */
  afterRestoreTarget: boolean;
  /** Only on an extension's configuration table: whose it is and the rows compared. */
  extensionConfig?: ExtensionConfig;
}

export interface SequenceResult {
  sequence: string;
  source: { lastValue: string; isCalled: boolean } | null;
  target: { lastValue: string; isCalled: boolean } | null;
  match: boolean;
}

export interface EndpointInfo {
  /** Redacted URL: never contains a password. */
  url: string;
  serverVersion: string;
  /** Connections used (all on one snapshot); 1 if the server refused to export its snapshot. */
  connections: number;
}

export interface VerifyReport {
  version: 1;
  verdict: string;
  identical: boolean;
  differenceCount: number;
  source: EndpointInfo;
  target: EndpointInfo;
  /** The restore target as given, normalised to RFC 3339 UTC; null when not given. */
  restoreTarget: string | null;
  /** Schemas compared; null means every non-system schema. */
  schemas: string[] | null;
  schema: {
    compared: { source: Record<Category, number>; target: Record<Category, number> };
    differences: SchemaDifference[];
  };
  tables: TableResult[];
  sequences: SequenceResult[];
  differences: Difference[];
  stats: {
    elapsedMs: number;
    jobsPerSide: number;
    rowsHashed: number;
    bytesHashed: number;
    mbPerSecond: number;
  };
}

export function verdictFor(n: number): string {
  return n === 0 ? "IDENTICAL" : `${n} DIFFERENCE${n === 1 ? "" : "S"}`;
}

/** JSON with a trailing newline; key order is fixed by construction in verify.ts. */
export function formatJson(report: VerifyReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const num = (n: number) => n.toLocaleString("en-GB");

function pad(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

/** Human-readable report for stdout, ending with the verdict line. */
export function formatReport(report: VerifyReport): string {
  const both = report.tables.filter((t) => t.source && t.target);
  const out = [
    ...headerLines(report),
    "",
    ...schemaLines(report.schema),
    "",
    ...rowLines(both),
    "",
    ...contentLines(both),
    "",
    ...sequenceLines(report.sequences),
    "",
    ...recencyLines(report.tables),
    "",
    ...differenceLines(report.differences),
    ...summaryLines(report),
  ];
  return `${out.join("\n")}\n`;
}

function headerLines(report: VerifyReport): string[] {
  const out = [
    "pg-recovery verify",
    `  source (reference): ${report.source.url}  [PostgreSQL ${report.source.serverVersion}]`,
    `  target (candidate): ${report.target.url}  [PostgreSQL ${report.target.serverVersion}]`,
    `  restore target:     ${report.restoreTarget ?? "(not given: recency not checked)"}`,
    `  schemas:            ${report.schemas ? report.schemas.join(", ") : "all non-system schemas"}`,
  ];
  for (const side of ["source", "target"] as const) {
    if (report[side].connections < report.stats.jobsPerSide) {
      out.push(`  note: ${side} refused to export its snapshot, so it was read on one connection`);
    }
  }
  return out;
}

function schemaLines(schema: VerifyReport["schema"]): string[] {
  const c = schema.compared;
  const out = [
    "== schema ==",
    "  compared (source/target): " +
      (Object.keys(c.source) as Category[])
        .filter((k) => c.source[k] || c.target[k])
        .map((k) => `${k} ${c.source[k]}/${c.target[k]}`)
        .join(", "),
  ];
  if (schema.differences.length === 0) out.push("  ok: no schema differences");
  for (const d of schema.differences) {
    out.push(`  DIFF ${d.category} ${d.key}: ${d.change}`);
    if (d.source !== null) out.push(`       source: ${clip(d.source)}`);
    if (d.target !== null) out.push(`       target: ${clip(d.target)}`);
  }
  return out;
}

/** `both`: the tables present on both sides. */
function rowLines(both: TableResult[]): string[] {
  if (both.length === 0) return ["== rows ==", "  (no tables on both sides)"];
  const rows = [["  table", "source rows", "target rows", ""]];
  for (const t of both) {
    const delta = t.target!.rows - t.source!.rows;
    rows.push([
      `  ${t.table}`,
      num(t.source!.rows),
      num(t.target!.rows),
      t.rowsMatch ? "ok" : `DIFF (${delta > 0 ? "+" : ""}${num(delta)} on target)`,
    ]);
  }
  return ["== rows ==", ...pad(rows)];
}

/** `both`: the tables present on both sides. */
function contentLines(both: TableResult[]): string[] {
  const same = both.filter((t) => t.contentMatch).length;
  const out = ["== content ==", `  ${same}/${both.length} tables have identical content`];
  for (const t of both.filter((x) => !x.contentMatch)) {
    const why = t.rowsMatch ? "same row count, different values" : "row counts differ (see rows)";
    out.push(`  DIFF ${t.table}: ${why}; hash ${t.source!.hash} vs ${t.target!.hash}`);
  }
  for (const t of both.filter((x) => x.extensionConfig)) {
    out.push(`  note: ${t.table}: ${describeExtensionConfig(t.extensionConfig!)}`);
  }
  return out;
}

function sequenceLines(sequences: SequenceResult[]): string[] {
  const seqBoth = sequences.filter((s) => s.source && s.target);
  const out = [
    "== sequences ==",
    `  ${seqBoth.filter((s) => s.match).length}/${seqBoth.length} sequences at the same position`,
  ];
  for (const s of seqBoth.filter((x) => !x.match)) {
    out.push(`  DIFF ${s.sequence}: ${describeSequence(s)}`);
  }
  return out;
}

function recencyLines(tables: TableResult[]): string[] {
  const timed = tables.filter((t) => t.timeColumns.length && t.target);
  const untimed = tables.filter((t) => !t.timeColumns.length && t.target);
  return [
    "== recency ==",
    ...(timed.length === 0
      ? ["  no tables with write-time columns (created_at, updated_at ...)"]
      : newestWrites(timed)),
    ...(untimed.length
      ? [`  not checked (no write-time column): ${untimed.map((t) => t.table).join(", ")}`]
      : []),
  ];
}

/** `timed`: the target's tables that have write-time columns. */
function newestWrites(timed: TableResult[]): string[] {
  const rows = [["  table", "columns", "source newest", "target newest", ""]];
  for (const t of timed) {
    rows.push([
      `  ${t.table}`,
      t.timeColumns.join(","),
      t.source?.newest ?? "-",
      t.target?.newest ?? "-",
      t.afterRestoreTarget ? "DIFF: target has rows newer than the restore target" : "",
    ]);
  }
  return pad(rows);
}

/** The differences section, followed by a blank line; nothing when there are none. */
function differenceLines(differences: Difference[]): string[] {
  if (differences.length === 0) return [];
  return [
    "== differences ==",
    ...differences.map((d) => `  [${d.section}] ${d.object}: ${d.detail}`),
    "",
  ];
}

function summaryLines(report: VerifyReport): string[] {
  const s = report.stats;
  return [
    `hashed ${num(s.rowsHashed)} rows, ${(s.bytesHashed / 1e6).toFixed(1)} MB in ` +
      `${(s.elapsedMs / 1000).toFixed(1)} s (${s.mbPerSecond.toFixed(1)} MB/s, ${s.jobsPerSide} connections per side)`,
    `verdict: ${report.verdict}`,
  ];
}

/** What is compared of an extension's configuration table, in the report's words. */
export function describeExtensionConfig(e: ExtensionConfig): string {
  const rows = e.condition ? `the rows ${e.condition}` : "every row";
  return `configuration table of extension ${e.extension}: ${rows} (what pg_dump carries)`;
}

export function describeSequence(s: SequenceResult): string {
  const fmt = (v: { lastValue: string; isCalled: boolean }) =>
    `${v.lastValue}${v.isCalled ? "" : " (not yet called)"}`;
  const src = s.source!;
  const tgt = s.target!;
  let dir = "";
  try {
    const d = BigInt(tgt.lastValue) - BigInt(src.lastValue);
    if (d > 0n) dir = ` (target ahead by ${d})`;
    else if (d < 0n) dir = ` (target BEHIND by ${-d}: new rows could reuse ids)`;
  } catch {
    // non-integer renderings cannot happen for sequences; keep the plain text
  }
  return `source ${fmt(src)}, target ${fmt(tgt)}${dir}`;
}

function clip(s: string, max = 300): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
