/**
 * The seeded app, read from the seed manifests themselves, so the suite follows whatever scenario
 * it is given (other names, replica counts, Ingress fields) instead of hard-coding one.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects as JSON */
import * as fs from "node:fs";
import { parseAllDocuments } from "yaml";
import { kubectl } from "./cluster";

export interface SeededApp {
  namespace: string;
  deployments: { name: string; replicas: number }[];
  webService: { name: string; port: number };
  ingresses: { name: string; host: string }[];
  /** Every object of the app, as `Kind/name`. */
  objects: string[];
}

export function readSeed(file: string): SeededApp {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => d.toJSON())
    .filter(Boolean);
  const of = (kind: string) => docs.filter((d: any) => d.kind === kind);
  const namespace = of("Namespace")[0]?.metadata.name ?? of("Deployment")[0]?.metadata.namespace;
  const deployments = of("Deployment").map((d: any) => ({
    name: d.metadata.name,
    replicas: d.spec.replicas ?? 1,
  }));
  const ingresses = of("Ingress").map((i: any) => ({
    name: i.metadata.name,
    host: i.spec.rules[0].host,
  }));
  // The web Service: the one the Ingresses route to.
  const backend = of("Ingress")[0]?.spec.rules[0].http.paths[0].backend.service;
  const service = of("Service").find((s: any) => s.metadata.name === backend?.name);
  if (!namespace || deployments.length === 0 || ingresses.length === 0 || !service) {
    throw new Error(`${file}: a seed needs a namespace, Deployments, Ingresses and their Service`);
  }
  return {
    namespace,
    deployments,
    webService: { name: service.metadata.name, port: backend.port.number },
    ingresses,
    objects: docs
      .filter((d: any) => d.kind !== "Namespace")
      .map((d: any) => `${d.kind}/${d.metadata.name}`),
  };
}

/** What the app's owner wrote: labels, annotations and spec, without server bookkeeping. */
export function appState(env: NodeJS.ProcessEnv, app: SeededApp): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const id of app.objects) {
    const o = kubectl(env, "-n", app.namespace, "get", id);
    state[id] = {
      labels: o.metadata.labels ?? {},
      annotations: o.metadata.annotations ?? {},
      spec: o.spec ?? null,
      data: o.data ?? null,
    };
  }
  return state;
}

/** Field managers of the app's objects, by object. */
export function managers(env: NodeJS.ProcessEnv, app: SeededApp): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of app.objects) {
    const o = kubectl(env, "-n", app.namespace, "get", id, "--show-managed-fields");
    out[id] = (o.metadata.managedFields ?? []).map((m: any) => `${m.manager}/${m.operation}`);
  }
  return out;
}

export const OVERLAY_LABEL = "app.kubernetes.io/managed-by=pg-recovery";

/** Everything the overlay created, in the app's namespace. */
export function overlayObjects(env: NodeJS.ProcessEnv, app: SeededApp): string[] {
  const list = kubectl(
    env,
    "-n",
    app.namespace,
    "get",
    "deployments,services,configmaps,secrets,ingresses,jobs,pods",
    "-l",
    OVERLAY_LABEL,
  );
  return list.items.map((o: any) => `${o.kind}/${o.metadata.name}`);
}
