/**
 * Getting a backup's blob onto local disk, checked on the way: size and sha256 against the
 * manifest (our dumps; zstd-wrapped ones are unpacked while downloading), or gzip integrity and
 * pg_dump's completion trailer (legacy `.sql.gz`). Nothing here touches a database.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { BackupEntry } from "../storage/catalog";
import { BackupCorruptError } from "../errors";
import { formatBytes, LogFn, Progress } from "../progress";
import { PgToolError, RunningTool, startTool } from "../postgres/pgtools";
import { describeStorageError, downloadOrdered, Storage } from "../storage/blobs";

/**
 * Downloads the backup's blob to `file`, checking it on the way: size and sha256 against the
 * manifest, or gzip integrity plus the plain-dump trailer for legacy `.sql.gz` files.
 */
export async function fetchVerified(
  storage: Storage,
  entry: BackupEntry,
  file: string,
  env: NodeJS.ProcessEnv,
  log: LogFn,
): Promise<void> {
  const blob = storage.container.getBlobClient(entry.blob);
  let size: number;
  let etag: string | undefined;
  try {
    const props = await blob.getProperties();
    size = props.contentLength ?? 0;
    etag = props.etag;
  } catch (e) {
    throw new Error(describeStorageError(e, storage));
  }
  const m = entry.manifest;
  if (m && size !== m.dump.size) {
    throw new BackupCorruptError(
      `backup ${entry.name} is corrupt: ${entry.blob} is ${size} bytes, the manifest says ${m.dump.size}; nothing was changed`,
    );
  }
  const dir = path.dirname(file);
  const wrapped = m?.dump.wrapper === "zstd";
  // A zstd-wrapped archive unpacks to several times its size; running out of space later is
  // caught (ENOSPC from zstd) and reported the same way, before the target is touched.
  const needed = size;
  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < needed * 1.05 + 64 * 1024 * 1024) {
    throw new Error(
      `not enough space in ${dir} for ${formatBytes(needed)} (${formatBytes(free.bavail * free.bsize)} free): set PG_RECOVERY_TMPDIR or --temp-dir to a larger volume`,
    );
  }
  const progress = new Progress(`restore ${entry.name}`, "downloaded", log, size);
  const sha = createHash("sha256");
  const plain = entry.format === "plain-gzip" ? new PlainDumpCheck() : undefined;
  const sink = wrapped ? await ZstdFileSink.open(file, env) : await FileSink.open(file);
  try {
    for await (const chunk of downloadOrdered(blob, {
      size,
      etag,
      chunkSize: storage.blockSize,
      concurrency: storage.concurrency,
    })) {
      sha.update(chunk);
      await sink.write(chunk);
      if (plain) await plain.write(chunk);
      progress.addBytes(chunk.length);
    }
    await sink.close();
  } catch (e) {
    await sink.abort();
    if (e instanceof BackupCorruptError) throw e;
    if (plain && plain.failed) throw plain.corrupt(entry.name);
    if (e instanceof PgToolError && /no space left/i.test(e.message)) {
      throw new Error(
        `ran out of disk space in ${dir} unpacking ${entry.blob}: set PG_RECOVERY_TMPDIR or --temp-dir to a larger volume; nothing was changed`,
      );
    }
    if (e instanceof PgToolError) {
      // zstd rejects a damaged frame before the hash could: same verdict, corrupt.
      throw new BackupCorruptError(
        `backup ${entry.name} is corrupt: ${e.message}; nothing was changed`,
      );
    }
    throw new Error(`downloading ${entry.blob} failed: ${describeStorageError(e, storage)}`);
  }
  progress.finish();
  const digest = sha.digest("hex");
  if (m && digest !== m.dump.sha256) {
    throw new BackupCorruptError(
      `backup ${entry.name} is corrupt: sha256 of ${entry.blob} is ${digest}, the manifest says ${m.dump.sha256}; nothing was changed`,
    );
  }
  if (plain) await plain.finish(entry.name);
  log(`restore: ${entry.blob} verified (${formatBytes(size)}, sha256 ${digest.slice(0, 16)}...)`);
}

/** Where downloaded bytes go: the temp file, directly or through `zstd -d`. */
interface Sink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

class FileSink implements Sink {
  private constructor(private readonly fh: fs.promises.FileHandle) {}
  static async open(file: string): Promise<FileSink> {
    return new FileSink(await fs.promises.open(file, "w"));
  }
  async write(chunk: Buffer): Promise<void> {
    await this.fh.write(chunk);
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/** Unwraps a zstd-wrapped archive while it downloads, so the file pg_restore reads is plain. */
class ZstdFileSink implements Sink {
  private constructor(
    private readonly tool: RunningTool,
    private readonly fd: number,
  ) {
    tool.child.stdin!.on("error", () => undefined); // reported through tool.done
  }
  static async open(file: string, env: NodeJS.ProcessEnv): Promise<ZstdFileSink> {
    const fd = fs.openSync(file, "w");
    const tool = startTool("zstd", ["-d", "-q", "-c"], { env, stdio: ["pipe", fd, "pipe"] });
    return new ZstdFileSink(tool, fd);
  }
  async write(chunk: Buffer): Promise<void> {
    const stdin = this.tool.child.stdin!;
    try {
      if (!stdin.write(chunk)) await Promise.race([once(stdin, "drain"), this.tool.done]);
    } catch (e) {
      // A broken pipe means zstd stopped: its own exit (and stderr) is the real reason.
      await this.tool.done;
      throw e;
    }
  }
  async close(): Promise<void> {
    this.tool.child.stdin!.end();
    try {
      await this.tool.done;
    } finally {
      fs.closeSync(this.fd);
    }
  }
  async abort(): Promise<void> {
    if (this.tool.child.exitCode === null) this.tool.child.kill("SIGTERM");
    await this.tool.done.catch(() => undefined);
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed by close()
    }
  }
}

/** Streams a `.sql.gz` through gunzip, remembering the tail to check pg_dump's trailer. */
class PlainDumpCheck {
  private readonly gunzip = zlib.createGunzip();
  private tail = Buffer.alloc(0);
  private readonly ended: Promise<void>;
  failed?: Error;

  constructor() {
    this.gunzip.on("data", (d: Buffer) => {
      this.tail = Buffer.concat([this.tail, d]).subarray(-4096);
    });
    this.ended = new Promise((resolve, reject) => {
      this.gunzip.once("end", resolve);
      this.gunzip.once("error", (e) => {
        this.failed = e;
        reject(e);
      });
    });
    this.ended.catch(() => undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.gunzip.write(chunk)) {
      await Promise.race([once(this.gunzip, "drain"), this.ended]);
    }
  }

  corrupt(name: string): BackupCorruptError {
    return new BackupCorruptError(
      `backup ${name} is corrupt: not a complete gzip file (${this.failed?.message}); nothing was changed`,
    );
  }

  async finish(name: string): Promise<void> {
    this.gunzip.end();
    try {
      await this.ended;
    } catch {
      throw this.corrupt(name);
    }
    if (!hasDumpTrailer(this.tail.toString("utf8"))) {
      throw new BackupCorruptError(
        `backup ${name} is incomplete: it does not end with pg_dump's "-- PostgreSQL database dump complete" line (truncated dump?); nothing was changed`,
      );
    }
  }
}

/** True when the text ends with pg_dump's completion line, followed only by comments/blank/\unrestrict. */
export function hasDumpTrailer(tail: string): boolean {
  const marker = "-- PostgreSQL database dump complete";
  const lines = tail.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trimEnd();
    if (line === marker) return true;
    if (line === "" || line.startsWith("--") || line.startsWith("\\unrestrict ")) continue;
    return false;
  }
  return false;
}
