/**
 * One stats sample of a container from its cgroup v1 controllers (the host is v1 "hybrid": controllers
 * under /sys/fs/cgroup/<ctrl>/, the v2 tree at /sys/fs/cgroup/unified has no controllers we need).
 *
 * Field meaning, as upstream iSulad fills `Container_info` (and Docker/cAdvisor compute the derived ones):
 *   pidsCurrent        pids.current
 *   cpuUseNanos        cpuacct.usage (ns)
 *   cpuUseUser/Kernel  cpuacct.stat user/system, USER_HZ ticks → ns
 *   cpuSystemUse       host CPU time from /proc/stat line "cpu": user+nice+system+idle+iowait+irq+softirq, ticks → ns
 *                      (Docker's getSystemCPUUsage; the CLI divides the container delta by this delta)
 *   onlineCpus         number of "cpuN" lines in /proc/stat
 *   blkioRead/Write    sum over devices of the "Read"/"Write" rows of blkio.throttle.io_service_bytes
 *   memUsed/memLimit   memory.usage_in_bytes / memory.limit_in_bytes
 *   kmemUsed/kmemLimit memory.kmem.usage_in_bytes / memory.kmem.limit_in_bytes (absent on newer kernels → 0)
 *   cache              memory.stat cache;  cacheTotal: total_cache
 *   inactiveFileTotal  memory.stat total_inactive_file
 *   workingsetBytes    usage - total_inactive_file (0 when negative), as cAdvisor/CRI
 *   avaliableBytes     limit - workingset (0 when negative) (the proto's spelling)
 *   rssBytes           memory.stat total_rss (rss when there is no total_rss)
 *   pageFaults         memory.stat pgfault;  majorPageFaults: pgmajfault
 * A file that is missing or unreadable counts as zero: a stopped container, a controller that is not
 * mounted, a kernel without kmem accounting must not fail `isula stats`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerInfo } from '@isula/protocol/containers';

/** `Container_info` without the fields the caller knows (id, name, status). */
export type ContainerStatsSample = Omit<ContainerInfo, 'id' | 'name' | 'status'>;

/** USER_HZ: the unit of cpuacct.stat and /proc/stat. It is part of the kernel ABI and 100 on Linux. */
export const USER_HZ = 100n;
const NS_PER_TICK = 1_000_000_000n / USER_HZ;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A non-negative decimal integer, else 0n. */
export function toBigInt(text: string | undefined): bigint {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? BigInt(t) : 0n;
}

/** "key value" lines (memory.stat, cpuacct.stat) → map. */
export function parseKeyValues(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v, extra] = line.trim().split(/\s+/);
    if (k && v !== undefined && extra === undefined && /^\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}

/** blkio io_service_bytes: "MAJ:MIN Op bytes" rows summed per Op; the trailing "Total N" row is ignored. */
export function parseBlkioServiceBytes(text: string | undefined): { read: bigint; write: bigint; rows: number } {
  let read = 0n;
  let write = 0n;
  let rows = 0;
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^\d+:\d+$/.test(f[0]) || !/^\d+$/.test(f[2])) continue;
    rows++;
    if (f[1] === 'Read') read += BigInt(f[2]);
    else if (f[1] === 'Write') write += BigInt(f[2]);
  }
  return { read, write, rows };
}

/** /proc/stat → host CPU usage (ns, Docker's sum of the first 7 fields of "cpu") and online CPUs. */
export function parseProcStat(text: string | undefined): { systemNanos: bigint; onlineCpus: number } {
  let systemNanos = 0n;
  let onlineCpus = 0;
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      let ticks = 0n;
      for (const v of f.slice(1, 8)) ticks += toBigInt(v);
      systemNanos = ticks * NS_PER_TICK;
    } else if (/^cpu\d+$/.test(f[0])) {
      onlineCpus++;
    }
  }
  return { systemNanos, onlineCpus };
}

/**
 * Relative path of the container's cgroup below each controller's mount. `cgroupsPath` is the OCI spec
 * value: "/isulad/<id>" (cgroupfs driver) or "slice:prefix:name" (systemd driver: "system.slice:isulad:<id>"
 * → "system.slice/isulad-<id>.scope", nested slices "a-b.slice" → "a.slice/a-b.slice").
 */
export function cgroupRelativePath(cgroupsPath: string): string {
  if (!cgroupsPath.startsWith('/') && /^[^:/]*:[^:/]*:[^:/]+$/.test(cgroupsPath)) {
    const [slice, prefix, name] = cgroupsPath.split(':');
    const unit = name.endsWith('.slice') ? name : `${prefix ? `${prefix}-` : ''}${name}.scope`;
    return [...expandSlice(slice || 'system.slice'), unit].join('/');
  }
  return cgroupsPath.replace(/^\/+/, '');
}

function expandSlice(slice: string): string[] {
  if (slice === '-.slice') return [];
  const base = slice.replace(/\.slice$/, '');
  const parts = base.split('-');
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
}

/** Reads one sample. `procRoot` is there for tests. */
export async function readCgroupStats(
  cgroupPath: string,
  root = '/sys/fs/cgroup',
  procRoot = '/proc',
): Promise<ContainerStatsSample> {
  const rel = cgroupRelativePath(cgroupPath);
  const ctl = (controller: string, file: string) => join(root, controller, rel, file);
  // cpuacct is its own hierarchy here; on hosts that co-mount it only "cpu,cpuacct" may exist.
  const cpuacct = async (file: string) => (await readText(ctl('cpuacct', file))) ?? readText(ctl('cpu,cpuacct', file));

  const [
    usage,
    cpuStat,
    memUsage,
    memLimit,
    memStat,
    kmemUsage,
    kmemLimit,
    blkio,
    blkioRecursive,
    pids,
    procStat,
  ] = await Promise.all([
    cpuacct('cpuacct.usage'),
    cpuacct('cpuacct.stat'),
    readText(ctl('memory', 'memory.usage_in_bytes')),
    readText(ctl('memory', 'memory.limit_in_bytes')),
    readText(ctl('memory', 'memory.stat')),
    readText(ctl('memory', 'memory.kmem.usage_in_bytes')),
    readText(ctl('memory', 'memory.kmem.limit_in_bytes')),
    readText(ctl('blkio', 'blkio.throttle.io_service_bytes')),
    readText(ctl('blkio', 'blkio.throttle.io_service_bytes_recursive')),
    readText(ctl('pids', 'pids.current')),
    readText(join(procRoot, 'stat')),
  ]);

  const cpu = parseKeyValues(cpuStat);
  const mem = parseKeyValues(memStat);
  let io = parseBlkioServiceBytes(blkio);
  if (io.rows === 0) io = parseBlkioServiceBytes(blkioRecursive);
  const host = parseProcStat(procStat);

  const memUsed = toBigInt(memUsage);
  const limit = toBigInt(memLimit);
  const inactiveFileTotal = mem.get('total_inactive_file') ?? 0n;
  const workingsetBytes = memUsed > inactiveFileTotal ? memUsed - inactiveFileTotal : 0n;
  const avaliableBytes = limit > workingsetBytes ? limit - workingsetBytes : 0n;

  return {
    pidsCurrent: toBigInt(pids),
    cpuUseNanos: toBigInt(usage),
    cpuUseUser: (cpu.get('user') ?? 0n) * NS_PER_TICK,
    cpuUseKernel: (cpu.get('system') ?? 0n) * NS_PER_TICK,
    cpuSystemUse: host.systemNanos,
    onlineCpus: host.onlineCpus,
    blkioRead: io.read,
    blkioWrite: io.write,
    memUsed,
    memLimit: limit,
    kmemUsed: toBigInt(kmemUsage),
    kmemLimit: toBigInt(kmemLimit),
    cache: mem.get('cache') ?? 0n,
    cacheTotal: mem.get('total_cache') ?? 0n,
    inactiveFileTotal,
    avaliableBytes,
    workingsetBytes,
    rssBytes: mem.get('total_rss') ?? mem.get('rss') ?? 0n,
    pageFaults: mem.get('pgfault') ?? 0n,
    majorPageFaults: mem.get('pgmajfault') ?? 0n,
  };
}
