/**
 * The direction of dependencies is enforced by lint: a wrong-way import fails `npm run lint`.
 * Each case lints a one-line file as if it stood in the named folder.
 */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { ESLint } from "eslint";

const ROOT = path.resolve(__dirname, "../..");

async function importProblems(file: string, from: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const code = `import * as x from "${from}";\nexport const y = x;\n`;
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("the house: dependencies run one way (eslint no-restricted-imports)", function () {
  this.timeout(60_000);

  const wrongWay: [string, string][] = [
    ["components/x.ts", "../stacks/incident"],
    ["components/scale-down/x.ts", "../../stacks/overlay"],
    ["components/x.ts", "../datapath/cli"],
    ["components/x.ts", "../offline/offline"],
    ["datapath/x.ts", "@pulumi/pulumi"],
    ["datapath/commands/x.ts", "../../stacks/environment"],
    ["datapath/x.ts", "../components/naming"],
    ["contract/x.ts", "../stacks/incident"],
    ["contract/x.ts", "../datapath/cli"],
    ["contract/x.ts", "@pulumi/pulumi"],
    ["stacks/x.ts", "../datapath/cli"],
    ["stacks/x.ts", "../offline/offline"],
    ["stacks/x.ts", "../index"],
    ["runner/x.ts", "../test/support/pulumi-harness"],
    ["offline/x.ts", "../test/support/pulumi-harness"],
    ["datapath/x.ts", "../test/support/postgres"],
  ];
  for (const [file, from] of wrongWay) {
    it(`${file} may not import ${from}`, async () => {
      const problems = await importProblems(file, from);
      assert.equal(problems.length, 1, `expected a lint error, got ${JSON.stringify(problems)}`);
      assert.match(problems[0], /eslint\.config\.mjs/);
    });
  }

  const rightWay: [string, string][] = [
    ["index.ts", "./stacks/overlay"],
    ["stacks/x.ts", "../components/scale-down"],
    ["stacks/x.ts", "../contract/time"],
    ["components/x.ts", "../contract/data-tool"],
    ["components/x.ts", "./naming"],
    ["datapath/x.ts", "../contract/data-tool"],
    ["offline/x.ts", "../stacks/overlay"],
    ["tools/x.ts", "../offline/offline"],
    ["tools/x.ts", "../test/support/pg-server"],
    ["tools/x.ts", "../e2e/test/support/runner"],
  ];
  for (const [file, from] of rightWay) {
    it(`${file} may import ${from}`, async () => {
      assert.deepEqual(await importProblems(file, from), []);
    });
  }
});
