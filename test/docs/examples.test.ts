/**
 * The shell examples of README.md and docs/*.md cannot go stale: every ```sh block runs here,
 * from the repository's root, exactly as written (dates are computed by the shell in the
 * examples themselves), and must exit 0 (or the `exit=N` its fence states) without a stack
 * trace. A block that needs what a test machine does not have says so in its fence
 * (```sh needs=azure) and is only syntax-checked with `bash -n`.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

/** What a block may say it needs; anything else is a typo that would silently skip a block. */
const NEEDS: Record<string, string> = {
  azure: "Azure, GitHub and the live cluster (an incident)",
  cluster: "the local cluster of the real-engine suite (e2e/cluster.sh)",
  toolchain: "the Go-built toolchain (about an hour cold)",
  network: "the network (npm, the npm registry)",
  root: "root (apt-get)",
  time: "minutes: a test suite, a cold cache",
};

interface Block {
  where: string;
  code: string;
  needs?: string;
  exit: number;
}

/** The ```sh blocks of one Markdown file (indented ones in list items too), with their marks. */
function shellBlocks(file: string): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh(?:\s+(.*))?$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const marks = Object.fromEntries(
      (open[2] ?? "")
        .split(/\s+/)
        .filter(Boolean)
        .map((m) => m.split("=") as [string, string]),
    );
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) {
      body.push(lines[i].slice(indent));
    }
    out.push({
      where: `${file}:${start + 1}`,
      code: body.join("\n"),
      needs: marks.needs,
      exit: marks.exit === undefined ? 0 : Number(marks.exit),
    });
  }
  return out;
}

const FILES = [
  "README.md",
  ...fs
    .readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const BLOCKS = FILES.flatMap(shellBlocks);
const RUNNABLE = BLOCKS.filter((b) => b.needs === undefined);

interface Run {
  code: number | null;
  output: string;
}

function runBlock(b: Block): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", b.code], {
      cwd: ROOT,
      // The Node running the tests (24) first, as `export PATH=...` in the README puts it.
      env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The runnable blocks, two at a time (the plan and the runner each start a TypeScript program). */
async function runAll(blocks: Block[]): Promise<Map<Block, Run>> {
  const results = new Map<Block, Run>();
  const queue = [...blocks];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) results.set(b, await runBlock(b));
  };
  await Promise.all([worker(), worker()]);
  return results;
}

const STACK_TRACE = /^\s+at \S.*:\d+:\d+\)?$/m;

describe("docs: the shell examples of README.md and docs/", function () {
  this.timeout(600_000);
  let results: Map<Block, Run>;

  before(async () => {
    results = await runAll(RUNNABLE);
  });

  it("finds examples, runnable ones among them, each mark one this test knows", () => {
    assert.ok(BLOCKS.length >= 20, `only ${BLOCKS.length} sh blocks found`);
    assert.ok(RUNNABLE.length >= 5, `only ${RUNNABLE.length} runnable sh blocks`);
    for (const b of BLOCKS) {
      if (b.needs !== undefined) assert.ok(b.needs in NEEDS, `${b.where}: needs=${b.needs}?`);
      assert.ok(Number.isInteger(b.exit), `${b.where}: exit=?`);
    }
  });

  for (const b of BLOCKS.filter((x) => x.needs !== undefined)) {
    it(`${b.where} (needs ${b.needs}: syntax only)`, () => {
      const r = spawnSync("bash", ["-n"], { input: b.code, encoding: "utf8" });
      assert.equal(r.status, 0, `${b.where}: bash -n\n${r.stderr}`);
    });
  }

  for (const b of RUNNABLE) {
    const first = b.code.split("\n").find((l) => l.trim() && !l.startsWith("#")) ?? "";
    it(`${b.where} runs: ${first.slice(0, 60)}`, function () {
      const r = results.get(b)!;
      // The runner before issue 15's rework needed a Pulumi CLI before any check; the reworked
      // one does not. Such a block waits for it rather than failing on this machine.
      if (/the Pulumi CLI is not usable from PATH/.test(r.output) && STACK_TRACE.test(r.output)) {
        console.warn(
          `    (skipped: this runner needs a Pulumi CLI before its checks; to run it, put one on PATH:` +
            ` bash e2e/toolchain.sh && export PATH="$HOME/.cache/pg-recovery/toolchain/bin:$PATH")`,
        );
        this.skip();
      }
      assert.equal(
        r.code,
        b.exit,
        `${b.where} exited ${r.code}, wanted ${b.exit}:\n${b.code}\n${r.output}`,
      );
      assert.doesNotMatch(r.output, STACK_TRACE, `${b.where} printed a stack trace:\n${r.output}`);
      assert.ok(r.output.trim() !== "", `${b.where} printed nothing`);
    });
  }
});
