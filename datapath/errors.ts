/** Errors that tell the operator nothing was changed and what to do instead. */

/** The operator asked for something unsafe or ambiguous; nothing was changed. */
export class RestoreRefusedError extends Error {}

/** The backup artifact failed its integrity checks; nothing was changed. */
export class BackupCorruptError extends Error {}

/** The backup name is taken; backups are never overwritten. */
export class BackupExistsError extends Error {}
