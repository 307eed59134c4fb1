/**
 * The backup manifest: a small JSON blob written beside the dump, last. Its existence is what
 * marks a backup complete (the container is immutable, so "complete" cannot be a metadata flag
 * flipped later), and it carries what restore needs to check the dump and the restored data.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DatabaseProperties, RoleReferences } from "../postgres/roles";

export const MANIFEST_FORMAT = "pg-recovery/backup-manifest@1";

export interface TableCount {
  schema: string;
  table: string;
  rows: number;
  /** pg_table_size at backup time (restore uses it to pick tables worth loading in parallel). */
  bytes?: number;
  /**
   * Set on an extension's configuration table (e.g. postgis for spatial_ref_sys): `rows` counts
   * only the rows pg_dump carries (the extension's filter), not those the extension creates.
   */
  extension?: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  /** When the dump's snapshot was taken (the data's point in time), ISO 8601 UTC. */
  createdAt: string;
  /** When the dump was uploaded and checked. */
  completedAt: string;
  tool: { name: string; version: string };
  database: {
    name: string;
    encoding: string;
    collate: string;
    ctype: string;
    /**
     * What pg_dump (without --create) leaves out: owner, comment, grants, settings, connection
     * limit. A restore that creates the database applies them. Absent in older manifests.
     */
    properties?: DatabaseProperties;
  };
  /**
   * Roles the dumped objects refer to (owners; grantees, policy and default-privilege roles), so
   * a restore can refuse a target that lacks one before downloading. Absent in older manifests.
   */
  roles?: RoleReferences;
  server: { version: string; versionNum: number; host: string };
  client: { pgDump: string };
  dump: {
    blob: string;
    /** pg_dump archive format: "custom" (-Fc). */
    format: "custom";
    /** pg_dump's own compression: "none", "gzip:1", "lz4". */
    compression: string;
    /**
     * Compression of the whole blob on top of the archive: "zstd" means the blob is
     * `pg_dump -Fc -Z0 | zstd -1` (restore by hand: `zstd -d < NAME.dump > x.dump`,
     * then `pg_restore -j 4 -d DB x.dump`).
     */
    wrapper: "zstd" | "none";
    size: number;
    sha256: string;
  };
  rowCounts: {
    /** True when counted inside the dump's own snapshot, so they must match exactly. */
    exact: boolean;
    note?: string;
    tables: TableCount[];
  };
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export class ManifestError extends Error {}

/** Parses and checks a manifest; throws ManifestError naming the first problem. */
export function parseManifest(text: string, expectedName?: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new ManifestError("manifest is not valid JSON");
  }
  const fail = (what: string) => {
    throw new ManifestError(`manifest ${what}`);
  };
  if (!m || typeof m !== "object") fail("is not an object");
  if (m.format !== MANIFEST_FORMAT) fail(`has unknown format "${String(m.format)}"`);
  if (typeof m.name !== "string") fail("has no name");
  if (expectedName !== undefined && m.name !== expectedName) {
    fail(`names backup "${m.name}", not "${expectedName}"`);
  }
  const d = m.dump;
  if (!d || typeof d.blob !== "string") fail("has no dump blob");
  if (d.format !== "custom") fail(`has unsupported dump format "${String(d.format)}"`);
  if (d.wrapper !== "zstd" && d.wrapper !== "none")
    fail(`has unknown wrapper "${String(d.wrapper)}"`);
  if (!Number.isSafeInteger(d.size) || d.size <= 0) fail("has no valid dump size");
  if (!/^[0-9a-f]{64}$/.test(d.sha256)) fail("has no valid sha256");
  if (!m.rowCounts || !Array.isArray(m.rowCounts.tables)) fail("has no row counts");
  for (const t of m.rowCounts.tables) {
    if (
      typeof t.schema !== "string" ||
      typeof t.table !== "string" ||
      !Number.isSafeInteger(t.rows)
    ) {
      fail("has a malformed row count entry");
    }
  }
  if (Number.isNaN(Date.parse(m.createdAt))) fail("has no valid createdAt");
  const names = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (m.roles !== undefined && !(names(m.roles?.owners) && names(m.roles?.grantees))) {
    fail("has malformed roles");
  }
  const p = m.database?.properties;
  if (
    p !== undefined &&
    (typeof p?.owner !== "string" || !Array.isArray(p.acl) || !Array.isArray(p.settings))
  ) {
    fail("has malformed database properties");
  }
  return m;
}

/** This tool's name and version, from the nearest package.json (source tree or image). */
export function toolInfo(): { name: string; version: string } {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
      if (pkg.name && pkg.version) return { name: pkg.name, version: pkg.version };
    } catch {
      // keep walking up
    }
    dir = path.dirname(dir);
  }
  return { name: "pg-recovery", version: "unknown" };
}
