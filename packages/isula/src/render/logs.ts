/** One log entry as `isula logs` writes it: `[<time> ]<data>` (data as logged, newline included). */
export function logLine(entry: { data: Buffer; time: string }, timestamps: boolean): Buffer {
  return timestamps ? Buffer.concat([Buffer.from(`${entry.time} `), entry.data]) : entry.data;
}

/** `--tail`: upstream's `callback_tail` — a whole number, anything else (or out of range) means all (-1). */
export function parseTail(text: string | undefined): number {
  if (text === undefined) return -1;
  if (!/^[+-]?\d+$/.test(text.trim())) return -1;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : -1;
}

/** Events lines: `<time> <opt> <id>[ (k=v, k=v)]`. */
export function eventLine(time: string, opt: string, id: string, annotations: Record<string, string>): string {
  const annos = Object.entries(annotations).map(([k, v]) => `${k}=${v}`);
  return annos.length > 0 ? `${time} ${opt} ${id} (${annos.join(', ')})\n` : `${time} ${opt} ${id}\n`;
}
