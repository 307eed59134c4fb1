/**
 * The parts of the overlay that live outside Kubernetes: the GitHub freeze and the Azure side
 * (the live server read, the point-in-time restore, the rebuilt server, the storage key). The
 * composition asks a `Platform` for them, so a program that has no Azure or GitHub (the
 * real-engine suite against a local API server) can stand in for exactly these and still run
 * every Kubernetes resource from the product's own composition.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { BackupStorageAccess } from "../components/backup-storage-access";
import { SecretKey } from "../components/data-tool-job";
import { PipelineFreeze } from "../components/pipeline-freeze";
import { PointInTimeRestore, PrivateNetwork } from "../components/point-in-time-restore";
import { ServerRebuild } from "../components/server-rebuild";
import { STEPS } from "../contract/runbook";
import { Environment } from "./environment";
import { CorruptedIncident, DrillExercise, ServerGoneIncident } from "./incident";
import { checkLiveServer, LiveServer, RestorePoint } from "./preflight";

type ActiveIncident = CorruptedIncident | ServerGoneIncident;

/**
 * A new server restored from live at a point in time: the incident's PTR (kept on destroy) or
 * the drill's server (deleted on destroy).
 */
export interface RestoreRequest extends RestorePoint {
  /** The composition's resource name (`point-in-time-restore`, `drill-server`). */
  resourceName: string;
  serverName: string;
  /** Kept when the overlay is destroyed (the incident's evidence) or deleted (a drill's). */
  retainOnDelete: boolean;
  /** Tag value: the incident's or the drill's date. */
  date: string;
}

/** The PTR of a corrupted incident, as a restore request. */
export const ptrRequest = (incident: CorruptedIncident): RestoreRequest => ({
  env: incident.env,
  restoreTime: incident.restoreTime,
  resourceName: STEPS.pointInTimeRestore.resource,
  serverName: incident.ptrServerName,
  retainOnDelete: incident.retainRestoredServer,
  date: incident.incidentDate,
});

/** The drill's throwaway server: same network and DNS zone as a PTR, never kept. */
export const drillRequest = (drill: DrillExercise): RestoreRequest => ({
  env: drill.env,
  restoreTime: drill.restoreTime,
  resourceName: STEPS.drillServer.resource,
  serverName: drill.drillServerName,
  retainOnDelete: false,
  date: drill.incidentDate,
});

/** The restored (PTR) server, as the data jobs and the outputs see it. */
export interface RestoredServer {
  fqdn: pulumi.Input<string>;
  /** The instant really restored to, UTC. */
  restoreTimeUtc: pulumi.Input<string>;
  outputs: Record<string, unknown>;
}

/** The server brought back under the live name (server gone). */
export interface RebuiltServer {
  fqdn: pulumi.Input<string>;
  /** Set when the server is new: its admin password (secret). */
  administratorPassword?: pulumi.Output<string>;
  resource?: pulumi.Resource;
  outputs: Record<string, unknown>;
}

export interface Freeze {
  resource: pulumi.Resource;
  requiredApprovingReviews: pulumi.Input<number>;
}

export interface Platform {
  /** Read-only checks before anything is declared (the live server and the retention). */
  preflight(point: RestorePoint): Promise<LiveServer>;
  /** Providers besides Kubernetes that the overlay's components use. */
  providers(env: Environment): pulumi.ProviderResource[];
  /** Runbook 4: freeze the delivery pipeline. */
  freeze(incident: ActiveIncident, opts: pulumi.ComponentResourceOptions): Freeze;
  /** The backup storage connection string, as a Kubernetes secret key for the data jobs. */
  backupStorage(
    incident: ActiveIncident | DrillExercise,
    secretName: string,
    labels: Record<string, string>,
    opts: pulumi.ComponentResourceOptions,
  ): SecretKey;
  /** Corrupted 3 (and the drill): the point-in-time restore into a new server. */
  pointInTimeRestore(
    request: RestoreRequest,
    live: LiveServer,
    opts: pulumi.ComponentResourceOptions,
  ): RestoredServer & { resource: pulumi.Resource };
  /** Server gone 1: revive or rebuild the server under its original name. */
  serverRebuild(incident: ServerGoneIncident, opts: pulumi.ComponentResourceOptions): RebuiltServer;
}

/** Azure Database for PostgreSQL and a GitHub ruleset: what production runs on. */
export const azureAndGitHub: Platform = {
  preflight: (incident) =>
    checkLiveServer(incident, () => serverId(incident.env, incident.env.azure.server.name)),

  providers: (env) => [new github.Provider("github", { owner: env.github.owner })],

  freeze: (incident, opts) => {
    const gh = incident.env.github;
    const freeze = new PipelineFreeze(
      STEPS.freeze.resource,
      {
        repository: gh.repository,
        rulesetName: `pg-recovery freeze (incident ${incident.incidentDate})`,
        requiredApprovingReviewCount: incident.requiredReviews,
        branches: gh.defaultBranch === "main" ? undefined : [`refs/heads/${gh.defaultBranch}`],
      },
      opts,
    );
    return { resource: freeze, requiredApprovingReviews: freeze.requiredApprovingReviewCount };
  },

  backupStorage: (incident, secretName, labels, opts) => {
    const storage = incident.env.azure.backupStorage;
    return new BackupStorageAccess(
      STEPS.storage.resource,
      {
        accountName: storage.account,
        resourceGroupName: storage.resourceGroup,
        namespace: incident.env.kubernetes.namespace,
        secretName,
        labels,
      },
      opts,
    ).secretKey;
  },

  pointInTimeRestore: (request, live, opts) => {
    const env = request.env;
    const ptr = new PointInTimeRestore(
      request.resourceName,
      {
        resourceGroupName: env.azure.resourceGroup,
        location: env.azure.location,
        sourceServerId: live.id,
        serverName: request.serverName,
        restoreTime: request.restoreTime,
        network: privateNetwork(env),
        database: env.azure.server.database,
        namespace: env.kubernetes.namespace,
        retainOnDelete: request.retainOnDelete,
        tags: { "pg-recovery-incident-date": request.date },
      },
      opts,
    );
    return {
      resource: ptr,
      fqdn: ptr.fqdn,
      restoreTimeUtc: ptr.restoreTimeUtc,
      outputs: {
        serverName: request.serverName,
        fqdn: ptr.fqdn,
        restoreTimeUtc: ptr.restoreTimeUtc,
        restoreTimeLondon: ptr.restoreTimeLondon,
        connect: ptr.connectHint,
        keptOnDestroy: request.retainOnDelete,
      },
    };
  },

  serverRebuild: (incident, opts) => {
    const env = incident.env;
    const server = env.azure.server;
    const common = {
      resourceGroupName: env.azure.resourceGroup,
      location: env.azure.location,
      serverName: server.name,
      network: privateNetwork(env),
      tags: { "pg-recovery-incident-date": incident.incidentDate },
    };
    const rebuild =
      incident.mode === "revive"
        ? new ServerRebuild(
            STEPS.serverRebuild.resource,
            {
              ...common,
              revive: {
                droppedServerId: serverId(env, server.name),
                restoreTime: incident.restoreTime,
              },
            },
            opts,
          )
        : new ServerRebuild(
            STEPS.serverRebuild.resource,
            {
              ...common,
              create: {
                version: server.version,
                skuName: server.sku.name,
                skuTier: server.sku.tier,
                storageSizeGB: server.storageSizeGB,
                highAvailability: server.highAvailability,
                backupRetentionDays: server.backupRetentionDays,
                administratorLogin: server.administratorLogin,
                database: server.database,
              },
            },
            opts,
          );
    return {
      resource: rebuild,
      fqdn: rebuild.fqdn,
      administratorPassword: rebuild.administratorPassword,
      outputs: { mode: rebuild.mode, serverName: server.name, fqdn: rebuild.fqdn },
    };
  },
};

const subscriptionId = () => authorization.getClientConfigOutput().subscriptionId;

function serverId(env: Environment, name: string): pulumi.Output<string> {
  return pulumi.interpolate`/subscriptions/${subscriptionId()}/resourceGroups/${env.azure.resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${name}`;
}

function privateNetwork(env: Environment): PrivateNetwork {
  const n = env.azure.network;
  const sub = subscriptionId();
  return {
    delegatedSubnetResourceId: pulumi.interpolate`/subscriptions/${sub}/resourceGroups/${n.resourceGroup}/providers/Microsoft.Network/virtualNetworks/${n.virtualNetwork}/subnets/${n.subnet}`,
    privateDnsZoneArmResourceId: pulumi.interpolate`/subscriptions/${sub}/resourceGroups/${n.privateDnsZone.resourceGroup}/providers/Microsoft.Network/privateDnsZones/${n.privateDnsZone.name}`,
  };
}
