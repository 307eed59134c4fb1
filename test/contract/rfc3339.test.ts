/** RFC 3339 restore targets as the data tool reads them: exact to the microsecond, offset required. */
import assert from "node:assert/strict";
import { formatRfc3339InZone, parseRfc3339 } from "../../contract/time";

describe("contract time: RFC 3339 parsing for the data tool", () => {
  it("parses RFC 3339 restore targets exactly", () => {
    assert.equal(parseRfc3339("2024-07-24T06:59:00+01:00").utc, "2024-07-24T05:59:00Z");
    assert.equal(
      parseRfc3339("2024-07-24T05:59:00.000123Z").postgres,
      "2024-07-24 05:59:00.000123+00",
    );
    assert.equal(
      parseRfc3339("2024-01-01T00:30:00-00:30").epochMicros,
      BigInt(Date.UTC(2024, 0, 1, 1)) * 1000n,
    );
    assert.throws(() => parseRfc3339("2024-02-30T00:00:00Z"), /invalid date/);
    // The drill prints T the way a UK operator types it, then parses it back.
    const bst = formatRfc3339InZone(Date.UTC(2024, 6, 24, 5, 59), "Europe/London");
    assert.equal(bst, "2024-07-24T06:59:00+01:00");
    assert.equal(parseRfc3339(bst).utc, "2024-07-24T05:59:00Z");
    assert.equal(
      formatRfc3339InZone(Date.UTC(2024, 0, 2, 3, 4, 5, 600), "Europe/London"),
      "2024-01-02T03:04:05.6+00:00",
    );
    assert.throws(() => parseRfc3339("2024-07-24 06:00"), /not an RFC 3339/);
  });
});
