/**
 * What every command shares: the injected Io (stdout, stderr, environment), flag checks beyond
 * the contract's parser, and scrubbing secrets from whatever gets printed. (Help: help.ts.)
 */
import { backupNameProblem } from "../../contract/backup-names";
import { DATA_TOOL_ENV, UsageError } from "../../contract/data-tool";
import { LogFn } from "../progress";
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
