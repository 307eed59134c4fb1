/** The commands' shared plumbing: secrets scrubbed from anything printed. */
import * as assert from "node:assert/strict";
import { envSecrets, redact } from "../../../datapath/commands/io";

describe("datapath command io", () => {
  it("scrubs secrets from error text", () => {
    assert.equal(
      redact("failed for p@ss:w0rd and KEY123==", ["p@ss:w0rd", "KEY123=="]),
      "failed for *** and ***",
    );
  });

  it("finds the secrets in the environment: storage keys, SAS signatures, URL passwords", () => {
    const sig = "abc/def+ghi=";
    const secrets = envSecrets({
      AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;AccountKey=KEY123==;BlobEndpoint=http://x",
      AZURE_STORAGE_SAS_TOKEN: `?sv=2024&sig=${encodeURIComponent(sig)}`,
      OTHER_URL: "postgres://u:p%40ssword@h/db",
    });
    for (const s of ["KEY123==", sig, encodeURIComponent(sig), "p@ssword", "p%40ssword"]) {
      assert.ok(secrets.includes(s), s);
    }
  });
});
