import { SpecError, type OciCapabilities } from './types';

/** Every capability Linux knows, in number order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's (and iSulad's template's) 14 default capabilities. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** `net_admin`, `NET_ADMIN`, `cap_net_admin` → `CAP_NET_ADMIN`; `all` → `ALL`. Unknown → SpecError. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new SpecError(`Unknown capability to add or drop: "${name}"`);
  return full;
}

/**
 * Converts a `CapBnd`/`CapEff` hex mask from /proc/<pid>/status to capability names
 * (for {@link SpecHostInfo.capabilities}).
 */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/**
 * Docker's TweakCapabilities: start from `base` (the template's / default set), `ALL` in CapAdd
 * means every capability the host has, `ALL` in CapDrop removes everything not explicitly added.
 * Capabilities the host lacks are left out (runc cannot grant them).
 */
export function tweakCapabilities(
  base: readonly string[],
  capAdd: readonly string[] = [],
  capDrop: readonly string[] = [],
  privileged = false,
  hostCaps: readonly string[] = ALL_CAPABILITIES,
): string[] {
  const available = new Set(hostCaps.map((c) => c.toUpperCase()));
  if (privileged) return ALL_CAPABILITIES.filter((c) => available.has(c));
  const adds = capAdd.map(normalizeCapability);
  const drops = capDrop.map(normalizeCapability);
  let result: string[];
  if (adds.includes('ALL')) {
    result = ALL_CAPABILITIES.filter((c) => available.has(c));
    result = result.filter((c) => !drops.includes(c));
    return result;
  }
  if (drops.includes('ALL')) {
    result = [];
  } else {
    result = base.map((c) => c.toUpperCase()).filter((c) => !drops.includes(c));
  }
  for (const c of adds) {
    if (c === 'ALL') continue;
    if (!result.includes(c)) result.push(c);
  }
  return result.filter((c) => available.has(c));
}

/**
 * The OCI capabilities object for a set: bounding/effective/permitted. Inheritable and ambient stay
 * empty, as Docker does since CVE-2022-24769.
 */
export function capabilitySets(caps: readonly string[]): OciCapabilities {
  return {
    bounding: [...caps],
    effective: [...caps],
    permitted: [...caps],
  };
}
