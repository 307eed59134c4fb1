// Flat config: typescript-eslint's recommended rules over every TypeScript file in the repo, plus
// the house's dependency direction, so a wrong-way import fails lint:
//   index.ts -> stacks/ (composition, config door) -> components/ -> contract/ (leaf)
//   datapath/ (the data tool) -> contract/ only; no Pulumi
//   harness/ (offline mocks) and tools/ sit on top; tests and e2e may import anything.
//   runner/ (the incident runner, `pg-recovery`) is the top: it may import stacks/, harness/,
//   contract/ and components/; nothing imports it (tests aside).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** `no-restricted-imports` patterns that keep a folder from importing `folders`. */
const notFrom = (folders, why) =>
  folders.map((folder) => ({
    group: [`**/${folder}`, `**/${folder}/**`],
    message: `${why} (see eslint.config.mjs for the direction of dependencies).`,
  }));

/** Nothing but tests imports the runner: it is the top of the house. */
const notRunner = notFrom(["runner"], "Nothing imports the runner (runner/ is the top)");

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
        ["stacks", "components", "datapath", "harness", "tools", "index"],
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
        ["stacks", "components", "harness", "tools", "index"],
        "The data tool imports only contract/",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["components/**/*.ts"],
    [
      ...notFrom(
        ["stacks", "datapath", "harness", "tools", "index"],
        "Components import only leaf modules (contract/) and each other",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["stacks/**/*.ts"],
    [
      ...notFrom(
        ["datapath", "harness", "tools", "index"],
        "The composition imports components, contract/ and the config door",
      ),
      ...notRunner,
    ],
  ),
  layer(
    ["harness/**/*.ts"],
    [
      ...notFrom(["tools", "datapath"], "The harness runs the program; it is not a tool"),
      ...notRunner,
    ],
  ),
  layer(["tools/**/*.ts", "index.ts", "e2e/program/**/*.ts"], notRunner),
  layer(
    ["runner/**/*.ts"],
    notFrom(
      ["datapath", "tools", "index", "e2e"],
      "The runner drives the program (stacks/, components/, contract/) and the harness; the data tool runs in Jobs",
    ),
  ),
);
