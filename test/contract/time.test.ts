/**
 * Restore-time parsing and formatting (contract/time.ts): Azure restores to a UTC instant
 * with one-second resolution, and the runbook's own example carries no zone.
 */
import * as assert from "node:assert/strict";
import {
  formatLondon,
  formatUtc,
  londonOffsetMinutes,
  parseRestoreTime,
} from "../../contract/time";

const KEY = "pg-recovery:restoreTime";

function utcOf(text: string): string {
  const parsed = parseRestoreTime(KEY, text);
  assert.ok(parsed.ok, `expected ${text} to parse, got: ${parsed.ok ? "" : parsed.problem}`);
  return parsed.utc.toISOString();
}

function problemOf(text: string): string {
  const parsed = parseRestoreTime(KEY, text);
  assert.ok(
    !parsed.ok,
    `expected ${text} to be refused, got ${parsed.ok && parsed.utc.toISOString()}`,
  );
  return parsed.problem;
}

describe("restore time", () => {
  describe("RFC 3339 with an explicit offset is read as the UTC instant", () => {
    it("Z (and lower-case z) is UTC", () => {
      assert.equal(utcOf("2024-07-24T05:59:00Z"), "2024-07-24T05:59:00.000Z");
      assert.equal(utcOf("2024-07-24t05:59:00z"), "2024-07-24T05:59:00.000Z");
    });

    it("+hh:mm and -hh:mm offsets are subtracted to give UTC", () => {
      assert.equal(utcOf("2024-07-24T06:59:00+01:00"), "2024-07-24T05:59:00.000Z");
      assert.equal(utcOf("2024-07-24T00:29:00-05:30"), "2024-07-24T05:59:00.000Z");
      // Crossing midnight and a month end.
      assert.equal(utcOf("2024-08-01T00:30:00+01:00"), "2024-07-31T23:30:00.000Z");
      assert.equal(utcOf("2024-12-31T23:30:00-01:00"), "2025-01-01T00:30:00.000Z");
    });

    it("surrounding whitespace is ignored", () => {
      assert.equal(utcOf("  2024-07-24T05:59:00Z\n"), "2024-07-24T05:59:00.000Z");
    });

    it("offsets beyond ±14:00 or with minutes beyond 59 are refused", () => {
      assert.match(problemOf("2024-07-24T05:59:00+15:00"), /offset \+15:00 is out of range/);
      assert.match(problemOf("2024-07-24T05:59:00+01:75"), /offset \+01:75 is out of range/);
    });
  });

  describe("a zone-less time is refused, showing both readings", () => {
    // The runbook's own example: in July, London is on BST (UTC+1).
    const problem = problemOf("2024-07-24T06:00:00");

    it("names the key, the text and why", () => {
      assert.match(problem, /^pg-recovery:restoreTime "2024-07-24T06:00:00" has no UTC offset/);
      assert.match(problem, /ambiguous/);
    });

    it("shows the UTC reading: 06:00Z, which is 07:00 BST", () => {
      assert.match(
        problem,
        /read as UTC it is 2024-07-24T06:00:00Z \(2024-07-24 07:00:00 BST \(UTC\+01:00\) Europe\/London\)/,
      );
    });

    it("shows the Europe/London reading: 05:00Z, which is 06:00 BST", () => {
      assert.match(
        problem,
        /read as Europe\/London wall-clock time it is 2024-07-24T05:00:00Z \(2024-07-24 06:00:00 BST \(UTC\+01:00\) Europe\/London\)/,
      );
    });

    it("says how to fix it, with commands for both readings' explicit forms", () => {
      assert.match(problem, /pulumi config set pg-recovery:restoreTime 2024-07-24T05:00:00Z/);
      assert.match(problem, /pulumi config set pg-recovery:restoreTime 2024-07-24T06:00:00\+01:00/);
    });

    it("in winter both readings coincide, on GMT: one reading is shown, not two alike", () => {
      const winter = problemOf("2024-01-15T06:00:00");
      assert.match(
        winter,
        /read as UTC or as Europe\/London wall-clock time \(the same in winter\) it is 2024-01-15T06:00:00Z \(2024-01-15 06:00:00 GMT/,
      );
      assert.doesNotMatch(winter, /ambiguous/);
      assert.equal(winter.match(/2024-01-15T06:00:00Z/g)?.length, 2, "the reading and the fix");
      assert.match(winter, /pulumi config set pg-recovery:restoreTime 2024-01-15T06:00:00Z/);
    });
  });

  describe("invalid calendar dates and times are refused", () => {
    const cases: [string, RegExp][] = [
      ["2023-02-29T00:00:00Z", /day 29 does not exist in 2023-02/],
      ["2024-04-31T12:00:00Z", /day 31 does not exist in 2024-04/],
      ["2024-13-01T00:00:00Z", /month 13 is out of range/],
      ["2024-00-10T00:00:00Z", /month 0 is out of range/],
      ["2024-07-24T24:00:00Z", /hour 24 is out of range/],
      ["2024-07-24T06:60:00Z", /minute 60 is out of range/],
      ["2024-07-24T06:00:60Z", /second 60 is out of range/],
    ];
    for (const [text, reason] of cases) {
      it(`${text}: ${reason.source}`, () => {
        const problem = problemOf(text);
        assert.ok(problem.startsWith(`${KEY} "${text}"`), problem);
        assert.match(problem, reason);
      });
    }

    it("29 February of a leap year is a date", () => {
      assert.equal(utcOf("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000Z");
    });

    for (const text of [
      "yesterday",
      "2024-07-24",
      "2024-07-24T06:00Z",
      "24/07/2024 06:00:00",
      "",
    ]) {
      it(`"${text}" is not RFC 3339 and the message shows the expected form`, () => {
        const problem = problemOf(text);
        assert.match(problem, /is not an RFC 3339 timestamp/);
        assert.match(problem, /2024-07-24T05:59:00Z/);
      });
    }
  });

  describe("fractional seconds", () => {
    it("a non-zero fraction is refused: Azure restores to whole seconds", () => {
      const problem = problemOf("2024-07-24T05:59:00.5Z");
      assert.match(problem, /fractional seconds/);
      assert.match(problem, /Drop the fraction/);
    });

    it("a zero fraction is the same instant", () => {
      assert.equal(utcOf("2024-07-24T05:59:00.000Z"), "2024-07-24T05:59:00.000Z");
      assert.equal(utcOf("2024-07-24T06:59:00.0+01:00"), "2024-07-24T05:59:00.000Z");
    });
  });

  describe("formatting", () => {
    it("formatUtc is RFC 3339 UTC without milliseconds (Azure's pointInTimeUTC form)", () => {
      assert.equal(formatUtc(new Date("2024-07-24T05:59:00.000Z")), "2024-07-24T05:59:00Z");
    });

    it("formatLondon shows BST (UTC+01:00) in summer", () => {
      assert.equal(
        formatLondon(new Date("2024-07-24T05:59:00Z")),
        "2024-07-24 06:59:00 BST (UTC+01:00) Europe/London",
      );
    });

    it("formatLondon shows GMT (UTC+00:00) in winter", () => {
      assert.equal(
        formatLondon(new Date("2024-01-15T23:30:00Z")),
        "2024-01-15 23:30:00 GMT (UTC+00:00) Europe/London",
      );
    });

    it("switches exactly at the clock changes (01:00 UTC, last Sundays of March and October)", () => {
      assert.equal(londonOffsetMinutes(new Date("2024-03-31T00:59:59Z")), 0);
      assert.equal(londonOffsetMinutes(new Date("2024-03-31T01:00:00Z")), 60);
      assert.equal(
        formatLondon(new Date("2024-03-31T01:00:00Z")),
        "2024-03-31 02:00:00 BST (UTC+01:00) Europe/London",
      );
      assert.equal(londonOffsetMinutes(new Date("2024-10-27T00:59:59Z")), 60);
      assert.equal(londonOffsetMinutes(new Date("2024-10-27T01:00:00Z")), 0);
      assert.equal(
        formatLondon(new Date("2024-10-27T01:00:00Z")),
        "2024-10-27 01:00:00 GMT (UTC+00:00) Europe/London",
      );
    });

    it("parse then format round-trips an offset input to the same instant", () => {
      const parsed = parseRestoreTime(KEY, "2024-07-24T06:59:00+01:00");
      assert.ok(parsed.ok);
      assert.equal(formatUtc(parsed.utc), "2024-07-24T05:59:00Z");
      assert.equal(formatLondon(parsed.utc), "2024-07-24 06:59:00 BST (UTC+01:00) Europe/London");
    });
  });
});
