/**
 * Backup names, as the runbook and today's workflows spell them: `ptt_<short>_adhoc_YYYY-MM-DD`
 * (ad hoc), `ptt_<short>_YYYY-MM-DD` (nightly) and `ptt_<short>_YYYY-MM-DD-restore-to-ptr` (the
 * backup of a point-in-time-restore server). The overlay names its Jobs' backups with these and
 * the data tool checks the names it is given with the same rules. Every name derives from the
 * incident date, never from the clock, so a rerun names things the same way.
 */

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

function adhocBackupName(short: string, date: Date | string): string {
  return `ptt_${checkShort(short)}_adhoc_${isoDay(date)}`;
}

function ptrBackupName(short: string, date: Date | string): string {
  return `ptt_${checkShort(short)}_${isoDay(date)}-restore-to-ptr`;
}

/** The backups one incident writes, named from its environment and date. */
export function incidentBackupNames(short: string, incidentDate: string) {
  return {
    /** Corrupted 2: live, after the scale-down, for the incident review. */
    adhoc: adhocBackupName(short, incidentDate),
    /** Corrupted 5: the restored (PTR) database, the archival copy promotion keeps. */
    restoredCopy: ptrBackupName(short, incidentDate),
  };
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
