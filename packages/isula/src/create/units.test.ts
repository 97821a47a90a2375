import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDurationNanos, parseMemBytes, parseMemSwapBytes, parseNanoCpus, parseSwappiness } from './units';
import { usageErrorOf } from './test-util';

describe('parseByteSize', () => {
  it.each([
    ['0', 0],
    ['512', 512],
    ['10b', 10],
    ['1k', 1024],
    ['1KB', 1024],
    ['1kib', 1024],
    ['64m', 64 * 1024 * 1024],
    ['64MB', 64 * 1024 * 1024],
    ['1g', 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2t', 2 * 1024 ** 4],
  ])('%s → %d', (text, bytes) => {
    expect(parseByteSize(text)).toEqual({ ok: true, value: bytes });
  });

  it.each(['', 'x', '-1', '1x', '.5m', '1.m', 'm', '1 m', '99999999999999999999'])('rejects %j', (text) => {
    expect(parseByteSize(text).ok).toBe(false);
  });
});

describe('memory flags', () => {
  it('parses with units', () => {
    expect(parseMemBytes('memory', '128m')).toBe(134217728);
  });
  it('upstream error text', () => {
    expect(usageErrorOf(() => parseMemBytes('memory', 'abc'))).toBe('Invalid value "abc" for flag --memory');
    expect(usageErrorOf(() => parseMemBytes('shm-size', '-5'))).toBe('Invalid value "-5" for flag --shm-size');
  });
  it('memory-swap accepts -1', () => {
    expect(parseMemSwapBytes('memory-swap', '-1')).toBe(-1);
    expect(parseMemSwapBytes('memory-swap', '1g')).toBe(1024 ** 3);
    expect(usageErrorOf(() => parseMemSwapBytes('memory-swap', '-2'))).toBe('Invalid value "-2" for flag --memory-swap');
  });
  it('swappiness 0..100 or -1', () => {
    expect(parseSwappiness('memory-swappiness', '60')).toBe(60);
    expect(parseSwappiness('memory-swappiness', '-1')).toBe(-1);
    expect(usageErrorOf(() => parseSwappiness('memory-swappiness', '101'))).toBe(
      'Invalid value "101" for flag --memory-swappiness. Valid memory swappiness range is 0-100',
    );
  });
});

describe('--cpus', () => {
  it.each([
    ['1', 1e9],
    ['0.5', 5e8],
    ['1.25', 1.25e9],
  ])('%s → %d nano CPUs', (text, n) => {
    expect(parseNanoCpus('cpus', text)).toBe(n);
  });
  it.each(['-1', 'abc', '.5', '1.', '1e3'])('rejects %j', (text) => {
    expect(usageErrorOf(() => parseNanoCpus('cpus', text))).toBe(`Invalid value "${text}" for flag --cpus`);
  });
});

describe('durations', () => {
  it.each([
    ['0', 0],
    ['30s', 30e9],
    ['1m30s', 90e9],
    ['500ms', 5e8],
    ['1.5h', 5400e9],
    ['2h1m', 7260e9],
    ['10us', 1e4],
    ['7ns', 7],
  ])('%s → %d ns', (text, ns) => {
    expect(parseDurationNanos(text)).toBe(ns);
  });
  it.each(['', '30', 's', '-1s', '1x', '1m30'])('rejects %j', (text) => {
    expect(parseDurationNanos(text)).toBeUndefined();
  });
});
