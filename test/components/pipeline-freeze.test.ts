/**
 * PipelineFreeze alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { PipelineFreeze } from "../../components/pipeline-freeze";
import { assertNoCollisions, declareAlone, parentOf } from "../support/components";
import { captureResources, managed, ofType, one, TYPES } from "../support/pulumi-harness";

describe("PipelineFreeze", () => {
  const freeze = (name: string, reviews?: number, rulesetName = `pg-recovery freeze ${name}`) =>
    new PipelineFreeze(name, {
      repository: "publish-teacher-training",
      rulesetName,
      requiredApprovingReviewCount: reviews,
    });

  it("adds an active branch ruleset on ~DEFAULT_BRANCH requiring the reviews, with no bypass", async () => {
    const { resources, outputs } = await declareAlone(
      () => freeze("freeze", 7),
      (c) => ({ reviews: c.requiredApprovingReviewCount }),
    );
    const ruleset = one(resources, TYPES.ruleset);
    const i = ruleset.inputs as any;
    assert.equal(ruleset.name, "freeze-ruleset");
    assert.equal(i.repository, "publish-teacher-training");
    assert.equal(i.name, "pg-recovery freeze freeze");
    assert.equal(i.target, "branch");
    assert.equal(i.enforcement, "active");
    assert.deepEqual(i.conditions.refName.includes, ["~DEFAULT_BRANCH"]);
    assert.deepEqual(i.conditions.refName.excludes ?? [], []);
    assert.equal(i.rules.pullRequest.requiredApprovingReviewCount, 7);
    assert.deepEqual(i.bypassActors ?? [], [], "the freeze must hold for admins too");
    assert.match(parentOf(ruleset), /PipelineFreeze::freeze$/);
    assert.equal(outputs.reviews, 7);
    // Only the ruleset: the team's own ruleset is never touched.
    assert.deepEqual(
      managed(resources).map((r) => r.type),
      [TYPES.ruleset],
    );
  });

  it("requires 6 reviews by default, as the runbook does", async () => {
    const { resources } = await declareAlone(() => freeze("freeze-default"));
    assert.equal(
      (one(resources, TYPES.ruleset).inputs as any).rules.pullRequest.requiredApprovingReviewCount,
      6,
    );
  });

  it("refuses a review count GitHub would refuse (0, 11, 2.5)", async () => {
    for (const n of [0, 11, 2.5]) {
      await assert.rejects(
        captureResources(() => freeze(`freeze-bad-${n}`, n)),
        /requiredApprovingReviewCount .* is not 1-10/,
      );
    }
  });

  it("two instances with different names don't collide", async () => {
    const { resources } = await declareAlone(() => [freeze("freeze-a", 6), freeze("freeze-b", 2)]);
    const rulesets = ofType(resources, TYPES.ruleset);
    assert.equal(rulesets.length, 2);
    assert.deepEqual(rulesets.map((r) => r.name).sort(), ["freeze-a-ruleset", "freeze-b-ruleset"]);
    assert.deepEqual(
      rulesets.map((r) => (r.inputs as any).rules.pullRequest.requiredApprovingReviewCount).sort(),
      [2, 6],
    );
    assertNoCollisions(resources);
  });
});
