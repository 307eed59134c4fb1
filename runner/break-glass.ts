/**
 * `commands`: the break-glass path, for when Pulumi or its state backend is unavailable. The
 * offline plan (the real program under Pulumi's mocks, offline/offline.ts) says what `pulumi up`
 * would create; this prints the same objects as `kubectl`, `az` and `gh api` commands, in the
 * runbook's order, each with its revert, and the reverts again in the order to run them.
 *
 * Values the offline plan could only stand in for are looked up live by the commands themselves:
 * the app's database secret name, replica counts not pinned in the facts, qa's subscription. No
 * secret is ever printed: keys and passwords travel from `az` to `kubectl` through a pipe.
 */
import { stringify } from "yaml";
import { ANNOTATIONS, RUNBOOK, runbookStepOf, RunbookStep, STEPS } from "../contract/runbook";
import { DeclaredResource, OfflineRun, OFFLINE_SUBSCRIPTION } from "../offline/offline";
import { stackEnvironment } from "../offline/stack-config";
import { Environment } from "../stacks/environment";

/** The environment facts the commands name (the stack's own, validated as the program does). */
type Facts = Pick<Environment, "azure" | "kubernetes" | "github">;

interface Block {
  step: RunbookStep;
  /** Run before the step's Kubernetes objects are applied (the Secrets they read). */
  pre: string[];
  commands: string[];
  revert: string[];
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- resource inputs as JSON

/** What every step's commands are written with. */
interface Writer {
  facts: Facts;
  /** `kubectl` pinned to the stack's context, and to a namespace if given. */
  kubectl: (ns?: string) => string;
  /** A double-quoted argument whose placeholder subscription is read from `$SUBSCRIPTION_ID`. */
  dq: (text: string) => string;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const REPLICAS = ANNOTATIONS.replicasBeforeIncident;
const DEFAULT_BACKEND = ANNOTATIONS.nginxDefaultBackend;
const OTHER: RunbookStep = { id: "other", title: "Other", resource: "", jobs: [] };

export function breakGlassScript(
  stack: string,
  config: Record<string, string>,
  run: OfflineRun,
): string {
  const scenario = String(run.outputs.scenario ?? "none");
  const head = header(stack, scenario, run);
  if (scenario === "none") {
    return `${head.join("\n")}\n# Scenario none: nothing to do. Name the incident, e.g.\n#   pg-recovery commands --stack ${stack} --set scenario=corrupted --set incidentDate=YYYY-MM-DD --set restoreTime=<RFC 3339>\n`;
  }
  const facts = stackEnvironment(config);
  // The offline run validated the same facts: without them there would be no plan to write.
  if (!facts) throw new Error(`the stack ${stack} has no valid environment facts`);
  const writer = writerFor(facts);

  const blocks = new Map<string, Block>();
  const blockOf = (r: DeclaredResource): Block => {
    const step = runbookStepOf(r.name) ?? OTHER;
    let b = blocks.get(step.id);
    if (!b) {
      b = { step, pre: [], commands: [], revert: [] };
      blocks.set(step.id, b);
    }
    return b;
  };
  // Kubernetes objects of a step go into one apply, in the order the program declared them.
  const applies = new Map<string, DeclaredResource[]>();
  for (const r of managedResources(run)) {
    const b = blockOf(r);
    const write = COMMANDS[r.type];
    if (write) write(writer, b, r);
    else if (r.type.startsWith("kubernetes:"))
      applies.set(b.step.id, [...(applies.get(b.step.id) ?? []), r]);
    else b.commands.push(`# no break-glass command for ${r.type} ${r.name}: see npm run plan`);
  }
  for (const [stepId, list] of applies) applyCommands(writer, blocks.get(stepId)!, list);

  const ordered = [...RUNBOOK.map((s) => blocks.get(s.id)), blocks.get(OTHER.id)].filter(
    (b): b is Block => !!b,
  );
  return render(stack, head, ordered, usesPlaceholderSubscription(run));
}

/** The script's opening comments: what it is, for which incident, what was answered offline. */
function header(stack: string, scenario: string, run: OfflineRun): string[] {
  const head = [
    `#!/usr/bin/env bash`,
    `# pg-recovery break-glass commands: stack ${stack}, scenario ${scenario}` +
      (run.outputs.incidentDate ? `, incident ${run.outputs.incidentDate}` : ""),
    `# For when Pulumi or its state backend is unavailable. From the offline plan (the real program`,
    `# under Pulumi's mocks): the objects \`pulumi up\` would create, as kubectl / az / gh api commands,`,
    `# in the runbook's order. Run them one at a time and read each result; every step has its revert.`,
    `# Objects made this way are not in any Pulumi state: revert them with these commands, not pulumi.`,
  ];
  if (scenario !== "none" && run.offlineAnswers.length) {
    head.push(
      `# Answered offline from the stack's facts (check them; the commands look these up live where it matters):`,
    );
    for (const a of run.offlineAnswers) head.push(`#   - ${a}`);
  }
  return head;
}

function writerFor(facts: Facts): Writer {
  const ctx = facts.kubernetes.context;
  const sub = (text: string) =>
    text
      .split(`/subscriptions/${OFFLINE_SUBSCRIPTION}/`)
      .join(`/subscriptions/\${SUBSCRIPTION_ID}/`);
  return {
    facts,
    kubectl: (ns?: string) =>
      `kubectl${ctx ? ` --context ${q(ctx)}` : ""}${ns ? ` --namespace ${q(ns)}` : ""}`,
    dq: (text: string) => `"${sub(text).replace(/(["`\\])/g, "\\$1")}"`,
  };
}

const managedResources = (run: OfflineRun) =>
  run.resources.filter((r) => !r.read && !r.component && !r.type.startsWith("pulumi:providers:"));

const usesPlaceholderSubscription = (run: OfflineRun) =>
  run.resources.some((r) =>
    JSON.stringify(r.inputs).includes(`/subscriptions/${OFFLINE_SUBSCRIPTION}/`),
  );

/** The commands of one declared resource, by type; the rest of Kubernetes goes into an apply. */
const COMMANDS: Record<string, (w: Writer, b: Block, r: DeclaredResource) => void> = {
  "github:index/repositoryRuleset:RepositoryRuleset": freezeCommands,
  "kubernetes:apps/v1:DeploymentPatch": scaleDownCommands,
  "kubernetes:networking.k8s.io/v1:IngressPatch": defaultBackendCommands,
  "kubernetes:core/v1:Secret": secretCommands,
  "azure-native:dbforpostgresql:Server": serverCommands,
  "azure-native:dbforpostgresql:Database": databaseCommands,
  // The password is made where the server is created (serverCommands), never printed.
  "random:index/randomPassword:RandomPassword": () => undefined,
};

/** Runbook 4: the freeze as a GitHub ruleset, and its deletion. */
function freezeCommands(w: Writer, b: Block, r: DeclaredResource): void {
  const i = r.inputs as Json;
  const repo = `${w.facts.github.owner}/${i.repository}`;
  b.commands.push(
    `gh api --method POST ${q(`repos/${repo}/rulesets`)} --input - <<'JSON'`,
    JSON.stringify(rulesetBody(i), null, 2),
    `JSON`,
  );
  b.revert.push(
    `gh api --method DELETE "repos/${repo}/rulesets/$(gh api ${q(`repos/${repo}/rulesets`)} --jq ${q(`.[] | select(.name == ${JSON.stringify(i.name)}) | .id`)})"   # the team's own ruleset applies again`,
  );
}

/** Scale-down: to 0, and back to the count pinned in the facts or recorded on the deployment. */
function scaleDownCommands(w: Writer, b: Block, r: DeclaredResource): void {
  const { kubectl } = w;
  const meta = ((r.inputs as Json).metadata ?? {}) as Json;
  const ns = meta.namespace as string | undefined;
  const name = q(meta.name as string);
  const pinned = w.facts.kubernetes.deployments.find((d) => d.name === meta.name)?.replicas;
  if (pinned !== undefined) {
    b.commands.push(
      `${kubectl(ns)} scale deployment ${name} --replicas 0   # was ${pinned} (pinned in the facts)`,
    );
    b.revert.push(`${kubectl(ns)} scale deployment ${name} --replicas ${pinned}`);
    return;
  }
  const recorded = meta.annotations?.[REPLICAS];
  b.commands.push(
    `# record the count first, on the deployment itself (it survives a lost terminal):`,
    `${kubectl(ns)} annotate --overwrite deployment ${name} ${REPLICAS}="$(${kubectl(ns)} get deployment ${name} -o jsonpath='{.spec.replicas}')"`,
    `${kubectl(ns)} scale deployment ${name} --replicas 0`,
  );
  b.revert.push(
    `${kubectl(ns)} scale deployment ${name} --replicas "$(${kubectl(ns)} get deployment ${name} -o jsonpath='{.metadata.annotations.${REPLICAS.replace(/\./g, "\\.")}}')"` +
      (recorded && /^\d+$/.test(String(recorded)) ? `   # offline plan assumed ${recorded}` : ""),
    `${kubectl(ns)} annotate deployment ${name} ${REPLICAS}-`,
  );
}

/** Maintenance: the default-backend annotation on the app's Ingress, and only it removed. */
function defaultBackendCommands(w: Writer, b: Block, r: DeclaredResource): void {
  const meta = ((r.inputs as Json).metadata ?? {}) as Json;
  const annotate = `${w.kubectl(meta.namespace)} annotate`;
  b.commands.push(
    `${annotate} --overwrite ingress ${q(meta.name)} ${DEFAULT_BACKEND}=${q(String(meta.annotations?.[DEFAULT_BACKEND]))}`,
  );
  b.revert.push(
    `${annotate} ingress ${q(meta.name)} ${DEFAULT_BACKEND}-   # only this annotation; Terraform's fields stay`,
  );
}

/** Backup storage access, or the rebuilt server's URL: a Secret filled through a pipe. */
function secretCommands(w: Writer, b: Block, r: DeclaredResource): void {
  const i = r.inputs as Json;
  const meta = (i.metadata ?? {}) as Json;
  const kubectl = w.kubectl(meta.namespace);
  const name = q(meta.name);
  const keys = Object.keys(unsecret(i.stringData ?? i.data ?? {}) as Json);
  const labels = Object.entries((meta.labels ?? {}) as Json).map(([k, v]) => `${k}=${v}`);
  if (r.name.startsWith(STEPS.storage.resource)) {
    const storage = w.facts.azure.backupStorage;
    b.pre.push(
      `# the storage key goes from az to kubectl through a pipe: never on a command line or screen`,
      `az storage account show-connection-string --resource-group ${q(storage.resourceGroup)} --name ${q(storage.account)} --query connectionString --output tsv | tr -d '\\n' \\`,
      `  | ${kubectl} create secret generic ${name} --from-file=${keys[0] ?? "connection-string"}=/dev/stdin`,
    );
  } else {
    const server = w.facts.azure.server;
    b.pre.push(
      `# the rebuilt server's URL, with the admin password set above, through a pipe`,
      `printf 'postgres://%s:%s@%s:5432/%s?sslmode=require' ${q(server.administratorLogin)} "$PGR_ADMIN_PASSWORD" ${q(`${server.name}.postgres.database.azure.com`)} ${q(server.database)} \\`,
      `  | ${kubectl} create secret generic ${name} --from-file=${keys[0] ?? "DATABASE_URL"}=/dev/stdin`,
    );
  }
  if (labels.length) b.pre.push(`${kubectl} label secret ${name} ${labels.map(q).join(" ")}`);
  b.revert.push(`${kubectl} delete secret ${name} --ignore-not-found`);
}

/** Corrupted 3 (point-in-time restore) and server gone 1 (revive or create): the server. */
function serverCommands(w: Writer, b: Block, r: DeclaredResource): void {
  const i = r.inputs as Json;
  const net = (i.network ?? {}) as Json;
  const { dq } = w;
  const where = `--resource-group ${q(i.resourceGroupName)} --name ${q(i.serverName)}`;
  const network = `--subnet ${dq(net.delegatedSubnetResourceId)} --private-dns-zone ${dq(net.privateDnsZoneArmResourceId)}`;
  if (i.createMode === "PointInTimeRestore") {
    b.commands.push(
      `az postgres flexible-server restore ${where} \\`,
      `  --source-server ${dq(i.sourceServerResourceId)} --restore-time ${q(i.pointInTimeUTC)} \\`,
      `  ${network}`,
    );
    // The incident's PTR is kept as evidence; a drill's server is removed with the drill.
    const remove = `az postgres flexible-server delete ${where} --yes`;
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
      `az postgres flexible-server create ${where} --location ${q(i.location)} \\`,
      `  --version ${q(String(i.version))} --sku-name ${q(i.sku?.name)} --tier ${q(i.sku?.tier)} --storage-size ${i.storage?.storageSizeGB} \\`,
      `  --high-availability ${q(i.highAvailability?.mode ?? "Disabled")} --backup-retention ${i.backup?.backupRetentionDays ?? 7} \\`,
      `  --admin-user ${q(i.administratorLogin)} --admin-password "$PGR_ADMIN_PASSWORD" \\`,
      `  ${network} --yes`,
    );
    b.revert.push(`# kept: the rebuilt server is production from now on`);
  }
}

/** Server gone 1, created: the application database on the new server. */
function databaseCommands(_w: Writer, b: Block, r: DeclaredResource): void {
  const i = r.inputs as Json;
  b.commands.push(
    `az postgres flexible-server db create --resource-group ${q(i.resourceGroupName)} --server-name ${q(i.serverName)} --database-name ${q(i.databaseName)} --charset ${q(i.charset)} --collation ${q(i.collation)}`,
  );
}

/** A step's Kubernetes objects: one apply of YAML documents, then waits, then their reverts. */
function applyCommands(w: Writer, b: Block, list: DeclaredResource[]): void {
  const { kubectl } = w;
  const ns = (list[0].inputs as Json).metadata?.namespace as string | undefined;
  // YAML 1.1 quoting (kubectl's parser reads 1.1: an unquoted 2024-07-24 label is a date
  // there), and no line folding, so nginx's config reads as written.
  const docs = list
    .map((r) =>
      stringify(cleanObject(r.inputs as Json), { version: "1.1", lineWidth: 0 }).trimEnd(),
    )
    .join("\n---\n");
  const secretRefName = appSecretStandIn(w.facts);
  const needsSecret = secretRefName !== undefined && docs.includes(secretRefName);
  const lines: string[] = [];
  if (needsSecret) lines.push(appSecretLookup(w, ns ?? ""));
  lines.push(
    needsSecret
      ? `sed "s/${secretRefName}/\${APP_SECRET}/g" <<'YAML' | ${kubectl()} apply --server-side --field-manager=pg-recovery-break-glass -f -`
      : `${kubectl()} apply --server-side --field-manager=pg-recovery-break-glass -f - <<'YAML'`,
    docs,
    `YAML`,
  );
  for (const r of list) lines.push(...waitCommands(w, r.inputs as Json));
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

/** After an apply: wait for a Job (and print its logs) or a Deployment's rollout. */
function waitCommands(w: Writer, inputs: Json): string[] {
  const meta = inputs.metadata ?? {};
  const kind = String(inputs.kind ?? "").toLowerCase();
  const kubectl = w.kubectl(meta.namespace);
  if (kind === "job") {
    const awaited = meta.annotations?.[ANNOTATIONS.skipAwait] !== "true";
    return [
      `${awaited ? "" : "# not awaited by pulumi up; to follow it: "}${kubectl} wait --for=condition=complete --timeout=6h job/${meta.name}`,
      `${kubectl} logs job/${meta.name} --all-containers --prefix`,
    ];
  }
  if (kind === "deployment")
    return [`${kubectl} rollout status deployment/${meta.name} --timeout=5m`];
  return [];
}

/** The script: the apply in the runbook's order, each step with its revert, then every revert. */
function render(stack: string, head: string[], ordered: Block[], placeholder: boolean): string {
  const out = [...head, ""];
  if (placeholder) {
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

/** The stand-in name offline/offline.ts gives the app's secret, when the facts don't pin it. */
function appSecretStandIn(facts: Facts): string | undefined {
  const s = facts.kubernetes.databaseSecret;
  if (s.name) return undefined;
  return `${s.fromDeployment ?? facts.kubernetes.webService.name}-app-secret`;
}

/** Looks the app's DATABASE_URL secret up live, as konduit.sh finds it. */
function appSecretLookup(w: Writer, ns: string): string {
  const k = w.facts.kubernetes;
  const dep = k.databaseSecret.fromDeployment ?? k.webService.name;
  return `APP_SECRET="$(${w.kubectl(ns)} get deployment ${q(dep)} -o jsonpath='{.spec.template.spec.containers[0].envFrom[0].secretRef.name}')"   # the app's DATABASE_URL secret, as konduit.sh finds it`;
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
