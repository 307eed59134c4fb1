/**
 * The data tool's command lines as the runbook's Jobs must run them, spelled out flag by flag.
 * The product builds them with the contract's buildArgv; these are the expected values, written
 * apart from it so that a wrong flag or order there fails the tests that use them.
 */
const DB = "DATABASE_URL";

const tablesFlags = (tables: readonly string[] = []) => tables.flatMap((t) => ["--tables", t]);

/** `promote` from the PTR (live's credentials, the PTR's host) into live. */
const promoteFrom = (ptrHost: string, restoreTarget: string) => [
  "promote",
  "--from-env",
  DB,
  "--from-host",
  ptrHost,
  "--to-env",
  DB,
  "--restore-target",
  restoreTarget,
];

export const expectedArgv = {
  /** Corrupted 2: the ad-hoc backup of live. */
  adhocBackup: (name: string) => ["backup", "--name", name, "--db-env", DB],
  /** Corrupted 5: the archival backup of the PTR, read through live's credentials. */
  archivalBackup: (name: string, ptrHost: string) => [
    ...expectedArgv.adhocBackup(name),
    "--db-host",
    ptrHost,
  ],
  /** Corrupted 4: verify the PTR against live at the restore target. */
  verify: (ptrHost: string, restoreTarget: string) => [
    "verify",
    "--source-env",
    DB,
    "--target-env",
    DB,
    "--target-host",
    ptrHost,
    "--restore-target",
    restoreTarget,
  ],
  /** Corrupted 4: what each promotion mode would write and lose. */
  promotionPlan: (ptrHost: string, restoreTarget: string, tables?: readonly string[]) => [
    ...promoteFrom(ptrHost, restoreTarget),
    ...tablesFlags(tables),
    "--plan",
  ],
  /** Corrupted 5–6: the promotion itself, confirmed by naming live. */
  promote: (p: {
    ptrHost: string;
    restoreTarget: string;
    mode: string;
    tables?: readonly string[];
    confirm: string;
    incident: string;
  }) => [
    ...promoteFrom(p.ptrHost, p.restoreTarget),
    "--mode",
    p.mode,
    ...tablesFlags(p.tables),
    "--confirm",
    p.confirm,
    "--incident",
    p.incident,
  ],
  /** Server gone 1.1: restore a named backup, or the latest complete one. */
  restore: (name?: string) => [
    "restore",
    ...(name ? ["--name", name] : ["--latest"]),
    "--db-env",
    DB,
  ],
};
