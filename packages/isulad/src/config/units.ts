const UNIT: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * Parses sizes the way iSulad's byte-size strings read: "30KB", "1MB", "4k", "512", "1.5g".
 * Units are powers of 1024, case-insensitive, with an optional "b"/"ib". Returns NaN when malformed.
 */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(text);
  if (!m) return Number.NaN;
  const unit = m[2]!.toLowerCase();
  if (m[3] && /^ib$/i.test(m[3]) && unit === '') return Number.NaN;
  return Math.floor(Number(m[1]) * UNIT[unit]!);
}

/** Octal file modes as the spec writes them ("0600", "0666"). Returns NaN when not octal. */
export function parseOctalMode(text: string): number {
  if (!/^0[0-7]{1,4}$/.test(text)) return Number.NaN;
  const mode = Number.parseInt(text, 8);
  return mode <= 0o7777 ? mode : Number.NaN;
}
