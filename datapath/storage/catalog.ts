/**
 * What backups the container holds and which one a restore should use.
 *
 * Status rules: a backup is *complete* only when its manifest (written last) parses and
 * matches a committed dump blob; a dump without a manifest, or blocks never committed, is
 * *incomplete*; the nightly workflow's plain `<name>.sql.gz` dumps carry no manifest and are
 * *legacy* (checked for gzip integrity and the dump trailer when restored).
 */
import { BackupCorruptError } from "../errors";
import { Manifest, parseManifest } from "./manifest";
import { BlobKind, normaliseBackupName, parseBlobName } from "./naming";
import { BlobInfo, describeStorageError, listBlobs, Storage } from "./blobs";

export type BackupStatus = "complete" | "incomplete" | "legacy" | "invalid";

export interface BackupEntry {
  name: string;
  status: BackupStatus;
  /** "custom" for our pg_dump -Fc backups, "plain-gzip" for legacy `.sql.gz`. */
  format: "custom" | "plain-gzip";
  /** Blob that holds the data. */
  blob: string;
  size: number;
  /** Data point in time: the dump's snapshot for complete backups, else blob creation time. */
  createdAt?: Date;
  manifest?: Manifest;
  /** Why the backup is not usable (incomplete/invalid). */
  problem?: string;
}

export async function catalog(storage: Storage): Promise<BackupEntry[]> {
  let blobs: BlobInfo[];
  try {
    blobs = await listBlobs(storage);
  } catch (e) {
    throw new Error(describeStorageError(e, storage));
  }
  const groups = new Map<string, Partial<Record<BlobKind, BlobInfo>>>();
  for (const b of blobs) {
    const parsed = parseBlobName(b.name);
    if (!parsed) continue;
    const g = groups.get(parsed.name) ?? {};
    g[parsed.kind] = b;
    groups.set(parsed.name, g);
  }
  const entries: BackupEntry[] = [];
  const work: Promise<void>[] = [];
  for (const [name, g] of groups) {
    if (g.dump || g.manifest)
      work.push(customEntry(storage, name, g).then((e) => void entries.push(e)));
    if (g.legacy) {
      const b = g.legacy;
      entries.push({
        name,
        status: b.committed ? "legacy" : "incomplete",
        format: "plain-gzip",
        blob: b.name,
        size: b.size,
        createdAt: b.createdOn ?? b.lastModified,
        problem: b.committed ? undefined : "upload never committed",
      });
    }
  }
  await Promise.all(work);
  return entries.sort(
    (a, b) =>
      (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || b.name.localeCompare(a.name),
  );
}

async function customEntry(
  storage: Storage,
  name: string,
  g: Partial<Record<BlobKind, BlobInfo>>,
): Promise<BackupEntry> {
  const dump = g.dump;
  const entry: BackupEntry = {
    name,
    status: "incomplete",
    format: "custom",
    blob: dump?.name ?? `${name}.dump`,
    size: dump?.size ?? 0,
    createdAt: dump?.createdOn ?? dump?.lastModified ?? g.manifest?.createdOn,
  };
  if (!g.manifest || !g.manifest.committed) {
    entry.problem =
      dump && dump.committed
        ? "dump uploaded but never marked complete (no manifest)"
        : "upload never finished (no committed dump)";
    return entry;
  }
  try {
    const text = (
      await storage.container.getBlobClient(g.manifest.name).downloadToBuffer()
    ).toString("utf8");
    const m = parseManifest(text, name);
    entry.manifest = m;
    entry.createdAt = new Date(m.createdAt);
    if (!dump || !dump.committed) {
      return { ...entry, status: "invalid", problem: "manifest present but dump blob missing" };
    }
    if (dump.size !== m.dump.size || m.dump.blob !== dump.name) {
      return {
        ...entry,
        status: "invalid",
        problem: `dump blob is ${dump.size} bytes, manifest says ${m.dump.size}`,
      };
    }
    return { ...entry, status: "complete" };
  } catch (e) {
    return { ...entry, status: "invalid", problem: (e as Error).message };
  }
}

/** A backup passed over on the way to the one restored. */
export interface SkippedBackup {
  name: string;
  status: BackupStatus;
  problem: string;
}

/**
 * The backups a restore may use, in the order to try them: the named one alone (never another),
 * or, for `--latest`, every complete or legacy backup newest first, so that a newest one found
 * damaged on download falls back to the next. Newer backups that are not usable at all are
 * reported (loudly, since the newest backup being unusable is itself news) and returned as
 * skipped. Throws with what exists and what to do when there is nothing to try.
 */
export async function restoreCandidates(
  storage: Storage,
  sel: { name?: string; latest?: boolean },
  log: (line: string) => void = () => undefined,
): Promise<{ entries: BackupEntry[]; skipped: SkippedBackup[] }> {
  const entries = await catalog(storage);
  const usable = (e: BackupEntry) => e.status === "complete" || e.status === "legacy";
  if (sel.name !== undefined) {
    const name = normaliseBackupName(sel.name);
    const matches = entries.filter((e) => e.name === name);
    // A name that exists both as our backup and a legacy dump: prefer the verified one.
    const pick = matches.find((e) => e.status === "complete") ?? matches.find(usable) ?? matches[0];
    if (!pick) {
      const recent = entries
        .filter(usable)
        .slice(0, 5)
        .map((e) => e.name);
      throw new Error(
        `no backup named "${name}" in ${storage.where}` +
          (recent.length
            ? `; newest usable: ${recent.join(", ")}`
            : "; the container holds no usable backups"),
      );
    }
    if (!usable(pick)) {
      const message = `backup "${name}" is ${pick.status} (${pick.problem}) and cannot be restored; nothing was changed. Run "list" and pick a complete one`;
      throw pick.status === "invalid" ? new BackupCorruptError(message) : new Error(message);
    }
    return { entries: [pick], skipped: [] };
  }
  const candidates = entries.filter(usable);
  if (candidates.length === 0) {
    throw new Error(
      `no complete or legacy backup in ${storage.where}; run "list" to see what exists`,
    );
  }
  const skipped: SkippedBackup[] = [];
  for (const e of entries.slice(0, entries.indexOf(candidates[0]))) {
    const problem = e.problem ?? e.status;
    log(`restore: WARNING: skipping newer backup ${e.name}: ${e.status} (${problem})`);
    skipped.push({ name: e.name, status: e.status, problem });
  }
  return { entries: candidates, skipped };
}
