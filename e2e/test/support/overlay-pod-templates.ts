/**
 * Prints, as JSON, every pod template the overlay declares in every scenario of the qa and
 * production plans (the offline harness, as the mocks tests evaluate them). Run as its own
 * process: the harness's mocks are process-global, and the e2e suite runs its Pulumi programs
 * inline in the test process.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import { execFile } from "node:child_process";
import * as path from "node:path";
import {
  managed,
  runScenario,
  SCENARIO_NAMES,
  STACKS,
  TS_NODE,
  TYPES,
  unwrapSecrets,
} from "../../../test/support/pulumi-harness";

export interface DeclaredPodTemplate {
  stack: string;
  scenario: string;
  /** The resource's type and name in the plan, e.g. kubernetes:batch/v1:Job validation-job. */
  type: string;
  name: string;
  template: { metadata?: any; spec: any };
}

async function print(): Promise<void> {
  const out: DeclaredPodTemplate[] = [];
  for (const stack of STACKS) {
    for (const scenario of SCENARIO_NAMES) {
      const run = await runScenario(stack, scenario);
      for (const r of managed(run.resources)) {
        if (r.type !== TYPES.job && r.type !== TYPES.deployment) continue;
        const template = unwrapSecrets((r.inputs as any).spec.template) as any;
        out.push({ stack, scenario, type: r.type, name: r.name, template });
      }
    }
  }
  process.stdout.write(JSON.stringify(out));
}

/** The overlay's pod templates, evaluated in a child process (see above). */
export function overlayPodTemplates(): Promise<DeclaredPodTemplate[]> {
  return new Promise((resolve, reject) =>
    execFile(
      TS_NODE,
      ["--transpile-only", __filename],
      { cwd: path.resolve(__dirname, "../../.."), maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

if (require.main === module) {
  print().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
