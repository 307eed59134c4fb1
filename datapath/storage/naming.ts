/**
 * Blob and database names derived from a backup name. The backup names themselves and the rules
 * a name must follow are the contract's (`contract/backup-names.ts`), shared with the overlay.
 * Every derived string is deterministic: re-running a step names things the same way.
 */
import { createHash } from "node:crypto";
import {
  backupNameProblem,
  DUMP_SUFFIX,
  LEGACY_SUFFIX,
  MANIFEST_SUFFIX,
} from "../../contract/backup-names";

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
