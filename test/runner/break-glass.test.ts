/**
 * `pg-recovery commands`: the break-glass script from the offline plan. It must be valid bash,
 * cover every object the program declares, keep the runbook's order with a revert for each step,
 * look up live what the plan could only stand in for, and print no secret.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { evaluateOffline, loadStackConfig } from "../../offline/offline";
import { breakGlassScript } from "../../runner/break-glass";
import { main } from "../../runner/cli";
import { RUNBOOK } from "../../contract/runbook";
import { assertRunbookOrder, commandsArgv, CORRUPTED_PROMOTE_SETS } from "./support/commands";
import { NOW, testIo, world } from "./support/fakes";

async function script(stack: string, sets: Record<string, string>) {
  const config = loadStackConfig(stack, sets);
  const run = await evaluateOffline(config, NOW);
  return { text: breakGlassScript(stack, config, run), run };
}

/** The YAML documents of every heredoc applied with kubectl. */
function appliedObjects(
  text: string,
): { kind: string; metadata: { name: string; labels?: Record<string, unknown> } }[] {
  const out: { kind: string; metadata: { name: string; labels?: Record<string, unknown> } }[] = [];
  const re = /<<'YAML'[^\n]*\n([\s\S]*?)\nYAML\n/g;
  for (const m of text.matchAll(re)) {
    // kubectl reads YAML 1.1: parse the way it would.
    for (const doc of parseAllDocuments(m[1], { version: "1.1" })) out.push(doc.toJSON());
  }
  return out;
}

describe("runner: break-glass commands from the offline plan", function () {
  this.timeout(120_000);

  for (const [name, stack, sets] of [
    ["production, corrupted with promotion", "production", CORRUPTED_PROMOTE_SETS],
    [
      "qa, corrupted (replica counts not pinned)",
      "qa",
      { scenario: "corrupted", incidentDate: "2026-11-25", restoreTime: "2026-11-25T05:59:00Z" },
    ],
    ["qa, server gone, rebuilt", "qa", { scenario: "server-gone", incidentDate: "2026-11-25" }],
    [
      "qa, server gone, revived",
      "qa",
      {
        scenario: "server-gone",
        incidentDate: "2026-11-25",
        serverDeletedAt: "2026-11-25T08:00:00Z",
        restoreTime: "2026-11-25T08:10:00Z",
      },
    ],
  ] as const) {
    it(`${name}: valid bash, every object covered, runbook order, a revert per step, no secret`, async () => {
      const { text, run } = await script(stack, sets);
      const syntax = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
      assert.equal(syntax.status, 0, syntax.stderr);
      assert.doesNotMatch(text, /no break-glass command/);
      assert.doesNotMatch(
        text,
        /offline-placeholder|\[secret\]/,
        "no placeholder or masked value reaches a command",
      );

      const applyPart = text.split("######## Revert")[0];
      const headers = [...applyPart.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
      const order = headers.map((h) => RUNBOOK.findIndex((s) => s.title === h));
      assertRunbookOrder(order, `unknown step headers: ${headers}`);
      const revertHeaders = [
        ...text.split("######## Revert")[1].matchAll(/^## revert: (.+)$/gm),
      ].map((m) => m[1]);
      assert.deepEqual(
        revertHeaders,
        headers.filter((h) => revertHeaders.includes(h)).reverse(),
        "reverts in reverse order",
      );

      // Every Kubernetes object the program declares is applied, by kind and name, except the
      // patches and Secrets, which have their own commands.
      const declared = run.resources
        .filter(
          (r) =>
            !r.read &&
            !r.component &&
            r.type.startsWith("kubernetes:") &&
            !/Patch$|:Secret$/.test(r.type),
        )
        .map(
          (r) =>
            `${(r.inputs as { kind: string }).kind}/${(r.inputs as { metadata: { name: string } }).metadata.name}`,
        )
        .sort();
      const applied = appliedObjects(text)
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .sort();
      assert.deepEqual(applied, declared);
      for (const o of appliedObjects(text)) {
        for (const v of Object.values(o.metadata.labels ?? {}))
          assert.equal(
            typeof v,
            "string",
            `${o.metadata.name}: a label kubectl would not read as a string`,
          );
      }
    });
  }

  it("production: replica counts from the facts; the app's secret looked up live; the PTR kept", async () => {
    const { text } = await script("production", CORRUPTED_PROMOTE_SETS);
    assert.match(
      text,
      /scale deployment 'publish-production' --replicas 0 {3}# was 12 \(pinned in the facts\)/,
    );
    assert.match(
      text,
      /^kubectl --context 's189p01-tsc-production-aks' --namespace 'bat-production' scale deployment 'publish-production' --replicas 12$/m,
    );
    assert.match(
      text,
      /APP_SECRET="\$\(kubectl .* get deployment 'publish-production' -o jsonpath='\{\.spec\.template\.spec\.containers\[0\]\.envFrom\[0\]\.secretRef\.name\}'\)"/,
    );
    assert.match(
      text,
      /sed "s\/publish-production-app-secret\/\$\{APP_SECRET\}\/g" <<'YAML' \| kubectl/,
    );
    assert.match(
      text,
      /az postgres flexible-server restore --resource-group 's189p01-ptt-pd-rg' --name 's189p01-ptt-pd-pg-ptr'/,
    );
    assert.match(text, /--restore-time '2026-11-25T05:59:00Z'/);
    assert.match(text, /# kept: the restored server is the incident's evidence/);
    assert.match(
      text,
      /gh api --method POST 'repos\/DFE-Digital\/publish-teacher-training\/rulesets' --input - <<'JSON'/,
    );
    assert.match(
      text,
      /az storage account show-connection-string .* \| tr -d '\\n' \\\n {2}\| kubectl .* create secret generic 'pgr-2026-11-25-storage' --from-file=connection-string=\/dev\/stdin/,
    );
    assert.doesNotMatch(text, /SUBSCRIPTION_ID/, "production names its subscription");
  });

  it("qa: counts recorded on the deployments first; the ambient subscription", async () => {
    const { text } = await script("qa", {
      scenario: "corrupted",
      incidentDate: "2026-11-25",
      restoreTime: "2026-11-25T05:59:00Z",
    });
    assert.match(
      text,
      /annotate --overwrite deployment 'publish-qa' pg-recovery\/replicas-before-incident="\$\(kubectl .* get deployment 'publish-qa' -o jsonpath='\{\.spec\.replicas\}'\)"/,
    );
    assert.match(
      text,
      /scale deployment 'publish-qa' --replicas "\$\(kubectl .* -o jsonpath='\{\.metadata\.annotations\.pg-recovery\/replicas-before-incident\}'\)"/,
    );
    assert.match(text, /^SUBSCRIPTION_ID="\$\(az account show --query id --output tsv\)"$/m);
    assert.match(
      text,
      /--source-server "\/subscriptions\/\$\{SUBSCRIPTION_ID\}\/resourceGroups\/s189t01-ptt-qa-rg\//,
    );
  });

  it("through the CLI: scenario none says what to pass; bad config is the door's message", async () => {
    const w = world();
    const io = testIo();
    assert.equal(await main(["commands", "--stack", "qa"], w.deps(io)), 0);
    assert.match(io.stdout.join("\n"), /Scenario none: nothing to do/);
    const bad = testIo();
    assert.equal(
      await main(
        commandsArgv("qa", { scenario: "corrupted", incidentDate: "2026-11-25" }),
        w.deps(bad),
      ),
      1,
    );
    assert.match(
      bad.stderr.join("\n"),
      /pg-recovery:restoreTime is required for the corrupted scenario/,
    );
    const unknown = testIo();
    assert.equal(await main(["commands", "--stack", "staging"], w.deps(unknown)), 2);
    assert.match(unknown.stderr.join("\n"), /no stack file Pulumi\.staging\.yaml/);
  });
});
