/**
 * The CLIs run from esbuild bundles (tools/build.js, CommonJS, packages external). esbuild keeps
 * a dynamic `import("pkg/sub")` of a package as Node's ESM import, which refuses a directory
 * (ERR_UNSUPPORTED_DIR_IMPORT) where ts-node's `require` took it: every command through the
 * bin/ shims that reached `import("@pulumi/pulumi/automation")` failed so. Each dynamic import
 * left in a bundle must load as Node loads it there.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build script is CommonJS
const build = require(path.join(ROOT, "tools", "build.js")) as {
  ENTRIES: Record<string, string>;
  compiled(name: string): Promise<string>;
};

describe("the house: a bundle's dynamic imports load under Node's ESM rules", function () {
  this.timeout(120_000);
  for (const name of Object.keys(build.ENTRIES)) {
    it(`${name}: every import("<package>…") in its bundle loads`, async () => {
      const bundle = await build.compiled(name);
      const text = fs.readFileSync(bundle, "utf8");
      const specs = [...text.matchAll(/\bimport\(\s*"([^".][^"]*)"\s*\)/g)].map((m) => m[1]);
      for (const spec of new Set(specs)) {
        const script = `await import(${JSON.stringify(spec)});`;
        try {
          execFileSync(process.execPath, ["--input-type=module", "-e", script], {
            cwd: path.dirname(bundle),
            stdio: ["ignore", "ignore", "pipe"],
          });
        } catch (e) {
          const stderr = String((e as { stderr?: Buffer }).stderr ?? e);
          const error = stderr.split("\n").find((l) => /Error/.test(l)) ?? stderr;
          assert.fail(`${name}: import("${spec}") fails in its bundle: ${error}`);
        }
      }
    });
  }
});
