/**
 * Everything offline/ needs from the Pulumi SDK beyond its public API, in one place, so an SDK
 * upgrade that moves one of them breaks here and nowhere else:
 *  - `waitForRPCs`: the only way to know every registration has finished;
 *  - the mock monitor's registration requests: resource options (retainOnDelete, ignoreChanges,
 *    hooks, ...) never reach `Mocks.newResource`, so they are read off the request;
 *  - a no-op hook RPC: the mock monitor has none, and the program binds delete hooks.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the SDK's generated request objects */
import * as pulumi from "@pulumi/pulumi";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/** Resolves when every registration and invoke the program started has been answered. */
export function waitForRPCs(): Promise<void> {
  return settings.waitForRPCs();
}

/** Resource options as the engine would receive them. */
export interface DeclaredOptions {
  parent?: string;
  provider?: string;
  retainOnDelete: boolean;
  protect: boolean;
  ignoreChanges: string[];
  dependsOn: string[];
  customTimeouts?: { create?: string; update?: string; delete?: string };
  deleteBeforeReplace: boolean;
  beforeDeleteHooks: string[];
}

export const NO_OPTIONS: DeclaredOptions = {
  retainOnDelete: false,
  protect: false,
  ignoreChanges: [],
  dependsOn: [],
  deleteBeforeReplace: false,
  beforeDeleteHooks: [],
};

export interface Registration {
  type: string;
  name: string;
  options: DeclaredOptions;
  additionalSecretOutputs: string[];
}

/**
 * Installs `mocks` process-wide and calls `onRegister` with each registration request before
 * the mock monitor answers it.
 */
export function installRecordingMocks(
  mocks: pulumi.runtime.Mocks,
  project: string,
  stack: string,
  onRegister: (registration: Registration) => void,
): void {
  pulumi.runtime.setMocks(mocks, project, stack, false);
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    const timeouts = req.getCustomtimeouts?.();
    const hooks = req.getHooks?.();
    onRegister({
      type: req.getType(),
      name: req.getName(),
      options: {
        parent: req.getParent() || undefined,
        provider: req.getProvider() || undefined,
        retainOnDelete: !!req.getRetainondelete?.(),
        protect: !!req.getProtect?.(),
        ignoreChanges: req.getIgnorechangesList?.() ?? [],
        dependsOn: req.getDependenciesList?.() ?? [],
        customTimeouts: timeouts
          ? {
              create: timeouts.getCreate() || undefined,
              update: timeouts.getUpdate() || undefined,
              delete: timeouts.getDelete() || undefined,
            }
          : undefined,
        deleteBeforeReplace: !!req.getDeletebeforereplace?.(),
        beforeDeleteHooks: hooks?.getBeforeDeleteList?.() ?? [],
      },
      additionalSecretOutputs: req.getAdditionalsecretoutputsList?.() ?? [],
    });
    return register(req, callback);
  };
  // Accepting hook registrations lets the program bind its delete hooks as it does under the
  // engine, so tests can see the binding.
  if (typeof monitor.registerResourceHook !== "function") {
    monitor.registerResourceHook = (_req: any, callback: any) => callback(null, {});
  }
}
