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
const step = (name: string, invocation: Invocation<pulumi.Input<string>>) => ({
  name,
  args: buildArgv(invocation),
});

function common(args: DataJobCommon) {
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
}

export class RestoreValidation extends pulumi.ComponentResource {
  readonly jobName: string;
  readonly reportCommand: string;

  constructor(name: string, args: RestoreValidationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:RestoreValidation", name, {}, opts);
    this.jobName = args.jobName;
    this.reportCommand = `kubectl -n ${args.namespace} logs job/${args.jobName}`;
    dataToolJob(
      `${name}-job`,
      {
        ...common(args),
        // PTR and live are expected to differ (that is the corruption): the report is the
        // product, so `pulumi up` doesn't wait on or fail with it.
        skipAwait: true,
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
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: args.jobName, reportCommand: this.reportCommand });
  }
}

export interface PromotionArgs extends DataJobCommon {
  restoredHost: pulumi.Input<string>;
  /** Backup name of the PTR copy, `ptt_<short>_<date>-restore-to-ptr`. */
  backupName: string;
  /** `<live server>/<database>`: the exact target the operator confirmed. */
  confirmTarget: string;
}

export class Promotion extends pulumi.ComponentResource {
  readonly jobName: string;
  readonly backupName: string;

  constructor(name: string, args: PromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:Promotion", name, {}, opts);
    this.jobName = args.jobName;
    this.backupName = args.backupName;
    dataToolJob(
      `${name}-job`,
      {
        ...common(args),
        steps: [
          step("backup-restored", {
            command: "backup",
            options: { name: args.backupName, dbEnv: DB_ENV, dbHost: args.restoredHost },
          }),
          step("restore-into-live", {
            command: "restore",
            options: { name: args.backupName, dbEnv: DB_ENV, confirm: args.confirmTarget },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: args.jobName, backupName: args.backupName });
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
