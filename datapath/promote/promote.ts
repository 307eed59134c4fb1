/**
 * `promote`: copy the point-in-time restore (PTR, the state at T) into live, in one of three
 * modes, or (--plan) show what each mode would write and lose. Straight from the PTR server: no
 * storage on the critical path (the archival backup of the PTR is a separate `backup` run).
 *
 * Everything is checked before anything is written, and every refusal leaves live untouched:
 * --confirm must name live exactly; chosen tables must exist at T, have a primary key and the same
 * columns and constraints on both sides; foreign keys must not carry the change outside the
 * chosen tables (see foreign-keys.ts and apply.ts).
 */
import type { Client } from "pg";
import { PROMOTION_MODES, PromotionMode, UsageError } from "../../contract/data-tool";
import { Instant, parseRfc3339 } from "../../contract/time";
import { ConfigError } from "../errors";
import {
  confirmationFor,
  connect,
  describeTarget,
  libpqEnv,
  PgTarget,
  secretsOf,
} from "../postgres/connection";
import { runTool } from "../postgres/pgtools";
import { LogFn } from "../progress";
import {
  EndpointSpec,
  identityOf,
  openSide,
  refuseHiddenRows,
  refuseUnreadable,
  resolveEndpoint,
  SESSION_SETTINGS,
  Side,
  SideNaming,
} from "../verify/connect";
import { applyChosen, ApplyResult } from "./apply";
import { DbModel, readModel, TableModel } from "./catalog";
import { buildPlan, PromotionPlan } from "./plan";
import { wholeProblems } from "./privileges";
import { ChosenTable, PromoteRefusedError, refusedBeforeWriting, resolveTables } from "./selection";
import { copyFromPtr } from "./source";
import { promoteWhole, WholeResult } from "./whole";

export { PromoteRefusedError };

export interface PromoteOptions {
  /** The PTR database (the state at T). */
  from: EndpointSpec;
  /** Live. */
  to: EndpointSpec;
  restoreTarget?: string;
  mode?: string;
  tables?: string[];
  plan?: boolean;
  confirm?: string;
  /** Names the schema keeping replaced rows: pgr_<incident>_replaced. */
  incident?: string;
  jobs?: number;
  env?: NodeJS.ProcessEnv;
  log?: LogFn;
  /** Tests: how long tables mode waits for locks; a progress/fault hook during the copy. */
  lockTimeoutMs?: number;
  onCopyChunk?: (table: string, bytes: number) => void | Promise<void>;
  /** Tests: whole pipes tables from this size psql to psql (default 16 MB). */
  pipeFrom?: number;
}

export type PromoteOutcome =
  | { kind: "plan"; plan: PromotionPlan }
  | { kind: "applied"; result: ApplyResult; target: string; seconds: number }
  | { kind: "whole"; result: WholeResult; target: string; seconds: number };

const DEFAULT_JOBS = 2;

/** The two sides as promote's flags (`--from-*`, `--to-*`) and messages name them. */
const SIDES: Record<"ptr" | "live", SideNaming> = {
  ptr: { flag: "from", words: "the PTR" },
  live: { flag: "to", words: "live" },
};

/** `pgr_<incident>_replaced`, a plain lower-case identifier whatever the incident is called. */
export function keepSchemaName(incident: string): string {
  const tag = incident
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return `pgr_${tag.slice(0, 63 - "pgr__replaced".length)}_replaced`;
}

/** The default incident tag: the restore target, e.g. 20240724t055900z. */
export function incidentTag(t: Instant): string {
  return t.utc.replace(/\.\d+/, "").replace(/[-:]/g, "").toLowerCase();
}

export async function promote(o: PromoteOptions): Promise<PromoteOutcome> {
  const env = o.env ?? process.env;
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const request = checkedRequest(o);
  const { ptr, live, expected } = confirmedEndpoints(o, request.mode, env);
  const { mode, jobs } = request;

  // Sessions per side in one snapshot: comparisons and small-table copies (as verify, at most 8).
  const size = o.plan || mode === "whole" ? Math.min(Math.max(1, jobs), 8) : 1;
  // tables and merge write in a session of their own, opened while the schemas are read.
  const writer = !o.plan && mode !== "whole" ? openWriter(live) : undefined;
  writer?.catch(() => undefined); // awaited where it is used; a failure is reported there
  const sides = await Promise.allSettled([
    openSide("target", ptr, size),
    openSide("source", live, o.plan ? size : 1),
  ]);
  const opened = sides.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    sides.forEach((s, i) => {
      if (s.status === "rejected") {
        const which =
          i === 0
            ? `${SIDES.ptr.words} ${describeTarget(ptr)}`
            : `${SIDES.live.words} ${describeTarget(live)}`;
        throw new Error(`cannot connect to ${which}: ${(s.reason as Error).message}`);
      }
    });
    const [ptrSide, liveSide] = opened as [Side, Side];
    const named: [string, Side][] = [
      ["the PTR", ptrSide],
      ["live", liveSide],
    ];
    await refuseUnreadable(named, null);
    await refuseHiddenRows(named, null);
    log(`promote: reading the schema of the PTR ${ptrSide.redacted} and live ${liveSide.redacted}`);
    const [ptrModel, liveModel] = await Promise.all([
      readModel(ptrSide.clients[0]),
      readModel(liveSide.clients[0]),
    ]);
    const read: ReadSides = { ptr, live, ptrSide, liveSide, ptrModel, liveModel, env, log };
    if (o.plan) return { kind: "plan", plan: await planned(read, request, o) };
    // Past --plan, a write session means tables or merge.
    const outcome = writer
      ? { kind: "applied" as const, result: await writeChosen(read, request, o, writer) }
      : { kind: "whole" as const, result: await writeWhole(read, request, o) };
    return { ...outcome, target: expected, seconds: (Date.now() - started) / 1000 };
  } finally {
    await Promise.all([
      ...opened.map((s) => s.close().catch(() => undefined)),
      writer?.then((c) => c.end()).catch(() => undefined),
    ]);
  }
}

/** What the command line asked for, checked before any connection. */
interface Request {
  target: Instant;
  mode: PromotionMode | undefined;
  chosenNames: string[];
  jobs: number;
}

/** Both sides open in their snapshots, and their schemas read. */
interface ReadSides {
  ptr: PgTarget;
  live: PgTarget;
  ptrSide: Side;
  liveSide: Side;
  ptrModel: DbModel;
  liveModel: DbModel;
  env: NodeJS.ProcessEnv;
  log: LogFn;
}

/** The usage checks: restore target, mode, --plan or --confirm, tables for the mode. */
function checkedRequest(o: PromoteOptions): Request {
  if (!o.restoreTarget) {
    throw new UsageError(
      "promote needs --restore-target (the PTR's point in time, RFC 3339 with offset)",
    );
  }
  let target: Instant;
  try {
    target = parseRfc3339(o.restoreTarget);
  } catch (e) {
    throw new UsageError(`--restore-target: ${(e as Error).message}`);
  }
  const mode = o.mode as PromotionMode | undefined;
  if (mode !== undefined && !PROMOTION_MODES.includes(mode)) {
    throw new UsageError(`--mode must be one of ${PROMOTION_MODES.join(", ")}, got "${o.mode}"`);
  }
  if (!o.plan && mode === undefined) {
    throw new UsageError(
      `promote needs --mode ${PROMOTION_MODES.join("|")} (or --plan to compare them)`,
    );
  }
  if (o.plan && o.confirm !== undefined) {
    throw new UsageError("give --plan (changes nothing) or --confirm (writes), not both");
  }
  const chosenNames = o.tables ?? [];
  if (!o.plan && (mode === "tables" || mode === "merge") && chosenNames.length === 0) {
    throw new UsageError(`--mode ${mode} needs --tables schema.table,... (the tables to repair)`);
  }
  if (!o.plan && mode === "whole" && chosenNames.length) {
    throw new UsageError("--mode whole replaces every table: drop --tables, or use --mode tables");
  }
  // Two incidents named only with symbols would share one schema, `pgr__replaced`.
  if (o.incident !== undefined && !/[a-z0-9]/i.test(o.incident)) {
    throw new UsageError(
      `--incident names the schema pgr_<incident>_replaced: it needs a letter or digit, got "${o.incident}"`,
    );
  }
  return { target, mode, chosenNames, jobs: o.jobs ?? DEFAULT_JOBS };
}

/** The PTR and live, told apart; a write needs --confirm naming live exactly. */
function confirmedEndpoints(
  o: PromoteOptions,
  mode: PromotionMode | undefined,
  env: NodeJS.ProcessEnv,
): { ptr: PgTarget; live: PgTarget; expected: string } {
  const ptr = resolveEndpoint(o.from, SIDES.ptr, env);
  const live = resolveEndpoint(o.to, SIDES.live, env);
  if (identityOf(ptr) === identityOf(live)) {
    throw new ConfigError(
      `the PTR (--from) and live (--to) are the same database (${identityOf(live)}); point --from-host/--from-name at the restored server`,
    );
  }
  const expected = confirmationFor(live);
  if (!o.plan) {
    if (o.confirm === undefined) {
      throw new PromoteRefusedError(
        `promote --mode ${mode} writes into live ${expected}: rerun with --confirm ${expected} (or --plan to see what it would do). Nothing was written.`,
      );
    }
    if (o.confirm !== expected) {
      throw new PromoteRefusedError(
        `--confirm "${o.confirm}" does not match live ${expected} (server = first DNS label of the host); nothing was written`,
      );
    }
  }
  return { ptr, live, expected };
}

/** --plan: what each mode would write and lose; a refused table choice becomes the plan's. */
async function planned(
  read: ReadSides,
  request: Request,
  o: PromoteOptions,
): Promise<PromotionPlan> {
  const { ptr, live, ptrSide, liveSide, ptrModel, liveModel, log } = read;
  let chosen: ChosenTable[] | undefined;
  const problems: string[] = [];
  if (request.chosenNames.length) {
    try {
      chosen = resolveTables(request.chosenNames, ptrModel, liveModel);
    } catch (e) {
      if (!(e instanceof PromoteRefusedError)) throw e;
      problems.push(
        ...e.message
          .split("\n")
          .slice(1)
          .map((l) => l.trim()),
      );
    }
  }
  return buildPlan({
    ptr: ptrSide.clients,
    live: liveSide.clients,
    ptrModel,
    liveModel,
    restoreTarget: request.target,
    ptrName: shortName(ptr),
    liveName: shortName(live),
    mode: request.mode,
    chosen,
    chosenProblems: problems,
    keepSchema: keepSchemaOf(o, request),
    log,
  });
}

/** --mode whole: the PTR's database swapped in for live's. */
async function writeWhole(
  read: ReadSides,
  request: Request,
  o: PromoteOptions,
): Promise<WholeResult> {
  const { ptr, live, ptrSide, liveSide, ptrModel, env, log } = read;
  // Before anything is created, as the plan refuses it (privileges.ts).
  const problems = await wholeProblems(liveSide.clients[0]);
  if (problems.length) throw refusedBeforeWriting("whole", problems);
  // The swap ends every session on live: ours first.
  await liveSide.close();
  const snapshot = await exportSnapshot(ptrSide.clients[0]);
  return promoteWhole({
    ptr,
    ptrSessions: ptrSide.clients,
    snapshot,
    tables: [...ptrModel.tables.values()],
    live,
    confirmed: true,
    tag: incidentTag(request.target).slice(0, 15),
    jobs: request.jobs,
    env,
    secrets: [...secretsOf(ptr), ...secretsOf(live)],
    log,
    sessionSettings: SESSION_SETTINGS,
    onCopyChunk: o.onCopyChunk,
    pipeFrom: o.pipeFrom,
  });
}

/** --mode tables or merge: the chosen tables written into live in one transaction. */
async function writeChosen(
  read: ReadSides,
  request: Request,
  o: PromoteOptions,
  opening: Promise<Client>,
): Promise<ApplyResult> {
  const { ptr, live, ptrSide, liveSide, ptrModel, liveModel, env, log } = read;
  const chosen = resolveTables(request.chosenNames, ptrModel, liveModel);
  // The live snapshot is done with: the writes run in their own session and transaction.
  const [writer, snapshot] = await Promise.all([
    opening.catch((e: Error) => {
      throw new Error(`cannot connect to live ${liveSide.redacted}: ${e.message}`, { cause: e });
    }),
    exportSnapshot(ptrSide.clients[0]),
    liveSide.close(),
  ]);
  const secrets = [...secretsOf(ptr), ...secretsOf(live)];
  return applyChosen({
    mode: request.mode as "tables" | "merge",
    ptr: ptrSide.clients[0],
    live: writer,
    ptrModel,
    liveModel,
    chosen,
    keepSchema: keepSchemaOf(o, request),
    restoreTarget: request.target.utc,
    source: (sql) => copyFromPtr({ ptr, env, secrets, settings: SESSION_SETTINGS, snapshot }, sql),
    definitionAtT: (t) => definitionAtT(ptr, t, env),
    lockTimeoutMs: o.lockTimeoutMs,
    log,
    onCopyChunk: o.onCopyChunk,
  });
}

/** The incident's schema of this run: --incident's, else the restore target's. */
const keepSchemaOf = (o: PromoteOptions, request: Request) =>
  keepSchemaName(o.incident ?? incidentTag(request.target));

/** server/database, as --confirm spells it. */
function shortName(t: PgTarget): string {
  return confirmationFor(t);
}

/** The PTR session's snapshot for other sessions to read in (undefined if the server refuses). */
async function exportSnapshot(c: Client): Promise<string | undefined> {
  return c
    .query<{ s: string }>("SELECT pg_catalog.pg_export_snapshot() AS s")
    .then((r) => r.rows[0].s)
    .catch(() => undefined);
}

async function openWriter(live: PgTarget): Promise<Client> {
  const c = await connect({
    ...live,
    params: { application_name: "pg-recovery-promote", ...live.params },
  });
  for (const [k, v] of Object.entries(SESSION_SETTINGS)) {
    await c.query("SELECT pg_catalog.set_config($1, $2, false)", [k, v]);
  }
  // The staging copies are temporary tables: let them stay in memory (the default is 8 MB).
  // Settable only before the session first touches a temporary table.
  await c.query("SET temp_buffers = '512MB'");
  return c;
}

/** pg_dump's definition of one table at T (to recreate it when it was dropped since). */
async function definitionAtT(
  ptr: PgTarget,
  t: TableModel,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return runTool(
    "pg_dump",
    [
      "--schema-only",
      `--table=${`"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`}`,
    ],
    { env: libpqEnv(ptr, env), secrets: secretsOf(ptr) },
  );
}
