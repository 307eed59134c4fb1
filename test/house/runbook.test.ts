/**
 * The runbook's vocabulary has one home (contract/runbook.ts): every object the program declares
 * belongs to one of its steps, every data Job has its role there, every annotation key the
 * overlay writes is one of its keys, and no product file spells a step title, a Job's resource
 * name or an annotation key again.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ANNOTATIONS, JOBS, RUNBOOK, runbookStepOf } from "../../contract/runbook";
import { jobRefs } from "../../runner/jobs";
import { managed, ROOT, runScenario, ScenarioName, Stack } from "../support/pulumi-harness";

const SCENARIOS: [Stack, ScenarioName][] = [
  ["production", "corrupted+promote"],
  ["qa", "corrupted"],
  ["qa", "server-gone rebuild"],
  ["qa", "server-gone revive"],
];

/** Product folders: what runs for an operator or in a Job (tests and e2e aside). */
const PRODUCT = ["components", "contract", "datapath", "offline", "runner", "stacks", "tools"];

function productFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return productFiles(rel);
    return e.name.endsWith(".ts") ? [rel] : [];
  });
}

describe("the house: the runbook's vocabulary has one home (contract/runbook.ts)", function () {
  this.timeout(120_000);

  for (const [stack, scenario] of SCENARIOS) {
    it(`${stack}, ${scenario}: every declared object is in a runbook step, every Job has a role, every annotation is known`, async () => {
      const run = await runScenario(stack, scenario);
      const objects = managed(run.resources).filter((r) => !r.type.startsWith("pulumi:"));
      assert.ok(objects.length > 0);
      const stepless = objects.filter((r) => !runbookStepOf(r.name)).map((r) => r.name);
      assert.deepEqual(stepless, [], "objects named outside the runbook's steps");

      const jobs = objects.filter((r) => r.type === "kubernetes:batch/v1:Job");
      assert.deepEqual(
        jobs.filter((j) => !JOBS[j.name]).map((j) => j.name),
        [],
        "Jobs with no role",
      );
      const refs = jobRefs(
        jobs.map((j) => ({
          type: j.type,
          name: j.name,
          kubernetes: (j.inputs as { metadata: { namespace: string; name: string } }).metadata,
        })),
      );
      assert.equal(refs.length, jobs.length, "the runner watches every Job the program declares");
      for (const j of jobs) {
        assert.equal(
          runbookStepOf(j.name)?.jobs.some((k) => k.resource === j.name),
          true,
        );
      }

      const known = new Set<string>(Object.values(ANNOTATIONS));
      const keys = objects.flatMap((r) => {
        const meta = (r.inputs as { metadata?: { annotations?: object } }).metadata;
        const podMeta = (
          r.inputs as { spec?: { template?: { metadata?: { annotations?: object } } } }
        ).spec?.template?.metadata;
        return [
          ...Object.keys(meta?.annotations ?? {}),
          ...Object.keys(podMeta?.annotations ?? {}),
        ];
      });
      assert.deepEqual(
        [...new Set(keys)].filter((k) => !known.has(k)),
        [],
        "annotation keys not in ANNOTATIONS",
      );
    });
  }

  it("no product file spells a step title, a Job's resource name or an annotation key again", () => {
    const names = [
      ...RUNBOOK.map((s) => s.title),
      ...Object.keys(JOBS),
      // Pulumi's own keys are the provider's words, not the runbook's; the rest must be read here.
      ...Object.values(ANNOTATIONS).filter((k) => !k.startsWith("pulumi.com/")),
    ];
    const home = path.join("contract", "runbook.ts");
    const again: string[] = [];
    for (const file of PRODUCT.flatMap(productFiles)) {
      if (file === home) continue;
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      for (const name of names) {
        if (text.includes(`"${name}"`) || text.includes(`'${name}'`) || text.includes(`\`${name}`))
          again.push(`${file}: ${name}`);
      }
    }
    assert.deepEqual(again, []);
  });

  it("steps and Jobs are named once each: no resource name is a step's twice", () => {
    const resources = RUNBOOK.map((s) => s.resource);
    assert.equal(new Set(resources).size, resources.length);
    assert.equal(new Set(RUNBOOK.map((s) => s.id)).size, RUNBOOK.length);
    assert.equal(new Set(RUNBOOK.map((s) => s.title)).size, RUNBOOK.length);
    const jobs = RUNBOOK.flatMap((s) => s.jobs);
    assert.equal(Object.keys(JOBS).length, jobs.length);
    assert.equal(new Set(jobs.map((j) => j.role)).size, jobs.length);
  });
});
