#!/usr/bin/env node
// `npx pg-recovery-data ...` / `npm run pg-recovery-data -- ...`: the data tool (datapath/cli.ts)
// from its compiled bundle (tools/build.js: dist/pg-recovery-data.js, rebuilt first when missing
// or older than its sources). The image runs the bundle directly (see Dockerfile).
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS shim */
"use strict";
require("../../tools/node-version.js").requireSupportedNode("pg-recovery-data");

const build = require("../../tools/build.js");
build
  .compiled("pg-recovery-data")
  .then((bundle) => require(bundle).main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(
        `${build.installProblem("pg-recovery-data", e) ?? `pg-recovery-data: unexpected error: ${(e && e.message) || String(e)}`}\n`,
      );
      process.exitCode = 1;
    },
  );
