/**
 * The data tool's command contract: whatever the overlay builds with `buildArgv`, the CLI's
 * `parseArgv` gives back unchanged, for an example invocation of every command and for the argv
 * of every Job shape the overlay declares.
 */
import * as assert from "node:assert/strict";
import { incidentBackupNames } from "../../contract/backup-names";
import {
  buildArgv,
  COMMAND_NAMES,
  Command,
  COMMANDS,
  DATA_TOOL_ENV,
  Invocation,
  parseArgv,
  UsageError,
} from "../../contract/data-tool";

const roundTrip = (x: Invocation) => parseArgv(buildArgv(x) as string[]);

/** One invocation per command, every flag set (lists with two items). */
const EVERY_FLAG: { [C in Command]: Invocation & { command: C } } = {
  backup: {
    command: "backup",
    options: {
      container: "database-backup",
      dbEnv: "DATABASE_URL",
      dbHost: "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com",
      dbName: "ptt_production",
      jobs: 4,
      name: "ptt_pd_adhoc_2024-07-24",
      verifyReadback: true,
    },
  },
  list: { command: "list", options: { container: "database-backup", json: true } },
  restore: {
    command: "restore",
    options: {
      container: "database-backup",
      dbEnv: "DATABASE_URL",
      dbHost: "s189p01-ptt-pd-pg.postgres.database.azure.com",
      dbName: "ptt_production",
      jobs: 8,
      name: "ptt_pd_2024-07-24-restore-to-ptr",
      latest: true,
      confirm: "s189p01-ptt-pd-pg/ptt_production",
      tempDir: "/work",
      mapMissingRolesTo: "ptt_app",
      json: true,
    },
  },
  verify: {
    command: "verify",
    options: {
      sourceUrl: "postgres://u@live/db",
      sourceEnv: "LIVE_URL",
      sourceHost: "live.example",
      sourceName: "ptt_production",
      targetUrl: "postgres://u@ptr/db",
      targetEnv: "PTR_URL",
      targetHost: "ptr.example",
      targetName: "ptt_production",
      restoreTarget: "2024-07-24T05:59:00Z",
      drill: true,
      schema: ["public", "audit"],
      jobs: 3,
      json: true,
    },
  },
  promote: {
    command: "promote",
    options: {
      fromEnv: "DATABASE_URL",
      fromHost: "ptr.example",
      fromName: "ptt_production",
      toEnv: "DATABASE_URL",
      toHost: "live.example",
      toName: "ptt_production",
      restoreTarget: "2024-07-24T05:59:00Z",
      mode: "tables",
      tables: ["public.a", "public.b"],
      plan: true,
      confirm: "s189p01-ptt-pd-pg/ptt_production",
      incident: "2024-07-24",
      jobs: 2,
      json: true,
    },
  },
};

describe("contract: the data tool's argv, built and parsed", () => {
  it("gives back every command's invocation with every flag set", () => {
    assert.deepEqual(Object.keys(EVERY_FLAG).sort(), [...COMMAND_NAMES].sort());
    for (const command of COMMAND_NAMES) {
      const x = EVERY_FLAG[command];
      // Every key of the contract is exercised, so a new flag needs an example here.
      assert.deepEqual(Object.keys(x.options).sort(), Object.keys(COMMANDS[command]).sort());
      assert.deepEqual(roundTrip(x), { ...x, help: false }, command);
    }
  });

  it("gives back minimal invocations (booleans off, nothing optional)", () => {
    const minimal: Invocation[] = [
      { command: "backup", options: { name: "x" } },
      { command: "list", options: {} },
      { command: "restore", options: { latest: true } },
      { command: "verify", options: {} },
    ];
    for (const x of minimal) assert.deepEqual(roundTrip(x), { ...x, help: false });
    // `false` is not written, so it parses back as absent.
    assert.deepEqual(buildArgv({ command: "list", options: { json: false } }), ["list"]);
  });

  it("parses the argv of each Job shape the overlay declares", () => {
    const names = incidentBackupNames("pd", "2024-07-24");
    const db = DATA_TOOL_ENV.databaseUrl;
    const ptr = "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com";
    const jobs: Record<string, Invocation> = {
      "adhoc backup": { command: "backup", options: { name: names.adhoc, dbEnv: db } },
      validation: {
        command: "verify",
        options: {
          sourceEnv: db,
          targetEnv: db,
          targetHost: ptr,
          restoreTarget: "2024-07-24T05:59:00Z",
        },
      },
      "promotion: back up the PTR": {
        command: "backup",
        options: { name: names.restoredCopy, dbEnv: db, dbHost: ptr },
      },
      "promotion: restore into live": {
        command: "restore",
        options: {
          name: names.restoredCopy,
          dbEnv: db,
          confirm: "s189p01-ptt-pd-pg/ptt_production",
        },
      },
      "restore from storage (latest)": { command: "restore", options: { latest: true, dbEnv: db } },
      "restore from storage (named)": {
        command: "restore",
        options: { name: "ptt_pd_2024-07-23", dbEnv: db },
      },
    };
    for (const [what, x] of Object.entries(jobs)) {
      const argv = buildArgv(x) as string[];
      assert.ok(
        argv.every((a) => typeof a === "string" && a !== ""),
        what,
      );
      assert.deepEqual(parseArgv(argv), { ...x, help: false }, what);
    }
    assert.deepEqual(buildArgv(jobs["adhoc backup"]), [
      "backup",
      "--name",
      "ptt_pd_adhoc_2024-07-24",
      "--db-env",
      "DATABASE_URL",
    ]);
  });

  it("refuses what the builder could never produce", () => {
    for (const argv of [
      [],
      ["rewind"],
      ["list", "--bogus"],
      ["list", "stray"],
      ["backup", "--name", ""],
      ["backup", "--jobs", "0"],
      ["backup", "--jobs", "1000"],
      ["verify", "--jobs", "9"],
      ["verify", "--schema", "public,"],
      ["restore", "--name", "a", "--name", "b"],
      ["restore", "--name", "--latest"],
      ["promote", "--mode", "wholes"],
    ]) {
      assert.throws(() => parseArgv(argv), UsageError, JSON.stringify(argv));
    }
  });
});
