/**
 * Runbook step "restore the live server to a new server at a point in time". Declares a NEW
 * Flexible Server (`<live>-ptr`) with `createMode: PointInTimeRestore`; the live server is only
 * referenced by id and is never a managed resource here.
 *
 * The restore-time inputs are create-only: Azure doesn't return them, so they are ignored after
 * creation. The time actually restored to is recorded in a tag (also frozen after creation), so
 * outputs show the truth even if the config changes later; a changed config only warns. To
 * restore to another time, restore to another server name.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as pulumi from "@pulumi/pulumi";
import { formatLondon, formatUtc } from "../contract/time";
import {
  CREATE_ONLY,
  flexibleServerArgs,
  flexibleServerTimeouts,
  PrivateNetwork,
} from "./flexible-server";

export type { PrivateNetwork } from "./flexible-server";

export const RESTORE_TIME_TAG = "pg-recovery-restore-time";

export interface PointInTimeRestoreArgs {
  resourceGroupName: string;
  location: string;
  /** Resource id of the live server (from getServer). */
  sourceServerId: pulumi.Input<string>;
  /** Name of the new server, e.g. `s189p01-ptt-pd-pg-ptr`. */
  serverName: string;
  /** The instant to restore to; sent as UTC with one-second resolution. */
  restoreTime: Date;
  network: PrivateNetwork;
  /** Application database on the server, for the connection hints. */
  database: string;
  /** Kubernetes namespace, for the konduit.sh hint. */
  namespace?: string;
  /** Keep the server when the overlay is destroyed. Default true (it is the incident evidence). */
  retainOnDelete?: boolean;
  /** Restores take minutes to hours. Default 6h for create. */
  createTimeout?: string;
  tags?: Record<string, string>;
}

export const PTR_DEFAULTS = { retainOnDelete: true, createTimeout: "6h" } as const;

export class PointInTimeRestore extends pulumi.ComponentResource {
  readonly server: dbforpostgresql.Server;
  readonly fqdn: pulumi.Output<string>;
  readonly restoreTimeUtc: pulumi.Output<string>;
  readonly restoreTimeLondon: pulumi.Output<string>;
  readonly connectHint: pulumi.Output<string>;

  constructor(name: string, args: PointInTimeRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:PointInTimeRestore", name, {}, opts);
    const utc = formatUtc(args.restoreTime);

    this.server = new dbforpostgresql.Server(
      `${name}-server`,
      flexibleServerArgs(
        {
          serverName: args.serverName,
          resourceGroupName: args.resourceGroupName,
          location: args.location,
          network: args.network,
          tags: { ...args.tags, [RESTORE_TIME_TAG]: utc },
        },
        {
          createMode: "PointInTimeRestore",
          sourceServerId: args.sourceServerId,
          pointInTime: args.restoreTime,
        },
      ),
      {
        parent: this,
        customTimeouts: flexibleServerTimeouts(args.createTimeout ?? PTR_DEFAULTS.createTimeout),
        ignoreChanges: [...CREATE_ONLY.fromSource, "tags"],
        retainOnDelete: args.retainOnDelete ?? PTR_DEFAULTS.retainOnDelete,
      },
    );

    this.fqdn = this.server.fullyQualifiedDomainName.apply((f) => f ?? "");
    // The tag is frozen at creation, so this is the time the server was really restored to.
    this.restoreTimeUtc = this.server.tags.apply((tags) => {
      const recorded = tags?.[RESTORE_TIME_TAG] ?? utc;
      if (recorded !== utc) {
        pulumi.log.warn(
          `${args.serverName} was restored to ${recorded}, not the configured ${utc}: a restore ` +
            `time can't change after creation. Restore to a new server (pg-recovery:ptrServerName) instead.`,
          this,
        );
      }
      return recorded;
    });
    this.restoreTimeLondon = this.restoreTimeUtc.apply((t) => formatLondon(new Date(t)));
    const ns = args.namespace ?? "<namespace>";
    this.connectHint = pulumi.interpolate`bin/konduit.sh -x -n ${ns} -s ${args.serverName} ${args.database} -- psql   # or: psql "host=${this.fqdn} dbname=${args.database} sslmode=require"`;

    this.registerOutputs({
      serverName: args.serverName,
      fqdn: this.fqdn,
      restoreTimeUtc: this.restoreTimeUtc,
      restoreTimeLondon: this.restoreTimeLondon,
      connectHint: this.connectHint,
    });
  }
}
