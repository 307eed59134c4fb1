/**
 * The `Engine` on Pulumi's Automation API: a LocalWorkspace over the project directory (its
 * Pulumi.yaml and Pulumi.<stack>.yaml, as `pulumi` run there would see them) and the chosen
 * stack, with the project's program run inline (see program.ts).
 *
 * Secrets stay here: config and state are read without `--show-secrets`, secret outputs come
 * back as "[secret]". Nothing the runner prints or records can hold one.
 */
import { EngineEvent, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { promisify } from "node:util";
import {
  ChangePlan,
  ConfigMap,
  ConfigValue,
  DeployedResource,
  Engine,
  EngineError,
  HistoryEntry,
  isChange,
  OutputMap,
  PendingOperation,
  PlanStep,
  Progress,
  StackHandle,
  UpdateOutcome,
} from "./engine";
import type { EngineOptions } from "./context";
import { EngineUnavailable, type Io } from "./io";
import { projectProgram, readProject } from "./program";
import { defaultResolveEnv, resolvePulumiCli } from "./pulumi-cli";
import { backendUrl, fileBackendDir } from "./state-backend";

export const SECRET = "[secret]";

const execFileAsync = promisify(execFile);

export async function automationEngine(
  workDir: string,
  opts: EngineOptions = {},
  io?: Pick<Io, "err">,
): Promise<Engine> {
  const project = readProject(workDir);
  const log = (line: string) => (io ? io.err(line) : process.stderr.write(`${line}\n`));
  const { command: pulumiCommand } = await resolvePulumiCli(
    await defaultResolveEnv(opts.pulumi, log),
  );
  let workspace: LocalWorkspace;
  try {
    workspace = await LocalWorkspace.create({
      workDir,
      program: projectProgram(project.main),
      pulumiCommand,
    });
  } catch (e) {
    throw new EngineUnavailable(
      `the Pulumi workspace in ${workDir} cannot be opened: ${firstLine(e)}`,
    );
  }
  const url = backendUrl(project.backendUrl);
  return new AutomationEngine(workDir, workspace, pulumiCommand, url);
}

class AutomationEngine implements Engine {
  constructor(
    private readonly workDir: string,
    private readonly workspace: LocalWorkspace,
    private readonly pulumi: PulumiCommand,
    private readonly url: string | undefined,
  ) {}

  describe(): string {
    return this.url ?? "the backend of `pulumi whoami`";
  }

  stateDirectory(): string | undefined {
    return fileBackendDir(this.url, this.workDir);
  }

  async stacks(): Promise<string[]> {
    try {
      return (await this.workspace.listStacks()).map((s) => s.name.split("/").pop() ?? s.name);
    } catch (e) {
      throw backendUnavailable(engineError("pulumi stack ls", e, []), this.describe());
    }
  }

  stackFiles(): string[] {
    return fs
      .readdirSync(this.workDir)
      .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
      .filter((s): s is string => !!s)
      .sort();
  }

  async open(name: string, opts: { create: boolean }): Promise<StackHandle | undefined> {
    const known = await this.stacks();
    if (!known.includes(name)) {
      if (!opts.create) return undefined;
      try {
        await this.workspace.createStack(name);
      } catch (e) {
        throw engineError(`pulumi stack init ${name}`, e, []);
      }
    }
    const stack = await Stack.select(name, this.workspace);
    return new AutomationStack(stack, this.workspace, this.pulumi, this.workDir);
  }
}

class AutomationStack implements StackHandle {
  constructor(
    private readonly stack: Stack,
    private readonly workspace: LocalWorkspace,
    private readonly pulumi: PulumiCommand,
    private readonly workDir: string,
  ) {}

  get name(): string {
    return this.stack.name;
  }

  /** Runs the CLI in the project directory with the workspace's environment (read-only uses). */
  private async cli(args: string[]): Promise<string> {
    const env = { ...process.env, ...this.workspace.envVars, PULUMI_SKIP_UPDATE_CHECK: "true" };
    try {
      const { stdout } = await execFileAsync(
        this.pulumi.command,
        [...args, "--stack", this.name, "--non-interactive"],
        { cwd: this.workDir, env, maxBuffer: 256 << 20 },
      );
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message?: string };
      throw new EngineError(
        `pulumi ${args.join(" ")}`,
        (err.stderr ?? err.message ?? String(e))
          .split("\n")
          .map((l) => l.replace(/^error:\s*/, "").trim())
          .filter(Boolean),
        err.stderr ?? "",
      );
    }
  }

  async config(): Promise<ConfigMap> {
    // Without --show-secrets: a secret value reads "[secret]" and is never held in clear.
    const raw = JSON.parse(await this.cli(["config", "--json"])) as Record<
      string,
      { value?: string; secret?: boolean }
    >;
    const out: ConfigMap = {};
    for (const [key, v] of Object.entries(raw)) {
      out[key] = { value: v.secret ? SECRET : (v.value ?? ""), secret: !!v.secret };
    }
    return out;
  }

  async setConfig(values: Record<string, ConfigValue>): Promise<void> {
    if (Object.keys(values).length === 0) return;
    try {
      await this.stack.setAllConfig(values);
    } catch (e) {
      throw engineError("pulumi config set", e, []);
    }
  }

  async removeConfig(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.stack.removeAllConfig(keys);
    } catch (e) {
      throw engineError("pulumi config rm", e, []);
    }
  }

  preview(progress: Progress): Promise<ChangePlan> {
    return this.previewing("pulumi preview", progress, (onEvent) =>
      this.stack.preview({ onEvent, color: "never", diff: false }),
    );
  }

  async up(message: string, progress: Progress): Promise<UpdateOutcome> {
    return this.updating("pulumi up", progress, async (onEvent) => {
      const r = await this.stack.up({ message, onEvent, color: "never" });
      return { outputs: redactOutputs(r.outputs), changes: r.summary.resourceChanges };
    });
  }

  previewDestroy(progress: Progress): Promise<ChangePlan> {
    return this.previewing("pulumi destroy --preview-only --run-program", progress, (onEvent) =>
      this.stack.previewDestroy({ runProgram: true, onEvent, color: "never" }),
    );
  }

  async destroy(message: string, progress: Progress): Promise<UpdateOutcome> {
    return this.updating("pulumi destroy --run-program", progress, async (onEvent) => {
      const r = await this.stack.destroy({ message, runProgram: true, onEvent, color: "never" });
      return { outputs: {}, changes: r.summary.resourceChanges };
    });
  }

  /** A preview (of up or destroy): its steps as they came, and the engine's counts. */
  private async previewing(
    what: string,
    progress: Progress,
    run: (onEvent: (e: EngineEvent) => void) => Promise<{ changeSummary: object }>,
  ): Promise<ChangePlan> {
    const watch = new EventWatch(progress, false);
    try {
      const r = await run(watch.on);
      return { steps: watch.steps, counts: { ...r.changeSummary } as Record<string, number> };
    } catch (e) {
      throw engineError(what, e, watch.errors);
    }
  }

  /** An update (up or destroy), timed, with its counts; its errors as the engine's. */
  private async updating(
    what: string,
    progress: Progress,
    run: (
      onEvent: (e: EngineEvent) => void,
    ) => Promise<{ outputs: OutputMap; changes?: Record<string, number> }>,
  ): Promise<UpdateOutcome> {
    const watch = new EventWatch(progress, true);
    const startedAt = new Date().toISOString();
    try {
      const { outputs, changes } = await run(watch.on);
      return {
        outputs,
        counts: { ...(changes ?? {}) },
        startedAt,
        endedAt: new Date().toISOString(),
      };
    } catch (e) {
      throw engineError(what, e, watch.errors);
    }
  }

  async outputs(): Promise<OutputMap> {
    try {
      return redactOutputs(await this.stack.outputs());
    } catch (e) {
      throw engineError("pulumi stack output", e, []);
    }
  }

  async pendingOperations(): Promise<PendingOperation[]> {
    const state = JSON.parse(await this.cli(["stack", "export"])) as {
      deployment?: {
        pending_operations?: {
          type: string;
          resource: { urn: string; type: string; inputs?: Record<string, unknown> };
        }[];
      };
    };
    return (state.deployment?.pending_operations ?? []).map((p) => ({
      urn: p.resource.urn,
      type: p.resource.type,
      op: p.type,
      inputs: p.resource.inputs,
    }));
  }

  async repairPending(imports: [string, string][]): Promise<void> {
    // Without the program: a refresh reads each resource from its provider.
    await this.cli([
      "refresh",
      "--yes",
      "--skip-preview",
      "--message",
      "pg-recovery: repair after an interrupted update",
      ...imports.flatMap(([urn, id]) => [
        "--import-pending-creates",
        urn,
        "--import-pending-creates",
        id,
      ]),
    ]);
  }

  async cancel(): Promise<void> {
    await this.cli(["cancel", "--yes"]);
  }

  async resources(): Promise<DeployedResource[]> {
    // Without --show-secrets: secret state stays ciphertext; only names and clear inputs are used.
    const state = JSON.parse(await this.cli(["stack", "export"])) as {
      deployment?: { resources?: StateResource[] };
    };
    return (
      (state.deployment?.resources ?? [])
        .filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"))
        // Reads of live objects (`external`) are looked at, never managed.
        .filter((r) => !r.delete && !r.external)
        .map((r) => {
          const meta = (r.outputs?.metadata ?? r.inputs?.metadata) as
            { name?: unknown; namespace?: unknown } | undefined;
          return {
            type: r.type,
            urn: r.urn,
            name: r.urn.split("::").pop() ?? r.urn,
            kubernetes:
              r.type.startsWith("kubernetes:") && meta
                ? {
                    namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
                    name: typeof meta.name === "string" ? meta.name : undefined,
                  }
                : undefined,
            inputs: r.inputs,
          };
        })
    );
  }

  async history(): Promise<HistoryEntry[]> {
    try {
      const entries = await this.stack.history(undefined, undefined, false);
      return entries.map((h) => ({
        kind: h.kind,
        message: h.message ?? "",
        startTime: new Date(h.startTime).toISOString(),
        endTime: h.endTime ? new Date(h.endTime).toISOString() : undefined,
        result: h.result,
        environment: h.environment ?? {},
        config: Object.fromEntries(
          Object.entries(h.config ?? {}).map(([k, v]) => [
            k,
            { value: v.secret ? SECRET : String(v.value ?? ""), secret: !!v.secret },
          ]),
        ),
        counts: h.resourceChanges as Record<string, number> | undefined,
      }));
    } catch (e) {
      throw engineError("pulumi stack history", e, []);
    }
  }
}

interface StateResource {
  type: string;
  urn: string;
  delete?: boolean;
  external?: boolean;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

function redactOutputs(outputs: Record<string, { value: unknown; secret: boolean }>): OutputMap {
  return Object.fromEntries(
    Object.entries(outputs).map(([k, v]) => [
      k,
      { value: v.secret ? SECRET : v.value, secret: !!v.secret },
    ]),
  );
}

/** Collects the plan's steps and the program's errors; prints progress during updates. */
class EventWatch {
  readonly steps: PlanStep[] = [];
  readonly errors: string[] = [];
  private readonly started = new Map<string, number>();

  constructor(
    private readonly progress: Progress,
    private readonly live: boolean,
  ) {}

  on = (event: EngineEvent): void => {
    const pre = event.resourcePreEvent?.metadata;
    if (pre) {
      const step = toStep(pre);
      if (step.type !== "pulumi:pulumi:Stack") {
        this.steps.push(step);
        // Progress names objects; components are only groupings of them.
        if (
          this.live &&
          isChange(step.op) &&
          step.custom !== false &&
          !step.type.startsWith("pulumi:providers:")
        ) {
          this.started.set(step.urn, Date.now());
          this.progress({ kind: "step", phase: "doing", step });
        }
      }
    }
    const done = event.resOutputsEvent?.metadata;
    if (done && this.live && this.started.has(done.urn)) {
      const t0 = this.started.get(done.urn);
      const seconds = t0 === undefined ? undefined : Math.round((Date.now() - t0) / 1000);
      this.progress({ kind: "step", phase: "done", step: toStep(done), seconds });
    }
    const failed = event.resOpFailedEvent?.metadata;
    if (failed && this.live) this.progress({ kind: "step", phase: "failed", step: toStep(failed) });
    const diag = event.diagnosticEvent;
    if (diag && (diag.severity === "error" || diag.severity === "warning")) {
      const text = cleanDiagnostic(diag.message);
      if (text) {
        if (diag.severity === "error") {
          if (!this.errors.includes(text)) this.errors.push(text);
        } else if (this.live) this.progress({ kind: "warning", text });
      }
    }
  };
}

interface StateMetadata {
  inputs?: Record<string, unknown>;
  custom?: boolean;
  retainOnDelete?: boolean;
}

function toStep(m: {
  op: string;
  urn: string;
  type: string;
  provider?: string;
  new?: StateMetadata;
  old?: StateMetadata;
}): PlanStep {
  return {
    op: m.op,
    urn: m.urn,
    type: m.type,
    name: m.urn.split("::").pop() ?? m.urn,
    inputs: m.new?.inputs,
    oldInputs: m.old?.inputs,
    // `custom: false` is often left out of the events; a component has no provider either.
    custom:
      m.new?.custom ?? m.old?.custom ?? (m.provider === undefined ? undefined : m.provider !== ""),
    retain: m.old?.retainOnDelete ?? m.new?.retainOnDelete,
  };
}

function cleanDiagnostic(message: string): string {
  return (
    message
      .replace(/<\{%[a-z]+%\}>/g, "")
      // eslint-disable-next-line no-control-regex -- ANSI colour codes are control characters
      .replace(/\u001b\[[0-9;]*m/g, "")
      .trim()
  );
}

/**
 * The first thing every command asks the backend (its stacks), failing for a reason that is the
 * machine's, not the incident's: not logged in, or the backend out of reach. Said with the fix.
 */
export function backendUnavailable(
  e: EngineError,
  backend: string,
): EngineError | EngineUnavailable {
  const text = e.problems.join(" ");
  if (/PULUMI_ACCESS_TOKEN|not logged in|pulumi login|no credentials/i.test(text)) {
    return new EngineUnavailable(
      `not logged in to a Pulumi state backend (${e.problems[0]}). Log in first: ` +
        `\`pulumi login\` (Pulumi Cloud), \`pulumi login azblob://<container>\` (the team's state), or ` +
        `for a rehearsal \`pulumi login file://~/.pulumi-state\`; or set PULUMI_BACKEND_URL. Nothing was changed.`,
    );
  }
  if (
    /dial tcp|no such host|connection refused|i\/o timeout|ENOTFOUND|ECONNREFUSED|network is unreachable|TLS handshake timeout/i.test(
      text,
    )
  ) {
    return new EngineUnavailable(
      `the state backend ${backend} cannot be reached (${e.problems[0]}). Check the network (VPN, ` +
        `proxy) and the backend URL, then rerun. Nothing was changed.`,
    );
  }
  return e;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0];

/** The operator-facing part of a failed CLI run: the program's errors, else `error:` lines. */
function engineError(operation: string, e: unknown, diagnostics: string[]): EngineError {
  if (e instanceof EngineError) return e;
  // A CommandError's message is the CLI's whole result: exit code, stdout and stderr.
  const output = String((e as Error)?.message ?? e);
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^error:/.test(l))
    .map((l) => l.replace(/^error:\s*/, ""))
    // The engine's closing line says only that the program failed; the diagnostics say why.
    .filter((l) => !/^update failed$|^preview failed$|^an error occurred/.test(l));
  const problems = diagnostics.length ? diagnostics : lines.length ? lines : [firstLine(e)];
  return new EngineError(operation, problems, output);
}
