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
