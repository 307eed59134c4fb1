/**
 * Restore-time parsing. Azure takes the point-in-time as UTC with one-second resolution; the
 * runbook's own example (`2024-07-24T06:00:00`) carries no zone, and in UK summer time the
 * wall clock is UTC+1, so a zone-less time is refused rather than guessed.
 */

import { formatRfc3339InZone } from "../datapath/verify-time";

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:\d{2})?$/;

export const LONDON = "Europe/London";

export type TimeParse = { ok: true; utc: Date } | { ok: false; problem: string };

/** Parses an RFC 3339 timestamp with an explicit offset; `key` names the config key in errors. */
export function parseRestoreTime(key: string, text: string): TimeParse {
  const m = RFC3339.exec(text.trim());
  if (!m) {
    return {
      ok: false,
      problem:
        `${key} "${text}" is not an RFC 3339 timestamp. ` +
        `Write it as YYYY-MM-DDThh:mm:ss with an offset, e.g. 2024-07-24T05:59:00Z or 2024-07-24T06:59:00+01:00.`,
    };
  }
  const [, y, mo, d, h, mi, s, frac, offset] = m;
  const fields = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const rangeProblem = checkRanges(fields);
  if (rangeProblem) {
    return {
      ok: false,
      problem: `${key} "${text}": ${rangeProblem}. Check the date, e.g. \`pulumi config set ${key} 2024-07-24T05:59:00Z\`.`,
    };
  }
  const wall = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);

  if (!offset) {
    const asUtc = new Date(wall);
    const asLondon = londonWallClockToUtc(wall);
    return {
      ok: false,
      problem:
        `${key} "${text}" has no UTC offset, so it is ambiguous: ` +
        `read as UTC it is ${formatUtc(asUtc)} (${formatLondon(asUtc)}); ` +
        `read as Europe/London wall-clock time it is ${formatUtc(asLondon)} (${formatLondon(asLondon)}). ` +
        `Set it with an explicit offset, e.g. \`pulumi config set ${key} ${formatUtc(asLondon)}\` ` +
        `or \`pulumi config set ${key} ${text}${offsetText(londonOffsetMinutes(asLondon))}\`.`,
    };
  }
  if (frac && Number(frac) !== 0) {
    return {
      ok: false,
      problem: `${key} "${text}" has fractional seconds; Azure restores to whole seconds. Drop the fraction.`,
    };
  }
  const offsetMinutes =
    offset === "Z" || offset === "z"
      ? 0
      : (offset.startsWith("-") ? -1 : 1) *
        (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  if (Math.abs(offsetMinutes) > 14 * 60 || (offset.length === 6 && Number(offset.slice(4)) > 59)) {
    return {
      ok: false,
      problem: `${key} "${text}": offset ${offset} is out of range (±14:00, minutes 00-59), e.g. +01:00 for BST.`,
    };
  }
  return { ok: true, utc: new Date(wall - offsetMinutes * 60_000) };
}

function checkRanges([y, mo, d, h, mi, s]: [number, number, number, number, number, number]):
  string | undefined {
  if (mo < 1 || mo > 12) return `month ${mo} is out of range`;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d < 1 || d > daysInMonth) return `day ${d} does not exist in ${y}-${pad(mo)}`;
  if (h > 23) return `hour ${h} is out of range`;
  if (mi > 59) return `minute ${mi} is out of range`;
  if (s > 59) return `second ${s} is out of range`;
  return undefined;
}

/** `2024-07-24T05:59:00Z`: the form Azure's `pointInTimeUTC` takes. */
export function formatUtc(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `2024-07-24 06:59:00 BST (UTC+01:00) Europe/London`: how a UK operator reads the instant. */
export function formatLondon(date: Date): string {
  const local = formatRfc3339InZone(Math.floor(date.getTime() / 1000) * 1000, LONDON);
  const offset = local.slice(19);
  return `${local.slice(0, 10)} ${local.slice(11, 19)} ${offset === "+00:00" ? "GMT" : "BST"} (UTC${offset}) ${LONDON}`;
}

/** Minutes Europe/London is ahead of UTC at `date` (0 or 60). */
export function londonOffsetMinutes(date: Date): number {
  const offset = formatRfc3339InZone(Math.floor(date.getTime() / 1000) * 1000, LONDON).slice(19);
  return (
    (offset.startsWith("-") ? -1 : 1) *
    (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)))
  );
}

/** The UTC instant at which London's wall clock shows `wall` (ms of a UTC-encoded wall time). */
function londonWallClockToUtc(wall: number): Date {
  // The offset at the guess is right except inside the hour the clocks change; one
  // correction step settles it.
  let utc = wall - londonOffsetMinutes(new Date(wall)) * 60_000;
  utc = wall - londonOffsetMinutes(new Date(utc)) * 60_000;
  return new Date(utc);
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
