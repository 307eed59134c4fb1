/**
 * The drill's application: a single writer doing small banking-style transactions, and a
 * client-side model of every committed row image, so the state "as of T" can be rebuilt exactly
 * without asking the server.
 */
import type { Client } from "pg";

export const DDL = `
CREATE TABLE accounts (
  id serial PRIMARY KEY,
  owner text NOT NULL,
  balance numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE transfers (
  id bigserial PRIMARY KEY,
  account_id int NOT NULL REFERENCES accounts (id),
  amount numeric(12, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfers_account_idx ON transfers (account_id);
`;

export interface AccountRow {
  id: number;
  owner: string;
  balance: string;
  created_at: string;
  updated_at: string;
}

export interface TransferRow {
  id: string;
  account_id: number;
  amount: string;
  created_at: string;
}

/** One committed transaction and the row images it produced. */
export interface Txn {
  seq: number;
  /** 64-bit transaction id (txid_current), for the server-side commit timestamp. */
  xid: string;
  /** Client clock (ms) just before COMMIT was sent and just after it returned. */
  commitSentAt: number;
  ackAt: number;
  accounts: AccountRow[];
  transfers: TransferRow[];
}

export class Model {
  readonly accounts = new Map<number, AccountRow>();
  readonly transfers = new Map<string, TransferRow>();

  apply(t: Txn): void {
    for (const a of t.accounts) this.accounts.set(a.id, a);
    for (const x of t.transfers) this.transfers.set(x.id, x);
  }

  static of(txns: Txn[]): Model {
    const m = new Model();
    txns.forEach((t) => m.apply(t));
    return m;
  }
}

/** mulberry32: a tiny seeded PRNG so the operation mix is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACCOUNT_COLS =
  "id, owner, balance::text AS balance, created_at::text AS created_at, updated_at::text AS updated_at";
const TRANSFER_COLS =
  "id::text AS id, account_id, amount::text AS amount, created_at::text AS created_at";
const OWNERS = [
  "Zoë O'Brien",
  "Siân Jones",
  "Łukasz Nowak",
  "Aoife Ní Bhriain",
  "José Álvarez",
  "李雷",
];

export class Writer {
  private seq = 0;
  readonly log: Txn[] = [];
  readonly model = new Model();
  private readonly random: () => number;

  constructor(
    private readonly client: Client,
    seed = 20240724,
  ) {
    this.random = rng(seed);
  }

  /** Renders timestamps in UTC so the model's text round-trips exactly. */
  async init(): Promise<void> {
    await this.client.query("SET TimeZone = 'UTC'");
  }

  private money(max: number): string {
    return (Math.round(this.random() * max * 100) / 100).toFixed(2);
  }

  private pickAccount(): number {
    const ids = [...this.model.accounts.keys()];
    return ids[Math.floor(this.random() * ids.length)];
  }

  /** Runs one transaction of `kind` (random when omitted) and records it once committed. */
  async txn(kind?: "open" | "transfer" | "rename"): Promise<Txn> {
    const c = this.client;
    const r = this.random();
    const op =
      kind ??
      (this.model.accounts.size === 0 || r < 0.15 ? "open" : r < 0.65 ? "transfer" : "rename");
    const accounts: AccountRow[] = [];
    const transfers: TransferRow[] = [];
    await c.query("BEGIN");
    try {
      const xid = (await c.query<{ x: string }>("SELECT txid_current()::text AS x")).rows[0].x;
      const owner = `${OWNERS[Math.floor(this.random() * OWNERS.length)]} #${this.seq}`;
      if (op === "open") {
        const res = await c.query<AccountRow>(
          `INSERT INTO accounts (owner, balance) VALUES ($1, $2) RETURNING ${ACCOUNT_COLS}`,
          [owner, this.money(1000)],
        );
        accounts.push(...res.rows);
      } else if (op === "transfer") {
        const id = this.pickAccount();
        const amount = (this.random() < 0.5 ? "-" : "") + this.money(50);
        const t = await c.query<TransferRow>(
          `INSERT INTO transfers (account_id, amount) VALUES ($1, $2) RETURNING ${TRANSFER_COLS}`,
          [id, amount],
        );
        transfers.push(...t.rows);
        const a = await c.query<AccountRow>(
          `UPDATE accounts SET balance = balance + $2, updated_at = now() WHERE id = $1 RETURNING ${ACCOUNT_COLS}`,
          [id, amount],
        );
        accounts.push(...a.rows);
      } else {
        const a = await c.query<AccountRow>(
          `UPDATE accounts SET owner = $2, updated_at = now() WHERE id = $1 RETURNING ${ACCOUNT_COLS}`,
          [this.pickAccount(), owner],
        );
        accounts.push(...a.rows);
      }
      const commitSentAt = Date.now();
      await c.query("COMMIT");
      // Date.now() truncates to the millisecond; +1 keeps the true commit time inside the bracket.
      const ackAt = Date.now() + 1;
      const txn: Txn = { seq: this.seq++, xid, commitSentAt, ackAt, accounts, transfers };
      this.log.push(txn);
      this.model.apply(txn);
      return txn;
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  /**
   * Writes until `untilMs`, starting no transaction within `quietMs` either side of `quietAt`,
   * so every commit falls clearly before or after the restore target despite clock granularity.
   */
  async runUntil(untilMs: number, quietAt: number, quietMs: number): Promise<void> {
    while (Date.now() < untilMs) {
      const now = Date.now();
      if (now >= quietAt - quietMs && now < quietAt + quietMs) {
        await sleep(quietAt + quietMs - now);
        continue;
      }
      await this.txn();
      await sleep(1); // a steady trickle, not a benchmark: keeps WAL and the model small
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
