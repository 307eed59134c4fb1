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
import { asServerUser, cluster, Server, serverDir } from "../test/support/pg-server";
import { DDL, sleep, Txn, Writer } from "./drill-workload";
import { Check, runChecks } from "./drill-checks";
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

export async function runDrill(opts: DrillOptions = {}): Promise<DrillResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const seconds = opts.seconds ?? 6;
  const zone = opts.zone ?? "Europe/London";
  const started = Date.now();
  const phasesMs: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    log(`-- ${name}`);
    try {
      return await fn();
    } finally {
      phasesMs[name] = Date.now() - s;
    }
  };

  const base = serverDir(fs.mkdtempSync(path.join(os.tmpdir(), "pg-recovery-drill-")));
  const archive = serverDir(path.join(base, "wal-archive"));
  const cl = cluster(base);
  const servers: Server[] = [];
  const cleanup = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (!opts.keep) fs.rmSync(base, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log("drill: interrupted; stopping servers and removing the work dir");
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    log(`pg-recovery drill: corrupted database -> point-in-time restore (work dir ${base})`);
    const primary = await phase("setup primary", async () => {
      const s = await cl.startArchiving("primary", path.join(base, "primary"), archive, {
        // Server-side commit times, to cross-check the client log and prove nothing after T survives.
        track_commit_timestamp: "on",
      });
      servers.push(s);
      await withClient(s.url(), (c) => c.query("CREATE DATABASE drill"));
      return s;
    });

    const app = new Client({ connectionString: primary.url("drill") });
    app.on("error", () => undefined);
    await app.connect();
    const writer = new Writer(app);
    let T = 0;
    let tTyped = "";
    let corruptionAt = "";
    let shopLegit = new Map<string, Map<string, string>>();
    const shop = await ShopWriter.setup(primary);
    try {
      await writer.init();
      await app.query(DDL);
      for (let i = 0; i < 20; i++) await writer.txn("open"); // data already in the base backup

      await phase("base backup", () => cl.basebackup(primary, path.join(base, "basebackup")));

      await phase(`application writes (${seconds} s)`, async () => {
        const w0 = Date.now();
        // T on a whole second, as an operator types it (and as Azure PTR's 1 s resolution allows).
        T = Math.ceil((w0 + seconds * 600) / 1000) * 1000;
        tTyped = formatRfc3339InZone(T, zone);
        shop.start();
        await writer.runUntil(Math.max(w0 + seconds * 1000, T + 1000), T, QUIET_MS);
        log(
          `   restore target T = ${tTyped} (${zone}); ${writer.log.length} transactions committed`,
        );
      });

      await phase("corruption", async () => {
        corruptionAt = new Date().toISOString();
        await app.query("UPDATE accounts SET balance = 0"); // the classic: no WHERE
        await app.query("DELETE FROM transfers");
        log(`   at ${corruptionAt}: UPDATE accounts SET balance = 0; DELETE FROM transfers`);
        shopLegit = await shop.corrupt(300);
        log("   shop: UPDATE orders without WHERE; DELETE FROM order_lines; DROP TABLE notes");
      });
    } finally {
      await app.end().catch(() => undefined);
      await shop.stop().catch(() => undefined);
    }

    const serverCommitMicros = await phase("archive WAL", async () => {
      const commitTs = await withClient(primary.url("drill"), async (c) => {
        const seg = (await c.query<{ f: string }>("SELECT pg_walfile_name(pg_switch_wal()) AS f"))
          .rows[0].f;
        for (let i = 0; ; i++) {
          const r = await c.query<{ w: string | null }>(
            "SELECT last_archived_wal AS w FROM pg_stat_archiver",
          );
          if (r.rows[0].w !== null && r.rows[0].w >= seg) break;
          if (i > 300) throw new Error(`WAL segment ${seg} was not archived within 30 s`);
          await sleep(100);
        }
        log(`   archived through ${seg}`);
        return readCommitTimes(c, writer.log);
      });
      return commitTs;
    });

    const restored = await phase("point-in-time restore", async () => {
      const dir = path.join(base, "restored");
      await asServerUser("cp", ["-a", path.join(base, "basebackup"), dir]);
      await asServerUser("touch", [path.join(dir, "recovery.signal")]);
      // The operator's RFC 3339 string (with offset) -> the UTC value recovery_target_time gets.
      const target = parseRfc3339(tTyped).postgres;
      log(`   recovery_target_time = '${target}'`);
      const s = await cl.start("restored", dir, {
        restore_command: `cp '${archive}/%f' '%p'`,
        recovery_target_time: target,
        recovery_target_action: "promote",
        archive_mode: "off", // the copy must not write into the primary's archive
      });
      servers.push(s);
      await waitForPromotion(s);
      const stopLine = fs
        .readFileSync(s.logFile, "utf8")
        .split("\n")
        .find((l) => l.includes("recovery stopping"));
      if (stopLine) log(`   ${stopLine.replace(/^.*LOG:\s*/, "")}`);
      return s;
    });

    const checked = await phase("checks", () =>
      runChecks({
        T,
        tTyped,
        log: writer.log,
        serverCommitMicros,
        restored,
        primary,
        verify: verifyDatabases,
      }),
    );

    const promotion = await phase("promotion modes", () =>
      rehearsePromotion({ primary, restored, restoreTarget: tTyped, legit: shopLegit, log }),
    );

    const totalMs = Date.now() - started;
    log("");
    log(`restore target T:  ${tTyped}  (UTC ${new Date(T).toISOString()})`);
    log(
      `transactions:      ${checked.beforeT} committed at or before T, ${checked.afterT} after; ` +
        `corruption at ${corruptionAt}`,
    );
    log(
      `RPO achieved:      ${checked.rpoMs.toFixed(1)} ms (newest preserved commit ${checked.newestPreserved}; ` +
        `writes paused ${QUIET_MS} ms either side of T)`,
    );
    log("checks:");
    for (const c of checked.checks)
      log(`  ${c.ok ? "PASS" : "FAIL"}  ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
    for (const line of formatRehearsal(promotion)) log(line);
    log("promotion checks:");
    for (const c of promotion.checks)
      log(`  ${c.ok ? "PASS" : "FAIL"}  ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
    log("phases:");
    for (const [name, ms] of Object.entries(phasesMs))
      log(`  ${name.padEnd(30)} ${(ms / 1000).toFixed(2)} s`);
    log(`  ${"total".padEnd(30)} ${(totalMs / 1000).toFixed(2)} s`);
    const ok = checked.checks.every((c) => c.ok) && promotion.checks.every((c) => c.ok);
    log(ok ? "DRILL PASSED" : "DRILL FAILED");
    if (opts.keep) log(`kept ${base}`);
    return {
      ok,
      restoreTarget: tTyped,
      rpoMs: checked.rpoMs,
      transactions: { beforeT: checked.beforeT, afterT: checked.afterT },
      checks: checked.checks,
      phasesMs,
      totalMs,
      dir: base,
      promotion,
    };
  } catch (err) {
    if (interrupted) throw new Error("interrupted");
    if (opts.keep) log(`drill error; logs kept in ${base}`);
    else log(`drill error; server logs:\n${tailLogs(base)}`);
    throw err;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup();
  }
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
