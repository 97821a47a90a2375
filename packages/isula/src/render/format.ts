/** Sizes as upstream prints them: 1024-based, three decimals (`1.883MB`, `512B`). */
export function humanSizeDecimal(bytes: number): string {
  const kb = 1024;
  const mb = kb * 1024;
  const gb = mb * 1024;
  if (bytes >= gb) return `${(bytes / gb).toFixed(3)}GB`;
  if (bytes >= mb) return `${(bytes / mb).toFixed(3)}MB`;
  if (bytes >= kb) return `${(bytes / kb).toFixed(3)}KB`;
  return `${bytes}B`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM:SS` in local time, the layout of upstream's CREATED columns. */
export function localTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/**
 * Fixed-width columns, each `%-*s ` with a minimum width, as upstream's list commands print them
 * (every cell, the last included, is followed by one space).
 */
export function columns(header: string[], rows: string[][], minWidths: number[]): string {
  const widths = header.map((h, i) => Math.max(minWidths[i] ?? 0, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => `${c.padEnd(widths[i]!)} `).join('') + '\n';
  return line(header) + rows.map(line).join('');
}

/** `sha256:<64 hex>` or bare hex → the 12-character short id. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
