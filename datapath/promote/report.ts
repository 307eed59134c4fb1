/** The promotion plan and results as an operator reads them, and as JSON for scripts. */
import { formatBytes } from "../progress";
import { FK_ACTION } from "./catalog";
import type { ApplyResult } from "./apply";
import type { ModeSummary, PromotionPlan, TableReport } from "./plan";

const n = (x: number) => x.toLocaleString("en-GB");

function table(head: string[], rows: string[][], right: Set<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)];
}

/** `2025-06-01 12:07:00` (UTC; fractions only when there are some). */
const when = (s: string | null) =>
  s
    ? s
        .replace("T", " ")
        .replace(/\.0+Z$|Z$/, "")
        .replace(/(\.\d*?)0+$/, "$1")
    : "-";
const newest = (x: { createdAt: string | null; updatedAt: string | null }) =>
  `${when(x.createdAt)} / ${when(x.updatedAt)}`;

function tableRow(t: TableReport): string[] {
  const changed = t.changed === null ? "?" : n(t.changed);
  const flag =
    t.status !== "on both"
      ? t.status
      : t.method === "content"
        ? t.sameContent
          ? "no primary key: same content"
          : "no primary key: content differs"
        : t.deleted + (t.changed ?? 0) + t.added === 0
          ? "unchanged"
          : "";
  return [
    t.key,
    n(t.atT),
    n(t.live),
    n(t.deleted),
    changed,
    n(t.added),
    newest(t.newestAtT),
    newest(t.newestLive),
    `${flag}${t.writesAfterTAtT ? `${flag ? "; " : ""}WRITES AFTER T AT T?` : ""}`,
  ];
}

function modeLine(m: ModeSummary, chosen?: string): string[] {
  const mark = chosen === m.mode ? " (chosen)" : "";
  const lines: string[] = [];
  const copy = `copies ${formatBytes(m.bytesToCopy)} from the PTR server`;
  if (m.mode === "whole") {
    lines.push(
      `  whole${mark}: replaces the whole database (fresh copy, verified, swapped by rename; the old one kept); ${copy}`,
      `    restores ${n(m.restores)} rows; DISCARDS ${n(m.loses)} rows written or changed after T (the corruption's among them)` +
        (m.losesTables.length
          ? ` and the tables created since T: ${m.losesTables.join(", ")}`
          : ""),
    );
  } else if (m.mode === "tables") {
    lines.push(
      `  tables${mark}: ${m.tables.join(", ") || "(no tables)"} take their content at T; every other table keeps all its writes; ${copy}`,
      `    inserts ${n(m.inserts)}, updates ${n(m.updates)}, deletes ${n(m.deletes)}; restores ${n(m.restores)} rows; discards ${n(m.loses)} rows written or changed after T in these tables (the corruption's among them; kept aside in the incident schema)`,
    );
  } else {
    lines.push(
      `  merge${mark}: re-inserts into ${m.tables.join(", ") || "(no tables)"} the rows at T that live no longer has; nothing else changes; ${copy}`,
      `    inserts ${n(m.inserts)}; restores ${n(m.restores)} rows; discards nothing` +
        (m.notRepaired ? `; leaves ${n(m.notRepaired)} rows changed since T as they are` : ""),
    );
  }
  if (m.uncertain.length) {
    lines.push(
      `    counts uncertain for ${m.uncertain.join(", ")} (no primary key or the rows' shape changed)`,
    );
  }
  for (const r of m.notes) lines.push(`    ${r}`);
  for (const r of m.refusals) lines.push(`    WOULD BE REFUSED: ${r}`);
  return lines;
}

export function formatPlan(p: PromotionPlan): string {
  const out: string[] = [
    `promotion plan: ${p.ptr} (state at T = ${p.restoreTarget}) -> live ${p.live}`,
    `nothing was written. Rows compared by primary key in one snapshot per side (${p.seconds.toFixed(1)}s).`,
    "",
    "per table (rows at T -> live; NEWEST = created_at / updated_at, UTC):",
    ...table(
      [
        "TABLE",
        "AT T",
        "LIVE",
        "DELETED",
        "CHANGED",
        "ADDED",
        "NEWEST AT T",
        "NEWEST LIVE",
        "NOTE",
      ],
      p.tables.map(tableRow),
      new Set([1, 2, 3, 4, 5]),
    ).map((l) => `  ${l}`),
    "",
  ];
  if (p.tablesWithoutPrimaryKey.length) {
    out.push(
      `tables without a primary key (whole mode only; rows cannot be matched): ${p.tablesWithoutPrimaryKey.join(", ")}`,
      "",
    );
  }
  out.push(
    p.chosen.length
      ? `what each mode would do (--tables ${p.chosen.join(",")}):`
      : "what each mode would do (pass --tables to see tables and merge):",
  );
  for (const m of p.modes) out.push(...modeLine(m, p.mode));
  out.push("");
  if (p.chosen.length) {
    out.push("foreign keys crossing the chosen tables:");
    if (!p.foreignKeys.length) out.push("  none");
    for (const x of p.foreignKeys) {
      const dir =
        x.direction === "into" ? "references a chosen table" : "a chosen table references";
      out.push(
        `  ${x.fk.name}: ${x.fk.child} (${x.fk.childColumns.join(", ")}) -> ${x.fk.parent} (${x.fk.parentColumns.join(", ")}), ON DELETE ${FK_ACTION[x.fk.onDelete]}, ON UPDATE ${FK_ACTION[x.fk.onUpdate]} [${dir}]: ` +
          (x.violations ? `${x.consequence}; e.g. ${x.samples.join(", ")}` : "ok for tables mode"),
      );
    }
    for (const d of p.droppedReferences) out.push(`  not recreated with the dropped table: ${d}`);
    out.push("");
    out.push(
      "user triggers and rules on the chosen tables (they would act on the copy's writes; promote disables them while it writes, so the rows end exactly as at T and whatever they maintain is not updated):",
    );
    if (!p.triggers.length && !p.rules.length) out.push("  none");
    for (const [kind, list] of [
      ["trigger", p.triggers],
      ["rule", p.rules],
    ] as const) {
      for (const t of list) {
        out.push(
          `  ${kind} ${t.table}.${t.name}${t.enabled === "D" ? " (disabled already)" : ""}: ${t.definition}`,
        );
      }
    }
    out.push("");
  }
  return `${out.join("\n")}\n`;
}

export function planJson(p: PromotionPlan): string {
  return `${JSON.stringify(
    {
      ...p,
      foreignKeys: p.foreignKeys.map((x) => ({
        name: x.fk.name,
        child: x.fk.child,
        childColumns: x.fk.childColumns,
        parent: x.fk.parent,
        parentColumns: x.fk.parentColumns,
        onDelete: FK_ACTION[x.fk.onDelete],
        onUpdate: FK_ACTION[x.fk.onUpdate],
        direction: x.direction,
        violations: x.violations,
        samples: x.samples,
        consequence: x.consequence,
      })),
    },
    null,
    2,
  )}\n`;
}

export function formatApplied(r: ApplyResult, target: string, seconds: number): string {
  const lines = [
    `promote --mode ${r.mode} into ${target}: complete (one transaction, ${seconds.toFixed(1)}s, ${formatBytes(r.bytesCopied)} copied)`,
    ...table(
      ["TABLE", "ROWS AT T", "INSERTED", "UPDATED", "DELETED", "KEPT ASIDE"],
      r.tables.map((t) => [
        `${t.table}${t.recreated ? " (recreated)" : ""}`,
        n(t.rowsAtT),
        n(t.inserted),
        n(t.updated),
        n(t.deleted),
        t.keptIn ? `${n(t.kept)} in ${t.keptIn}` : "-",
      ]),
      new Set([1, 2, 3, 4]),
    ).map((l) => `  ${l}`),
  ];
  for (const s of r.sequences) lines.push(`  sequence ${s.sequence}: ${s.from} -> ${s.to}`);
  const t = r.timings;
  lines.push(
    `  took:     staging ${t.staging.toFixed(1)}s, ANALYZE ${t.analyze.toFixed(1)}s, comparison ${t.comparison.toFixed(1)}s${r.mode === "tables" ? `, keeping replaced rows ${t.keep.toFixed(1)}s` : ""}, writes ${t.writes.toFixed(1)}s, constraint validation ${t.constraints.toFixed(1)}s, checks ${t.checks.toFixed(1)}s`,
  );
  if (r.triggersDisabled.length) {
    lines.push(
      `  user triggers disabled during the writes, then restored: ${r.triggersDisabled.join(", ")}`,
    );
  }
  if (r.rulesDisabled.length) {
    lines.push(
      `  user rules disabled during the writes, then restored: ${r.rulesDisabled.join(", ")}`,
    );
  }
  for (const x of r.keysRebuilt) lines.push(`  ${x}`);
  for (const x of r.indexesRebuilt) lines.push(`  ${x}`);
  for (const x of r.notRecreated) lines.push(`  not recreated (dropped with the table): ${x}`);
  if (r.keepSchema)
    lines.push(
      `  replaced rows are kept in schema ${r.keepSchema}: drop it after the incident review`,
    );
  return `${lines.join("\n")}\n`;
}
