// Azurite for tests: the same helper the benchmark uses.
export { Azurite, DEV_ACCOUNT, DEV_KEY, startAzurite } from "../../tools/azurite";
