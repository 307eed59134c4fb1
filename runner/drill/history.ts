/**
 * Drill history: every record also goes to the environment's backup container, as
 * `drills/<stack>/<date>.json` (the container the team already keeps and protects), and
 * `pg-recovery drill --history` reads them back: a table, and a small SVG chart of RPO and RTO
 * per drill over time that the Markdown record embeds.
 *
 * The archive is behind an interface; the default reaches the container with the data tool's
 * storage environment (AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL with
 * AZURE_STORAGE_SAS_TOKEN), else through the Azure CLI's login (`az storage blob ... --auth-mode
 * login`), so no key is ever handled here.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { ContainerClient } from "@azure/storage-blob";
import { DATA_TOOL_ENV } from "../../contract/data-tool";
import { DrillRecord, durationText } from "./record";

const execFileAsync = promisify(execFile);

export interface DrillArchive {
  /** Where, for messages: `account/container`. */
  describe(): string;
  /** Writes a new blob; refuses to overwrite one. */
  put(name: string, body: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  get(name: string): Promise<string>;
}

export const drillPrefix = (stack: string) => `drills/${stack}/`;

/** The container of the environment's backups. */
export function blobArchive(
  account: string,
  container: string,
  env: NodeJS.ProcessEnv = process.env,
): DrillArchive {
  const conn = env[DATA_TOOL_ENV.storageConnectionString];
  const url = env[DATA_TOOL_ENV.storageAccountUrl];
  const sas = env[DATA_TOOL_ENV.storageSasToken];
  const client = conn
    ? new ContainerClient(conn, container)
    : url && sas
      ? new ContainerClient(`${url.replace(/\/$/, "")}/${container}?${sas.replace(/^\?/, "")}`)
      : undefined;
  if (client) {
    return {
      describe: () => `${account}/${container}`,
      put: async (name, body) => {
        await client
          .getBlockBlobClient(name)
          .upload(body, Buffer.byteLength(body), { conditions: { ifNoneMatch: "*" } });
      },
      list: async (prefix) => {
        const names: string[] = [];
        for await (const b of client.listBlobsFlat({ prefix })) names.push(b.name);
        return names;
      },
      get: async (name) => (await client.getBlobClient(name).downloadToBuffer()).toString("utf8"),
    };
  }
  const az = async (args: string[]) =>
    (
      await execFileAsync(
        "az",
        [
          "storage",
          "blob",
          ...args,
          "--account-name",
          account,
          "--container-name",
          container,
          "--auth-mode",
          "login",
          "--only-show-errors",
        ],
        { maxBuffer: 64 << 20 },
      )
    ).stdout;
  return {
    describe: () => `${account}/${container}`,
    put: (name, body) =>
      withTempFile(async (file) => {
        fs.writeFileSync(file, body);
        await az(["upload", "--name", name, "--file", file, "--overwrite", "false"]);
      }),
    list: async (prefix) =>
      (
        JSON.parse(await az(["list", "--prefix", prefix, "--output", "json"])) as { name: string }[]
      ).map((b) => b.name),
    get: (name) =>
      withTempFile(async (file) => {
        await az(["download", "--name", name, "--file", file]);
        return fs.readFileSync(file, "utf8");
      }),
  };
}

/** `az` moves blobs through files: one in a fresh temp directory, removed afterwards. */
async function withTempFile<T>(fn: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-drill-"));
  try {
    return await fn(path.join(dir, "record.json"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The archive name for a record: `<date>.json`, or `<date>-2.json` ... when the day has one. */
export function archiveName(stack: string, date: string, existing: string[]): string {
  const base = `${drillPrefix(stack)}${date}`;
  if (!existing.includes(`${base}.json`)) return `${base}.json`;
  let n = 2;
  while (existing.includes(`${base}-${n}.json`)) n++;
  return `${base}-${n}.json`;
}

/** Past drills of a stack, oldest first; unreadable blobs are named, not fatal. */
export async function readHistory(
  archive: DrillArchive,
  stack: string,
): Promise<{ records: DrillRecord[]; unreadable: string[] }> {
  const names = (await archive.list(drillPrefix(stack))).filter((n) => n.endsWith(".json")).sort();
  const records: DrillRecord[] = [];
  const unreadable: string[] = [];
  for (const name of names) {
    try {
      const r = JSON.parse(await archive.get(name)) as DrillRecord;
      if (r.kind !== "pg-recovery drill") throw new Error("not a drill record");
      records.push(r);
    } catch (e) {
      unreadable.push(`${name} (${(e as Error).message})`);
    }
  }
  records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return { records, unreadable };
}

const worst = (...v: (number | null)[]) => {
  const known = v.filter((x): x is number => x !== null);
  return known.length ? Math.max(...known) : null;
};
/** The figures a history shows per drill: the worse of the two paths. */
export const rpoOf = (r: DrillRecord) => worst(r.rpo.pitrSeconds, r.rpo.storageSeconds);
export const rtoOf = (r: DrillRecord) => worst(r.rto.pitrPathSeconds, r.rto.storagePathSeconds);

export function historyTable(records: DrillRecord[]): string {
  const rows = [
    ["date", "outcome", "RPO pitr", "RPO storage", "RTO pitr", "RTO storage", "targets", "by"],
  ];
  for (const r of records) {
    rows.push([
      r.date,
      r.outcome,
      durationText(r.rpo.pitrSeconds),
      durationText(r.rpo.storageSeconds),
      durationText(r.rto.pitrPathSeconds),
      durationText(r.rto.storagePathSeconds),
      `RPO ${r.targets.rpo}, RTO ${r.targets.rto}`,
      r.by.name,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** RPO and RTO (minutes) per drill: two lines, a point per drill, targets dashed. */
export function historySvg(records: DrillRecord[], stack: string): string {
  const W = 640;
  const H = 260;
  const pad = { l: 56, r: 16, t: 28, b: 48 };
  const minutes = (s: number | null) => (s === null ? null : s / 60);
  const series = [
    { name: "RPO", color: "#1d70b8", values: records.map((r) => minutes(rpoOf(r))) },
    { name: "RTO", color: "#d4351c", values: records.map((r) => minutes(rtoOf(r))) },
  ];
  const last = records[records.length - 1];
  const targets = [
    { name: "RPO target", color: "#1d70b8", value: last?.targets.rpoMinutes },
    { name: "RTO target", color: "#d4351c", value: last?.targets.rtoMinutes },
  ];
  const all = [...series.flatMap((s) => s.values), ...targets.map((t) => t.value ?? null)].filter(
    (v): v is number => v !== null,
  );
  const max = Math.max(1, ...all) * 1.1;
  const x = (i: number) =>
    pad.l +
    (records.length <= 1
      ? (W - pad.l - pad.r) / 2
      : (i * (W - pad.l - pad.r)) / (records.length - 1));
  const y = (v: number) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(`Restore drills on ${stack}: RPO and RTO in minutes`)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.l}" y="16" font-size="13">${esc(`Restore drills on ${stack}: RPO and RTO (minutes, worse path)`)}</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#000"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#000"/>`,
  ];
  for (const frac of [0, 0.5, 1]) {
    const v = (max / 1.1) * frac;
    out.push(`<text x="${pad.l - 6}" y="${f(y(v) + 4)}" text-anchor="end">${Math.round(v)}</text>`);
  }
  for (const t of targets) {
    if (t.value === undefined) continue;
    out.push(
      `<line x1="${pad.l}" y1="${f(y(t.value))}" x2="${W - pad.r}" y2="${f(y(t.value))}" stroke="${t.color}" stroke-dasharray="4 4"/>`,
      `<text x="${W - pad.r}" y="${f(y(t.value) - 4)}" text-anchor="end" fill="${t.color}">${t.name} ${t.value}</text>`,
    );
  }
  records.forEach((r, i) => {
    out.push(
      `<text x="${f(x(i))}" y="${H - pad.b + 16}" text-anchor="middle">${esc(r.date)}</text>`,
    );
    if (r.outcome === "failed") {
      out.push(
        `<text x="${f(x(i))}" y="${H - pad.b + 30}" text-anchor="middle" fill="#d4351c">failed</text>`,
      );
    }
  });
  series.forEach((s, k) => {
    const points = s.values.flatMap((v, i) => (v === null ? [] : [`${f(x(i))},${f(y(v))}`]));
    if (points.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`,
      );
    }
    for (const p of points) {
      const [px, py] = p.split(",");
      out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
    }
    out.push(`<text x="${pad.l + 10 + k * 60}" y="${H - 8}" fill="${s.color}">■ ${s.name}</text>`);
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
