// Flat config: typescript-eslint's recommended rules over every TypeScript file in the repo, plus
// the house's dependency direction, so a wrong-way import fails lint:
//   index.ts -> stacks/ (composition, config door) -> components/ -> contract/ (leaf)
//   datapath/ (the data tool) -> contract/ only; no Pulumi
//   offline/ (the program under Pulumi's mocks: the plan, `commands`) sits on stacks/.
//   runner/ (the incident runner, `pg-recovery`) is the top: it may import stacks/, offline/,
//   contract/ and components/; nothing imports it (tests aside).
//   No product room imports test/: test support (throwaway PostgreSQL, Azurite, mocks helpers)
//   is not shipped. tools/ (developer tools: bench, drill, rehearsal) may use test/support's
//   servers, and tests and e2e may import anything.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** `no-restricted-imports` patterns that keep a folder from importing `folders`. */
const notFrom = (folders, why) =>
  folders.map((folder) => ({
    group: [`**/${folder}`, `**/${folder}/**`],
    message: `${why} (see eslint.config.mjs for the direction of dependencies).`,
  }));

/**
 * Nothing but tests imports the runner: it is the top of the house. The e2e suite's own
 * support module of that name (the runner as the e2e tests drive it, used by tools/rehearsal.ts)
 * is not the runner.
 */
const notRunner = notFrom(["runner"], "Nothing imports the runner (runner/ is the top)").map(
  (pattern) => ({ ...pattern, group: [...pattern.group, "!**/e2e/test/support/runner"] }),
);

const layer = (files, patterns) => ({
  files,
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

const pulumi = [
  {
    group: ["@pulumi/*"],
    message: "No Pulumi here: this code runs in a Job and on a laptop (see eslint.config.mjs).",
  },
];

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", "dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  layer(
    ["contract/**/*.ts"],
    [
      ...pulumi,
      ...notFrom(
        ["stacks", "components", "datapath", "offline", "tools", "test", "index"],
        "contract/ is a leaf: it imports nothing of the project",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["datapath/**/*.ts"],
    [
      ...pulumi,
      ...notFrom(
        ["stacks", "components", "offline", "tools", "test", "index"],
        "The data tool imports only contract/",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["components/**/*.ts"],
    [
      ...notFrom(
        ["stacks", "datapath", "offline", "tools", "test", "index"],
        "Components import only leaf modules (contract/) and each other",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["stacks/**/*.ts"],
    [
      ...notFrom(
        ["datapath", "offline", "tools", "test", "index"],
        "The composition imports components, contract/ and the config door",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["offline/**/*.ts"],
    [
      ...notFrom(
        ["tools", "datapath", "test"],
        "offline/ runs the program for the plan and `commands`; it is product, not a tool or a test",
      ),
      ...notRunner,
    ],
  ),
  layer(["tools/**/*.ts", "index.ts", "e2e/program/**/*.ts"], notRunner),
  layer(
    ["runner/**/*.ts"],
    notFrom(
      ["datapath", "tools", "test", "index", "e2e"],
      "The runner drives the program (stacks/, components/, contract/) and offline/; the data tool runs in Jobs",
    ),
  ),
);
