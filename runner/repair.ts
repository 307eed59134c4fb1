/**
 * After a runner was killed mid-update (a lost terminal, a closed laptop, a cancelled job), the
 * stack can hold three leftovers that stop the rerun: torn metadata files in a `file://` backend,
 * the backend's lock of the dead update, and resource operations left pending in the state.
 * Before a changing command goes on, this clears them, but only when it is safe:
 *  - torn metadata files, like the lock (see clearTornState);
 *  - the lock only when this machine's journal shows the update was started here by a runner
 *    that is gone, and no `pulumi` process for the stack still runs here;
 *  - pending creates by importing what the provider has under the id the program gives it (a
 *    Kubernetes object's namespace/name, an Azure server's resource id), via `pulumi refresh`.
 * Anything it cannot decide is refused with the command that resolves it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigMap, Engine, EngineError, PendingOperation } from "./engine";
import { Refusal } from "./io";
import { JournalEvent } from "./journal";
import type { Deps, Session } from "./context";
import { tornSidecars } from "./state-backend";

/** Journal kinds that close an `update-started`. */
const UPDATE_ENDS = ["update", "failed", "update-abandoned"];

export function unfinishedUpdate(events: JournalEvent[]): JournalEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    if (UPDATE_ENDS.includes(events[i].kind)) return undefined;
    if (events[i].kind === "update-started") return events[i];
  }
  return undefined;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A `pulumi` process working on this stack of this project directory, on this machine (Linux
 * /proc); undefined when it cannot tell. The directory matters: other projects' stacks may share
 * the name.
 */
export function pulumiRunningFor(stack: string, workDir: string): boolean | undefined {
  if (!fs.existsSync("/proc/self/cmdline")) return undefined;
  const dir = fs.realpathSync(workDir);
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (path.basename(argv[0] ?? "") !== "pulumi") continue;
    const i = argv.indexOf("--stack");
    if (i < 0 || argv[i + 1] !== stack) continue;
    try {
      if (fs.readlinkSync(`/proc/${pid}/cwd`) === dir) return true;
    } catch {
      // Another user's process, or gone: not ours to judge; the lock says the rest.
    }
  }
  return false;
}

/** The id a pending create's object has at its provider, when the program's inputs say it. */
export function importIdOf(p: PendingOperation, config: ConfigMap): string | undefined {
  const i = (p.inputs ?? {}) as Record<string, unknown>;
  if (p.type.startsWith("kubernetes:") && !p.type.startsWith("kubernetes:helm")) {
    const meta = (i.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    if (typeof meta.name !== "string") return undefined;
    return typeof meta.namespace === "string" ? `${meta.namespace}/${meta.name}` : meta.name;
  }
  const sub = config["azure-native:subscriptionId"]?.value;
  if (!sub || typeof i.resourceGroupName !== "string" || typeof i.serverName !== "string") {
    return undefined;
  }
  const server = `/subscriptions/${sub}/resourceGroups/${i.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${i.serverName}`;
  if (p.type === "azure-native:dbforpostgresql:Server") return server;
  if (p.type === "azure-native:dbforpostgresql:Database" && typeof i.databaseName === "string") {
    return `${server}/databases/${i.databaseName}`;
  }
  return undefined;
}

/** An update this machine's journal shows started and never ended, and where its runner is. */
interface Interruption {
  started: JournalEvent;
  pid: number;
  host: string;
  /** running: its runner still runs here; dead: it ran here and nothing works on the stack now. */
  state: "running" | "dead" | "unknown";
}

function interruption(
  events: JournalEvent[],
  stack: string,
  workDir: string,
): Interruption | undefined {
  const started = unfinishedUpdate(events);
  if (!started) return undefined;
  const pid = Number(started.data?.pid);
  const host = String(started.data?.host ?? "");
  const here = host === os.hostname() && Number.isInteger(pid);
  const state =
    here && processAlive(pid)
      ? "running"
      : here && pulumiRunningFor(stack, workDir) === false
        ? "dead"
        : "unknown";
  return { started, pid, host, state };
}

/**
 * Before anything reads a `file://` backend: the metadata sidecars a killed update tore (see
 * state-backend.ts), which make every `pulumi` command fail with "EOF". A changing command
 * removes them when this machine's journal shows its own runner was killed mid-update on this
 * stack and nothing works on the stack here; otherwise the command is refused with the exact
 * command that clears them.
 */
export function clearTornState(
  deps: Deps,
  engine: Engine,
  opts: { command: string; stack: string; workDir: string; changing: boolean },
): void {
  const dir = engine.stateDirectory();
  if (!dir) return;
  const torn = tornSidecars(dir);
  if (torn.length === 0) return;
  const journal = deps.journal(opts.stack);
  const cut = interruption(journal.read(), opts.stack, opts.workDir);
  const list = torn.map((f) => path.relative(dir, f)).join(", ");
  if (opts.changing && cut?.state === "dead") {
    for (const f of torn) fs.rmSync(f, { force: true });
    const text =
      `the interrupted update (pg-recovery ${cut.started.command}, ${cut.started.at}) left ` +
      `${torn.length} torn state metadata file(s) in ${dir}: ${list}; removed (the state itself is whole)`;
    journal.append({ command: opts.command, kind: "repair", text, who: deps.who(opts.workDir) });
    deps.io.err(`The ${text}.`);
    return;
  }
  throw new Refusal(
    `the state backend ${dir} cannot be read: ${torn.length} metadata file(s) are empty or cut short ` +
      `(${list}), as a process killed while writing them leaves them, and every pulumi command ` +
      `fails with "EOF" until they are gone. They hold only a content type and a checksum; the ` +
      `state is whole. Once no pulumi command runs on this backend, remove them:\n  rm ${torn
        .map(shellQuote)
        .join(" ")}\nthen rerun.` +
      (opts.changing
        ? ""
        : ` (A changing command, e.g. pg-recovery resume, removes them itself when this machine's ` +
          `journal shows its own runner was killed mid-update.)`) +
      ` Nothing was changed.`,
  );
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function repairInterrupted(s: Session): Promise<void> {
  const stackName = s.stack.name;
  const cut = interruption(s.journal.read(), stackName, s.workDir);
  if (cut) {
    const { started, pid, host } = cut;
    if (cut.state === "running") {
      throw new Refusal(
        `another pg-recovery (pid ${pid}, ${started.command}) is updating ${stackName} since ${started.at}: ` +
          `wait for it to finish (pg-recovery status --stack ${stackName}). Nothing was changed.`,
      );
    }
    if (cut.state === "dead") {
      // Our own runner died mid-update and nothing works on the stack here: its lock is stale.
      await s.stack.cancel().catch(() => undefined);
      s.note(
        "update-abandoned",
        `the update started at ${started.at} by pg-recovery ${started.command} (pid ${pid}) was interrupted; its lock is cleared`,
        { pid, host },
      );
      s.io.err(
        `The last update (pg-recovery ${started.command}, ${started.at}) was interrupted; its lock is cleared.`,
      );
    } else {
      s.io.err(
        `The last update (pg-recovery ${started.command} on ${host || "another machine"}, ${started.at}) did not ` +
          `finish there. If the stack is still locked and nothing runs any more, clear it with ` +
          `\`pulumi cancel --yes --stack ${stackName}\` in ${s.workDir}, then rerun.`,
      );
    }
  }

  const pending = await s.stack.pendingOperations();
  if (pending.length === 0) return;
  const config = await s.stack.config();
  const creates = pending.filter((p) => p.op === "creating");
  const imports = creates.map((p) => [p.urn, importIdOf(p, config)] as const);
  const unknown = imports.filter(([, id]) => id === undefined).map(([urn]) => urn);
  s.io.err(
    `An interrupted update left ${pending.length} operation(s) pending: ${pending
      .map((p) => `${p.op} ${p.urn.split("::").pop()}`)
      .join(", ")}. Reading them back from the cluster/Azure (pulumi refresh) first.`,
  );
  if (unknown.length) {
    throw new Refusal(
      `cannot tell where these interrupted creates stand: ${unknown.join(", ")}. Check whether each ` +
        `exists, then resolve them with \`pulumi refresh --stack ${stackName}\` in ${s.workDir} ` +
        `(it asks, per resource, to import or clear it), and rerun. Nothing was changed.`,
    );
  }
  try {
    await s.stack.repairPending(imports.map(([urn, id]) => [urn, id!]));
  } catch (e) {
    if (e instanceof EngineError) {
      throw new Refusal(
        `${e.message}\nThe interrupted operations could not be read back. Resolve them with ` +
          `\`pulumi refresh --stack ${stackName}\` in ${s.workDir}, then rerun. Nothing was changed.`,
      );
    }
    throw e;
  }
  s.note(
    "repair",
    `pending operations read back from the providers: ${pending.map((p) => p.urn).join(", ")}`,
    {
      imported: imports.map(([urn, id]) => `${urn} = ${id}`),
    },
  );
}
