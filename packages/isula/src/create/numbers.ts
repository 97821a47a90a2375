/**
 * Integer parsing with C `strtoll(s, &end, 0)` semantics as upstream's `util_safe_*` helpers use them:
 * optional leading white space and sign, `0x`/`0X` hexadecimal, leading-`0` octal, decimal otherwise;
 * the whole string must be consumed. Errors are the errno texts upstream prints with strerror.
 */

export const EINVAL_TEXT = 'Invalid argument';
export const ERANGE_TEXT = 'Numerical result out of range';

export type IntResult = { ok: true; value: bigint } | { ok: false; error: string };

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** strtoll-like parse to bigint; range is checked by the callers. */
export function parseCInteger(text: string): IntResult {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return { ok: false, error: EINVAL_TEXT };
  const [, sign, digits] = m;
  let magnitude: bigint;
  if (/^0[xX]/.test(digits!)) magnitude = BigInt(digits!);
  else if (digits!.length > 1 && digits![0] === '0') magnitude = BigInt(`0o${digits!.slice(1)}`);
  else magnitude = BigInt(digits!);
  return { ok: true, value: sign === '-' ? -magnitude : magnitude };
}

function ranged(text: string, min: bigint, max: bigint): IntResult {
  const r = parseCInteger(text);
  if (!r.ok) return r;
  if (r.value < min || r.value > max) return { ok: false, error: ERANGE_TEXT };
  return r;
}

/** `util_safe_llong`: int64. */
export function safeInt64(text: string): IntResult {
  return ranged(text, INT64_MIN, INT64_MAX);
}

/** `util_safe_int`: int32. */
export function safeInt32(text: string): IntResult {
  return ranged(text, -(1n << 31n), (1n << 31n) - 1n);
}

/** `util_safe_uint`: uint32 (a leading `-` wraps in C; we reject it as out of range). */
export function safeUint32(text: string): IntResult {
  return ranged(text, 0n, (1n << 32n) - 1n);
}

/** `util_safe_u16`. */
export function safeUint16(text: string): IntResult {
  return ranged(text, 0n, 0xffffn);
}

/** bigint → number (values the CLI produces fit well within 2^63; JSON needs a number). */
export function toNumber(v: bigint): number {
  return Number(v);
}

/** `util_safe_uint64`. */
export function safeUint64(text: string): IntResult {
  return ranged(text, 0n, (1n << 64n) - 1n);
}
