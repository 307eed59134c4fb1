/**
 * The overlay's data Jobs, watched from the runner: which ones a step waits for, their state,
 * their logs followed while they run, and the validation report and promotion plan printed once
 * the validation Job ends. The cluster is behind an interface (kubernetes.ts implements it).
 */
import { JobRole, JOBS } from "../contract/runbook";
import { Io } from "./io";

export type { JobRole };

/** What each Job is for, from the name the composition gives its resource. */
const JOB_ROLES: Record<string, JobRole> = Object.fromEntries(
  Object.values(JOBS).map((j) => [j.resource, j.role]),
);

export const ROLE_TITLES = Object.fromEntries(
  Object.values(JOBS).map((j) => [j.role, j.title]),
) as Record<JobRole, string>;

export interface JobRef {
  namespace: string;
  name: string;
  role: JobRole;
}

/**
 * `blocked`: the Job exists but its pods cannot be created (a `FailedCreate` event, e.g. Pod
 * Security admission or a quota refusing them). The Job's controller keeps retrying, so it is
 * not finished, but nothing will run until the cause is fixed: the runner stops waiting for it.
 */
export type JobState = "missing" | "pending" | "running" | "succeeded" | "failed" | "blocked";

export interface ContainerOutcome {
  name: string;
  exitCode?: number;
  reason?: string;
}

export interface JobStatus extends JobRef {
  state: JobState;
  startedAt?: string;
  finishedAt?: string;
  containers: ContainerOutcome[];
  /** Why it failed (the Job's condition), or why it is blocked (its FailedCreate event). */
  message?: string;
}

export interface Cluster {
  job(ref: JobRef): Promise<JobStatus>;
  /**
   * Streams the Job's pod logs, every container, line by line, until they end. Rejects with the
   * reason when logs cannot be read (no pod yet, no kubelet, no access).
   */
  follow(
    ref: JobRef,
    onLine: (container: string, line: string) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** One container's whole log. */
  logs(ref: JobRef, container: string): Promise<string>;
}

export const finished = (s: JobState) => s === "succeeded" || s === "failed";

/** Nothing more to wait for: finished, missing for good, or unable to start a pod. */
const settled = (s: JobState) => finished(s) || s === "missing" || s === "blocked";

/** Job refs from resources of the stack (or steps of a plan) named as the composition names them. */
export function jobRefs(
  resources: { type: string; name: string; kubernetes?: { namespace?: string; name?: string } }[],
): JobRef[] {
  return resources
    .filter((r) => r.type === "kubernetes:batch/v1:Job" && JOB_ROLES[r.name])
    .filter((r) => r.kubernetes?.name && r.kubernetes.namespace)
    .map((r) => ({
      namespace: r.kubernetes!.namespace!,
      name: r.kubernetes!.name!,
      role: JOB_ROLES[r.name],
    }));
}

export interface WaitOptions {
  /** Follow these roles' logs live (the validation's two containers would interleave). */
  followRoles: JobRole[];
  pollMs?: number;
  /** Give up waiting (the Job keeps running; status shows it). */
  timeoutMs?: number;
  /** A Job not there after this long is reported missing. */
  missingAfterMs?: number;
  /** Or: a Job not there is missing for good once this says so. */
  missingIsFinal?: () => boolean;
  signal?: AbortSignal;
}

const duration = (from?: string, to?: string) => {
  if (!from || !to) return "";
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  return s >= 60 ? ` in ${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : ` in ${s}s`;
};

export function describeJob(s: JobStatus): string {
  const exits = s.containers
    .filter((c) => c.exitCode !== undefined || c.reason)
    .map((c) => `${c.name} ${c.exitCode !== undefined ? `exit ${c.exitCode}` : c.reason}`);
  const detail = exits.length ? ` (${exits.join(", ")})` : "";
  if (s.state === "blocked") {
    return (
      `Job ${s.name} [${ROLE_TITLES[s.role]}]: blocked, its pods cannot be created: ` +
      `${s.message ?? "FailedCreate"}. Nothing runs until that is fixed (the Job's controller ` +
      `keeps retrying); see: kubectl -n ${s.namespace} describe job/${s.name}`
    );
  }
  const why = s.state === "failed" && s.message ? `: ${s.message}` : "";
  return `Job ${s.name} [${ROLE_TITLES[s.role]}]: ${s.state}${duration(s.startedAt, s.finishedAt)}${detail}${why}`;
}

/** Waits until every Job has finished (or is missing, or time runs out); follows logs. */
export async function waitForJobs(
  cluster: Cluster,
  refs: JobRef[],
  io: Io,
  opts: WaitOptions,
): Promise<JobStatus[]> {
  const pollMs = opts.pollMs ?? 2000;
  const deadline = Date.now() + (opts.timeoutMs ?? 6 * 3600_000);
  const missingAfter = Date.now() + (opts.missingAfterMs ?? 60_000);
  const last = new Map<string, JobStatus>();
  const following = new Map<string, Promise<void>>();
  const stop = new AbortController();
  opts.signal?.addEventListener("abort", () => stop.abort());

  const follow = (ref: JobRef) => {
    if (following.has(ref.name) || !opts.followRoles.includes(ref.role)) return;
    following.set(
      ref.name,
      cluster
        .follow(ref, (container, line) => io.out(`[${ref.role}/${container}] ${line}`), stop.signal)
        .catch((e) => {
          io.err(
            `  (logs of Job ${ref.name} not available here: ${(e as Error).message}; ` +
              `read them with: kubectl -n ${ref.namespace} logs job/${ref.name} --all-containers --prefix)`,
          );
        }),
    );
  };

  try {
    for (;;) {
      for (const ref of refs) {
        const prev = last.get(ref.name);
        if (prev && settled(prev.state)) continue;
        let now: JobStatus;
        try {
          now = await cluster.job(ref);
        } catch (e) {
          io.err(`  could not read Job ${ref.name}: ${(e as Error).message}`);
          continue;
        }
        const missingForGood = opts.missingIsFinal?.() ?? Date.now() >= missingAfter;
        if (now.state === "missing" && !missingForGood) continue;
        if (!prev || prev.state !== now.state) io.err(`  ${describeJob(now)}`);
        if (now.state === "running" || finished(now.state)) follow(ref);
        last.set(ref.name, now);
      }
      const done = refs.every((r) => {
        const s = last.get(r.name)?.state;
        return s !== undefined && settled(s);
      });
      if (done || stop.signal.aborted) break;
      if (Date.now() > deadline) {
        io.err(`  stopped waiting; the Jobs go on (pg-recovery status shows them).`);
        break;
      }
      await sleep(pollMs, stop.signal);
    }
    // Logs of a finished pod end by themselves; give them a moment to drain.
    await Promise.race([Promise.all(following.values()), sleep(10_000)]);
  } finally {
    stop.abort();
  }
  return refs.map((r) => last.get(r.name) ?? { ...r, state: "missing", containers: [] });
}

/** The validation Job's two reports, each from its own container, as clean sections. */
export async function validationReports(
  cluster: Cluster,
  ref: JobRef,
): Promise<{ title: string; container: string; text?: string; unavailable?: string }[]> {
  const sections = [
    { title: "Validation report (verify: the PTR against live)", container: "verify" },
    {
      title: "Promotion plan (what each mode would write and lose)",
      container: "promotion-plan",
    },
  ];
  return Promise.all(
    sections.map(async (s) => {
      try {
        return { ...s, text: await cluster.logs(ref, s.container) };
      } catch (e) {
        return { ...s, unavailable: (e as Error).message };
      }
    }),
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
