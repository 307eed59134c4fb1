/**
 * Composes the recovery overlay for one incident. Reads like the runbook: freeze, maintenance,
 * scale-down, ad-hoc backup, point-in-time restore (or server rebuild), validation, promotion.
 * What lives outside Kubernetes comes from a `Platform` (Azure and GitHub by default).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  AdhocBackup,
  DataJobCommon,
  Promotion,
  RestoreFromStorage,
  RestoreValidation,
} from "../components/data-jobs";
import { MaintenanceMode } from "../components/maintenance-mode";
import { k8sName, overlayLabels } from "../components/naming";
import { replicaRestoreHook, ScaleDown } from "../components/scale-down";
import { incidentBackupNames } from "../contract/backup-names";
import { OBJECT_NAMES, STEPS } from "../contract/runbook";
import { formatLondon, formatUtc } from "../contract/time";
import { readIncident } from "./config";
import { Environment } from "./environment";
import {
  CorruptedIncident,
  Incident,
  IncidentConfigError,
  PROJECT,
  ServerGoneIncident,
} from "./incident";
import { declareDrill } from "./drill";
import { azureAndGitHub, Platform, ptrRequest } from "./platform";
import { LiveServer } from "./preflight";

/** The program: validate everything first, then declare. Returns the stack outputs. */
export async function recoveryOverlay(
  now: Date = new Date(),
  platform: Platform = azureAndGitHub,
): Promise<Record<string, unknown>> {
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
  if (incident.scenario === "drill") {
    const kubernetes = new k8s.Provider("kubernetes", { context: env.kubernetes.context });
    // Kubernetes and Azure only: a drill touches no GitHub object (no freeze).
    const opts = { providers: [kubernetes] };
    return declareDrill(incident, platform, opts, () => appDatabaseUrl(env, kubernetes));
  }
  // Checked before anything is declared: a restore time outside the retention is a config error.
  type Path =
    | { incident: CorruptedIncident; live: LiveServer }
    | { incident: ServerGoneIncident; live?: undefined };
  const path: Path =
    incident.scenario === "corrupted"
      ? { incident, live: await platform.preflight(ptrRequest(incident)) }
      : { incident };
  const kubernetes = new k8s.Provider("kubernetes", { context: env.kubernetes.context });
  const opts: pulumi.ComponentResourceOptions = {
    providers: [kubernetes, ...platform.providers(env)],
  };
  const labels = (component: string) => overlayLabels(component, incident.incidentDate);
  const ns = env.kubernetes.namespace;
  const outputs: Record<string, unknown> = {
    scenario: incident.scenario,
    incidentDate: incident.incidentDate,
  };

  // 1. Freeze the delivery pipeline: a deploy would undo everything below.
  const freeze = platform.freeze(incident, opts);
  outputs.freeze = { requiredApprovingReviews: freeze.requiredApprovingReviews };

  // 2. Maintenance mode on every public host; temporary hosts keep reaching the app.
  const maintenance = new MaintenanceMode(
    STEPS.maintenance.resource,
    {
      namespace: ns,
      namePrefix: OBJECT_NAMES.prefix,
      ingressClassName: env.kubernetes.ingressClassName,
      publicHosts: env.ingress.publicHosts.map((h) => ({
        host: h.host,
        appIngress: h.ingress ?? h.host,
      })),
      temporaryHosts: env.ingress.temporaryHosts,
      appService: env.kubernetes.webService,
      labels: labels(STEPS.maintenance.resource),
    },
    { ...opts, dependsOn: [freeze.resource] },
  );
  outputs.maintenance = {
    hosts: maintenance.maintenanceHosts,
    temporaryUrls: maintenance.temporaryUrls,
  };

  // 3. Scale down every writer (web and worker).
  const scaleDown = incident.scaleDown
    ? new ScaleDown(
        STEPS.scaleDown.resource,
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

  const storageSecret = platform.backupStorage(
    incident,
    k8sName(OBJECT_NAMES.prefix, incident.incidentDate, OBJECT_NAMES.storageSecret),
    labels(STEPS.storage.resource),
    opts,
  );
  const jobBase = (component: string): Omit<DataJobCommon, "databaseUrl"> => ({
    namespace: ns,
    image: env.dataTool.image,
    jobName: k8sName(OBJECT_NAMES.prefix, incident.incidentDate, component),
    storageConnectionString: storageSecret,
    container: env.azure.backupStorage.container,
    labels: labels(component),
  });

  const context: Context = { platform, kubernetes, opts, jobBase, scaleDown, outputs };
  if (path.live) declareCorrupted(path.incident, path.live, context);
  else declareServerGone(path.incident, context);
  outputs.restoreTime = restoreTimeOutputs(incident);
  return outputs;
}

/** What both incident paths declare into. */
interface Context {
  platform: Platform;
  kubernetes: k8s.Provider;
  opts: pulumi.ComponentResourceOptions;
  jobBase: (component: string) => Omit<DataJobCommon, "databaseUrl">;
  scaleDown?: ScaleDown;
  outputs: Record<string, unknown>;
}

/** Corrupted 2-6: ad-hoc backup, point-in-time restore, validation, promotion. */
function declareCorrupted(incident: CorruptedIncident, live: LiveServer, ctx: Context): void {
  const { platform, kubernetes, opts, jobBase, scaleDown, outputs } = ctx;
  const env = incident.env;
  // Looked up once, and only by jobs that talk to the live server.
  const databaseUrl = appDatabaseUrl(env, kubernetes);
  const dataJob = (component: string): DataJobCommon => ({
    ...jobBase(component),
    databaseUrl,
  });
  const names = incidentBackupNames(env.shortName, incident.incidentDate);
  // 4. Ad-hoc backup of live, after writes have stopped: evidence for the incident review.
  const adhoc = new AdhocBackup(
    STEPS.adhocBackup.resource,
    { ...dataJob(STEPS.adhocBackup.resource), backupName: names.adhoc },
    { ...opts, dependsOn: scaleDown ? [scaleDown] : [] },
  );
  // 5. Point-in-time restore into a new server.
  const ptr = platform.pointInTimeRestore(ptrRequest(incident), live, opts);
  // The jobs that read the PTR: live's credentials, the PTR's host, the instant it holds.
  const ptrJob = (component: string) => ({
    ...dataJob(component),
    restoredHost: ptr.fqdn,
    restoreTimeUtc: ptr.restoreTimeUtc,
  });
  // 6. Validation: the restored data against live, mechanically.
  const validation = new RestoreValidation(
    STEPS.validation.resource,
    {
      ...ptrJob(STEPS.validation.resource),
      promotionTables: incident.promotionTables,
    },
    { ...opts, dependsOn: [ptr.resource] },
  );
  outputs.pointInTimeRestore = ptr.outputs;
  outputs.adhocBackup = names.adhoc;
  outputs.validationReport = validation.reportCommand;
  // 7. Promotion: only with promote=true, a mode, AND confirm naming the live server (checked
  // at the door).
  if (incident.promotion) {
    const promotion = new Promotion(
      STEPS.promotion.resource,
      {
        ...ptrJob(STEPS.promotion.resource),
        promotion: incident.promotion,
        confirmTarget: `${env.azure.server.name}/${env.azure.server.database}`,
        incident: incident.incidentDate,
        backupName: names.restoredCopy,
      },
      { ...opts, dependsOn: [adhoc, ptr.resource, ...(scaleDown ? [scaleDown] : [])] },
    );
    outputs.promotion = {
      job: promotion.jobName,
      mode: incident.promotion.mode,
      tables: incident.promotion.mode === "whole" ? "all" : incident.promotion.tables,
      archivalBackup: { job: promotion.archiveJobName, backup: names.restoredCopy },
    };
  } else {
    outputs.promotion =
      `not declared: read the promotion plan in the validation report (${validation.reportCommand}), then ` +
      `set pg-recovery:promotionMode (whole|tables|merge), pg-recovery:promotionTables for tables/merge, ` +
      `pg-recovery:promote true and pg-recovery:confirm ${env.azure.server.name}, then pulumi up`;
  }
}

/** Server gone: revive or rebuild the server, then (rebuilt) restore from storage. */
function declareServerGone(incident: ServerGoneIncident, ctx: Context): void {
  const { platform, opts, jobBase, outputs } = ctx;
  const server = incident.env.azure.server;
  const rebuilt = platform.serverRebuild(incident, opts);
  outputs.serverRebuild = rebuilt.outputs;
  if (incident.restoreFromStorage && rebuilt.administratorPassword) {
    const restore = new RestoreFromStorage(
      STEPS.restoreFromStorage.resource,
      {
        ...jobBase(STEPS.restoreFromStorage.resource),
        // The new server has a new admin password; the job reads a URL built from it, kept secret.
        targetDatabaseUrl: pulumi.interpolate`postgres://${server.administratorLogin}:${rebuilt.administratorPassword}@${rebuilt.fqdn}:5432/${server.database}?sslmode=require`,
        targetSecretName: k8sName(
          OBJECT_NAMES.prefix,
          incident.incidentDate,
          OBJECT_NAMES.rebuiltDatabaseSecret,
        ),
      },
      { ...opts, dependsOn: rebuilt.resource ? [rebuilt.resource] : [] },
    );
    outputs.restoreFromStorage = {
      job: restore.jobName,
      backup: "latest complete backup",
      afterwards: `update the app's DATABASE_URL secret with the new admin password (pulumi stack output --show-secrets)`,
    };
    outputs.administratorPassword = rebuilt.administratorPassword;
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

function restoreTimeOutputs(incident: CorruptedIncident | ServerGoneIncident) {
  const t = incident.restoreTime;
  return t ? { utc: formatUtc(t), europeLondon: formatLondon(t) } : "none (rebuild from storage)";
}
