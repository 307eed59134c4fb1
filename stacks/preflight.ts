/**
 * Preflight: read-only checks against the live systems, run after the config door and before
 * anything is declared. A restore point outside the server's retention is a config mistake, so
 * it fails here with the key and the fix, like every other one.
 */
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as pulumi from "@pulumi/pulumi";
import { formatLondon, formatUtc } from "../contract/time";
import { Environment } from "./environment";
import { IncidentConfigError, PROJECT } from "./incident";

/** What the preflight reads of a scenario that restores live at a point in time. */
export interface RestorePoint {
  env: Environment;
  restoreTime: Date;
}

/** What the overlay needs to know of the live server. */
export interface LiveServer {
  id: pulumi.Input<string>;
}

/** Why `restoreTime` can't be restored on a server whose oldest restore point is `earliest`. */
export function retentionProblem(
  incident: RestorePoint,
  earliest: Date | undefined,
  retentionDays: number | undefined,
): string | undefined {
  if (!earliest || Number.isNaN(earliest.getTime()) || incident.restoreTime >= earliest) {
    return undefined;
  }
  const server = incident.env.azure.server.name;
  return (
    `${PROJECT}:restoreTime ${formatUtc(incident.restoreTime)} is before the earliest restore point of ` +
    `${server}, ${formatUtc(earliest)} (${formatLondon(earliest)}); backups are kept ` +
    `${retentionDays ?? "?"} days. Choose a later time, or restore an older backup from storage.`
  );
}

/** Reads the live server (it is never managed) and checks the restore point is in retention. */
export async function checkLiveServer(
  incident: RestorePoint,
  fallbackId: () => pulumi.Input<string>,
): Promise<LiveServer> {
  const env: Environment = incident.env;
  const server = env.azure.server;
  let live: dbforpostgresql.GetServerResult;
  try {
    live = await dbforpostgresql.getServer({
      resourceGroupName: env.azure.resourceGroup,
      serverName: server.name,
    });
  } catch (e) {
    throw new pulumi.RunError(
      `pg-recovery: could not read the live server ${env.azure.resourceGroup}/${server.name} ` +
        `(${(e as Error).message}). If it is gone, use pg-recovery:scenario server-gone; ` +
        `otherwise check your Azure login and the subscription (azure-native:subscriptionId).`,
    );
  }
  const earliest = live.backup?.earliestRestoreDate
    ? new Date(live.backup.earliestRestoreDate)
    : undefined;
  const problem = retentionProblem(incident, earliest, live.backup?.backupRetentionDays);
  if (problem) throw new pulumi.RunError(new IncidentConfigError([problem]).message);
  return { id: live.id ?? fallbackId() };
}
