/**
 * The Azure Flexible Server arguments every server pg-recovery creates shares (one home, so the
 * point-in-time restore, the drill server, the revived and the rebuilt server cannot drift):
 * name, place, private network, tags; then how it is created, from a source server at a point in
 * time or empty from a spec. The create-only inputs are listed once too: Azure does not return
 * them, so a later change to them must not plan a replacement.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as pulumi from "@pulumi/pulumi";
import { formatUtc } from "../contract/time";

export interface PrivateNetwork {
  delegatedSubnetResourceId: pulumi.Input<string>;
  privateDnsZoneArmResourceId: pulumi.Input<string>;
}

/** Where a new server goes and what it is called. */
export interface ServerPlacement {
  serverName: string;
  resourceGroupName: string;
  location: string;
  network: PrivateNetwork;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** From an existing (or dropped) server's backups at an instant: PITR, drill, revive. */
export interface FromSource {
  createMode: "PointInTimeRestore" | "ReviveDropped";
  sourceServerId: pulumi.Input<string>;
  /** Sent as UTC with one-second resolution. */
  pointInTime: Date;
}

/** What an empty server is built to: the environment's spec, less the secret. */
export interface FlexibleServerSpec {
  version: string;
  skuName: string;
  skuTier: string;
  storageSizeGB: number;
  highAvailability: string;
  backupRetentionDays: number;
  administratorLogin: string;
}

/** An empty server from the environment's spec (server gone, rebuilt). */
export interface FromSpec extends FlexibleServerSpec {
  createMode: "Create";
  administratorLoginPassword: pulumi.Input<string>;
}

/** Inputs Azure does not return after creation (and the restore-time tag, frozen on purpose). */
export const CREATE_ONLY = {
  fromSource: ["createMode", "sourceServerResourceId", "pointInTimeUTC", "network"],
  fromSpec: ["createMode", "network", "administratorLoginPassword"],
} as const;

export function flexibleServerArgs(
  at: ServerPlacement,
  how: FromSource | FromSpec,
): dbforpostgresql.ServerArgs {
  const common = {
    serverName: at.serverName,
    resourceGroupName: at.resourceGroupName,
    location: at.location,
    network: {
      delegatedSubnetResourceId: at.network.delegatedSubnetResourceId,
      privateDnsZoneArmResourceId: at.network.privateDnsZoneArmResourceId,
    },
    tags: at.tags,
  };
  if (how.createMode === "Create") {
    return {
      ...common,
      createMode: dbforpostgresql.CreateMode.Create,
      version: how.version,
      sku: { name: how.skuName, tier: how.skuTier },
      storage: { storageSizeGB: how.storageSizeGB },
      highAvailability: { mode: how.highAvailability },
      backup: { backupRetentionDays: how.backupRetentionDays },
      administratorLogin: how.administratorLogin,
      administratorLoginPassword: how.administratorLoginPassword,
    };
  }
  return {
    ...common,
    createMode: dbforpostgresql.CreateMode[how.createMode],
    sourceServerResourceId: how.sourceServerId,
    pointInTimeUTC: formatUtc(how.pointInTime),
  };
}

/** Restores and creates take minutes to hours; updates and deletes less. */
export function flexibleServerTimeouts(create: string): pulumi.CustomTimeouts {
  return { create, update: "2h", delete: "2h" };
}
