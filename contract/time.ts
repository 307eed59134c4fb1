/**
 * Time, the one way both sides of the Job boundary read and print it: RFC 3339 with an explicit
 * offset, exact to the microsecond, shown in UTC and in Europe/London.
 *
 * The runbook's own example (`2024-07-24T06:00:00`) carries no zone, and UK summer time is
 * UTC+1, so a time without an offset is refused rather than guessed. Azure takes a restore point
 * as UTC with one-second resolution.
 */

export const LONDON = "Europe/London";

export interface Instant {
  /** Microseconds since the Unix epoch (UTC), exact: JS Date only has milliseconds. */
  readonly epochMicros: bigint;
  /** Canonical UTC rendering Postgres accepts everywhere, e.g. `2024-07-24 05:59:00.5+00`. */
  readonly postgres: string;
  /** Canonical RFC 3339 UTC rendering, e.g. `2024-07-24T05:59:00.5Z`. */
  readonly utc: string;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$/;

/** What the text said, field by field; `wallMs` is the wall-clock time encoded as if UTC. */
type Lexed =
  | { ok: false; why: "syntax" }
  | { ok: false; why: "range"; problem: string }
  | { ok: true; wallMs: number; fraction: string; offset?: string };

function lex(text: string): Lexed {
  const m = RFC3339.exec(text.trim());
  if (!m) return { ok: false, why: "syntax" };
  const [, y, mo, d, h, mi, s, fraction = "", offset] = m;
  const [Y, Mo, D, H, Mi, S] = [y, mo, d, h, mi, s].map(Number);
  // Date.UTC silently rolls 2024-02-30 over to March; refuse instead. Leap seconds are refused too.
  let problem: string | undefined;
  if (Mo < 1 || Mo > 12) problem = `month ${Mo} is out of range`;
  else if (D < 1 || D > new Date(Date.UTC(Y, Mo, 0)).getUTCDate())
    problem = `day ${D} does not exist in ${y}-${mo}`;
  else if (H > 23) problem = `hour ${H} is out of range`;
  else if (Mi > 59) problem = `minute ${Mi} is out of range`;
  else if (S > 59) problem = `second ${S} is out of range`;
  if (problem) return { ok: false, why: "range", problem };
  return { ok: true, wallMs: Date.UTC(Y, Mo - 1, D, H, Mi, S), fraction, offset };
}

/** Minutes east of UTC for `Z`/`±hh:mm`, or undefined when out of range (±14:00, minutes 00-59). */
function offsetMinutesOf(offset: string): number | undefined {
  if (offset === "Z" || offset === "z") return 0;
  const oh = Number(offset.slice(1, 3));
  const om = Number(offset.slice(4, 6));
  const minutes = oh * 60 + om;
  if (om > 59 || minutes > 14 * 60) return undefined;
  return (offset[0] === "-" ? -1 : 1) * minutes;
}

/** Parses `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`; throws with an operator-friendly message. */
export function parseRfc3339(input: string): Instant {
  const lexed = lex(input);
  if (!lexed.ok || lexed.fraction.length > 6) {
    if (lexed.ok || lexed.why === "syntax") {
      throw new Error(
        `not an RFC 3339 timestamp: ${JSON.stringify(input)} (expected e.g. 2024-07-24T06:59:00+01:00)`,
      );
    }
    throw new Error(`invalid date or time in ${JSON.stringify(input)}`);
  }
  if (!lexed.offset) {
    throw new Error(
      `timestamp ${JSON.stringify(input)} has no UTC offset; add Z or ±HH:MM ` +
        `(UK summer time is +01:00, so a bare local time is ambiguous)`,
    );
  }
  const offsetMinutes = offsetMinutesOf(lexed.offset);
  if (offsetMinutes === undefined)
    throw new Error(`invalid UTC offset in ${JSON.stringify(input)}`);
  const micros =
    (BigInt(lexed.wallMs) - BigInt(offsetMinutes) * 60_000n) * 1000n +
    BigInt(lexed.fraction.padEnd(6, "0") || "0");
  return fromEpochMicros(micros);
}

export type TimeParse = { ok: true; utc: Date } | { ok: false; problem: string };

/**
 * Parses a restore point for Azure (whole seconds, explicit offset); `key` names the config key
 * in the problem, which says how to write it instead.
 */
export function parseRestoreTime(key: string, text: string): TimeParse {
  const lexed = lex(text);
  if (!lexed.ok && lexed.why === "syntax") {
    return {
      ok: false,
      problem:
        `${key} "${text}" is not an RFC 3339 timestamp. ` +
        `Write it as YYYY-MM-DDThh:mm:ss with an offset, e.g. 2024-07-24T05:59:00Z or 2024-07-24T06:59:00+01:00.`,
    };
  }
  if (!lexed.ok) {
    return {
      ok: false,
      problem: `${key} "${text}": ${lexed.problem}. Check the date, e.g. \`pulumi config set ${key} 2024-07-24T05:59:00Z\`.`,
    };
  }
  if (!lexed.offset) {
    const asUtc = new Date(lexed.wallMs);
    const asLondon = londonWallClockToUtc(lexed.wallMs);
    const fix =
      `Set it with an explicit offset, e.g. \`pulumi config set ${key} ${formatUtc(asLondon)}\`` +
      (asLondon.getTime() === asUtc.getTime()
        ? `.`
        : ` or \`pulumi config set ${key} ${text}${offsetText(londonOffsetMinutes(asLondon))}\`.`);
    // In winter London's wall clock is UTC: one reading, so no ambiguity to show.
    const readings =
      asLondon.getTime() === asUtc.getTime()
        ? `read as UTC or as Europe/London wall-clock time (the same in winter) it is ` +
          `${formatUtc(asUtc)} (${formatLondon(asUtc)}), but a time without an offset is not ` +
          `accepted (in summer the two readings are an hour apart). `
        : `so it is ambiguous: read as UTC it is ${formatUtc(asUtc)} (${formatLondon(asUtc)}); ` +
          `read as Europe/London wall-clock time it is ${formatUtc(asLondon)} (${formatLondon(asLondon)}). `;
    return {
      ok: false,
      problem: `${key} "${text}" has no UTC offset, ${readings}${fix}`,
    };
  }
  if (lexed.fraction && Number(lexed.fraction) !== 0) {
    return {
      ok: false,
      problem: `${key} "${text}" has fractional seconds; Azure restores to whole seconds. Drop the fraction.`,
    };
  }
  const offsetMinutes = offsetMinutesOf(lexed.offset);
  if (offsetMinutes === undefined) {
    return {
      ok: false,
      problem: `${key} "${text}": offset ${lexed.offset} is out of range (±14:00, minutes 00-59), e.g. +01:00 for BST.`,
    };
  }
  return { ok: true, utc: new Date(lexed.wallMs - offsetMinutes * 60_000) };
}

/** Builds an Instant from epoch microseconds (e.g. from Postgres `extract(epoch ...)`). */
export function fromEpochMicros(epochMicros: bigint): Instant {
  const msPart = epochMicros / 1000n - (epochMicros % 1000n < 0n ? 1n : 0n);
  const subMs = epochMicros - msPart * 1000n; // 0..999
  const iso = new Date(Number(msPart)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = (iso.slice(20, 23) + String(subMs).padStart(3, "0")).replace(/0+$/, "");
  const base = iso.slice(0, 19);
  const withFrac = fraction ? `${base}.${fraction}` : base;
  return {
    epochMicros,
    utc: `${withFrac}Z`,
    postgres: `${withFrac.replace("T", " ")}+00`,
  };
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
  return offsetMinutesOf(offset) ?? 0;
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

/**
 * Formats an instant as RFC 3339 in an IANA zone with an explicit offset, the way an operator
 * would type it, e.g. `2024-07-24T06:59:00+01:00` for Europe/London in summer.
 */
export function formatRfc3339InZone(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZoneName: "longOffset",
  }).formatToParts(new Date(epochMs));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  // longOffset renders "GMT" for zero and "GMT+01:00" otherwise.
  const gmt = get("timeZoneName").replace("GMT", "");
  const offset = gmt === "" ? "+00:00" : gmt;
  const ms = epochMs % 1000;
  const frac = ms === 0 ? "" : `.${String(ms).padStart(3, "0").replace(/0+$/, "")}`;
  return (
    `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:` +
    `${get("second")}${frac}${offset}`
  );
}
