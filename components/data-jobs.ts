/**
 * The runbook's data steps as Kubernetes Jobs running the data tool:
 *  - AdhocBackup: "take a backup of the live database" (kept for the incident review);
 *  - RestoreValidation: "validate that the PTR restore worked" (verify PTR against live);
 *  - Promotion: "back up the restored PTR database" then restore it into live;
 *  - RestoreFromStorage: server gone, fill the rebuilt server from the latest complete backup.
 * Each is a component so the plan reads in the runbook's words; the Job shape is shared.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildArgv, DATA_TOOL_ENV, Invocation } from "../contract/data-tool";
import { dataToolJob, SecretKey } from "./data-tool-job";
import { k8sName } from "./naming";

/** What every data job needs: where it runs and which secrets it reads. */
export interface DataJobCommon {
  namespace: string;
  image: string;
  /** Job name, derived from the incident date. */
  jobName: string;
  /** The app's secret key holding DATABASE_URL for the live server. */
  databaseUrl: SecretKey;
  /** Secret key holding the backup storage connection string. */
  storageConnectionString: SecretKey;
  /** Blob container of the environment's backups. */
  container: string;
  labels?: Record<string, string>;
}

const DB_ENV = DATA_TOOL_ENV.databaseUrl;

/** One container of a data job: the data tool with the contract's flags. */
export const step = (name: string, invocation: Invocation<pulumi.Input<string>>) => ({
  name,
  args: buildArgv(invocation),
});

/** The Job spec every data job shares: image, labels, secrets, scratch directory. */
export function common(args: DataJobCommon) {
  return {
    namespace: args.namespace,
    jobName: args.jobName,
    image: args.image,
    labels: args.labels,
    secretEnv: {
      [DB_ENV]: args.databaseUrl,
      [DATA_TOOL_ENV.storageConnectionString]: args.storageConnectionString,
    },
    env: { [DATA_TOOL_ENV.container]: args.container, [DATA_TOOL_ENV.tmpDir]: "/work" },
  };
}

export interface AdhocBackupArgs extends DataJobCommon {
  /** Backup name, `ptt_<short>_adhoc_<date>`. */
  backupName: string;
}

export class AdhocBackup extends pulumi.ComponentResource {
  readonly backupName: string;
  readonly jobName: string;

  constructor(name: string, args: AdhocBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:AdhocBackup", name, {}, opts);
    this.backupName = args.backupName;
    this.jobName = args.jobName;
    dataToolJob(
      `${name}-job`,
      {
        ...common(args),
        steps: [
          step("backup", {
            command: "backup",
            options: { name: args.backupName, dbEnv: DB_ENV },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ backupName: args.backupName, jobName: args.jobName });
  }
}

export interface RestoreValidationArgs extends DataJobCommon {
  /** FQDN of the restored (PTR) server; credentials are the live ones (a PTR is a copy). */
  restoredHost: pulumi.Input<string>;
  /** The restore target, UTC: rows newer than this in the PTR are flagged. */
  restoreTimeUtc: pulumi.Input<string>;
  /** Tables the operator has named for promotion so far: the plan evaluates them too. */
  promotionTables?: string[];
}

export class RestoreValidation extends pulumi.ComponentResource {
  readonly jobName: string;
  readonly reportCommand: string;

  constructor(name: string, args: RestoreValidationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:RestoreValidation", name, {}, opts);
    this.jobName = args.jobName;
    this.reportCommand = `kubectl -n ${args.namespace} logs job/${args.jobName} --all-containers --prefix`;
    dataToolJob(
      `${name}-job`,
      {
        ...common(args),
        // PTR and live are expected to differ (that is the corruption): the report is the
        // product, so `pulumi up` doesn't wait on or fail with it.
        skipAwait: true,
        // Side by side: verify exits 1 on differences, which must not stop the plan.
        parallel: true,
        steps: [
          step("verify", {
            command: "verify",
            options: {
              sourceEnv: DB_ENV,
              targetEnv: DB_ENV,
              targetHost: args.restoredHost,
              restoreTarget: args.restoreTimeUtc,
            },
          }),
          // What each promotion mode would write and lose, read before choosing one.
          step("promotion-plan", {
            command: "promote",
            options: {
              ...promoteEndpoints(args.restoredHost, args.restoreTimeUtc),
              tables: args.promotionTables?.length ? args.promotionTables : undefined,
              plan: true,
            },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: args.jobName, reportCommand: this.reportCommand });
  }
}

/** From the restored (PTR) server to live, both reached with the app's credentials. */
const promoteEndpoints = (
  restoredHost: pulumi.Input<string>,
  restoreTimeUtc: pulumi.Input<string>,
) => ({
  fromEnv: DB_ENV,
  fromHost: restoredHost,
  toEnv: DB_ENV,
  restoreTarget: restoreTimeUtc,
});

export interface PromotionArgs extends DataJobCommon {
  restoredHost: pulumi.Input<string>;
  /** The instant the PTR was restored to, UTC. */
  restoreTimeUtc: pulumi.Input<string>;
  /** `whole`, or `tables`/`merge` with the damaged tables. */
  promotion: { mode: "whole" } | { mode: "tables" | "merge"; tables: string[] };
  /** `<live server>/<database>`: the exact target the operator confirmed. */
  confirmTarget: string;
  /** Names what promote keeps of the replaced rows (e.g. a schema for the incident review). */
  incident: string;
  /** Backup name of the archival PTR copy, `ptt_<short>_<date>-restore-to-ptr`. */
  backupName: string;
}

/**
 * Runbook "back up the PTR, restore it into live", loss-aware: `promote` copies straight from
 * the PTR server into live (whole database, or only the damaged tables); the archival backup of
 * the PTR that the runbook keeps for the review runs as its own Job, off the critical path.
 */
export class Promotion extends pulumi.ComponentResource {
  readonly jobName: string;
  readonly archiveJobName: string;
  readonly backupName: string;

  constructor(name: string, args: PromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:Promotion", name, {}, opts);
    this.jobName = args.jobName;
    this.archiveJobName = k8sName(args.jobName, "archive");
    this.backupName = args.backupName;
    dataToolJob(
      `${name}-job`,
      {
        ...common(args),
        steps: [
          step("promote", {
            command: "promote",
            options: {
              ...promoteEndpoints(args.restoredHost, args.restoreTimeUtc),
              mode: args.promotion.mode,
              tables: args.promotion.mode === "whole" ? undefined : args.promotion.tables,
              confirm: args.confirmTarget,
              incident: args.incident,
            },
          }),
        ],
      },
      { parent: this },
    );
    dataToolJob(
      `${name}-archive-job`,
      {
        ...common({ ...args, jobName: this.archiveJobName }),
        // The review copy: `pulumi up` does not wait for it, and promotion does not need it.
        skipAwait: true,
        steps: [
          step("backup-restored", {
            command: "backup",
            options: { name: args.backupName, dbEnv: DB_ENV, dbHost: args.restoredHost },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({
      jobName: args.jobName,
      archiveJobName: this.archiveJobName,
      backupName: args.backupName,
      mode: args.promotion.mode,
    });
  }
}

export interface RestoreFromStorageArgs extends Omit<DataJobCommon, "databaseUrl"> {
  /** Optional backup name; default the latest COMPLETE backup (never "today's file by name"). */
  backupName?: string;
  /**
   * URL of the rebuilt server (a secret: it carries the new admin password). Written to a
   * Kubernetes Secret of this component; the app's own secret still points at old credentials.
   */
  targetDatabaseUrl: pulumi.Input<string>;
  /** Kubernetes name of that Secret. */
  targetSecretName: string;
}

export class RestoreFromStorage extends pulumi.ComponentResource {
  readonly jobName: string;

  constructor(name: string, args: RestoreFromStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:RestoreFromStorage", name, {}, opts);
    this.jobName = args.jobName;
    const target = new k8s.core.v1.Secret(
      `${name}-target`,
      {
        metadata: { name: args.targetSecretName, namespace: args.namespace, labels: args.labels },
        type: "Opaque",
        stringData: { [DB_ENV]: pulumi.secret(args.targetDatabaseUrl) },
      },
      { parent: this },
    );
    dataToolJob(
      `${name}-job`,
      {
        ...common({ ...args, databaseUrl: { name: target.metadata.name, key: DB_ENV } }),
        steps: [
          step("restore", {
            command: "restore",
            options: args.backupName
              ? { name: args.backupName, dbEnv: DB_ENV }
              : { latest: true, dbEnv: DB_ENV },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: args.jobName, backup: args.backupName ?? "latest complete" });
  }
}
