/**
 * The named `beforeDelete` hook of the scale-down patches. Delete hooks must be registered by
 * the program on every run (the engine looks them up by name when a patch is deleted), and
 * `pulumi destroy` must run with `--run-program` so that they exist; the engine refuses a
 * destroy without it rather than silently skipping the restore.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadKubeConfig, restoreReplicas, targetFromPatchInputs } from "./replica-restore";

export const RESTORE_HOOK_NAME = "pg-recovery-restore-replicas";

/**
 * One registration per engine run: each run (each `pulumi up` of an Automation API inline
 * program, in one process) has its own monitor and looks hooks up among its own registrations;
 * within a run the hook is registered once, however often the program asks for it.
 */
const registrations = new WeakMap<object, { hook: pulumi.ResourceHook; context: string }>();

export function replicaRestoreHook(kubeContext: string): pulumi.ResourceHook | undefined {
  // Pulumi's unit-test mocks have no hook RPC; there the patches are declared without it.
  const monitor = pulumi.runtime.getMonitor() as { registerResourceHook?: unknown } | undefined;
  if (!monitor || typeof monitor.registerResourceHook !== "function") return undefined;
  const known = registrations.get(monitor);
  if (known) {
    known.context = kubeContext;
    return known.hook;
  }
  const entry = {
    context: kubeContext,
    hook: new pulumi.ResourceHook(RESTORE_HOOK_NAME, async (args) => {
      const target = targetFromPatchInputs(args.oldInputs as Record<string, unknown> | undefined);
      pulumi.log.info(
        `restoring ${target.namespace}/${target.name} to ${target.replicas} replicas`,
      );
      await restoreReplicas(loadKubeConfig(entry.context), target);
    }),
  };
  registrations.set(monitor, entry);
  return entry.hook;
}
