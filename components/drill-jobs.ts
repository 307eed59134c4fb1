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
import { DRILL_SCRATCH_DATABASE, drillInvocations } from "../contract/drill-check";
import { common, DataJobCommon, step } from "./data-jobs";
import { dataToolJob } from "./data-tool-job";

export { DRILL_SCRATCH_DATABASE };

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
    const run = drillInvocations({ drillHost: args.drillHost, restoreTarget: args.restoreTimeUtc });
    dataToolJob(
      drillJobResource(name, "verify"),
      {
        ...common({ ...args, jobName: args.verifyJobName }),
        skipAwait: true,
        steps: [step("verify", run.verify)],
      },
      { parent: this },
    );
    dataToolJob(
      drillJobResource(name, "restore"),
      {
        ...common({ ...args, jobName: args.restoreJobName }),
        skipAwait: true,
        steps: [step("restore-latest", run.restore)],
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
