/**
 * The drill's composition: live restored at the drill's restore time into a throwaway server
 * (same subnet and DNS zone as the incident's PTR, deleted on destroy), and the drill's checks
 * on it. Nothing here writes live, the app or the pipeline: no freeze, no maintenance, no
 * scale-down, no promotion (a mocks test holds the plan to that).
 */
import * as pulumi from "@pulumi/pulumi";
import { DataJobCommon } from "../components/data-jobs";
import { DrillChecks } from "../components/drill-jobs";
import { k8sName, overlayLabels } from "../components/naming";
import { LABELS, STEPS } from "../contract/runbook";
import { formatLondon, formatUtc } from "../contract/time";
import { DrillExercise } from "./incident";
import { drillRequest, Platform } from "./platform";

/** Kubernetes names of a drill's objects: dated, and never an incident's (`pgr-drill-…`). */
export const drillK8sName = (date: string, part: string) => k8sName("pgr-drill", date, part);

export async function declareDrill(
  drill: DrillExercise,
  platform: Platform,
  opts: pulumi.ComponentResourceOptions,
  databaseUrl: () => DataJobCommon["databaseUrl"],
): Promise<Record<string, unknown>> {
  const env = drill.env;
  const request = drillRequest(drill);
  // Read-only: the live server exists and the restore time is inside its retention.
  const live = await platform.preflight(request);
  const labels = (component: string) => ({
    ...overlayLabels(component, drill.incidentDate),
    [LABELS.drill]: "true",
  });
  const storageSecret = platform.backupStorage(
    drill,
    drillK8sName(drill.incidentDate, "storage"),
    labels(STEPS.storage.resource),
    opts,
  );
  const server = platform.pointInTimeRestore(request, live, opts);
  const checks = new DrillChecks(
    STEPS.drillChecks.resource,
    {
      namespace: env.kubernetes.namespace,
      image: env.dataTool.image,
      databaseUrl: databaseUrl(),
      storageConnectionString: storageSecret,
      container: env.azure.backupStorage.container,
      labels: labels(STEPS.drillChecks.resource),
      drillHost: server.fqdn,
      restoreTimeUtc: server.restoreTimeUtc,
      verifyJobName: drillK8sName(drill.incidentDate, "verify"),
      restoreJobName: drillK8sName(drill.incidentDate, "restore"),
      database: env.azure.server.database,
    },
    { ...opts, dependsOn: [server.resource] },
  );
  return {
    scenario: "drill",
    incidentDate: drill.incidentDate,
    restoreTime: {
      utc: formatUtc(drill.restoreTime),
      europeLondon: formatLondon(drill.restoreTime),
    },
    drillServer: { ...server.outputs, deletedOnDestroy: true },
    drillChecks: {
      verifyJob: checks.verifyJobName,
      restoreJob: checks.restoreJobName,
      scratchDatabase: checks.scratchDatabase,
    },
    live: `${env.azure.server.name}/${env.azure.server.database}: read only`,
    recoveryTargets: env.recoveryTargets ?? "none set (environment.recoveryTargets)",
  };
}
