/** The did-you-mean both command lines and the config door give for a typo. */
import * as assert from "node:assert/strict";
import { closestWord } from "../../contract/did-you-mean";

describe("contract: did you mean", () => {
  it("names the word a typo was meant to be, and nothing for a word far from all", () => {
    const modes = ["whole", "tables", "merge"];
    assert.equal(closestWord("mrge", modes), "merge");
    assert.equal(closestWord("tabels", modes), "tables");
    assert.equal(closestWord("WHOLE", modes), "whole");
    assert.equal(
      closestWord("rewind", ["backup", "list", "restore", "verify", "promote"]),
      undefined,
    );
    assert.equal(closestWord("x", []), undefined);
  });
});
