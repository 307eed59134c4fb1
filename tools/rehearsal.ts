/**
 * `npx ts-node --transpile-only tools/rehearsal.ts [STACK]`: prints the path of a new
 * Pulumi project directory for rehearsing the runner on the local cluster (docs/incident.md,
 * "Rehearsal on the local cluster"): the e2e program, and a Pulumi.<STACK>.yaml (default e2e) holding the seeded app's
 * facts for the current kubectl context. Run it after `eval "$(e2e/cluster.sh up)"` and
 * `e2e/cluster.sh seed`.
 */
import * as path from "node:path";
import { readSeed } from "../e2e/test/support/app";
import { currentContext, E2E } from "../e2e/test/support/cluster";
import { projectDir } from "../e2e/test/support/runner";

if (require.main === module) {
  const stack = process.argv[2] ?? "e2e";
  const seedFile = path.resolve(process.env.E2E_SEED ?? path.join(E2E, "seed", "app.yaml"));
  process.stdout.write(`${projectDir(stack, readSeed(seedFile), currentContext(process.env))}\n`);
}
