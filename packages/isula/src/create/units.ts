import { invalidValue } from './errors';
import { EINVAL_TEXT, ERANGE_TEXT, parseCInteger } from './numbers';

/**
 * Byte sizes as upstream's `util_parse_byte_size_string`: digits with an optional fraction, then an
 * optional case-insensitive binary unit: b, k/ki/kb/kib, m..., g..., t..., p... (powers of 1024).
 */
const UNIT_SHIFT: Record<string, bigint> = {
  '': 0n,
  b: 0n,
  k: 10n,
  ki: 10n,
  kb: 10n,
  kib: 10n,
  m: 20n,
  mi: 20n,
  mb: 20n,
  mib: 20n,
  g: 30n,
  gi: 30n,
  gb: 30n,
  gib: 30n,
  t: 40n,
  ti: 40n,
  tb: 40n,
  tib: 40n,
  p: 50n,
  pi: 50n,
  pb: 50n,
  pib: 50n,
};

const INT64_MAX = (1n << 63n) - 1n;

export type SizeResult = { ok: true; value: number } | { ok: false; error: string };

/** Parse `<n>[.<frac>][unit]` into bytes. Never negative (a leading `-` is rejected). */
export function parseByteSize(text: string): SizeResult {
  if (text === '' || !/^[0-9]/.test(text)) return { ok: false, error: EINVAL_TEXT };
  const m = /^([0-9.]*)(.*)$/.exec(text)!;
  const num = m[1]!;
  const unit = m[2]!.toLowerCase();
  const shift = UNIT_SHIFT[unit];
  if (shift === undefined) return { ok: false, error: EINVAL_TEXT };
  const mult = 1n << shift;
  const dot = num.indexOf('.');
  let intPart = num;
  let fracBytes = 0n;
  if (dot >= 0) {
    const frac = num.slice(dot + 1);
    if (dot === 0 || frac === '' || !/^[0-9]+$/.test(frac)) return { ok: false, error: EINVAL_TEXT };
    intPart = num.slice(0, dot);
    fracBytes = BigInt(Math.trunc(Number(`0.${frac}`) * Number(mult)));
  }
  const ip = parseCInteger(intPart);
  if (!ip.ok) return ip;
  if (ip.value > INT64_MAX / mult) return { ok: false, error: ERANGE_TEXT };
  const total = ip.value * mult + fracBytes;
  if (total > INT64_MAX) return { ok: false, error: ERANGE_TEXT };
  return { ok: true, value: Number(total) };
}

/** `command_convert_membytes`: size for `--memory`-like flags, else `Invalid value "x" for flag --<flag>`. */
export function parseMemBytes(flag: string, text: string): number {
  const r = parseByteSize(text);
  if (!r.ok) return invalidValue(flag, text);
  return r.value;
}

/** `command_convert_memswapbytes`: like {@link parseMemBytes} but `-1` means unlimited. */
export function parseMemSwapBytes(flag: string, text: string): number {
  if (text === '-1') return -1;
  return parseMemBytes(flag, text);
}

/** `command_convert_swappiness`: `-1` or 0..100. */
export function parseSwappiness(flag: string, text: string): number {
  if (text === '-1') return -1;
  const r = parseByteSize(text);
  if (!r.ok || r.value > 100) return invalidValue(flag, text, '. Valid memory swappiness range is 0-100');
  return r.value;
}

/** `command_convert_nanocpus`: decimal CPUs (e.g. `1.5`) → nano CPUs. */
export function parseNanoCpus(flag: string, text: string): number {
  if (!/^[0-9]/.test(text)) return invalidValue(flag, text);
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text);
  if (!m) return invalidValue(flag, text);
  const ip = parseCInteger(m[1]!);
  if (!ip.ok) return invalidValue(flag, text);
  const frac = m[2] ? BigInt(Math.trunc(Number(`0.${m[2]}`) * 1e9)) : 0n;
  const total = ip.value * 1_000_000_000n + frac;
  if (total > INT64_MAX) return invalidValue(flag, text);
  return Number(total);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Durations such as `30s`, `1m30s`, `1.5h`, `500ms` → nanoseconds (Go `time.ParseDuration` grammar;
 * a unit is required except for `0`). Returns undefined when invalid or negative.
 */
export function parseDurationNanos(text: string): number | undefined {
  if (text === '0') return 0;
  const item = '(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:ns|us|µs|ms|s|m|h)';
  if (!new RegExp(`^(?:${item})+$`).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  return Math.round(total);
}

/** `command_convert_nanoseconds`: duration flag → nanoseconds, else `Invalid value "x" for flag --<flag>`. */
export function parseDurationFlag(flag: string, text: string): number {
  const v = parseDurationNanos(text);
  if (v === undefined) return invalidValue(flag, text);
  return v;
}
