/**
 * What the runner's command tests share: the incident they run (production, corrupted, restore
 * time), how a command runs against a test world, and Jobs that succeed.
 */
import * as assert from "node:assert/strict";
import { EXIT } from "../../../contract/data-tool";
import { main } from "../../../runner/cli";
import type { Deps } from "../../../runner/context";
import { testIo, World } from "./fakes";

export const LIVE = "s189p01-ptt-pd-pg";
export const DATE = "2026-11-25";
export const RESTORE = "2026-11-25T06:59:00+01:00";
export const job = (suffix: string) => `pgr-${DATE}-${suffix}`;

export async function run(w: World, argv: string[], io = testIo(), deps?: Deps) {
  const code = await main(argv, deps ?? w.deps(io));
  return { code, io, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

/** Runs a command that must be refused (exit 1, EXIT.failed); what it printed. */
export async function refused(w: World, argv: string[], io = testIo()) {
  const r = await run(w, argv, io);
  assert.equal(r.code, EXIT.failed, r.err);
  return r;
}

/** Every position found (>= 0, else `missing`) and ascending: the runbook's order. */
export function assertRunbookOrder(order: number[], missing: string) {
  assert.ok(
    order.every((i) => i >= 0),
    missing,
  );
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    order,
    "runbook order",
  );
}

export const start = startArgv({ scenario: "corrupted", restoreTime: RESTORE });
export const yes = ["--yes", "production"];

export function jobsSucceed(w: World) {
  w.cluster.setJob(
    job("adhoc-backup"),
    { state: "succeeded", containers: [{ name: "backup", exitCode: 0 }] },
    {
      backup: "backup ptt_pd_adhoc_2026-11-25: 1.2 GB in 40s",
    },
  );
  w.cluster.setJob(
    job("validation"),
    {
      state: "failed",
      containers: [
        { name: "verify", exitCode: 1 },
        { name: "promotion-plan", exitCode: 0 },
      ],
    },
    {
      verify:
        "public.courses: 1204 rows in live, 1311 in the PTR (107 missing in live)\n1 table differs",
      "promotion-plan": "merge public.courses: re-insert 107 rows, lose nothing",
    },
  );
}

/** `pg-recovery start ...` from its values: the argv the tests run. */
export function startArgv(o: {
  stack?: string;
  scenario?: string;
  restoreTime?: string;
  deletedAt?: string;
  incidentDate?: string;
  noticedAt?: string;
  dryRun?: boolean;
  yes?: string;
}): string[] {
  return [
    "start",
    "--stack",
    o.stack ?? "production",
    ...(o.scenario ? ["--scenario", o.scenario] : []),
    ...(o.restoreTime ? ["--restore-time", o.restoreTime] : []),
    ...(o.deletedAt ? ["--deleted-at", o.deletedAt] : []),
    ...(o.incidentDate ? ["--incident-date", o.incidentDate] : []),
    ...(o.noticedAt ? ["--noticed-at", o.noticedAt] : []),
    ...(o.dryRun ? ["--dry-run"] : []),
    ...(o.yes ? ["--yes", o.yes] : []),
  ];
}

/** `pg-recovery commands --stack <stack> --set k=v ...`. */
export function commandsArgv(stack: string, sets: Record<string, string> = {}): string[] {
  return [
    "commands",
    "--stack",
    stack,
    ...Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
  ];
}

/** production, corrupted, promoting two tables: the plan break-glass and the summary read. */
export const CORRUPTED_PROMOTE_SETS = {
  scenario: "corrupted",
  incidentDate: "2026-11-25",
  restoreTime: "2026-11-25T05:59:00Z",
  promote: "true",
  promotionMode: "tables",
  promotionTables: "public.courses,public.sites",
  confirm: LIVE,
};

/** `pg-recovery promote ...` from its values. */
export function promoteArgv(o: {
  stack?: string;
  mode: string;
  tables?: string;
  confirm?: string;
  dryRun?: boolean;
  yes?: string;
}): string[] {
  return [
    "promote",
    "--stack",
    o.stack ?? "production",
    "--mode",
    o.mode,
    ...(o.tables ? ["--tables", o.tables] : []),
    "--confirm",
    o.confirm ?? LIVE,
    ...(o.dryRun ? ["--dry-run"] : []),
    ...(o.yes ? ["--yes", o.yes] : []),
  ];
}
