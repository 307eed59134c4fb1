// The Node check both bin shims run first, before anything else loads: on a Node older than
// package.json's engines the first failure would otherwise be a syntax error deep inside a
// dependency. One clear line (which Node, which is needed, how to get it), exit 1.
/* global require, module, process */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: loaded by the bin shims */
"use strict";

function requireSupportedNode(tool) {
  const needed = require("../package.json").engines.node; // ">=24"
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= Number(needed.replace(/^>=\s*/, "").split(".")[0])) return;
  process.stderr.write(
    `${tool} needs Node ${needed} (package.json engines); this is Node ${process.versions.node} ` +
      `(${process.execPath}). Get it: export PATH="$(bash tools/node-lts.sh):$PATH" (in this ` +
      `repository), or install Node 24 LTS from https://nodejs.org/.\n`,
  );
  process.exit(1);
}

module.exports = { requireSupportedNode };
