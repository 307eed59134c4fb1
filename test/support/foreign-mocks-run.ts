/**
 * Runs index.ts under the plainest possible mocks (echo inputs, answer invokes with their
 * inputs), in its own process, the way someone else's test harness would. Prints the declared
 * resources as JSON on stdout. Usage: ts-node foreign-mocks-run.ts <stack> [key=value ...]
 */
import * as pulumi from "@pulumi/pulumi";
import { waitForRPCs } from "../../offline/sdk-internals";
import { loadStackConfig } from "../../offline/stack-config";

const [stack, ...sets] = process.argv.slice(2);
const declared: { type: string; name: string; inputs: unknown }[] = [];
const errors: string[] = [];

pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      declared.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}_id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "pg-recovery",
  stack,
  process.env.PREVIEW === "true",
);
pulumi.runtime.setAllConfig(
  loadStackConfig(stack, Object.fromEntries(sets.map((s) => s.split(/=(.*)/s).slice(0, 2)))),
);
process.on("unhandledRejection", (e) => errors.push(String((e as Error)?.message ?? e)));

(async () => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require("../../index");
  } catch (e) {
    errors.push((e as Error).message);
  }
  // Every registration the program started has been answered: nothing is left to record.
  await waitForRPCs().catch((e: Error) => errors.push(e.message));
  process.stdout.write(JSON.stringify({ errors, declared }));
})();
