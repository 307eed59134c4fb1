/**
 * The `Cluster` on @kubernetes/client-node: Job state, pod logs followed as they are written.
 * Kubeconfig as kubectl finds it, pinned to the stack's context (`environment.kubernetes.context`).
 */
import * as kube from "@kubernetes/client-node";
import { PassThrough } from "node:stream";
import { Cluster, ContainerOutcome, JobRef, JobState, JobStatus } from "./jobs";

export function kubernetesCluster(context?: string): Cluster {
  const kc = new kube.KubeConfig();
  kc.loadFromDefault();
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new Error(
        `kubeconfig has no context "${context}" (the stack's environment.kubernetes.context); ` +
          `get it with az aks get-credentials, or set KUBECONFIG.`,
      );
    }
    kc.setCurrentContext(context);
  }
  return new KubernetesCluster(kc);
}

const iso = (d: Date | string | undefined) => (d ? new Date(d).toISOString() : undefined);

class KubernetesCluster implements Cluster {
  private readonly batch: kube.BatchV1Api;
  private readonly core: kube.CoreV1Api;

  constructor(private readonly kc: kube.KubeConfig) {
    this.batch = kc.makeApiClient(kube.BatchV1Api);
    this.core = kc.makeApiClient(kube.CoreV1Api);
  }

  private async pods(ref: JobRef): Promise<kube.V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: ref.namespace,
      labelSelector: `job-name=${ref.name}`,
    });
    // Newest first: with backoffLimit 0 there is one, but a recreated Job may leave another.
    return [...list.items].sort(
      (a, b) =>
        Date.parse(String(b.metadata?.creationTimestamp ?? 0)) -
        Date.parse(String(a.metadata?.creationTimestamp ?? 0)),
    );
  }

  async job(ref: JobRef): Promise<JobStatus> {
    let job: kube.V1Job;
    try {
      job = await this.batch.readNamespacedJob({ name: ref.name, namespace: ref.namespace });
    } catch (e) {
      if ((e as { code?: number }).code === 404)
        return { ...ref, state: "missing", containers: [] };
      throw e;
    }
    const st = job.status ?? {};
    const conditions = st.conditions ?? [];
    const failedCondition = conditions.find((c) => c.type === "Failed" && c.status === "True");
    const complete = conditions.find((c) => c.type === "Complete" && c.status === "True");
    let state: JobState = "pending";
    if (complete || (st.succeeded ?? 0) > 0) state = "succeeded";
    else if (failedCondition || (st.failed ?? 0) > 0) state = "failed";
    else if ((st.active ?? 0) > 0) state = "running";
    const pod = (await this.pods(ref))[0];
    // No pod and not started: ask whether the controller was refused creating one.
    if (state === "pending" && !pod) {
      const refusal = await this.failedCreate(ref, job.metadata?.uid);
      if (refusal) return { ...ref, state: "blocked", containers: [], message: refusal };
    }
    const statuses = [
      ...(pod?.status?.initContainerStatuses ?? []),
      ...(pod?.status?.containerStatuses ?? []),
    ];
    const containers: ContainerOutcome[] = statuses.map((c) => ({
      name: c.name,
      exitCode: c.state?.terminated?.exitCode,
      reason: c.state?.terminated ? undefined : c.state?.waiting?.reason,
    }));
    return {
      ...ref,
      state,
      startedAt: iso(st.startTime),
      finishedAt: iso(
        st.completionTime ?? failedCondition?.lastTransitionTime ?? complete?.lastTransitionTime,
      ),
      containers,
      message: failedCondition
        ? `${failedCondition.reason}: ${failedCondition.message}`
        : undefined,
    };
  }

  /** The newest FailedCreate event of this Job (this uid, not a deleted namesake), as text. */
  private async failedCreate(ref: JobRef, uid: string | undefined): Promise<string | undefined> {
    const list = await this.core.listNamespacedEvent({
      namespace: ref.namespace,
      fieldSelector: `involvedObject.kind=Job,involvedObject.name=${ref.name},reason=FailedCreate`,
    });
    return failedCreateMessage(list.items, uid);
  }

  async follow(
    ref: JobRef,
    onLine: (container: string, line: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const pod = (await this.pods(ref))[0];
    if (!pod?.metadata?.name) throw new Error("no pod yet");
    const names = [
      ...(pod.spec?.initContainers ?? []).map((c) => c.name),
      ...(pod.spec?.containers ?? []).map((c) => c.name),
    ];
    const log = new kube.Log(this.kc);
    // Init containers run one after another: follow them in order, then the rest side by side.
    const init = new Set((pod.spec?.initContainers ?? []).map((c) => c.name));
    for (const name of names.filter((n) => init.has(n))) {
      await this.followOne(log, pod.metadata.name, ref, name, onLine, signal);
    }
    await Promise.all(
      names
        .filter((n) => !init.has(n))
        .map((n) => this.followOne(log, pod.metadata!.name!, ref, n, onLine, signal)),
    );
  }

  private async followOne(
    log: kube.Log,
    pod: string,
    ref: JobRef,
    container: string,
    onLine: (container: string, line: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const stream = new PassThrough();
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) onLine(container, line);
    });
    const ended = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      signal.addEventListener("abort", () => resolve());
    });
    let controller: AbortController;
    try {
      controller = await log.log(ref.namespace, pod, container, stream, { follow: true });
    } catch (e) {
      throw new Error(kubeErrorText(e));
    }
    signal.addEventListener("abort", () => controller.abort());
    await ended;
    if (buffered) onLine(container, buffered);
  }

  async logs(ref: JobRef, container: string): Promise<string> {
    const pod = (await this.pods(ref))[0];
    if (!pod?.metadata?.name) throw new Error(`no pod of Job ${ref.name}`);
    try {
      return await this.core.readNamespacedPodLog({
        name: pod.metadata.name,
        namespace: ref.namespace,
        container,
      });
    } catch (e) {
      throw new Error(kubeErrorText(e));
    }
  }
}

/**
 * The newest `FailedCreate` event of the Job with `uid` among `events`, as "FailedCreate: <the
 * controller's message>" (e.g. `pods "x" is forbidden: violates PodSecurity "restricted:latest":
 * seccompProfile ...`), or undefined when there is none.
 */
export function failedCreateMessage(
  events: kube.CoreV1Event[],
  uid: string | undefined,
): string | undefined {
  const when = (e: kube.CoreV1Event) =>
    Date.parse(String(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0)) || 0;
  const newest = events
    .filter((e) => e.reason === "FailedCreate" && e.involvedObject?.kind === "Job")
    .filter(
      (e) =>
        uid === undefined || e.involvedObject?.uid === undefined || e.involvedObject.uid === uid,
    )
    .sort((a, b) => when(b) - when(a))[0];
  if (!newest) return undefined;
  const times = (newest.count ?? 1) > 1 ? ` (${newest.count} times)` : "";
  return `FailedCreate${times}: ${newest.message ?? "no message"}`;
}

/** One line for a client-node error: the API server's Status message, else the HTTP code. */
export function kubeErrorText(e: unknown): string {
  const err = e as { code?: number; body?: unknown; message?: string };
  let body = err.body;
  if (typeof err.body === "string") {
    const text = err.body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.split("\n")[0];
    }
  }
  const message = (body as { message?: string } | undefined)?.message;
  if (message) return `${message} (HTTP ${err.code ?? "?"})`;
  if (err.code) return `the API server answered HTTP ${err.code}`;
  return String(err.message ?? e).split("\n")[0];
}
