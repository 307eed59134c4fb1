/**
 * `commands`: the break-glass path, for when Pulumi or its state backend is unavailable. The
 * offline plan (the real program under Pulumi's mocks, harness/offline.ts) says what `pulumi up`
 * would create; this prints the same objects as `kubectl`, `az` and `gh api` commands, in the
 * runbook's order, each with its revert, and the reverts again in the order to run them.
 *
 * Values the offline plan could only stand in for are looked up live by the commands themselves:
 * the app's database secret name, replica counts not pinned in the facts, qa's subscription. No
 * secret is ever printed: keys and passwords travel from `az` to `kubectl` through a pipe.
 */
import { stringify } from "yaml";
import { DeclaredResource, OfflineRun, OFFLINE_SUBSCRIPTION } from "../harness/offline";
import { PROJECT } from "../stacks/incident";
import { RUNBOOK, runbookStepOf, RunbookStep } from "./summary";

interface Facts {
  name?: string;
  azure?: { server?: { name?: string; database?: string; administratorLogin?: string } };
  kubernetes?: {
    context?: string;
    namespace?: string;
    webService?: { name?: string };
    deployments?: { name: string; replicas?: number }[];
    databaseSecret?: { name?: string; fromDeployment?: string; key?: string };
  };
  github?: { owner?: string; repository?: string };
}

interface Block {
  step: RunbookStep;
  /** Run before the step's Kubernetes objects are applied (the Secrets they read). */
  pre: string[];
  commands: string[];
  revert: string[];
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- resource inputs as JSON

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const REPLICAS = "pg-recovery/replicas-before-incident";
const DEFAULT_BACKEND = "nginx.ingress.kubernetes.io/default-backend";

export function breakGlassScript(
  stack: string,
  config: Record<string, string>,
  run: OfflineRun,
): string {
  let facts: Facts = {};
  try {
    facts = JSON.parse(config[`${PROJECT}:environment`] ?? "{}") as Facts;
  } catch {
    facts = {};
  }
  const scenario = String(run.outputs.scenario ?? "none");
  const head = [
    `#!/usr/bin/env bash`,
    `# pg-recovery break-glass commands: stack ${stack}, scenario ${scenario}` +
      (run.outputs.incidentDate ? `, incident ${run.outputs.incidentDate}` : ""),
    `# For when Pulumi or its state backend is unavailable. From the offline plan (the real program`,
    `# under Pulumi's mocks): the objects \`pulumi up\` would create, as kubectl / az / gh api commands,`,
    `# in the runbook's order. Run them one at a time and read each result; every step has its revert.`,
    `# Objects made this way are not in any Pulumi state: revert them with these commands, not pulumi.`,
  ];
  if (scenario === "none") {
    return `${head.join("\n")}\n# Scenario none: nothing to do. Name the incident, e.g.\n#   pg-recovery commands --stack ${stack} --set scenario=corrupted --set incidentDate=YYYY-MM-DD --set restoreTime=<RFC 3339>\n`;
  }
  if (run.offlineAnswers.length) {
    head.push(
      `# Answered offline from the stack's facts (check them; the commands look these up live where it matters):`,
    );
    for (const a of run.offlineAnswers) head.push(`#   - ${a}`);
  }
  const ctx = facts.kubernetes?.context;
  const kubectl = (ns?: string) =>
    `kubectl${ctx ? ` --context ${q(ctx)}` : ""}${ns ? ` --namespace ${q(ns)}` : ""}`;
  const usesPlaceholderSubscription = run.resources.some((r) =>
    JSON.stringify(r.inputs).includes(`/subscriptions/${OFFLINE_SUBSCRIPTION}/`),
  );
  const sub = (text: string) =>
    text
      .split(`/subscriptions/${OFFLINE_SUBSCRIPTION}/`)
      .join(`/subscriptions/\${SUBSCRIPTION_ID}/`);
  const dq = (text: string) => `"${sub(text).replace(/(["`\\])/g, "\\$1")}"`;

  const managed = run.resources.filter(
    (r) => !r.read && !r.component && !r.type.startsWith("pulumi:providers:"),
  );
  const blocks = new Map<string, Block>();
  const blockOf = (r: DeclaredResource): Block => {
    const step = runbookStepOf(r.name) ?? {
      id: "other",
      title: "Other",
      prefixes: [],
    };
    let b = blocks.get(step.id);
    if (!b) {
      b = { step, pre: [], commands: [], revert: [] };
      blocks.set(step.id, b);
    }
    return b;
  };

  const secretRefName = appSecretStandIn(facts);
  const appSecretLookup = (ns: string) => {
    const dep =
      facts.kubernetes?.databaseSecret?.fromDeployment ?? facts.kubernetes?.webService?.name;
    return `APP_SECRET="$(${kubectl(ns)} get deployment ${q(dep ?? "")} -o jsonpath='{.spec.template.spec.containers[0].envFrom[0].secretRef.name}')"   # the app's DATABASE_URL secret, as konduit.sh finds it`;
  };

  // Kubernetes objects of a step go into one apply, in the order the program declared them.
  const applies = new Map<string, DeclaredResource[]>();
  for (const r of managed) {
    const b = blockOf(r);
    const i = r.inputs as Json;
    const meta = (i.metadata ?? {}) as Json;
    const ns = meta.namespace as string | undefined;
    const name = meta.name as string | undefined;
    switch (r.type) {
      case "github:index/repositoryRuleset:RepositoryRuleset": {
        const repo = `${facts.github?.owner}/${i.repository}`;
        b.commands.push(
          `gh api --method POST ${q(`repos/${repo}/rulesets`)} --input - <<'JSON'`,
          JSON.stringify(rulesetBody(i), null, 2),
          `JSON`,
        );
        b.revert.push(
          `gh api --method DELETE "repos/${repo}/rulesets/$(gh api ${q(`repos/${repo}/rulesets`)} --jq ${q(`.[] | select(.name == ${JSON.stringify(i.name)}) | .id`)})"   # the team's own ruleset applies again`,
        );
        break;
      }
      case "kubernetes:apps/v1:DeploymentPatch": {
        const pinned = facts.kubernetes?.deployments?.find((d) => d.name === name)?.replicas;
        const recorded = meta.annotations?.[REPLICAS];
        if (pinned !== undefined) {
          b.commands.push(
            `${kubectl(ns)} scale deployment ${q(name!)} --replicas 0   # was ${pinned} (pinned in the facts)`,
          );
          b.revert.push(`${kubectl(ns)} scale deployment ${q(name!)} --replicas ${pinned}`);
        } else {
          b.commands.push(
            `# record the count first, on the deployment itself (it survives a lost terminal):`,
            `${kubectl(ns)} annotate --overwrite deployment ${q(name!)} ${REPLICAS}="$(${kubectl(ns)} get deployment ${q(name!)} -o jsonpath='{.spec.replicas}')"`,
            `${kubectl(ns)} scale deployment ${q(name!)} --replicas 0`,
          );
          b.revert.push(
            `${kubectl(ns)} scale deployment ${q(name!)} --replicas "$(${kubectl(ns)} get deployment ${q(name!)} -o jsonpath='{.metadata.annotations.${REPLICAS.replace(/\./g, "\\.")}}')"` +
              (recorded && /^\d+$/.test(String(recorded))
                ? `   # offline plan assumed ${recorded}`
                : ""),
            `${kubectl(ns)} annotate deployment ${q(name!)} ${REPLICAS}-`,
          );
        }
        break;
      }
      case "kubernetes:networking.k8s.io/v1:IngressPatch": {
        const value = meta.annotations?.[DEFAULT_BACKEND];
        b.commands.push(
          `${kubectl(ns)} annotate --overwrite ingress ${q(name!)} ${DEFAULT_BACKEND}=${q(String(value))}`,
        );
        b.revert.push(
          `${kubectl(ns)} annotate ingress ${q(name!)} ${DEFAULT_BACKEND}-   # only this annotation; Terraform's fields stay`,
        );
        break;
      }
      case "kubernetes:core/v1:Secret": {
        const keys = Object.keys(unsecret(i.stringData ?? i.data ?? {}) as Json);
        const labels = Object.entries((meta.labels ?? {}) as Json).map(([k, v]) => `${k}=${v}`);
        if (r.name.startsWith("backup-storage-access")) {
          const storage = storageOf(config);
          b.pre.push(
            `# the storage key goes from az to kubectl through a pipe: never on a command line or screen`,
            `az storage account show-connection-string --resource-group ${q(storage.resourceGroup)} --name ${q(storage.account)} --query connectionString --output tsv | tr -d '\\n' \\`,
            `  | ${kubectl(ns)} create secret generic ${q(name!)} --from-file=${keys[0] ?? "connection-string"}=/dev/stdin`,
          );
        } else {
          const server = facts.azure?.server;
          b.pre.push(
            `# the rebuilt server's URL, with the admin password set above, through a pipe`,
            `printf 'postgres://%s:%s@%s:5432/%s?sslmode=require' ${q(server?.administratorLogin ?? "psqladmin")} "$PGR_ADMIN_PASSWORD" ${q(`${server?.name}.postgres.database.azure.com`)} ${q(server?.database ?? "")} \\`,
            `  | ${kubectl(ns)} create secret generic ${q(name!)} --from-file=${keys[0] ?? "DATABASE_URL"}=/dev/stdin`,
          );
        }
        if (labels.length)
          b.pre.push(`${kubectl(ns)} label secret ${q(name!)} ${labels.map(q).join(" ")}`);
        b.revert.push(`${kubectl(ns)} delete secret ${q(name!)} --ignore-not-found`);
        break;
      }
      case "azure-native:dbforpostgresql:Server": {
        const net = (i.network ?? {}) as Json;
        if (i.createMode === "PointInTimeRestore") {
          b.commands.push(
            `az postgres flexible-server restore --resource-group ${q(i.resourceGroupName)} --name ${q(i.serverName)} \\`,
            `  --source-server ${dq(i.sourceServerResourceId)} --restore-time ${q(i.pointInTimeUTC)} \\`,
            `  --subnet ${dq(net.delegatedSubnetResourceId)} --private-dns-zone ${dq(net.privateDnsZoneArmResourceId)}`,
          );
          const remove = `az postgres flexible-server delete --resource-group ${q(i.resourceGroupName)} --name ${q(i.serverName)} --yes`;
          b.revert.push(
            ...(r.options.retainOnDelete === true
              ? [
                  `# kept: the restored server is the incident's evidence. After the review:`,
                  `#   ${remove}`,
                ]
              : [remove]),
          );
        } else if (i.createMode === "ReviveDropped") {
          const body = {
            location: i.location,
            properties: {
              createMode: "ReviveDropped",
              sourceServerResourceId: i.sourceServerResourceId,
              pointInTimeUTC: i.pointInTimeUTC,
              network: net,
            },
          };
          const id = String(i.sourceServerResourceId);
          b.commands.push(
            `az rest --method put --url ${dq(`https://management.azure.com${id}?api-version=2024-08-01`)} --body ${dq(JSON.stringify(body))}`,
          );
          b.revert.push(`# kept: the revived server is production from now on`);
        } else {
          b.commands.push(
            `PGR_ADMIN_PASSWORD="$(openssl rand -base64 32 | tr -dc 'A-Za-z0-9' | head -c 32)"   # keep it (Key Vault): the app's DATABASE_URL needs it`,
            `az postgres flexible-server create --resource-group ${q(i.resourceGroupName)} --name ${q(i.serverName)} --location ${q(i.location)} \\`,
            `  --version ${q(String(i.version))} --sku-name ${q(i.sku?.name)} --tier ${q(i.sku?.tier)} --storage-size ${i.storage?.storageSizeGB} \\`,
            `  --high-availability ${q(i.highAvailability?.mode ?? "Disabled")} --backup-retention ${i.backup?.backupRetentionDays ?? 7} \\`,
            `  --admin-user ${q(i.administratorLogin)} --admin-password "$PGR_ADMIN_PASSWORD" \\`,
            `  --subnet ${dq(net.delegatedSubnetResourceId)} --private-dns-zone ${dq(net.privateDnsZoneArmResourceId)} --yes`,
          );
          b.revert.push(`# kept: the rebuilt server is production from now on`);
        }
        break;
      }
      case "azure-native:dbforpostgresql:Database":
        b.commands.push(
          `az postgres flexible-server db create --resource-group ${q(i.resourceGroupName)} --server-name ${q(i.serverName)} --database-name ${q(i.databaseName)} --charset ${q(i.charset)} --collation ${q(i.collation)}`,
        );
        break;
      case "random:index/randomPassword:RandomPassword":
        // The password is made where the server is created (above), never printed.
        break;
      default:
        if (r.type.startsWith("kubernetes:")) {
          const list = applies.get(b.step.id) ?? [];
          list.push(r);
          applies.set(b.step.id, list);
        } else {
          b.commands.push(`# no break-glass command for ${r.type} ${r.name}: see npm run plan`);
        }
    }
  }

  // Expand each step's apply: one heredoc of YAML documents, then waits and reverts.
  for (const [stepId, list] of applies) {
    const b = blocks.get(stepId)!;
    const ns = (list[0].inputs as Json).metadata?.namespace as string | undefined;
    // YAML 1.1 quoting (kubectl's parser reads 1.1: an unquoted 2024-07-24 label is a date
    // there), and no line folding, so nginx's config reads as written.
    const docs = list
      .map((r) =>
        stringify(cleanObject(r.inputs as Json), { version: "1.1", lineWidth: 0 }).trimEnd(),
      )
      .join("\n---\n");
    const needsSecret = secretRefName !== undefined && docs.includes(secretRefName);
    const lines: string[] = [];
    if (needsSecret) lines.push(appSecretLookup(ns ?? ""));
    lines.push(
      needsSecret
        ? `sed "s/${secretRefName}/\${APP_SECRET}/g" <<'YAML' | ${kubectl()} apply --server-side --field-manager=pg-recovery-break-glass -f -`
        : `${kubectl()} apply --server-side --field-manager=pg-recovery-break-glass -f - <<'YAML'`,
      docs,
      `YAML`,
    );
    for (const r of list) {
      const meta = (r.inputs as Json).metadata ?? {};
      const kind = String((r.inputs as Json).kind ?? "").toLowerCase();
      if (kind === "job") {
        const awaited = meta.annotations?.["pulumi.com/skipAwait"] !== "true";
        lines.push(
          `${awaited ? "" : "# not awaited by pulumi up; to follow it: "}${kubectl(meta.namespace)} wait --for=condition=complete --timeout=6h job/${meta.name}`,
          `${kubectl(meta.namespace)} logs job/${meta.name} --all-containers --prefix`,
        );
      } else if (kind === "deployment") {
        lines.push(
          `${kubectl(meta.namespace)} rollout status deployment/${meta.name} --timeout=5m`,
        );
      }
    }
    // Secrets first, then the objects that read them, then patches of what they serve.
    b.pre.push(...lines);
    const byKind = new Map<string, string[]>();
    for (const r of [...list].reverse()) {
      const inp = r.inputs as Json;
      const kind = String(inp.kind ?? "").toLowerCase();
      byKind.set(kind, [...(byKind.get(kind) ?? []), String(inp.metadata?.name)]);
    }
    for (const [kind, names] of byKind) {
      b.revert.push(`${kubectl(ns)} delete ${kind} ${names.map(q).join(" ")} --ignore-not-found`);
    }
  }

  const ordered = [...RUNBOOK.map((s) => blocks.get(s.id)), blocks.get("other")].filter(
    (b): b is Block => !!b,
  );
  const out = [...head, ""];
  if (usesPlaceholderSubscription) {
    out.push(
      `# ${stack} sets no subscription (azure-native:subscriptionId): the ambient login's is used.`,
      `SUBSCRIPTION_ID="$(az account show --query id --output tsv)"`,
      ``,
    );
  }
  out.push(`######## Apply, in the runbook's order`, "");
  for (const b of ordered) {
    out.push(`## ${b.step.title}`, ...b.pre, ...b.commands, "");
    if (b.revert.length) {
      out.push(`# its revert:`, ...b.revert.map((l) => (l.startsWith("#") ? l : `#   ${l}`)), "");
    }
  }
  out.push(
    `######## Revert, in this order (the runbook's "complete the process": jobs, app back, maintenance off, unfreeze)`,
    "",
  );
  [...ordered].reverse().forEach((b) => {
    if (!b.revert.length) return;
    out.push(`## revert: ${b.step.title}`, ...b.revert, "");
  });
  return `${out.join("\n").replace(/\n+$/, "")}\n`;
}

/** The stand-in name harness/offline.ts gives the app's secret, when the facts don't pin it. */
function appSecretStandIn(facts: Facts): string | undefined {
  const s = facts.kubernetes?.databaseSecret;
  if (s?.name) return undefined;
  const dep = s?.fromDeployment ?? facts.kubernetes?.webService?.name;
  return dep ? `${dep}-app-secret` : undefined;
}

function storageOf(config: Record<string, string>): { account: string; resourceGroup: string } {
  try {
    const env = JSON.parse(config[`${PROJECT}:environment`] ?? "{}") as {
      azure?: { backupStorage?: { account?: string; resourceGroup?: string } };
    };
    return {
      account: env.azure?.backupStorage?.account ?? "",
      resourceGroup: env.azure?.backupStorage?.resourceGroup ?? "",
    };
  } catch {
    return { account: "", resourceGroup: "" };
  }
}

/** Pulumi's marker of a secret value in resource inputs (mocks keep it wrapped). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function unsecret(v: unknown): unknown {
  return v && typeof v === "object" && SECRET_SIG in v ? (v as { value?: unknown }).value : v;
}

/** A Kubernetes object as kubectl takes it: Pulumi's own annotations dropped. */
function cleanObject(inputs: Json): Json {
  const obj = JSON.parse(JSON.stringify(inputs)) as Json;
  const ann = obj.metadata?.annotations as Json | undefined;
  if (ann) {
    for (const k of Object.keys(ann)) if (k.startsWith("pulumi.com/")) delete ann[k];
    if (Object.keys(ann).length === 0) delete obj.metadata.annotations;
  }
  return obj;
}

/** The Pulumi GitHub provider's ruleset inputs as the REST API's body. */
function rulesetBody(i: Json): Json {
  const pr = (i.rules?.pullRequest ?? {}) as Json;
  return {
    name: i.name,
    target: i.target ?? "branch",
    enforcement: i.enforcement ?? "active",
    bypass_actors: i.bypassActors ?? [],
    conditions: {
      ref_name: {
        include: i.conditions?.refName?.includes ?? ["~DEFAULT_BRANCH"],
        exclude: i.conditions?.refName?.excludes ?? [],
      },
    },
    rules: [
      {
        type: "pull_request",
        parameters: {
          required_approving_review_count: pr.requiredApprovingReviewCount,
          dismiss_stale_reviews_on_push: !!pr.dismissStaleReviewsOnPush,
          require_code_owner_review: !!pr.requireCodeOwnerReview,
          require_last_push_approval: !!pr.requireLastPushApproval,
          required_review_thread_resolution: !!pr.requiredReviewThreadResolution,
        },
      },
    ],
  };
}
