/**
 * Runbook step "freeze the delivery pipeline": every push to main deploys through Terraform,
 * which would reset replicas and ingresses and take the maintenance page down.
 *
 * GitHub rulesets have no priority: the most restrictive rule of all active rulesets applies.
 * So the freeze is an extra ruleset that raises required approving reviews; deleting it (pulumi
 * destroy) unfreezes, and the team's own ruleset is never touched.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";

export interface PipelineFreezeArgs {
  /** Repository name; the owner comes from the GitHub provider. */
  repository: pulumi.Input<string>;
  /** Ruleset name as shown in the repository settings, e.g. `pg-recovery-freeze-2024-07-24`. */
  rulesetName: pulumi.Input<string>;
  /** Approving reviews required to merge while frozen (1-10). Default 6, as in the runbook. */
  requiredApprovingReviewCount?: number;
  /** Branch patterns to freeze. Default: the repository's default branch. */
  branches?: string[];
}

export const FREEZE_DEFAULTS = {
  requiredApprovingReviewCount: 6,
  branches: ["~DEFAULT_BRANCH"],
} as const;

export class PipelineFreeze extends pulumi.ComponentResource {
  readonly ruleset: github.RepositoryRuleset;
  readonly requiredApprovingReviewCount: pulumi.Output<number>;

  constructor(name: string, args: PipelineFreezeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:PipelineFreeze", name, {}, opts);
    const reviews =
      args.requiredApprovingReviewCount ?? FREEZE_DEFAULTS.requiredApprovingReviewCount;
    if (!Number.isInteger(reviews) || reviews < 1 || reviews > 10) {
      throw new Error(
        `PipelineFreeze ${name}: requiredApprovingReviewCount ${reviews} is not 1-10`,
      );
    }

    this.ruleset = new github.RepositoryRuleset(
      `${name}-ruleset`,
      {
        name: args.rulesetName,
        repository: args.repository,
        target: "branch",
        enforcement: "active",
        conditions: {
          refName: { includes: args.branches ?? [...FREEZE_DEFAULTS.branches], excludes: [] },
        },
        // No bypass actors: the freeze must hold for every merge, including admins'.
        bypassActors: [],
        rules: {
          pullRequest: {
            requiredApprovingReviewCount: reviews,
            dismissStaleReviewsOnPush: true,
          },
        },
      },
      { parent: this },
    );
    this.requiredApprovingReviewCount = pulumi.output(reviews);
    this.registerOutputs({
      rulesetId: this.ruleset.rulesetId,
      requiredApprovingReviewCount: this.requiredApprovingReviewCount,
    });
  }
}
