/**
 * `--tables`: which tables `tables`/`merge` act on, resolved against the PTR copy (the state at
 * T) and checked against live before anything is written.
 */
import { DbModel, signatureDifferences, TableModel } from "./catalog";

/** The operator asked for something the mode cannot do safely; nothing was written. */
export class PromoteRefusedError extends Error {}

/** Splits `schema.table`, `table` or `"My Schema"."My.Table"` into its parts. */
export function parseTableName(input: string): { schema?: string; table: string } {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ".") {
      parts.push(cur);
      cur = "";
      wasQuoted = false;
    } else cur += wasQuoted ? ch : ch.toLowerCase();
  }
  if (quoted) throw new PromoteRefusedError(`--tables: unterminated quote in ${input}`);
  parts.push(cur);
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw new PromoteRefusedError(
      `--tables: "${input}" is not a table name (expected schema.table, e.g. public.users)`,
    );
  }
  return parts.length === 2 ? { schema: parts[0], table: parts[1] } : { table: parts[0] };
}

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
      problems.push((e as Error).message);
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

function resolveKey(
  p: { schema?: string; table: string },
  ptr: DbModel,
  live: DbModel,
  problems: string[],
  input: string,
): string | undefined {
  if (p.schema !== undefined) {
    const key = `${p.schema}.${p.table}`;
    if (ptr.tables.has(key)) return key;
    if (ptr.partitioned.includes(key)) {
      problems.push(`${key} is partitioned: name its partitions instead`);
    } else if (live.tables.has(key)) {
      problems.push(
        `${key} did not exist at the restore target (created since): nothing to restore`,
      );
    } else problems.push(`table ${input} does not exist at the restore target nor on live`);
    return undefined;
  }
  const matches = [...ptr.tables.keys()].filter((k) => k.slice(k.indexOf(".") + 1) === p.table);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    problems.push(`table ${input} is ambiguous: ${matches.join(", ")}`);
  } else problems.push(`table ${input} does not exist at the restore target`);
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
