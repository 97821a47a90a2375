/**
 * How `isula events` prints one event: upstream's format (src/cmd/isula/extend/events.c,
 * print_events_callback + util_get_time_buffer), not Docker's:
 *
 *   <time> <opt> <id>[ (<k>=<v>, <k>=<v>, …)]
 *
 *   2026-11-27T15:55:01.123456789+08:00 container start 3f2a…c9 (pid=4242, image=busybox, name=x)
 *
 * - time: the event timestamp in the client's *local* time zone, seconds then always 9 digits of
 *   nanoseconds, then the UTC offset as ±HH:MM (never "Z": UTC prints "+00:00"). An event without a
 *   timestamp (seconds == 0, as upstream's has_seconds) prints "-".
 * - opt: verbatim from the wire; the daemon sends "container <action>" ("container exec_create: sh",
 *   "image pull"), see bus.ts `toWireEvent`.
 * - annotations: "key=value" joined by ", " inside parentheses, in the order received; nothing (not
 *   even the space) when there are none.
 * Pure: no daemon imports, so the CLI can use it.
 */

export interface PrintableEvent {
  timestamp?: { seconds: bigint | number; nanos: number } | undefined;
  opt: string;
  id: string;
  annotations?: { [key: string]: string };
}

export interface FormatEventOptions {
  /**
   * Offset of the time zone to print in, minutes east of UTC (+480 for UTC+8). Default: the local
   * zone at that instant (as localtime_r).
   */
  utcOffsetMinutes?: number;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Upstream's util_get_time_buffer: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn±HH:MM", or "-" without seconds. */
export function formatEventTime(
  ts: PrintableEvent['timestamp'],
  opts: FormatEventOptions = {},
): string {
  if (!ts || Number(ts.seconds) === 0) return '-';
  const ms = Number(ts.seconds) * 1000;
  const offset = opts.utcOffsetMinutes ?? -new Date(ms).getTimezoneOffset();
  const d = new Date(ms + offset * 60_000);
  const abs = Math.abs(offset);
  const nanos = Math.min(Math.max(Math.trunc(ts.nanos || 0), 0), 999_999_999);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` +
    `.${pad(nanos, 9)}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** "(k=v, k2=v2)" or "" when there are no annotations. */
export function formatAnnotations(annotations: PrintableEvent['annotations']): string {
  const parts = Object.entries(annotations ?? {}).map(([k, v]) => `${k}=${v}`);
  return parts.length ? `(${parts.join(', ')})` : '';
}

/** One output line, without the trailing newline. */
export function formatEventLine(ev: PrintableEvent, opts: FormatEventOptions = {}): string {
  const anno = formatAnnotations(ev.annotations);
  const head = `${formatEventTime(ev.timestamp, opts)} ${ev.opt} ${ev.id}`;
  return anno ? `${head} ${anno}` : head;
}
