/**
 * tools/build.js: the compiled command lines the bin shims run. A bundle is rebuilt when one of
 * its sources is newer or gone, and code that finds files from its own directory finds them
 * from the bundle as it did from the source tree.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS build script
const build = require("../../tools/build.js") as {
  build(name: string, outDir: string): Promise<string>;
  fresh(name: string, outDir: string): string | undefined;
};

const ROOT = path.resolve(__dirname, "..", "..");

describe("tools/build.js (the compiled CLIs)", function () {
  let out: string;
  beforeEach(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-build-"));
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it("judges a bundle stale when a source it was built from is newer or gone", async () => {
    const bundle = await build.build("pg-recovery-data", out);
    assert.equal(build.fresh("pg-recovery-data", out), bundle);
    const inputs = JSON.parse(
      fs.readFileSync(path.join(out, "pg-recovery-data.inputs.json"), "utf8"),
    ) as string[];
    assert.ok(inputs.includes("datapath/cli.ts") && inputs.includes("contract/data-tool.ts"));

    // A source of our own, listed as an input: newer than the bundle, then deleted.
    const source = path.join(out, "source.ts");
    fs.writeFileSync(source, "");
    const listed = [...inputs, path.relative(ROOT, source)];
    fs.writeFileSync(path.join(out, "pg-recovery-data.inputs.json"), JSON.stringify(listed));
    const later = new Date(fs.statSync(bundle).mtimeMs + 5000);
    fs.utimesSync(source, later, later);
    assert.equal(build.fresh("pg-recovery-data", out), undefined, "a newer source");
    fs.utimesSync(source, new Date(0), new Date(0));
    assert.equal(build.fresh("pg-recovery-data", out), bundle, "an older source");
    fs.rmSync(source);
    assert.equal(build.fresh("pg-recovery-data", out), undefined, "a deleted source");
  });

  it("keeps __dirname as the source file saw it: the runner finds the repository", async () => {
    const bundle = await build.build("pg-recovery", out);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"));
    // runner/args.ts's REPO_ROOT, offline/stack-config.ts's ROOT: the stack files are found
    // from any working directory.
    const script = execFileSync(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(bundle)}).main(["commands", "--stack", "qa"]).then((c) => process.exit(c))`,
      ],
      { cwd: os.tmpdir(), encoding: "utf8" },
    );
    assert.match(script, /pg-recovery break-glass commands: stack qa/);
  });

  it("the data tool loads the Azure SDK only for a command that talks to storage", async () => {
    const bundle = await build.build("pg-recovery-data", out);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"));
    // The answer on fd 3: the commands' own output and errors go to stdout and stderr.
    const loaded = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(
        process.execPath,
        [
          "-e",
          `require(${JSON.stringify(bundle)}).main(${JSON.stringify(argv)}).then(() =>
             require("node:fs").writeSync(3, String(Object.keys(require.cache).some((f) => f.includes("@azure/storage-blob")))))`,
        ],
        {
          cwd: os.tmpdir(),
          encoding: "utf8",
          env: { PATH: process.env.PATH, ...env },
          stdio: ["ignore", "ignore", "ignore", "pipe"],
        },
      ).output[3];
    // Its require is most of the tool's start-up (0.26 s of 0.3 s on the 2-core machine).
    assert.equal(loaded(["--help"]), "false");
    assert.equal(loaded(["promote", "--help"]), "false");
    // Refused either way: without credentials before the SDK is needed; with a connection
    // string it cannot read, after the SDK was loaded to read it.
    assert.equal(loaded(["list"]), "false");
    assert.equal(
      loaded(["list"], { AZURE_STORAGE_CONNECTION_STRING: "Account=unreadable" }),
      "true",
    );
  });

  it("without an install, the shims say so in one line (no bundle and no esbuild; a missing package)", async () => {
    // The shims and what they load, in a tree with no node_modules above it.
    const tree = path.join(out, "tree");
    for (const f of [
      "package.json",
      "tools/build.js",
      "tools/node-version.js",
      "runner/bin/pg-recovery.js",
      "datapath/bin/pg-recovery-data.js",
    ]) {
      fs.mkdirSync(path.dirname(path.join(tree, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(tree, f));
    }
    const start = (shim: string) =>
      spawnSync(process.execPath, [shim, "--help"], { cwd: tree, encoding: "utf8" });
    for (const [shim, name] of [
      ["runner/bin/pg-recovery.js", "pg-recovery"],
      ["datapath/bin/pg-recovery-data.js", "pg-recovery-data"],
    ]) {
      const r = start(shim);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr,
        `${name}: dist/${name}.js is missing and esbuild is not installed; run \`npm ci\` then \`npm run build\`\n`,
      );
    }
    // A bundle but no packages (node_modules removed after a build).
    fs.mkdirSync(path.join(tree, "dist"));
    await build.build("pg-recovery-data", path.join(tree, "dist"));
    const r = start("datapath/bin/pg-recovery-data.js");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^pg-recovery-data: the package \S+ is not installed; run `npm ci` in /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("loads the engine's packages lazily as CommonJS: a command reaches the Pulumi CLI", async () => {
    const bundle = await build.build("pg-recovery", out);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"));
    // A stand-in CLI that answers `pulumi version` and fails everything else: enough for the
    // runner to import the Automation API (a lazy import in runner/pulumi-cli.ts) and use it.
    const fake = path.join(out, "pulumi");
    fs.writeFileSync(
      fake,
      '#!/bin/sh\n[ "$1" = version ] && { echo v3.270.0; exit 0; }\necho "error: no backend" >&2; exit 1\n',
      { mode: 0o755 },
    );
    const r = spawnSync(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(bundle)}).main(["status", "--stack", "qa"]).then((c) => process.exit(c))`,
      ],
      {
        cwd: os.tmpdir(),
        encoding: "utf8",
        env: { ...process.env, PULUMI_CLI: fake, PULUMI_HOME: path.join(out, "home") },
      },
    );
    // Left as import(), Node resolved "@pulumi/pulumi/automation" as ESM and refused the
    // directory import: a stack trace instead of the CLI's message.
    assert.doesNotMatch(r.stderr, /ERR_UNSUPPORTED_DIR_IMPORT|a bug/);
    assert.match(r.stderr, /Pulumi CLI: .*pulumi \(v3\.270\.0, from PULUMI_CLI\)/);
    assert.equal(r.status, 1, r.stderr);
  });
});
