/**
 * What every command shares: the injected Io (stdout, stderr, environment), the one usage text,
 * flag checks beyond the contract's parser, and scrubbing secrets from whatever gets printed.
 */
import { backupNameProblem } from "../../contract/backup-names";
import { DATA_TOOL, DATA_TOOL_ENV, DEFAULT_CONTAINER, UsageError } from "../../contract/data-tool";
import { LogFn } from "../progress";
import { STORAGE_UNREACHABLE_BOUND_S } from "../storage/blobs";
import { normaliseBackupName } from "../storage/naming";

/** Where a command writes and what it reads: the process's, or a test's. */
export interface Io {
  /** The summary or report (stdout: what scripts capture). */
  out: (s: string) => void;
  /** Progress and errors (stderr). */
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

/** Progress lines to stderr, one per call. */
export const logTo =
  (io: Io): LogFn =>
  (line) =>
    io.err(`${line}\n`);

export const USAGE = `usage: ${DATA_TOOL} <command> [flags]

  backup  --name NAME [--db-env VAR] [--db-host HOST] [--db-name DB] [--jobs N]
          [--container C] [--verify-readback]
  list    [--container C] [--json]
  restore (--name NAME | --latest) [--db-env VAR] [--db-host HOST] [--db-name DB]
          [--confirm SERVER/DATABASE] [--jobs N] [--container C] [--temp-dir DIR]
          [--map-missing-roles-to ROLE] [--json]
  verify  [--source URL | --source-env VAR] [--source-host HOST] [--source-name DB]
          [--target URL | --target-env VAR] [--target-host HOST] [--target-name DB]
          [--restore-target RFC3339-with-offset [--drill]] [--schema S,...] [--jobs N] [--json]
  promote [--from-env VAR] [--from-host HOST] [--from-name DB] [--to-env VAR] [--to-host HOST]
          [--to-name DB] --restore-target RFC3339-with-offset [--tables SCHEMA.TABLE,...]
          (--plan [--mode M] | --mode whole|tables|merge --confirm SERVER/DATABASE)
          [--incident NAME] [--jobs N] [--json]

The database URL is read from $${DATA_TOOL_ENV.databaseUrl} (or the variable named by --db-env);
--db-host and --db-name replace its host and database. verify compares a source (reference,
e.g. live) with a target (candidate, e.g. the PTR server); both variables default to
$${DATA_TOOL_ENV.databaseUrl}. Storage: $${DATA_TOOL_ENV.storageConnectionString}, or
$${DATA_TOOL_ENV.storageAccountUrl} with $${DATA_TOOL_ENV.storageSasToken}; container --container, else
$${DATA_TOOL_ENV.container}, else ${DEFAULT_CONTAINER}. PostgreSQL client tools come from $${DATA_TOOL_ENV.pgBin},
else PATH.

promote copies the point-in-time restore (--from: the PTR server, e.g. --from-host its FQDN) into
live (--to) straight from server to server: whole (live becomes the PTR database), tables (only
the named tables go back to the restore target) or merge (only re-insert the rows of the named
tables deleted since). --plan writes nothing and shows what each mode would write and lose.

restore keeps each object's owner and grants: a role the backup names that the target server
lacks is refused before anything changes, unless --map-missing-roles-to ROLE names the role that
takes its place. A new database also gets the backed-up database's owner, comment, grants and
settings. --latest passes over a newest backup found damaged, and says so; --name never does.
Storage that does not answer fails the command within ${STORAGE_UNREACHABLE_BOUND_S} s, each retry shown on stderr.

verify --drill (a restore drill, with --restore-target): the target is live restored at that
time, so rows live shows as written later, or changed or deleted since, are expected and
counted; a row live wrote up to it that the target lacks fails its table; a table with no
write-time column is reported with its counts. --json then prints one check line per check, as
restore --json does (what pg-recovery drill collects).

Restoring over a database that holds tables, and promote without --plan, need --confirm
SERVER/DATABASE, where SERVER is the first DNS label of the host (s189p01-ptt-pd-pg for
s189p01-ptt-pd-pg.postgres.database.azure.com) or the whole host when it is an IP address.

Exit codes: 0 ok; 1 failed, refused, or (verify) differences found; 2 usage or configuration.
`;

/**
 * The backup name given with --name: `NAME.sql.gz`/`.dump`/`.manifest.json` are accepted when
 * `acceptBlobName` (restore), and a name that could not be a backup (a path, `..`, spaces) is a
 * usage error before anything is touched.
 */
export function backupNameFlag(name: string, acceptBlobName = false): string {
  const normalised = acceptBlobName ? normaliseBackupName(name) : name;
  const problem = backupNameProblem(normalised);
  if (problem) throw new UsageError(`--name: ${problem}`);
  return normalised;
}

/** Secrets that may reach an error message through a library: scrub them whatever happened. */
export function envSecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const cs = env[DATA_TOOL_ENV.storageConnectionString];
  if (cs) {
    out.push(cs);
    for (const m of cs.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) out.push(m[1]);
  }
  const sas = env[DATA_TOOL_ENV.storageSasToken]?.replace(/^\?/, "");
  if (sas) {
    out.push(sas);
    const sig = new URLSearchParams(sas).get("sig");
    if (sig) out.push(sig, encodeURIComponent(sig));
  }
  for (const v of Object.values(env)) {
    if (!v || !/^postgres(ql)?:\/\//.test(v)) continue;
    try {
      const pw = new URL(v).password;
      if (pw) out.push(pw, decodeURIComponent(pw));
    } catch {
      // not a URL after all: nothing to scrub
    }
  }
  return out;
}

export function redact(text: string, secrets: string[]): string {
  return secrets
    .filter((s) => s && s.length >= 4)
    .sort((a, b) => b.length - a.length)
    .reduce((acc, s) => acc.split(s).join("***"), text);
}
