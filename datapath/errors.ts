/**
 * Errors that tell the operator nothing was changed and what to do instead. The CLI maps them to
 * exit codes: ConfigError (and the contract's UsageError) 2, everything else 1.
 */

/** The tool is not set up to run as asked (a variable unset, a malformed URL); nothing ran. */
export class ConfigError extends Error {}

/** The operator asked for something unsafe or ambiguous; nothing was changed. */
export class RestoreRefusedError extends Error {}

/** The backup artifact failed its integrity checks; nothing was changed. */
export class BackupCorruptError extends Error {}

/** The backup name is taken; backups are never overwritten. */
export class BackupExistsError extends Error {}

/**
 * The SQLSTATE of a PostgreSQL error (node-postgres carries it as `code`); undefined for an error
 * with no string code. One reading of it instead of a cast at every place that tells a server
 * refusal (a constraint, a lock timeout, a missing function) from a failure.
 */
export function sqlState(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string"
    ? e.code
    : undefined;
}
