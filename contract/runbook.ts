/**
 * The runbook's vocabulary, in one place: its steps in runbook order with the resource names the
 * composition gives them, the data Jobs each step runs, the annotation keys the overlay writes
 * and reads, and the short type names the operator reads in previews and plans.
 *
 * The composition (stacks/), the components, the runner's summary, Jobs and break-glass
 * commands and the offline plan all read these; renaming a step is one edit here. It lives in
 * contract/ because components and the runner both need it and neither may import the other.
 */

/** A data Job's purpose, as the runner watches and reports it. */
export type JobRole =
  | "adhoc-backup"
  | "validation"
  | "promotion"
  | "promotion-archive"
  | "restore-from-storage"
  | "drill-verify"
  | "drill-restore";

export interface RunbookJob {
  /** The Job's resource name in the composition: `<step resource>-job`, `-archive-job`. */
  resource: string;
  role: JobRole;
  /** How the runner names it in progress lines and the incident record. */
  title: string;
}

export interface RunbookStep {
  id: string;
  /** As the README's table names it. */
  title: string;
  /**
   * The name the composition gives the step's resource; the resources of the step are this
   * name or start with `<resource>-`.
   */
  resource: string;
  /** The data Jobs the step runs, if any. */
  jobs: readonly RunbookJob[];
}

const job = (resource: string, role: JobRole, title: string): RunbookJob => ({
  resource: `${resource}-job`,
  role,
  title,
});

/**
 * The steps, in the runbook's order (corrupted then server gone; one incident takes one path),
 * then the restore drill's, which exercises the point-in-time restore and the restore from
 * storage without touching live.
 */
export const STEPS = {
  freeze: { id: "freeze", title: "4. Freeze the delivery pipeline", resource: "freeze", jobs: [] },
  maintenance: {
    id: "maintenance",
    title: "5–6. Maintenance mode, temporary hosts",
    resource: "maintenance",
    jobs: [],
  },
  scaleDown: {
    id: "scale-down",
    title: "Scale down every writer",
    resource: "scale-down",
    jobs: [],
  },
  storage: {
    id: "storage",
    title: "Backup storage access for the data jobs",
    resource: "backup-storage-access",
    jobs: [],
  },
  adhocBackup: {
    id: "adhoc-backup",
    title: "Corrupted 2. Ad-hoc backup of live",
    resource: "adhoc-backup",
    jobs: [job("adhoc-backup", "adhoc-backup", "ad-hoc backup of live")],
  },
  pointInTimeRestore: {
    id: "ptr",
    title: "Corrupted 3. Point-in-time restore",
    resource: "point-in-time-restore",
    jobs: [],
  },
  validation: {
    id: "validation",
    title: "Corrupted 4. Validate (be extremely careful)",
    resource: "validation",
    jobs: [job("validation", "validation", "validation (verify + promotion plan)")],
  },
  promotion: {
    id: "promotion",
    title: "Corrupted 5–6. Promote the PTR into live",
    resource: "promotion",
    jobs: [
      job("promotion", "promotion", "promotion into live"),
      job("promotion-archive", "promotion-archive", "archival backup of the PTR"),
    ],
  },
  serverRebuild: {
    id: "server-rebuild",
    title: "Server gone 1. Bring the server back",
    resource: "server-rebuild",
    jobs: [],
  },
  restoreFromStorage: {
    id: "restore-from-storage",
    title: "Server gone 1.1 Restore from storage",
    resource: "restore-from-storage",
    jobs: [job("restore-from-storage", "restore-from-storage", "restore from storage")],
  },
  drillServer: {
    id: "drill-server",
    title: "Drill 1. Restore live at the drill's time into the drill server (deleted afterwards)",
    resource: "drill-server",
    jobs: [],
  },
  drillChecks: {
    id: "drill-checks",
    title:
      "Drill 2. The checks: verify against live, restore the latest backup (read-only on live)",
    resource: "drill",
    jobs: [
      job("drill-verify", "drill-verify", "drill: verify the restore against live"),
      job(
        "drill-restore",
        "drill-restore",
        "drill: restore the latest backup into a scratch database",
      ),
    ],
  },
} as const satisfies Record<string, RunbookStep>;

/** The steps as a list, in the runbook's order. */
export const RUNBOOK: readonly RunbookStep[] = Object.values(STEPS);

/** The runbook step of a resource name, or undefined (providers, the stack, reads). */
export function runbookStepOf(name: string): RunbookStep | undefined {
  // Longest name first, so that a longer step name is never read as a shorter one it starts with.
  let best: RunbookStep | undefined;
  for (const step of RUNBOOK) {
    const p = step.resource;
    if ((name === p || name.startsWith(`${p}-`)) && p.length > (best?.resource.length ?? -1)) {
      best = step;
    }
  }
  return best;
}

/** Every data Job of the runbook, by its resource name. */
export const JOBS: Readonly<Record<string, RunbookJob>> = Object.fromEntries(
  RUNBOOK.flatMap((s) => s.jobs).map((j) => [j.resource, j]),
);

/**
 * Kubernetes object names of an incident: `<prefix>-<incident date>-<part>`, where a data Job's
 * part is its step's resource name (`pgr-2024-07-24-validation`).
 */
export const OBJECT_NAMES = {
  prefix: "pgr",
  /** The Secret holding the backup storage connection string. */
  storageSecret: "storage",
  /** The Secret holding the rebuilt server's DATABASE_URL. */
  rebuiltDatabaseSecret: "rebuilt-db",
} as const;

/** The labels on every object the overlay creates, so `kubectl get -l` finds them. */
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  /** The incident's (or the drill's) date, which its names derive from. */
  incidentDate: "pg-recovery/incident-date",
  /** On a restore drill's objects only: `kubectl get all -l pg-recovery/drill=true`. */
  drill: "pg-recovery/drill",
} as const;

/** The annotation keys the overlay writes, and the ones it reads back. */
export const ANNOTATIONS = {
  /** On a scale-down patch: the replica count that destroy puts back. */
  replicasBeforeIncident: "pg-recovery/replicas-before-incident",
  /** On the maintenance page's pods: rolls them when the page changes. */
  pageConfig: "pg-recovery/page-config",
  /** ingress-nginx: a canary Ingress for a host, and its share of the traffic. */
  nginxCanary: "nginx.ingress.kubernetes.io/canary",
  nginxCanaryWeight: "nginx.ingress.kubernetes.io/canary-weight",
  /** ingress-nginx: served when the Ingress's own backend has no endpoints. */
  nginxDefaultBackend: "nginx.ingress.kubernetes.io/default-backend",
  /** Pulumi's Kubernetes provider: do not wait for the object to become ready. */
  skipAwait: "pulumi.com/skipAwait",
  /** Pulumi's Kubernetes provider: take over fields another field manager owns. */
  patchForce: "pulumi.com/patchForce",
} as const;

/** Resource types as the operator reads them: `k8s Job`, `azure Server`, `github ...`. */
const SHORT_TYPES: [RegExp, string][] = [
  [/^azure-native:dbforpostgresql:(\w+)$/, "azure $1"],
  [/^kubernetes:[\w./-]+\/v1:(\w+)$/, "k8s $1"],
  [/^github:index\/\w+:(\w+)$/, "github $1"],
  [/^random:index\/\w+:(\w+)$/, "random $1"],
  [/^pulumi:providers:(\w[\w-]*)$/, "provider $1"],
];

export function shortType(type: string): string {
  for (const [re, to] of SHORT_TYPES) if (re.test(type)) return type.replace(re, to);
  return type;
}
