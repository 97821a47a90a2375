import { describe, expect, it } from 'vitest';
import { formatAnnotations, formatEventLine, formatEventTime } from './format';

// 2026-11-27T07:55:01Z
const SECONDS = BigInt(Date.UTC(2026, 10, 27, 7, 55, 1) / 1000);
const ID = 'a'.repeat(64);

describe('formatEventTime (upstream util_get_time_buffer)', () => {
  it('local time with 9-digit nanoseconds and ±HH:MM', () => {
    const ts = { seconds: SECONDS, nanos: 123456789 };
    expect(formatEventTime(ts, { utcOffsetMinutes: 480 })).toBe('2026-11-27T15:55:01.123456789+08:00');
    expect(formatEventTime(ts, { utcOffsetMinutes: 0 })).toBe('2026-11-27T07:55:01.123456789+00:00');
    expect(formatEventTime(ts, { utcOffsetMinutes: -330 })).toBe('2026-11-27T02:25:01.123456789-05:30');
    expect(formatEventTime({ seconds: Number(SECONDS), nanos: 5 }, { utcOffsetMinutes: 0 })).toBe(
      '2026-11-27T07:55:01.000000005+00:00',
    );
  });
  it('crosses the date line', () => {
    expect(formatEventTime({ seconds: SECONDS, nanos: 0 }, { utcOffsetMinutes: 17 * 60 })).toBe(
      '2026-11-28T00:55:01.000000000+17:00',
    );
  });
  it('defaults to the process time zone', () => {
    const s = formatEventTime({ seconds: SECONDS, nanos: 0 });
    expect(s).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000000000[+-]\d{2}:\d{2}$/);
    const off = -new Date(Number(SECONDS) * 1000).getTimezoneOffset();
    expect(s).toBe(formatEventTime({ seconds: SECONDS, nanos: 0 }, { utcOffsetMinutes: off }));
  });
  it('no timestamp → "-"', () => {
    expect(formatEventTime(undefined)).toBe('-');
    expect(formatEventTime({ seconds: 0n, nanos: 5 })).toBe('-');
  });
});

describe('formatEventLine', () => {
  it('upstream layout with annotations in the order received', () => {
    const line = formatEventLine(
      {
        timestamp: { seconds: SECONDS, nanos: 1 },
        opt: 'container start',
        id: ID,
        annotations: { pid: '4242', image: 'busybox', name: 'x' },
      },
      { utcOffsetMinutes: 480 },
    );
    expect(line).toBe(`2026-11-27T15:55:01.000000001+08:00 container start ${ID} (pid=4242, image=busybox, name=x)`);
  });
  it('no annotations → no parentheses, no trailing space', () => {
    expect(formatEventLine({ timestamp: { seconds: SECONDS, nanos: 0 }, opt: 'image pull', id: 'busybox:latest' }, { utcOffsetMinutes: 0 })).toBe(
      '2026-11-27T07:55:01.000000000+00:00 image pull busybox:latest',
    );
    expect(formatAnnotations({})).toBe('');
  });
  it('opt with arguments is printed verbatim', () => {
    expect(formatEventLine({ opt: 'container exec_create: sh -c ls', id: ID, annotations: { exitCode: '0' } })).toBe(
      `- container exec_create: sh -c ls ${ID} (exitCode=0)`,
    );
  });
});
