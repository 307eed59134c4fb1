/**
 * The environment facts a stack file carries under `pg-recovery:environment`: names, hosts,
 * namespaces and network ids of one environment. Validated here, once, so components can take
 * typed values and never re-check them.
 */
import { z } from "zod";

/** Azure keeps a Flexible Server's point-in-time backups between these many days (its setting). */
export const MIN_BACKUP_RETENTION_DAYS = 7;
export const MAX_BACKUP_RETENTION_DAYS = 35;
/** No Flexible Server can restore to a point older than this before now. */
export const LONGEST_RETENTION_MS = MAX_BACKUP_RETENTION_DAYS * 24 * 3600_000;

/** Unknown keys are refused at every level: a typo in an optional fact must not pass silently. */
const strictObject = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label (lowercase a-z, 0-9, '-')");
const hostName = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    "must be a lowercase DNS host name such as www.example.service.gov.uk",
  );
const azureName = z
  .string()
  .regex(/^[A-Za-z0-9][-A-Za-z0-9_.()]{0,88}[A-Za-z0-9_)]$/, "must be an Azure resource name");
const postgresServer = strictObject({
  /** The live server: read with getServer, never managed by the overlay. */
  name: z.string().regex(/^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/, "must be a Flexible Server name"),
  /** The application database on that server. */
  database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, "must be a database name"),
  /** Major version, used when a server has to be created from scratch (server gone). */
  version: z.enum(["13", "14", "15", "16", "17", "18"]),
  sku: strictObject({
    name: z.string().min(1),
    tier: z.enum(["Burstable", "GeneralPurpose", "MemoryOptimized"]),
  }),
  storageSizeGB: z.number().int().min(32).max(32768),
  highAvailability: z.enum(["Disabled", "ZoneRedundant", "SameZone"]),
  backupRetentionDays: z
    .number()
    .int()
    .min(MIN_BACKUP_RETENTION_DAYS)
    .max(MAX_BACKUP_RETENTION_DAYS),
  administratorLogin: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a Postgres role name"),
});

export const environmentSchema = z
  .object({
    /** Environment name as the team says it: production, qa. */
    name: dnsLabel,
    /** Short name used in backup file names (`ptt_<short>_adhoc_YYYY-MM-DD`). */
    shortName: z.string().regex(/^[a-z0-9]{1,8}$/, "must be 1-8 lowercase letters or digits"),
    azure: strictObject({
      resourceGroup: azureName,
      location: z.string().regex(/^[a-z0-9]+$/, "must be an Azure region such as uksouth"),
      server: postgresServer,
      /** Private networking of the environment: restored servers must join it too. */
      network: strictObject({
        resourceGroup: azureName,
        virtualNetwork: azureName,
        subnet: azureName,
        privateDnsZone: strictObject({ resourceGroup: azureName, name: hostName }),
      }),
      backupStorage: strictObject({
        account: z.string().regex(/^[a-z0-9]{3,24}$/, "must be a storage account name"),
        resourceGroup: azureName,
        container: z
          .string()
          .regex(/^[a-z0-9](?!.*--)[-a-z0-9]{1,61}[a-z0-9]$/, "must be a blob container name"),
      }),
    }),
    kubernetes: strictObject({
      /** kubeconfig context of the AKS cluster. */
      context: z.string().min(1),
      namespace: dnsLabel,
      ingressClassName: z.string().min(1).default("nginx"),
      /** The app's web Service that temporary hosts route to. */
      webService: strictObject({ name: dnsLabel, port: z.number().int().min(1).max(65535) }),
      /** Every deployment that writes to the database: all are scaled to 0. */
      deployments: z
        .array(
          strictObject({
            name: dnsLabel,
            /** Pre-incident replicas if known; otherwise read from the cluster at creation. */
            replicas: z.number().int().min(1).max(1000).optional(),
          }),
        )
        .min(1, "must list at least the web deployment"),
      /**
       * Where the app's DATABASE_URL lives. terraform-modules names the secret after a hash of
       * its content, so by default it is found the way konduit.sh finds it: through the web
       * deployment's envFrom secretRef. `name` pins it instead.
       */
      databaseSecret: z
        .object({
          fromDeployment: dnsLabel.optional(),
          name: dnsLabel.optional(),
          key: z.string().min(1).default("DATABASE_URL"),
        })
        .default({}),
    }),
    ingress: strictObject({
      /** Public hosts and the app Ingress serving each (terraform-modules names it after the host). */
      publicHosts: z
        .array(strictObject({ host: hostName, ingress: z.string().min(1).optional() }))
        .min(1, "must list at least one public host"),
      /** Hosts that keep reaching the real app during maintenance. */
      temporaryHosts: z.array(hostName).min(1, "must list at least one temporary host"),
    }),
    github: strictObject({
      owner: z.string().regex(/^[A-Za-z0-9-]+$/, "must be a GitHub owner"),
      repository: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a GitHub repository name"),
      defaultBranch: z.string().min(1).default("main"),
    }),
    dataTool: strictObject({
      /** Image built from this repo's Dockerfile; its PostgreSQL client must be >= the server. */
      image: z
        .string()
        .regex(
          /^[^\s:@]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/,
          "must be an image reference",
        ),
    }),
    /**
     * What the team has promised to lose at most (RPO) and to be back within (RTO). A drill
     * measures both and fails when it misses one; without these it only reports the figures.
     */
    recoveryTargets: strictObject({
      rpoMinutes: z.number().positive().optional(),
      rtoMinutes: z.number().positive().optional(),
    }).optional(),
  })
  .strict();

export type Environment = z.infer<typeof environmentSchema>;

/** Validates the raw object; returns problems that each name the config path and the fix. */
export function parseEnvironment(
  key: string,
  raw: unknown,
): { ok: true; value: Environment } | { ok: false; problems: string[] } {
  if (raw === undefined || raw === null) {
    return {
      ok: false,
      problems: [
        `${key} is missing. Every stack file must carry the environment facts (see Pulumi.qa.yaml for the shape).`,
      ],
    };
  }
  const result = environmentSchema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue) => {
      const where = [key, ...issue.path].join(".");
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map(
          (unknown) =>
            `${where}.${unknown} is not a known fact: remove it or fix its spelling. Fix it in Pulumi.<stack>.yaml.`,
        );
      }
      const message =
        issue.code === "invalid_type" && issue.received === "undefined"
          ? `is required (expected ${issue.expected})`
          : issue.message;
      return [`${where} ${message}. Fix it in Pulumi.<stack>.yaml.`];
    }),
  };
}
