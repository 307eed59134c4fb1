/**
 * The Flexible Server arguments in one home (components/flexible-server.ts, issue 16): the PTR,
 * the drill server, the revived and the rebuilt server get the same placement (name, group,
 * region, private network, tags) and differ only in how they are created.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- resource args as plain objects */
import * as assert from "node:assert/strict";
import { CREATE_ONLY, flexibleServerArgs, ServerPlacement } from "../../components/flexible-server";
import { SERVER_SPEC } from "../support/components";

const placement: ServerPlacement = {
  serverName: "s189t01-ptt-qa-pg-drill",
  resourceGroupName: "s189t01-ptt-qa-rg",
  location: "uksouth",
  network: { delegatedSubnetResourceId: "/sub/snet", privateDnsZoneArmResourceId: "/sub/zone" },
  tags: { "pg-recovery-incident-date": "2026-11-25" },
};
const at = new Date("2026-11-25T06:59:00.400+01:00");

describe("components: the Flexible Server arguments, one home", () => {
  const pitr = flexibleServerArgs(placement, {
    createMode: "PointInTimeRestore",
    sourceServerId: "/sub/live",
    pointInTime: at,
  }) as any;
  const revive = flexibleServerArgs(placement, {
    createMode: "ReviveDropped",
    sourceServerId: "/sub/dropped",
    pointInTime: at,
  }) as any;
  const create = flexibleServerArgs(placement, {
    ...SERVER_SPEC,
    createMode: "Create",
    administratorLoginPassword: "x",
  }) as any;

  it("places every kind of server the same way", () => {
    for (const a of [pitr, revive, create]) {
      assert.equal(a.serverName, placement.serverName);
      assert.equal(a.resourceGroupName, placement.resourceGroupName);
      assert.equal(a.location, "uksouth");
      assert.deepEqual(a.network, placement.network);
      assert.deepEqual(a.tags, placement.tags);
    }
  });

  it("restores from a source at a UTC second, or creates from a spec, never both", () => {
    assert.equal(pitr.createMode, "PointInTimeRestore");
    assert.equal(pitr.pointInTimeUTC, "2026-11-25T05:59:00Z");
    assert.equal(pitr.sourceServerResourceId, "/sub/live");
    assert.equal(revive.createMode, "ReviveDropped");
    assert.equal(pitr.sku, undefined);
    assert.equal(create.createMode, "Create");
    assert.deepEqual(create.sku, { name: "B_Standard_B2s", tier: "Burstable" });
    assert.equal(create.pointInTimeUTC, undefined);
    assert.equal(create.sourceServerResourceId, undefined);
  });

  it("names the create-only inputs each kind must ignore after creation", () => {
    for (const k of CREATE_ONLY.fromSource) assert.ok(k in pitr, k);
    for (const k of CREATE_ONLY.fromSpec) assert.ok(k in create, k);
  });
});
