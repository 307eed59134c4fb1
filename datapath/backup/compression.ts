/** How a backup's dump is compressed: measured choices, and what the tools on this machine allow. */
import { startTool, toolAvailable, ToolVersion } from "../postgres/pgtools";

export type Compression = "auto" | "zstd" | "gzip" | "lz4" | "none";

interface CompressionPlan {
  /** pg_dump --compress value. */
  pgDump: string;
  /** pg_dump's own compression, as recorded in the manifest. */
  compression: string;
  /** Whole-stream compression applied after pg_dump. */
  wrapper: "zstd" | "none";
  label: string;
}

/**
 * How the dump is compressed (measured on a 1 GB database, 2 cores, PostgreSQL 15):
 * pg_dump's own gzip-1 costs 4.6 CPU-s on the dump side and again on restore (inflate in
 * pg_restore), uncompressed dumps are 3x larger to move. An uncompressed custom archive piped
 * through `zstd -1` costs ~1.8 CPU-s, is 20% smaller than gzip-1, and decompresses (while
 * downloading) in 0.5 s, so pg_restore reads plain data. So: zstd when the binary exists
 * (any pg_dump version); else lz4 inside pg_dump >= 16 (if built with it); else gzip-1.
 */
export async function planCompression(
  pgDump: ToolVersion,
  env: NodeJS.ProcessEnv,
  wanted: Compression,
): Promise<CompressionPlan> {
  const zstd: CompressionPlan = {
    pgDump: "0",
    compression: "none",
    wrapper: "zstd",
    label: "zstd -1 over an uncompressed archive",
  };
  const gzip: CompressionPlan = {
    pgDump: "1",
    compression: "gzip:1",
    wrapper: "none",
    label: "pg_dump gzip level 1",
  };
  const lz4: CompressionPlan = {
    pgDump: "lz4",
    compression: "lz4",
    wrapper: "none",
    label: "pg_dump lz4",
  };
  const none: CompressionPlan = {
    pgDump: "0",
    compression: "none",
    wrapper: "none",
    label: "uncompressed",
  };
  switch (wanted) {
    case "zstd":
      if (!(await toolAvailable("zstd", env))) {
        throw new Error("compression zstd needs the zstd program: install it or set ZSTD_BIN");
      }
      return zstd;
    case "gzip":
      return gzip;
    case "none":
      return none;
    case "lz4":
      if (pgDump.major < 16) throw new Error(`pg_dump ${pgDump.major} has no lz4 (needs 16+)`);
      return lz4;
    case "auto":
      if (await toolAvailable("zstd", env)) return zstd;
      if (pgDump.major >= 16 && (await pgDumpSupportsLz4(env))) return lz4;
      return gzip;
    default:
      throw new Error(`unknown compression "${String(wanted)}": use auto, zstd, gzip, lz4 or none`);
  }
}

/** An unsupported --compress method is rejected while parsing options, before connecting. */
async function pgDumpSupportsLz4(env: NodeJS.ProcessEnv): Promise<boolean> {
  const probeEnv = {
    ...env,
    PGHOST: "/nonexistent-pg-recovery-probe",
    PGPORT: "1",
    PGCONNECT_TIMEOUT: "1",
  };
  const probe = startTool(
    "pg_dump",
    ["--format=custom", "--compress=lz4", "--schema-only", "--no-password"],
    { env: probeEnv },
  );
  await probe.done.catch(() => undefined);
  return !/compress/i.test(probe.stderrTail());
}

/**
 * What the stored dump object is, for summaries: "zstd-compressed custom archive" (the whole
 * stream compressed by zstd around pg_dump's uncompressed archive), "custom archive, gzip:1
 * inside" (pg_dump's own per-table compression), or "uncompressed custom archive".
 */
export function describeStoredDump(dump: {
  compression: string;
  wrapper: "zstd" | "none";
}): string {
  if (dump.wrapper === "zstd") {
    return dump.compression === "none"
      ? "zstd-compressed custom archive"
      : `zstd-compressed custom archive, ${dump.compression} inside`;
  }
  return dump.compression === "none"
    ? "uncompressed custom archive"
    : `custom archive, ${dump.compression} inside`;
}
