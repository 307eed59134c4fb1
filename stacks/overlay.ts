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
  PromotionArgs,
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
  DrillExercise,
  Incident,
  IncidentConfigError,
  PROJECT,
  ServerGoneIncident,
} from "./incident";
import { declareDrill } from "./drill";
import { azureAndGitHub, Freeze, Platform, ptrRequest } from "./platform";
import { LiveServer } from "./preflight";

/** The program: validate everything first, then declare. Returns the stack outputs. */
export async function recoveryOverlay(
  now: Date = new Date(),
  platform: Platform = azureAndGitHub,
): Promise<Record<string, unknown>> {
  const incident = readIncidentOrRefuse(now);
  // Registered in every scenario: deleting a scale-down patch (destroy, or going back to
  // `none`) needs the hook present in the program.
  const restoreHook = replicaRestoreHook(incident.env.kubernetes.context);

  if (incident.scenario === "none") {
    return { scenario: "none", summary: "Steady state: the overlay declares nothing." };
  }
  if (incident.scenario === "drill") return declareDrillExercise(incident, platform);
  // Checked before anything is declared: a restore time outside the retention is a config error.
  const path = await preflightPath(incident, platform);
  const ctx = declareWritesStopped(incident, platform, restoreHook);
  if (path.live) declareCorrupted(path.incident, path.live, ctx);
  else declareServerGone(path.incident, ctx);
  ctx.outputs.restoreTime = restoreTimeOutputs(incident);
  return ctx.outputs;
}

/** The config door's verdict; a refusal becomes a RunError, so only the problems are printed. */
function readIncidentOrRefuse(now: Date): Incident {
  try {
    return readIncident(now);
  } catch (e) {
    // RunError: Pulumi prints the message alone, without a stack trace.
    if (e instanceof IncidentConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/** The drill: its own composition (stacks/drill.ts), on Kubernetes and Azure providers only. */
function declareDrillExercise(
  drill: DrillExercise,
  platform: Platform,
): Promise<Record<string, unknown>> {
  const env = drill.env;
  const kubernetes = new k8s.Provider("kubernetes", { context: env.kubernetes.context });
  // Kubernetes and Azure only: a drill touches no GitHub object (no freeze).
  const opts = { providers: [kubernetes] };
  return declareDrill(drill, platform, opts, () => appDatabaseUrl(env, kubernetes));
}

/** An incident proper: the scenarios the runbook steps are declared for. */
type ActiveIncident = CorruptedIncident | ServerGoneIncident;

/** An incident and what its path learnt before declaring (corrupted: the checked live server). */
type IncidentPath =
  | { incident: CorruptedIncident; live: LiveServer }
  | { incident: ServerGoneIncident; live?: undefined };

/**
 * Read-only checks before anything is declared. Corrupted restores from live, so the live
 * server and the restore time's place in its retention are checked; server gone has no live.
 */
async function preflightPath(incident: ActiveIncident, platform: Platform): Promise<IncidentPath> {
  return incident.scenario === "corrupted"
    ? { incident, live: await platform.preflight(ptrRequest(incident)) }
    : { incident };
}

/**
 * Runbook 1-3, the same for both incident paths: freeze, maintenance, scale-down, so that
 * nothing deploys and nothing writes while the data steps run. Also declares the backup storage
 * secret the data jobs share, and returns what those steps declare into.
 */
function declareWritesStopped(
  incident: ActiveIncident,
  platform: Platform,
  restoreHook: pulumi.ResourceHook | undefined,
): Context {
  const env = incident.env;
  const kubernetes = new k8s.Provider("kubernetes", { context: env.kubernetes.context });
  const opts: pulumi.ComponentResourceOptions = {
    providers: [kubernetes, ...platform.providers(env)],
  };
  const outputs: Record<string, unknown> = {
    scenario: incident.scenario,
    incidentDate: incident.incidentDate,
  };

  // 1. Freeze the delivery pipeline: a deploy would undo everything below.
  const freeze = platform.freeze(incident, opts);
  outputs.freeze = { requiredApprovingReviews: freeze.requiredApprovingReviews };

  // 2. Maintenance mode on every public host; temporary hosts keep reaching the app.
  const maintenance = declareMaintenance(incident, freeze, opts);
  outputs.maintenance = {
    hosts: maintenance.maintenanceHosts,
    temporaryUrls: maintenance.temporaryUrls,
  };

  // 3. Scale down every writer (web and worker).
  const scaleDown = declareScaleDown(incident, restoreHook, maintenance, opts);
  outputs.replicasBeforeIncident =
    scaleDown?.replicasBeforeIncident ?? "not scaled down (pg-recovery:scaleDown=false)";

  const jobBase = declareBackupStorage(incident, platform, opts);
  return { platform, kubernetes, opts, jobBase, scaleDown, outputs };
}

/** Maintenance mode, after the freeze: users see the maintenance page, not a half-restored app. */
function declareMaintenance(
  incident: ActiveIncident,
  freeze: Freeze,
  opts: pulumi.ComponentResourceOptions,
): MaintenanceMode {
  const env = incident.env;
  return new MaintenanceMode(
    STEPS.maintenance.resource,
    {
      namespace: env.kubernetes.namespace,
      namePrefix: OBJECT_NAMES.prefix,
      ingressClassName: env.kubernetes.ingressClassName,
      publicHosts: env.ingress.publicHosts.map((h) => ({
        host: h.host,
        appIngress: h.ingress ?? h.host,
      })),
      temporaryHosts: env.ingress.temporaryHosts,
      appService: env.kubernetes.webService,
      labels: overlayLabels(STEPS.maintenance.resource, incident.incidentDate),
    },
    { ...opts, dependsOn: [freeze.resource] },
  );
}

/**
 * The scale-down, behind maintenance; none with `scaleDown` false, which brings the app back at
 * its pre-incident replicas while maintenance stays on.
 */
function declareScaleDown(
  incident: ActiveIncident,
  restoreHook: pulumi.ResourceHook | undefined,
  maintenance: MaintenanceMode,
  opts: pulumi.ComponentResourceOptions,
): ScaleDown | undefined {
  const env = incident.env;
  return incident.scaleDown
    ? new ScaleDown(
        STEPS.scaleDown.resource,
        {
          namespace: env.kubernetes.namespace,
          deployments: env.kubernetes.deployments.map((d) => ({
            name: d.name,
            replicasBeforeIncident: d.replicas,
          })),
          restoreHook,
        },
        { ...opts, dependsOn: [maintenance] },
      )
    : undefined;
}

/**
 * The backup storage secret, and the part every data job shares (namespace, image, dated Job
 * name, storage): declared once, so each job differs from the others only where it must.
 */
function declareBackupStorage(
  incident: ActiveIncident,
  platform: Platform,
  opts: pulumi.ComponentResourceOptions,
): Context["jobBase"] {
  const env = incident.env;
  const labels = (component: string) => overlayLabels(component, incident.incidentDate);
  const storageSecret = platform.backupStorage(
    incident,
    k8sName(OBJECT_NAMES.prefix, incident.incidentDate, OBJECT_NAMES.storageSecret),
    labels(STEPS.storage.resource),
    opts,
  );
  return (component: string): Omit<DataJobCommon, "databaseUrl"> => ({
    namespace: env.kubernetes.namespace,
    image: env.dataTool.image,
    jobName: k8sName(OBJECT_NAMES.prefix, incident.incidentDate, component),
    storageConnectionString: storageSecret,
    container: env.azure.backupStorage.container,
    labels: labels(component),
  });
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

/** A data job that reads the PTR: live's credentials, the PTR's host, the instant it holds. */
type PtrJobCommon = DataJobCommon & Pick<PromotionArgs, "restoredHost" | "restoreTimeUtc">;

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
  const ptrJob = (component: string): PtrJobCommon => ({
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
  const promotionDependsOn = [adhoc, ptr.resource, ...(scaleDown ? [scaleDown] : [])];
  outputs.promotion = incident.promotion
    ? declarePromotion(incident, incident.promotion, ptrJob, promotionDependsOn, names, opts)
    : promotionNotDeclared(env, validation);
}

/**
 * Promotion, after the ad-hoc backup, the PTR and the scale-down: it overwrites live, so live's
 * evidence is kept first and nothing writes meanwhile. Returns its outputs.
 */
function declarePromotion(
  incident: CorruptedIncident,
  chosen: NonNullable<CorruptedIncident["promotion"]>,
  ptrJob: (component: string) => PtrJobCommon,
  dependsOn: pulumi.Resource[],
  names: { restoredCopy: string },
  opts: pulumi.ComponentResourceOptions,
): Record<string, unknown> {
  const server = incident.env.azure.server;
  const promotion = new Promotion(
    STEPS.promotion.resource,
    {
      ...ptrJob(STEPS.promotion.resource),
      promotion: chosen,
      confirmTarget: `${server.name}/${server.database}`,
      incident: incident.incidentDate,
      backupName: names.restoredCopy,
    },
    { ...opts, dependsOn },
  );
  return {
    job: promotion.jobName,
    mode: chosen.mode,
    tables: chosen.mode === "whole" ? "all" : chosen.tables,
    archivalBackup: { job: promotion.archiveJobName, backup: names.restoredCopy },
  };
}

/** No promotion yet: the output tells the operator how to choose one, after reading the plan. */
function promotionNotDeclared(env: Environment, validation: RestoreValidation): string {
  return (
    `not declared: read the promotion plan in the validation report (${validation.reportCommand}), then ` +
    `set pg-recovery:promotionMode (whole|tables|merge), pg-recovery:promotionTables for tables/merge, ` +
    `pg-recovery:promote true and pg-recovery:confirm ${env.azure.server.name}, then pulumi up`
  );
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
