/**
 * One Pulumi stack of the e2e program, driven through the real Pulumi CLI by the Automation API,
 * with the file backend that e2e/cluster.sh exports. The program runs inline, in this process:
 * the Node.js language host cannot be built from the Go module proxy (see e2e/versions.env), and
 * the CLI serves an inline program through `--client` instead. So the scale-down restore hook
 * also runs here, against process.env.KUBECONFIG.
 */
import {
  ConfigMap,
  DestroyResult,
  EngineEvent,
  LocalWorkspace,
  PreviewResult,
  PulumiCommand,
  Stack,
  UpResult,
} from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as path from "node:path";
import { e2eProgram } from "../../program/platform";
import { SeededApp } from "./app";

export interface Step {
  op: string;
  type: string;
  urn: string;
}

export class E2eStack {
  private constructor(
    private readonly stack: Stack,
    private config: Record<string, string>,
  ) {}

  /** Creates (or selects) the stack; `env` is what e2e/cluster.sh exported. */
  static async create(name: string, env: NodeJS.ProcessEnv): Promise<E2eStack> {
    // PG_RECOVERY_PULUMI: a released CLI instead of the one e2e/toolchain.sh builds.
    const pulumi = fs.realpathSync(
      process.env.PG_RECOVERY_PULUMI ?? findOnPath("pulumi", env.PATH ?? ""),
    );
    const pulumiCommand = await PulumiCommand.get({
      root: path.dirname(path.dirname(pulumi)),
      skipVersionCheck: true,
    });
    const envVars = Object.fromEntries(
      Object.entries(env).filter(
        ([k, v]) => v !== undefined && /^(PULUMI_|KUBECONFIG$|PATH$)/.test(k),
      ),
    ) as Record<string, string>;
    const stack = await LocalWorkspace.createOrSelectStack(
      { stackName: name, projectName: "pg-recovery", program: e2eProgram },
      {
        pulumiCommand,
        envVars,
        projectSettings: { name: "pg-recovery", runtime: "nodejs" },
      },
    );
    return new E2eStack(stack, {});
  }

  /** Replaces `pg-recovery:*` keys (undefined removes one); objects are stored as JSON. */
  async set(values: Record<string, unknown>): Promise<void> {
    for (const [k, v] of Object.entries(values)) {
      const key = k.includes(":") ? k : `pg-recovery:${k}`;
      if (v === undefined) delete this.config[key];
      else this.config[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const current = await this.stack.getAllConfig();
    for (const key of Object.keys(current)) {
      if (!(key in this.config)) await this.stack.removeConfig(key);
    }
    const map: ConfigMap = Object.fromEntries(
      Object.entries(this.config).map(([k, value]) => [k, { value }]),
    );
    await this.stack.setAllConfig(map);
  }

  async preview(expectNoChanges = false): Promise<{ result: PreviewResult; steps: Step[] }> {
    const steps: Step[] = [];
    const result = await this.stack.preview({
      expectNoChanges,
      onEvent: (e: EngineEvent) => {
        const m = e.resourcePreEvent?.metadata;
        if (m) steps.push({ op: m.op, type: m.type, urn: m.urn });
      },
    });
    return { result, steps };
  }

  up(expectNoChanges = false, onEvent?: (event: EngineEvent) => void): Promise<UpResult> {
    return this.stack.up({ expectNoChanges, onEvent });
  }

  destroy(runProgram: boolean): Promise<DestroyResult> {
    return this.stack.destroy({ runProgram });
  }
}

function findOnPath(cmd: string, searchPath: string): string {
  for (const dir of searchPath.split(":")) {
    const candidate = path.join(dir, cmd);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`${cmd} is not on the PATH e2e/cluster.sh exported (${searchPath})`);
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
