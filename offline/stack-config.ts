/**
 * Stack config as `pulumi config` would hold it, from the project's YAML files. Pulumi's mocks
 * read neither Pulumi.yaml nor Pulumi.<stack>.yaml, so the offline plan and the tests load them
 * here: Pulumi.yaml defaults, then Pulumi.<stack>.yaml, then `--set` overrides.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { Environment, environmentSchema } from "../stacks/environment";
import { PROJECT } from "../stacks/incident";

export const ROOT = path.resolve(__dirname, "..");
export const STACKS = ["production", "qa"] as const;

/** `ns:key` -> string (objects as JSON). */
export type StackConfig = Record<string, string>;

export class StackConfigError extends Error {}

export function loadStackConfig(
  stack: string,
  sets: Record<string, string> = {},
  root: string = ROOT,
): StackConfig {
  const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFile)) {
    throw new StackConfigError(
      `no stack file Pulumi.${stack}.yaml; known stacks: ${STACKS.join(", ")} (use --stack <name>).`,
    );
  }
  const project = parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, { default?: unknown }>;
  };
  const config: StackConfig = {};
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    if (decl && typeof decl === "object" && "default" in decl && decl.default !== undefined) {
      config[qualify(key)] = stringify(decl.default);
    }
  }
  const stackYaml = (parseYaml(fs.readFileSync(stackFile, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  for (const [key, value] of Object.entries(stackYaml.config ?? {}))
    config[qualify(key)] = stringify(value);
  for (const [key, value] of Object.entries(sets)) config[qualify(key)] = value;
  return config;
}

/**
 * The stack's environment facts, validated as the program validates them; undefined when they are
 * missing or invalid (the program itself then refuses the config, naming each problem).
 */
export function stackEnvironment(config: StackConfig): Environment | undefined {
  const text = config[`${PROJECT}:environment`];
  if (text === undefined) return undefined;
  try {
    const parsed = environmentSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `scenario` -> `pg-recovery:scenario`; keys of other namespaces stay as they are. */
export function qualify(key: string): string {
  return key.includes(":") ? key : `${PROJECT}:${key}`;
}

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
