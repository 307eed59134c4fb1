/**
 * A Kubernetes Job running the data tool (`datapath/`, built into the image from this repo's
 * Dockerfile). Database credentials come from the app's own secret, storage credentials from a
 * secret the overlay writes; neither appears in config, args or outputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface SecretKey {
  name: pulumi.Input<string>;
  key: string;
}

export interface DataToolJobSpec {
  namespace: string;
  /** Kubernetes name of the Job (derived from the incident date, so deterministic). */
  jobName: string;
  image: string;
  /**
   * Steps run in order: all but the last as init containers, so a failure stops the rest.
   * With `parallel`, all run side by side as containers of the one pod.
   */
  steps: { name: string; args: pulumi.Input<string>[] }[];
  parallel?: boolean;
  /** Environment variable name -> secret key it is read from. */
  secretEnv: Record<string, SecretKey>;
  env?: Record<string, pulumi.Input<string>>;
  labels?: Record<string, string>;
  /** Don't make `pulumi up` wait for completion (reports whose failure is informative). */
  skipAwait?: boolean;
  /** Hard limit on the Job's run time. Default 6 hours. */
  activeDeadlineSeconds?: number;
}

export const DATA_JOB_DEFAULTS = { activeDeadlineSeconds: 6 * 3600 } as const;

/**
 * Every container's securityContext: what Pod Security `restricted` (latest) requires of it,
 * spelled out on the container as well as the pod, so a namespace enforcing `restricted` (common
 * on AKS) admits the pod; without seccompProfile the Job would never start a pod at all.
 */
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  runAsNonRoot: true,
  seccompProfile: { type: "RuntimeDefault" },
};

export function dataToolJob(
  resourceName: string,
  spec: DataToolJobSpec,
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  if (spec.steps.length === 0)
    throw new Error(`${resourceName}: a data job needs at least one step`);
  const env = [
    ...Object.entries(spec.secretEnv).map(([name, ref]) => ({
      name,
      valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
    })),
    ...Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
  ];
  const container = (step: { name: string; args: pulumi.Input<string>[] }) => ({
    name: step.name,
    image: spec.image,
    args: step.args,
    env,
    resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "2Gi" } },
    securityContext: RESTRICTED_CONTAINER,
    volumeMounts: [{ name: "work", mountPath: "/work" }],
  });
  const steps = spec.steps;
  return new k8s.batch.v1.Job(
    resourceName,
    {
      metadata: {
        name: spec.jobName,
        namespace: spec.namespace,
        labels: spec.labels,
        annotations: spec.skipAwait ? { "pulumi.com/skipAwait": "true" } : undefined,
      },
      spec: {
        // A data move is never retried blindly: a human reads the log first.
        backoffLimit: 0,
        activeDeadlineSeconds:
          spec.activeDeadlineSeconds ?? DATA_JOB_DEFAULTS.activeDeadlineSeconds,
        template: {
          metadata: { labels: spec.labels },
          spec: {
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              fsGroup: 1000,
              seccompProfile: { type: "RuntimeDefault" },
            },
            initContainers: spec.parallel ? [] : steps.slice(0, -1).map(container),
            containers: spec.parallel ? steps.map(container) : [container(steps[steps.length - 1])],
            // Scratch space for downloads before a parallel restore.
            volumes: [{ name: "work", emptyDir: {} }],
          },
        },
      },
    },
    {
      ...opts,
      customTimeouts: { create: "6h", update: "6h", delete: "10m" },
      deleteBeforeReplace: true,
    },
  );
}
