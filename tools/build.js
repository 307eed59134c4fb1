#!/usr/bin/env node
// The compiled command lines: each CLI's TypeScript entry bundled by esbuild into one CommonJS
// file under dist/ (git-ignored), packages left external (they load from node_modules as
// before, and only when a command needs them). `npm run build` builds both; the bin shims call
// `compiled(name)`, which rebuilds a missing or stale bundle first, so a fresh clone with only
// `npm ci` works (npm here runs no install scripts, so `prepare` cannot build it).
//
// Why JavaScript and not tools/build.ts: the shims load this file on every start, and loading
// TypeScript needs the transpiler whose start-up (~2 s) is what the bundles remove.
// `tsc --noEmit` remains the type gate; esbuild only strips types.
/* global require, module, __dirname, process */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: loaded by the bin shims */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const DIST = path.join(ROOT, "dist");

/** Each executable's TypeScript entry (it exports `main(argv)`). */
const ENTRIES = {
  "pg-recovery": "runner/cli.ts",
  "pg-recovery-data": "datapath/cli.ts",
};

const bundleOf = (name, outDir = DIST) => path.join(outDir, `${name}.js`);
/** The source files a bundle was built from (esbuild's metafile), to judge staleness. */
const inputsOf = (name, outDir = DIST) => path.join(outDir, `${name}.inputs.json`);

/** The bundle's path when it exists and no source it was built from changed since. */
function fresh(name, outDir = DIST) {
  const bundle = bundleOf(name, outDir);
  let built;
  try {
    built = fs.statSync(bundle).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(inputsOf(name, outDir), "utf8"));
    // A deleted or renamed input also means stale (statSync throws).
    for (const f of inputs) if (fs.statSync(path.join(ROOT, f)).mtimeMs > built) return undefined;
  } catch {
    return undefined;
  }
  return bundle;
}

/**
 * `__dirname` as the source file would see it, relative to the bundle's own directory: code
 * that finds the project root or package.json from its own place (runner/args.ts,
 * offline/stack-config.ts, datapath/storage/manifest.ts) keeps working from dist/, and in the
 * image (/app/dist next to /app/package.json).
 */
function sourceDirname(outDir) {
  return {
    name: "source-dirname",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        let contents = fs.readFileSync(args.path, "utf8");
        if (/\b__dirname\b/.test(contents)) {
          const rel = path.relative(outDir, path.dirname(args.path)).split(path.sep).join("/");
          contents = contents.replace(
            /\b__dirname\b/g,
            `require("node:path").resolve(__dirname, ${JSON.stringify(rel)})`,
          );
        }
        return { contents, loader: "ts" };
      });
    },
  };
}

/** Bundles one executable into outDir; writes the bundle atomically (shims may race). */
async function build(name, outDir = DIST) {
  const esbuild = require("esbuild");
  const outfile = bundleOf(name, outDir);
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRIES[name]],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    packages: "external",
    // A lazy `import("@pulumi/...")` of an external package must stay a CommonJS require: left
    // as import(), Node resolves it as ESM, which refuses the packages' directory imports.
    supported: { "dynamic-import": false },
    keepNames: true,
    outfile,
    write: false,
    metafile: true,
    logLevel: "error",
    plugins: [sourceDirname(outDir)],
  });
  fs.mkdirSync(outDir, { recursive: true });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes("node_modules/"));
  const tmp = `${outfile}.${process.pid}.tmp`;
  fs.writeFileSync(`${tmp}.inputs`, JSON.stringify([...inputs, "tsconfig.json", "tools/build.js"]));
  fs.writeFileSync(tmp, result.outputFiles[0].contents);
  // The inputs list first: a bundle never sits beside the list of another build.
  fs.renameSync(`${tmp}.inputs`, inputsOf(name, outDir));
  fs.renameSync(tmp, outfile);
  return outfile;
}

/** A bundle that cannot run for want of an install: the shims print its message alone. */
class NotInstalled extends Error {}

/**
 * The one line a shim prints when `name` could not start for want of an install (no bundle and
 * no esbuild to build it; a package missing from node_modules), else undefined: anything else
 * is a bug, reported with its stack.
 */
function installProblem(name, e) {
  if (e instanceof NotInstalled) return e.message;
  const missing =
    e && e.code === "MODULE_NOT_FOUND" && /Cannot find module '([^.'/][^']*)'/.exec(e.message);
  if (missing)
    return `${name}: the package ${missing[1]} is not installed; run \`npm ci\` in ${ROOT}`;
  return undefined;
}

/** The bundle to run for `name`: built now when missing or older than its sources. */
async function compiled(name) {
  const ready = fresh(name);
  if (ready) return ready;
  try {
    require.resolve("esbuild");
  } catch {
    // An install without dev dependencies: run what was built, or say how to build it.
    if (fs.existsSync(bundleOf(name))) return bundleOf(name);
    throw new NotInstalled(
      `${name}: ${path.relative(process.cwd(), bundleOf(name))} is missing and esbuild is not installed; run \`npm ci\` then \`npm run build\``,
    );
  }
  return build(name);
}

module.exports = { ENTRIES, build, compiled, fresh, installProblem };

/** `node tools/build.js [NAME...]`: builds the named executables (default: all) into dist/. */
async function cli(names) {
  for (const name of names) {
    if (!ENTRIES[name]) {
      process.stderr.write(
        `build: unknown executable ${name} (${Object.keys(ENTRIES).join(", ")})\n`,
      );
      return 2;
    }
    const t = Date.now();
    const out = await build(name);
    const kib = (fs.statSync(out).size / 1024).toFixed(0);
    process.stdout.write(
      `${path.relative(process.cwd(), out)}: ${kib} KiB in ${Date.now() - t} ms\n`,
    );
  }
  return 0;
}

if (require.main === module) {
  cli(process.argv.length > 2 ? process.argv.slice(2) : Object.keys(ENTRIES)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`build: ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
