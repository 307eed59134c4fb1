/**
 * Azure Blob access for backups.
 *
 * Production's container has a locked immutability policy: a committed blob can never be
 * overwritten, deleted or have its metadata changed. So uploads stage blocks while the dump is
 * still running and commit the block list (one Put Block List, `If-None-Match: *`) only after the
 * caller confirms the dump finished cleanly. An interrupted backup therefore leaves only
 * uncommitted blocks, which the service discards on its own (after a week), never a blob.
 */
import {
  AnonymousCredential,
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
}

const DEFAULT_BLOCK = 8 * 1024 * 1024;

export class StorageConfigError extends ConfigError {}

export function openStorage(
  opts: StorageOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Storage {
  const containerName = opts.container ?? env[DATA_TOOL_ENV.container] ?? DEFAULT_CONTAINER;
  const pipeline: StoragePipelineOptions = { retryOptions: { ...opts.retry } };
  const connectionString = opts.connectionString ?? env[DATA_TOOL_ENV.storageConnectionString];
  const accountUrl = opts.accountUrl ?? env[DATA_TOOL_ENV.storageAccountUrl];
  const sas = (opts.sasToken ?? env[DATA_TOOL_ENV.storageSasToken])?.replace(/^\?/, "");
  let service: BlobServiceClient;
  const secrets: string[] = [];
  if (connectionString) {
    secrets.push(connectionString);
    for (const m of connectionString.matchAll(/(?:AccountKey|SharedAccessSignature)=([^;]+)/gi)) {
      secrets.push(m[1]);
    }
    try {
      service = BlobServiceClient.fromConnectionString(connectionString, pipeline);
    } catch {
      throw new StorageConfigError(
        "AZURE_STORAGE_CONNECTION_STRING is not a valid storage connection string",
      );
    }
  } else if (accountUrl && sas) {
    secrets.push(sas);
    const sig = new URLSearchParams(sas).get("sig");
    if (sig) secrets.push(sig, encodeURIComponent(sig));
    const sep = accountUrl.includes("?") ? "&" : "?";
    service = new BlobServiceClient(
      `${accountUrl}${sep}${sas}`,
      new AnonymousCredential(),
      pipeline,
    );
  } else {
    throw new StorageConfigError(
      "no storage credentials: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL and AZURE_STORAGE_SAS_TOKEN",
    );
  }
  const container = service.getContainerClient(containerName);
  return {
    container,
    containerName,
    where: container.url.split("?")[0],
    secrets,
    blockSize: opts.blockSize ?? DEFAULT_BLOCK,
    concurrency: opts.concurrency ?? 4,
  };
}

/** True when the error is a 404 from the service. */
export function isNotFound(e: unknown): boolean {
  return e instanceof RestError && e.statusCode === 404;
}

/** Turns SDK errors into one line an operator can act on. */
export function describeStorageError(e: unknown, storage: Storage): string {
  if (e instanceof RestError) {
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
  const sha256 = createHash("sha256");
  // A fresh random run id keeps our block ids apart from blocks an interrupted attempt left
  // behind; fixed-width ids are required (all ids of a blob must have the same length).
  const run = randomBytes(6).toString("hex");
  const ids: string[] = [];
  const sizes: number[] = [];
  const abort = new AbortController();
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let size = 0;

  const stage = (buf: Buffer) => {
    const id = Buffer.from(`${run}-${String(ids.length).padStart(8, "0")}`).toString("base64");
    ids.push(id);
    sizes.push(buf.length);
    const p = blob
      .stageBlock(id, buf, buf.length, {
        transactionalContentMD5: createHash("md5").update(buf).digest(),
        abortSignal: abort.signal,
      })
      .then(() => opts.onBytes?.(buf.length))
      .catch((e) => {
        failure ??= e;
        abort.abort();
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  let pending: Buffer[] = [];
  let pendingLen = 0;
  // Grow blocks for very large dumps so we stay under the 50,000-block limit.
  const blockTarget = () => opts.blockSize * 2 ** Math.floor(ids.length / 10_000);
  try {
    for await (const chunk of source) {
      if (failure) break;
      sha256.update(chunk);
      size += chunk.length;
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen >= blockTarget()) {
        stage(Buffer.concat(pending, pendingLen));
        pending = [];
        pendingLen = 0;
        while (inflight.size >= opts.concurrency && !failure) await Promise.race(inflight);
      }
    }
    if (!failure && pendingLen > 0) stage(Buffer.concat(pending, pendingLen));
    await Promise.all(inflight);
  } catch (e) {
    failure ??= e;
    abort.abort();
    await Promise.allSettled(inflight);
  }
  if (failure) throw failure;
  await opts.beforeCommit();

  // No whole-blob Content-MD5: the service never checks it for block lists, each block's MD5
  // was checked on staging, and the manifest's sha256 covers the whole.
  await blob.commitBlockList(ids, {
    conditions: { ifNoneMatch: "*" },
    blobHTTPHeaders: { blobContentType: opts.contentType },
    metadata: opts.metadata,
  });

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
  return { size, sha256: sha256.digest("hex"), blocks: ids.length };
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
      abortSignal: abort.signal,
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
