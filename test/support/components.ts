/**
 * Shared setup of the component tests: declare one component alone under the offline harness,
 * resolve its outputs, and check that two instances don't collide.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { FlexibleServerSpec } from "../../components/flexible-server";
import { DeclaredResource, evaluateOffline } from "../../offline/offline";
import { managed, one, TYPES } from "./pulumi-harness";

/** Runs `declare` alone; also resolves the outputs it returns. */
export async function declareAlone<T>(
  declare: () => T,
  outputsOf: (component: T) => Record<string, unknown> = () => ({}),
  config: Record<string, string> = {},
): Promise<{ resources: DeclaredResource[]; outputs: Record<string, any> }> {
  const run = await evaluateOffline(config, undefined, () => outputsOf(declare()));
  return { resources: run.resources, outputs: run.outputs };
}

/**
 * The one Flexible Server declared, after checking how it is restored: its name, create mode,
 * instant (UTC) and the server it comes from.
 */
export function restoredServer(
  resources: DeclaredResource[],
  expected: {
    serverName: string;
    createMode: string;
    pointInTimeUTC: string;
    sourceServerResourceId: string;
  },
): { server: DeclaredResource; i: any } {
  const server = one(resources, TYPES.server);
  const i = server.inputs as any;
  const { serverName, createMode, pointInTimeUTC, sourceServerResourceId } = i;
  assert.deepEqual({ serverName, createMode, pointInTimeUTC, sourceServerResourceId }, expected);
  return { server, i };
}

/** A small environment's server spec, as a rebuilt or created server is sized. */
export const SERVER_SPEC: FlexibleServerSpec = {
  version: "17",
  skuName: "B_Standard_B2s",
  skuTier: "Burstable",
  storageSizeGB: 32,
  highAvailability: "Disabled",
  backupRetentionDays: 7,
  administratorLogin: "psqladmin",
};

export const parentOf = (r: DeclaredResource) => r.options.parent ?? "";

/** Resource names and, for objects the component creates, their Kubernetes identities. */
export function identities(resources: DeclaredResource[]) {
  const urns = managed(resources).map((r) => `${r.type}::${r.name}`);
  const k8sObjects = managed(resources)
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch"))
    .map(
      (r) =>
        `${r.type}::${(r.inputs as any).metadata.namespace}/${(r.inputs as any).metadata.name}`,
    );
  return { urns, k8sObjects };
}

export function assertNoCollisions(resources: DeclaredResource[]) {
  const { urns, k8sObjects } = identities(resources);
  assert.equal(new Set(urns).size, urns.length, `duplicate resource names: ${urns.join(", ")}`);
  assert.equal(
    new Set(k8sObjects).size,
    k8sObjects.length,
    `duplicate objects: ${k8sObjects.join(", ")}`,
  );
}
