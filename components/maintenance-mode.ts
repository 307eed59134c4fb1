/**
 * Runbook step "enable maintenance mode", made additive so that `pulumi destroy` leaves the
 * app's routing exactly as it was.
 *
 * Why not the runbook's way: re-applying the app's Ingresses with the maintenance backend is a
 * forced change of fields Terraform owns; removing it leaves those fields unowned, not restored.
 * Why not a weight-100 canary alone: with the app scaled to 0 its backend has no endpoints and
 * ingress-nginx answers 503 before it considers the canary. So two additive pieces cover both
 * states of the app:
 *   - app running: a canary Ingress per public host at weight 100 sends all traffic to the page;
 *   - app at 0: a `default-backend` annotation added to the app's Ingress (a key no one else
 *     owns) serves the page when the app's backend has no endpoints.
 * Temporary hosts get their own Ingresses to the real app Service so responders can test it.
 * Destroy deletes the canaries, the temp Ingresses and the page, and the annotation patch
 * relinquishes only its own key.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { ANNOTATIONS } from "../contract/runbook";
import {
  HEALTH_PORT,
  MAINTENANCE_PORT,
  MaintenancePageOptions,
  nginxConfig,
} from "./maintenance-page";
import { k8sName } from "./naming";

/**
 * The Kubernetes provider waits for an Ingress to get a load-balancer address AND for every
 * backend Service to have endpoints. During an incident the app's backends may have none (it is
 * crashing, or scaled to 0), so that wait would hold maintenance mode hostage for 10 minutes and
 * then fail `pulumi up`. The page's readiness is awaited on its Deployment instead.
 */
const SKIP_AWAIT = { [ANNOTATIONS.skipAwait]: "true" } as const;

export interface PublicHost {
  host: string;
  /** The app's existing Ingress for this host (terraform-modules names it after the host). */
  appIngress: string;
}

export interface MaintenanceModeArgs {
  namespace: string;
  /** Prefix of every object name, e.g. `publish-production-pgr`. */
  namePrefix: string;
  /** Public hosts that show the maintenance page. */
  publicHosts: PublicHost[];
  /** Hosts routed to the real app during maintenance. */
  temporaryHosts: string[];
  /** The app's web Service (what the temporary hosts reach). */
  appService: { name: string; port: number };
  ingressClassName?: string;
  /** Unprivileged nginx image serving the page. */
  image?: string;
  replicas?: number;
  page?: Partial<MaintenancePageOptions>;
  labels?: Record<string, string>;
}

export const MAINTENANCE_DEFAULTS = {
  ingressClassName: "nginx",
  image: "nginxinc/nginx-unprivileged:1.27-alpine",
  replicas: 2,
  page: {
    retryAfterSeconds: 3600,
    title: "Sorry, the service is unavailable",
    message: "We are carrying out maintenance. You will be able to use the service again soon.",
  } satisfies MaintenancePageOptions,
};

type Settings = ReturnType<typeof withDefaults>;

/** The maintenance page's objects share a name, a selector and labels. */
interface Page {
  name: string;
  selector: Record<string, string>;
  labels: Record<string, string>;
}

export class MaintenanceMode extends pulumi.ComponentResource {
  readonly service: k8s.core.v1.Service;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly canaryIngresses: k8s.networking.v1.Ingress[];
  readonly defaultBackendPatches: k8s.networking.v1.IngressPatch[];
  readonly temporaryIngresses: k8s.networking.v1.Ingress[];
  readonly maintenanceHosts: pulumi.Output<string[]>;
  readonly temporaryUrls: pulumi.Output<string[]>;

  constructor(name: string, args: MaintenanceModeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-recovery:index:MaintenanceMode", name, {}, opts);
    const a = withDefaults(args);
    const pageName = k8sName(a.namePrefix, "maintenance");
    const selector = { "app.kubernetes.io/name": pageName };
    const page: Page = { name: pageName, selector, labels: { ...a.labels, ...selector } };

    this.deployment = this.pageDeployment(name, a, page);
    this.service = this.pageService(name, a, page);
    const backend = { name: this.service.metadata.name, port: { number: 80 } };
    this.canaryIngresses = a.publicHosts.map((h) => this.canaryIngress(name, a, h, backend));
    this.defaultBackendPatches = a.publicHosts.map((h) => this.defaultBackendPatch(name, a, h));
    this.temporaryIngresses = a.temporaryHosts.map((host) => this.temporaryIngress(name, a, host));

    this.maintenanceHosts = pulumi.output(a.publicHosts.map((h) => h.host));
    this.temporaryUrls = pulumi.output(a.temporaryHosts.map((h) => `https://${h}/`));
    this.registerOutputs({
      maintenanceHosts: this.maintenanceHosts,
      temporaryUrls: this.temporaryUrls,
      maintenanceService: this.service.metadata.name,
    });
  }

  /** The page's nginx config, and the unprivileged nginx serving it (rolled when it changes). */
  private pageDeployment(name: string, a: Settings, page: Page): k8s.apps.v1.Deployment {
    const files = { "default.conf": nginxConfig(a.page) };
    const config = new k8s.core.v1.ConfigMap(
      `${name}-page`,
      {
        metadata: { name: k8sName(page.name, "page"), namespace: a.namespace, labels: page.labels },
        data: files,
      },
      { parent: this },
    );
    // Rolls the pods when the page or its config changes.
    const configHash = createHash("sha256")
      .update(JSON.stringify(files))
      .digest("hex")
      .slice(0, 16);
    return new k8s.apps.v1.Deployment(
      `${name}-page`,
      {
        metadata: { name: page.name, namespace: a.namespace, labels: page.labels },
        spec: {
          replicas: a.replicas,
          selector: { matchLabels: page.selector },
          template: {
            metadata: {
              labels: page.labels,
              annotations: { [ANNOTATIONS.pageConfig]: configHash },
            },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
              containers: [nginxContainer(a.image)],
              volumes: [
                { name: "page", configMap: { name: config.metadata.name } },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
      { parent: this },
    );
  }

  private pageService(name: string, a: Settings, page: Page): k8s.core.v1.Service {
    return new k8s.core.v1.Service(
      `${name}-page`,
      {
        metadata: { name: page.name, namespace: a.namespace, labels: page.labels },
        spec: {
          type: "ClusterIP",
          selector: page.selector,
          ports: [{ name: "http", port: 80, targetPort: "http" }],
        },
      },
      { parent: this, dependsOn: [this.deployment] },
    );
  }

  /** App running: a canary at weight 100 on the public host sends all its traffic to the page. */
  private canaryIngress(
    name: string,
    a: Settings,
    h: PublicHost,
    backend: Backend,
  ): k8s.networking.v1.Ingress {
    return new k8s.networking.v1.Ingress(
      `${name}-canary-${h.host}`,
      {
        metadata: {
          name: k8sName(a.namePrefix, "maint", h.host),
          namespace: a.namespace,
          labels: a.labels,
          annotations: {
            [ANNOTATIONS.nginxCanary]: "true",
            [ANNOTATIONS.nginxCanaryWeight]: "100",
            ...SKIP_AWAIT,
          },
        },
        spec: {
          ingressClassName: a.ingressClassName,
          rules: [{ host: h.host, http: { paths: [rootPath(backend)] } }],
        },
      },
      { parent: this, dependsOn: [this.service] },
    );
  }

  /** App at 0: the app's own Ingress serves the page as its default backend. */
  private defaultBackendPatch(name: string, a: Settings, h: PublicHost) {
    return new k8s.networking.v1.IngressPatch(
      `${name}-default-backend-${h.host}`,
      {
        metadata: {
          name: h.appIngress,
          namespace: a.namespace,
          // Both keys are this patch's alone, and deleting it relinquishes exactly these two.
          // Without skipAwait the provider's wait could return a stale read of the Ingress,
          // so the state lacked the annotation and every later `up` re-applied it (seen
          // under the real engine, e2e/test/real-engine.test.ts step 3).
          annotations: {
            [ANNOTATIONS.nginxDefaultBackend]: this.service.metadata.name,
            ...SKIP_AWAIT,
          },
        },
      },
      { parent: this, dependsOn: [this.service] },
    );
  }

  /** A temporary host: the real app, for responders to test it while the public sees the page. */
  private temporaryIngress(name: string, a: Settings, host: string): k8s.networking.v1.Ingress {
    return new k8s.networking.v1.Ingress(
      `${name}-temporary-${host}`,
      {
        metadata: {
          name: k8sName(a.namePrefix, "temp", host),
          namespace: a.namespace,
          labels: a.labels,
          annotations: SKIP_AWAIT,
        },
        spec: {
          ingressClassName: a.ingressClassName,
          rules: [
            {
              host,
              http: {
                paths: [rootPath({ name: a.appService.name, port: { number: a.appService.port } })],
              },
            },
          ],
        },
      },
      { parent: this },
    );
  }
}

/** The page's nginx: unprivileged, read-only root, its config mounted from the ConfigMap. */
function nginxContainer(image: string): k8s.types.input.core.v1.Container {
  return {
    name: "nginx",
    image,
    ports: [
      { name: "http", containerPort: MAINTENANCE_PORT },
      { name: "health", containerPort: HEALTH_PORT },
    ],
    readinessProbe: { httpGet: { path: "/healthz", port: "health" } },
    livenessProbe: { httpGet: { path: "/healthz", port: "health" } },
    resources: {
      requests: { cpu: "10m", memory: "32Mi" },
      limits: { memory: "64Mi" },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: "page", mountPath: "/etc/nginx/conf.d/default.conf", subPath: "default.conf" },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
}

type Backend = { name: pulumi.Input<string>; port: { number: number } };

/** Same path shape as the app's Ingress (no path, implementation-specific), so the canary matches. */
function rootPath(backend: Backend) {
  return { path: "/", pathType: "ImplementationSpecific", backend: { service: backend } };
}

function withDefaults(args: MaintenanceModeArgs) {
  if (args.publicHosts.length === 0) throw new Error("MaintenanceMode: publicHosts is empty");
  return {
    ...args,
    ingressClassName: args.ingressClassName ?? MAINTENANCE_DEFAULTS.ingressClassName,
    image: args.image ?? MAINTENANCE_DEFAULTS.image,
    replicas: args.replicas ?? MAINTENANCE_DEFAULTS.replicas,
    page: { ...MAINTENANCE_DEFAULTS.page, ...args.page },
    labels: args.labels ?? {},
  };
}
