import { readFile } from 'node:fs/promises';

/**
 * The daemon's own hard limits for open files and processes (from /proc/self/limits: Node has no
 * getrlimit). Containers cannot be given more without CAP_SYS_RESOURCE, so generated rlimits are
 * clamped to these.
 */
export async function hardLimits(): Promise<{ nofile: number; nproc: number }> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const hard = (label: string, fallback: number) => {
    const line = text.split('\n').find((l) => l.startsWith(label));
    const cols = line?.slice(26).trim().split(/\s+/) ?? [];
    const v = cols[1];
    return v === undefined ? fallback : v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  return { nofile: hard('Max open files', 1024 * 1024), nproc: hard('Max processes', 4194304) };
}

/** The daemon's capability bounding set as a hex mask (`CapBnd` of /proc/self/status). */
export async function capabilityMask(): Promise<string> {
  const text = await readFile('/proc/self/status', 'utf8').catch(() => '');
  return /^CapBnd:\s*([0-9a-f]+)/m.exec(text)?.[1] ?? 'ffffffffff';
}
