/**
 * A real Azure Blob Storage API (Azurite, from npm) on loopback, in a temp directory: for the
 * tests and the benchmark.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./pg-server";

/** Azurite's documented development account; not a secret. */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  readonly port: number;
  readonly connectionString: string;
  /** The underlying process, for fault injection (e.g. `process.kill("SIGKILL")`). */
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const location = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-azurite-"));
  const port = await freePort();
  const bin = path.join(__dirname, "..", "node_modules", ".bin", "azurite-blob");
  const child = spawn(
    bin,
    [
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--location",
      location,
      "--skipApiVersionCheck",
      "--silent",
      "--loose",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));

  await waitForPort(port, child, () => output);
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
  let stopped = false;
  return {
    port,
    connectionString,
    process: child,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      fs.rmSync(location, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const net = await import("node:net");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite exited early: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`azurite did not listen on ${port} within 30s: ${log()}`);
}
