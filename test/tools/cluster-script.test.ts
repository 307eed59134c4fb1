/**
 * e2e/cluster.sh without a cluster: the ports `up` would listen on (outside the kernel's
 * ephemeral range, never one a socket holds, listening or connected) and the state directories
 * it refuses (the clone and anything in it, not a sibling that merely shares its name's prefix).
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
const ROOT = path.join(__dirname, "..", "..");

const SCRIPT = path.join(ROOT, "e2e", "cluster.sh");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cluster(args: string[], env: NodeJS.ProcessEnv, script = SCRIPT): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      [script, ...args],
      { env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

const parsePorts = (stdout: string): Record<string, number> =>
  Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((l) => l.split("="))
      .map(([k, v]) => [k, Number(v)]),
  );

function machineRange(): [number, number] {
  const [lo, hi] = fs
    .readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  return [lo, hi];
}

/** A listening socket, and a connected one bound to a chosen local port (an outbound one). */
async function holdPorts(listenOn: number, connectFrom: number): Promise<() => void> {
  const server = net.createServer((s) => s.on("error", () => undefined));
  await new Promise<void>((resolve, reject) =>
    server.once("error", reject).listen(listenOn, "127.0.0.1", resolve),
  );
  const client = net.connect({ port: listenOn, host: "127.0.0.1", localPort: connectFrom });
  await new Promise<void>((resolve, reject) =>
    client.once("error", reject).once("connect", resolve),
  );
  return () => {
    client.destroy();
    server.close();
  };
}

describe("e2e/cluster.sh ports and state directory (no cluster)", function () {
  this.timeout(30_000);
  const unset = {
    PG_RECOVERY_E2E_ETCD_PORT: "",
    PG_RECOVERY_E2E_ETCD_PEER_PORT: "",
    PG_RECOVERY_E2E_APISERVER_PORT: "",
    PG_RECOVERY_E2E_KWOK_PORT: "",
  };

  const ranges: [string, [number, number]][] = [
    ["this machine's ephemeral range", machineRange()],
    ["a range with a lower low end (10000-65000)", [10000, 65000]],
  ];
  for (const [what, [lo, hi]] of ranges) {
    it(`picks four distinct ports outside ${what}`, async () => {
      const r = await cluster(["ports"], {
        ...unset,
        PG_RECOVERY_E2E_EPHEMERAL_RANGE: `${lo} ${hi}`,
      });
      assert.equal(r.code, 0, r.stderr);
      const ports = Object.values(parsePorts(r.stdout));
      assert.equal(ports.length, 4);
      assert.equal(new Set(ports).size, 4, r.stdout);
      for (const p of ports) assert.ok(p > 1024 && (p < lo || p > hi), `${p} in ${lo}-${hi}`);
    });
  }

  it("never picks a port a socket holds, listening or as an outbound connection's local port", async () => {
    const first = parsePorts((await cluster(["ports"], unset)).stdout);
    const release = await holdPorts(first.APISERVER_PORT, first.ETCD_PEER_PORT);
    try {
      const r = await cluster(["ports"], unset);
      assert.equal(r.code, 0, r.stderr);
      const again = parsePorts(r.stdout);
      const [lo, hi] = machineRange();
      assert.notEqual(again.APISERVER_PORT, first.APISERVER_PORT, "a listening port was picked");
      assert.notEqual(again.ETCD_PEER_PORT, first.ETCD_PEER_PORT, "a connected port was picked");
      for (const p of Object.values(again)) assert.ok(p < lo || p > hi, `${p} is ephemeral`);
    } finally {
      release();
    }
  });

  it("refuses a port given by env that a socket holds, naming the variable", async () => {
    const free = parsePorts((await cluster(["ports"], unset)).stdout);
    const release = await holdPorts(free.KWOK_PORT, free.ETCD_PORT);
    try {
      const r = await cluster(["ports"], {
        ...unset,
        PG_RECOVERY_E2E_KWOK_PORT: `${free.KWOK_PORT}`,
      });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`127\\.0\\.0\\.1:${free.KWOK_PORT} \\(PG_RECOVERY_E2E_KWOK_PORT\\) is in use`),
      );
    } finally {
      release();
    }
  });

  describe("state directory", () => {
    // A clone at <tmp>/repo with the script in it, as a fresh clone has it.
    let tmp: string;
    let script: string;
    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-cluster-"));
      fs.mkdirSync(path.join(tmp, "repo", "e2e"), { recursive: true });
      for (const f of ["cluster.sh", "versions.env"]) {
        fs.copyFileSync(path.join(ROOT, "e2e", f), path.join(tmp, "repo", "e2e", f));
      }
      script = path.join(tmp, "repo", "e2e", "cluster.sh");
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("accepts a sibling of the clone whose name starts with the clone's (<clone>-cluster)", async () => {
      const r = await cluster(
        ["status"],
        { PG_RECOVERY_E2E_DIR: path.join(tmp, "repo-cluster") },
        script,
      );
      assert.doesNotMatch(r.stderr, /not a throw-away directory/);
      assert.match(r.stderr, /etcd: not running/);
      assert.equal(r.code, 3); // status: nothing runs there
    });

    for (const dir of ["repo", "repo/cluster-state", "repo/e2e/.."]) {
      it(`refuses the clone or a directory inside it (${dir})`, async () => {
        const r = await cluster(["status"], { PG_RECOVERY_E2E_DIR: path.join(tmp, dir) }, script);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /is not a throw-away directory/);
      });
    }
  });
});
