/**
 * Which Pulumi CLI the runner drives (runner/pulumi-cli.ts): the resolution order, with fake
 * `pulumi` scripts that print a version (the Automation API's own check runs them), a fake
 * PULUMI_HOME and an injected installer; and what the operator sees when there is none.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EXIT } from "../../contract/data-tool";
import { EngineUnavailable } from "../../runner/io";
import { defaultResolveEnv, resolvePulumiCli, ResolveEnv } from "../../runner/pulumi-cli";
import { run } from "./support/commands";
import { testIo, world } from "./support/fakes";

const SDK = "3.270.0";

describe("runner: the Pulumi CLI, resolved", function () {
  this.timeout(30_000);
  let tmp: string;
  let real: ResolveEnv;
  const logs: string[] = [];
  let installs: { root: string; version: string }[];

  /** A fake CLI at dir/bin/pulumi printing `version`. */
  function fakeCli(dir: string, version: string): string {
    const file = path.join(tmp, dir, "bin", "pulumi");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/bin/sh\necho v${version}\n`, { mode: 0o755 });
    return file;
  }

  function env(over: Partial<ResolveEnv> & { vars?: NodeJS.ProcessEnv }): ResolveEnv {
    return {
      ...real,
      env: { PULUMI_HOME: path.join(tmp, "home"), PATH: "", ...over.vars },
      sdkVersion: SDK,
      log: (l) => logs.push(l),
      install: async (root, version) => {
        installs.push({ root, version });
        throw new Error("get.pulumi.com is unreachable (ENOTFOUND)");
      },
      installTimeoutMs: 2_000,
      ...over,
    };
  }

  before(async () => {
    real = await defaultResolveEnv(undefined, () => undefined);
  });
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-cli-"));
    logs.length = 0;
    installs = [];
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("--pulumi first, then PULUMI_CLI, over one on PATH; says which and where from", async () => {
    const flag = fakeCli("flag", "3.200.0");
    const named = fakeCli("named", "3.201.0");
    const onPath = fakeCli("path", "3.202.0");
    const vars = { PULUMI_CLI: named, PATH: path.dirname(onPath) };
    const a = await resolvePulumiCli(env({ flag, vars }));
    assert.equal(a.command.command, flag);
    assert.equal(a.from, "from --pulumi");
    const b = await resolvePulumiCli(env({ vars }));
    assert.equal(b.command.command, named);
    assert.equal(String(b.command.version), "3.201.0");
    assert.match(
      logs.join("\n"),
      new RegExp(`^Pulumi CLI: ${named} \\(v3.201.0, from PULUMI_CLI\\)$`, "m"),
    );
  });

  it("a named CLI that does not run is refused, with no fallback to another", async () => {
    const onPath = fakeCli("path", "3.202.0");
    const vars = {
      PULUMI_CLI: path.join(tmp, "nowhere", "bin", "pulumi"),
      PATH: path.dirname(onPath),
    };
    await assert.rejects(resolvePulumiCli(env({ vars })), (e: Error) => {
      assert.ok(e instanceof EngineUnavailable);
      assert.match(e.message, /^the Pulumi CLI named by PULUMI_CLI \(.*nowhere.*\) is not usable/);
      return true;
    });
    assert.deepEqual(installs, []);
  });

  it("PATH's pulumi when it meets the SDK's minimum; an older one is passed over", async () => {
    const good = fakeCli("good", "3.150.0");
    const used = await resolvePulumiCli(
      env({ vars: { PATH: `/nonexistent:${path.dirname(good)}` } }),
    );
    assert.equal(used.command.command, good);
    assert.equal(used.from, "on PATH");

    const old = fakeCli("old", "2.0.0");
    const installed = fakeCli(path.join("home", "versions", SDK), SDK);
    const next = await resolvePulumiCli(env({ vars: { PATH: path.dirname(old) } }));
    assert.equal(next.command.command, installed);
    assert.equal(next.from, "installed earlier by the Automation API");
    assert.deepEqual(installs, []);
  });

  it("PULUMI_HOME's versions/<sdk version> when nothing is on PATH", async () => {
    const installed = fakeCli(path.join("home", "versions", SDK), SDK);
    const used = await resolvePulumiCli(env({}));
    assert.equal(used.command.command, installed);
  });

  it("else installs the SDK's version under PULUMI_HOME with the installer, and uses it", async () => {
    const used = await resolvePulumiCli(
      env({
        install: async (root, version) => {
          installs.push({ root, version });
          fakeCli(path.relative(tmp, root), version);
        },
      }),
    );
    const root = path.join(tmp, "home", "versions", SDK);
    assert.deepEqual(installs, [{ root, version: SDK }]);
    assert.equal(used.command.command, path.join(root, "bin", "pulumi"));
    assert.match(used.from, /installed now/);
  });

  it("offline: the install fails fast (bounded), and the message says every way to fix it", async () => {
    const hangs = () => new Promise<void>(() => undefined);
    await assert.rejects(
      resolvePulumiCli(env({ install: hangs, installTimeoutMs: 200 })),
      (e: Error) => {
        assert.ok(e instanceof EngineUnavailable);
        const [first, ...rest] = e.message.split("\n");
        assert.match(
          first,
          /^no usable Pulumi CLI \(none on PATH; none in .*versions\/3\.270\.0; installing v3\.270\.0 failed: no answer within/,
        );
        const fix = rest.join("\n");
        assert.match(fix, /bash e2e\/toolchain\.sh --only pulumi/);
        assert.match(fix, /export PULUMI_CLI="\$\(bash e2e\/toolchain\.sh --print-path\)\/pulumi"/);
        assert.match(fix, /--install-root .*versions\/3\.270\.0/);
        return true;
      },
    );
    // (Without the bound this test would hang until mocha's timeout.)
  });

  it("through the runner: one clear message, exit 1, no stack trace; nothing was opened", async () => {
    const w = world();
    const io = testIo();
    const deps = {
      ...w.deps(io),
      engine: async () => {
        await resolvePulumiCli(env({}));
        throw new Error("unreachable: the resolution refuses first");
      },
    };
    const r = await run(w, ["status", "--stack", "qa"], io, deps);
    assert.equal(r.code, EXIT.failed);
    assert.match(r.err, /^no usable Pulumi CLI/m);
    assert.match(r.err, /e2e\/toolchain\.sh --only pulumi/);
    assert.doesNotMatch(r.err, /^\s+at /m);
    assert.equal(r.out, "");
  });
});

describe("runner: a backend it cannot use, said with the fix", () => {
  it("not logged in, or out of reach: an expected condition; anything else stays the engine's error", async () => {
    const { backendUnavailable } = await import("../../runner/automation");
    const { EngineError } = await import("../../runner/engine");
    const login = backendUnavailable(
      new EngineError(
        "pulumi stack ls",
        ["PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"],
        "",
      ),
      "the backend of `pulumi whoami`",
    );
    assert.ok(login instanceof EngineUnavailable);
    assert.match(login.message, /^not logged in to a Pulumi state backend .*`pulumi login`/);
    const away = backendUnavailable(
      new EngineError("pulumi stack ls", ["dial tcp: lookup api.pulumi.com: no such host"], ""),
      "https://api.pulumi.com",
    );
    assert.ok(away instanceof EngineUnavailable);
    assert.match(away.message, /^the state backend https:\/\/api\.pulumi\.com cannot be reached/);
    const other = new EngineError("pulumi stack ls", ["something else"], "");
    assert.equal(backendUnavailable(other, "x"), other);
  });
});
