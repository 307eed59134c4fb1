/**
 * Which Pulumi CLI the runner drives, found the way Pulumi's own tools find one:
 *  1. the one the operator named: `--pulumi <path>`, else `$PULUMI_CLI`;
 *  2. `pulumi` on PATH, when it meets the SDK's minimum version (the Automation API's check);
 *  3. the one the Automation API installed before, `${PULUMI_HOME:-~/.pulumi}/versions/<v>/bin`,
 *     where <v> is the version of @pulumi/pulumi in node_modules;
 *  4. else that version is installed there with the Automation API's `PulumiCommand.install`
 *     (bounded: offline it fails fast, and then the message says how to get one).
 * One line on stderr says which CLI is used and where it came from.
 */
import type { PulumiCommand } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { EngineUnavailable } from "./io";

const execFileAsync = promisify(execFile);

export interface Resolved {
  command: PulumiCommand;
  /** How it was found, for the operator: "PULUMI_CLI", "PATH", "installed", ... */
  from: string;
}

/** What resolution needs from the outside world; tests hand in fakes. */
export interface ResolveEnv {
  env: NodeJS.ProcessEnv;
  /** `--pulumi <path>`. */
  flag?: string;
  /** The version of @pulumi/pulumi (what an install fetches). */
  sdkVersion: string;
  /** The CLI at `file`, if it runs and meets the SDK's minimum; throws with why not. */
  open(file: string, version?: string): Promise<PulumiCommand>;
  /** Installs `version` under `root` (root/bin/pulumi). */
  install(root: string, version: string): Promise<void>;
  /** How long an install may take before it counts as failed (offline: fail fast). */
  installTimeoutMs: number;
  log(line: string): void;
}

export function pulumiHome(env: NodeJS.ProcessEnv): string {
  return env.PULUMI_HOME || path.join(os.homedir(), ".pulumi");
}

/** The first executable `pulumi` in PATH's directories. */
export function onPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, "pulumi");
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function resolvePulumiCli(r: ResolveEnv): Promise<Resolved> {
  const tried: string[] = [];
  const found = (command: PulumiCommand, from: string): Resolved => {
    r.log(`Pulumi CLI: ${command.command} (v${command.version ?? "?"}, ${from})`);
    return { command, from };
  };
  const explicit = r.flag
    ? { file: r.flag, from: "--pulumi" }
    : r.env.PULUMI_CLI
      ? { file: r.env.PULUMI_CLI, from: "PULUMI_CLI" }
      : undefined;
  if (explicit) {
    try {
      return found(await r.open(explicit.file), `from ${explicit.from}`);
    } catch (e) {
      // The operator named this one: no silent fallback to another.
      throw new EngineUnavailable(
        `the Pulumi CLI named by ${explicit.from} (${explicit.file}) is not usable: ${firstLine(e)}.\n` +
          fixes(r),
      );
    }
  }
  const onPathFile = onPath(r.env);
  if (onPathFile) {
    try {
      return found(await r.open(onPathFile), "on PATH");
    } catch (e) {
      tried.push(`${onPathFile} on PATH: ${firstLine(e)}`);
    }
  } else tried.push("none on PATH");
  const root = path.join(pulumiHome(r.env), "versions", r.sdkVersion);
  const installed = path.join(root, "bin", "pulumi");
  if (fs.existsSync(installed)) {
    try {
      return found(
        await r.open(installed, r.sdkVersion),
        `installed earlier by the Automation API`,
      );
    } catch (e) {
      tried.push(`${installed}: ${firstLine(e)}`);
    }
  } else tried.push(`none in ${root}`);
  r.log(
    `Pulumi CLI: none found; installing v${r.sdkVersion} (the version @pulumi/pulumi needs) into ${root} ...`,
  );
  try {
    await withTimeout(r.install(root, r.sdkVersion), r.installTimeoutMs);
    return found(await r.open(installed, r.sdkVersion), `installed now into ${root}`);
  } catch (e) {
    tried.push(`installing v${r.sdkVersion} failed: ${firstLine(e)}`);
  }
  throw new EngineUnavailable(`no usable Pulumi CLI (${tried.join("; ")}).\n${fixes(r)}`);
}

/** The commands that get a CLI where the resolution finds it. */
function fixes(r: ResolveEnv): string {
  const root = path.join(pulumiHome(r.env), "versions", r.sdkVersion);
  return [
    `Fix it with one of:`,
    `  curl -fsSL https://get.pulumi.com | sh -s -- --version ${r.sdkVersion} --install-root ${root}   (then rerun; found there)`,
    `  or install it from https://www.pulumi.com/docs/install/ and put it on PATH`,
    `  or, on a machine without the download (this repository's Go-built CLI):`,
    `    bash e2e/toolchain.sh --only pulumi && export PULUMI_CLI="$(bash e2e/toolchain.sh --print-path)/pulumi"`,
    `  or name one: --pulumi /path/to/pulumi (or PULUMI_CLI=/path/to/pulumi)`,
    `The checks that need no engine ran already; nothing was changed.`,
  ].join("\n");
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${Math.round(ms / 1000)}s (offline?)`)),
      ms,
    );
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** The real world: the Automation API's own version check and installer. */
export async function defaultResolveEnv(
  flag: string | undefined,
  log: (line: string) => void,
): Promise<ResolveEnv> {
  // The file, not the directory: the bundle (tools/build.js) keeps a dynamic import() as Node's
  // ESM import, which refuses a directory ("ERR_UNSUPPORTED_DIR_IMPORT").
  const { PulumiCommand } = await import("@pulumi/pulumi/automation");
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK's own version
  const sdkVersion = (require("@pulumi/pulumi/package.json") as { version: string }).version;
  const semver = await import("semver");
  return {
    env: process.env,
    flag,
    sdkVersion,
    log,
    installTimeoutMs: Number(process.env.PG_RECOVERY_PULUMI_INSTALL_TIMEOUT_MS ?? 120_000),
    open: async (file, version) => {
      const bin = path.dirname(file);
      if (path.basename(file) === "pulumi" && path.basename(bin) === "bin") {
        // `get` runs `<root>/bin/pulumi version` and applies the SDK's minimum-version check.
        return PulumiCommand.get({
          root: path.dirname(bin),
          version: version ? new semver.SemVer(version) : undefined,
        });
      }
      // Another layout (the release tarball's pulumi/pulumi): the same check, then the same class.
      const { stdout } = await execFileAsync(file, ["version"], {
        env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
      });
      const found = semver.parse(stdout.trim());
      if (!found || found.major !== 3)
        throw new Error(`version "${stdout.trim()}" is not a Pulumi CLI v3`);
      // The class's constructor is private to its own `get`; it only holds these two fields.
      const Ctor = PulumiCommand as unknown as new (
        command: string,
        version: unknown,
      ) => PulumiCommand;
      return new Ctor(file, found);
    },
    install: async (root, version) => {
      await reachable("https://get.pulumi.com/install.sh", 10_000);
      await PulumiCommand.install({ root, version: new semver.SemVer(version) });
    },
  };
}

/** Fails within `ms` when the download site cannot be reached (no network, a proxy, DNS). */
async function reachable(url: string, ms: number): Promise<void> {
  try {
    await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(ms) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new Error(`${new URL(url).host} is unreachable (${cause ?? firstLine(e)})`);
  }
}
