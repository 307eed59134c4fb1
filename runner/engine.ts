/**
 * What the runner needs from Pulumi, as an interface: the Automation API implements it
 * (`automation.ts`); the unit tests drive the runner's flows through an in-memory stand-in, so
 * refusals, idempotency and resumption are tested without a CLI.
 */

/** A config value as the CLI reports it (`pulumi config --json`). */
export interface ConfigValue {
  value: string;
  secret: boolean;
}

/** `ns:key` -> value. */
export type ConfigMap = Record<string, ConfigValue>;

/** One resource step of a preview or an update, as the engine announces it. */
export interface PlanStep {
  /** create, update, replace, delete, same, read, ... */
  op: string;
  urn: string;
  type: string;
  /** The resource's logical name (the URN's last part). */
  name: string;
  /** Inputs after the step (absent for deletes). */
  inputs?: Record<string, unknown>;
  /** Inputs before the step (absent for creates). */
  oldInputs?: Record<string, unknown>;
  /** False for component resources (groupings with no object of their own). */
  custom?: boolean;
  /** Kept when deleted (`retainOnDelete`): the PTR server, a rebuilt server. */
  retain?: boolean;
}

export interface ChangePlan {
  steps: PlanStep[];
  /** Count per op, as the engine's summary reports it. */
  counts: Record<string, number>;
}

/** Ops that change nothing: unchanged resources, and reads of live objects coming and going. */
const NO_CHANGE = ["same", "read", "refresh", "discard", "read-replacement", "read-discard"];

export const isChange = (op: string) => !NO_CHANGE.includes(op);

/** Steps that change something. */
export function changesOf(plan: ChangePlan): PlanStep[] {
  return plan.steps.filter((s) => isChange(s.op));
}

export interface OutputValue {
  value: unknown;
  secret: boolean;
}
export type OutputMap = Record<string, OutputValue>;

export interface UpdateOutcome {
  outputs: OutputMap;
  counts: Record<string, number>;
  startedAt: string;
  endedAt: string;
}

/** An entry of the stack's update history, newest first, as the backend keeps it. */
export interface HistoryEntry {
  kind: string;
  message: string;
  startTime: string;
  endTime?: string;
  result: string;
  environment: Record<string, string>;
  config: ConfigMap;
  counts?: Record<string, number>;
}

/** A resource in the stack's state (names only; the runner never reads secret state). */
export interface DeployedResource {
  type: string;
  urn: string;
  name: string;
  /** Kubernetes objects: namespace/name from the resource's outputs. */
  kubernetes?: { namespace?: string; name?: string };
  /** The resource's inputs, when the state holds them in clear (Kubernetes Jobs, patches). */
  inputs?: Record<string, unknown>;
}

/**
 * What the engine reports while it works, as data: the runner words it for the operator (the
 * engine adapter knows no presentation).
 */
export type ProgressEvent =
  | { kind: "step"; phase: "doing" | "done" | "failed"; step: PlanStep; seconds?: number }
  | { kind: "warning"; text: string };
export type Progress = (event: ProgressEvent) => void;

/** A resource operation an interrupted update left in the state. */
export interface PendingOperation {
  urn: string;
  type: string;
  /** creating, updating, deleting, reading. */
  op: string;
  inputs?: Record<string, unknown>;
}

export interface StackHandle {
  readonly name: string;
  config(): Promise<ConfigMap>;
  setConfig(values: Record<string, ConfigValue>): Promise<void>;
  removeConfig(keys: string[]): Promise<void>;
  preview(progress: Progress): Promise<ChangePlan>;
  up(message: string, progress: Progress): Promise<UpdateOutcome>;
  /** `destroy --preview-only --run-program`. */
  previewDestroy(progress: Progress): Promise<ChangePlan>;
  /** `destroy --run-program`: delete hooks (the replica restore) live in the program. */
  destroy(message: string, progress: Progress): Promise<UpdateOutcome>;
  outputs(): Promise<OutputMap>;
  resources(): Promise<DeployedResource[]>;
  history(): Promise<HistoryEntry[]>;
  /** Operations an interrupted update left pending in the state. */
  pendingOperations(): Promise<PendingOperation[]>;
  /**
   * `pulumi refresh`, importing pending creates by their ids (what the cloud has is what the
   * state gets); clears the pending operations.
   */
  repairPending(imports: [urn: string, id: string][]): Promise<void>;
  /** `pulumi cancel`: removes the lock of an update whose process is gone. */
  cancel(): Promise<void>;
}

export interface Engine {
  /** The backend the stacks live in, for messages (`file://...`, `https://api.pulumi.com`, ...). */
  describe(): string;
  /** The state directory of a self-managed `file://` backend; undefined for any other. */
  stateDirectory(): string | undefined;
  /** Stacks the backend knows for this project. */
  stacks(): Promise<string[]>;
  /** Stack files (`Pulumi.<stack>.yaml`) in the project directory. */
  stackFiles(): string[];
  /** Selects a stack; with `create`, creates it first when the backend has none. */
  open(stack: string, opts: { create: boolean }): Promise<StackHandle | undefined>;
}

/**
 * A failed engine operation, with the operator-facing lines (the program's errors, the CLI's
 * `error:` lines) apart from the full output.
 */
export class EngineError extends Error {
  constructor(
    readonly operation: string,
    readonly problems: string[],
    readonly output: string,
  ) {
    super(`${operation} failed:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "EngineError";
  }
}
