/**
 * Data offsets for a pg_dump custom-format archive that was written to a pipe.
 *
 * pg_dump can only record where each table's data starts when its output is seekable: it
 * writes the table of contents (TOC), the data, then seeks back and rewrites the TOC with the
 * offsets. Our backups stream (pg_dump | zstd | upload), so every TOC entry says "offset not
 * set". pg_restore copes, but badly in parallel mode: it has no sizes to schedule the biggest
 * tables first, and every worker finds its table by reading the archive from the start, chunk
 * header by chunk header. On the benchmark archive that cost 2.5 s of a 9 s restore, and it
 * grows with tables x archive size.
 *
 * So after the download is verified, restore walks the data blocks once and writes their
 * positions into the local copy's TOC, as pg_dump would have. The layout is pg_dump's
 * (pg_backup_archiver.c ReadHead/ReadToc, pg_backup_custom.c), archive versions 1.12-1.16
 * (pg_dump 9.0 to 17). Anything unexpected leaves the file untouched: pg_restore still
 * reads it, only slower. The patch is also self-checking: pg_restore verifies the block id
 * found at each offset.
 */
import * as fs from "node:fs";

const MIN_VERSION = version(1, 12, 0);
const MAX_VERSION = version(1, 16, 255);
const FORMAT_CUSTOM = 1;
const BLK_DATA = 1;
const BLK_BLOBS = 3;
const OFFSET_NOT_SET = 1;
const OFFSET_SET = 2;
const OFFSET_NO_DATA = 3;
const YIELD_BYTES = 256 * 1024 * 1024;

function version(maj: number, min: number, rev: number): number {
  return (maj * 256 + min) * 256 + rev;
}

export interface TocOffset {
  dumpId: number;
  desc: string;
  tag: string;
  /** The object's owner as pg_dump recorded it (pg_restore sets it unless --no-owner). */
  owner: string | null;
  /** The SQL that creates the object (for ACL entries: its GRANT/REVOKE statements). */
  defn: string | null;
  /** Where the entry starts in the file. */
  start: number;
  /** Positions of the owner and defn fields (their length word), for rewriting them. */
  ownerPos: number;
  ownerEnd: number;
  defnPos: number;
  defnEnd: number;
  /** OFFSET_NOT_SET (1), OFFSET_SET (2) or OFFSET_NO_DATA (3), as pg_dump wrote it. */
  flag: number;
  /** The data block's position when flag is OFFSET_SET. */
  offset: number;
  /** Where the flag byte sits in the file (the offset bytes follow it). */
  flagPos: number;
}

export interface ArchiveToc {
  version: string;
  intSize: number;
  offSize: number;
  /** Where the entry count is (the header ends there). */
  countPos: number;
  entries: TocOffset[];
  /** First byte after the TOC: where the data blocks start. */
  dataStart: number;
}

export type IndexResult =
  { indexed: number; alreadySet: false } | { indexed: 0; alreadySet: true } | { skipped: string };

/** Reads the TOC of a custom-format archive (header, entries and their data offsets). */
export function readArchiveToc(file: string): ArchiveToc {
  const r = new Reader(file);
  try {
    return readToc(r);
  } finally {
    r.close();
  }
}

/**
 * Fills in missing data offsets in place. Returns how many entries were indexed, or why the
 * file was left as it was.
 */
export async function indexArchiveOffsets(file: string): Promise<IndexResult> {
  const r = new Reader(file);
  try {
    let toc: ArchiveToc;
    try {
      toc = readToc(r);
    } catch (e) {
      return { skipped: (e as Error).message };
    }
    const missing = toc.entries.filter((e) => e.flag === OFFSET_NOT_SET);
    if (missing.length === 0) return { indexed: 0, alreadySet: true };
    if (toc.offSize < 6) return { skipped: `offset size ${toc.offSize} is too small` };

    let blocks: Map<number, number>;
    try {
      blocks = await scanBlocks(r, toc);
    } catch (e) {
      return { skipped: (e as Error).message };
    }
    // Every entry pg_dump meant to write data for must have exactly one block, and nothing else.
    const withData = new Set(
      toc.entries.filter((e) => e.flag !== OFFSET_NO_DATA).map((e) => e.dumpId),
    );
    for (const id of blocks.keys()) {
      if (!withData.has(id)) return { skipped: `data block for unknown TOC entry ${id}` };
    }
    for (const e of missing) {
      if (!blocks.has(e.dumpId)) return { skipped: `no data block for TOC entry ${e.dumpId}` };
    }
    for (const e of toc.entries) {
      if (e.flag === OFFSET_SET && blocks.get(e.dumpId) !== e.offset) {
        return { skipped: `TOC entry ${e.dumpId} already has a different offset` };
      }
    }
    r.close();
    const fd = fs.openSync(file, "r+");
    try {
      for (const e of missing) {
        const bytes = Buffer.alloc(1 + toc.offSize);
        bytes[0] = OFFSET_SET;
        let pos = blocks.get(e.dumpId)!;
        for (let i = 0; i < toc.offSize; i++) {
          bytes[1 + i] = pos % 256;
          pos = Math.floor(pos / 256);
        }
        fs.writeSync(fd, bytes, 0, bytes.length, e.flagPos);
      }
    } finally {
      fs.closeSync(fd);
    }
    return { indexed: missing.length, alreadySet: false };
  } finally {
    r.close();
  }
}

function readToc(r: Reader): ArchiveToc {
  if (r.bytes(5).toString("latin1") !== "PGDMP") throw new Error("not a pg_dump custom archive");
  const vmaj = r.byte();
  const vmin = r.byte();
  const vrev = vmaj > 1 || (vmaj === 1 && vmin > 0) ? r.byte() : 0;
  const v = version(vmaj, vmin, vrev);
  const vText = `${vmaj}.${vmin}.${vrev}`;
  if (v < MIN_VERSION || v > MAX_VERSION) throw new Error(`archive version ${vText} not known`);
  r.intSize = r.byte();
  if (r.intSize < 1 || r.intSize > 8) throw new Error(`integer size ${r.intSize} not supported`);
  const offSize = r.byte();
  if (offSize < 1 || offSize > 8) throw new Error(`offset size ${offSize} not supported`);
  const format = r.byte();
  if (format !== FORMAT_CUSTOM) throw new Error(`archive format ${format} is not custom`);
  if (v >= version(1, 15, 0))
    r.byte(); // compression algorithm
  else r.int(); // compression level
  for (let i = 0; i < 7; i++) r.int(); // creation time (struct tm fields)
  r.str(); // database name
  r.str(); // server version
  r.str(); // pg_dump version

  const countPos = r.pos;
  const count = r.int();
  if (count < 0 || count > 10_000_000) throw new Error(`implausible TOC size ${count}`);
  const entries: TocOffset[] = [];
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    const dumpId = r.int();
    if (dumpId <= 0) throw new Error(`TOC entry id ${dumpId} out of range`);
    r.int(); // hadDumper
    r.str(); // tableoid
    r.str(); // oid
    const tag = r.str() ?? "";
    const desc = r.str() ?? "";
    r.int(); // section
    const defnPos = r.pos;
    const defn = r.str();
    const defnEnd = r.pos;
    r.str(); // dropStmt
    r.str(); // copyStmt
    r.str(); // namespace
    r.str(); // tablespace
    if (v >= version(1, 14, 0)) r.str(); // tableam
    if (v >= version(1, 16, 0)) r.int(); // relkind
    const ownerPos = r.pos;
    const owner = r.str();
    const ownerEnd = r.pos;
    r.str(); // "false": WITH OIDS, long gone
    while (r.str() !== null); // dependencies, NULL-terminated
    const flagPos = r.pos;
    const flag = r.byte();
    if (flag !== OFFSET_NOT_SET && flag !== OFFSET_SET && flag !== OFFSET_NO_DATA) {
      throw new Error(`unexpected data offset flag ${flag} in TOC entry ${dumpId}`);
    }
    let offset = 0;
    for (let b = 0, mul = 1; b < offSize; b++, mul *= 256) offset += r.byte() * mul;
    entries.push({
      dumpId,
      desc,
      tag,
      owner,
      defn,
      start,
      ownerPos,
      ownerEnd,
      defnPos,
      defnEnd,
      flag,
      offset,
      flagPos,
    });
  }
  return { version: vText, intSize: r.intSize, offSize, countPos, entries, dataStart: r.pos };
}

/** Walks the data blocks from the end of the TOC to end of file: dumpId -> block position. */
async function scanBlocks(r: Reader, toc: ArchiveToc): Promise<Map<number, number>> {
  r.seek(toc.dataStart);
  const blocks = new Map<number, number>();
  let yieldAt = r.pos + YIELD_BYTES;
  for (;;) {
    const at = r.pos;
    if (r.atEnd()) break;
    if (at >= yieldAt) {
      // ~0.2 s per GB of reads: let signal handlers and progress run on big archives.
      await new Promise((resolve) => setImmediate(resolve));
      yieldAt = at + YIELD_BYTES;
    }
    const type = r.byte();
    const id = r.int();
    if (blocks.has(id)) throw new Error(`two data blocks for TOC entry ${id}`);
    blocks.set(id, at);
    if (type === BLK_DATA) skipChunks(r);
    else if (type === BLK_BLOBS) {
      for (let oid = r.int(); oid !== 0; oid = r.int()) skipChunks(r);
    } else throw new Error(`unknown data block type ${type} at byte ${at}`);
  }
  return blocks;
}

function skipChunks(r: Reader): void {
  for (let len = r.int(); len !== 0; len = r.int()) {
    if (len < 0) throw new Error(`negative chunk length at byte ${r.pos}`);
    r.skip(len);
  }
}

/** Buffered positional reads; the data scan touches every chunk header of a large file. */
class Reader {
  pos = 0;
  intSize = 4;
  private fd: number | undefined;
  private readonly size: number;
  private buf = Buffer.alloc(4 * 1024 * 1024);
  private bufStart = 0;
  private bufLen = 0;

  constructor(file: string) {
    this.fd = fs.openSync(file, "r");
    this.size = fs.fstatSync(this.fd).size;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  atEnd(): boolean {
    return this.pos >= this.size;
  }

  seek(pos: number): void {
    this.pos = pos;
  }

  skip(n: number): void {
    if (this.pos + n > this.size)
      throw new Error(`archive ends inside a chunk at byte ${this.pos}`);
    this.pos += n;
  }

  byte(): number {
    if (this.pos >= this.size) throw new Error(`archive ends early at byte ${this.pos}`);
    if (this.pos < this.bufStart || this.pos >= this.bufStart + this.bufLen) this.fill(1);
    return this.buf[this.pos++ - this.bufStart];
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.size) throw new Error(`archive ends early at byte ${this.pos}`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.bufLen) this.fill(n);
    const out = Buffer.from(
      this.buf.subarray(this.pos - this.bufStart, this.pos - this.bufStart + n),
    );
    this.pos += n;
    return out;
  }

  /** pg_dump's WriteInt: a sign byte, then intSize bytes, least significant first. */
  int(): number {
    const negative = this.byte() !== 0;
    let v = 0;
    for (let i = 0, mul = 1; i < this.intSize; i++, mul *= 256) v += this.byte() * mul;
    return negative ? -v : v;
  }

  /** pg_dump's WriteStr: a length (-1 for NULL), then the bytes. */
  str(): string | null {
    const len = this.int();
    if (len < 0) return null;
    if (len > 1024 * 1024 * 1024) throw new Error(`implausible string length ${len}`);
    return this.bytes(len).toString("utf8");
  }

  private fill(need: number): void {
    if (need > this.buf.length) this.buf = Buffer.alloc(need);
    this.bufStart = this.pos;
    this.bufLen = fs.readSync(this.fd!, this.buf, 0, this.buf.length, this.pos);
  }
}
