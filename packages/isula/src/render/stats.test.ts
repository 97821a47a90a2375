import { describe, expect, it } from 'vitest';
import { cpuPercent, humanizeSize, renderStats, statsHeader, statsLine, TERM_CLEAR, type StatsSample } from './stats';

const sample = (over: Partial<StatsSample> = {}): StatsSample => ({
  id: 'b'.repeat(64),
  pidsCurrent: 3n,
  cpuUseNanos: 1_000_000_000n,
  cpuSystemUse: 100_000_000_000n,
  onlineCpus: 4,
  blkioRead: 0n,
  blkioWrite: 4096n,
  memUsed: 1_572_864n,
  memLimit: 2n * 1024n * 1024n * 1024n,
  ...over,
});

describe('humanizeSize', () => {
  it.each([
    [0n, '0.00 B'],
    [1024n, '1024.00 B'],
    [1025n, '1.00 KiB'],
    [1536n, '1.50 KiB'],
    [4096n, '4.00 KiB'],
    [1_572_864n, '1.50 MiB'],
    [1024n * 1024n * 1024n, '1024.00 MiB'],
    [3n * 512n * 1024n * 1024n, '1.49 GiB'], // upstream truncates (536870912 / 10737419),
  ])('%s -> %s', (v, text) => expect(humanizeSize(v)).toBe(text));
});

describe('stats lines', () => {
  it('computes CPU % from the previous sample', () => {
    const prev = sample();
    const cur = sample({ cpuUseNanos: 2_000_000_000n, cpuSystemUse: 200_000_000_000n });
    expect(cpuPercent(cur, prev)).toBeCloseTo(4);
    expect(cpuPercent(cur, undefined)).toBe(0);
  });

  it('lays out a line as %-16s %-10.2f %-26s %-10.2f %-26s %-10llu', () => {
    expect(statsLine(sample(), undefined)).toBe(
      `${'bbbbbbbbbbbb'.padEnd(16)} ${'0.00'.padEnd(10)} ${'1.50 MiB / 2.00 GiB'.padEnd(26)} ${'0.07'.padEnd(10)} ${'0.00 B / 4.00 KiB'.padEnd(26)} ${'3'.padEnd(10)}\n`,
    );
  });

  it('styles and clears only on a terminal', () => {
    expect(statsHeader(false)).toBe(`${'CONTAINER'.padEnd(16)} ${'CPU %'.padEnd(10)} ${'MEM USAGE / LIMIT'.padEnd(26)} ${'MEM %'.padEnd(10)} ${'BLOCK I / O'.padEnd(26)} ${'PIDS'.padEnd(10)}\n`);
    expect(renderStats([sample()], undefined, true).startsWith(`${TERM_CLEAR}\x1b[7m\x1b[1mCONTAINER`)).toBe(true);
    expect(renderStats([], undefined, false)).toBe(statsHeader(false));
  });
});
