// Azurite for tests: the same helper the benchmark uses.
export { DEV_ACCOUNT, DEV_KEY, startAzurite } from "../../tools/azurite";
export type { Azurite } from "../../tools/azurite";
