/**
 * Table names as operators type them (the data tool's `--tables`, the overlay's
 * `promotionTables`) and as the data tool prints them. One parser for both sides of the Job
 * boundary, so the door accepts exactly what the data tool will.
 *
 * The rule (docs/promotion-refusals.md):
 *  - `schema.table`, or `table` when only one schema has it; either part may be double-quoted
 *    (`public."__EFMigrationsHistory"`, `"My Schema"."A.b""c"`: `""` is a quote).
 *  - A quoted part matches that name exactly.
 *  - An unquoted part matches the name with exactly that spelling first (what `\dt` and the plan
 *    print), else, when no table has it, the one name equal ignoring case; two such names are
 *    ambiguous, and the refusal names both.
 *  - Names are printed bare when that reads back as the same table (no dot, comma, quote or
 *    space in it), else quoted.
 */

/** One part of a typed name. */
export interface NamePart {
  text: string;
  /** Typed in double quotes: matches exactly, case included. */
  quoted: boolean;
}

export interface TypedTableName {
  schema?: NamePart;
  table: NamePart;
}

/** A name that cannot be read; the message says what is wrong and what form is expected. */
export class TableNameError extends Error {}

const EXPECTED = `expected schema.table, e.g. public.users or public."__EFMigrationsHistory"`;

/** Reads `schema.table`, `table` or `"My Schema"."My.Table"`. */
export function parseTableName(input: string): TypedTableName {
  const parts: NamePart[] = [];
  let cur = "";
  let quoted = false;
  let inQuotes = false;
  let afterQuote = false;
  const text = input.trim();
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') {
        inQuotes = false;
        afterQuote = true;
      } else cur += ch;
    } else if (ch === ".") {
      parts.push({ text: cur, quoted });
      cur = "";
      quoted = false;
      afterQuote = false;
    } else if (ch === '"' && cur === "" && !quoted) {
      inQuotes = true;
      quoted = true;
    } else if (afterQuote || ch === '"' || /\s/.test(ch)) {
      throw new TableNameError(`"${input}" is not a table name (${EXPECTED})`);
    } else cur += ch;
  }
  if (inQuotes) throw new TableNameError(`unterminated quote in ${input} (${EXPECTED})`);
  parts.push({ text: cur, quoted });
  if (parts.length > 2 || parts.some((p) => p.text === "")) {
    throw new TableNameError(`"${input}" is not a table name (${EXPECTED})`);
  }
  return parts.length === 2 ? { schema: parts[0], table: parts[1] } : { table: parts[0] };
}

/** Splits a comma-separated list, keeping commas inside double quotes; items trimmed. */
export function splitTableList(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inQuotes = false;
  for (const ch of text) {
    if (ch === '"') inQuotes = !inQuotes;
    if (ch === "," && !inQuotes) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/** An identifier as `--tables` reads it back: bare when it can be, else quoted. */
export function formatIdentifier(name: string): string {
  return name !== "" && !/[.,"\s]/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` in the form `--tables` and `promotionTables` accept. */
export function formatTableName(schema: string, table: string): string {
  return `${formatIdentifier(schema)}.${formatIdentifier(table)}`;
}

/**
 * The typed name spelled as printed: two entries with the same spelling (`public.a`,
 * `"public"."a"`) name the same table whenever that table exists.
 */
export function canonicalTableName(t: TypedTableName): string {
  const table = formatIdentifier(t.table.text);
  return t.schema ? `${formatIdentifier(t.schema.text)}.${table}` : table;
}

export interface TableRef {
  schema: string;
  name: string;
}

export type NameMatch<T extends TableRef> =
  | { kind: "found"; table: T }
  | { kind: "none"; nearly: T[] }
  | { kind: "ambiguous"; candidates: T[] };

/**
 * Finds the table a typed name means among `tables` by the rule above: exact spelling first,
 * then (unquoted parts only) equal ignoring case when that is unique. `nearly` lists tables
 * differing only in case from a quoted part, for the refusal's "did you mean".
 */
export function matchTableName<T extends TableRef>(
  typed: TypedTableName,
  tables: Iterable<T>,
): NameMatch<T> {
  const all = [...tables];
  const exact = (p: NamePart | undefined, s: string) => p === undefined || p.text === s;
  const folded = (p: NamePart | undefined, s: string) =>
    p === undefined || (!p.quoted && p.text.toLowerCase() === s.toLowerCase());
  const loose = (p: NamePart | undefined, s: string) =>
    p === undefined || p.text.toLowerCase() === s.toLowerCase();
  const pick = (ok: (p: NamePart | undefined, s: string) => boolean) =>
    all.filter((t) => ok(typed.schema, t.schema) && ok(typed.table, t.name));
  const exacts = pick(exact);
  if (exacts.length === 1) return { kind: "found", table: exacts[0] };
  if (exacts.length > 1) return { kind: "ambiguous", candidates: exacts };
  const foldeds = all.filter(
    (t) =>
      (exact(typed.schema, t.schema) || folded(typed.schema, t.schema)) &&
      (exact(typed.table, t.name) || folded(typed.table, t.name)),
  );
  if (foldeds.length === 1) return { kind: "found", table: foldeds[0] };
  if (foldeds.length > 1) return { kind: "ambiguous", candidates: foldeds };
  return { kind: "none", nearly: pick(loose) };
}
