// Runbook "scale down the service": the component, and the hook that undoes it on destroy.
export { preIncidentReplicas, ScaleDown, ScaleDownArgs, ScaledDeployment } from "./scale-down";
export { RESTORE_HOOK_NAME, replicaRestoreHook } from "./restore-hook";
export { RESTORE_FIELD_MANAGER } from "./replica-restore";
