/**
 * What `pulumi destroy` runs before it deletes a scale-down patch: put the deployment back to the
 * replica count captured when the overlay was created.
 *
 * Deleting a Patch only relinquishes its fields; a forced `replicas: 0` then falls to the
 * default of 1, not the original 12. Writing the captured count through the scale subresource
 * first moves ownership of `replicas` to this writer, so the patch's removal leaves it alone.
 */
import * as kube from "@kubernetes/client-node";
import { ANNOTATIONS } from "../../contract/runbook";

const REPLICAS_ANNOTATION = ANNOTATIONS.replicasBeforeIncident;
export const RESTORE_FIELD_MANAGER = "pg-recovery-restore";

export interface ReplicaTarget {
  namespace: string;
  name: string;
  replicas: number;
}

/** Reads the restore target from a scale-down patch's recorded inputs. */
export function targetFromPatchInputs(inputs: Record<string, unknown> | undefined): ReplicaTarget {
  const metadata = (inputs?.metadata ?? {}) as {
    name?: unknown;
    namespace?: unknown;
    annotations?: Record<string, unknown>;
  };
  const raw = metadata.annotations?.[REPLICAS_ANNOTATION];
  // Digits only: Number() would read "", " " and null as 0, and accept "1e1" or "0x0c".
  const replicas = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (
    typeof metadata.name !== "string" ||
    typeof metadata.namespace !== "string" ||
    !Number.isInteger(replicas) ||
    replicas < 0
  ) {
    throw new Error(
      `scale-down patch has no usable ${REPLICAS_ANNOTATION} annotation (got ${JSON.stringify(raw)}); ` +
        `scale the deployment back by hand: kubectl -n <namespace> scale deployment <name> --replicas <n>`,
    );
  }
  return { namespace: metadata.namespace, name: metadata.name, replicas };
}

/** Loads kubeconfig the way kubectl does, pinned to the stack's context. */
export function loadKubeConfig(context?: string): kube.KubeConfig {
  const kc = new kube.KubeConfig();
  kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  return kc;
}

export async function restoreReplicas(kc: kube.KubeConfig, target: ReplicaTarget): Promise<void> {
  const apps = kc.makeApiClient(kube.AppsV1Api);
  try {
    await apps.replaceNamespacedDeploymentScale({
      name: target.name,
      namespace: target.namespace,
      fieldManager: RESTORE_FIELD_MANAGER,
      body: {
        apiVersion: "autoscaling/v1",
        kind: "Scale",
        metadata: { name: target.name, namespace: target.namespace },
        spec: { replicas: target.replicas },
      },
    });
  } catch (e) {
    // Thrown from a beforeDelete hook this stops the destroy, so say how to finish by hand.
    throw new Error(
      `could not scale ${target.namespace}/${target.name} back to ${target.replicas} replicas ` +
        `(${(e as Error).message}). Fix access to the cluster and rerun \`pulumi destroy --run-program\`, ` +
        `or by hand: kubectl -n ${target.namespace} scale deployment ${target.name} --replicas ${target.replicas}`,
    );
  }
}
