import type { ParsedArgs } from '@isula/argv';
import { invalidArg } from './errors';
import { safeInt32, safeInt64, safeUint16, type IntResult } from './numbers';

/** The `values` object produced by `parseArgs` from @isula/argv. */
export type OptionValues = ParsedArgs['values'];

/** A value-taking option (the last occurrence wins, as `parseArgs` stores it). */
export function str(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** A repeatable option; a single string (defensive) becomes a one-item list. */
export function list(values: OptionValues, name: string): string[] {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return [];
  return Array.isArray(v) ? [...v] : [v];
}

export function bool(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

function checked(flag: string, text: string, r: IntResult): number {
  // Upstream's CMD_SYSERROR prefixes the strerror text: "<strerror> - Invalid value ...".
  if (!r.ok) return invalidArg(`${r.error} - Invalid value "${text}" for flag --${flag}`);
  return Number(r.value);
}

/** `command_convert_llong`. */
export function int64Flag(flag: string, text: string): number {
  return checked(flag, text, safeInt64(text));
}

/** `command_convert_int`. */
export function int32Flag(flag: string, text: string): number {
  return checked(flag, text, safeInt32(text));
}

/** `command_convert_u16`. */
export function uint16Flag(flag: string, text: string): number {
  return checked(flag, text, safeUint16(text));
}

