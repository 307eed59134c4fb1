/**
 * The project's own program, run by the Automation API as an inline program.
 *
 * Why inline and not the CLI's Node.js language host: the runner already runs the project's
 * code in its own Node (the config door's checks come first), so the engine talks to this process
 * (`pulumi up --client=...`) and needs no `pulumi-language-nodejs` plugin, which some installs
 * lack (the e2e toolchain cannot build it, see e2e/versions.env). The program is still the
 * project directory's: its `Pulumi.yaml` `main`, evaluated exactly as the CLI would.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { Refusal } from "./io";

export interface ProjectFile {
  name: string;
  main: string;
  /** `backend.url`, when the project pins its state backend. */
  backendUrl?: string;
}

/** Reads `Pulumi.yaml` of a project directory; throws a message naming the file. */
export function readProject(workDir: string): ProjectFile {
  const file = path.join(workDir, "Pulumi.yaml");
  if (!fs.existsSync(file)) {
    throw new Refusal(
      `${workDir} is not a Pulumi project (no Pulumi.yaml); point --work-dir at the project directory.`,
    );
  }
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as {
    name?: unknown;
    main?: unknown;
    backend?: { url?: unknown };
  };
  if (typeof doc.name !== "string" || !doc.name) {
    throw new Refusal(`${file} has no project name; point --work-dir at the project directory.`);
  }
  let main = path.resolve(workDir, typeof doc.main === "string" ? doc.main : ".");
  if (fs.existsSync(main) && fs.statSync(main).isDirectory()) main = path.join(main, "index.ts");
  const backendUrl = typeof doc.backend?.url === "string" ? doc.backend.url : undefined;
  return { name: doc.name, main, backendUrl };
}

/**
 * The program: requires the project's entry afresh on every run. Fresh, because the engine
 * runs the program once per preview, update or destroy, and module state from an earlier run
 * (a resource hook registered with a previous engine, say) must not leak into the next one;
 * a separate process per run, as the CLI's language host does, would give the same.
 */
export function projectProgram(main: string): () => Promise<Record<string, unknown>> {
  return async () => {
    forgetProjectModules();
    loadTypeScript(main);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the entry is only known at run time
    const exported: unknown = require(main);
    const value =
      exported && typeof exported === "object" && "default" in exported
        ? (exported as { default: unknown }).default
        : exported;
    return ((await value) ?? {}) as Record<string, unknown>;
  };
}

/**
 * The program is TypeScript (`main: index.ts`): the compiled runner (dist/, tools/build.js) has
 * no loader for it, so ts-node is registered here, transpile only as the Pulumi CLI's Node.js
 * host runs it, and only when a command runs the program (not for `--help` or `status`).
 */
function loadTypeScript(main: string): void {
  if (!main.endsWith(".ts") || require.extensions[".ts"]) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a development dependency, loaded on demand
  const tsNode = require("ts-node") as typeof import("ts-node");
  tsNode.register({ transpileOnly: true, projectSearchDir: path.dirname(main) });
}

/**
 * Drops every module outside node_modules (and outside the runner itself) from the require
 * cache, so the next require evaluates the program's modules again. Libraries stay loaded: the
 * Pulumi SDK's runtime state must be the one the Automation API's language server set up.
 */
function forgetProjectModules(): void {
  const runnerDir = __dirname + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key.includes(`${path.sep}node_modules${path.sep}`)) continue;
    if (key.startsWith(runnerDir)) continue;
    delete require.cache[key];
  }
}
