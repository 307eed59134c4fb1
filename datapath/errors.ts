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

/**
 * What the operator can do about a server error the tool cannot: its message with the fix
 * appended, or unchanged when the tool has nothing to add.
 */
export function withFix(message: string): string {
  // Every session runs with row_security = off (verify/connect.ts), so a policy that would hide
  // rows from the tool's role fails the read instead of yielding a subset.
  if (/would be affected by row-level security policy/.test(message)) {
    return `${message}: a row-level security policy would hide rows of that table from this role, ${ROW_SECURITY_FIX}`;
  }
  return message;
}

/** What to do when row-level security would hide rows from the tool's role. */
export const ROW_SECURITY_FIX =
  "and a partial read is refused rather than trusted. Connect as a role that sees every row " +
  "(the table's owner, or a role with BYPASSRLS), then run the command again";
