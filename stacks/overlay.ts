/**
 * Composes the recovery overlay for one incident. Reads like the runbook: freeze, maintenance,
 * scale-down, ad-hoc backup, point-in-time restore (or server rebuild), validation, promotion.
 */
import * as authorization from "@pulumi/azure-native/authorization";
import * as dbforpostgresql from "@pulumi/azure-native/dbforpostgresql";
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupStorageAccess } from "../components/backup-storage-access";
import {
  AdhocBackup,
  DataJobCommon,
  Promotion,
  RestoreFromStorage,
  RestoreValidation,
} from "../components/data-jobs";
import { MaintenanceMode } from "../components/maintenance-mode";
import { k8sName, overlayLabels } from "../components/naming";
import { PipelineFreeze } from "../components/pipeline-freeze";
import { PointInTimeRestore, PrivateNetwork } from "../components/point-in-time-restore";
import { ScaleDown } from "../components/scale-down";
import { ServerRebuild } from "../components/server-rebuild";
import { readIncident } from "./config";
import { Environment } from "./environment";
import {
  CorruptedIncident,
  Incident,
  IncidentConfigError,
  PROJECT,
  ServerGoneIncident,
} from "./incident";
import { replicaRestoreHook } from "./replica-restore-hook";
import { formatLondon, formatUtc } from "./restore-time";

/** Backup names exactly as the runbook and today's workflows spell them. */
export const backupNames = (short: string, date: string) => ({
  adhoc: `ptt_${short}_adhoc_${date}`,
  restoredCopy: `ptt_${short}_${date}-restore-to-ptr`,
});

/** The program: validate everything first, then declare. Returns the stack outputs. */
export async function recoveryOverlay(now: Date = new Date()): Promise<Record<string, unknown>> {
  let incident: Incident;
  try {
    incident = readIncident(now);
  } catch (e) {
    // RunError: Pulumi prints the message alone, without a stack trace.
    if (e instanceof IncidentConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
  // Registered in every scenario: deleting a scale-down patch (destroy, or going back to
  // `none`) needs the hook present in the program.
  const restoreHook = replicaRestoreHook(incident.env.kubernetes.context);

  if (incident.scenario === "none") {
    return { scenario: "none", summary: "Steady state: the overlay declares nothing." };
  }

  const env = incident.env;
  // Checked before anything is declared: a restore time outside the retention is a config error.
  const live =
    incident.scenario === "corrupted" ? await lookUpLiveServer(env, incident) : undefined;
  const providers = {
    kubernetes: new k8s.Provider("kubernetes", { context: env.kubernetes.context }),
    github: new github.Provider("github", { owner: env.github.owner }),
  };
  const opts: pulumi.ComponentResourceOptions = {
    providers: [providers.kubernetes, providers.github],
  };
  const labels = (component: string) => overlayLabels(component, incident.incidentDate);
  const ns = env.kubernetes.namespace;
  const outputs: Record<string, unknown> = {
    scenario: incident.scenario,
    incidentDate: incident.incidentDate,
  };

  // 1. Freeze the delivery pipeline: a deploy would undo everything below.
  const freeze = new PipelineFreeze(
    "freeze",
    {
      repository: env.github.repository,
      rulesetName: `pg-recovery freeze (incident ${incident.incidentDate})`,
      requiredApprovingReviewCount: incident.requiredReviews,
      branches:
        env.github.defaultBranch === "main"
          ? undefined
          : [`refs/heads/${env.github.defaultBranch}`],
    },
    opts,
  );
  outputs.freeze = { requiredApprovingReviews: freeze.requiredApprovingReviewCount };

  // 2. Maintenance mode on every public host; temporary hosts keep reaching the app.
  const maintenance = new MaintenanceMode(
    "maintenance",
    {
      namespace: ns,
      namePrefix: "pgr",
      ingressClassName: env.kubernetes.ingressClassName,
      publicHosts: env.ingress.publicHosts.map((h) => ({
        host: h.host,
        appIngress: h.ingress ?? h.host,
      })),
      temporaryHosts: env.ingress.temporaryHosts,
      appService: env.kubernetes.webService,
      labels: labels("maintenance"),
    },
    { ...opts, dependsOn: [freeze] },
  );
  outputs.maintenance = {
    hosts: maintenance.maintenanceHosts,
    temporaryUrls: maintenance.temporaryUrls,
  };

  // 3. Scale down every writer (web and worker).
  const scaleDown = incident.scaleDown
    ? new ScaleDown(
        "scale-down",
        {
          namespace: ns,
          deployments: env.kubernetes.deployments.map((d) => ({
            name: d.name,
            replicasBeforeIncident: d.replicas,
          })),
          restoreHook,
        },
        { ...opts, dependsOn: [maintenance] },
      )
    : undefined;
  outputs.replicasBeforeIncident =
    scaleDown?.replicasBeforeIncident ?? "not scaled down (pg-recovery:scaleDown=false)";

  const storageAccess = new BackupStorageAccess(
    "backup-storage-access",
    {
      accountName: env.azure.backupStorage.account,
      resourceGroupName: env.azure.backupStorage.resourceGroup,
      namespace: ns,
      secretName: k8sName("pgr", incident.incidentDate, "storage"),
      labels: labels("backup-storage-access"),
    },
    opts,
  );
  const jobBase = (component: string): Omit<DataJobCommon, "databaseUrl"> => ({
    namespace: ns,
    image: env.dataTool.image,
    jobName: k8sName("pgr", incident.incidentDate, component),
    storageConnectionString: storageAccess.secretKey,
    container: env.azure.backupStorage.container,
    labels: labels(component),
  });
  // Looked up once, and only by jobs that talk to the live server.
  let appDatabase: DataJobCommon["databaseUrl"] | undefined;
  const dataJob = (component: string): DataJobCommon => ({
    ...jobBase(component),
    databaseUrl: (appDatabase ??= appDatabaseUrl(env, providers.kubernetes)),
  });
  const network = privateNetwork(env);
  const names = backupNames(env.shortName, incident.incidentDate);

  if (incident.scenario === "corrupted") {
    // 4. Ad-hoc backup of live, after writes have stopped: evidence for the incident review.
    const adhoc = new AdhocBackup(
      "adhoc-backup",
      { ...dataJob("adhoc-backup"), backupName: names.adhoc },
      { ...opts, dependsOn: scaleDown ? [scaleDown] : [] },
    );
    // 5. Point-in-time restore into a new server.
    const ptr = new PointInTimeRestore(
      "point-in-time-restore",
      {
        resourceGroupName: env.azure.resourceGroup,
        location: env.azure.location,
        sourceServerId: live!.id,
        serverName: incident.ptrServerName,
        restoreTime: incident.restoreTime,
        network,
        database: env.azure.server.database,
        namespace: ns,
        retainOnDelete: incident.retainRestoredServer,
        tags: { "pg-recovery-incident-date": incident.incidentDate },
      },
      opts,
    );
    // 6. Validation: the restored data against live, mechanically.
    const validation = new RestoreValidation(
      "validation",
      { ...dataJob("validation"), restoredHost: ptr.fqdn, restoreTimeUtc: ptr.restoreTimeUtc },
      { ...opts, dependsOn: [ptr] },
    );
    outputs.pointInTimeRestore = {
      serverName: incident.ptrServerName,
      fqdn: ptr.fqdn,
      restoreTimeUtc: ptr.restoreTimeUtc,
      restoreTimeLondon: ptr.restoreTimeLondon,
      connect: ptr.connectHint,
      keptOnDestroy: incident.retainRestoredServer,
    };
    outputs.adhocBackup = names.adhoc;
    outputs.validationReport = validation.reportCommand;
    // 7. Promotion: only with promote=true AND confirm naming the live server (checked at the door).
    if (incident.promote) {
      const promotion = new Promotion(
        "promotion",
        {
          ...dataJob("promotion"),
          restoredHost: ptr.fqdn,
          backupName: names.restoredCopy,
          confirmTarget: `${env.azure.server.name}/${env.azure.server.database}`,
        },
        { ...opts, dependsOn: [adhoc, ptr, ...(scaleDown ? [scaleDown] : [])] },
      );
      outputs.promotion = { job: promotion.jobName, backup: names.restoredCopy };
    } else {
      outputs.promotion =
        `not declared: after validating, set pg-recovery:promote true and ` +
        `pg-recovery:confirm ${env.azure.server.name}, then pulumi up`;
    }
  } else {
    declareServerGone(incident, env, network, jobBase, opts, outputs);
  }
  outputs.restoreTime = restoreTimeOutputs(incident);
  return outputs;
}

function declareServerGone(
  incident: ServerGoneIncident,
  env: Environment,
  network: PrivateNetwork,
  jobBase: (component: string) => Omit<DataJobCommon, "databaseUrl">,
  opts: pulumi.ComponentResourceOptions,
  outputs: Record<string, unknown>,
): void {
  const server = env.azure.server;
  const rebuild = new ServerRebuild(
    "server-rebuild",
    {
      resourceGroupName: env.azure.resourceGroup,
      location: env.azure.location,
      serverName: server.name,
      network,
      revive:
        incident.mode === "revive"
          ? { droppedServerId: serverId(env, server.name), restoreTime: incident.restoreTime! }
          : undefined,
      create:
        incident.mode === "rebuild"
          ? {
              version: server.version,
              skuName: server.sku.name,
              skuTier: server.sku.tier,
              storageSizeGB: server.storageSizeGB,
              highAvailability: server.highAvailability,
              backupRetentionDays: server.backupRetentionDays,
              administratorLogin: server.administratorLogin,
              database: server.database,
            }
          : undefined,
      tags: { "pg-recovery-incident-date": incident.incidentDate },
    },
    opts,
  );
  outputs.serverRebuild = { mode: rebuild.mode, serverName: server.name, fqdn: rebuild.fqdn };
  if (incident.restoreFromStorage && rebuild.administratorPassword) {
    const restore = new RestoreFromStorage(
      "restore-from-storage",
      {
        ...jobBase("restore-from-storage"),
        // The new server has a new admin password; the job reads a URL built from it, kept secret.
        targetDatabaseUrl: pulumi.interpolate`postgres://${server.administratorLogin}:${rebuild.administratorPassword}@${rebuild.fqdn}:5432/${server.database}?sslmode=require`,
        targetSecretName: k8sName("pgr", incident.incidentDate, "rebuilt-db"),
      },
      { ...opts, dependsOn: [rebuild] },
    );
    outputs.restoreFromStorage = {
      job: restore.jobName,
      backup: "latest complete backup",
      afterwards: `update the app's DATABASE_URL secret with the new admin password (pulumi stack output --show-secrets)`,
    };
    outputs.administratorPassword = rebuild.administratorPassword;
  }
}

/** The app's DATABASE_URL, found like konduit.sh finds it unless pinned in the facts. */
function appDatabaseUrl(env: Environment, provider: k8s.Provider): DataJobCommon["databaseUrl"] {
  const s = env.kubernetes.databaseSecret;
  if (s.name) return { name: s.name, key: s.key };
  const deployment = s.fromDeployment ?? env.kubernetes.webService.name;
  const live = k8s.apps.v1.Deployment.get(
    `app-secret-${deployment}`,
    `${env.kubernetes.namespace}/${deployment}`,
    { provider },
  );
  const name = live.spec.template.spec.containers.apply((containers) => {
    const ref = (containers ?? [])
      .flatMap((c) => c.envFrom ?? [])
      .map((e) => e.secretRef?.name)
      .find((n): n is string => !!n);
    if (!ref) {
      // Logged, not thrown: `pulumi up` fails with this message, the rest still evaluates.
      pulumi.log.error(
        `deployment ${deployment} has no envFrom secretRef; pin the secret holding ${s.key} in ` +
          `${PROJECT}:environment.kubernetes.databaseSecret.name`,
      );
      return `unresolved-${deployment}-secret`;
    }
    return ref;
  });
  return { name, key: s.key };
}

async function lookUpLiveServer(env: Environment, incident: CorruptedIncident) {
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
  if (earliest && !Number.isNaN(earliest.getTime()) && incident.restoreTime < earliest) {
    throw new pulumi.RunError(
      new IncidentConfigError([
        `${PROJECT}:restoreTime ${formatUtc(incident.restoreTime)} is before the earliest restore point of ` +
          `${server.name}, ${formatUtc(earliest)} (${formatLondon(earliest)}); backups are kept ` +
          `${live.backup?.backupRetentionDays ?? "?"} days. Choose a later time, or restore an older backup from storage.`,
      ]).message,
    );
  }
  return { id: live.id ?? serverId(env, server.name) };
}

function restoreTimeOutputs(incident: CorruptedIncident | ServerGoneIncident) {
  const t = incident.restoreTime;
  return t ? { utc: formatUtc(t), europeLondon: formatLondon(t) } : "none (rebuild from storage)";
}

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
