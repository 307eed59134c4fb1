/**
 * The start-up benchmark (`npm run bench -- --suite startup [--runs N]`): each CLI's `--help`
 * as a separate process, as an operator or a Job starts it, from the compiled bundle (the bin
 * shims, tools/build.js) and, for comparison, from the TypeScript sources through ts-node. The
 * goal is under 0.5 s for the bin shims on a quiet machine; the load average is printed beside
 * the figures because a busy machine slows every start.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CommandFailed, median } from "./bench-common";

const ROOT = path.resolve(__dirname, "..");
const TS_NODE = ["-r", "ts-node/register/transpile-only", "-e"];
/** In-process `main(["--help"])` of a TypeScript entry, exiting with its code. */
const viaTsNode = (entry: string) => [
  ...TS_NODE,
  `require(${JSON.stringify(`./${entry}`)}).main(["--help"]).then((c) => process.exit(c))`,
];

const CASES: { label: string; args: string[] }[] = [
  {
    label: "pg-recovery --help (bin shim, compiled)",
    args: ["runner/bin/pg-recovery.js", "--help"],
  },
  {
    label: "pg-recovery-data --help (bin shim, compiled)",
    args: ["datapath/bin/pg-recovery-data.js", "--help"],
  },
  { label: "pg-recovery --help via ts-node (before)", args: viaTsNode("runner/cli.ts") },
  { label: "pg-recovery-data --help via ts-node (before)", args: viaTsNode("datapath/cli.ts") },
];

/** Seconds one `node ARGS` takes from spawn to exit; throws when it fails. */
function timeOnce(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) {
    throw new CommandFailed(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  return s;
}

const loadavg = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

export function runStartupBench(o: { runs: number; log: (s: string) => void }): number {
  const runs = Math.max(o.runs, 5);
  const before = loadavg();
  const rows = CASES.map(({ label, args }) => {
    timeOnce(args); // warm-up: builds a stale bundle, fills the page cache
    const xs = Array.from({ length: runs }, () => timeOnce(args));
    o.log(`   ${label}: ${xs.map((x) => x.toFixed(2)).join(" ")} s`);
    return `| ${label} | ${Math.min(...xs).toFixed(2)} s | ${median(xs).toFixed(2)} s | ${Math.max(...xs).toFixed(2)} s |`;
  });
  const lines = [
    "",
    `start-up: ${runs} runs each after one warm-up, node ${process.version}; load average before ${before}, after ${loadavg()} (a figure from a loaded machine is not evidence)`,
    "",
    "| command | min | median | max |",
    "|---|---|---|---|",
    ...rows,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
