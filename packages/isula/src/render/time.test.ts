import { describe, expect, it } from 'vitest';
import { agoFromNanos, durationAgo, durationSince, humanDuration, localNanoTime, parseCliTime, parseRfc3339 } from './time';

describe('humanDuration (upstream rules)', () => {
  it.each([
    [1, '1 seconds'],
    [59, '59 seconds'],
    [60, 'About a minute'],
    [119, 'About a minute'],
    [120, '2 minutes'],
    [3599, '59 minutes'],
    [3600, 'About an hour'],
    [7199, 'About an hour'],
    [7200, '2 hours'],
    [47 * 3600, '47 hours'],
    [48 * 3600, '2 days'],
    [13 * 86400, '13 days'],
    [14 * 86400, '2 weeks'],
    [89 * 86400, '12 weeks'],
    [90 * 86400, '3 months'],
    [729 * 86400, '24 months'],
    [730 * 86400, '2 years'],
  ])('%i s -> %s', (s, text) => expect(humanDuration(s)).toBe(text));

  it('has no text for 0 or negative durations (upstream prints "-")', () => {
    expect(humanDuration(0)).toBeUndefined();
    expect(humanDuration(-5)).toBeUndefined();
  });
});

describe('parseRfc3339', () => {
  it('reads zones and nanoseconds', () => {
    expect(parseRfc3339('2024-01-02T03:04:05.5Z')).toEqual({ seconds: Date.UTC(2024, 0, 2, 3, 4, 5) / 1000, nanos: 500_000_000 });
    expect(parseRfc3339('2024-01-02T11:04:05.000000001+08:00')).toEqual({ seconds: Date.UTC(2024, 0, 2, 3, 4, 5) / 1000, nanos: 1 });
    expect(parseRfc3339('2024-01-01T22:04:05-05:00')!.seconds).toBe(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000);
  });
  it('treats the never time, "-" and junk as unknown', () => {
    expect(parseRfc3339('0001-01-01T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('-')).toBeUndefined();
    expect(parseRfc3339('yesterday')).toBeUndefined();
  });
});

describe('durationSince / durationAgo', () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5, 900);
  it('counts whole seconds', () => {
    expect(durationSince('2024-01-02T03:04:02.999Z', now)).toBe('3 seconds');
    expect(durationAgo('2024-01-02T02:59:05Z', now)).toBe('5 minutes ago');
  });
  it('gives "-" for unknown, same-second and future times', () => {
    expect(durationSince('0001-01-01T00:00:00Z', now)).toBe('-');
    expect(durationSince('2024-01-02T03:04:05.1Z', now)).toBe('-');
    expect(durationAgo('2025-01-01T00:00:00Z', now)).toBe('-');
    expect(durationAgo(undefined, now)).toBe('-');
  });
  it('ages nanosecond timestamps', () => {
    expect(agoFromNanos((now - 3_600_000) * 1e6, now)).toBe('About an hour ago');
    expect(agoFromNanos(BigInt(now - 7_200_000) * 1_000_000n, now)).toBe('2 hours ago');
  });
});

describe('localNanoTime', () => {
  it('prints local time with nanoseconds and the zone offset', () => {
    const t = { seconds: Date.UTC(2022, 4, 10, 9, 20, 34) / 1000, nanos: 661862100 };
    expect(localNanoTime(t, 480)).toBe('2022-05-10T17:20:34.661862100+08:00');
    expect(localNanoTime(t, 0)).toBe('2022-05-10T09:20:34.661862100+00:00');
    expect(localNanoTime(t, -330)).toBe('2022-05-10T03:50:34.661862100-05:30');
  });
});

describe('parseCliTime', () => {
  it('reads upstream layouts as local time', () => {
    expect(parseCliTime('2024-01-02')!.seconds).toBe(new Date(2024, 0, 2).getTime() / 1000);
    expect(parseCliTime('2024-01-02T03')!.seconds).toBe(new Date(2024, 0, 2, 3).getTime() / 1000);
    expect(parseCliTime('2024-01-02T03:04')!.seconds).toBe(new Date(2024, 0, 2, 3, 4).getTime() / 1000);
    expect(parseCliTime('2024-01-02T03:04:05.25')).toEqual({ seconds: new Date(2024, 0, 2, 3, 4, 5).getTime() / 1000, nanos: 250_000_000 });
  });
  it('reads zones and unix seconds', () => {
    expect(parseCliTime('2024-01-02T03:04:05Z')!.seconds).toBe(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000);
    expect(parseCliTime('1700000000')).toEqual({ seconds: 1700000000, nanos: 0 });
    expect(parseCliTime('1700000000.5')).toEqual({ seconds: 1700000000, nanos: 500_000_000 });
  });
  it('rejects the rest', () => {
    expect(parseCliTime('2024-13-02')).toBeUndefined();
    expect(parseCliTime('soon')).toBeUndefined();
    expect(parseCliTime('2024-01-02T03:04:05:06')).toBeUndefined();
  });
});
