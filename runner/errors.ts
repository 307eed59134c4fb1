/**
 * Errors that are expected conditions rather than bugs, told apart by type: the stack file or a
 * `--set` (StackConfigError), the program's config door (IncidentConfigError), the program's
 * own run errors (RunError), and a failed engine operation (EngineError). Each prints its
 * message, never a stack trace. Loaded only when a command failed.
 */
import { RunError } from "@pulumi/pulumi";
import { EXIT } from "../contract/data-tool";
import { StackConfigError } from "../offline/stack-config";
import { IncidentConfigError } from "../stacks/incident";
import { EngineError } from "./engine";

export function expected(e: unknown): { message: string; code: number } | undefined {
  if (e instanceof StackConfigError) return { message: e.message, code: EXIT.usage };
  if (e instanceof EngineError) return { message: e.message, code: EXIT.failed };
  // RunError keeps the name "Error"; the SDK marks it with a flag it checks (RunError.isInstance).
  if (e instanceof IncidentConfigError || RunError.isInstance(e)) {
    return { message: (e as Error).message, code: EXIT.failed };
  }
  return undefined;
}
