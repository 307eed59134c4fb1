/**
 * Stand-ins for the runner's seams, for the unit tests:
 *  - FakeEngine: a stack whose "engine" is the real program under Pulumi's mocks
 *    (offline/offline.ts). Preview diffs what the program declares for the stack's config against
 *    what was last applied; up applies it (or crashes part-way, on request); destroy deletes it.
 *    The program's own errors (the door, the preflight) come back as the CLI would report them.
 *  - FakeCluster: Jobs with states and logs set by the test.
 *  - testIo: a terminal that records what was printed and answers the prompt as told.
 */
import { DeclaredResource, evaluateOffline, loadStackConfig } from "../../../offline/offline";
import { testDir } from "../../support/tmp";
import {
  ChangePlan,
  ConfigMap,
  ConfigValue,
  DeployedResource,
  Engine,
  EngineError,
  HistoryEntry,
  OutputMap,
  PendingOperation,
  PlanStep,
  Progress,
  StackHandle,
  UpdateOutcome,
} from "../../../runner/engine";
import { Io } from "../../../runner/io";
import { Cluster, JobRef, JobStatus } from "../../../runner/jobs";
import { Journal } from "../../../runner/journal";
import { Deps } from "../../../runner/session";
import { Who } from "../../../runner/who";

export const NOW = new Date("2026-11-25T12:00:00Z");
export const WHO: Who = {
  name: "Ada Operator",
  git: "Ada Operator <ada@example.org>",
  cloud: 'ada@example.org (user) on subscription "s189-teacher-services-cloud-production"',
  local: "ada@laptop",
};

const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

export class FakeStack implements StackHandle {
  configMap: ConfigMap;
  applied: DeclaredResource[] = [];
  appliedOutputs: Record<string, unknown> = {};
  readonly historyEntries: HistoryEntry[] = [];
  /** Apply only this many changes on the next up, then fail (a crash mid-update). */
  crashAfter?: number;
  calls: string[] = [];

  constructor(
    readonly name: string,
    config: Record<string, string>,
    private readonly now: () => Date,
  ) {
    this.configMap = Object.fromEntries(
      Object.entries(config).map(([k, v]) => [k, { value: v, secret: false }]),
    );
  }

  async config(): Promise<ConfigMap> {
    return JSON.parse(JSON.stringify(this.configMap)) as ConfigMap;
  }
  async setConfig(values: Record<string, ConfigValue>): Promise<void> {
    this.calls.push(`config set ${Object.keys(values).join(",")}`);
    Object.assign(this.configMap, JSON.parse(JSON.stringify(values)));
  }
  async removeConfig(keys: string[]): Promise<void> {
    if (keys.length) this.calls.push(`config rm ${keys.join(",")}`);
    for (const k of keys) delete this.configMap[k];
  }

  private async declared(
    operation: string,
  ): Promise<{ resources: DeclaredResource[]; outputs: Record<string, unknown> }> {
    const config = Object.fromEntries(Object.entries(this.configMap).map(([k, v]) => [k, v.value]));
    try {
      const run = await evaluateOffline(config, this.now());
      return { resources: run.resources.filter((r) => !r.read), outputs: run.outputs };
    } catch (e) {
      throw new EngineError(operation, [(e as Error).message], String(e));
    }
  }

  private diff(next: DeclaredResource[]): ChangePlan {
    const before = new Map(this.applied.map((r) => [key(r), r]));
    const after = new Map(next.map((r) => [key(r), r]));
    const steps: PlanStep[] = [];
    const step = (op: string, r: DeclaredResource, old?: DeclaredResource): PlanStep => ({
      op,
      urn: `urn:pulumi:${this.name}::pg-recovery::${r.type}::${r.name}`,
      type: r.type,
      name: r.name,
      inputs: op === "delete" ? undefined : r.inputs,
      oldInputs: old?.inputs,
      custom: !r.component,
      retain: r.options.retainOnDelete === true,
    });
    for (const r of next) {
      const old = before.get(key(r));
      if (!old) steps.push(step("create", r));
      else
        steps.push(
          step(JSON.stringify(old.inputs) === JSON.stringify(r.inputs) ? "same" : "update", r, old),
        );
    }
    for (const r of this.applied) if (!after.has(key(r))) steps.push(step("delete", r, r));
    const counts: Record<string, number> = {};
    for (const s of steps) counts[s.op] = (counts[s.op] ?? 0) + 1;
    return { steps, counts };
  }

  async preview(): Promise<ChangePlan> {
    this.calls.push("preview");
    return this.diff((await this.declared("pulumi preview")).resources);
  }

  private record(
    kind: string,
    message: string,
    counts: Record<string, number>,
    result = "succeeded",
  ) {
    const t = this.now().toISOString();
    this.historyEntries.unshift({
      kind,
      message,
      startTime: t,
      endTime: t,
      result,
      environment: {},
      config: JSON.parse(JSON.stringify(this.configMap)) as ConfigMap,
      counts,
    });
  }

  async up(message: string, progress: Progress): Promise<UpdateOutcome> {
    this.calls.push("up");
    const { resources, outputs } = await this.declared("pulumi up");
    const plan = this.diff(resources);
    if (this.crashAfter !== undefined) {
      const n = this.crashAfter;
      this.crashAfter = undefined;
      const creates = plan.steps.filter((s) => s.op === "create").slice(0, n);
      for (const c of creates) {
        const r = resources.find((x) => key(x) === `${c.type}::${c.name}`);
        if (r) this.applied.push(r);
      }
      this.record("update", message, { create: creates.length }, "failed");
      throw new EngineError("pulumi up", ["the runner was killed (simulated)"], "");
    }
    for (const step of plan.steps) {
      if (step.op !== "same") progress({ kind: "step", phase: "done", step });
    }
    this.applied = resources;
    this.appliedOutputs = outputs;
    this.record("update", message, plan.counts);
    return {
      outputs: this.outputsNow(),
      counts: plan.counts,
      startedAt: this.now().toISOString(),
      endedAt: this.now().toISOString(),
    };
  }

  async previewDestroy(): Promise<ChangePlan> {
    this.calls.push("previewDestroy");
    await this.declared("pulumi destroy --preview-only --run-program");
    return this.diff([]);
  }

  async destroy(message: string): Promise<UpdateOutcome> {
    this.calls.push("destroy");
    await this.declared("pulumi destroy --run-program");
    const plan = this.diff([]);
    this.applied = [];
    this.appliedOutputs = {};
    this.record("destroy", message, plan.counts);
    return {
      outputs: {},
      counts: plan.counts,
      startedAt: this.now().toISOString(),
      endedAt: this.now().toISOString(),
    };
  }

  private outputsNow(): OutputMap {
    return Object.fromEntries(
      Object.entries(this.appliedOutputs).map(([k, v]) => [
        k,
        v === "[secret]" ? { value: "[secret]", secret: true } : { value: v, secret: false },
      ]),
    );
  }

  async outputs(): Promise<OutputMap> {
    return this.outputsNow();
  }

  async resources(): Promise<DeployedResource[]> {
    return this.applied
      .filter((r) => !r.type.startsWith("pulumi:providers:"))
      .map((r) => {
        const meta = (r.inputs.metadata ?? {}) as { name?: string; namespace?: string };
        return {
          type: r.type,
          urn: `urn:pulumi:${this.name}::pg-recovery::${r.type}::${r.name}`,
          name: r.name,
          kubernetes: r.type.startsWith("kubernetes:")
            ? { name: meta.name, namespace: meta.namespace }
            : undefined,
          inputs: r.inputs,
        };
      });
  }

  pending: PendingOperation[] = [];

  async pendingOperations(): Promise<PendingOperation[]> {
    return this.pending;
  }

  async repairPending(imports: [string, string][]): Promise<void> {
    this.calls.push(
      `refresh ${imports.map(([u, id]) => `${u.split("::").pop()}=${id}`).join(" ")}`,
    );
    this.pending = [];
  }

  async cancel(): Promise<void> {
    this.calls.push("cancel");
  }

  async history(): Promise<HistoryEntry[]> {
    return JSON.parse(JSON.stringify(this.historyEntries)) as HistoryEntry[];
  }
}

export class FakeEngine implements Engine {
  readonly stacksByName = new Map<string, FakeStack>();
  created: string[] = [];
  /** A `file://` backend's directory, when a test gives the fake one. */
  stateDir?: string;

  constructor(
    private readonly now: () => Date,
    private readonly files: string[] = ["production", "qa"],
  ) {}

  describe(): string {
    return "file:///fake-backend";
  }
  stateDirectory(): string | undefined {
    return this.stateDir;
  }
  async stacks(): Promise<string[]> {
    return [...this.stacksByName.keys()];
  }
  stackFiles(): string[] {
    return this.files;
  }
  async open(name: string, opts: { create: boolean }): Promise<StackHandle | undefined> {
    let s = this.stacksByName.get(name);
    if (!s && opts.create) {
      s = new FakeStack(name, loadStackConfig(name), this.now);
      this.stacksByName.set(name, s);
      this.created.push(name);
    }
    return s;
  }
  /** A stack that already exists in the backend (as after `pulumi stack init`). */
  init(name: string): FakeStack {
    const s = new FakeStack(name, loadStackConfig(name), this.now);
    this.stacksByName.set(name, s);
    return s;
  }
}

export class FakeCluster implements Cluster {
  readonly states = new Map<string, Partial<JobStatus>>();
  readonly logText = new Map<string, string>();
  /** Jobs whose logs cannot be read, with the reason. */
  readonly noLogs = new Map<string, string>();

  setJob(name: string, status: Partial<JobStatus>, logs: Record<string, string> = {}): void {
    this.states.set(name, status);
    for (const [container, text] of Object.entries(logs))
      this.logText.set(`${name}/${container}`, text);
  }

  async job(ref: JobRef): Promise<JobStatus> {
    const s = this.states.get(ref.name);
    if (!s) return { ...ref, state: "missing", containers: [] };
    return { ...ref, state: "succeeded", containers: [], ...s };
  }

  async follow(ref: JobRef, onLine: (container: string, line: string) => void): Promise<void> {
    if (this.noLogs.has(ref.name)) throw new Error(this.noLogs.get(ref.name));
    for (const [k, text] of this.logText) {
      if (!k.startsWith(`${ref.name}/`)) continue;
      for (const line of text.split("\n").filter(Boolean))
        onLine(k.slice(ref.name.length + 1), line);
    }
  }

  async logs(ref: JobRef, container: string): Promise<string> {
    if (this.noLogs.has(ref.name)) throw new Error(this.noLogs.get(ref.name));
    const text = this.logText.get(`${ref.name}/${container}`);
    if (text === undefined) throw new Error(`container ${container} not found`);
    return text;
  }
}

export interface TestIo extends Io {
  stdout: string[];
  stderr: string[];
  questions: string[];
  answers: string[];
  printed(): string;
}

export function testIo(
  opts: { interactive?: boolean; answers?: string[]; now?: () => Date } = {},
): TestIo {
  const io: TestIo = {
    stdout: [],
    stderr: [],
    questions: [],
    answers: [...(opts.answers ?? [])],
    interactive: opts.interactive ?? false,
    out: (t) => io.stdout.push(t),
    err: (t) => io.stderr.push(t),
    ask: async (q) => {
      io.questions.push(q);
      return io.answers.shift() ?? "";
    },
    now: opts.now ?? (() => NOW),
    printed: () => [...io.stdout, ...io.stderr].join("\n"),
  };
  return io;
}

export interface World {
  engine: FakeEngine;
  cluster: FakeCluster;
  home: string;
  deps(io: TestIo): Deps;
  journal(stack: string): Journal;
}

/** An engine, a cluster and a journal home shared by a sequence of commands. */
export function world(now: () => Date = () => NOW): World {
  const engine = new FakeEngine(now);
  const cluster = new FakeCluster();
  const home = testDir("pgr-runner-test-");
  return {
    engine,
    cluster,
    home,
    journal: (stack) => new Journal(stack, home),
    deps: (io) => ({
      io,
      engine: async () => engine,
      cluster: () => cluster,
      journal: (stack) => new Journal(stack, home),
      who: () => WHO,
      jobWait: { pollMs: 5, missingAfterUpMs: 0, timeoutMs: 5_000 },
    }),
  };
}
