/**
 * The Job watcher and a Job whose pods cannot be created (Pod Security `restricted` refusing
 * them, a quota ...): the Job's controller records `FailedCreate` events and retries for ever,
 * so the runner reports the event's reason and stops waiting instead of waiting for 6 hours.
 */
import * as assert from "node:assert/strict";
import type { CoreV1Event } from "@kubernetes/client-node";
import { describeJob, JobRef, JobStatus, waitForJobs } from "../../runner/jobs";
import { failedCreateMessage } from "../../runner/kubernetes";
import { FakeCluster, testIo } from "./support/fakes";

const REFUSAL =
  'Error creating: pods "pgr-x-validation-abcde" is forbidden: violates PodSecurity "restricted:latest": ' +
  'seccompProfile (pod or containers "verify", "promotion-plan" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

const validation: JobRef = { namespace: "bat-qa", name: "pgr-x-validation", role: "validation" };
const backup: JobRef = { namespace: "bat-qa", name: "pgr-x-adhoc-backup", role: "adhoc-backup" };

describe("runner: a Job whose pods cannot be created", () => {
  it("is reported with the FailedCreate reason, and waiting stops (no time-out reached)", async () => {
    const cluster = new FakeCluster();
    cluster.setJob(validation.name, {
      state: "blocked",
      containers: [],
      message: `FailedCreate (3 times): ${REFUSAL}`,
    });
    const io = testIo();
    const jobs = await waitForJobs(cluster, [validation], io, {
      followRoles: ["validation"],
      pollMs: 5,
      // Far beyond the test's own timeout: only stopping on the refusal ends this wait.
      timeoutMs: 24 * 3600_000,
    });
    assert.deepEqual(
      jobs.map((j) => j.state),
      ["blocked"],
    );
    const line = io.stderr.find((l) => l.includes("pgr-x-validation"));
    assert.ok(line, io.stderr.join("\n"));
    assert.match(
      line,
      /blocked, its pods cannot be created: FailedCreate \(3 times\): Error creating/,
    );
    assert.ok(line.includes('violates PodSecurity "restricted:latest"'), line);
    assert.match(line, /kubectl -n bat-qa describe job\/pgr-x-validation/);
    assert.ok(!io.stderr.some((l) => /stopped waiting/.test(l)), "reached the time-out instead");
  });

  it("other Jobs are still waited for to the end", async () => {
    const cluster = new FakeCluster();
    cluster.setJob(validation.name, {
      state: "blocked",
      containers: [],
      message: "FailedCreate: x",
    });
    cluster.setJob(backup.name, { state: "running", containers: [] });
    let polls = 0;
    const watched = {
      job: async (ref: JobRef): Promise<JobStatus> => {
        if (ref.name === backup.name && ++polls === 4) {
          cluster.setJob(backup.name, { state: "succeeded", containers: [] });
        }
        return cluster.job(ref);
      },
      follow: async () => undefined,
      logs: cluster.logs.bind(cluster),
    };
    const jobs = await waitForJobs(watched, [backup, validation], testIo(), {
      followRoles: [],
      pollMs: 5,
    });
    assert.deepEqual(
      jobs.map((j) => j.state),
      ["succeeded", "blocked"],
    );
    assert.ok(polls >= 4, "stopped before the running Job ended");
  });

  it("describes a blocked Job even without a message", () => {
    assert.match(
      describeJob({ ...backup, state: "blocked", containers: [] }),
      /Job pgr-x-adhoc-backup \[ad-hoc backup of live\]: blocked, its pods cannot be created: FailedCreate\./,
    );
  });
});

describe("runner: FailedCreate events read from the API server", () => {
  const event = (uid: string, at: string, message: string, extra: Partial<CoreV1Event> = {}) =>
    ({
      metadata: { name: `e-${at}` },
      involvedObject: { kind: "Job", name: "pgr-x-validation", uid },
      reason: "FailedCreate",
      message,
      lastTimestamp: new Date(at),
      ...extra,
    }) as CoreV1Event;

  it("takes the newest event of this Job's uid, with its count", () => {
    const msg = failedCreateMessage(
      [
        event("old-uid", "2026-11-25T12:05:00Z", "a deleted Job of the same name"),
        event("uid-1", "2026-11-25T12:01:00Z", "first refusal"),
        event("uid-1", "2026-11-25T12:03:00Z", REFUSAL, { count: 5 }),
        event("uid-1", "2026-11-25T12:04:00Z", "not this", { reason: "SuccessfulCreate" }),
      ],
      "uid-1",
    );
    assert.equal(msg, `FailedCreate (5 times): ${REFUSAL}`);
  });

  it("none for a Job without FailedCreate events", () => {
    assert.equal(failedCreateMessage([], "uid-1"), undefined);
    assert.equal(
      failedCreateMessage([event("other", "2026-11-25T12:00:00Z", "x")], "uid-1"),
      undefined,
    );
  });
});
