/**
 * Who ran a command, from the environment only: the git identity of the project checkout, the
 * cloud account the Azure CLI is logged in as, the GitHub Actions actor and run, and the local
 * user. Names and account names, never tokens: nothing here reads a credential.
 */
import { spawnSync } from "node:child_process";
import * as os from "node:os";

export interface Who {
  /** The best single name: git user, else the Actions actor, else the local user. */
  name: string;
  git?: string;
  /** `az account show`: the signed-in user or service principal, and the subscription's name. */
  cloud?: string;
  /** GitHub Actions: actor and run URL. */
  github?: string;
  local: string;
}

function run(cmd: string, args: string[], cwd?: string, timeout = 3000): string | undefined {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

let cloudCache: { value: string | undefined } | undefined;

function cloudAccount(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PG_RECOVERY_SKIP_CLOUD_ACCOUNT === "true") return undefined;
  if (cloudCache) return cloudCache.value;
  const out = run(
    "az",
    [
      "account",
      "show",
      "--query",
      "{user: user.name, type: user.type, subscription: name}",
      "-o",
      "json",
    ],
    undefined,
    8000,
  );
  let value: string | undefined;
  if (out) {
    try {
      const a = JSON.parse(out) as { user?: string; type?: string; subscription?: string };
      value = `${a.user ?? "?"} (${a.type ?? "account"}) on subscription "${a.subscription ?? "?"}"`;
    } catch {
      value = undefined;
    }
  }
  cloudCache = { value };
  return value;
}

export function whoRan(workDir: string, env: NodeJS.ProcessEnv = process.env): Who {
  const gitName = run("git", ["config", "user.name"], workDir);
  const gitEmail = run("git", ["config", "user.email"], workDir);
  const git = gitName ? `${gitName}${gitEmail ? ` <${gitEmail}>` : ""}` : undefined;
  const github = env.GITHUB_ACTOR
    ? `${env.GITHUB_ACTOR}` +
      (env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY
        ? ` (${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID})`
        : "")
    : undefined;
  let local = "unknown";
  try {
    local = `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    // No passwd entry (some containers): the name stays unknown.
  }
  const name = gitName ?? env.GITHUB_ACTOR ?? local;
  return { name, git, cloud: cloudAccount(env), github, local };
}
