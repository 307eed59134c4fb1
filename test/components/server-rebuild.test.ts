/**
 * ServerRebuild alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- declared inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import { ServerRebuild, ServerRebuildArgs } from "../../components/server-rebuild";
import { declareAlone, restoredServer, SERVER_SPEC } from "../support/components";
import {
  captureResources,
  isSecretValue,
  managed,
  ofType,
  one,
  plainStrings,
  TYPES,
} from "../support/pulumi-harness";

describe("ServerRebuild", () => {
  const base: Omit<ServerRebuildArgs, "revive" | "create"> = {
    resourceGroupName: "s189t01-ptt-qa-rg",
    location: "uksouth",
    serverName: "s189t01-ptt-qa-pg",
    network: { delegatedSubnetResourceId: "/subnet-id", privateDnsZoneArmResourceId: "/zone-id" },
  };
  const dropped =
    "/subscriptions/s/resourceGroups/s189t01-ptt-qa-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s189t01-ptt-qa-pg";
  const spec = { ...SERVER_SPEC, database: "ptt_qa" };

  it("revive: ReviveDropped under the original name at the UTC point in time, kept on destroy", async () => {
    const { resources, outputs } = await declareAlone(
      () =>
        new ServerRebuild("rebuild", {
          ...base,
          revive: { droppedServerId: dropped, restoreTime: new Date("2024-07-24T08:10:00Z") },
        }),
      (c) => ({ mode: c.mode, fqdn: c.fqdn, hasPassword: c.administratorPassword !== undefined }),
    );
    const { server, i } = restoredServer(resources, {
      serverName: "s189t01-ptt-qa-pg",
      createMode: "ReviveDropped",
      pointInTimeUTC: "2024-07-24T08:10:00Z",
      sourceServerResourceId: dropped,
    });
    assert.equal(i.network.delegatedSubnetResourceId, "/subnet-id");
    assert.equal(server.options.retainOnDelete, true);
    assert.ok(server.options.customTimeouts?.create);
    assert.equal(
      ofType(resources, TYPES.password).length,
      0,
      "a revived server keeps its credentials",
    );
    assert.equal(outputs.mode, "revive");
    assert.equal(outputs.hasPassword, false);
  });

  it("create: a new server from the spec, with a random secret password, kept on destroy", async () => {
    const { resources, outputs } = await declareAlone(
      () => new ServerRebuild("rebuild-create", { ...base, create: spec }),
      (c) => ({ mode: c.mode, password: c.administratorPassword }),
    );
    const server = one(resources, TYPES.server);
    const i = server.inputs as any;
    assert.equal(i.createMode, "Create");
    assert.equal(i.serverName, "s189t01-ptt-qa-pg");
    assert.equal(i.version, "17");
    assert.deepEqual(i.sku, { name: "B_Standard_B2s", tier: "Burstable" });
    assert.equal(i.storage.storageSizeGB, 32);
    assert.equal(i.highAvailability.mode, "Disabled");
    assert.equal(i.backup.backupRetentionDays, 7);
    assert.equal(i.administratorLogin, "psqladmin");
    assert.equal(server.options.retainOnDelete, true);
    assert.ok(server.options.ignoreChanges.includes("administratorLoginPassword"));

    const password = one(resources, TYPES.password);
    assert.ok((password.inputs as any).length >= 32);
    // The password reaches the server only as a secret, and is in no other resource's inputs.
    assert.ok(
      isSecretValue(i.administratorLoginPassword),
      "administratorLoginPassword must be secret",
    );
    const clear = (i.administratorLoginPassword as { value: string }).value;
    for (const r of managed(resources)) {
      assert.ok(
        !plainStrings(r.inputs).some((s) => s.includes(clear)),
        `${r.name} holds the password in clear`,
      );
    }
    assert.equal(outputs.password, "[secret]");
    assert.equal(outputs.mode, "create");

    const database = one(resources, TYPES.database);
    assert.equal((database.inputs as any).databaseName, "ptt_qa");
    assert.equal((database.inputs as any).serverName, "s189t01-ptt-qa-pg");
    assert.equal(database.options.retainOnDelete, true);
  });

  it("refuses both or neither of revive and create (a type error, and at run time for untyped callers)", async () => {
    await assert.rejects(
      // @ts-expect-error neither revive nor create
      captureResources(() => new ServerRebuild("rebuild-neither", base)),
      /exactly one of revive or create/,
    );
    await assert.rejects(
      captureResources(
        () =>
          // @ts-expect-error both revive and create
          new ServerRebuild("rebuild-both", {
            ...base,
            create: spec,
            revive: { droppedServerId: dropped, restoreTime: new Date() },
          }),
      ),
      /exactly one of revive or create/,
    );
  });
});
