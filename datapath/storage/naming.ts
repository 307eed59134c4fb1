/**
 * Backup names and the blob / database names derived from them.
 *
 * Names follow the runbook: `ptt_<short>_adhoc_YYYY-MM-DD` (ad hoc), `ptt_<short>_YYYY-MM-DD`
 * (nightly) and `ptt_<short>_YYYY-MM-DD-restore-to-ptr` (backup of a point-in-time-restore server).
 * Every name-derived string is deterministic: re-running a step names things the same way.
 */
import { createHash } from "node:crypto";

/** Blob suffixes: our custom-format dump, its completion manifest, and the legacy plain dumps. */
export const DUMP_SUFFIX = ".dump";
export const MANIFEST_SUFFIX = ".manifest.json";
export const LEGACY_SUFFIX = ".sql.gz";

const SHORT_RE = /^[a-z0-9]{1,16}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Blob-name safe, no path separators, readable in a shell without quoting.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_NAME = 200;

/** `YYYY-MM-DD` for a Date (its UTC day) or a validated `YYYY-MM-DD` string. */
export function isoDay(date: Date | string): string {
  if (typeof date === "string") {
    const m = DATE_RE.exec(date);
    const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : undefined;
    if (!d || d.toISOString().slice(0, 10) !== date) {
      throw new Error(`invalid date "${date}": expected YYYY-MM-DD`);
    }
    return date;
  }
  if (Number.isNaN(date.getTime())) throw new Error("invalid date");
  return date.toISOString().slice(0, 10);
}

function checkShort(short: string): string {
  if (!SHORT_RE.test(short)) {
    throw new Error(`invalid environment short name "${short}": expected e.g. "pd" or "qa"`);
  }
  return short;
}

export function adhocBackupName(short: string, date: Date | string): string {
  return `ptt_${checkShort(short)}_adhoc_${isoDay(date)}`;
}

export function nightlyBackupName(short: string, date: Date | string): string {
  return `ptt_${checkShort(short)}_${isoDay(date)}`;
}

export function ptrBackupName(short: string, date: Date | string): string {
  return `ptt_${checkShort(short)}_${isoDay(date)}-restore-to-ptr`;
}

/** Why `name` is not a usable backup name, or undefined when it is. */
export function backupNameProblem(name: string): string | undefined {
  if (!name) return "backup name is empty";
  if (name.length > MAX_NAME) return `backup name is longer than ${MAX_NAME} characters`;
  if (!NAME_RE.test(name)) {
    return `backup name "${name}" may only contain letters, digits, "_", "-" and "." and must start with a letter or digit`;
  }
  for (const suffix of [DUMP_SUFFIX, MANIFEST_SUFFIX, LEGACY_SUFFIX, ".sql", ".gz", ".json"]) {
    if (name.endsWith(suffix)) {
      return `backup name "${name}" must not end with "${suffix}" (give the name without a file suffix)`;
    }
  }
  return undefined;
}

export function isValidBackupName(name: string): boolean {
  return backupNameProblem(name) === undefined;
}

export function assertBackupName(name: string): string {
  const problem = backupNameProblem(name);
  if (problem) throw new Error(problem);
  return name;
}

export const dumpBlobName = (name: string): string => name + DUMP_SUFFIX;
export const manifestBlobName = (name: string): string => name + MANIFEST_SUFFIX;
export const legacyBlobName = (name: string): string => name + LEGACY_SUFFIX;

export type BlobKind = "dump" | "manifest" | "legacy";

/** Splits a blob name into backup name and kind; undefined for blobs that are not ours. */
export function parseBlobName(blob: string): { name: string; kind: BlobKind } | undefined {
  const kinds: [string, BlobKind][] = [
    [MANIFEST_SUFFIX, "manifest"],
    [DUMP_SUFFIX, "dump"],
    [LEGACY_SUFFIX, "legacy"],
  ];
  for (const [suffix, kind] of kinds) {
    if (blob.endsWith(suffix) && blob.length > suffix.length) {
      return { name: blob.slice(0, -suffix.length), kind };
    }
  }
  return undefined;
}

/** Accepts `NAME`, `NAME.sql.gz`, `NAME.dump` or `NAME.manifest.json` from an operator. */
export function normaliseBackupName(input: string): string {
  return parseBlobName(input)?.name ?? input;
}

const MAX_IDENT_BYTES = 63; // PostgreSQL silently truncates longer identifiers.

/** Short, stable tag for a backup name, used in derived database names. */
export function backupTag(backupName: string): string {
  return createHash("sha256").update(backupName).digest("hex").slice(0, 8);
}

/** `prefix + suffix`, shortening the prefix to fit PostgreSQL's 63-byte identifiers. */
export function fitIdentifier(prefix: string, suffix: string): string {
  let p = prefix;
  while (Buffer.byteLength(p + suffix) > MAX_IDENT_BYTES) p = p.slice(0, -1);
  return p + suffix;
}

/**
 * Databases used by a restore of `backupName` into `database`: the fresh database restored into
 * (`<db>_restore_<tag>`) and the name the replaced live database is kept under
 * (`<db>_pre_restore_<tag>`), both derived from the backup name so a rerun reuses them.
 */
export function restoreDatabaseNames(
  database: string,
  backupName: string,
): { scratch: string; kept: string } {
  const tag = backupTag(backupName);
  return {
    scratch: fitIdentifier(database, `_restore_${tag}`),
    kept: fitIdentifier(database, `_pre_restore_${tag}`),
  };
}
