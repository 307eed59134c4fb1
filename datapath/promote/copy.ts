/**
 * COPY between two servers through this process, streamed: `COPY ... TO STDOUT` on one session
 * feeds `COPY ... FROM STDIN` on another, with backpressure, so memory stays at a few chunks
 * whatever the table size. node-postgres runs COPY only through "submittable" query objects
 * (what pg-copy-streams provides); these two are the minimum of that protocol we need, so the
 * image gains no dependency.
 */
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Client } from "pg";

/** The parts of pg's internal Connection the COPY protocol needs. */
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  stream: NodeJS.ReadableStream & NodeJS.WritableStream & { writableNeedDrain?: boolean };
}

const rowCountOf = (msg: { text?: string }): number | undefined => {
  const m = /^COPY (\d+)/.exec(msg.text ?? "");
  return m ? Number(m[1]) : undefined;
};

const CHUNK = 256 * 1024;

/** `COPY ... TO STDOUT` as a Readable of raw COPY data. */
class CopyOut extends Readable {
  rowCount?: number;
  private connection?: PgConnection;
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  callback?: unknown; // pg looks for it on submittables; unused

  constructor(private readonly text: string) {
    super({ highWaterMark: 1 << 20 });
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.destroyed) return;
    // The server sends one CopyData message per row: gather them into big chunks, or the
    // per-chunk stream and socket overhead dominates (measured ~15x slower). Copying also
    // detaches the row from the parser's reusable buffer.
    const chunk = msg.chunk;
    if (this.pos + chunk.length > this.buf.length) this.flush();
    if (chunk.length > this.buf.length) this.emit1(Buffer.from(chunk));
    else {
      chunk.copy(this.buf, this.pos);
      this.pos += chunk.length;
    }
  }

  private flush(): void {
    if (this.pos === 0) return;
    const full = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    this.emit1(full);
  }

  private emit1(chunk: Buffer): void {
    // Pausing the socket pauses the whole session: the server waits on TCP, not on memory here.
    if (!this.push(chunk)) this.connection?.stream.pause();
  }

  _read(): void {
    this.connection?.stream.resume();
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = rowCountOf(msg);
  }

  handleReadyForQuery(): void {
    if (this.destroyed) return;
    this.flush();
    this.push(null);
  }

  handleError(err: Error): void {
    this.connection?.stream.resume();
    this.destroy(err);
  }

  _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // A paused socket would leave the session stuck mid-COPY; let the rest drain into the void.
    this.connection?.stream.resume();
    cb(err);
  }

  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail("expected COPY TO STDOUT");
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

/** `COPY ... FROM STDIN` as a Writable. */
class CopyIn extends Writable {
  rowCount?: number;
  private connection?: PgConnection;
  private ready = false;
  private waiting?: () => void;
  private finished?: (e?: Error | null) => void;
  private serverDone = false;
  callback?: unknown;

  constructor(private readonly text: string) {
    super({ highWaterMark: 1 << 20 });
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyInResponse(): void {
    this.ready = true;
    // The source failed before the server was ready: end COPY IN now, or the session waits in
    // it forever and every later query on it queues behind.
    if (this.destroyed) {
      this.connection?.sendCopyFail("aborted: the source failed");
      return;
    }
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.ready) {
      this.waiting = () => this._write(chunk, _enc, cb);
      return;
    }
    const c = this.connection!;
    c.sendCopyFromChunk(chunk);
    if (c.stream.writableNeedDrain) c.stream.once("drain", () => cb());
    else cb();
  }

  _final(cb: (e?: Error | null) => void): void {
    const end = () => {
      this.finished = cb;
      this.connection!.endCopyFrom();
    };
    if (this.ready) end();
    else this.waiting = end;
  }

  handleCommandComplete(msg: { text?: string }): void {
    this.rowCount = rowCountOf(msg);
  }

  handleReadyForQuery(): void {
    this.serverDone = true;
    this.finished?.();
  }

  handleError(err: Error): void {
    this.serverDone = true;
    if (this.finished) this.finished(err);
    else this.destroy(err);
  }

  _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // The source failed: end COPY IN with CopyFail so the session errors out of it cleanly.
    if (this.ready && !this.serverDone && !this.finished) {
      this.connection?.sendCopyFail(err?.message ?? "aborted");
    }
    cb(err);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

// pg types a submittable query as its own Submittable; ours implement the same handlers.
type Submittable = Parameters<Client["query"]>[0];

export interface CopyResult {
  rowsOut: number;
  rowsIn: number;
  bytes: number;
}

/**
 * Streams `fromSql` (a COPY ... TO STDOUT) on `from` into `toSql` (a COPY ... FROM STDIN) on
 * `to`. Resolves with both sides' row counts once the target has committed the COPY statement;
 * rejects with the first error of either side (the other side's COPY is then abandoned).
 */
export async function copyBetween(
  from: Client,
  fromSql: string,
  to: Client,
  toSql: string,
  /** Called per chunk before it is passed on; a returned promise holds the chunk back. */
  onChunk?: (bytes: number) => void | Promise<void>,
): Promise<CopyResult> {
  const out = new CopyOut(fromSql);
  from.query(out as unknown as Submittable);
  const r = await copyIn(out, to, toSql, onChunk);
  return { rowsOut: out.rowCount ?? -1, rowsIn: r.rows, bytes: r.bytes };
}

/**
 * Streams any COPY-format byte stream (a CopyOut, or a `psql -c "COPY ... TO STDOUT"` child's
 * stdout) into `toSql` on `to`; resolves with the rows the target took and the bytes streamed.
 */
export async function copyIn(
  source: NodeJS.ReadableStream,
  to: Client,
  toSql: string,
  onChunk?: (bytes: number) => void | Promise<void>,
): Promise<{ rows: number; bytes: number }> {
  const inn = new CopyIn(toSql);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const held = onChunk?.(chunk.length);
      if (held) held.then(() => cb(null, chunk), cb);
      else cb(null, chunk);
    },
  });
  to.query(inn as unknown as Submittable);
  await pipeline(source, counter, inn);
  return { rows: inn.rowCount ?? -1, bytes };
}
