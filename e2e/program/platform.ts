/**
 * A `Platform` with no Azure and no GitHub, for the real-engine suite: everything Kubernetes is
 * the product's own composition; what would live in Azure or GitHub is a component with no cloud
 * object, carrying the values the Kubernetes side consumes (the PTR's host name, the restore
 * time, the storage secret). The mocks suite covers those components themselves.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { STEPS } from "../../contract/runbook";
import { formatUtc } from "../../contract/time";
import { recoveryOverlay } from "../../stacks/overlay";
import { Platform } from "../../stacks/platform";

class StandIn extends pulumi.ComponentResource {
  constructor(
    type: string,
    name: string,
    outputs: Record<string, unknown>,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super(`pg-recovery-e2e:index:${type}`, name, {}, opts);
    this.registerOutputs(outputs);
  }
}

const fqdn = (server: string) => `${server}.postgres.database.azure.com`;

export const kubernetesOnly: Platform = {
  preflight: async (incident) => ({
    id: `/subscriptions/e2e/resourceGroups/${incident.env.azure.resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${incident.env.azure.server.name}`,
  }),
  providers: () => [],
  freeze: (incident, opts) => ({
    resource: new StandIn(
      "PipelineFreezeStandIn",
      STEPS.freeze.resource,
      { reviews: incident.requiredReviews },
      opts,
    ),
    requiredApprovingReviews: incident.requiredReviews,
  }),
  backupStorage: (incident, secretName, labels, opts) => {
    // A real Secret, so the data Jobs reference an object that exists; the value is a dummy.
    const parent = new StandIn("BackupStorageAccessStandIn", STEPS.storage.resource, {}, opts);
    const secret = new k8s.core.v1.Secret(
      "backup-storage-access-secret",
      {
        metadata: { name: secretName, namespace: incident.env.kubernetes.namespace, labels },
        type: "Opaque",
        stringData: { "connection-string": "UseDevelopmentStorage=true" },
      },
      { parent },
    );
    return { name: secret.metadata.name, key: "connection-string" };
  },
  pointInTimeRestore: (request, _live, opts) => {
    const utc = formatUtc(request.restoreTime);
    const resource = new StandIn("PointInTimeRestoreStandIn", request.resourceName, { utc }, opts);
    return {
      resource,
      fqdn: fqdn(request.serverName),
      restoreTimeUtc: utc,
      outputs: {
        serverName: request.serverName,
        fqdn: fqdn(request.serverName),
        restoreTimeUtc: utc,
      },
    };
  },
  serverRebuild: (incident, opts) => {
    const name = incident.env.azure.server.name;
    const resource = new StandIn(
      "ServerRebuildStandIn",
      STEPS.serverRebuild.resource,
      { mode: incident.mode },
      opts,
    );
    return {
      resource,
      fqdn: fqdn(name),
      administratorPassword:
        incident.mode === "rebuild" ? pulumi.secret("e2e-not-a-password") : undefined,
      outputs: { mode: incident.mode, serverName: name, fqdn: fqdn(name) },
    };
  },
};

/** The program both entries run: the product's overlay on the Kubernetes-only platform. */
export const e2eProgram = () => recoveryOverlay(new Date(), kubernetesOnly);
