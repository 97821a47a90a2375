import { SIGNALS as SHARED_SIGNALS } from '@isula/protocol';
import { SpecError } from './types';

/** The shared table (`@isula/protocol`): names without the SIG prefix → numbers. */
export const SIGNALS = SHARED_SIGNALS;

export const SIGTERM = 15;
export const SIGKILL = 9;
export const MAX_SIGNAL = 64;

/**
 * Parses a signal given as a number (`9`), a name (`KILL`, `kill`) or a SIG-prefixed name
 * (`SIGKILL`). Throws `Invalid signal: <s>` otherwise.
 */
export function parseSignal(text: string | number): number {
  const raw = String(text);
  const s = raw.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= MAX_SIGNAL) return n;
    throw new SpecError(`Invalid signal: ${raw}`);
  }
  let name = s.toUpperCase();
  if (name.startsWith('SIG')) name = name.slice(3);
  const n = SIGNALS[name];
  if (n === undefined) throw new SpecError(`Invalid signal: ${raw}`);
  return n;
}

/** The canonical name (`SIGTERM`) of a signal number, or undefined. */
export function signalName(n: number): string | undefined {
  const skip = new Set(['IOT', 'CLD', 'POLL']);
  for (const [name, v] of Object.entries(SIGNALS)) if (v === n && !skip.has(name)) return `SIG${name}`;
  return undefined;
}
