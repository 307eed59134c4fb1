/**
 * A restore drill's data Jobs, on the drill server only (live is read, never written):
 *  - verify: the drill database against live at the restore time (`verify --drill`): schema
 *    identical, rows equal except those live shows as written after it, nothing newer in the
 *    drill database;
 *  - restore: the newest complete backup from storage into a scratch database on the drill
 *    server, checked against its manifest (the server-gone path, proven).
 * Both print one JSON check line per check (`--json`) that the runner collects. `pulumi up`
 * does not wait for them (a failed check must not fail the update: the runner collects the
 * evidence and removes the drill either way).
 */
import * as pulumi from "@pulumi/pulumi";
import { DATA_TOOL_ENV } from "../contract/data-tool";
import { common, DataJobCommon, step } from "./data-jobs";
import { dataToolJob } from "./data-tool-job";

const DB_ENV = DATA_TOOL_ENV.databaseUrl;

/** The scratch database the storage restore goes into, on the drill server. */
export const DRILL_SCRATCH_DATABASE = "pgr_drill_restore";

/** The resource name of each drill Job (the runner finds the Jobs by it). */
export const drillJobResource = (component: string, check: "verify" | "restore") =>
  `${component}-${check}-job`;

export interface DrillChecksArgs extends Omit<DataJobCommon, "jobName"> {
  /** FQDN of the drill server; credentials are live's (a point-in-time restore is a copy). */
  drillHost: pulumi.Input<string>;
  /** The instant the drill server was restored to, UTC. */
  restoreTimeUtc: pulumi.Input<string>;
  verifyJobName: string;
  restoreJobName: string;
  /** The application database's name (refused as the scratch database). */
  database: string;
}

export class DrillChecks extends pulumi.ComponentResource {
  readonly verifyJobName: string;
  readonly restoreJobName: string;
  readonly scratchDatabase = DRILL_SCRATCH_DATABASE;

  constructor(name: string, args: DrillChecksArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:DrillChecks", name, {}, opts);
    if (args.database === DRILL_SCRATCH_DATABASE) {
      throw new Error(`DrillChecks ${name}: the app database may not be the scratch database`);
    }
    this.verifyJobName = args.verifyJobName;
    this.restoreJobName = args.restoreJobName;
    dataToolJob(
      drillJobResource(name, "verify"),
      {
        ...common({ ...args, jobName: args.verifyJobName }),
        skipAwait: true,
        steps: [
          step("verify", {
            command: "verify",
            options: {
              sourceEnv: DB_ENV,
              targetEnv: DB_ENV,
              targetHost: args.drillHost,
              restoreTarget: args.restoreTimeUtc,
              drill: true,
              json: true,
            },
          }),
        ],
      },
      { parent: this },
    );
    dataToolJob(
      drillJobResource(name, "restore"),
      {
        ...common({ ...args, jobName: args.restoreJobName }),
        skipAwait: true,
        steps: [
          step("restore-latest", {
            command: "restore",
            options: {
              latest: true,
              dbEnv: DB_ENV,
              // Never live: the drill server's host, and a database of the drill's own.
              dbHost: args.drillHost,
              dbName: DRILL_SCRATCH_DATABASE,
              json: true,
            },
          }),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({
      verifyJobName: args.verifyJobName,
      restoreJobName: args.restoreJobName,
      scratchDatabase: DRILL_SCRATCH_DATABASE,
    });
  }
}
