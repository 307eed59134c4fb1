/**
 * Runbook step "scale down the service to stop more data corruption": every deployment that
 * writes to the database (web AND worker; the runbook forgets the worker) goes to 0.
 *
 * The pre-incident replica count is captured when the overlay is created (from the stack facts
 * if pinned, else read from the cluster) and recorded on the patch; `ignoreChanges` keeps that
 * first value, because on later runs the cluster already reads 0. A `beforeDelete` hook writes
 * the count back before the patch is removed, so destroy restores 12, not the default 1.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ANNOTATIONS } from "../../contract/runbook";

const REPLICAS_ANNOTATION = ANNOTATIONS.replicasBeforeIncident;

export interface ScaledDeployment {
  name: string;
  /** Pre-incident replicas; when absent, read from the live Deployment at creation. */
  replicasBeforeIncident?: number;
}

export interface ScaleDownArgs {
  namespace: string;
  deployments: ScaledDeployment[];
  /**
   * Hook that restores the captured count before each patch is deleted. Only absent where the
   * runtime cannot register hooks (unit-test mocks); a real deployment always has it.
   */
  restoreHook?: pulumi.ResourceHook;
}

/**
 * The pre-incident count of a live Deployment. Once this overlay has scaled it down, the live
 * count is its own 0 and the recorded annotation holds the truth, so later runs read that: the
 * count (and the stack output) stay what they were before the incident on every run.
 */
function liveCount(live: k8s.apps.v1.Deployment, parent: pulumi.Resource): pulumi.Output<number> {
  return pulumi.all([live.metadata, live.spec]).apply(([metadata, spec]) => {
    const { replicas, warning } = preIncidentReplicas(
      metadata?.name ?? "?",
      metadata?.annotations,
      spec?.replicas,
    );
    if (warning) pulumi.log.warn(warning, parent);
    return replicas;
  });
}

/** The count to restore, from a live Deployment's annotations and replicas. */
export function preIncidentReplicas(
  name: string,
  annotations: Record<string, string> | undefined,
  replicas: number | undefined,
): { replicas: number; warning?: string } {
  const recorded = annotations?.[REPLICAS_ANNOTATION];
  if (recorded !== undefined && /^\d+$/.test(recorded)) return { replicas: Number(recorded) };
  const count = replicas ?? 1;
  return count === 0
    ? {
        replicas: 0,
        warning:
          `deployment ${name} already has 0 replicas, so destroy would restore 0; pin its ` +
          `pre-incident count in the stack facts (kubernetes.deployments[].replicas).`,
      }
    : { replicas: count };
}

export class ScaleDown extends pulumi.ComponentResource {
  readonly patches: k8s.apps.v1.DeploymentPatch[];
  /** Deployment name to the replica count `destroy` restores. */
  readonly replicasBeforeIncident: pulumi.Output<Record<string, number>>;

  constructor(name: string, args: ScaleDownArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:ScaleDown", name, {}, opts);
    if (args.deployments.length === 0) throw new Error(`ScaleDown ${name}: no deployments`);

    const captured: Record<string, pulumi.Output<number>> = {};
    this.patches = args.deployments.map((d) => {
      captured[d.name] =
        d.replicasBeforeIncident !== undefined
          ? pulumi.output(d.replicasBeforeIncident)
          : liveCount(
              k8s.apps.v1.Deployment.get(`${name}-${d.name}-live`, `${args.namespace}/${d.name}`, {
                parent: this,
              }),
              this,
            );
      return new k8s.apps.v1.DeploymentPatch(
        `${name}-${d.name}`,
        {
          metadata: {
            name: d.name,
            namespace: args.namespace,
            annotations: {
              [REPLICAS_ANNOTATION]: captured[d.name].apply(String),
              // replicas is owned by Terraform's field manager: take it over explicitly.
              [ANNOTATIONS.patchForce]: "true",
            },
          },
          spec: { replicas: 0 },
        },
        {
          parent: this,
          ignoreChanges: [`metadata.annotations["${REPLICAS_ANNOTATION}"]`],
          hooks: args.restoreHook ? { beforeDelete: [args.restoreHook] } : undefined,
        },
      );
    });

    this.replicasBeforeIncident = pulumi.all(captured);
    this.registerOutputs({ replicasBeforeIncident: this.replicasBeforeIncident });
  }
}
