/**
 * The fix the data tool appends to a server error it cannot act on itself (datapath/errors.ts).
 */
import assert from "node:assert/strict";
import { withFix } from "../../datapath/errors";

describe("datapath errors: the fix appended to a server error", () => {
  it("row-level security refusing a read (row_security = off) gets the role to connect as", () => {
    const pg = 'query would be affected by row-level security policy for table "notes"';
    assert.equal(
      withFix(pg),
      `${pg}: a row-level security policy would hide rows of that table from this role, and a partial read is refused rather than trusted. Connect as a role that sees every row (the table's owner, or a role with BYPASSRLS), then run the command again`,
    );
  });

  it("any other message is left as it is", () => {
    assert.equal(withFix('relation "x" does not exist'), 'relation "x" does not exist');
  });
});
