/**
 * The roles a custom-format archive names, and giving a missing role's place to another.
 *
 * pg_restore (without --no-owner) makes each object's owner the one recorded in its table of
 * contents entry, and runs the GRANT/REVOKE, ALTER DEFAULT PRIVILEGES and CREATE POLICY text
 * pg_dump wrote. A role missing on the target fails that statement partway through the load; so
 * the restore reads every role named here first, and refuses before touching anything unless
 * the operator maps missing roles to an existing one. Mapping rewrites the local copy's table of
 * contents (owner fields, and role names in those statements) and moves the data offsets by
 * however much the table of contents grew; the data blocks are copied unchanged, and pg_restore
 * checks the block id found at each offset.
 */
import * as fs from "node:fs";
import { ident } from "../postgres/connection";
import { mergeRoles, RoleMap, RoleReferences } from "../postgres/roles";
import { ArchiveToc, readArchiveToc, TocOffset } from "./archive-index";

/** Entries whose SQL names roles other than the owner. */
const ROLE_STATEMENTS = new Set(["ACL", "DEFAULT ACL", "POLICY", "USER MAPPING"]);

interface Token {
  text: string;
  start: number;
  end: number;
  /** Nesting depth of parentheses the token sits in. */
  depth: number;
  kind: "word" | "quoted" | "string" | "other";
}

/** Splits pg_dump-generated SQL into tokens (identifiers, literals, punctuation). */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const start = i;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < sql.length && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i++;
      out.push({ text: sql.slice(start, i), start, end: i, depth, kind: "quoted" });
    } else if (c === "'" || ((c === "E" || c === "e") && sql[i + 1] === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      while (i < sql.length) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
      out.push({ text: sql.slice(start, i), start, end: i, depth, kind: "string" });
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      while (i < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[i])) i++;
      out.push({ text: sql.slice(start, i), start, end: i, depth, kind: "word" });
    } else {
      if (c === "(") depth++;
      if (c === ")") depth--;
      i++;
      out.push({ text: c, start, end: i, depth, kind: "other" });
    }
  }
  return out;
}

/** The role name an identifier token stands for (unquoted names fold to lower case). */
function roleName(t: Token): string {
  return t.kind === "quoted" ? t.text.slice(1, -1).replace(/""/g, '"') : t.text.toLowerCase();
}

const isWord = (t: Token | undefined, ...words: string[]) =>
  t !== undefined && t.kind === "word" && t.depth === 0 && words.includes(t.text.toUpperCase());

/** Tokens of a comma-separated role list starting at `i` (PUBLIC and CURRENT_USER left out). */
function roleList(tokens: Token[], i: number): Token[] {
  const out: Token[] = [];
  for (let j = i; j < tokens.length; j++) {
    const t = tokens[j];
    if (isWord(t, "GROUP")) continue;
    if (t.kind !== "word" && t.kind !== "quoted") break;
    if (!isWord(t, "PUBLIC", "CURRENT_USER", "CURRENT_ROLE", "SESSION_USER")) out.push(t);
    if (tokens[j + 1]?.text !== ",") break;
    j++;
  }
  return out;
}

/** Tokens naming roles in one statement of an ACL, DEFAULT ACL, POLICY or USER MAPPING entry. */
function roleTokens(statement: Token[]): Token[] {
  const out: Token[] = [];
  const at = (word: string, from = 0) =>
    statement.findIndex((t, k) => k >= from && isWord(t, word));
  if (isWord(statement[0], "SET") && isWord(statement[1], "SESSION")) {
    // SET SESSION AUTHORIZATION role (the grantor, when it is not the owner)
    return roleList(statement, 3);
  }
  if (isWord(statement[0], "ALTER") && isWord(statement[1], "DEFAULT")) {
    const forRole = statement.findIndex(
      (t, k) => isWord(t, "FOR") && isWord(statement[k + 1], "ROLE", "USER"),
    );
    if (forRole >= 0) out.push(...roleList(statement, forRole + 2));
  }
  if (isWord(statement[0], "CREATE") && isWord(statement[1], "USER")) {
    const f = at("FOR");
    if (f >= 0) out.push(...roleList(statement, f + 1));
    return out;
  }
  const grant = statement.findIndex((t) => isWord(t, "GRANT", "REVOKE"));
  if (isWord(statement[0], "CREATE") && isWord(statement[1], "POLICY")) {
    const to = at("TO");
    if (to >= 0) out.push(...roleList(statement, to + 1));
  } else if (grant >= 0) {
    const keyword = statement[grant].text.toUpperCase() === "GRANT" ? "TO" : "FROM";
    const k = at(keyword, grant + 1);
    if (k >= 0) out.push(...roleList(statement, k + 1));
  }
  return out;
}

/** Every role-naming token of an entry's SQL, statement by statement. */
function rolesInSql(sql: string): Token[] {
  const tokens = tokenize(sql);
  const out: Token[] = [];
  let from = 0;
  for (let i = 0; i <= tokens.length; i++) {
    if (i === tokens.length || (tokens[i].text === ";" && tokens[i].depth === 0)) {
      out.push(...roleTokens(tokens.slice(from, i)));
      from = i + 1;
    }
  }
  return out;
}

/** The roles an archive names: owners of its entries, and grantees, grantors and policy roles. */
export function archiveRoles(toc: ArchiveToc): RoleReferences {
  const owners = new Set<string>();
  const grantees = new Set<string>();
  for (const e of toc.entries) {
    if (e.owner) owners.add(e.owner);
    if (ROLE_STATEMENTS.has(e.desc) && e.defn) {
      for (const t of rolesInSql(e.defn)) grantees.add(roleName(t));
    }
  }
  return mergeRoles({ owners: [...owners].sort(), grantees: [...grantees].sort() });
}

/** Reads the archive's table of contents and the roles it names. */
export function readArchiveRoles(file: string): RoleReferences {
  return archiveRoles(readArchiveToc(file));
}

/** `sql` with every role in `map` replaced (by its quoted replacement). */
export function mapRolesInSql(sql: string, map: RoleMap): string {
  let out = "";
  let at = 0;
  for (const t of rolesInSql(sql)) {
    const to = map.get(roleName(t));
    if (to === undefined) continue;
    out += sql.slice(at, t.start) + ident(to);
    at = t.end;
  }
  return out + sql.slice(at);
}

/**
 * Rewrites the archive in place so that every role in `map` is replaced by its mapping: owner
 * fields and the role names in grant, default-privilege, policy and user-mapping statements.
 * Returns how many table-of-contents entries changed. Needs room for a second copy.
 */
export function rewriteArchiveRoles(file: string, map: RoleMap): number {
  const toc = readArchiveToc(file);
  const fd = fs.openSync(file, "r");
  const tmp = `${file}.roles`;
  let out: number | undefined;
  try {
    const read = (from: number, to: number) => {
      const b = Buffer.alloc(to - from);
      fs.readSync(fd, b, 0, b.length, from);
      return b;
    };
    const str = (value: string | null, original: Buffer): Buffer => {
      if (value === null) return original;
      const bytes = Buffer.from(value, "utf8");
      return Buffer.concat([int(bytes.length, toc.intSize), bytes]);
    };
    let changed = 0;
    const pieces = toc.entries.map((e: TocOffset) => {
      const owner = e.owner && map.has(e.owner) ? map.get(e.owner)! : null;
      const defn =
        e.defn && ROLE_STATEMENTS.has(e.desc) ? mapRolesInSql(e.defn, map) : (e.defn ?? "");
      const defnChanged = e.defn !== null && defn !== e.defn;
      if (owner === null && !defnChanged) return [read(e.start, e.flagPos + 1), e] as const;
      changed++;
      const rawDefn = read(e.defnPos, e.defnEnd);
      const rawOwner = read(e.ownerPos, e.ownerEnd);
      if (defnChanged) checkLossless(e.defn!, rawDefn, toc.intSize);
      const bytes = Buffer.concat([
        read(e.start, e.defnPos),
        str(defnChanged ? defn : null, rawDefn),
        read(e.defnEnd, e.ownerPos),
        str(owner, rawOwner),
        read(e.ownerEnd, e.flagPos + 1),
      ]);
      return [bytes, e] as const;
    });
    if (changed === 0) return 0;
    const oldLength = toc.dataStart - toc.countPos;
    const header = read(0, toc.countPos);
    const count = read(toc.countPos, toc.entries[0]?.start ?? toc.dataStart);
    const newLength = count.length + pieces.reduce((n, [b]) => n + b.length + toc.offSize, 0);
    const shift = newLength - oldLength;
    out = fs.openSync(tmp, "w");
    let pos = 0;
    const write = (b: Buffer) => {
      fs.writeSync(out!, b, 0, b.length, pos);
      pos += b.length;
    };
    write(header);
    write(count);
    for (const [bytes, e] of pieces) {
      write(bytes);
      // The data blocks follow the table of contents: each moves by the same amount.
      write(offsetBytes(e.flag === 2 ? e.offset + shift : e.offset, toc.offSize));
    }
    const size = fs.fstatSync(fd).size;
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let at = toc.dataStart; at < size;) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      if (n <= 0) throw new Error(`short read of ${file} at ${at}`);
      write(chunk.subarray(0, n));
      at += n;
    }
    fs.closeSync(out);
    out = undefined;
    fs.renameSync(tmp, file);
    return changed;
  } finally {
    fs.closeSync(fd);
    if (out !== undefined) fs.closeSync(out);
    fs.rmSync(tmp, { force: true });
  }
}

/** pg_dump's WriteInt: a sign byte, then `size` bytes, least significant first. */
function int(value: number, size: number): Buffer {
  const b = Buffer.alloc(1 + size);
  b[0] = value < 0 ? 1 : 0;
  let v = Math.abs(value);
  for (let i = 0; i < size; i++) {
    b[1 + i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

function offsetBytes(offset: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let v = offset;
  for (let i = 0; i < size; i++) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

/** Refuses to rewrite text that did not decode losslessly (a non-UTF-8 archive). */
function checkLossless(text: string, raw: Buffer, intSize: number): void {
  if (!Buffer.from(text, "utf8").equals(raw.subarray(1 + intSize))) {
    throw new Error("the archive's text is not UTF-8; roles cannot be mapped in it");
  }
}
