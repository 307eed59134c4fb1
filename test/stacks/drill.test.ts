/**
 * The drill scenario through the config door and the program (offline harness, real stack
 * files): every refusal names its key and the fix; the plan holds the drill server, its network,
 * the checks' Jobs, and nothing that writes live or the app; it is deterministic.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { evaluateOffline, OfflineRun } from "../../offline/offline";
import {
  DrillExercise,
  IncidentConfigError,
  parseIncident,
  RawConfig,
} from "../../stacks/incident";
import {
  FACTS,
  jobSteps,
  managed,
  NOW,
  ofType,
  one,
  planShape,
  Stack,
  stackConfig,
  stackFacts,
  STACKS,
  TYPES,
} from "../support/pulumi-harness";

const DRILL = {
  scenario: "drill",
  incidentDate: "2026-11-25",
  restoreTime: "2026-11-25T09:00:00Z",
};

function raw(values: RawConfig["values"], environment: unknown = stackFacts("qa")): RawConfig {
  return { values, environment, keysSet: [...Object.keys(values), "environment"] };
}

function refused(values: RawConfig["values"], environment?: unknown): string[] {
  try {
    const got = parseIncident(raw(values, environment), NOW);
    assert.fail(`expected a refusal, got scenario ${got.scenario}`);
  } catch (e) {
    if (!(e instanceof IncidentConfigError)) throw e;
    return e.problems;
  }
}

const FIX = /pulumi config (set|rm) |Fix it in Pulumi\.<stack>\.yaml/;

describe("drill: the config door", () => {
  it("accepts a drill: UTC restore time, server <live>-drill by default", () => {
    const d = parseIncident(
      raw({ ...DRILL, restoreTime: "2026-11-25T10:00:00+01:00" }),
      NOW,
    ) as DrillExercise;
    assert.equal(d.scenario, "drill");
    assert.equal(d.restoreTime.toISOString(), "2026-11-25T09:00:00.000Z");
    assert.equal(d.drillServerName, `${FACTS.qa.live}-drill`);
  });

  it("keeps the permanent keys an operator may hold in the stack file (requiredReviews, ptrServerName)", () => {
    const d = parseIncident(
      raw({ ...DRILL, requiredReviews: "4", ptrServerName: "other-ptr" }),
      NOW,
    ) as DrillExercise;
    assert.equal(d.scenario, "drill");
  });

  for (const key of [
    "scaleDown",
    "promote",
    "promotionMode",
    "promotionTables",
    "confirm",
    "serverDeletedAt",
  ] as const) {
    it(`refuses the incident key ${key} next to a drill, with the fix`, () => {
      const problems = refused({
        ...DRILL,
        [key]: key === "promotionTables" ? "public.a" : "true",
      });
      const p = problems.find((x) => x.includes(`pg-recovery:${key} `));
      assert.ok(p, problems.join("\n"));
      assert.match(p!, new RegExp(`pulumi config rm pg-recovery:${key}`));
    });
  }

  it("requires restoreTime and incidentDate, each with the fix", () => {
    const problems = refused({ scenario: "drill" });
    assert.ok(problems.some((p) => /pg-recovery:restoreTime is required for a drill/.test(p)));
    assert.ok(problems.some((p) => /pg-recovery:incidentDate is required/.test(p)));
    for (const p of problems) assert.match(p, FIX);
  });

  it("refuses a restore time without an offset, or in the future", () => {
    assert.ok(
      refused({ ...DRILL, restoreTime: "2026-11-25T09:00:00" }).some((p) => /restoreTime/.test(p)),
    );
    const future = refused({ ...DRILL, restoreTime: "2026-11-26T09:00:00Z" });
    assert.ok(
      future.some((p) => /in the future/.test(p)),
      future.join("\n"),
    );
  });

  it("refuses a drill server named like live or like the PTR, with the fix", () => {
    for (const name of [FACTS.qa.live, `${FACTS.qa.live}-ptr`]) {
      const problems = refused({ ...DRILL, drillServerName: name });
      const p = problems.find((x) => x.includes("pg-recovery:drillServerName"));
      assert.ok(p, problems.join("\n"));
      assert.match(p!, /pulumi config rm pg-recovery:drillServerName/);
    }
    // A custom PTR name is a PTR name too.
    const custom = refused({ ...DRILL, ptrServerName: "mine-ptr", drillServerName: "mine-ptr" });
    assert.ok(custom.some((p) => /point-in-time restore \(PTR\)/.test(p)));
  });

  it("refuses a bad drillServerName in an incident too (it must never collide)", () => {
    const problems = refused({
      scenario: "corrupted",
      incidentDate: "2026-11-25",
      restoreTime: "2026-11-25T09:00:00Z",
      drillServerName: FACTS.qa.live,
    });
    assert.ok(problems.some((p) => p.includes("pg-recovery:drillServerName")));
  });

  it("recoveryTargets are optional facts; unknown keys in them are refused", () => {
    const facts = stackFacts("qa");
    facts.recoveryTargets = { rpoMinutes: 60, rtoMinutes: 240 };
    const d = parseIncident(raw(DRILL, facts), NOW) as DrillExercise;
    assert.deepEqual(d.env.recoveryTargets, { rpoMinutes: 60, rtoMinutes: 240 });
    facts.recoveryTargets = { rpo: 60 };
    const problems = refused(DRILL, facts);
    assert.ok(problems.some((p) => /recoveryTargets\.rpo is not a known fact/.test(p)));
  });
});

/** Resource types that write something outside the drill's own objects. */
const WRITES_LIVE = [
  TYPES.deploymentPatch,
  TYPES.ingressPatch,
  TYPES.ingress,
  TYPES.ruleset,
  TYPES.deployment,
  TYPES.configMap,
  TYPES.service,
];

describe("drill: the plan (real stack files, offline)", function () {
  this.timeout(60_000);
  for (const stack of STACKS) {
    describe(stack, () => {
      const f = FACTS[stack as Stack];
      let run: OfflineRun;
      before(async () => {
        run = await evaluateOffline(stackConfig(stack, DRILL), NOW);
      });

      it("declares one server: a point-in-time restore of live into <live>-drill, deleted on destroy", () => {
        const servers = ofType(managed(run.resources), TYPES.server);
        assert.equal(servers.length, 1);
        const s = servers[0];
        const inputs = s.inputs as any;
        assert.equal(s.name, "drill-server-server");
        assert.equal(inputs.serverName, `${f.live}-drill`);
        assert.equal(inputs.createMode, "PointInTimeRestore");
        assert.equal(inputs.pointInTimeUTC, "2026-11-25T09:00:00Z");
        assert.match(inputs.sourceServerResourceId, new RegExp(`/flexibleServers/${f.live}$`));
        assert.notEqual(s.options.retainOnDelete, true, "a drill server must not be kept");
      });

      it("puts the drill server in the same subnet and DNS zone a PTR uses", async () => {
        const ptrRun = await evaluateOffline(
          stackConfig(stack, {
            scenario: "corrupted",
            incidentDate: DRILL.incidentDate,
            restoreTime: DRILL.restoreTime,
          }),
          NOW,
        );
        const ptr = one(ptrRun.resources, TYPES.server).inputs as any;
        const drill = one(run.resources, TYPES.server).inputs as any;
        assert.deepEqual(drill.network, ptr.network);
        assert.match(drill.network.delegatedSubnetResourceId, /\/subnets\//);
        assert.match(drill.network.privateDnsZoneArmResourceId, /privateDnsZones/);
      });

      it("runs verify --drill against live and restore --latest into a scratch database, both on the drill server", () => {
        const jobs = ofType(run.resources, TYPES.job);
        assert.deepEqual(jobs.map((j) => (j.inputs as any).metadata.name).sort(), [
          "pgr-drill-2026-11-25-restore",
          "pgr-drill-2026-11-25-verify",
        ]);
        const drillHost = `${f.live}-drill.postgres.database.azure.com`;
        const verify = jobSteps(one(run.resources, TYPES.job, "drill-verify-job"));
        assert.equal(verify.length, 1);
        const va = verify[0].args;
        assert.equal(va[0], "verify");
        assert.equal(va[va.indexOf("--target-host") + 1], drillHost);
        assert.equal(va[va.indexOf("--restore-target") + 1], "2026-11-25T09:00:00Z");
        assert.ok(va.includes("--drill") && va.includes("--json"));
        assert.ok(!va.includes("--source-host"), "live is the source, read with the app's URL");
        const restore = jobSteps(one(run.resources, TYPES.job, "drill-restore-job"));
        const ra = restore[0].args;
        assert.equal(ra[0], "restore");
        assert.ok(ra.includes("--latest") && ra.includes("--json"));
        assert.equal(ra[ra.indexOf("--db-host") + 1], drillHost, "the restore never targets live");
        assert.notEqual(ra[ra.indexOf("--db-name") + 1], f.database);
        assert.ok(!ra.includes("--confirm"));
      });

      it("writes nothing of live or the app: no patch, ingress, ruleset, deployment or promotion", () => {
        const written = managed(run.resources).filter((r) => WRITES_LIVE.includes(r.type as any));
        assert.deepEqual(
          written.map((r) => `${r.type} ${r.name}`),
          [],
        );
        for (const job of ofType(run.resources, TYPES.job)) {
          for (const st of jobSteps(job)) {
            assert.ok(
              !["promote", "backup"].includes(st.args[0]),
              `${job.name} runs ${st.args[0]}`,
            );
          }
        }
        assert.ok(
          !run.resources.some((r) => r.type === TYPES.githubProvider),
          "no GitHub provider: a drill freezes nothing",
        );
        // The only server managed is the drill's; live is read by getServer only.
        for (const s of ofType(managed(run.resources), TYPES.server)) {
          assert.notEqual((s.inputs as any).serverName, f.live);
        }
        const types = new Set(managed(run.resources).map((r) => r.type));
        assert.deepEqual(
          [...types].filter((t) => !t.startsWith("pulumi:providers:")).sort(),
          [TYPES.server, TYPES.job, TYPES.secret].sort(),
        );
      });

      it("is deterministic: the same config gives the same plan on another day", async () => {
        const later = await evaluateOffline(
          stackConfig(stack, DRILL),
          new Date(NOW.getTime() + 3 * 86400_000),
        );
        assert.deepEqual(planShape(later.resources), planShape(run.resources));
      });

      it("says in its outputs what is read and what is deleted", () => {
        assert.match(String(run.outputs.live), /read only/);
        assert.equal((run.outputs.drillServer as any).deletedOnDestroy, true);
      });
    });
  }

  it("refuses a restore time outside the live server's retention (preflight), with the fix", async () => {
    await assert.rejects(
      evaluateOffline(stackConfig("qa", { ...DRILL, restoreTime: "2026-11-01T09:00:00Z" }), NOW),
      /restoreTime 2026-11-01T09:00:00Z is before the earliest restore point/,
    );
  });
});
