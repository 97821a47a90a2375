import { stat } from 'node:fs/promises';
import type { HostConfig } from '@isula/protocol';
import { ULIMIT_TYPES } from '../../config/ulimit';
import { parseByteSize } from '../../config/units';
import {
  SpecError,
  type DaemonUlimit,
  type DeviceInfo,
  type HostLimits,
  type OciDevice,
  type OciDeviceCgroup,
  type OciResources,
  type OciRlimit,
  type OciThrottleDevice,
  type StatDevice,
} from './types';

const MIN_MEMORY = 4 * 1024 * 1024;
const NANO = 1e9;
const DEFAULT_CFS_PERIOD = 100000;

// ---------------------------------------------------------------------------------------------
// ulimits
// ---------------------------------------------------------------------------------------------

export interface UlimitValue {
  name: string;
  soft: number;
  hard: number;
}

/** Unlimited (RLIM_INFINITY) as JSON can carry it for runc. */
export const RLIM_INFINITY = Number.MAX_SAFE_INTEGER;

/**
 * `hostConfig.Ulimits` first, then the daemon's `default-ulimits` for names not given, each
 * soft/hard clamped to the host hard limit the caller passes (runc cannot raise a hard limit above
 * its own: setrlimit needs CAP_SYS_RESOURCE). Negative values mean unlimited.
 */
export function buildRlimits(
  container: readonly { Name?: string; Soft?: number; Hard?: number }[] | undefined,
  defaults: Record<string, DaemonUlimit> | readonly DaemonUlimit[] | undefined,
  host: HostLimits,
): OciRlimit[] {
  const merged = new Map<string, UlimitValue>();
  for (const u of container ?? []) {
    const name = (u.Name ?? '').trim().toLowerCase().replace(/^rlimit_/, '');
    if (!(ULIMIT_TYPES as readonly string[]).includes(name)) throw new SpecError(`Invalid ulimit type: ${u.Name ?? ''}`);
    const soft = u.Soft ?? 0;
    const hard = u.Hard ?? soft;
    merged.set(name, { name, soft, hard });
  }
  const defaultList: [string, DaemonUlimit][] = Array.isArray(defaults)
    ? (defaults as readonly DaemonUlimit[]).map((u) => [u.name, u])
    : Object.entries((defaults ?? {}) as Record<string, DaemonUlimit>);
  for (const [key, u] of defaultList) {
    const name = (u.name || key).toLowerCase();
    if (!merged.has(name)) merged.set(name, { name, soft: u.soft, hard: u.hard });
  }
  const out: OciRlimit[] = [];
  for (const u of merged.values()) {
    let hard = u.hard < 0 ? RLIM_INFINITY : u.hard;
    let soft = u.soft < 0 ? RLIM_INFINITY : u.soft;
    if (soft > hard) throw new SpecError(`Ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
    const max = host[u.name];
    if (typeof max === 'number' && max >= 0) {
      hard = Math.min(hard, max);
      soft = Math.min(soft, hard);
    }
    out.push({ type: `RLIMIT_${u.name.toUpperCase()}`, hard, soft });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// devices
// ---------------------------------------------------------------------------------------------

/** Major/minor of a Linux dev_t (glibc's gnu_dev_major/minor). */
export function splitDevNumber(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** Default {@link StatDevice}: `stat` (following symlinks) of a host device node. */
export const statDevice: StatDevice = async (path: string): Promise<DeviceInfo> => {
  const st = await stat(path, { bigint: true });
  const fmt = Number(st.mode) & 0o170000;
  const type = fmt === 0o020000 ? 'c' : fmt === 0o060000 ? 'b' : fmt === 0o010000 ? 'p' : undefined;
  if (!type) throw new Error('not a device node');
  return { type, ...splitDevNumber(st.rdev), mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) };
};

async function deviceNumbers(path: string, statDev: StatDevice, what: string): Promise<DeviceInfo> {
  try {
    return await statDev(path);
  } catch (err) {
    throw new SpecError(`Failed to get device information of ${what} "${path}": ${(err as Error).message}`);
  }
}

export interface DeviceResult {
  devices: OciDevice[];
  rules: OciDeviceCgroup[];
}

/** Parses `/dev/x[:/dev/y][:rwm]` (the CLI form). */
export function parseDeviceString(text: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = text.split(':');
  const isMode = (s: string) => /^[rwm]{1,3}$/.test(s);
  let host = parts[0] ?? '';
  let container = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (isMode(parts[1]!)) perms = parts[1]!;
    else container = parts[1]!;
  } else if (parts.length === 3) {
    container = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length > 3) {
    throw new SpecError(`Invalid device specification: ${text}`);
  }
  if (host === '') throw new SpecError(`Invalid device specification: ${text}`);
  host = host.trim();
  return { PathOnHost: host, PathInContainer: container || host, CgroupPermissions: perms };
}

/** `--device` entries → device nodes + cgroup allow rules. */
export async function buildDevices(
  list: readonly (NonNullable<HostConfig['Devices']>[number] | string)[] | undefined,
  statDev: StatDevice,
): Promise<DeviceResult> {
  const devices: OciDevice[] = [];
  const rules: OciDeviceCgroup[] = [];
  for (const entry of list ?? []) {
    const d = typeof entry === 'string' ? parseDeviceString(entry) : entry;
    const hostPath = d.PathOnHost ?? '';
    if (hostPath === '') throw new SpecError('Invalid device: empty host path');
    const ctrPath = d.PathInContainer || hostPath;
    const perms = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw new SpecError(`Invalid device mode: ${perms}`);
    if (!ctrPath.startsWith('/')) throw new SpecError(`Invalid device path in container: ${ctrPath}`);
    const info = await deviceNumbers(hostPath, statDev, 'device');
    devices.push({ type: info.type, path: ctrPath, major: info.major, minor: info.minor, fileMode: info.mode, uid: info.uid, gid: info.gid });
    rules.push({ allow: true, type: info.type, major: info.major, minor: info.minor, access: perms });
  }
  return { devices, rules };
}

/** `--device-cgroup-rule 'c 1:3 rwm'` (`*` for any major/minor, type a|b|c). */
export function parseDeviceCgroupRule(text: string): OciDeviceCgroup {
  const m = /^([abc])\s+(\d+|\*):(\d+|\*)\s+([rwm]{1,3})$/.exec(text.trim());
  if (!m) throw new SpecError(`Invalid device cgroup rule: ${text}`);
  const rule: OciDeviceCgroup = { allow: true, type: m[1]!, access: m[4]! };
  if (m[2] !== '*') rule.major = Number(m[2]);
  if (m[3] !== '*') rule.minor = Number(m[3]);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// cgroup resources
// ---------------------------------------------------------------------------------------------

const num = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** `2MB`, `2m`, `1GB`, `` (default 2MB) → the `<n>KB|MB|GB` form runc's hugetlb controller uses. */
export function normalizeHugePageSize(text: string | undefined): string {
  if (!text) return '2MB';
  const bytes = parseByteSize(text);
  if (Number.isNaN(bytes) || bytes <= 0) throw new SpecError(`Invalid hugepage size: ${text}`);
  const units: [number, string][] = [
    [1024 ** 3, 'GB'],
    [1024 ** 2, 'MB'],
    [1024, 'KB'],
  ];
  for (const [size, unit] of units) if (bytes % size === 0) return `${bytes / size}${unit}`;
  throw new SpecError(`Invalid hugepage size: ${text}`);
}

export interface ResourceOptions {
  statDevice: StatDevice;
  /** Host has swap accounting: Memory without MemorySwap then gets swap = 2 × memory (upstream). */
  swapAccounting?: boolean;
}

async function throttle(
  list: readonly { Path?: string; Rate?: number }[] | undefined,
  statDev: StatDevice,
): Promise<OciThrottleDevice[] | undefined> {
  if (!list || list.length === 0) return undefined;
  const out: OciThrottleDevice[] = [];
  for (const d of list) {
    const info = await deviceNumbers(d.Path ?? '', statDev, 'blkio device');
    out.push({ major: info.major, minor: info.minor, rate: num(d.Rate) });
  }
  return out;
}

/** HostConfig resources → `linux.resources` (devices not included). */
export async function buildResources(hc: HostConfig, opts: ResourceOptions): Promise<OciResources> {
  const res: OciResources = {};

  // memory
  const memory = num(hc.Memory);
  let swap = num(hc.MemorySwap);
  const reservation = num(hc.MemoryReservation);
  const kernel = num(hc.KernelMemory);
  if (memory < 0) throw new SpecError(`Invalid memory limit: ${memory}`);
  if (memory > 0 && memory < MIN_MEMORY) throw new SpecError('Minimum memory limit allowed is 4MB');
  if (kernel > 0 && kernel < MIN_MEMORY) throw new SpecError('Minimum kernel memory limit allowed is 4MB');
  if (reservation > 0 && reservation < MIN_MEMORY) throw new SpecError('Minimum memory reservation allowed is 4MB');
  if (memory > 0 && reservation > memory) {
    throw new SpecError('Minimum memory limit should be larger than memory reservation limit, see usage');
  }
  if (memory === 0 && swap > 0) throw new SpecError('You should always set the Memory limit when using Memoryswap limit, see usage.');
  if (memory > 0 && swap > 0 && swap < memory) {
    throw new SpecError('Minimum memoryswap limit should be larger than memory limit, see usage.');
  }
  if (memory > 0 && swap === 0 && opts.swapAccounting) swap = memory * 2;
  const swappiness = hc.MemorySwappiness;
  if (typeof swappiness === 'number' && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new SpecError(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const mem: NonNullable<OciResources['memory']> = {};
  if (memory > 0) mem.limit = memory;
  if (reservation > 0) mem.reservation = reservation;
  if (swap !== 0) mem.swap = swap;
  if (kernel > 0) mem.kernel = kernel;
  if (typeof swappiness === 'number' && swappiness >= 0) mem.swappiness = swappiness;
  if (hc.OomKillDisable) mem.disableOOMKiller = true;
  if (Object.keys(mem).length > 0) res.memory = mem;

  // cpu
  const cpu: NonNullable<OciResources['cpu']> = {};
  const shares = num(hc.CPUShares);
  const period = num(hc.CPUPeriod);
  const quota = num(hc.CPUQuota);
  const nano = num(hc.NanoCpus);
  if (shares < 0) throw new SpecError(`Invalid CPU shares: ${shares}`);
  if (nano > 0 && period > 0) throw new SpecError('Conflicting options: Nano CPUs and CPU Period cannot both be set.');
  if (nano > 0 && quota > 0) throw new SpecError('Conflicting options: Nano CPUs and CPU Quota cannot both be set.');
  if (nano < 0) throw new SpecError(`Invalid value: ${nano}, NanoCpus must be positive`);
  if (period !== 0 && (period < 1000 || period > 1000000)) throw new SpecError('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw new SpecError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (shares > 0) cpu.shares = shares;
  if (nano > 0) {
    cpu.period = DEFAULT_CFS_PERIOD;
    cpu.quota = Math.floor((nano * DEFAULT_CFS_PERIOD) / NANO);
  } else {
    if (period > 0) cpu.period = period;
    if (quota !== 0) cpu.quota = quota;
  }
  const rtPeriod = num(hc.CPURealtimePeriod);
  const rtRuntime = num(hc.CPURealtimeRuntime);
  if (rtPeriod > 0 && rtRuntime > rtPeriod) throw new SpecError('cpu-rt-runtime cannot be higher than cpu-rt-period');
  if (rtPeriod > 0) cpu.realtimePeriod = rtPeriod;
  if (rtRuntime !== 0) cpu.realtimeRuntime = rtRuntime;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length > 0) res.cpu = cpu;

  // pids
  const pids = num(hc.PidsLimit);
  if (pids !== 0) res.pids = { limit: pids < 0 ? -1 : pids };

  // blkio
  const blk: NonNullable<OciResources['blockIO']> = {};
  const weight = num(hc.BlkioWeight);
  if (weight !== 0 && (weight < 10 || weight > 1000)) throw new SpecError('Range of blkio weight is from 10 to 1000');
  if (weight > 0) blk.weight = weight;
  if (hc.BlkioWeightDevice && hc.BlkioWeightDevice.length > 0) {
    blk.weightDevice = [];
    for (const d of hc.BlkioWeightDevice) {
      const w = num(d.Weight);
      if (w !== 0 && (w < 10 || w > 1000)) throw new SpecError(`Invalid weight for device: ${d.Path ?? ''}:${w}`);
      const info = await deviceNumbers(d.Path ?? '', opts.statDevice, 'blkio device');
      blk.weightDevice.push({ major: info.major, minor: info.minor, weight: w });
    }
  }
  const rbps = await throttle(hc.BlkioDeviceReadBps, opts.statDevice);
  const wbps = await throttle(hc.BlkioDeviceWriteBps, opts.statDevice);
  const riops = await throttle(hc.BlkioDeviceReadIops, opts.statDevice);
  const wiops = await throttle(hc.BlkioDeviceWriteIops, opts.statDevice);
  if (rbps) blk.throttleReadBpsDevice = rbps;
  if (wbps) blk.throttleWriteBpsDevice = wbps;
  if (riops) blk.throttleReadIOPSDevice = riops;
  if (wiops) blk.throttleWriteIOPSDevice = wiops;
  if (Object.keys(blk).length > 0) res.blockIO = blk;

  // hugetlb
  if (hc.Hugetlbs && hc.Hugetlbs.length > 0) {
    res.hugepageLimits = hc.Hugetlbs.map((h) => ({ pageSize: normalizeHugePageSize(h.PageSize), limit: num(h.Limit) }));
  }
  return res;
}
