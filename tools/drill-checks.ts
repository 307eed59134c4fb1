/**
 * The drill's verdict: is the restored server exactly "the database as of T"?
 * Uses verifyDatabases against a reference rebuilt from the client-side log, plus direct SQL that
 * does not depend on verify at all (so a bug in verify cannot hide a bad restore).
 */
import { Client } from "pg";
import type { verifyDatabases } from "../datapath/verify/verify";
import { fromEpochMicros } from "../contract/time";
import type { Server } from "../test/support/pg-server";
import { AccountRow, DDL, Model, TransferRow, Txn } from "./drill-workload";

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface CheckContext {
  /** Restore target, epoch ms (a whole second). */
  T: number;
  tTyped: string;
  log: Txn[];
  serverCommitMicros: Map<string, bigint>;
  restored: Server;
  primary: Server;
  verify: typeof verifyDatabases;
}

export interface CheckOutcome {
  checks: Check[];
  rpoMs: number;
  newestPreserved: string;
  beforeT: number;
  afterT: number;
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  c.on("error", () => undefined);
  await c.connect();
  try {
    await c.query("SET TimeZone = 'UTC'");
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function runChecks(ctx: CheckContext): Promise<CheckOutcome> {
  const tMicros = BigInt(ctx.T) * 1000n;
  const { before, after, check: sides } = classify(ctx, tMicros);
  const model = Model.of(before);
  const newest = before.reduce((m, t) => {
    const us = ctx.serverCommitMicros.get(t.xid) ?? BigInt(t.ackAt) * 1000n;
    return us > m ? us : m;
  }, 0n);
  await buildReference(ctx, model);
  const checks: Check[] = [sides, await verifyAgainstReference(ctx)];
  const got = await readRestored(ctx, tMicros);
  checks.push(...directChecks(model, got, after, newest));
  checks.push(await verifyAgainstLive(ctx), await writableCheck(ctx));
  return {
    checks,
    rpoMs: Number(tMicros - newest) / 1000,
    newestPreserved: fromEpochMicros(newest).utc,
    beforeT: before.length,
    afterT: after.length,
  };
}

const check = (name: string, ok: boolean, detail?: string): Check => ({ name, ok, detail });

/**
 * Client-side classification: a commit acknowledged by T happened by T; one sent after T
 * happened after. The quiet window around T makes straddlers practically impossible; if one
 * occurs, the server's commit timestamp decides.
 */
function classify(
  ctx: CheckContext,
  tMicros: bigint,
): { before: Txn[]; after: Txn[]; check: Check } {
  const before: Txn[] = [];
  const after: Txn[] = [];
  let disagreements = 0;
  let missingServerTs = 0;
  for (const t of ctx.log) {
    const server = ctx.serverCommitMicros.get(t.xid);
    let isBefore: boolean;
    if (t.ackAt <= ctx.T) isBefore = true;
    else if (t.commitSentAt > ctx.T) isBefore = false;
    else isBefore = server !== undefined && server <= tMicros;
    (isBefore ? before : after).push(t);
    if (server === undefined) missingServerTs++;
    else if (server <= tMicros !== isBefore) disagreements++;
  }
  return {
    before,
    after,
    check: check(
      "client commit log and server commit timestamps agree on which side of T each commit is",
      disagreements === 0 && missingServerTs === 0 && after.length > 0 && before.length > 0,
      `${before.length} before, ${after.length} after, ${disagreements} disagreements, ${missingServerTs} without server timestamp`,
    ),
  };
}

/** Reference database: the state at T, rebuilt purely from what the client saw committed. */
async function buildReference(ctx: CheckContext, model: Model): Promise<void> {
  await withClient(ctx.restored.url(), (c) => c.query("CREATE DATABASE reference"));
  await withClient(ctx.restored.url("reference"), async (c) => {
    await c.query(DDL);
    await c.query(
      "INSERT INTO accounts SELECT * FROM json_populate_recordset(NULL::accounts, $1)",
      [JSON.stringify([...model.accounts.values()])],
    );
    await c.query(
      "INSERT INTO transfers SELECT * FROM json_populate_recordset(NULL::transfers, $1)",
      [JSON.stringify([...model.transfers.values()])],
    );
    await c.query("SELECT setval('accounts_id_seq', max(id)) FROM accounts HAVING count(*) > 0");
    await c.query("SELECT setval('transfers_id_seq', max(id)) FROM transfers HAVING count(*) > 0");
  });
}

async function verifyAgainstReference(ctx: CheckContext): Promise<Check> {
  const rep = await ctx.verify({
    source: ctx.restored.url("reference"),
    target: ctx.restored.url("drill"),
    restoreTarget: ctx.tTyped,
  });
  // Sequences are WAL-logged up to 32 values ahead, so after any recovery they may sit ahead
  // of the last id used: harmless. Behind would be a real problem (ids reused).
  const seqAhead = rep.differences.filter(
    (d) => d.section === "sequences" && !d.detail.includes("BEHIND"),
  );
  const real = rep.differences.filter((d) => !seqAhead.includes(d));
  return check(
    "verify: restored database equals the reference rebuilt from the client log at T",
    real.length === 0,
    real.length
      ? real.map((d) => `[${d.section}] ${d.object}: ${d.detail}`).join("; ")
      : `schema, rows, content and recency identical; ${seqAhead.length} sequence(s) ahead (normal after WAL replay)`,
  );
}

/** What the restored server holds, read directly (independent of verify). */
async function readRestored(ctx: CheckContext, tMicros: bigint) {
  return withClient(ctx.restored.url("drill"), async (c) => ({
    accounts: (
      await c.query<AccountRow>(
        "SELECT id, owner, balance::text AS balance, created_at::text AS created_at, updated_at::text AS updated_at FROM accounts",
      )
    ).rows,
    transfers: (
      await c.query<TransferRow>(
        "SELECT id::text AS id, account_id, amount::text AS amount, created_at::text AS created_at FROM transfers",
      )
    ).rows,
    lateVersions: Number(
      (
        await c.query<{ n: string }>(
          `SELECT (SELECT count(*) FROM accounts WHERE pg_xact_commit_timestamp(xmin) > $1::timestamptz)
                + (SELECT count(*) FROM transfers WHERE pg_xact_commit_timestamp(xmin) > $1::timestamptz) AS n`,
          [fromEpochMicros(tMicros).postgres],
        )
      ).rows[0].n,
    ),
    newestCommit: (
      await c.query<{ us: string | null }>(
        `SELECT (extract(epoch FROM max(ts)) * 1000000)::int8::text AS us FROM (
           SELECT pg_xact_commit_timestamp(xmin) AS ts FROM accounts
           UNION ALL SELECT pg_xact_commit_timestamp(xmin) FROM transfers) s`,
      )
    ).rows[0].us,
    seqOk: (
      await c.query<{ ok: boolean }>(
        `SELECT (SELECT last_value FROM accounts_id_seq) >= (SELECT coalesce(max(id), 0) FROM accounts)
            AND (SELECT last_value FROM transfers_id_seq) >= (SELECT coalesce(max(id), 0) FROM transfers) AS ok`,
      )
    ).rows[0].ok,
  }));
}

/** The rows, their versions, the corruption and the sequences, against the model at T. */
function directChecks(
  model: Model,
  got: Awaited<ReturnType<typeof readRestored>>,
  after: Txn[],
  newest: bigint,
): Check[] {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail?: string) => checks.push(check(name, ok, detail));
  const rowDiff = <R extends { id: number | string }>(want: Map<R["id"], R>, have: R[]) => {
    const haveById = new Map(have.map((r) => [r.id, r]));
    const missing = [...want.keys()].filter((id) => !haveById.has(id));
    const changed = [...want.values()].filter((r) => {
      const h = haveById.get(r.id);
      return h !== undefined && JSON.stringify(h) !== JSON.stringify(r);
    });
    const extra = have.filter((r) => !want.has(r.id));
    return { missing, changed, extra };
  };
  const acc = rowDiff(model.accounts, got.accounts);
  const trf = rowDiff(model.transfers, got.transfers);
  add(
    "every row committed at or before T is present with its value at T",
    acc.missing.length + acc.changed.length + trf.missing.length + trf.changed.length === 0,
    `accounts ${model.accounts.size} expected, ${acc.missing.length} missing, ${acc.changed.length} different; ` +
      `transfers ${model.transfers.size} expected, ${trf.missing.length} missing, ${trf.changed.length} different`,
  );
  const lateIds = new Set(
    after.flatMap((t) => [...t.accounts, ...t.transfers].map((r) => `${r.id}`)),
  );
  add(
    "nothing committed after T is present",
    acc.extra.length + trf.extra.length === 0 && got.lateVersions === 0,
    `${acc.extra.length + trf.extra.length} unexpected rows, ${got.lateVersions} row versions with a commit time after T; ` +
      `${lateIds.size} rows were written after T on the primary`,
  );
  const zeroWant = [...model.accounts.values()].filter((a) => Number(a.balance) === 0).length;
  const zeroGot = got.accounts.filter((a) => Number(a.balance) === 0).length;
  add(
    "the corruption is gone",
    zeroGot === zeroWant &&
      got.transfers.length === model.transfers.size &&
      model.transfers.size > 0,
    `${zeroGot} accounts with balance 0 (expected ${zeroWant}), ${got.transfers.length} transfers (expected ${model.transfers.size}; live now has 0)`,
  );
  add("sequences are at or past every id in use (no id reuse)", got.seqOk);
  const newestRestored = got.newestCommit === null ? null : BigInt(got.newestCommit);
  add(
    "newest commit on the restored server is the newest commit at or before T in the client log",
    newestRestored === newest,
    `${newestRestored === null ? "none" : fromEpochMicros(newestRestored).utc} vs ${fromEpochMicros(newest).utc}`,
  );
  return checks;
}

/**
 * Runbook direction: live (corrupted) as source, the restore as target. It must NOT come out
 * identical, and the restore must hold nothing newer than T.
 */
async function verifyAgainstLive(ctx: CheckContext): Promise<Check> {
  const live = await ctx.verify({
    source: ctx.primary.url("drill"),
    target: ctx.restored.url("drill"),
    restoreTarget: ctx.tTyped,
  });
  const flagged = new Set(live.differences.map((d) => d.object));
  return check(
    "verify (live vs restore) reports the corrupted tables and no post-T data in the restore",
    flagged.has("public.accounts") &&
      flagged.has("public.transfers") &&
      !live.differences.some((d) => d.section === "recency"),
    `${live.verdict}: ${live.differences.map((d) => `[${d.section}] ${d.object}`).join(", ")}`,
  );
}

async function writableCheck(ctx: CheckContext): Promise<Check> {
  const writable = await withClient(ctx.restored.url("drill"), async (c) => {
    const r = await c.query<{ r: boolean }>("SELECT pg_is_in_recovery() AS r");
    await c.query("CREATE TEMP TABLE drill_probe (x int)"); // fails on a read-only standby
    return !r.rows[0].r;
  }).catch(() => false);
  return check("restored server is promoted and accepts writes", writable);
}
