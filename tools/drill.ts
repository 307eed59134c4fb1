/**
 * `npm run drill`: rehearses the runbook's "database is corrupted" path on real PostgreSQL.
 *
 * primary with WAL archiving -> base backup -> writes over time (commit times logged client-side)
 * -> note T -> more writes -> corruption (UPDATE/DELETE without WHERE) -> WAL switch + archive
 * -> new server from the base backup replaying the archive to recovery_target_time = T -> promote
 * -> checks: verifyDatabases against a reference rebuilt from the client log, plus direct SQL.
 *
 * Self-contained: own servers under a temp dir on 127.0.0.1, removed even on failure (--keep to
 * leave them). No Pulumi: the restore-target parsing is datapath's, as the operator would use it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { verifyDatabases } from "../datapath/verify/verify";
import { formatRfc3339InZone, parseRfc3339 } from "../contract/time";
import {
  archiveThroughNow,
  asServerUser,
  Cluster,
  cluster,
  Server,
  serverDir,
} from "../test/support/pg-server";
import { DDL, sleep, Txn, Writer } from "./drill-workload";
import { Check, CheckOutcome, runChecks } from "./drill-checks";
import { runRestoreDrill } from "./drill-restore";
import {
  formatRehearsal,
  PromotionRehearsal,
  rehearsePromotion,
  ShopWriter,
} from "./drill-promotion";

export interface DrillOptions {
  /** Seconds of application writes (T falls about 60% of the way in). Default 6. */
  seconds?: number;
  /** Leave the temp directory (data dirs, WAL archive, logs) behind. */
  keep?: boolean;
  /** IANA zone used to print T the way an operator would type it. */
  zone?: string;
  log?: (line: string) => void;
}

export interface DrillResult {
  ok: boolean;
  /** T as typed by the operator: RFC 3339 with explicit offset. */
  restoreTarget: string;
  rpoMs: number;
  transactions: { beforeT: number; afterT: number };
  checks: Check[];
  phasesMs: Record<string, number>;
  totalMs: number;
  dir: string;
  /** Each promotion mode run on a copy of the corrupted `shop` database (drill-promotion.ts). */
  promotion: PromotionRehearsal;
}

/** No transaction starts within this many ms of T: commits fall clearly on one side. */
const QUIET_MS = 150;

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Runs one timed phase of the drill: announces it, and records its duration for the summary. */
type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** What every phase of the drill shares: where it works, what it started, how it reports. */
interface DrillRun {
  base: string;
  archive: string;
  cl: Cluster;
  /** Every server started, stopped by the cleanup. */
  servers: Server[];
  log: (line: string) => void;
  phase: Phase;
  phasesMs: Record<string, number>;
}

/** The state the writes and the corruption leave behind, for the restore and the checks. */
interface Incident {
  /** T in ms since the epoch, and as the operator types it. */
  T: number;
  tTyped: string;
  corruptionAt: string;
  /** The shop's rows as the app legitimately left them (drill-promotion.ts counts against it). */
  shopLegit: Map<string, Map<string, string>>;
  writer: Writer;
}

/** The corrupted-path rehearsal, end to end; its servers and work dir go whatever happens. */
export async function runDrill(opts: DrillOptions = {}): Promise<DrillResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const seconds = opts.seconds ?? 6;
  const zone = opts.zone ?? "Europe/London";
  const started = Date.now();
  const phasesMs: Record<string, number> = {};
  const phase = phaseTimer(log, phasesMs);

  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pg-recovery-drill-")));
  const archive = serverDir(path.join(base, "wal-archive"));
  const run: DrillRun = { base, archive, cl: cluster(base), servers: [], log, phase, phasesMs };
  const cleanup = async () => {
    await Promise.all(run.servers.map((s) => s.stop()));
    if (!opts.keep) fs.rmSync(base, { recursive: true, force: true });
  };
  const signals = stopOnSignal(log, cleanup);

  try {
    log(`pg-recovery drill: corrupted database -> point-in-time restore (work dir ${base})`);
    const { incident, checked, promotion } = await rehearse(run, seconds, zone);
    const totalMs = Date.now() - started;
    const ok = reportDrill(run, incident, checked, promotion, totalMs);
    if (opts.keep) log(`kept ${base}`);
    return {
      ok,
      restoreTarget: incident.tTyped,
      rpoMs: checked.rpoMs,
      transactions: { beforeT: checked.beforeT, afterT: checked.afterT },
      checks: checked.checks,
      phasesMs,
      totalMs,
      dir: base,
      promotion,
    };
  } catch (err) {
    if (signals.interrupted()) throw new Error("interrupted");
    if (opts.keep) log(`drill error; logs kept in ${base}`);
    else log(`drill error; server logs:\n${tailLogs(base)}`);
    throw err;
  } finally {
    signals.remove();
    await cleanup();
  }
}

/** A `Phase` that logs `-- name` and adds the phase's duration to `phasesMs`, even on failure. */
function phaseTimer(log: (line: string) => void, phasesMs: Record<string, number>): Phase {
  return async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    log(`-- ${name}`);
    try {
      return await fn();
    } finally {
      phasesMs[name] = Date.now() - s;
    }
  };
}

/**
 * Ctrl-C or SIGTERM mid-drill: stop the servers and remove the work dir before exiting 130, so
 * an interrupted drill leaves nothing running. `remove` takes the handlers off again.
 */
function stopOnSignal(
  log: (line: string) => void,
  cleanup: () => Promise<void>,
): { interrupted: () => boolean; remove: () => void } {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log("drill: interrupted; stopping servers and removing the work dir");
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    interrupted: () => interrupted,
    remove: () => {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    },
  };
}

/**
 * The drill's phases in the runbook's order: the primary, the incident (writes, corruption), the
 * WAL archived, the point-in-time restore, the checks, then the promotion modes.
 */
async function rehearse(
  run: DrillRun,
  seconds: number,
  zone: string,
): Promise<{ incident: Incident; checked: CheckOutcome; promotion: PromotionRehearsal }> {
  const { phase, log } = run;
  const primary = await setupPrimary(run);
  const incident = await writeAndCorrupt(run, primary, seconds, zone);
  const serverCommitMicros = await phase("archive WAL", () =>
    archiveWal(primary, incident.writer.log, log),
  );
  const restored = await phase("point-in-time restore", () =>
    pointInTimeRestore(run, incident.tTyped),
  );

  const checked = await phase("checks", () =>
    runChecks({
      T: incident.T,
      tTyped: incident.tTyped,
      log: incident.writer.log,
      serverCommitMicros,
      restored,
      primary,
      verify: verifyDatabases,
    }),
  );

  const promotion = await phase("promotion modes", () =>
    rehearsePromotion({
      primary,
      restored,
      restoreTarget: incident.tTyped,
      legit: incident.shopLegit,
      log,
    }),
  );
  return { incident, checked, promotion };
}

/** Phase "setup primary": the live server, archiving its WAL, with the `drill` database. */
function setupPrimary(run: DrillRun): Promise<Server> {
  return run.phase("setup primary", async () => {
    const s = await run.cl.startArchiving("primary", path.join(run.base, "primary"), run.archive, {
      // Server-side commit times, to cross-check the client log and prove nothing after T survives.
      track_commit_timestamp: "on",
    });
    run.servers.push(s);
    await withClient(s.url(), (c) => c.query("CREATE DATABASE drill"));
    return s;
  });
}

/**
 * The incident on the primary: seed rows, the base backup, the application's writes around T,
 * then the corruption. The app's and the shop's connections close whatever happens.
 */
async function writeAndCorrupt(
  run: DrillRun,
  primary: Server,
  seconds: number,
  zone: string,
): Promise<Incident> {
  const app = new Client({ connectionString: primary.url("drill") });
  app.on("error", () => undefined);
  await app.connect();
  const writer = new Writer(app);
  const shop = await ShopWriter.setup(primary);
  try {
    await writer.init();
    await app.query(DDL);
    for (let i = 0; i < 20; i++) await writer.txn("open"); // data already in the base backup

    await run.phase("base backup", () =>
      run.cl.basebackup(primary, path.join(run.base, "basebackup")),
    );
    const { T, tTyped } = await applicationWrites(run, writer, shop, seconds, zone);
    const { corruptionAt, shopLegit } = await corruption(run, app, shop);
    return { T, tTyped, corruptionAt, shopLegit, writer };
  } finally {
    await app.end().catch(() => undefined);
    await shop.stop().catch(() => undefined);
  }
}

/** Phase "application writes": writes for `seconds`, pausing around T (picked here). */
function applicationWrites(
  run: DrillRun,
  writer: Writer,
  shop: ShopWriter,
  seconds: number,
  zone: string,
): Promise<{ T: number; tTyped: string }> {
  return run.phase(`application writes (${seconds} s)`, async () => {
    const w0 = Date.now();
    // T on a whole second, as an operator types it (and as Azure PTR's 1 s resolution allows).
    const T = Math.ceil((w0 + seconds * 600) / 1000) * 1000;
    const tTyped = formatRfc3339InZone(T, zone);
    shop.start();
    await writer.runUntil(Math.max(w0 + seconds * 1000, T + 1000), T, QUIET_MS);
    run.log(
      `   restore target T = ${tTyped} (${zone}); ${writer.log.length} transactions committed`,
    );
    return { T, tTyped };
  });
}

/** Phase "corruption": the classic statements without WHERE, on `drill` and on `shop`. */
function corruption(
  run: DrillRun,
  app: Client,
  shop: ShopWriter,
): Promise<{ corruptionAt: string; shopLegit: Map<string, Map<string, string>> }> {
  return run.phase("corruption", async () => {
    const corruptionAt = new Date().toISOString();
    await app.query("UPDATE accounts SET balance = 0"); // the classic: no WHERE
    await app.query("DELETE FROM transfers");
    run.log(`   at ${corruptionAt}: UPDATE accounts SET balance = 0; DELETE FROM transfers`);
    const shopLegit = await shop.corrupt(300);
    run.log("   shop: UPDATE orders without WHERE; DELETE FROM order_lines; DROP TABLE notes");
    return { corruptionAt, shopLegit };
  });
}

/**
 * Switches WAL and waits until the segment holding the corruption is archived (the restore
 * replays only the archive), then reads the server's commit times of the logged transactions.
 */
async function archiveWal(
  primary: Server,
  txns: Txn[],
  log: (line: string) => void,
): Promise<Map<string, bigint>> {
  return withClient(primary.url("drill"), async (c) => {
    log(`   archived through ${await archiveThroughNow(c)}`);
    return readCommitTimes(c, txns);
  });
}

/**
 * A new server from the base backup, replaying the archive to the operator's T and promoting
 * there; logs where recovery stopped.
 */
async function pointInTimeRestore(run: DrillRun, tTyped: string): Promise<Server> {
  const dir = path.join(run.base, "restored");
  await asServerUser("cp", ["-a", path.join(run.base, "basebackup"), dir]);
  await asServerUser("touch", [path.join(dir, "recovery.signal")]);
  // The operator's RFC 3339 string (with offset) -> the UTC value recovery_target_time gets.
  const target = parseRfc3339(tTyped).postgres;
  run.log(`   recovery_target_time = '${target}'`);
  const s = await run.cl.start("restored", dir, {
    restore_command: `cp '${run.archive}/%f' '%p'`,
    recovery_target_time: target,
    recovery_target_action: "promote",
    archive_mode: "off", // the copy must not write into the primary's archive
  });
  run.servers.push(s);
  await waitForPromotion(s);
  const stopLine = fs
    .readFileSync(s.logFile, "utf8")
    .split("\n")
    .find((l) => l.includes("recovery stopping"));
  if (stopLine) run.log(`   ${stopLine.replace(/^.*LOG:\s*/, "")}`);
  return s;
}

/** The drill's closing summary: T, transactions, RPO, every check, phases; true when all passed. */
function reportDrill(
  run: DrillRun,
  incident: Incident,
  checked: CheckOutcome,
  promotion: PromotionRehearsal,
  totalMs: number,
): boolean {
  const { log } = run;
  log("");
  log(`restore target T:  ${incident.tTyped}  (UTC ${new Date(incident.T).toISOString()})`);
  log(
    `transactions:      ${checked.beforeT} committed at or before T, ${checked.afterT} after; ` +
      `corruption at ${incident.corruptionAt}`,
  );
  log(
    `RPO achieved:      ${checked.rpoMs.toFixed(1)} ms (newest preserved commit ${checked.newestPreserved}; ` +
      `writes paused ${QUIET_MS} ms either side of T)`,
  );
  log("checks:");
  logChecks(log, checked.checks);
  for (const line of formatRehearsal(promotion)) log(line);
  log("promotion checks:");
  logChecks(log, promotion.checks);
  log("phases:");
  for (const [name, ms] of Object.entries(run.phasesMs))
    log(`  ${name.padEnd(30)} ${(ms / 1000).toFixed(2)} s`);
  log(`  ${"total".padEnd(30)} ${(totalMs / 1000).toFixed(2)} s`);
  const ok = checked.checks.every((c) => c.ok) && promotion.checks.every((c) => c.ok);
  log(ok ? "DRILL PASSED" : "DRILL FAILED");
  return ok;
}

/** One `PASS`/`FAIL` line per check. */
function logChecks(log: (line: string) => void, checks: Check[]): void {
  for (const c of checks)
    log(`  ${c.ok ? "PASS" : "FAIL"}  ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
}

/** Server-side commit timestamps (µs) of the logged transactions, by xid. */
async function readCommitTimes(c: Client, txns: Txn[]): Promise<Map<string, bigint>> {
  const res = await c.query<{ x: string; us: string | null }>(
    `SELECT x::text AS x,
            (extract(epoch FROM pg_xact_commit_timestamp((x % 4294967296)::text::xid)) * 1000000)::int8::text AS us
       FROM unnest($1::int8[]) AS u(x)`,
    [txns.map((t) => t.xid)],
  );
  return new Map(res.rows.filter((r) => r.us !== null).map((r) => [r.x, BigInt(r.us!)]));
}

/** Polls until the restored server has left recovery; fails fast if it died. */
async function waitForPromotion(s: Server): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const inRecovery = await withClient(s.url(), async (c) => {
        return (await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r")).rows[0].r;
      });
      if (!inRecovery) return;
    } catch (err) {
      const logText = fs.existsSync(s.logFile) ? fs.readFileSync(s.logFile, "utf8") : "";
      if (/FATAL|PANIC/.test(logText)) {
        throw new Error(
          `restored server failed: ${logText
            .split("\n")
            .filter((l) => /FATAL|PANIC/.test(l))
            .join("; ")}`,
        );
      }
      if (Date.now() > deadline - 1000) throw err;
    }
    await sleep(100);
  }
  throw new Error("restored server did not promote within 60 s");
}

function tailLogs(base: string): string {
  try {
    return fs
      .readdirSync(base)
      .filter((f) => f.endsWith(".log"))
      .map(
        (f) =>
          `== ${f}\n${fs.readFileSync(path.join(base, f), "utf8").split("\n").slice(-15).join("\n")}`,
      )
      .join("\n");
  } catch {
    return "(no logs)";
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      keep: { type: "boolean" },
      zone: { type: "string" },
      // `drill`: the restore drill's data part (tools/drill-restore.ts); default: corrupted.
      scenario: { type: "string" },
      "break-table": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: npm run drill -- [--seconds N] [--keep] [--zone Europe/London]   (the corrupted path)\n" +
        "       npm run drill -- --scenario drill [--break-table schema.table] [--keep]   (the restore drill's data part)\n",
    );
  } else if (values.scenario !== undefined && values.scenario !== "corrupted") {
    if (values.scenario !== "drill") {
      process.stderr.write(`drill: --scenario must be corrupted (default) or drill\n`);
      process.exitCode = 2;
    } else {
      runRestoreDrill({ breakTable: values["break-table"], keep: values.keep }).then(
        (r) => (process.exitCode = r.ok ? 0 : 1),
        (err) => {
          process.stderr.write(`drill: error: ${(err as Error).stack ?? err}\n`);
          process.exitCode = 2;
        },
      );
    }
  } else {
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    if (seconds !== undefined && !(seconds >= 2 && seconds <= 600)) {
      process.stderr.write("drill: --seconds must be between 2 and 600\n");
      process.exitCode = 2;
    } else {
      runDrill({ seconds, keep: values.keep, zone: values.zone }).then(
        (r) => (process.exitCode = r.ok ? 0 : 1),
        (err) => {
          process.stderr.write(`drill: error: ${(err as Error).stack ?? err}\n`);
          process.exitCode = 2;
        },
      );
    }
  }
}
