/**
 * A real Azure Blob Storage API (Azurite, from npm) on loopback, in a temp directory: for the
 * tests and the benchmark. It can be halted and started again on the same port and data, to
 * inject a storage outage mid-upload.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./pg-server";

/** Azurite's documented development account; not a secret. */
export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const BIN = path.join(__dirname, "..", "..", "node_modules", ".bin", "azurite-blob");

export class Azurite {
  readonly location = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-azurite-"));
  port = 0;
  private child?: ChildProcess;

  get connectionString(): string {
    return (
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
      `BlobEndpoint=http://127.0.0.1:${this.port}/${DEV_ACCOUNT};`
    );
  }

  /**
   * Starts (or restarts, same port and data) and waits until the API answers. A first start
   * whose free port was taken by another process in between (EADDRINUSE: other test runs share
   * the machine) starts again on another port, up to three times; a restart keeps its port.
   */
  async start(): Promise<void> {
    const fresh = !this.port;
    for (let attempt = 1; ; attempt++) {
      if (!this.port) this.port = await freePort();
      const outcome = await this.launch();
      if (outcome === "up") return;
      if (!fresh || attempt === 3) throw new Error(`azurite exited early: ${outcome.output}`);
      this.port = 0;
    }
  }

  private async launch(): Promise<"up" | { output: string }> {
    let output = "";
    const child = spawn(
      BIN,
      [
        ...["--blobHost", "127.0.0.1", "--blobPort", String(this.port)],
        ...["--location", this.location, "--skipApiVersionCheck", "--silent", "--loose"],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const client = BlobServiceClient.fromConnectionString(this.connectionString, {
      retryOptions: { maxTries: 1 },
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) {
        if (/EADDRINUSE/.test(output)) return { output };
        throw new Error(`azurite exited early: ${output}`);
      }
      try {
        await client.getProperties();
        return "up";
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`azurite did not answer within 30s: ${e} ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Stops the service mid-flight, keeping its data. Azurite persists its metadata when it shuts
   * down (a SIGKILL alone would also lose blobs committed earlier, which a real store would
   * not), but after "successfully closed" its process lingers, so it is then killed.
   */
  async halt(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    const closed = new Promise<void>((resolve) => {
      c.stdout?.on("data", (d: Buffer) => /successfully closed/.test(String(d)) && resolve());
      setTimeout(resolve, 5000);
    });
    c.kill("SIGTERM");
    await closed;
    c.kill("SIGKILL");
    await exited;
  }

  /** Stops and deletes the data. */
  async stop(): Promise<void> {
    await this.halt();
    fs.rmSync(this.location, { recursive: true, force: true });
  }
}

export async function startAzurite(): Promise<Azurite> {
  const azurite = new Azurite();
  await azurite.start();
  return azurite;
}

/**
 * Runs a download that must fail (`transfer`, given the log to pass on) with a progress line
 * per chunk, halting `store` at the first chunk; returns the lines it logged once the halt is
 * done. The storage outage the data tool's retries and clean-up are tested against.
 */
export async function haltMidDownload(
  store: Azurite,
  transfer: (log: (line: string) => void) => Promise<unknown>,
): Promise<string[]> {
  const lines: string[] = [];
  let halted: Promise<void> | undefined;
  const progressMs = process.env.PG_RECOVERY_PROGRESS_MS;
  process.env.PG_RECOVERY_PROGRESS_MS = "0"; // a progress line per downloaded chunk
  try {
    await transfer((line) => {
      lines.push(line);
      if (/downloaded/.test(line) && !halted) halted = store.halt();
    });
  } finally {
    if (progressMs === undefined) delete process.env.PG_RECOVERY_PROGRESS_MS;
    else process.env.PG_RECOVERY_PROGRESS_MS = progressMs;
  }
  assert.ok(halted, "storage was halted mid-download");
  await halted;
  return lines;
}
