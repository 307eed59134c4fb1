/**
 * data jobs alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import {
  AdhocBackup,
  DataJobCommon,
  Promotion,
  RestoreFromStorage,
  RestoreValidation,
} from "../../components/data-jobs";
import { DeclaredResource } from "../../offline/offline";
import { declareAlone } from "../support/components";
import { expectedArgv } from "../support/data-tool-argv";
import {
  isSecretValue,
  jobSteps,
  ofType,
  managed,
  one,
  plainStrings,
  TYPES,
} from "../support/pulumi-harness";

describe("data jobs", () => {
  const common = (jobName: string): DataJobCommon => ({
    namespace: "bat-qa",
    image: "ghcr.io/dfe-digital/pg-recovery-data:0.1.0",
    jobName,
    databaseUrl: { name: "publish-qa-app-secret", key: "DATABASE_URL" },
    storageConnectionString: { name: "pgr-storage", key: "connection-string" },
    container: "database-backup",
  });
  /** A Job that reads the PTR at the restore target, beside live. */
  const fromPtr = (jobName: string) => ({
    ...common(jobName),
    restoredHost: PTR_FQDN,
    restoreTimeUtc: "2024-07-24T05:59:00Z",
  });
  /** RestoreFromStorage takes no app DATABASE_URL: it writes its own target secret. */
  const withoutDatabaseUrl = (jobName: string): Omit<DataJobCommon, "databaseUrl"> => {
    const c = common(jobName);
    return Object.fromEntries(Object.entries(c).filter(([k]) => k !== "databaseUrl")) as Omit<
      DataJobCommon,
      "databaseUrl"
    >;
  };
  const PTR_FQDN = "s189t01-ptt-qa-pg-ptr.postgres.database.azure.com";

  /** Common Job shape: no retries, secrets only by reference, no credentials in clear. */
  function assertSafeJob(job: DeclaredResource, databaseSecret = "publish-qa-app-secret") {
    const i = job.inputs as any;
    assert.equal(i.metadata.namespace, "bat-qa");
    assert.equal(i.spec.backoffLimit, 0, "a data move is never retried blindly");
    assert.equal(i.spec.template.spec.restartPolicy, "Never");
    for (const step of jobSteps(job)) {
      assert.equal(step.image ?? (step as any).image, "ghcr.io/dfe-digital/pg-recovery-data:0.1.0");
      const env = Object.fromEntries(step.env.map((e: any) => [e.name, e]));
      assert.deepEqual(env.DATABASE_URL.valueFrom, {
        secretKeyRef: { name: databaseSecret, key: "DATABASE_URL" },
      });
      assert.deepEqual(env.AZURE_STORAGE_CONNECTION_STRING.valueFrom, {
        secretKeyRef: { name: "pgr-storage", key: "connection-string" },
      });
      for (const e of step.env) {
        if (e.value === undefined) {
          assert.ok(e.valueFrom?.secretKeyRef, `${e.name} must come from a secretKeyRef`);
        } else {
          assert.doesNotMatch(
            String(e.value),
            /postgres(ql)?:\/\/|AccountKey=|password/i,
            `${e.name}`,
          );
        }
      }
      for (const arg of step.args) {
        assert.doesNotMatch(
          String(arg),
          /postgres(ql)?:\/\/|AccountKey=|password=/i,
          `argument ${arg}`,
        );
      }
    }
  }

  it("AdhocBackup: `backup --name ptt_<short>_adhoc_<date> --db-env DATABASE_URL`", async () => {
    const { resources } = await declareAlone(
      () =>
        new AdhocBackup("adhoc-backup", {
          ...common("pgr-2024-07-24-adhoc-backup"),
          backupName: "ptt_qa_adhoc_2024-07-24",
        }),
    );
    const job = one(resources, TYPES.job);
    assert.equal((job.inputs as any).metadata.name, "pgr-2024-07-24-adhoc-backup");
    assert.deepEqual(
      jobSteps(job).map((s) => s.args),
      [expectedArgv.adhocBackup("ptt_qa_adhoc_2024-07-24")],
    );
    assertSafeJob(job);
  });

  it("RestoreValidation: `verify` the PTR against live and the promotion plan, side by side, without blocking up", async () => {
    const { resources } = await declareAlone(
      () =>
        new RestoreValidation("validation", {
          ...fromPtr("pgr-2024-07-24-validation"),
        }),
    );
    const job = one(resources, TYPES.job);
    const spec = (job.inputs as any).spec.template.spec;
    assert.deepEqual(spec.initContainers, []);
    assert.deepEqual(
      jobSteps(job).map((s) => [s.name, ...s.args]),
      [
        ["verify", ...expectedArgv.verify(PTR_FQDN, "2024-07-24T05:59:00Z")],
        ["promotion-plan", ...expectedArgv.promotionPlan(PTR_FQDN, "2024-07-24T05:59:00Z")],
      ],
    );
    assert.equal((job.inputs as any).metadata.annotations["pulumi.com/skipAwait"], "true");
    assertSafeJob(job);
  });

  for (const promotion of [
    { mode: "whole" as const },
    { mode: "tables" as const, tables: ["public.courses"] },
    { mode: "merge" as const, tables: ["public.courses", "public.sites"] },
  ]) {
    it(`Promotion (${promotion.mode}): promote from the PTR into live with --confirm; archival backup apart`, async () => {
      const { resources } = await declareAlone(
        () =>
          new Promotion("promotion", {
            ...fromPtr("pgr-2024-07-24-promotion"),
            promotion,
            confirmTarget: "s189t01-ptt-qa-pg/ptt_qa",
            incident: "2024-07-24",
            backupName: "ptt_qa_2024-07-24-restore-to-ptr",
          }),
      );
      const jobs = ofType(resources, TYPES.job);
      assert.deepEqual(jobs.map((j) => j.name).sort(), ["promotion-archive-job", "promotion-job"]);
      const promote = one(resources, TYPES.job, "promotion-job");
      assert.deepEqual(
        jobSteps(promote).map((s) => s.args),
        [
          expectedArgv.promote({
            ptrHost: PTR_FQDN,
            restoreTarget: "2024-07-24T05:59:00Z",
            mode: promotion.mode,
            tables: promotion.mode !== "whole" ? promotion.tables : [],
            confirm: "s189t01-ptt-qa-pg/ptt_qa",
            incident: "2024-07-24",
          }),
        ],
      );
      assert.equal((promote.inputs as any).metadata.annotations, undefined, "up waits for it");
      const archive = one(resources, TYPES.job, "promotion-archive-job");
      assert.deepEqual(
        jobSteps(archive).map((s) => s.args),
        [expectedArgv.archivalBackup("ptt_qa_2024-07-24-restore-to-ptr", PTR_FQDN)],
      );
      assert.equal((archive.inputs as any).metadata.annotations["pulumi.com/skipAwait"], "true");
      for (const job of jobs) assertSafeJob(job);
    });
  }

  it("RestoreFromStorage: the new server's URL only in a Secret; `restore --latest` by default", async () => {
    const url =
      "postgres://psqladmin:s3cr3t-pw@s189t01-ptt-qa-pg.postgres.database.azure.com:5432/ptt_qa";
    const { resources } = await declareAlone(() => {
      const rest = withoutDatabaseUrl("pgr-2024-07-24-restore-from-storage");
      return new RestoreFromStorage("restore-from-storage", {
        ...rest,
        targetDatabaseUrl: url,
        targetSecretName: "pgr-2024-07-24-rebuilt-db",
      });
    });
    const secret = one(resources, TYPES.secret);
    const si = secret.inputs as any;
    assert.equal(si.metadata.name, "pgr-2024-07-24-rebuilt-db");
    assert.ok(
      isSecretValue(si.stringData),
      "the URL carries the admin password: it must be secret",
    );
    assert.equal((si.stringData as any).value.DATABASE_URL, url);

    const job = one(resources, TYPES.job);
    assert.deepEqual(
      jobSteps(job).map((s) => s.args),
      [expectedArgv.restore()],
    );
    assertSafeJob(job, "pgr-2024-07-24-rebuilt-db");
    for (const r of managed(resources)) {
      assert.ok(
        !plainStrings(r.inputs).some((s) => s.includes("s3cr3t-pw")),
        `${r.name} holds the password in clear`,
      );
    }
  });

  it("RestoreFromStorage: a named backup instead of --latest", async () => {
    const { resources } = await declareAlone(() => {
      const rest = withoutDatabaseUrl("pgr-named");
      return new RestoreFromStorage("restore-named", {
        ...rest,
        backupName: "ptt_qa_2024-07-23",
        targetDatabaseUrl: "postgres://x",
        targetSecretName: "pgr-named-db",
      });
    });
    assert.deepEqual(
      jobSteps(one(resources, TYPES.job)).map((s) => s.args),
      [expectedArgv.restore("ptt_qa_2024-07-23")],
    );
  });
});
