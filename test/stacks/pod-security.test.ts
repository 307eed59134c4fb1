/**
 * Every pod template the overlay declares (data Jobs: ad-hoc backup, validation's two containers,
 * promotion, restore from storage; the maintenance page's Deployment), in every scenario of the
 * qa and production plans, is admitted under Pod Security `restricted` (latest), as checked by
 * test/support/pod-security.ts. The real API server's admission is the e2e suite's check.
 */
import * as assert from "node:assert/strict";
import { DeclaredResource } from "../../offline/offline";
import { podSpecOf, restrictedViolations } from "../support/pod-security";
import { managed, runScenario, SCENARIO_NAMES, STACKS, TYPES } from "../support/pulumi-harness";

const POD_OWNERS = new Set<string>([TYPES.job, TYPES.deployment]);

describe("Pod Security restricted: every pod template of the qa and production plans", function () {
  this.timeout(60_000);

  describe("the checker", () => {
    const admitted = {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "a",
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
      volumes: [{ name: "work", emptyDir: {} }],
    };
    it("admits a spec that meets every rule", () => {
      assert.deepEqual(restrictedViolations(admitted), []);
    });
    it("refuses what the data Jobs declared before (no seccompProfile), naming the container", () => {
      const before = { ...admitted, securityContext: { runAsNonRoot: true, runAsUser: 1000 } };
      assert.deepEqual(restrictedViolations(before), [
        "containers[a]: seccompProfile.type must be RuntimeDefault or Localhost (pod or container), is unset",
      ]);
    });
    it("refuses escalation, root, added capabilities and hostPath in any container, init ones too", () => {
      const bad = {
        ...admitted,
        initContainers: [{ name: "i", securityContext: { capabilities: { add: ["NET_ADMIN"] } } }],
        volumes: [{ name: "h", hostPath: { path: "/" } }],
      };
      const v = restrictedViolations(bad);
      for (const want of [
        /initContainers\[i\]: securityContext\.allowPrivilegeEscalation must be false/,
        /initContainers\[i\]: securityContext\.capabilities\.drop must include ALL/,
        /initContainers\[i\]: capability NET_ADMIN added/,
        /volumes\[h\]: hostPath is not allowed/,
      ]) {
        assert.ok(
          v.some((x) => want.test(x)),
          `${want} not in ${v.join("; ")}`,
        );
      }
      const root = { ...admitted, securityContext: { seccompProfile: { type: "RuntimeDefault" } } };
      assert.match(restrictedViolations(root).join(), /runAsNonRoot must be true/);
    });
  });

  for (const stack of STACKS) {
    it(`${stack}: every scenario's pod templates are admitted`, async () => {
      const seen = new Set<string>();
      for (const scenario of SCENARIO_NAMES) {
        const run = await runScenario(stack, scenario);
        const owners = managed(run.resources).filter((r: DeclaredResource) =>
          POD_OWNERS.has(r.type),
        );
        for (const r of owners) {
          seen.add(`${r.type.split(":").pop()} ${r.name}`);
          const v = restrictedViolations(podSpecOf(r));
          assert.deepEqual(v, [], `${scenario}: ${r.type} ${r.name} would be refused`);
        }
      }
      // The check covered what it is about: every kind of data Job and the maintenance page.
      const names = [...seen].join("\n");
      for (const want of [/backup/i, /validat/i, /promot/i, /restore/i, /^Deployment /m]) {
        assert.match(names, want, `no pod template matching ${want} in:\n${names}`);
      }
    });
  }
});
