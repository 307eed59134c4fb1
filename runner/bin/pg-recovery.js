#!/usr/bin/env node
// `npx pg-recovery ...`: the incident runner (runner/cli.ts), run from its TypeScript source the
// way the project's program runs (ts-node, transpile only; `tsc --noEmit` is the type gate).
/* global require, __dirname, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS shim: it loads ts-node first */
"use strict";
const path = require("node:path");

// Before anything heavy: on an older Node the first failure would be a syntax error deep inside.
const needed = require("../../package.json").engines.node; // ">=24"
const major = Number(process.versions.node.split(".")[0]);
if (major < Number(needed.replace(/^>=\s*/, "").split(".")[0])) {
  process.stderr.write(
    `pg-recovery needs Node ${needed} (package.json engines); this is Node ${process.versions.node} ` +
      `(${process.execPath}). Get it: export PATH="$(bash tools/node-lts.sh):$PATH" (in this ` +
      `repository), or install Node 24 LTS from https://nodejs.org/.\n`,
  );
  process.exit(1);
}

require("ts-node").register({
  project: path.join(__dirname, "..", "..", "tsconfig.json"),
  transpileOnly: true,
});
const { main } = require("../cli.ts");

// main turns every expected condition into its message and exit code; what reaches here is a
// bug, so its stack is what to report.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`pg-recovery failed (a bug; please report it): ${(e && e.stack) || String(e)}\n`);
    process.exit(1);
  },
);
