#!/usr/bin/env node
// `npx pg-recovery ...`: the incident runner (runner/cli.ts), run from its TypeScript source the
// way the project's program runs (ts-node, transpile only; `tsc --noEmit` is the type gate).
/* global require, __dirname, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS shim: it loads ts-node first */
"use strict";
const path = require("node:path");

require("ts-node").register({
  project: path.join(__dirname, "..", "..", "tsconfig.json"),
  transpileOnly: true,
});
const { main } = require("../cli.ts");

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`pg-recovery failed: ${(e && e.stack) || String(e)}\n`);
    process.exit(1);
  },
);
