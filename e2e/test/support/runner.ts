/**
 * For the runner's real-engine tests: a cluster of its own (its own state directory and ports,
 * so it never collides with the real-engine suite's), a Pulumi project directory for the
 * e2e program with the seeded app's facts, and `pg-recovery` run as an operator runs it.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { SeededApp } from "./app";
import { E2E } from "./cluster";
import { factsFor } from "./stack";
import { testDir } from "../../../test/support/tmp";

/** The stack of the runner's e2e suites (its facts: e2e/test/support/stack.ts). */
export const STACK = "e2e";
/** The facts name the environment "e2e": typing it is what confirms. */
export const YES = ["--yes", "e2e"];

const REPO = path.resolve(E2E, "..");
const CLUSTER = path.join(E2E, "cluster.sh");
const BIN = path.join(REPO, "runner", "bin", "pg-recovery.js");
/** The e2e program: the product's composition on a Kubernetes-only platform. */
const PROGRAM = path.join(E2E, "program");

/**
 * Starts a cluster in `stateDir` (cluster.sh picks its ports: free ones outside the kernel's
 * ephemeral range, none another cluster holds); returns the environment it exports.
 */
export async function runnerClusterUp(stateDir: string): Promise<NodeJS.ProcessEnv> {
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    PG_RECOVERY_E2E_DIR: stateDir,
    // Its own passphrase, so a test can look for it where it must never appear.
    PG_RECOVERY_E2E_PASSPHRASE: `pgr-${crypto.randomBytes(12).toString("hex")}`,
  };
  const script =
    `set -e; exports="$("${CLUSTER}" up)"; eval "$exports"; ` +
    `for v in $(printf '%s\\n' "$exports" | sed -n 's/^export \\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p'); ` +
    `do printf '%s=%s\\0' "$v" "\${!v}"; done`;
  const out = execFileSync("bash", ["-c", script], {
    env: base,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 << 20,
  });
  const env: NodeJS.ProcessEnv = { ...base };
  for (const entry of out.split("\0").filter(Boolean)) {
    const eq = entry.indexOf("=");
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (!env.KUBECONFIG || !env.PULUMI_BACKEND_URL)
    throw new Error(`cluster.sh up exported nothing:\n${out}`);
  return env;
}

export function runnerClusterDown(env: NodeJS.ProcessEnv): void {
  execFileSync(CLUSTER, ["down"], { env, stdio: ["ignore", "inherit", "inherit"] });
}

/**
 * A Pulumi project directory outside the repository for the e2e program (so the runner's
 * `pulumi config set` writes no file in the repo): its Pulumi.yaml names the e2e program's entry,
 * its Pulumi.<stack>.yaml holds the seeded app's facts, as a stack file in the repo would.
 */
export function projectDir(stack: string, app: SeededApp, context: string): string {
  const dir = testDir("pgr-runner-project-");
  const program = fs.readFileSync(path.join(PROGRAM, "Pulumi.yaml"), "utf8");
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    program.replace(/^main: .*$/m, `main: ${path.join(PROGRAM, "index.ts")}`),
  );
  fs.writeFileSync(
    path.join(dir, `Pulumi.${stack}.yaml`),
    stringify({ config: { "pg-recovery:environment": factsFor(app, context) } }),
  );
  return dir;
}

export interface RunnerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningRunner {
  child: ChildProcess;
  /** Resolves when stderr has shown `pattern` (or the runner ended). */
  until(pattern: RegExp): Promise<boolean>;
  done: Promise<RunnerResult>;
}

/** `pg-recovery <args>` in its own process group (as a terminal runs it), no stdin. */
export function startRunner(args: string[], env: NodeJS.ProcessEnv): RunningRunner {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { re: RegExp; resolve: (v: boolean) => void }[] = [];
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.splice(0)) {
      if (w.re.test(stderr)) w.resolve(true);
      else waiters.push(w);
    }
  });
  const done = new Promise<RunnerResult>((resolve) =>
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(false);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    done,
    until: (re) =>
      re.test(stderr)
        ? Promise.resolve(true)
        : new Promise((resolve) => waiters.push({ re, resolve })),
  };
}

export function runRunner(args: string[], env: NodeJS.ProcessEnv): Promise<RunnerResult> {
  return startRunner(args, env).done;
}

/** Every process below `pid` (Linux /proc), children first found first. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      parent.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (of: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === of && !out.includes(child)) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/**
 * Kills the runner and its process group (the Pulumi CLI too), as closing its terminal can. The
 * CLI's provider plugins run in their own process groups and would outlive it as orphans, so the
 * test kills those it caused as well.
 */
export function killGroup(r: RunningRunner): void {
  const below = descendants(r.child.pid!);
  process.kill(-r.child.pid!, "SIGKILL");
  for (const pid of below) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone with the group
    }
  }
}

/**
 * The metadata sidecar of a stack's state file in the file:// backend. A kill that lands while
 * the backend writes it leaves it empty (it is written in place), and then every pulumi command
 * fails with "EOF" until the runner's rerun removes it (runner/repair.ts).
 */
export function stackSidecar(env: NodeJS.ProcessEnv, stack: string): string {
  const stacks = path.join(new URL(env.PULUMI_BACKEND_URL!).pathname, ".pulumi", "stacks");
  const found = fs
    .readdirSync(stacks)
    .map((project) => path.join(stacks, project, `${stack}.json.attrs`))
    .filter((f) => fs.existsSync(f));
  if (found.length !== 1) throw new Error(`expected one ${stack}.json.attrs under ${stacks}`);
  return found[0];
}
