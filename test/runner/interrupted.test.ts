/**
 * The runner after an earlier runner was killed mid-update (a lost terminal, a closed laptop): the
 * leftovers a rerun clears when it is safe (a torn metadata file of a file:// backend, the
 * backend's stale lock, pending creates) and refuses, with the command that resolves them, when
 * it is not. The real kill is e2e/test/runner.test.ts, check 3.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { testDir } from "../support/tmp";
import { EXIT } from "../../contract/data-tool";
import { jobsSucceed, run, start, yes } from "./support/commands";
import { world, World } from "./support/fakes";

describe("runner: after a runner was killed mid-update", function () {
  this.timeout(120_000);
  const deadPid = () => spawnSync("true").pid!;

  it("its stale lock is cleared (the journal shows the update started here, by a process now gone)", async () => {
    const w = world();
    jobsSucceed(w);
    const stack = w.engine.init("production");
    w.journal("production").append({
      command: "start",
      kind: "update-started",
      text: "pg-recovery start: update started",
      data: { pid: deadPid(), host: os.hostname() },
    });
    const r = await run(w, [...start, ...yes]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(
      r.err,
      /The last update \(pg-recovery start, .*\) was interrupted; its lock is cleared/,
    );
    assert.equal(stack.calls[0], "cancel");
    assert.ok(
      w
        .journal("production")
        .read()
        .some((e) => e.kind === "update-abandoned"),
    );
  });

  it("while the runner that started the update still runs, the rerun is refused", async () => {
    const w = world();
    const stack = w.engine.init("production");
    w.journal("production").append({
      command: "start",
      kind: "update-started",
      text: "pg-recovery start: update started",
      data: { pid: process.pid, host: os.hostname() },
    });
    const r = await run(w, [...start, ...yes]);
    assert.equal(r.code, EXIT.failed);
    assert.match(
      r.err,
      new RegExp(`another pg-recovery \\(pid ${process.pid}, start\\) is updating production`),
    );
    assert.deepEqual(stack.calls, []);
  });

  it("pending creates are read back under the ids the program gives them, then the rerun converges", async () => {
    const w = world();
    jobsSucceed(w);
    const stack = w.engine.init("production");
    stack.pending = [
      {
        urn: "urn:pulumi:production::pg-recovery::pg-recovery:index:MaintenanceMode$kubernetes:apps/v1:Deployment::maintenance-page",
        type: "kubernetes:apps/v1:Deployment",
        op: "creating",
        inputs: { metadata: { name: "pgr-maintenance", namespace: "bat-production" } },
      },
      {
        urn: "urn:pulumi:production::pg-recovery::pg-recovery:index:PointInTimeRestore$azure-native:dbforpostgresql:Server::point-in-time-restore-server",
        type: "azure-native:dbforpostgresql:Server",
        op: "creating",
        inputs: { resourceGroupName: "s189p01-ptt-pd-rg", serverName: "s189p01-ptt-pd-pg-ptr" },
      },
    ];
    const r = await run(w, [...start, ...yes]);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(
      r.err,
      /left 2 operation\(s\) pending: creating maintenance-page, creating point-in-time-restore-server/,
    );
    assert.equal(
      stack.calls[0],
      "refresh maintenance-page=bat-production/pgr-maintenance point-in-time-restore-server=/subscriptions/3c033a0c-7a1c-4653-93cb-0f2a9f57a391/resourceGroups/s189p01-ptt-pd-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s189p01-ptt-pd-pg-ptr",
    );
  });

  it("a pending create it cannot place (the GitHub ruleset) is refused with the command that resolves it", async () => {
    const w = world();
    const stack = w.engine.init("production");
    stack.pending = [
      {
        urn: "urn:pulumi:production::pg-recovery::pg-recovery:index:PipelineFreeze$github:index/repositoryRuleset:RepositoryRuleset::freeze-ruleset",
        type: "github:index/repositoryRuleset:RepositoryRuleset",
        op: "creating",
        inputs: {},
      },
    ];
    const r = await run(w, [...start, ...yes]);
    assert.equal(r.code, EXIT.failed);
    assert.match(r.err, /cannot tell where these interrupted creates stand: .*freeze-ruleset/);
    assert.match(r.err, /pulumi refresh --stack production/);
    assert.ok(!stack.calls.includes("up"));
  });

  describe("a file:// backend whose metadata file the kill tore (empty: every pulumi command says EOF)", () => {
    function tornBackend(w: World): { dir: string; torn: string; whole: string } {
      const dir = testDir("pgr-state-");
      const stacks = path.join(dir, ".pulumi", "stacks", "pg-recovery");
      fs.mkdirSync(stacks, { recursive: true });
      fs.writeFileSync(path.join(stacks, "production.json"), "{}");
      const whole = path.join(stacks, "production.json.bak.attrs");
      fs.writeFileSync(whole, '{"user.content_type":"text/plain","md5":"x"}\n');
      const torn = path.join(stacks, "production.json.attrs");
      fs.writeFileSync(torn, "");
      w.engine.stateDir = dir;
      return { dir, torn, whole };
    }
    const killedStart = (w: World, pid: number) =>
      w.journal("production").append({
        command: "start",
        kind: "update-started",
        text: "pg-recovery start: update started",
        data: { pid, host: os.hostname() },
      });

    it("a changing command removes it when the journal shows this machine's runner was killed, says so, and goes on", async () => {
      const w = world();
      jobsSucceed(w);
      const stack = w.engine.init("production");
      const { torn, whole } = tornBackend(w);
      killedStart(w, deadPid());
      const r = await run(w, [...start, ...yes]);
      assert.equal(r.code, EXIT.ok, r.err);
      assert.ok(!fs.existsSync(torn), "the torn file is still there");
      assert.ok(fs.existsSync(whole), "a whole metadata file was removed");
      assert.match(
        r.err,
        /left 1 torn state metadata file\(s\) in .*: \.pulumi\/stacks\/pg-recovery\/production\.json\.attrs; removed/,
      );
      assert.ok(stack.calls.includes("up"));
      const repair = w
        .journal("production")
        .read()
        .find((e) => e.kind === "repair");
      assert.match(repair?.text ?? "", /production\.json\.attrs; removed/);
    });

    it("without that evidence it is refused with the rm that clears it, and nothing is touched", async () => {
      const w = world();
      const stack = w.engine.init("production");
      const { dir, torn } = tornBackend(w);
      const r = await run(w, [...start, ...yes]);
      assert.equal(r.code, EXIT.failed);
      assert.match(r.err, /cannot be read: 1 metadata file\(s\) are empty or cut short/);
      assert.ok(
        r.err.includes(`rm ${path.join(dir, ".pulumi/stacks/pg-recovery/production.json.attrs")}`),
      );
      assert.match(r.err, /Nothing was changed\.$/);
      assert.ok(fs.existsSync(torn));
      assert.deepEqual(stack.calls, []);
    });

    it("while the killed runner's update still runs here, it is refused, not removed", async () => {
      const w = world();
      w.engine.init("production");
      const { torn } = tornBackend(w);
      killedStart(w, process.pid);
      const r = await run(w, [...start, ...yes]);
      assert.equal(r.code, EXIT.failed);
      assert.ok(fs.existsSync(torn));
    });

    it("a read-only command (status) never removes it; it names the changing command that would", async () => {
      const w = world();
      w.engine.init("production");
      const { torn } = tornBackend(w);
      killedStart(w, deadPid());
      const r = await run(w, ["status", "--stack", "production"]);
      assert.equal(r.code, EXIT.failed);
      assert.match(r.err, /A changing command, e\.g\. pg-recovery resume, removes them itself/);
      assert.ok(fs.existsSync(torn));
    });
  });
});
