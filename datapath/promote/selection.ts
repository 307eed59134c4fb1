/**
 * `--tables`: which tables `tables`/`merge` act on, resolved against the PTR copy (the state at
 * T) and checked against live before anything is written.
 */
import {
  matchTableName,
  parseTableName,
  TableNameError,
  TypedTableName,
} from "../../contract/table-names";
import { DbModel, signatureDifferences, TableModel } from "./catalog";

/** The operator asked for something the mode cannot do safely; nothing was written. */
export class PromoteRefusedError extends Error {}

/** A write refused before it wrote anything, each problem on its line, in the plan's words. */
export const refusedBeforeWriting = (mode: string, problems: string[]) =>
  new PromoteRefusedError(
    `refused, nothing was written (${mode} mode):\n  ${problems.join("\n  ")}`,
  );

export interface ChosenTable {
  /** The table as it was at T (what gets copied). */
  atT: TableModel;
  /** The table on live; undefined when it was dropped since T (it is recreated). */
  live?: TableModel;
}

/**
 * Resolves the names and refuses what `tables`/`merge` cannot do: a table unknown at T, one
 * without a primary key, a partitioned parent, or one whose columns or constraints differ
 * between T and live. All problems are reported at once.
 */
export function resolveTables(names: string[], ptr: DbModel, live: DbModel): ChosenTable[] {
  if (names.length === 0) {
    throw new PromoteRefusedError("--tables is empty: name the tables to repair");
  }
  const problems: string[] = [];
  const chosen: ChosenTable[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    let parsed;
    try {
      parsed = parseTableName(name);
    } catch (e) {
      if (!(e instanceof TableNameError)) throw e;
      problems.push(`--tables: ${e.message}`);
      continue;
    }
    const key = resolveKey(parsed, ptr, live, problems, name);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    const atT = ptr.tables.get(key)!;
    const now = live.tables.get(key);
    if (!atT.pk)
      problems.push(
        `${key} has no primary key (rows cannot be matched between T and live; use --mode whole)`,
      );
    else if (now && !now.pk) problems.push(`${key} has no primary key on live`);
    if (now) {
      const diff = signatureDifferences(atT, now);
      if (diff.length) {
        problems.push(
          `${key}: schema differs between T and live (${diff.slice(0, 4).join("; ")}${diff.length > 4 ? `; ${diff.length - 4} more` : ""})`,
        );
      }
    }
    chosen.push({ atT, live: now });
  }
  if (problems.length) {
    throw new PromoteRefusedError(`refused, nothing was written:\n  ${problems.join("\n  ")}`);
  }
  return chosen;
}

/** The key of the table at T the typed name means (contract/table-names.ts's rule), or why not. */
function resolveKey(
  typed: TypedTableName,
  ptr: DbModel,
  live: DbModel,
  problems: string[],
  input: string,
): string | undefined {
  const atT = matchTableName(typed, [...ptr.tables.values(), ...ptr.partitioned]);
  if (atT.kind === "found") {
    if (ptr.tables.has(atT.table.key)) return atT.table.key;
    problems.push(`${atT.table.key} is partitioned: name its partitions instead`);
  } else if (atT.kind === "ambiguous") {
    problems.push(
      `table ${input} is ambiguous: ${atT.candidates.map((c) => c.key).join(", ")} (name one exactly as printed, e.g. ${atT.candidates[0].key})`,
    );
  } else {
    const now = matchTableName(typed, live.tables.values());
    if (now.kind === "found") {
      problems.push(
        `${now.table.key} did not exist at the restore target (created since): nothing to restore`,
      );
    } else {
      const nearly = atT.nearly.map((c) => c.key);
      problems.push(
        `table ${input} does not exist at the restore target${typed.schema ? " nor on live" : ""}${nearly.length ? ` (did you mean ${nearly.join(" or ")}?)` : ""}`,
      );
    }
  }
  return undefined;
}

/**
 * Parent-first order of the chosen tables along their foreign keys (at T), so inserts never
 * precede the rows they reference; cycles keep the given order.
 */
export function parentFirst(chosen: ChosenTable[], ptr: DbModel): ChosenTable[] {
  const keys = new Set(chosen.map((c) => c.atT.key));
  const deps = new Map<string, Set<string>>();
  for (const c of chosen) deps.set(c.atT.key, new Set());
  for (const fk of ptr.foreignKeys) {
    if (keys.has(fk.child) && keys.has(fk.parent) && fk.child !== fk.parent) {
      deps.get(fk.child)!.add(fk.parent);
    }
  }
  const out: ChosenTable[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (c: ChosenTable) => {
    const k = c.atT.key;
    if (done.has(k) || visiting.has(k)) return;
    visiting.add(k);
    for (const d of deps.get(k)!) visit(chosen.find((x) => x.atT.key === d)!);
    visiting.delete(k);
    done.add(k);
    out.push(c);
  };
  chosen.forEach(visit);
  return out;
}
