/**
 * One Pulumi stack of the e2e program, driven through the real CLI with the file backend that
 * e2e/cluster.sh exports. Config is written to a stack file outside the repo (`--config-file`),
 * as an operator's `pulumi config set` would leave it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { E2E, Run, run } from "./cluster";
import { SeededApp } from "./app";

export const PROGRAM = path.join(E2E, "program");

export class Stack {
  readonly configFile: string;
  private config: Record<string, unknown> = {};

  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pg-recovery-e2e-stack-"));
    this.configFile = path.join(dir, `Pulumi.${name}.yaml`);
    // The e2e program is TypeScript; the type gate is `tsc --noEmit`, not the engine.
    this.env = { ...env, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
  }

  init(): void {
    const r = this.pulumi("stack", "init", this.name, "--non-interactive");
    if (r.code !== 0 && !/already exists/.test(r.stderr)) {
      throw new Error(`pulumi stack init: ${r.stderr}`);
    }
  }

  /** Replaces the `pg-recovery:*` config (undefined values are removed). */
  set(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) {
      const key = k.includes(":") ? k : `pg-recovery:${k}`;
      if (v === undefined) delete this.config[key];
      else this.config[key] = v;
    }
    fs.writeFileSync(this.configFile, stringify({ config: this.config }));
  }

  pulumi(...args: string[]): Run {
    const needsStack = !["stack", "version", "plugin"].includes(args[0]);
    const extra = needsStack
      ? ["--stack", this.name, "--config-file", this.configFile, "--non-interactive"]
      : [];
    return run("pulumi", [...args, ...extra], this.env, PROGRAM);
  }

  /** `pulumi <args>` that must succeed; the failure message carries the CLI's output. */
  ok(...args: string[]): Run {
    const r = this.pulumi(...args);
    if (r.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    }
    return r;
  }
}

/** Environment facts for the seeded app on the local cluster; Azure/GitHub values are inert. */
export function factsFor(app: SeededApp, context: string): Record<string, unknown> {
  return {
    name: "e2e",
    shortName: "e2e",
    azure: {
      resourceGroup: "e2e-rg",
      location: "uksouth",
      server: {
        name: "e2e-live-pg",
        database: "app_e2e",
        version: "17",
        sku: { name: "B_Standard_B2s", tier: "Burstable" },
        storageSizeGB: 32,
        highAvailability: "Disabled",
        backupRetentionDays: 7,
        administratorLogin: "psqladmin",
      },
      network: {
        resourceGroup: "e2e-net-rg",
        virtualNetwork: "e2e-vnet",
        subnet: "postgres-snet",
        privateDnsZone: {
          resourceGroup: "e2e-dns-rg",
          name: "e2e.internal.postgres.database.azure.com",
        },
      },
      backupStorage: {
        account: "e2ebackups",
        resourceGroup: "e2e-rg",
        container: "database-backup",
      },
    },
    kubernetes: {
      context,
      namespace: app.namespace,
      ingressClassName: "nginx",
      webService: app.webService,
      // Not pinned: the overlay reads the pre-incident counts from the cluster, as on qa.
      deployments: app.deployments.map((d) => ({ name: d.name })),
      databaseSecret: { fromDeployment: app.webService.name, key: "DATABASE_URL" },
    },
    ingress: {
      publicHosts: app.ingresses.map((i) => ({ host: i.host, ingress: i.name })),
      temporaryHosts: ["app-temp.e2e.test", "api-temp.e2e.test"],
    },
    github: { owner: "e2e", repository: "app", defaultBranch: "main" },
    dataTool: { image: "ghcr.io/dfe-digital/pg-recovery-data:e2e" },
  };
}
