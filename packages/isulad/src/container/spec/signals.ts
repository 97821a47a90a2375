import { SpecError } from './types';

/** Linux signal numbers (x86_64 / aarch64 generic numbering) by name without the SIG prefix. */
export const SIGNALS: Readonly<Record<string, number>> = Object.freeze({
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
  UNUSED: 31,
  RTMIN: 34,
  RTMAX: 64,
  ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`RTMIN+${i + 1}`, 35 + i])),
  ...Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`RTMAX-${14 - i}`, 50 + i])),
});

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
  const skip = new Set(['IOT', 'CLD', 'POLL', 'UNUSED']);
  for (const [name, v] of Object.entries(SIGNALS)) if (v === n && !skip.has(name)) return `SIG${name}`;
  return undefined;
}
