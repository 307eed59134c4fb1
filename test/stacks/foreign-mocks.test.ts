/**
 * The program must not depend on our offline harness: under someone else's plain mocks (echo
 * inputs, invokes answered with their inputs), in a fresh process, it still evaluates and
 * declares the overlay.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Declared = { type: string; name: string; inputs: any };

function runUnderPlainMocks(stack: string, sets: string[], preview = false) {
  const out = execFileSync(
    path.join(ROOT, "node_modules", ".bin", "ts-node"),
    [
      "--transpile-only",
      path.join(__dirname, "..", "support", "foreign-mocks-run.ts"),
      stack,
      ...sets,
    ],
    {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PREVIEW: String(preview) },
    },
  );
  return JSON.parse(out) as { errors: string[]; declared: Declared[] };
}

describe("the program under plain, foreign mocks", function () {
  this.timeout(60_000);

  it("declares the corrupted overlay for production without throwing", () => {
    const run = runUnderPlainMocks("production", [
      "scenario=corrupted",
      "incidentDate=2026-11-20",
      "restoreTime=2026-11-20T05:59:00Z",
    ]);
    assert.deepEqual(run.errors, []);
    const server = run.declared.find((r) => r.type === "azure-native:dbforpostgresql:Server");
    assert.equal(server?.inputs.serverName, "s189p01-ptt-pd-pg-ptr");
    assert.equal(server?.inputs.pointInTimeUTC, "2026-11-20T05:59:00Z");
    const patches = run.declared.filter((r) => r.type === "kubernetes:apps/v1:DeploymentPatch");
    assert.deepEqual(patches.map((p) => p.inputs.metadata.name).sort(), [
      "publish-production",
      "publish-production-worker",
    ]);
  });

  it("declares the promotion under preview mocks too (unknown outputs don't break it)", () => {
    const run = runUnderPlainMocks(
      "production",
      [
        "scenario=corrupted",
        "incidentDate=2026-11-20",
        "restoreTime=2026-11-20T05:59:00Z",
        "promote=true",
        "promotionMode=whole",
        "confirm=s189p01-ptt-pd-pg",
      ],
      true,
    );
    assert.deepEqual(run.errors, []);
    const jobs = run.declared.filter((r) => r.type === "kubernetes:batch/v1:Job");
    assert.deepEqual(jobs.map((j) => j.name).sort(), [
      "adhoc-backup-job",
      "promotion-archive-job",
      "promotion-job",
      "validation-job",
    ]);
  });

  it("declares nothing for scenario none", () => {
    const run = runUnderPlainMocks("qa", []);
    assert.deepEqual(run.errors, []);
    assert.deepEqual(run.declared, []);
  });

  it("rejects bad config with the config door's message", () => {
    const run = runUnderPlainMocks("qa", [
      "scenario=corrupted",
      "incidentDate=2026-11-20",
      "restoreTime=2024-07-24T06:00:00",
    ]);
    assert.equal(run.declared.length, 0);
    assert.match(
      run.errors.join("\n"),
      /pg-recovery:restoreTime "2024-07-24T06:00:00" has no UTC offset/,
    );
  });
});
