import { describe, expect, it } from 'vitest';
import { eventLine, logLine, parseTail } from './logs';

describe('logs rendering', () => {
  it('prefixes the time with -t', () => {
    const e = { data: Buffer.from('hi\n'), time: '2024-01-02T03:04:05.000000001Z' };
    expect(logLine(e, false).toString()).toBe('hi\n');
    expect(logLine(e, true).toString()).toBe('2024-01-02T03:04:05.000000001Z hi\n');
  });
  it('reads --tail like upstream (non numbers = all)', () => {
    expect(parseTail(undefined)).toBe(-1);
    expect(parseTail('5')).toBe(5);
    expect(parseTail('all')).toBe(-1);
    expect(parseTail('3x')).toBe(-1);
    expect(parseTail('0')).toBe(0);
  });
});

describe('eventLine', () => {
  it('prints annotations in parentheses', () => {
    expect(eventLine('T', 'container start', 'abc', { image: 'busybox', name: 'c1' })).toBe('T container start abc (image=busybox, name=c1)\n');
    expect(eventLine('T', 'container die', 'abc', {})).toBe('T container die abc\n');
  });
});
