import * as fs from 'node:fs';
import { invalidArg } from './errors';

/** Linux capability names without the `CAP_` prefix. */
export const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** Whether `cap` (with or without `CAP_`, any case) is a known capability; `ALL` is accepted too. */
export function isValidCapability(cap: string): boolean {
  const up = cap.toUpperCase();
  if (up === 'ALL') return true;
  const bare = up.startsWith('CAP_') ? up.slice(4) : up;
  return (CAPABILITIES as readonly string[]).includes(bare);
}

/** `--cap-add` / `--cap-drop` lists (kept as given). */
export function validateCaps(caps: readonly string[], verb: 'add' | 'drop'): string[] | undefined {
  if (caps.length === 0) return undefined;
  for (const c of caps) {
    if (!isValidCapability(c)) return invalidArg(`Unknown capability to ${verb}: '${c}'`);
  }
  return [...caps];
}

/**
 * `--security-opt` entries: `no-new-privileges`, `seccomp=unconfined`, `seccomp=<profile file>` (the
 * file's JSON is embedded as `seccomp=<json>`, as upstream's client does), `label=...`.
 */
export function buildSecurityOpts(opts: readonly string[], readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): string[] | undefined {
  if (opts.length === 0) return undefined;
  const out: string[] = [];
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    if (eq < 0) {
      if (opt !== 'no-new-privileges') return invalidArg(`Invalid --security-opt: ${opt}`);
      out.push(opt);
      continue;
    }
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1);
    if (key === 'seccomp') {
      if (value === 'unconfined') {
        out.push(opt);
        continue;
      }
      let profile: unknown;
      try {
        profile = JSON.parse(readFile(value));
      } catch {
        invalidArg(`failed to parse seccomp file: ${value}`);
      }
      out.push(`seccomp=${JSON.stringify(profile)}`);
    } else if (key === 'label') {
      out.push(opt);
    } else {
      return invalidArg(`Invalid --security-opt: ${opt}`);
    }
  }
  return out;
}

const SYSCTL_EXACT = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax',
  'kernel.shmmni', 'kernel.shm_rmid_forced', 'kernel.pid_max',
]);
const SYSCTL_PREFIXES = ['fs.mqueue.', 'net.'];

/** Namespaced sysctls upstream lets a container set. */
export function isAllowedSysctl(key: string): boolean {
  return SYSCTL_EXACT.has(key) || SYSCTL_PREFIXES.some((p) => key.startsWith(p));
}

/** `--sysctl k=v` → map (`Invalid sysctl option '<s>'`, `Sysctl '<k>' is not whitelist`). */
export function parseSysctls(entries: readonly string[]): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq < 0) return invalidArg(`Invalid sysctl option '${e}'`);
    const key = e.slice(0, eq);
    if (!isAllowedSysctl(key)) return invalidArg(`Sysctl '${key}' is not whitelist`);
    out[key] = e.slice(eq + 1);
  }
  return out;
}

/** `--storage-opt k=v` → map (`Invalid storage option '<s>'`). */
export function parseStorageOpts(entries: readonly string[]): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq < 0) return invalidArg(`Invalid storage option '${e}'`);
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}
