/**
 * The incident record after a whole incident (run against the real program under mocks): the
 * timeline in UTC and Europe/London, who ran each command, RPO and RTO, job outcomes, backups,
 * servers kept; and never a secret, even when secrets are planted where they could leak from.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../runner/cli";
import { buildRecord, durationText, renderMarkdown } from "../../runner/record";
import { redact, redactText } from "../../runner/redact";
import { LIVE, start, yes } from "./support/commands";
import { testIo, world, WHO } from "./support/fakes";
import { testDir } from "../support/tmp";

const SECRETS = {
  dbPassword: "S3cretPassw0rd",
  accountKey: "c2VjcmV0a2V5MTIzNDU2Nzg5MA==",
  githubToken: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
  sas: "sv=2024-08-04&ss=b&srt=sco&sp=rl&sig=Zm9vYmFyYmF6cXV4MTIzNDU2",
  clientSecret: "Xy7~secret~client~value",
};

describe("runner: the incident record", function () {
  this.timeout(120_000);
  let clock = new Date("2026-11-25T07:20:00Z");
  const w = world(() => clock);
  const out = testDir("pgr-record-");
  let markdown = "";
  let json = "";

  const run = async (argv: string[]) => {
    const io = testIo({ now: () => clock });
    const code = await main(argv, w.deps(io));
    assert.equal(code, 0, io.printed());
    return io;
  };

  before(async () => {
    const date = "2026-11-25";
    const stack = w.engine.init("production");
    // Planted where a careless hand could leave them: a token in clear config, a password in a
    // URL and a storage key in job logs, a SAS token in an output.
    stack.configMap["github:token"] = { value: SECRETS.githubToken, secret: false };
    stack.configMap["azure-native:clientSecret"] = { value: SECRETS.clientSecret, secret: true };
    w.cluster.setJob(
      `pgr-${date}-adhoc-backup`,
      {
        state: "succeeded",
        containers: [{ name: "backup", exitCode: 0 }],
        startedAt: "2026-11-25T07:21:00Z",
        finishedAt: "2026-11-25T07:24:30Z",
      },
      {
        backup: `connecting to postgres://app:${SECRETS.dbPassword}@live:5432/ptt\nstorage DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${SECRETS.accountKey};EndpointSuffix=core.windows.net`,
      },
    );
    w.cluster.setJob(
      `pgr-${date}-validation`,
      {
        state: "failed",
        containers: [
          { name: "verify", exitCode: 1 },
          { name: "promotion-plan", exitCode: 0 },
        ],
      },
      {
        verify: `public.courses differs (url https://acct.blob.core.windows.net/c?${SECRETS.sas})`,
        "promotion-plan": "merge public.courses: re-insert 107 rows",
      },
    );
    w.cluster.setJob(
      `pgr-${date}-promotion`,
      { state: "succeeded", containers: [{ name: "promote", exitCode: 0 }] },
      { promote: "complete" },
    );
    w.cluster.setJob(`pgr-${date}-promotion-archive`, { state: "succeeded", containers: [] });

    await run([...start, "--noticed-at", "2026-11-25T08:10:00+01:00", ...yes]);
    clock = new Date("2026-11-25T08:05:00Z");
    await run([
      ...["promote", "--stack", "production", "--mode", "merge", "--tables", "public.courses"],
      ...["--confirm", LIVE, ...yes],
    ]);
    clock = new Date("2026-11-25T08:40:00Z");
    await run(["resume", "--stack", "production", ...yes]);
    clock = new Date("2026-11-25T09:30:00Z");
    await run(["finish", "--stack", "production", ...yes]);
    clock = new Date("2026-11-25T09:35:00Z");
    const io = await run(["record", "--stack", "production", "--out", out]);
    assert.match(io.stdout.join("\n"), /pg-recovery-production-2026-11-25\.md/);
    markdown = fs.readFileSync(path.join(out, "pg-recovery-production-2026-11-25.md"), "utf8");
    json = fs.readFileSync(path.join(out, "pg-recovery-production-2026-11-25.json"), "utf8");
  });

  it("never holds a secret, in either file", () => {
    for (const [what, secret] of Object.entries(SECRETS)) {
      assert.ok(!markdown.includes(secret), `the Markdown holds the ${what}`);
      assert.ok(!json.includes(secret), `the JSON holds the ${what}`);
    }
    const journal = fs.readFileSync(w.journal("production").file, "utf8");
    for (const [what, secret] of Object.entries(SECRETS)) {
      assert.ok(!journal.includes(secret), `the journal holds the ${what}`);
    }
    assert.match(markdown, /postgres:\/\/app:\[secret\]@live/);
    assert.match(json, /"github:token": "\[secret\]"/);
  });

  it("summary: restore target, noticed as typed, RPO and RTO", () => {
    const r = JSON.parse(json);
    assert.equal(r.state, "finished");
    assert.equal(r.restoreTarget.utc, "2026-11-25T05:59:00Z");
    assert.equal(r.noticedAt.asTyped, "2026-11-25T08:10:00+01:00");
    assert.match(
      r.rpo,
      /^1h 11m 00s: from the restore target to when the corruption was noticed \(as typed\); promotion mode merge: nothing is lost/,
    );
    assert.match(r.rto, /^1h 20m 00s: from the first command to the app back/);
    assert.equal(r.firstCommand.utc, "2026-11-25T07:20:00Z");
    assert.equal(r.appBack.utc, "2026-11-25T08:40:00Z");
    assert.equal(r.closed.kind, "finished");
  });

  it("timeline: every step with UTC and Europe/London, and who ran it", () => {
    const r = JSON.parse(json) as {
      timeline: { utc: string; london: string; who: string; event: string }[];
    };
    const events = r.timeline.map((t) => t.event);
    for (const expected of [
      /^pg-recovery start corrupted \(noticed/,
      /^confirmed/,
      /^update done/,
      /\[ad-hoc backup of live\]: succeeded in 3m30s/,
      /^pg-recovery promote merge/,
      /\[promotion into live\]: succeeded/,
      /^pg-recovery resume/,
      /app's replicas restored/,
      /^destroy done/,
      /^finished/,
    ]) {
      assert.ok(
        events.some((e) => expected.test(e)),
        `no ${expected} in ${events.join(" | ")}`,
      );
    }
    assert.ok(r.timeline.every((t) => /Z$/.test(t.utc) && /Europe\/London$/.test(t.london)));
    assert.ok(
      r.timeline.filter((t) => /^pg-recovery/.test(t.event)).every((t) => t.who === WHO.name),
    );
    assert.match(
      markdown,
      /\| 2026-11-25T07:20:00Z \| 2026-11-25 07:20:00 GMT \(UTC\+00:00\) Europe\/London \| Ada Operator \| pg-recovery start corrupted/,
    );
    assert.match(
      markdown,
      /\*\*Ada Operator\*\*: start, promote, resume, finish \(git Ada Operator <ada@example\.org>; cloud ada@example\.org/,
    );
  });

  it("config, previews, jobs and reports, backups written, servers kept", () => {
    const r = JSON.parse(json);
    assert.equal(r.config["pg-recovery:restoreTime"], "2026-11-25T06:59:00+01:00");
    assert.equal(r.config["pg-recovery:promotionMode"], "merge");
    assert.equal(r.environment.liveServer, "s189p01-ptt-pd-pg");
    assert.deepEqual(
      r.previews.map((p: { command: string }) => p.command),
      ["start", "promote", "resume", "finish"],
    );
    assert.ok(
      r.previews[0].lines.some((l: string) =>
        /Corrupted 3\. Point-in-time restore: new server s189p01-ptt-pd-pg-ptr/.test(l),
      ),
    );
    assert.deepEqual(
      r.jobs.map((j: { role: string; state: string }) => `${j.role} ${j.state}`).sort(),
      [
        "adhoc-backup succeeded",
        "promotion succeeded",
        "promotion-archive succeeded",
        "validation failed",
      ],
    );
    assert.deepEqual(
      r.reports.map((x: { title: string }) => x.title),
      [
        "Ad-hoc backup (the backup Job's log)",
        "Validation report (verify: the PTR against live)",
        "Promotion plan (what each mode would write and lose)",
        "Promotion result (the promote Job's log: what it wrote and kept)",
        "Archival backup of the PTR (its Job's log)",
      ],
    );
    assert.deepEqual(
      r.backups.map((b: { name: string; state: string }) => `${b.name} ${b.state}`),
      ["ptt_pd_adhoc_2026-11-25 succeeded", "ptt_pd_2026-11-25-restore-to-ptr succeeded"],
    );
    assert.match(r.serversKept[0], /^s189p01-ptt-pd-pg-ptr \(the point-in-time restore/);
    assert.match(markdown, /## Servers kept\n\n- s189p01-ptt-pd-pg-ptr/);
  });

  it("from the backend's history alone (another machine: no journal), the timeline and RPO still come through", async () => {
    const stack = w.engine.stacksByName.get("production")!;
    const g = {
      stack: "production",
      backend: "file:///fake-backend",
      journalFile: "/nowhere",
      config: await stack.config(),
      scenario: "none",
      appliedScenario: "none",
      pending: [],
      resources: [],
      outputs: {},
      history: await stack.history(),
      journal: [],
      jobs: [],
      notes: ["no journal on this machine"],
    };
    const r = buildRecord(g, new Date("2026-11-26T00:00:00Z"), WHO);
    assert.equal(r.state, "finished");
    assert.equal(r.noticedAt?.asTyped, "2026-11-25T08:10:00+01:00");
    assert.match(r.rpo, /^1h 11m 00s/);
    assert.match(r.rto, /^1h 20m 00s/);
    assert.deepEqual(
      r.people.map((p) => p.name),
      ["Ada Operator"],
    );
    assert.ok(r.timeline.length >= 4 && r.timeline.every((t) => t.source === "history"));
    assert.ok(r.gaps.some((g) => /no Job outcomes known/.test(g)));
    assert.ok(!renderMarkdown(r).includes(SECRETS.githubToken));
  });
});

describe("runner: redaction, the last line of defence", () => {
  it("masks credentials in text and values under secret-like keys, keeps the rest", () => {
    assert.equal(redactText("postgres://u:p4ss@h:5432/d ok"), "postgres://u:[secret]@h:5432/d ok");
    assert.equal(
      redactText("AccountName=a;AccountKey=abc==;Suffix=x"),
      "AccountName=a;AccountKey=[secret];Suffix=x",
    );
    assert.equal(
      redactText("https://a.blob/c?sv=1&sig=abc%2F&se=2"),
      "https://a.blob/c?sv=[secret]&sig=[secret]&se=[secret]",
    );
    assert.equal(redactText("password=hunter2 user=ada"), "password=[secret] user=ada");
    assert.equal(redactText(`token ${SECRETS.githubToken}`), "token [secret]");
    assert.deepEqual(
      redact({
        administratorPassword: "x",
        nested: { connectionString: "y", name: "ptt" },
        keptOnDestroy: true,
        replicas: 12,
      }),
      {
        administratorPassword: "[secret]",
        nested: { connectionString: "[secret]", name: "ptt" },
        keptOnDestroy: true,
        replicas: 12,
      },
    );
  });

  it("durations read as an operator says them", () => {
    assert.equal(durationText(4_260_000), "1h 11m 00s");
    assert.equal(durationText(210_000), "3m 30s");
    assert.equal(durationText(9_000), "9s");
  });
});
