/**
 * The config door through the program (the real stack files under the offline harness): a bad
 * config is refused with the door's message, before anything (not even a provider) is declared.
 * The door alone is tested in incident.test.ts.
 */
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import {
  FACTS,
  NOW,
  programOutcome,
  stackConfig,
  stackFacts,
  TYPES,
} from "../support/pulumi-harness";

const QA_LIVE = FACTS.qa.live;

describe("config door: through the program (real stack files, offline harness)", () => {
  /** Runs the program; asserts it threw a config error before registering anything. */
  async function refusedByProgram(config: Record<string, string>, now = NOW): Promise<string> {
    const { error, resources } = await programOutcome(config, now);
    assert.ok(error, "expected the program to refuse the config");
    assert.ok(pulumi.RunError.isInstance(error), `expected a RunError, got ${String(error)}`);
    assert.match(
      (error as Error).message,
      /the stack config is not a valid incident \(nothing was changed\)/,
    );
    assert.deepEqual(
      resources.map((r) => `${r.type}::${r.name}`),
      [],
      "nothing may be declared (not even a provider) when the config is bad",
    );
    return (error as Error).message;
  }

  const qa = (sets: Record<string, string>) => stackConfig("qa", sets);
  const good = {
    scenario: "corrupted",
    incidentDate: "2026-11-24",
    restoreTime: "2026-11-24T12:00:00Z",
  };

  it("the good config of these tests declares the overlay (control)", async () => {
    const { error, resources } = await programOutcome(qa(good));
    assert.equal(error, undefined);
    assert.ok(resources.some((r) => r.type === TYPES.server));
  });

  it("unknown scenario", async () => {
    const message = await refusedByProgram(qa({ scenario: "server-gon" }));
    assert.match(
      message,
      /pg-recovery:scenario "server-gon" is not a scenario.*did you mean server-gone\?/,
    );
  });

  it("missing and malformed incidentDate", async () => {
    assert.match(
      await refusedByProgram(qa({ ...good, incidentDate: "" })),
      /pg-recovery:incidentDate is required/,
    );
    assert.match(
      await refusedByProgram(qa({ ...good, incidentDate: "2026-11-31" })),
      /pg-recovery:incidentDate "2026-11-31" is not a date/,
    );
  });

  it("restoreTime without an offset: one reading in winter, both when they differ (summer)", async () => {
    const winter = await refusedByProgram(qa({ ...good, restoreTime: "2026-11-24T06:00:00" }));
    assert.match(winter, /has no UTC offset/);
    assert.match(
      winter,
      /read as UTC or as Europe\/London wall-clock time \(the same in winter\) it is 2026-11-24T06:00:00Z/,
    );
    const summer = await refusedByProgram(qa({ ...good, restoreTime: "2026-07-24T06:00:00" }));
    assert.match(summer, /read as UTC it is 2026-07-24T06:00:00Z/);
    assert.match(summer, /read as Europe\/London wall-clock time it is 2026-07-24T05:00:00Z/);
  });

  it("restoreTime in the future of the program's now", async () => {
    const message = await refusedByProgram(qa({ ...good, restoreTime: "2026-11-25T12:00:01Z" }));
    assert.match(
      message,
      /pg-recovery:restoreTime 2026-11-25T12:00:01Z is in the future \(now is 2026-11-25T12:00:00Z\)/,
    );
  });

  it("restoreTime before the earliest restore point (now - retention days) declares nothing", async () => {
    // Offline, getServer answers earliest = now (to the hour) - 7 days = 2026-11-18T12:00:00Z.
    const message = await refusedByProgram(qa({ ...good, restoreTime: "2026-11-18T11:59:59Z" }));
    assert.match(
      message,
      /pg-recovery:restoreTime 2026-11-18T11:59:59Z is before the earliest restore point of s189t01-ptt-qa-pg, 2026-11-18T12:00:00Z \(2026-11-18 12:00:00 GMT \(UTC\+00:00\) Europe\/London\); backups are kept 7 days\. Choose a later time/,
    );
  });

  it("restoreTime exactly at the earliest restore point is accepted", async () => {
    const { error } = await programOutcome(qa({ ...good, restoreTime: "2026-11-18T12:00:00Z" }));
    assert.equal(error, undefined);
  });

  it("requiredReviews out of range", async () => {
    for (const n of ["0", "11", "six"]) {
      assert.match(
        await refusedByProgram(qa({ ...good, requiredReviews: n })),
        new RegExp(`pg-recovery:requiredReviews "${n}" must be a whole number from 1 to 10`),
      );
    }
  });

  it("missing environment facts", async () => {
    const config = qa(good);
    delete config["pg-recovery:environment"];
    assert.match(await refusedByProgram(config), /pg-recovery:environment is missing/);
  });

  it("malformed facts name the path under pg-recovery:environment", async () => {
    const facts = stackFacts("qa");
    facts.ingress.temporaryHosts[0] = "find temp.test.teacherservices.cloud";
    delete facts.kubernetes.namespace;
    facts.kubernetes.webService.prot = 80;
    const message = await refusedByProgram({
      ...qa(good),
      "pg-recovery:environment": JSON.stringify(facts),
    });
    assert.match(
      message,
      /pg-recovery:environment\.ingress\.temporaryHosts\.0 must be a lowercase DNS host name/,
    );
    assert.match(message, /pg-recovery:environment\.kubernetes\.namespace is required/);
    assert.match(message, /pg-recovery:environment\.kubernetes\.webService\.prot/);
  });

  it("facts that are not an object", async () => {
    const message = await refusedByProgram({ ...qa(good), "pg-recovery:environment": "[1, 2]" });
    assert.match(message, /pg-recovery:environment/);
  });

  it("promote without confirm, and confirm naming another server", async () => {
    assert.match(
      await refusedByProgram(qa({ ...good, promote: "true" })),
      /pg-recovery:confirm is not set/,
    );
    assert.match(
      await refusedByProgram(qa({ ...good, promote: "true", confirm: `${QA_LIVE}-ptr` })),
      /pg-recovery:confirm "s189t01-ptt-qa-pg-ptr" does not match the live server "s189t01-ptt-qa-pg"/,
    );
  });

  it("a pg-recovery: key typo (set like `pulumi config set`)", async () => {
    assert.match(
      await refusedByProgram(qa({ ...good, requiredReview: "6" })),
      /pg-recovery:requiredReview is not a pg-recovery setting; did you mean pg-recovery:requiredReviews\?/,
    );
  });

  it("a typo is caught even in the steady state", async () => {
    assert.match(
      await refusedByProgram(qa({ scenaro: "corrupted" })),
      /did you mean pg-recovery:scenario\?/,
    );
  });

  it("revive rules", async () => {
    const gone = { scenario: "server-gone", incidentDate: "2026-11-24" };
    assert.match(
      await refusedByProgram(
        qa({
          ...gone,
          serverDeletedAt: "2026-11-24T10:00:00Z",
          restoreTime: "2026-11-24T10:05:00Z",
        }),
      ),
      /less than 10 minutes after the deletion/,
    );
    assert.match(
      await refusedByProgram(
        qa({
          ...gone,
          serverDeletedAt: "2026-11-20T11:00:00Z",
          restoreTime: "2026-11-20T11:30:00Z",
        }),
      ),
      /pg-recovery:serverDeletedAt 2026-11-20T11:00:00Z is more than 5 days ago/,
    );
    assert.match(
      await refusedByProgram(qa({ ...gone, restoreTime: "2026-11-24T10:30:00Z" })),
      /pg-recovery:serverDeletedAt is required to revive a dropped server/,
    );
  });
});
