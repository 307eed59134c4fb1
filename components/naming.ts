/**
 * Kubernetes object names: deterministic, DNS-1123, at most 63 characters. A name that would be
 * too long keeps a readable prefix and ends in a short hash of the full name, so two long names
 * never collide and the same input always gives the same name.
 */
import { createHash } from "node:crypto";
import { LABELS } from "../contract/runbook";

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
    [LABELS.managedBy]: "pg-recovery",
    [LABELS.component]: component,
    [LABELS.incidentDate]: incidentDate,
  };
}
