/**
 * Throttled progress lines on stderr (stdout is kept for the final summary, so it can be
 * captured by scripts), e.g. `backup: 812.0 MB uploaded, 95.3 MB/s, tables 12/40`.
 */

export type LogFn = (line: string) => void;

export const stderrLog: LogFn = (line) => process.stderr.write(`${line}\n`);

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return `${(bytes / 1024 / 1024 / Math.max(ms / 1000, 0.001)).toFixed(1)} MB/s`;
}

export class Progress {
  private bytes = 0;
  private tablesDone = 0;
  private tablesTotal?: number;
  private readonly started = Date.now();
  private lastPrint = 0;
  private dirty = false;

  constructor(
    private readonly label: string,
    private readonly verb: string,
    private readonly log: LogFn = stderrLog,
    private readonly totalBytes?: number,
    private readonly intervalMs = Number(process.env.PG_RECOVERY_PROGRESS_MS ?? 2000),
  ) {}

  addBytes(n: number): void {
    this.bytes += n;
    this.maybePrint();
  }

  setTables(done: number, total?: number): void {
    this.tablesDone = done;
    if (total !== undefined) this.tablesTotal = total;
    this.maybePrint();
  }

  get byteCount(): number {
    return this.bytes;
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }

  private maybePrint(): void {
    this.dirty = true;
    const now = Date.now();
    if (now - this.lastPrint < this.intervalMs) return;
    this.lastPrint = now;
    this.dirty = false;
    this.log(this.line());
  }

  line(): string {
    const elapsed = this.elapsedMs();
    const parts: string[] = [];
    // An empty verb means a tables-only progress (pg_restore reports no byte counts).
    if (this.verb) {
      parts.push(`${formatBytes(this.bytes)} ${this.verb}`);
      if (this.totalBytes) {
        parts[0] += ` of ${formatBytes(this.totalBytes)} (${Math.floor((100 * this.bytes) / this.totalBytes)}%)`;
      }
      parts.push(formatRate(this.bytes, elapsed));
    }
    if (this.tablesTotal !== undefined || this.tablesDone > 0) {
      parts.push(
        `tables ${this.tablesDone}${this.tablesTotal !== undefined ? `/${this.tablesTotal}` : ""}`,
      );
    }
    parts.push(`${(elapsed / 1000).toFixed(0)}s`);
    return `${this.label}: ${parts.join(", ")}`;
  }

  /** Prints the final state unless the last throttled line already showed it. */
  finish(): void {
    if (!this.dirty && this.lastPrint !== 0) return;
    this.dirty = false;
    this.log(this.line());
  }
}
