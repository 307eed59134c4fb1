/**
 * The drill record: what was restored and to when, how much each recovery path would lose (RPO)
 * and how long it took (RTO, in parts), every check's outcome, the team's targets met or missed,
 * the names and versions involved and who ran it. JSON to keep (and archive), Markdown to read.
 *
 * RPO, per path:
 *  - point-in-time restore: the drill database holds everything live wrote up to the restore
 *    time when the verify check passed; the figure is the restore time minus the newest write
 *    the drill database holds when live holds a newer one up to that time (data lost), else 0
 *    (the gap to the newest write is then quiet time, shown beside it);
 *  - storage: the age of the newest complete backup when the drill started.
 * RTO, per path: the point-in-time restore (the drill server's creation as the engine timed it,
 * else up's duration, which it almost all is) plus the verify; the storage restore (download, load and manifest check).
 */
import { formatLondon } from "../../contract/time";
import { redact } from "../redact";
import { Who } from "../who";
import { CollectedCheck, failedChecks, figure } from "./checks";

export type TargetVerdict = "met" | "missed" | "no target" | "not measured";

export interface DrillRecord {
  version: 1;
  kind: "pg-recovery drill";
  stack: string;
  environment: string;
  date: string;
  startedAt: string;
  endedAt: string;
  by: Who;
  restorePoint: { asked: string; reached?: string; askedLondon: string };
  names: {
    liveServer: string;
    database: string;
    drillServer: string;
    scratchDatabase?: string;
    jobs: string[];
    backupRestored?: string;
  };
  versions: { runner: string; dataToolImage: string; liveServer?: string; drillServer?: string };
  rpo: {
    pitrSeconds: number | null;
    pitrQuietSeconds: number | null;
    storageSeconds: number | null;
    storageBackupTakenAt?: string;
  };
  rto: {
    pointInTimeRestoreSeconds: number | null;
    verifySeconds: number | null;
    storageRestoreSeconds: number | null;
    pitrPathSeconds: number | null;
    storagePathSeconds: number | null;
  };
  targets: {
    rpoMinutes?: number;
    rtoMinutes?: number;
    rpo: TargetVerdict;
    rto: TargetVerdict;
  };
  checks: CollectedCheck[];
  outcome: "passed" | "failed";
  /** Failed checks and missed targets, named. */
  failures: string[];
  /** Where the record was archived, or why not. */
  archived?: string;
}

export interface DrillFacts {
  stack: string;
  environment: string;
  date: string;
  startedAt: Date;
  endedAt: Date;
  by: Who;
  restoreTime: string;
  reachedUtc?: string;
  liveServer: string;
  database: string;
  drillServer: string;
  scratchDatabase?: string;
  jobs: { name: string; startedAt?: string; finishedAt?: string; role: string }[];
  upSeconds: number | null;
  runnerVersion: string;
  dataToolImage: string;
  targets?: { rpoMinutes?: number; rtoMinutes?: number };
  checks: CollectedCheck[];
}

const seconds = (from?: string | null, to?: string | null): number | null => {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms / 1000)) : null;
};
const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function verdict(limitMinutes: number | undefined, values: (number | null)[]): TargetVerdict {
  if (limitMinutes === undefined) return "no target";
  if (values.some((v) => v === null)) return "not measured";
  return values.every((v) => (v as number) <= limitMinutes * 60) ? "met" : "missed";
}

export function buildDrillRecord(f: DrillFacts): DrillRecord {
  const c = f.checks;
  const drillNewest = str(figure(c, "recency", "drillNewest"));
  const liveNewest = str(figure(c, "recency", "liveNewestAtOrBeforeRestoreTarget"));
  const target = str(figure(c, "recency", "restoreTarget")) ?? f.restoreTime;
  const quiet = seconds(drillNewest, target);
  const lost = !!liveNewest && (!drillNewest || Date.parse(drillNewest) < Date.parse(liveNewest));
  const pitrRpo = !drillNewest && !liveNewest ? null : lost ? quiet : 0;
  const takenAt = str(figure(c, "restore-latest", "takenAt"));
  const storageRpo = seconds(takenAt, f.startedAt.toISOString());
  const jobSeconds = (role: string) => {
    const j = f.jobs.find((x) => x.role === role);
    return seconds(j?.startedAt, j?.finishedAt);
  };
  const verifySeconds = jobSeconds("drill-verify") ?? num(figure(c, "verify", "seconds"));
  const storageSeconds = jobSeconds("drill-restore") ?? num(figure(c, "restore-latest", "seconds"));
  const pitrPath =
    f.upSeconds === null || verifySeconds === null ? null : f.upSeconds + verifySeconds;
  const targets = {
    rpoMinutes: f.targets?.rpoMinutes,
    rtoMinutes: f.targets?.rtoMinutes,
    rpo: verdict(f.targets?.rpoMinutes, [pitrRpo, storageRpo]),
    rto: verdict(f.targets?.rtoMinutes, [pitrPath, storageSeconds]),
  };
  const failures = failedChecks(c).map((x) => `${x.check}: ${x.detail}`);
  if (targets.rpo === "missed") failures.push(`RPO target of ${targets.rpoMinutes} minutes missed`);
  if (targets.rto === "missed") failures.push(`RTO target of ${targets.rtoMinutes} minutes missed`);
  const record: DrillRecord = {
    version: 1,
    kind: "pg-recovery drill",
    stack: f.stack,
    environment: f.environment,
    date: f.date,
    startedAt: f.startedAt.toISOString(),
    endedAt: f.endedAt.toISOString(),
    by: f.by,
    restorePoint: {
      asked: f.restoreTime,
      reached: f.reachedUtc,
      askedLondon: formatLondon(new Date(f.restoreTime)),
    },
    names: {
      liveServer: f.liveServer,
      database: f.database,
      drillServer: f.drillServer,
      scratchDatabase: f.scratchDatabase,
      jobs: f.jobs.map((j) => j.name),
      backupRestored: str(figure(c, "restore-latest", "backup")),
    },
    versions: {
      runner: f.runnerVersion,
      dataToolImage: f.dataToolImage,
      liveServer: str(figure(c, "verify", "sourceVersion")),
      drillServer: str(figure(c, "verify", "targetVersion")),
    },
    rpo: {
      pitrSeconds: pitrRpo,
      pitrQuietSeconds: quiet,
      storageSeconds: storageRpo,
      storageBackupTakenAt: takenAt,
    },
    rto: {
      pointInTimeRestoreSeconds: f.upSeconds,
      verifySeconds,
      storageRestoreSeconds: storageSeconds,
      pitrPathSeconds: pitrPath,
      storagePathSeconds: storageSeconds,
    },
    targets,
    checks: c,
    outcome: failures.length ? "failed" : "passed",
    failures,
  };
  return redact(record) as DrillRecord;
}

export function durationText(s: number | null): string {
  if (s === null) return "not measured";
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

const cell = (t: string) => t.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderDrillMarkdown(r: DrillRecord, chart?: string): string {
  const out: string[] = [];
  const l = (s = "") => out.push(s);
  l(`# Restore drill: ${r.stack}, ${r.date} — ${r.outcome.toUpperCase()}`);
  l();
  l(
    `Run by ${r.by.name} (${r.by.git ?? r.by.github ?? r.by.local}; cloud: ${r.by.cloud ?? "?"}), ${r.startedAt} to ${r.endedAt}.`,
  );
  l();
  if (r.failures.length) {
    l(`**Failed:**`);
    for (const f of r.failures) l(`- ${f}`);
    l();
  }
  l(`## Restore point`);
  l(`- asked: ${r.restorePoint.asked} (${r.restorePoint.askedLondon})`);
  l(`- reached (the drill server's restore time): ${r.restorePoint.reached ?? "not known"}`);
  l();
  l(`## Figures`);
  l(`| | point-in-time restore | restore from storage | target |`);
  l(`|---|---|---|---|`);
  l(
    `| RPO (data lost) | ${durationText(r.rpo.pitrSeconds)}${r.rpo.pitrQuietSeconds ? ` (newest write ${durationText(r.rpo.pitrQuietSeconds)} before the restore point)` : ""} | ${durationText(r.rpo.storageSeconds)} (backup ${r.names.backupRestored ?? "?"} taken ${r.rpo.storageBackupTakenAt ?? "?"}) | ${r.targets.rpoMinutes ?? "-"} min: **${r.targets.rpo}** |`,
  );
  l(
    `| RTO (time to restore) | ${durationText(r.rto.pitrPathSeconds)} (restore ${durationText(r.rto.pointInTimeRestoreSeconds)} + verify ${durationText(r.rto.verifySeconds)}) | ${durationText(r.rto.storagePathSeconds)} | ${r.targets.rtoMinutes ?? "-"} min: **${r.targets.rto}** |`,
  );
  l();
  if (chart) {
    l(`![RPO and RTO of each drill over time](${chart})`);
    l();
  }
  l(`## Checks`);
  l(`| check | outcome | detail | job |`);
  l(`|---|---|---|---|`);
  for (const c of r.checks) {
    l(
      `| ${cell(c.check)} | ${c.outcome === "failed" ? "**FAILED**" : c.outcome} | ${cell(c.detail)} | ${c.job} |`,
    );
  }
  l();
  l(`## Names and versions`);
  l(
    `- live (read only): ${r.names.liveServer}/${r.names.database}, PostgreSQL ${r.versions.liveServer ?? "?"}`,
  );
  l(
    `- drill server (deleted afterwards): ${r.names.drillServer}, PostgreSQL ${r.versions.drillServer ?? "?"}`,
  );
  l(`- scratch database of the storage restore: ${r.names.scratchDatabase ?? "?"}`);
  l(`- Jobs: ${r.names.jobs.join(", ") || "none"}`);
  l(`- data tool image: ${r.versions.dataToolImage}; runner ${r.versions.runner}`);
  if (r.archived) l(`- archived: ${r.archived}`);
  l();
  l(
    `A drill proves the restores, their inputs and the data tool in this environment. It does not ` +
      `exercise the freeze, the maintenance page, the scale-down or a promotion into live (docs/drill.md).`,
  );
  return `${out.join("\n")}\n`;
}
