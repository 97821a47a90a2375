import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cgroupRelativePath,
  parseBlkioServiceBytes,
  parseKeyValues,
  parseProcStat,
  readCgroupStats,
  toBigInt,
} from './cgroup-v1';

const ID = 'c0ffee'.padEnd(64, '0');
let root: string;
let proc: string;

beforeEach(async () => {
  const top = await mkdtemp(join(tmpdir(), 'isulad-stats-'));
  root = join(top, 'cgroup');
  proc = join(top, 'proc');
});
afterEach(async () => {
  await rm(dirname(root), { recursive: true, force: true });
});

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

const PROC_STAT = `cpu  100 5 50 1000 10 1 2 7 0 0
cpu0 50 2 25 500 5 1 1 3 0 0
cpu1 50 3 25 500 5 0 1 4 0 0
intr 12345
ctxt 999
btime 1700000000
`;

const MEMORY_STAT = `cache 4096
rss 8192
rss_huge 0
pgfault 321
pgmajfault 7
inactive_file 1024
total_cache 5000
total_rss 9000
total_inactive_file 2000
`;

const BLKIO = `8:0 Read 1000
8:0 Write 200
8:0 Sync 1200
8:0 Async 0
8:0 Discard 0
8:0 Total 1200
8:16 Read 30
8:16 Write 4
8:16 Total 34
Total 1234
`;

async function fakeContainer(rel = `isulad/${ID}`): Promise<void> {
  await put(join(root, 'cpuacct', rel, 'cpuacct.usage'), '123456789\n');
  await put(join(root, 'cpuacct', rel, 'cpuacct.stat'), 'user 12\nsystem 3\n');
  await put(join(root, 'memory', rel, 'memory.usage_in_bytes'), '10000\n');
  await put(join(root, 'memory', rel, 'memory.limit_in_bytes'), '9223372036854771712\n');
  await put(join(root, 'memory', rel, 'memory.stat'), MEMORY_STAT);
  await put(join(root, 'memory', rel, 'memory.kmem.usage_in_bytes'), '512\n');
  await put(join(root, 'memory', rel, 'memory.kmem.limit_in_bytes'), '9223372036854771712\n');
  await put(join(root, 'blkio', rel, 'blkio.throttle.io_service_bytes'), BLKIO);
  await put(join(root, 'pids', rel, 'pids.current'), '3\n');
  await put(join(proc, 'stat'), PROC_STAT);
}

describe('readCgroupStats', () => {
  it('maps every cgroup v1 file to the Container_info fields', async () => {
    await fakeContainer();
    const s = await readCgroupStats(`/isulad/${ID}`, root, proc);
    expect(s).toEqual({
      pidsCurrent: 3n,
      cpuUseNanos: 123456789n,
      cpuUseUser: 120_000_000n,
      cpuUseKernel: 30_000_000n,
      cpuSystemUse: (100n + 5n + 50n + 1000n + 10n + 1n + 2n) * 10_000_000n,
      onlineCpus: 2,
      blkioRead: 1030n,
      blkioWrite: 204n,
      memUsed: 10000n,
      memLimit: 9223372036854771712n,
      kmemUsed: 512n,
      kmemLimit: 9223372036854771712n,
      cache: 4096n,
      cacheTotal: 5000n,
      inactiveFileTotal: 2000n,
      avaliableBytes: 9223372036854771712n - 8000n,
      workingsetBytes: 8000n,
      rssBytes: 9000n,
      pageFaults: 321n,
      majorPageFaults: 7n,
    });
  });

  it('missing files are zeros, not errors', async () => {
    const s = await readCgroupStats('/isulad/nope', root, proc);
    for (const [k, v] of Object.entries(s)) expect([k, v]).toEqual([k, k === 'onlineCpus' ? 0 : 0n]);
  });

  it('falls back to cpu,cpuacct and to the _recursive blkio file; working set never negative', async () => {
    const rel = `isulad/${ID}`;
    await put(join(root, 'cpu,cpuacct', rel, 'cpuacct.usage'), '42\n');
    await put(join(root, 'blkio', rel, 'blkio.throttle.io_service_bytes'), 'Total 0\n');
    await put(join(root, 'blkio', rel, 'blkio.throttle.io_service_bytes_recursive'), '8:0 Read 5\n8:0 Write 6\nTotal 11\n');
    await put(join(root, 'memory', rel, 'memory.usage_in_bytes'), '100\n');
    await put(join(root, 'memory', rel, 'memory.limit_in_bytes'), '50\n');
    await put(join(root, 'memory', rel, 'memory.stat'), 'total_inactive_file 300\nrss 77\n');
    const s = await readCgroupStats(`/${rel}`, root, proc);
    expect(s.cpuUseNanos).toBe(42n);
    expect([s.blkioRead, s.blkioWrite]).toEqual([5n, 6n]);
    expect(s.workingsetBytes).toBe(0n);
    expect(s.avaliableBytes).toBe(50n);
    expect(s.rssBytes).toBe(77n); // no total_rss
  });

  it('reads systemd-driver cgroups paths', async () => {
    await fakeContainer(`system.slice/isulad-${ID}.scope`);
    const s = await readCgroupStats(`system.slice:isulad:${ID}`, root, proc);
    expect(s.pidsCurrent).toBe(3n);
    expect(s.memUsed).toBe(10000n);
  });
});

describe('parsers', () => {
  it('cgroupRelativePath', () => {
    expect(cgroupRelativePath(`/isulad/${ID}`)).toBe(`isulad/${ID}`);
    expect(cgroupRelativePath('isulad/x')).toBe('isulad/x');
    expect(cgroupRelativePath('system.slice:isulad:x')).toBe('system.slice/isulad-x.scope');
    expect(cgroupRelativePath('machine-pod1.slice:isulad:x')).toBe('machine.slice/machine-pod1.slice/isulad-x.scope');
    expect(cgroupRelativePath(':isulad:x')).toBe('system.slice/isulad-x.scope');
    expect(cgroupRelativePath('-.slice::x')).toBe('x.scope');
  });
  it('toBigInt', () => {
    expect(toBigInt(' 12\n')).toBe(12n);
    expect(toBigInt('max')).toBe(0n);
    expect(toBigInt('-1')).toBe(0n);
    expect(toBigInt(undefined)).toBe(0n);
  });
  it('parseKeyValues ignores odd lines', () => {
    expect([...parseKeyValues('a 1\nb x\nc 2 3\n\nd 4')]).toEqual([
      ['a', 1n],
      ['d', 4n],
    ]);
  });
  it('parseBlkioServiceBytes', () => {
    expect(parseBlkioServiceBytes(BLKIO)).toEqual({ read: 1030n, write: 204n, rows: 9 });
    expect(parseBlkioServiceBytes('Total 0\n')).toEqual({ read: 0n, write: 0n, rows: 0 });
  });
  it('parseProcStat', () => {
    expect(parseProcStat(PROC_STAT)).toEqual({ systemNanos: 11_680_000_000n, onlineCpus: 2 });
    expect(parseProcStat('')).toEqual({ systemNanos: 0n, onlineCpus: 0 });
  });
  it('reads the real host (smoke: no throw, sane /proc/stat)', async () => {
    const s = await readCgroupStats('/definitely-not-a-cgroup');
    expect(s.onlineCpus).toBeGreaterThan(0);
    expect(s.cpuSystemUse).toBeGreaterThan(0n);
    expect(s.memUsed).toBe(0n);
  });
});
