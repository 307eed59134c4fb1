/**
 * PointInTimeRestore alone (captureResources under the offline harness): what it declares, with which
 * inputs and which resource options.
 */
import * as assert from "node:assert/strict";
import { PointInTimeRestore, PointInTimeRestoreArgs } from "../../components/point-in-time-restore";
import { parseRestoreTime } from "../../contract/time";
import { declareAlone, restoredServer } from "../support/components";
import { managed, one, TYPES } from "../support/pulumi-harness";

describe("PointInTimeRestore", () => {
  const network = {
    delegatedSubnetResourceId:
      "/subscriptions/s/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/postgres-snet",
    privateDnsZoneArmResourceId:
      "/subscriptions/s/resourceGroups/dns-rg/providers/Microsoft.Network/privateDnsZones/test.internal.postgres.database.azure.com",
  };
  const source =
    "/subscriptions/s/resourceGroups/s189t01-ptt-qa-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s189t01-ptt-qa-pg";
  const restoreAt = (text: string) => {
    const parsed = parseRestoreTime("t", text);
    assert.ok(parsed.ok);
    return parsed.utc;
  };
  const ptr = (name: string, extra: Partial<PointInTimeRestoreArgs> = {}) =>
    declareAlone(
      () =>
        new PointInTimeRestore(name, {
          resourceGroupName: "s189t01-ptt-qa-rg",
          location: "uksouth",
          sourceServerId: source,
          serverName: "s189t01-ptt-qa-pg-ptr",
          // An offset input: BST wall-clock time.
          restoreTime: restoreAt("2024-07-24T06:59:00+01:00"),
          network,
          database: "ptt_qa",
          namespace: "bat-qa",
          ...extra,
        }),
      (c) => ({
        fqdn: c.fqdn,
        utc: c.restoreTimeUtc,
        london: c.restoreTimeLondon,
        connect: c.connectHint,
      }),
    );

  it("declares a NEW server restored to the UTC instant, in the private network", async () => {
    const { resources } = await ptr("ptr");
    const { i } = restoredServer(resources, {
      serverName: "s189t01-ptt-qa-pg-ptr",
      createMode: "PointInTimeRestore",
      pointInTimeUTC: "2024-07-24T05:59:00Z",
      sourceServerResourceId: source,
    });
    assert.equal(i.resourceGroupName, "s189t01-ptt-qa-rg");
    assert.equal(i.location, "uksouth");
    assert.equal(i.network.delegatedSubnetResourceId, network.delegatedSubnetResourceId);
    assert.equal(i.network.privateDnsZoneArmResourceId, network.privateDnsZoneArmResourceId);
    assert.deepEqual(
      managed(resources).map((r) => r.type),
      [TYPES.server],
    );
  });

  it("waits long enough, ignores create-only inputs, and is kept on destroy by default", async () => {
    const { resources } = await ptr("ptr-opts");
    const o = one(resources, TYPES.server).options;
    assert.ok(
      o.customTimeouts?.create,
      "a restore takes minutes to hours: create timeout must be set",
    );
    assert.equal(o.customTimeouts?.create, "6h");
    for (const key of ["createMode", "sourceServerResourceId", "pointInTimeUTC"]) {
      assert.ok(o.ignoreChanges.includes(key), `ignoreChanges lacks ${key}`);
    }
    assert.equal(o.retainOnDelete, true);
  });

  it("is deleted on destroy when asked, with a custom create timeout", async () => {
    const { resources } = await ptr("ptr-drop", { retainOnDelete: false, createTimeout: "3h" });
    const o = one(resources, TYPES.server).options;
    assert.equal(o.retainOnDelete, false);
    assert.equal(o.customTimeouts?.create, "3h");
  });

  it("outputs the restore time in UTC and London, the FQDN and how to connect", async () => {
    const { outputs } = await ptr("ptr-out");
    assert.equal(outputs.utc, "2024-07-24T05:59:00Z");
    assert.equal(outputs.london, "2024-07-24 06:59:00 BST (UTC+01:00) Europe/London");
    assert.equal(outputs.fqdn, "s189t01-ptt-qa-pg-ptr.postgres.database.azure.com");
    assert.match(
      outputs.connect,
      /konduit\.sh -x -n bat-qa -s s189t01-ptt-qa-pg-ptr ptt_qa -- psql/,
    );
    assert.match(
      outputs.connect,
      /host=s189t01-ptt-qa-pg-ptr\.postgres\.database\.azure\.com dbname=ptt_qa/,
    );
  });
});
