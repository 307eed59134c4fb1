/**
 * The local control plane of e2e/cluster.sh, seen from a test: start it (and get its `export`
 * lines as an environment), run kubectl against it, stop it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";

export const E2E = path.resolve(__dirname, "../..");
/** The seeded app the e2e suites recover: E2E_SEED, else e2e/seed/app.yaml. */
export const SEED = path.resolve(process.env.E2E_SEED ?? path.join(E2E, "seed", "app.yaml"));
const CLUSTER = path.join(E2E, "cluster.sh");

/** Starts the cluster (building the toolchain if needed) and returns the environment it exports. */
export function clusterUp(): NodeJS.ProcessEnv {
  const script =
    `set -e; exports="$("${CLUSTER}" up)"; eval "$exports"; ` +
    `for v in $(printf '%s\\n' "$exports" | sed -n 's/^export \\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p'); ` +
    `do printf '%s=%s\\0' "$v" "\${!v}"; done`;
  const out = execFileSync("bash", ["-c", script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 << 20,
  });
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const entry of out.split("\0").filter(Boolean)) {
    const eq = entry.indexOf("=");
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (!env.KUBECONFIG || !env.PULUMI_BACKEND_URL) {
    throw new Error(`e2e/cluster.sh up exported no KUBECONFIG/PULUMI_BACKEND_URL:\n${out}`);
  }
  return env;
}

export function clusterDown(env: NodeJS.ProcessEnv): void {
  spawnSync(CLUSTER, ["down"], { env, stdio: ["ignore", "inherit", "inherit"] });
}

/** Applies manifests as Terraform would (server-side apply, field manager `Terraform`). */
export function seed(env: NodeJS.ProcessEnv, file: string): void {
  execFileSync(CLUSTER, ["seed", file], { env, stdio: ["ignore", "inherit", "inherit"] });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Run {
  const r = spawnSync(cmd, args, { env, cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects as JSON */
export function kubectl(env: NodeJS.ProcessEnv, ...args: string[]): any {
  const r = run("kubectl", [...args, "-o", "json"], env);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function currentContext(env: NodeJS.ProcessEnv): string {
  const r = run("kubectl", ["config", "current-context"], env);
  if (r.code !== 0) throw new Error(`kubectl config current-context: ${r.stderr}`);
  return r.stdout.trim();
}
