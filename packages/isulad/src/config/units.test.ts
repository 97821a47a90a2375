import { describe, expect, it } from 'vitest';
import { parseByteSize, parseOctalMode } from './units';

describe('parseByteSize (powers of 1024, case-insensitive, optional b / ib)', () => {
  it.each<[string, number]>([
    ['30KB', 30 * 1024],
    ['1MB', 1024 * 1024],
    ['4k', 4096],
    ['4K', 4096],
    ['4kb', 4096],
    ['4KiB', 4096],
    ['512', 512],
    ['512b', 512],
    ['512B', 512],
    ['0', 0],
    ['1.5g', Math.floor(1.5 * 1024 ** 3)],
    ['1.5G', Math.floor(1.5 * 1024 ** 3)],
    ['1mb', 1024 * 1024],
    ['1MiB', 1024 * 1024],
    ['2t', 2 * 1024 ** 4],
    ['1p', 1024 ** 5],
    ['0.5k', 512],
    [' 7 m ', 7 * 1024 * 1024],
  ])('%j → %i', (text, want) => {
    expect(parseByteSize(text)).toBe(want);
  });

  it.each(['abc', '', ' ', 'MB', '1x', '1KBB', '-1', '1,5m', '1e3', 'iB', '5iB', '1.m', '.5m', '1 2'])('%j → NaN', (text) => {
    expect(parseByteSize(text)).toBeNaN();
  });
});

describe('parseOctalMode (the spec: octal like 0666)', () => {
  it.each<[string, number]>([
    ['0600', 0o600],
    ['0666', 0o666],
    ['0640', 0o640],
    ['0644', 0o644],
    ['0700', 0o700],
    ['0000', 0],
    ['00', 0],
    ['07', 0o7],
    ['07777', 0o7777],
  ])('%j → 0o%o', (text, want) => {
    expect(parseOctalMode(text)).toBe(want);
  });

  it.each(['600', '666', 'abc', '', '0', '0999', '0800', '0x1ff', '0o600', '077777', ' 0600', '0600 ', '-0600', '0600a'])('%j → NaN', (text) => {
    expect(parseOctalMode(text)).toBeNaN();
  });
});
