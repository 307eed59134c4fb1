/**
 * Runbook branch "database server is gone?": bring a server back under the ORIGINAL name.
 *  - revive: `createMode: ReviveDropped` from the dropped server's id at a time >= 10 minutes
 *    after deletion, within 5 days of it (checked at the config door);
 *  - rebuild: a new, empty server from the environment's spec, ready for a restore from storage
 *    (the RestoreFromStorage job is the seam that fills it).
 * Either way the server becomes production, so the overlay never deletes it: `retainOnDelete`.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  CREATE_ONLY,
  flexibleServerArgs,
  FlexibleServerSpec,
  flexibleServerTimeouts,
  ServerPlacement,
} from "./flexible-server";

/** The environment's server spec and the application database created on it. */
export interface ServerSpec extends FlexibleServerSpec {
  database: string;
}

/** Where the server goes and what it is called: the shape every Flexible Server shares. */
interface ServerRebuildCommon extends ServerPlacement {
  /** Default 6h: a revive or a create can take hours. */
  createTimeout?: string;
  tags?: Record<string, string>;
}

/** Revive the dropped server at a point in time, or create an empty one from a spec: one of the two. */
export type ServerRebuildArgs = ServerRebuildCommon &
  (
    | { revive: { droppedServerId: pulumi.Input<string>; restoreTime: Date }; create?: never }
    | { create: ServerSpec; revive?: never }
  );

export const SERVER_REBUILD_DEFAULTS = { createTimeout: "6h" } as const;

export class ServerRebuild extends pulumi.ComponentResource {
  readonly server: dbforpostgresql.Server;
  readonly database?: dbforpostgresql.Database;
  readonly fqdn: pulumi.Output<string>;
  readonly mode: "revive" | "create";
  /** Admin password of a created server (secret); undefined when revived. */
  readonly administratorPassword?: pulumi.Output<string>;

  constructor(name: string, args: ServerRebuildArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:ServerRebuild", name, {}, opts);
    // The type says it; untyped callers are told at run time.
    if (!!args.revive === !!args.create) {
      throw new Error(`ServerRebuild ${name}: set exactly one of revive or create`);
    }
    this.mode = args.revive ? "revive" : "create";
    const serverOpts: pulumi.CustomResourceOptions = {
      parent: this,
      // It is the production server from now on: never deleted by the overlay.
      retainOnDelete: true,
      customTimeouts: flexibleServerTimeouts(
        args.createTimeout ?? SERVER_REBUILD_DEFAULTS.createTimeout,
      ),
    };

    if (args.revive) {
      this.server = new dbforpostgresql.Server(
        `${name}-server`,
        flexibleServerArgs(args, {
          createMode: "ReviveDropped",
          sourceServerId: args.revive.droppedServerId,
          pointInTime: args.revive.restoreTime,
        }),
        { ...serverOpts, ignoreChanges: [...CREATE_ONLY.fromSource] },
      );
    } else {
      const spec = args.create;
      const password = new random.RandomPassword(
        `${name}-admin-password`,
        { length: 32, special: false },
        { parent: this },
      );
      this.administratorPassword = password.result;
      this.server = new dbforpostgresql.Server(
        `${name}-server`,
        flexibleServerArgs(args, {
          ...spec,
          createMode: "Create",
          administratorLoginPassword: password.result,
        }),
        { ...serverOpts, ignoreChanges: [...CREATE_ONLY.fromSpec] },
      );
      this.database = new dbforpostgresql.Database(
        `${name}-database`,
        {
          databaseName: spec.database,
          serverName: this.server.name,
          resourceGroupName: args.resourceGroupName,
          charset: "UTF8",
          collation: "en_US.utf8",
        },
        { parent: this, retainOnDelete: true },
      );
    }
    this.fqdn = this.server.fullyQualifiedDomainName.apply((f) => f ?? "");
    this.registerOutputs({
      serverName: args.serverName,
      mode: this.mode,
      fqdn: this.fqdn,
      administratorPassword: this.administratorPassword,
    });
  }
}
