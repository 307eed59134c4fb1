/**
 * RFC 3339 timestamps with an explicit offset, parsed to exact UTC microseconds.
 *
 * The runbook's own example ("2024-07-24T06:00:00") has no zone and UK summer time is UTC+1, so
 * a restore target without an offset is rejected rather than guessed.
 */

export interface Instant {
  /** Microseconds since the Unix epoch (UTC), exact: JS Date only has milliseconds. */
  readonly epochMicros: bigint;
  /** Canonical UTC rendering Postgres accepts everywhere, e.g. `2024-07-24 05:59:00.5+00`. */
  readonly postgres: string;
  /** Canonical RFC 3339 UTC rendering, e.g. `2024-07-24T05:59:00.5Z`. */
  readonly utc: string;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([Zz]|[+-]\d{2}:\d{2})?$/;

/** Parses `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`; throws with an operator-friendly message. */
export function parseRfc3339(input: string): Instant {
  const m = RFC3339.exec(input.trim());
  if (!m) {
    throw new Error(
      `not an RFC 3339 timestamp: ${JSON.stringify(input)} (expected e.g. 2024-07-24T06:59:00+01:00)`,
    );
  }
  const [, y, mo, d, h, mi, s, frac = "", zone] = m;
  if (!zone) {
    throw new Error(
      `timestamp ${JSON.stringify(input)} has no UTC offset; add Z or ±HH:MM ` +
        `(UK summer time is +01:00, so a bare local time is ambiguous)`,
    );
  }
  const [Y, Mo, D, H, Mi, S] = [y, mo, d, h, mi, s].map(Number);
  const ms = Date.UTC(Y, Mo - 1, D, H, Mi, S);
  const back = new Date(ms);
  // Date.UTC silently rolls 2024-02-30 over to March; reject instead. Leap seconds are refused too.
  if (
    back.getUTCFullYear() !== Y ||
    back.getUTCMonth() !== Mo - 1 ||
    back.getUTCDate() !== D ||
    H > 23 ||
    Mi > 59 ||
    S > 59
  ) {
    throw new Error(`invalid date or time in ${JSON.stringify(input)}`);
  }
  let offsetMinutes = 0;
  if (zone !== "Z" && zone !== "z") {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw new Error(`invalid UTC offset in ${JSON.stringify(input)}`);
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const micros =
    (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1000n + BigInt(frac.padEnd(6, "0") || "0");
  return fromEpochMicros(micros);
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
