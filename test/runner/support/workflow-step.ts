/**
 * A GitHub Actions step's script run here the way Actions runs it (`bash -e -o pipefail`), in a
 * fresh directory, with a stand-in `npm` that records each call's arguments (one per line, in
 * call order) and, when asked, a stand-in `pulumi` that prints a set answer.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { testDir } from "../../support/tmp";

export interface StepRun {
  /** Each npm call's arguments, in the order the script made them. */
  npm: string[][];
  /** What the step wrote to $GITHUB_STEP_SUMMARY ("" when nothing). */
  summary: string;
}

/** `env` comes over PATH and GITHUB_STEP_SUMMARY; the script must succeed. */
export function runStep(script: string, env: NodeJS.ProcessEnv, pulumiSays?: string): StepRun {
  const dir = testDir("pgr-workflow-step-");
  const bin = path.join(dir, "bin");
  const calls = path.join(dir, "npm-calls");
  fs.mkdirSync(bin);
  fs.mkdirSync(calls);
  // One file a call, numbered in call order.
  fs.writeFileSync(
    path.join(bin, "npm"),
    `#!/usr/bin/env bash\nn=$(ls "${calls}" | wc -l)\nprintf '%s\\n' "$@" > "${calls}/$((n + 1000))"\n`,
    { mode: 0o755 },
  );
  if (pulumiSays !== undefined) {
    fs.writeFileSync(path.join(bin, "pulumi"), `#!/usr/bin/env bash\necho '${pulumiSays}'\n`, {
      mode: 0o755,
    });
  }
  const summary = path.join(dir, "summary");
  const r = spawnSync("bash", ["-e", "-o", "pipefail", "-c", script], {
    cwd: dir,
    env: { PATH: `${bin}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: summary, ...env },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return {
    npm: fs
      .readdirSync(calls)
      .sort()
      .map((f) => fs.readFileSync(path.join(calls, f), "utf8").trimEnd().split("\n")),
    summary: fs.existsSync(summary) ? fs.readFileSync(summary, "utf8") : "",
  };
}
