/**
 * Linux signal numbers by name (x86/arm generic layout), without the `SIG` prefix; shared by the
 * client (`isula kill -s`) and the daemon (stop signals): the wire carries numbers, users type names.
 */
export const SIGNALS: Readonly<Record<string, number>> = {
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
  RTMIN: 34,
  'RTMIN+1': 35,
  'RTMIN+2': 36,
  'RTMIN+3': 37,
  'RTMIN+4': 38,
  'RTMIN+5': 39,
  'RTMIN+6': 40,
  'RTMIN+7': 41,
  'RTMIN+8': 42,
  'RTMIN+9': 43,
  'RTMIN+10': 44,
  'RTMIN+11': 45,
  'RTMIN+12': 46,
  'RTMIN+13': 47,
  'RTMIN+14': 48,
  'RTMIN+15': 49,
  'RTMAX-14': 50,
  'RTMAX-13': 51,
  'RTMAX-12': 52,
  'RTMAX-11': 53,
  'RTMAX-10': 54,
  'RTMAX-9': 55,
  'RTMAX-8': 56,
  'RTMAX-7': 57,
  'RTMAX-6': 58,
  'RTMAX-5': 59,
  'RTMAX-4': 60,
  'RTMAX-3': 61,
  'RTMAX-2': 62,
  'RTMAX-1': 63,
  RTMAX: 64,
};

/**
 * A signal as the CLI takes it, like upstream's `util_sig_parse`: a decimal number, or a name with
 * or without the `SIG` prefix, any case (`KILL`, `sigterm`, `SIGRTMIN+3`). Undefined when it is
 * neither; the number is not range-checked here (see {@link isValidSignal}).
 */
export function parseSignal(text: string): number | undefined {
  if (/^[0-9]/.test(text)) {
    if (!/^[0-9]+$/.test(text)) return undefined;
    const n = Number(text);
    return n <= 0x7fffffff ? n : undefined;
  }
  const name = (/^sig/i.test(text) ? text.slice(3) : text).toUpperCase();
  return Object.prototype.hasOwnProperty.call(SIGNALS, name) ? SIGNALS[name] : undefined;
}

/** Signals a Linux daemon can deliver: 1..64. */
export function isValidSignal(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 64;
}
