/**
 * Azure Blob access for backups.
 *
 * Production's container has a locked immutability policy: a committed blob can never be
 * overwritten, deleted or have its metadata changed. So uploads stage blocks while the dump is
 * still running and commit the block list (one Put Block List, `If-None-Match: *`) only after the
 * caller confirms the dump finished cleanly. An interrupted backup therefore leaves only
 * uncommitted blocks, which the service discards on its own (after a week), never a blob.
 */
import type * as AzureBlob from "@azure/storage-blob";
import type {
  BlobClient,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  RestError,
  StoragePipelineOptions,
} from "@azure/storage-blob";
import { createHash, randomBytes } from "node:crypto";
import { DATA_TOOL_ENV, DEFAULT_CONTAINER } from "../../contract/data-tool";
import { ConfigError } from "../errors";

export interface RetryOptions {
  maxTries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
  tryTimeoutInMs?: number;
}

export interface StorageOptions {
  /** Container; default $BACKUP_CONTAINER, else "database-backup". */
  container?: string;
  /** Overrides $AZURE_STORAGE_CONNECTION_STRING. */
  connectionString?: string;
  /** Overrides $AZURE_STORAGE_ACCOUNT_URL (used with a SAS token). */
  accountUrl?: string;
  /** Overrides $AZURE_STORAGE_SAS_TOKEN. */
  sasToken?: string;
  retry?: RetryOptions;
  /** Block / download range size in bytes (default 8 MiB). */
  blockSize?: number;
  /** Parallel block uploads / range downloads (default 4). */
  concurrency?: number;
  /** Where retries are reported as they happen (progress: stderr in the CLI). */
  log?: (line: string) => void;
}

export interface Storage {
  container: ContainerClient;
  containerName: string;
  /** Where the backups live, with no secret in it. */
  where: string;
  /** Strings that must never be printed. */
  secrets: string[];
  blockSize: number;
  concurrency: number;
  /** The same container on a client that tries once, briefly (see probeStorage). */
  probe: ContainerClient;
}

const DEFAULT_BLOCK = 8 * 1024 * 1024;

let sdk: typeof AzureBlob | undefined;

/**
 * The Azure SDK, loaded on first use. Loading it takes ~0.25 s, most of the data tool's start-up,
 * and only backup, restore and list talk to storage: `--help`, promote and verify skip it.
 * One instance either way (Node's module cache), so `instanceof` holds across callers.
 */
function azureBlob(): typeof AzureBlob {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (above)
  sdk ??= require("@azure/storage-blob") as typeof AzureBlob;
  return sdk;
}

/** True when `e` is the SDK's error for an answer from the service (or a failed request). */
export function isRestError(e: unknown): e is RestError {
  return e instanceof azureBlob().RestError;
}

/**
 * Retries of the data transfers: a few, close together, so that storage going away mid-backup
 * fails in seconds rather than minutes (the SDK's defaults waited 4 s, 8 s, ... and took 17-19 s
 * to give up on a refused connection).
 */
const DEFAULT_RETRY: RetryOptions = { maxTries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 4000 };

/**
 * Before a command does anything, storage must answer: up to PROBE.attempts tries of
 * PROBE.tryMs each, PROBE.delaysMs apart, each failure shown as progress. Unreachable storage
 * (refused, unresolvable, or silent) so fails within STORAGE_UNREACHABLE_BOUND_S seconds.
 */
const PROBE = { attempts: 3, tryMs: 4000, delaysMs: [1000, 2000] };

/**
 * A block upload or range download that gets no answer for this long fails (the SDK's own
 * per-try timeout does not end a request to an endpoint that accepts and then stays silent).
 * Generous: a block is 8 MiB, and the slowest link still moves that in a minute.
 */
export const TRANSFER_TIMEOUT_MS = 120_000;

/** Aborted by `signal`, or after `ms`. */
const within = (signal: AbortSignal, ms: number): AbortSignal =>
  AbortSignal.any([signal, AbortSignal.timeout(ms)]);
export const STORAGE_UNREACHABLE_BOUND_S =
  (PROBE.attempts * PROBE.tryMs + PROBE.delaysMs.reduce((a, b) => a + b, 0)) / 1000;

export class StorageConfigError extends ConfigError {}

export function openStorage(
  opts: StorageOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Storage {
  const containerName = opts.container ?? env[DATA_TOOL_ENV.container] ?? DEFAULT_CONTAINER;
  const retry = { ...DEFAULT_RETRY, ...opts.retry };
  const { service, probe, secrets } = clientsFor(opts, env, {
    transfers: { retryOptions: retry },
    probe: { retryOptions: { maxTries: 1, tryTimeoutInMs: PROBE.tryMs } },
  });
  const container = service.getContainerClient(containerName);
  const where = container.url.split("?")[0];
  if (opts.log) reportRetries(service, retry, where, opts.log);
  return {
    container,
    containerName,
    where,
    secrets,
    blockSize: opts.blockSize ?? DEFAULT_BLOCK,
    concurrency: opts.concurrency ?? 4,
    probe: probe.getContainerClient(containerName),
  };
}

/** One service client for the transfers and one for the probe, and the secrets never to print. */
interface Clients {
  service: BlobServiceClient;
  probe: BlobServiceClient;
  secrets: string[];
}

type Pipelines = Record<"transfers" | "probe", StoragePipelineOptions>;

/** The clients for the credentials given: a connection string, else an account URL and a SAS. */
function clientsFor(opts: StorageOptions, env: NodeJS.ProcessEnv, pipelines: Pipelines): Clients {
  const connectionString = opts.connectionString ?? env[DATA_TOOL_ENV.storageConnectionString];
  const accountUrl = opts.accountUrl ?? env[DATA_TOOL_ENV.storageAccountUrl];
  const sas = (opts.sasToken ?? env[DATA_TOOL_ENV.storageSasToken])?.replace(/^\?/, "");
  if (connectionString) return byConnectionString(connectionString, pipelines);
  if (accountUrl && sas) return bySas(accountUrl, sas, pipelines);
  throw new StorageConfigError(
    "no storage credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL and AZURE_STORAGE_SAS_TOKEN",
  );
}

function byConnectionString(connectionString: string, pipelines: Pipelines): Clients {
  const secrets = [connectionString];
  for (const m of connectionString.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) {
    secrets.push(m[1]);
  }
  const { BlobServiceClient } = azureBlob();
  try {
    return {
      service: BlobServiceClient.fromConnectionString(connectionString, pipelines.transfers),
      probe: BlobServiceClient.fromConnectionString(connectionString, pipelines.probe),
      secrets,
    };
  } catch {
    throw new StorageConfigError(
      "AZURE_STORAGE_CONNECTION_STRING is not a valid storage connection string",
    );
  }
}

function bySas(accountUrl: string, sas: string, pipelines: Pipelines): Clients {
  const secrets = [sas];
  const sig = new URLSearchParams(sas).get("sig");
  if (sig) secrets.push(sig, encodeURIComponent(sig));
  const { AnonymousCredential, BlobServiceClient } = azureBlob();
  const url = `${accountUrl}${accountUrl.includes("?") ? "&" : "?"}${sas}`;
  return {
    service: new BlobServiceClient(url, new AnonymousCredential(), pipelines.transfers),
    probe: new BlobServiceClient(url, new AnonymousCredential(), pipelines.probe),
    secrets,
  };
}

/** What a failed attempt was, in a few words (no URL: it may carry a SAS token). */
function attemptProblem(e: unknown): string {
  const err = e as { code?: string; statusCode?: number; name?: string; message?: string };
  if (err?.statusCode) return `HTTP ${err.statusCode}${err.code ? ` ${err.code}` : ""}`;
  if (err?.name === "AbortError") return "no answer in time";
  return err?.code ?? err?.message?.split("\n")[0] ?? String(e);
}

/**
 * Shows each failed attempt of the data transfers as a progress line, so retries are never
 * silent. The SDK runs its retry loop inside its own pipeline; a policy added after that phase
 * sees every attempt. (The pipeline is internal to the SDK: if a future version moves it, the
 * retries still happen, only unreported; the tests notice.)
 */
function reportRetries(
  service: BlobServiceClient,
  retry: RetryOptions,
  where: string,
  log: (line: string) => void,
): void {
  type Next = (request: unknown) => Promise<{ status: number }>;
  const core = (
    service as unknown as {
      pipeline?: {
        _corePipeline?: {
          addPolicy(
            p: { name: string; sendRequest(r: unknown, next: Next): Promise<{ status: number }> },
            o: { afterPhase: "Retry" },
          ): void;
        };
      };
    }
  ).pipeline?._corePipeline;
  let last = 0;
  const report = (problem: string) => {
    const now = Date.now();
    if (now - last < 500) return; // parallel blocks failing together: one line
    last = now;
    log(
      `storage: an attempt at ${where} failed (${problem}); retrying up to ${retry.maxTries} attempts, ` +
        `${(retry.retryDelayInMs ?? 0) / 1000}-${(retry.maxRetryDelayInMs ?? 0) / 1000} s apart`,
    );
  };
  core?.addPolicy(
    {
      name: "pg-recovery-report-retries",
      async sendRequest(request, next) {
        try {
          const response = await next(request);
          if (response.status >= 500 || response.status === 408 || response.status === 429) {
            report(`HTTP ${response.status}`);
          }
          return response;
        } catch (e) {
          report(attemptProblem(e));
          throw e;
        }
      },
    },
    { afterPhase: "Retry" },
  );
}

/**
 * Fails fast, and visibly, when storage does not answer at all: any HTTP answer (even 403 or
 * 404) means it is reachable, and the command's own requests report what is wrong.
 */
export async function probeStorage(storage: Storage, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  let problem = "";
  for (let attempt = 1; attempt <= PROBE.attempts; attempt++) {
    try {
      await storage.probe.getProperties({ abortSignal: AbortSignal.timeout(PROBE.tryMs) });
      return;
    } catch (e) {
      if (isRestError(e) && e.statusCode !== undefined) return;
      problem = attemptProblem(e);
    }
    const delay = PROBE.delaysMs[attempt - 1];
    if (delay === undefined) break;
    log(
      `storage: ${storage.where} did not answer (attempt ${attempt} of ${PROBE.attempts}: ${problem}); ` +
        `trying again in ${delay / 1000} s`,
    );
    await new Promise((r) => setTimeout(r, delay));
  }
  throw new Error(
    `cannot reach blob storage at ${storage.where}: ${problem}; gave up after ${PROBE.attempts} attempts in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s (the limit is ${STORAGE_UNREACHABLE_BOUND_S} s). ` +
      `Check the account URL or connection string, the network, and that the storage account is up`,
  );
}

/** True when the error is a 404 from the service. */
export function isNotFound(e: unknown): boolean {
  return isRestError(e) && e.statusCode === 404;
}

/** Turns SDK errors into one line an operator can act on. */
export function describeStorageError(e: unknown, storage: Storage): string {
  if (isRestError(e)) {
    const code = e.code ?? (e.details as { errorCode?: string } | undefined)?.errorCode;
    if (code === "ContainerNotFound") {
      return `container "${storage.containerName}" does not exist at ${storage.where}: create it or pass --container`;
    }
    if (e.statusCode === 403) {
      return `access to ${storage.where} was denied (${code ?? 403}): check the SAS token / key and its permissions and expiry`;
    }
    if (e.statusCode === undefined) {
      return `cannot reach blob storage at ${storage.where}: ${e.message}`;
    }
    return `blob storage error ${e.statusCode} ${code ?? ""} at ${storage.where}: ${e.message.split("\n")[0]}`;
  }
  return (e as Error)?.message ?? String(e);
}

export interface BlobInfo {
  name: string;
  size: number;
  createdOn?: Date;
  lastModified?: Date;
  /** False for a blob that has only uncommitted blocks (an upload that never finished). */
  committed: boolean;
}

export async function listBlobs(storage: Storage): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const b of storage.container.listBlobsFlat({ includeUncommitedBlobs: true })) {
    out.push({
      name: b.name,
      size: b.properties.contentLength ?? 0,
      createdOn: b.properties.createdOn,
      lastModified: b.properties.lastModified,
      // A blob with only uncommitted blocks is listed with length 0; nothing we commit is empty.
      committed: (b.properties.contentLength ?? 0) > 0,
    });
  }
  return out;
}

export interface UploadResult {
  size: number;
  sha256: string;
  blocks: number;
}

export interface UploadOptions {
  blockSize: number;
  concurrency: number;
  contentType: string;
  metadata?: Record<string, string>;
  onBytes?: (n: number) => void;
  /** Awaited after the last block is staged and before the commit; throw to abandon. */
  beforeCommit: () => Promise<void>;
}

/**
 * Streams `source` into a block blob: hashes and counts bytes as they pass, stages blocks in
 * parallel (each with a transactional MD5 the service checks), and commits only at the end with
 * `If-None-Match: *` so an existing blob is never replaced. Then reads back the committed block
 * list and size to confirm the service holds exactly what was sent.
 */
export async function uploadCommitLast(
  blob: BlockBlobClient,
  source: AsyncIterable<Buffer>,
  opts: UploadOptions,
): Promise<UploadResult> {
  const staged = await stageSource(blob, source, opts);
  await opts.beforeCommit();
  await commitNew(blob, staged.ids, opts);
  await confirmCommitted(blob, staged);
  return { size: staged.size, sha256: staged.sha256, blocks: staged.ids.length };
}

/** What an upload staged: its block ids and sizes in order, and the whole's size and hash. */
interface Staged {
  ids: string[];
  sizes: number[];
  size: number;
  sha256: string;
}

/**
 * The blocks of one upload, staged in parallel. The first failure aborts the stagings in flight
 * and is kept, to be thrown once they have settled.
 */
class BlockStager {
  // A fresh random run id keeps our block ids apart from blocks an interrupted attempt left
  // behind; fixed-width ids are required (all ids of a blob must have the same length).
  private readonly run = randomBytes(6).toString("hex");
  readonly ids: string[] = [];
  readonly sizes: number[] = [];
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  /** The first failure, of a block or of the source (see abandon); unset while all is well. */
  failure: unknown;

  constructor(
    private readonly blob: BlockBlobClient,
    private readonly onBytes?: (n: number) => void,
  ) {}

  /** Starts staging `buf` as the next block (a failure is kept, never thrown here). */
  stage(buf: Buffer): void {
    const seq = String(this.ids.length).padStart(8, "0");
    const id = Buffer.from(`${this.run}-${seq}`).toString("base64");
    this.ids.push(id);
    this.sizes.push(buf.length);
    const p = this.blob
      .stageBlock(id, buf, buf.length, {
        transactionalContentMD5: createHash("md5").update(buf).digest(),
        abortSignal: within(this.abort.signal, TRANSFER_TIMEOUT_MS),
      })
      .then(() => this.onBytes?.(buf.length))
      .catch((e) => {
        this.failure ??= e;
        this.abort.abort();
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Waits until fewer than `concurrency` blocks are in flight, or one has failed. */
  async room(concurrency: number): Promise<void> {
    while (this.inflight.size >= concurrency && !this.failure) await Promise.race(this.inflight);
  }

  /** Waits for every block in flight. */
  async settle(): Promise<void> {
    await Promise.all(this.inflight);
  }

  /** Keeps `e` (unless a block failed first), aborts the blocks in flight and waits for them. */
  async abandon(e: unknown): Promise<void> {
    this.failure ??= e;
    this.abort.abort();
    await Promise.allSettled(this.inflight);
  }
}

/**
 * Reads `source` into blocks of the target size and stages them, at most `concurrency` at a
 * time; throws the first failure (of the source or of a block) once nothing is in flight.
 */
async function stageSource(
  blob: BlockBlobClient,
  source: AsyncIterable<Buffer>,
  opts: UploadOptions,
): Promise<Staged> {
  const sha256 = createHash("sha256");
  const blocks = new BlockStager(blob, opts.onBytes);
  let size = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  // Grow blocks for very large dumps so we stay under the 50,000-block limit.
  const blockTarget = () => opts.blockSize * 2 ** Math.floor(blocks.ids.length / 10_000);
  try {
    for await (const chunk of source) {
      // Checked per chunk, so a failed block stops the reading at the next one.
      if (blocks.failure) break;
      sha256.update(chunk);
      size += chunk.length;
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen >= blockTarget()) {
        blocks.stage(Buffer.concat(pending, pendingLen));
        pending = [];
        pendingLen = 0;
        await blocks.room(opts.concurrency);
      }
    }
    if (!blocks.failure && pendingLen > 0) blocks.stage(Buffer.concat(pending, pendingLen));
    await blocks.settle();
  } catch (e) {
    await blocks.abandon(e);
  }
  if (blocks.failure) throw blocks.failure;
  return { ids: blocks.ids, sizes: blocks.sizes, size, sha256: sha256.digest("hex") };
}

/** Commits the staged blocks as a new blob, never replacing one (`If-None-Match: *`). */
async function commitNew(blob: BlockBlobClient, ids: string[], opts: UploadOptions): Promise<void> {
  // No whole-blob Content-MD5: the service never checks it for block lists, each block's MD5
  // was checked on staging, and the manifest's sha256 covers the whole.
  await blob.commitBlockList(ids, {
    conditions: { ifNoneMatch: "*" },
    blobHTTPHeaders: { blobContentType: opts.contentType },
    metadata: opts.metadata,
  });
}

/** Reads back the committed block list and size: the service must hold exactly what was sent. */
async function confirmCommitted(blob: BlockBlobClient, staged: Staged): Promise<void> {
  const { ids, sizes, size } = staged;
  const list = await blob.getBlockList("committed");
  const committed = list.committedBlocks ?? [];
  const mismatch =
    committed.length !== ids.length ||
    committed.some((b, i) => b.name !== ids[i] || b.size !== sizes[i]);
  const props = await blob.getProperties();
  if (mismatch || props.contentLength !== size) {
    throw new Error(
      `uploaded blob ${blob.name} does not match what was sent (${props.contentLength} bytes in ${committed.length} blocks, expected ${size} bytes in ${ids.length})`,
    );
  }
}

/** Uploads a small blob (the manifest) with `If-None-Match: *`. */
export async function uploadSmallNew(
  blob: BlockBlobClient,
  body: string,
  contentType: string,
): Promise<void> {
  const buf = Buffer.from(body, "utf8");
  await blob.upload(buf, buf.length, {
    conditions: { ifNoneMatch: "*" },
    blobHTTPHeaders: { blobContentType: contentType },
    transactionalContentMD5: createHash("md5").update(buf).digest(),
  });
}

/**
 * Downloads a blob in parallel ranges and yields them in order, so the caller can hash and
 * write sequentially while `concurrency` ranges are in flight. The ETag pins the version.
 */
export async function* downloadOrdered(
  blob: BlobClient,
  opts: { size: number; etag?: string; chunkSize: number; concurrency: number },
): AsyncGenerator<Buffer> {
  const { size, chunkSize, concurrency } = opts;
  const abort = new AbortController();
  const fetchRange = async (offset: number): Promise<Buffer> => {
    const count = Math.min(chunkSize, size - offset);
    const res = await blob.download(offset, count, {
      conditions: opts.etag ? { ifMatch: opts.etag } : undefined,
      maxRetryRequests: 5,
      abortSignal: within(abort.signal, TRANSFER_TIMEOUT_MS),
    });
    const body = res.readableStreamBody;
    if (!body) throw new Error(`no body downloading ${blob.name}`);
    const parts: Buffer[] = [];
    for await (const p of body) parts.push(p as Buffer);
    const buf = Buffer.concat(parts);
    if (buf.length !== count) {
      throw new Error(`short read of ${blob.name} at ${offset}: ${buf.length} of ${count} bytes`);
    }
    return buf;
  };
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  const fill = () => {
    while (queue.length < concurrency && next < size) {
      const p = fetchRange(next);
      p.catch(() => undefined); // surfaced when awaited in order below
      queue.push(p);
      next += chunkSize;
    }
  };
  fill();
  try {
    while (queue.length > 0) {
      const buf = await queue.shift()!;
      fill();
      yield buf;
    }
  } finally {
    // The consumer stopped early (an error): do not leave range requests running.
    abort.abort();
  }
}
