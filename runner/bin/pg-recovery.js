#!/usr/bin/env node
// `npx pg-recovery ...`: the incident runner (runner/cli.ts), run from its compiled bundle
// (tools/build.js: dist/pg-recovery.js, rebuilt first when missing or older than its sources),
// so a command starts without a TypeScript transpiler. The project's own program (index.ts) is
// still loaded through ts-node, when a command runs it (runner/program.ts).
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS shim */
"use strict";
require("../../tools/node-version.js").requireSupportedNode("pg-recovery");

// main turns every expected condition into its message and exit code; what reaches here is a
// missing install (one line saying so) or a bug, whose stack is what to report.
const build = require("../../tools/build.js");
build
  .compiled("pg-recovery")
  .then((bundle) => require(bundle).main(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(
        `${build.installProblem("pg-recovery", e) ?? `pg-recovery failed (a bug; please report it): ${(e && e.stack) || String(e)}`}\n`,
      );
      process.exit(1);
    },
  );
