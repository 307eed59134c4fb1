/**
 * Storage that does not answer: every command fails within the stated bound
 * (STORAGE_UNREACHABLE_BOUND_S), showing each retry as a progress line, whether the endpoint
 * refuses connections (switched off) or accepts them and never answers. Retries during a
 * transfer are shown too. Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import * as net from "node:net";
import { backup } from "../../../datapath/backup/backup";
import { restore } from "../../../datapath/restore/restore";
import { STORAGE_UNREACHABLE_BOUND_S } from "../../../datapath/storage/blobs";
import { Azurite, DEV_ACCOUNT, DEV_KEY, haltMidDownload } from "../../support/azurite";
import { fastRetry, quiet, runCli, useDataPath } from "../../support/datapath";
import { numberedRows, seeded } from "../../support/datapath-schemas";
import { freePort } from "../../support/postgres";

const connectionString = (port: number) =>
  `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
  `BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;

/** What a failing command showed: its progress lines, then its error's message. */
async function failureLines(work: (log: (line: string) => void) => Promise<unknown>) {
  const lines: string[] = [];
  const e = await work((l) => lines.push(l)).then(
    () => undefined,
    (err: Error) => err,
  );
  return `${lines.join("\n")}\n${e?.message}`;
}

describe("datapath with unreachable storage (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath(
    "unr",
    seeded("app", numberedRows(200000, "md5(random()::text) || md5(random()::text)")),
  );
  let off: string;
  let silent: net.Server;
  let silentPort: number;

  before(async () => {
    // Nothing listens on a freshly freed port: connections are refused, as with storage off.
    off = connectionString(await freePort());
    // Accepts connections and never answers.
    silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as net.AddressInfo).port;
  });

  after(() => {
    silent?.close();
  });

  const assertRetriesShown = (text: string) => {
    assert.match(text, /did not answer \(attempt 1 of 3: [^)]+\); trying again in 1 s/);
    assert.match(text, /did not answer \(attempt 2 of 3: [^)]+\); trying again in 2 s/);
    assert.match(
      text,
      new RegExp(
        `cannot reach blob storage at http://127\\.0\\.0\\.1:\\d+/${DEV_ACCOUNT}/[a-z0-9-]+: .*gave up after 3 attempts in [\\d.]+ s \\(the limit is ${STORAGE_UNREACHABLE_BOUND_S} s\\)`,
      ),
    );
  };

  it(`switched off: list, backup and restore each fail within the bound, retries shown`, async () => {
    const { env } = fx.setup(off);
    const cliEnv = { ...env, DATABASE_URL: fx.pg.url("app") };
    const timed = async <T>(work: Promise<T>) => {
      const t = Date.now();
      const result = await work;
      return { result, seconds: (Date.now() - t) / 1000 };
    };
    const [list, back, rest] = await Promise.all([
      timed(runCli(["list"], cliEnv)),
      timed(
        failureLines((log) => backup({ name: "ptt_test_off", url: fx.pg.url("app"), env, log })),
      ),
      timed(failureLines((log) => restore({ latest: true, url: fx.pg.url("never"), env, log }))),
    ]);
    assert.equal(list.result.code, 1, list.result.stderr);
    assertRetriesShown(list.result.stderr);
    assertRetriesShown(back.result);
    assertRetriesShown(rest.result);
    for (const { seconds } of [back, rest])
      assert.ok(seconds < STORAGE_UNREACHABLE_BOUND_S, `${seconds} s`);
    // The CLI also starts a process (well under a second when compiled).
    assert.ok(list.seconds < STORAGE_UNREACHABLE_BOUND_S + 5, `${list.seconds} s`);
  });

  it("an endpoint that never answers: fails within the bound too", async () => {
    const { env } = fx.setup(connectionString(silentPort));
    const t = Date.now();
    const run = await runCli(["list"], env);
    const seconds = (Date.now() - t) / 1000;
    assert.equal(run.code, 1, run.stderr);
    assertRetriesShown(run.stderr);
    assert.ok(seconds < STORAGE_UNREACHABLE_BOUND_S + 5, `${seconds} s`);
  });

  it("retries during a transfer are shown as progress", async () => {
    const store = new Azurite();
    await store.start();
    try {
      const { env } = fx.setup(store.connectionString);
      await backup({ name: "ptt_test_mid", url: fx.pg.url("app"), env, log: quiet });
      const lines = await haltMidDownload(store, (log) =>
        assert.rejects(
          restore({
            name: "ptt_test_mid",
            url: fx.pg.url("mid"),
            env,
            jobs: 1,
            storage: {
              ...fastRetry(3_000),
              retry: { maxTries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 200 },
              blockSize: 64 * 1024,
            },
            log,
          }),
          /downloading ptt_test_mid\.dump failed/,
        ),
      );
      assert.match(
        lines.join("\n"),
        /storage: an attempt at http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/[a-z0-9-]+ failed \([^)]+\); retrying up to 3 attempts/,
      );
    } finally {
      await store.stop();
    }
  });
});
