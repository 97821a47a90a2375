/*
 * Times as upstream's client prints and reads them (`src/utils/cutils/utils_timestamp.c`).
 */

/** The "never" time containers carry before they start or finish. */
export const DEFAULT_CONTAINER_TIME = '0001-01-01T00:00:00Z';

/**
 * Upstream's human duration (`time_human_duration`) of a whole number of seconds; undefined for 0
 * and negative values (upstream prints `-` for those, so "Less than a second" never shows).
 */
export function humanDuration(seconds: number): string | undefined {
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  const s = Math.trunc(seconds);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} seconds`;
  const minutes = Math.trunc(s / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(s / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  // Upstream's bounds, quirks included: days up to 14 days, weeks up to 90 days, months up to 2 years.
  if (hours < 7 * 48) return `${Math.trunc(s / 86400)} days`;
  if (hours < 24 * 30 * 3) return `${Math.trunc(s / (86400 * 7))} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(s / (86400 * 30))} months`;
  return `${Math.trunc(s / (86400 * 365))} years`;
}

/** A point in time: whole seconds since the epoch and the nanoseconds within that second. */
export interface Instant {
  seconds: number;
  nanos: number;
}

/**
 * Parses an RFC 3339 time (`2024-05-10T17:20:34.661862100+08:00`, `...Z`, fraction optional); a
 * time without zone is taken as local time. Undefined when it is not one, or is upstream's
 * "never" time.
 */
export function parseRfc3339(text: string): Instant | undefined {
  if (text === '' || text === '-' || text === DEFAULT_CONTAINER_TIME) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (nums[1] < 1 || nums[1] > 12 || nums[2] < 1 || nums[2] > 31 || nums[3] > 23 || nums[4] > 59 || nums[5] > 60) return undefined;
  let ms: number;
  if (zone === undefined) {
    ms = new Date(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]).getTime();
  } else {
    ms = Date.UTC(nums[0], nums[1] - 1, nums[2], nums[3], nums[4], nums[5]);
    if (zone !== 'Z' && zone !== 'z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
    }
  }
  if (!Number.isFinite(ms)) return undefined;
  return { seconds: Math.floor(ms / 1000), nanos: frac ? Number(frac.padEnd(9, '0')) : 0 };
}

/** `time_format_duration`: time elapsed since `text` (`3 seconds`), or `-` when unknown, 0 or in the future. */
export function durationSince(text: string | undefined, nowMs: number = Date.now()): string {
  const t = text === undefined ? undefined : parseRfc3339(text);
  if (!t) return '-';
  return humanDuration(Math.floor(nowMs / 1000) - t.seconds) ?? '-';
}

/** `time_format_duration_ago`: like {@link durationSince} with ` ago` (but a bare `-`). */
export function durationAgo(text: string | undefined, nowMs: number = Date.now()): string {
  const d = durationSince(text, nowMs);
  return d === '-' ? d : `${d} ago`;
}

/** Age of a time given in nanoseconds since the epoch (ps `CREATED`): `5 minutes ago` or `-`. */
export function agoFromNanos(nanos: number | bigint, nowMs: number = Date.now()): string {
  const seconds = typeof nanos === 'bigint' ? Number(nanos / 1_000_000_000n) : Math.floor(nanos / 1e9);
  const d = humanDuration(Math.floor(nowMs / 1000) - seconds);
  return d === undefined ? '-' : `${d} ago`;
}

const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');

/**
 * Local time with nanoseconds and zone, as upstream's `get_time_buffer` prints event times:
 * `2022-05-10T17:20:34.661862100+08:00`.
 */
export function localNanoTime(t: Instant, offsetMinutes?: number): string {
  const d = new Date(t.seconds * 1000);
  const off = offsetMinutes ?? -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000);
  const sign = off < 0 ? '-' : '+';
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    `.${pad(t.nanos, 9)}${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/**
 * A time given on the command line (`events --since/--until`): what upstream's `get_timestamp`
 * reads — `2006-01-02`, `2006-01-02T15`, `2006-01-02T15:04`, `2006-01-02T15:04:05[.nnnnnnnnn]`, all
 * local time — plus an explicit zone (`Z`, `+08:00`) and Unix seconds (`1700000000[.5]`).
 */
export function parseCliTime(text: string): Instant | undefined {
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix && !/^\d{4}-/.test(text)) return { seconds: Number(unix[1]), nanos: unix[2] ? Number(unix[2].padEnd(9, '0')) : 0 };
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac, zone] = m;
  return parseRfc3339(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac ? `.${frac}` : ''}${zone ?? ''}`);
}
