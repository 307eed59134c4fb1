/**
 * Storage credentials for the data jobs: the backup account's key, read from Azure at deploy
 * time and written straight into a Kubernetes Secret. Pulumi keeps it encrypted in state; it is
 * never in stack config or outputs.
 */
import * as storage from "@pulumi/azure-native/storage";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const CONNECTION_STRING_KEY = "connection-string";

export interface BackupStorageAccessArgs {
  accountName: string;
  resourceGroupName: string;
  namespace: string;
  /** Kubernetes name of the Secret. */
  secretName: string;
  labels?: Record<string, string>;
  /** Provider for the Azure invoke (the Kubernetes provider comes through the parent). */
  azureProvider?: pulumi.ProviderResource;
}

export class BackupStorageAccess extends pulumi.ComponentResource {
  readonly secret: k8s.core.v1.Secret;
  readonly secretKey: { name: pulumi.Output<string>; key: string };

  constructor(name: string, args: BackupStorageAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:BackupStorageAccess", name, {}, opts);
    const keys = storage.listStorageAccountKeysOutput(
      { accountName: args.accountName, resourceGroupName: args.resourceGroupName },
      { parent: this, provider: args.azureProvider },
    );
    const connectionString = pulumi.secret(
      keys.keys.apply((list) => {
        const key = (list ?? [])[0]?.value;
        // Logged as an error (fails `pulumi up`) rather than thrown, so a partial answer from
        // a test double still lets the rest of the plan evaluate.
        if (!key)
          pulumi.log.error(`storage account ${args.accountName} returned no access key`, this);
        return (
          `DefaultEndpointsProtocol=https;AccountName=${args.accountName};` +
          `AccountKey=${key};EndpointSuffix=core.windows.net`
        );
      }),
    );
    this.secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: args.secretName, namespace: args.namespace, labels: args.labels },
        type: "Opaque",
        stringData: { [CONNECTION_STRING_KEY]: connectionString },
      },
      { parent: this },
    );
    this.secretKey = { name: this.secret.metadata.name, key: CONNECTION_STRING_KEY };
    this.registerOutputs({ secretName: this.secret.metadata.name });
  }
}
