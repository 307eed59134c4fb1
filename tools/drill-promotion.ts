/**
 * The drill's promotion rehearsal: a second application database (`shop`) on the same primary,
 * written to before and after T, then corrupted three ways at once: an UPDATE without WHERE
 * (orders), a DELETE without WHERE (order_lines) and a dropped table (notes), while other tables
 * (customers, page_views) keep receiving writes. After the point-in-time restore, each promotion
 * mode runs through the real CLI on its own copy of the corrupted database, and the outcome is
 * counted independently of the tool, row by row (primary key -> md5 of the row):
 *  - restored: rows at T that the corruption (or later writes) had changed or removed, and that
 *    the mode brought back exactly;
 *  - lost: rows the app legitimately wrote after T, still intact on live before the promotion,
 *    whose version the mode threw away (what the corruption had already destroyed is counted
 *    apart: no mode can bring back a row the PTR never had);
 *  - still damaged: rows at T the corruption changed or removed that are still so afterwards,
 *    and corrupted versions of later rows still in place.
 */
import { Client } from "pg";
import { buildArgv } from "../contract/data-tool";
import { main } from "../datapath/cli";
import { PG_BIN, Server } from "../test/support/pg-server";
import { rng, sleep } from "./drill-workload";

export const SHOP_DDL = `
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  status text NOT NULL,
  total numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE order_lines (
  id bigserial PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  sku text NOT NULL,
  qty int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_lines_order_idx ON order_lines (order_id);
CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE page_views (
  id bigserial PRIMARY KEY,
  path text NOT NULL,
  customer_id bigint REFERENCES customers (id),
  created_at timestamptz NOT NULL DEFAULT now()
);
`;

const DAMAGED = ["public.orders", "public.order_lines", "public.notes"];
const UNTOUCHED = ["public.customers", "public.page_views"];
const ALL = [...UNTOUCHED, ...DAMAGED];

export const SHOP_CORRUPTION = [
  "UPDATE orders SET status = 'cancelled'",
  "DELETE FROM order_lines",
  "DROP TABLE notes",
];

/** Writes shop traffic in the background until stopped. */
export class ShopWriter {
  private running?: Promise<void>;
  private stopping = false;
  private readonly random = rng(42);
  private n = 0;

  private constructor(private readonly c: Client) {}

  /** Creates the database and its first rows (all before the base backup). */
  static async setup(primary: Server): Promise<ShopWriter> {
    const admin = new Client({ connectionString: primary.url() });
    await admin.connect();
    await admin.query("CREATE DATABASE shop").finally(() => admin.end());
    const c = new Client({ connectionString: primary.url("shop") });
    c.on("error", () => undefined);
    await c.connect();
    await c.query(SHOP_DDL);
    const w = new ShopWriter(c);
    for (let i = 0; i < 30; i++) await w.step(true);
    return w;
  }

  /** One small transaction: a customer, an order with lines, a status change, a note, views. */
  private async step(everything: boolean): Promise<void> {
    const c = this.c;
    const r = this.random();
    const k = this.n++;
    await c.query("BEGIN");
    try {
      if (everything || r < 0.2) {
        await c.query("INSERT INTO customers (name) VALUES ($1)", [`Customer ${k} Siân`]);
      }
      if (everything || r < 0.6) {
        const o = await c.query<{ id: string }>(
          `INSERT INTO orders (customer_id, status, total)
           SELECT id, 'open', $1 FROM customers ORDER BY random() LIMIT 1 RETURNING id`,
          [(this.random() * 500).toFixed(2)],
        );
        for (let i = 0; i < 3; i++) {
          await c.query("INSERT INTO order_lines (order_id, sku, qty) VALUES ($1, $2, $3)", [
            o.rows[0].id,
            `SKU-${k}-${i}`,
            1 + i,
          ]);
        }
      }
      if (!everything && r >= 0.6 && r < 0.8) {
        await c.query(
          `UPDATE orders SET status = 'shipped', updated_at = now()
            WHERE id = (SELECT id FROM orders WHERE status = 'open' ORDER BY random() LIMIT 1)`,
        );
      }
      if (everything || r >= 0.8) {
        await c.query("INSERT INTO notes (body) VALUES ($1)", [`note ${k}`]);
      }
      await c.query(
        "INSERT INTO page_views (path, customer_id) SELECT $1, id FROM customers ORDER BY random() LIMIT 1",
        [`/courses/${k}`],
      );
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }

  /** Only the tables the corruption leaves alone (the app keeps using them). */
  private async untouchedStep(): Promise<void> {
    const k = this.n++;
    await this.c.query("INSERT INTO customers (name) VALUES ($1)", [`Late ${k}`]);
    await this.c.query(
      "INSERT INTO page_views (path, customer_id) SELECT $1, max(id) FROM customers",
      [`/after/${k}`],
    );
  }

  start(only: "everything" | "untouched" = "everything"): void {
    this.stopping = false;
    this.running = (async () => {
      while (!this.stopping) {
        await (only === "everything" ? this.step(false) : this.untouchedStep());
        await sleep(3);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.running = undefined;
  }

  /**
   * Stops the traffic, records the damaged tables as the app left them, corrupts them, and lets
   * the untouched tables keep receiving writes for `afterMs`.
   */
  async corrupt(afterMs: number): Promise<Map<string, Map<string, string>>> {
    await this.stop();
    const legit = await readRows(this.c, DAMAGED);
    for (const sql of SHOP_CORRUPTION) await this.c.query(sql);
    this.start("untouched");
    await sleep(afterMs);
    await this.stop();
    for (const [k, v] of await readRows(this.c, UNTOUCHED)) legit.set(k, v);
    await this.c.end();
    return legit;
  }
}

/** table -> (primary key -> md5 of the row); a missing table reads as empty. */
async function readRows(c: Client, tables: string[]): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const t of tables) {
    const rows = new Map<string, string>();
    const exists = await c.query<{ e: boolean }>("SELECT to_regclass($1) IS NOT NULL AS e", [t]);
    if (exists.rows[0].e) {
      const r = await c.query<{ id: string; h: string }>(
        `SELECT id::text AS id, md5(x::text) AS h FROM ${t} x`,
      );
      for (const row of r.rows) rows.set(row.id, row.h);
    }
    out.set(t, rows);
  }
  return out;
}

async function rowsOf(url: string, tables: string[]) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await readRows(c, tables);
  } finally {
    await c.end();
  }
}

export interface ModeOutcome {
  mode: string;
  command: string;
  exitCode: number;
  seconds: number;
  restored: number;
  /** Rows written after T that are gone, in the damaged tables and in the others. */
  lostInDamaged: number;
  lostElsewhere: number;
  stillDamaged: number;
  /** Rows written after T that the corruption itself destroyed (in no PTR: no mode helps). */
  destroyedByCorruption: number;
  /** The damaged tables it was asked to repair now hold exactly their rows at T. */
  repairedExactly: boolean;
  detail: string;
}

export interface PromotionRehearsal {
  outcomes: ModeOutcome[];
  checks: { name: string; ok: boolean; detail?: string }[];
}

/** One promotion mode to rehearse, and the damaged tables it must leave as they were at T. */
interface PromotionRun {
  mode: string;
  tables?: string[];
  expectRepaired: string[];
}

const PROMOTION_RUNS: PromotionRun[] = [
  { mode: "whole", expectRepaired: DAMAGED },
  { mode: "tables", tables: DAMAGED, expectRepaired: DAMAGED },
  // merge repairs what a DELETE or DROP removed; the UPDATE stays (it changes nothing else).
  {
    mode: "merge",
    tables: ["public.order_lines", "public.notes"],
    expectRepaired: ["public.order_lines", "public.notes"],
  },
];

/** What `rehearsePromotion` is given: the two servers, T as typed, the app's legitimate rows. */
interface RehearsalInput {
  primary: Server;
  restored: Server;
  restoreTarget: string;
  legit: Map<string, Map<string, string>>;
  log: (line: string) => void;
}

/** Every table's rows (primary key -> md5), as one server held them at one moment. */
type Rows = Map<string, Map<string, string>>;

/**
 * Runs whole, tables and merge, each on its own copy of the corrupted `shop`, from the restored
 * server's `shop` (the state at T).
 */
export async function rehearsePromotion(o: RehearsalInput): Promise<PromotionRehearsal> {
  const atT = await rowsOf(o.restored.url("shop"), ALL);
  const corrupted = await rowsOf(o.primary.url("shop"), ALL);
  const admin = new Client({ connectionString: o.primary.url() });
  await admin.connect();
  const outcomes: ModeOutcome[] = [];
  try {
    for (const r of PROMOTION_RUNS) {
      const db = `shop_${r.mode}`;
      await admin.query(`CREATE DATABASE ${db} TEMPLATE shop`);
      const promoted = await promoteCopy(o, r, db);
      const after = await rowsOf(o.primary.url(db), ALL);
      outcomes.push(countOutcome(r, promoted, { atT, corrupted, legit: o.legit, after }));
      await dropCopy(admin, db);
    }
  } finally {
    await admin.end();
  }
  return { outcomes, checks: promotionChecks(outcomes) };
}

/** How one promotion through the CLI went: the command as typed, its exit code, stderr, time. */
interface Promoted {
  command: string;
  exitCode: number;
  err: string;
  seconds: number;
}

/** Promotes the restored `shop` into the copy `db` through the data tool's real CLI, timed. */
async function promoteCopy(o: RehearsalInput, r: PromotionRun, db: string): Promise<Promoted> {
  // What the operator would type; the connections come from the environment.
  const chosen = {
    mode: r.mode,
    tables: r.tables,
    incident: "drill",
    confirm: `127.0.0.1/${db}`,
  };
  const args = buildArgv({
    command: "promote",
    options: {
      fromEnv: "PTR_URL",
      toEnv: "LIVE_URL",
      restoreTarget: o.restoreTarget,
      ...chosen,
    },
  });
  let err = "";
  const started = Date.now();
  const code = await main(args, {
    out: () => undefined,
    err: (s) => (err += s),
    env: {
      ...process.env,
      PG_BIN,
      PTR_URL: o.restored.url("shop"),
      LIVE_URL: o.primary.url(db),
    },
  });
  const seconds = (Date.now() - started) / 1000;
  return {
    command: `pg-recovery-data ${buildArgv({ command: "promote", options: chosen }).join(" ")}`,
    exitCode: code,
    err,
    seconds,
  };
}

/**
 * Counts one mode's outcome row by row, independently of the tool: the rows at T, on the
 * corrupted live, legitimately written, and on the copy after the promotion.
 */
function countOutcome(
  r: PromotionRun,
  p: Promoted,
  rows: { atT: Rows; corrupted: Rows; legit: Rows; after: Rows },
): ModeOutcome {
  const out: ModeOutcome = {
    mode: r.mode,
    command: p.command,
    exitCode: p.exitCode,
    seconds: p.seconds,
    restored: 0,
    lostInDamaged: 0,
    lostElsewhere: 0,
    stillDamaged: 0,
    destroyedByCorruption: 0,
    repairedExactly: true,
    detail: p.exitCode === 0 ? "" : p.err.trim().split("\n").slice(-3).join(" "),
  };
  for (const t of ALL) {
    const T = rows.atT.get(t)!;
    const C = rows.corrupted.get(t)!;
    const L = rows.legit.get(t)!;
    const A = rows.after.get(t)!;
    countTable(out, t, { T, C, L, A });
    if (r.expectRepaired.includes(t) && !repaired(r.mode, T, A)) out.repairedExactly = false;
  }
  return out;
}

/**
 * Adds one table's rows to the counts: restored (changed at T by the corruption, back now), lost
 * (written after T, intact before, gone now), destroyed by the corruption, still damaged.
 */
function countTable(
  out: ModeOutcome,
  t: string,
  { T, C, L, A }: Record<"T" | "C" | "L" | "A", Map<string, string>>,
): void {
  for (const [pk, h] of T) if (C.get(pk) !== h && A.get(pk) === h) out.restored++;
  for (const [pk, h] of L) {
    const writtenAfterT = T.get(pk) !== h;
    if (writtenAfterT && C.get(pk) !== h) out.destroyedByCorruption++;
    if (writtenAfterT && C.get(pk) === h && A.get(pk) !== h) {
      if (DAMAGED.includes(t)) out.lostInDamaged++;
      else out.lostElsewhere++;
    }
    const corruptedNow = C.get(pk) !== h && A.get(pk) === C.get(pk);
    // A corrupted version still there, or a row at T still missing.
    if (corruptedNow && (A.get(pk) !== undefined || T.has(pk))) out.stillDamaged++;
  }
}

/** Whether a table the mode was asked to repair holds its rows at T (exactly, but for merge). */
function repaired(mode: string, T: Map<string, string>, A: Map<string, string>): boolean {
  const same = T.size === A.size && [...T].every(([pk, h]) => A.get(pk) === h);
  // merge keeps rows added since T, so it only has to hold every row at T.
  const holds = [...T].every(([pk, h]) => A.get(pk) === h);
  return mode === "merge" ? holds : same;
}

/** Drops the mode's copy and the `_pre_promote_` databases the promotion kept beside it. */
async function dropCopy(admin: Client, db: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin
    .query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${db}_pre_promote_%`])
    .then(async (res) => {
      for (const row of res.rows) await admin.query(`DROP DATABASE "${row.datname}" WITH (FORCE)`);
    });
}

/** The verdict per mode: what the runbook promises each promotion mode does. */
function promotionChecks(outcomes: ModeOutcome[]): PromotionRehearsal["checks"] {
  const by = (m: string) => outcomes.find((x) => x.mode === m)!;
  return [
    {
      name: "promote whole: live is the database at T (every damaged table exact, no damage left)",
      ok:
        by("whole").exitCode === 0 && by("whole").repairedExactly && by("whole").stillDamaged === 0,
      detail: by("whole").detail || `${by("whole").lostElsewhere} rows of untouched tables lost`,
    },
    {
      name: "promote tables: damaged tables exactly as at T, no row lost outside them",
      ok:
        by("tables").exitCode === 0 &&
        by("tables").repairedExactly &&
        by("tables").lostElsewhere === 0 &&
        by("tables").stillDamaged === 0,
      detail: by("tables").detail,
    },
    {
      name: "promote merge: deleted rows and the dropped table back, nothing lost",
      ok:
        by("merge").exitCode === 0 &&
        by("merge").repairedExactly &&
        by("merge").lostInDamaged + by("merge").lostElsewhere === 0,
      detail:
        by("merge").detail ||
        `the UPDATE's ${by("merge").stillDamaged} rows stay as they are: merge only re-inserts`,
    },
  ];
}

export function formatRehearsal(r: PromotionRehearsal): string[] {
  const head = [
    "MODE",
    "ROWS RESTORED",
    "LOST: DAMAGED TABLES",
    "LOST: OTHER TABLES",
    "STILL DAMAGED",
    "TIME",
  ];
  const rows = r.outcomes.map((o) => [
    o.mode,
    String(o.restored),
    String(o.lostInDamaged),
    String(o.lostElsewhere),
    String(o.stillDamaged),
    `${o.seconds.toFixed(1)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  const fmt = (x: string[]) =>
    x
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [
    `shop corrupted at once: ${SHOP_CORRUPTION.join("; ")}; customers and page_views kept receiving writes`,
    "promotion per mode (each on its own copy of the corrupted database; counted row by row):",
    `  ${fmt(head)}`,
    ...rows.map((x) => `  ${fmt(x)}`),
    "  (lost = rows the app wrote after T, intact before the promotion, that the mode threw away;",
    "  still damaged = rows the corruption changed or removed that stay so)",
    `  the corruption itself destroyed ${r.outcomes[0]?.destroyedByCorruption ?? 0} rows written after T: no PTR holds them, no mode brings them back`,
  ];
}
