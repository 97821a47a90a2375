import type { BlkioDevice, BlkioWeightDevice, DeviceMapping, HostChannel, HugetlbLimit, Ulimit } from '@isula/protocol';
import { invalidArg, invalidValue } from './errors';
import { safeInt64, safeUint32, safeUint64 } from './numbers';
import { parseByteSize } from './units';

// ---------------------------------------------------------------------------------------------
// ulimits (client pack_config: parse_ulimit)

/** Ulimit types upstream accepts (`as` is deliberately not supported). */
export const ULIMIT_TYPES = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice',
  'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
] as const;

/** Parse `type=soft[:hard]` (hard defaults to soft). */
export function parseUlimit(val: string): Ulimit {
  if (val === '') return invalidArg("ulimit argument can't be empty");
  if (val.startsWith('=') || val.endsWith('=')) {
    return invalidArg(`Invalid ulimit argument: "${val}", delimiter '=' can't be the first or the last character`);
  }
  const parts = val.split('=');
  if (parts.length !== 2) return invalidArg(`Invalid ulimit argument: ${val}`);
  const [name, limits] = parts as [string, string];
  if (!(ULIMIT_TYPES as readonly string[]).includes(name)) return invalidArg(`Invalid ulimit type: ${name}`);
  if (limits.startsWith(':') || limits.endsWith(':')) {
    return invalidArg(`Invalid ulimit value: "${val}", delimiter ':' can't be the first or the last character`);
  }
  const nums = limits.split(':');
  if (nums.length > 2) {
    return invalidArg(`Too many limit value arguments - ${limits}, can only have up to two, \`soft[:hard]\``);
  }
  const soft = safeInt64(nums[0]!);
  if (!soft.ok) return invalidArg(`Invalid ulimit soft value: "${val}", parse int64 failed: ${soft.error}`);
  let hard = soft.value;
  if (nums.length > 1) {
    const h = safeInt64(nums[1]!);
    if (!h.ok) return invalidArg(`Invalid ulimit hard value: "${val}", parse int64 failed: ${h.error}`);
    hard = h.value;
    if (soft.value > hard) {
      return invalidArg(`Ulimit soft limit must be less than or equal to hard limit: ${soft.value} > ${hard}`);
    }
  }
  return { Name: name, Hard: Number(hard), Soft: Number(soft.value) };
}

/** All `--ulimit` values; a repeated type replaces the earlier entry in place. */
export function parseUlimits(values: readonly string[]): Ulimit[] | undefined {
  if (values.length === 0) return undefined;
  const out: Ulimit[] = [];
  for (const v of values) {
    const u = parseUlimit(v);
    const i = out.findIndex((o) => o.Name === u.Name);
    if (i >= 0) out[i] = u;
    else out.push(u);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// block IO

/** `--blkio-weight-device /dev/x:W` (W 10..1000, 0 allowed). */
export function parseWeightDevice(spec: string): BlkioWeightDevice {
  if (spec === '') return invalidArg("Weight devices can't be empty");
  const parts = spec.split(':').filter((p) => p !== '');
  if (parts.length !== 2) return invalidArg(`Bad blkio weight device format: ${spec}`);
  if (!parts[0]!.startsWith('/dev/')) return invalidArg(`Bad format for device path: ${spec}`);
  const w = safeUint32(parts[1]!);
  if (!w.ok || (w.value > 0n && (w.value < 10n || w.value > 1000n))) {
    return invalidArg(`Invalid weight for device: ${spec}`);
  }
  return { Path: parts[0], Weight: Number(w.value) };
}

/** `--device-read-bps/--device-write-bps /dev/x:<size>[unit]`. */
export function parseBpsDevice(spec: string): BlkioDevice {
  if (spec === '') return invalidArg("blkio throttle read bps device can't be empty");
  const parts = spec.split(':');
  if (parts.length !== 2) return invalidArg(`bad format: ${spec}`);
  if (!parts[0]!.startsWith('/dev/')) return invalidArg(`bad format for device path: ${spec}`);
  const r = parseByteSize(parts[1]!);
  if (!r.ok) {
    return invalidArg(
      `invalid rate for device: ${spec}. The correct format is <device-path>:<number>[<unit>]. ` +
        'Number must be a positive integer. Unit is optional and can be kb, mb, or gb',
    );
  }
  return { Path: parts[0], Rate: r.value };
}

/** `--device-read-iops/--device-write-iops /dev/x:<n>`. */
export function parseIopsDevice(spec: string): BlkioDevice {
  if (spec === '') return invalidArg("blkio throttle read bps device can't be empty");
  const parts = spec.split(':');
  if (parts.length !== 2) return invalidArg(`bad format: ${spec}`);
  if (!parts[0]!.startsWith('/dev/')) return invalidArg(`bad format for device path: ${spec}`);
  const r = /^[0-9]+$/.test(parts[1]!) ? safeUint64(parts[1]!) : undefined;
  if (r === undefined || !r.ok) {
    return invalidArg(
      `invalid rate for device: ${spec}. The correct format is <device-path>:<number>. ` +
        'Number must be unsigned 64 bytes integer.',
    );
  }
  return { Path: parts[0], Rate: Number(r.value) };
}

// ---------------------------------------------------------------------------------------------
// devices

/** `util_valid_device_mode`: non-empty subset of `rwm`, no repeats. */
export function isValidDeviceMode(mode: string): boolean {
  return mode !== '' && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;
}

const ABS_PATH_RE = /^(\/[^/ ]*)+\/?$/;

/** `--device host[:container][:rwm]` → {@link DeviceMapping} (the host path is not checked here). */
export function parseDevice(spec: string): DeviceMapping {
  if (spec === '') return invalidArg(`Invalid value "${spec}" for flag --device`);
  const parts = spec.split(':').filter((p) => p !== '');
  let host: string;
  let inContainer: string;
  let perms: string;
  switch (parts.length) {
    case 3:
      [host, inContainer, perms] = parts as [string, string, string];
      break;
    case 2:
      host = parts[0]!;
      if (isValidDeviceMode(parts[1]!)) {
        inContainer = parts[0]!;
        perms = parts[1]!;
      } else {
        inContainer = parts[1]!;
        perms = 'rwm';
      }
      break;
    case 1:
      host = inContainer = parts[0]!;
      perms = 'rwm';
      break;
    default:
      return invalidArg(`Invalid value "${spec}" for flag --device`);
  }
  if (!isValidDeviceMode(perms)) {
    return invalidArg(`Invalid value "${spec}" for flag --device: bad mode specified: ${perms}`);
  }
  if (!ABS_PATH_RE.test(inContainer)) {
    return invalidArg(`Invalid value "${spec}" for flag --device: ${inContainer} is not an absolute path`);
  }
  return { PathOnHost: host, PathInContainer: inContainer, CgroupPermissions: perms };
}

/** `--device-cgroup-rule 'c 1:3 rwm'`. */
export function validateDeviceCgroupRule(rule: string): string {
  if (!/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(rule)) {
    return invalidValue('device-cgroup-rule', rule);
  }
  return rule;
}

// ---------------------------------------------------------------------------------------------
// huge pages, host channel

function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(3).replace(/\.?0+$/, '')}${units[i]}`;
}

/** `--hugetlb-limit [pagesize:]limit`. */
export function parseHugetlb(spec: string): HugetlbLimit {
  const parts = spec.split(':');
  if (parts.length > 2) return invalidArg(`Invalid arguments "${spec}" for flag --hugetlb-limit: too many colons`);
  const limitText = parts.length === 2 ? parts[1]! : parts[0]!;
  const pageText = parts.length === 2 && parts[0] !== '' ? parts[0]! : undefined;
  const limit = parseByteSize(limitText);
  if (!limit.ok) return invalidArg(`Invalid hugetlb limit:${limitText}:${limit.error}`);
  let pageSize = '';
  if (pageText !== undefined) {
    const p = parseByteSize(pageText);
    if (!p.ok) return invalidArg(`Parse pagesize error.Invalid hugepage size: ${pageText}: ${p.error}`);
    pageSize = humanSize(p.value);
  }
  return { PageSize: pageSize, Limit: limit.value };
}

const HOST_CHANNEL_MIN_SIZE = 4 * 1024;

/**
 * `--host-channel <host path>:<container path>:<rw|ro>:<size>` (all four fields; an empty mode means
 * rw, an empty size 64MB). Host memory limits and the host path's absence are checked by the daemon.
 */
export function parseHostChannel(spec: string): HostChannel {
  const bad = (): never => invalidArg(`Bad host channel format: ${spec}`);
  const parts = spec.split(':');
  if (parts.length !== 4) return bad();
  const [host, cont, mode, size] = parts as [string, string, string, string];
  if (host === '' || cont === '') return bad();
  if (!host.startsWith('/')) return invalidArg(`Host channel host path should be absolute: ${host}`);
  if (!cont.startsWith('/')) return invalidArg(`Host channel container path should be absolute: ${cont}`);
  if (mode !== '' && mode !== 'rw' && mode !== 'ro') return invalidArg(`Invalid mount mode for host channel: ${spec}`);
  let bytes = 64 * 1024 * 1024;
  if (size !== '') {
    const r = parseByteSize(size);
    if (!r.ok) return invalidArg(`Invalid size limit for host channel: ${spec}`);
    if (r.value < HOST_CHANNEL_MIN_SIZE) return invalidArg('Invalid size, larger than 4KB is allowed');
    bytes = r.value;
  }
  return { PathOnHost: host, PathInContainer: cont, Permissions: mode === '' ? 'rw' : mode, Size: bytes };
}

