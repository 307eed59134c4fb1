/**
 * Kubernetes object names: deterministic, DNS-1123, at most 63 characters. A name that would be
 * too long keeps a readable prefix and ends in a short hash of the full name, so two long names
 * never collide and the same input always gives the same name.
 */
import { createHash } from "node:crypto";

export function k8sName(...parts: string[]): string {
  const full = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  if (full.length <= 63) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, "")}-${hash}`;
}

/** Common labels on everything the overlay creates, so `kubectl get -l` finds it all. */
export function overlayLabels(component: string, incidentDate: string): Record<string, string> {
  return {
    "app.kubernetes.io/managed-by": "pg-recovery",
    "app.kubernetes.io/component": component,
    "pg-recovery/incident-date": incidentDate,
  };
}

/**
 * The composition's resource names that other code finds things by (the runner's summary and
 * its Job roles): one home, so a rename here is a rename everywhere.
 */
export const RESOURCE = {
  pointInTimeRestore: "point-in-time-restore",
  drillServer: "drill-server",
  /** The drill's checks; its Jobs are `drill-verify-job` and `drill-restore-job`. */
  drillChecks: "drill",
} as const;
