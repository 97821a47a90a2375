import { readFile } from 'node:fs/promises';

const CAP_SYS_RESOURCE = 24n;
const MIN_OOM_SCORE_ADJ = -1000;

/**
 * The lowest oom_score_adj the daemon can give its containers: anything down to -1000 with
 * CAP_SYS_RESOURCE, else no lower than its own (the kernel refuses a lower value with EACCES, and
 * the runtime's start would fail). containerd's `restrict_oom_score_adj`, applied only when needed.
 */
export async function oomScoreAdjFloor(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const eff = /^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1];
  if (eff !== undefined && (BigInt(`0x${eff}`) >> CAP_SYS_RESOURCE) & 1n) return MIN_OOM_SCORE_ADJ;
  const own = Number((await readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0')).trim());
  return Number.isInteger(own) ? own : 0;
}

/** `value` raised to `floor`; undefined when that leaves nothing to set (0). */
export function clampOomScoreAdj(value: number | undefined, floor: number): number | undefined {
  if (value === undefined) return undefined;
  const v = Math.max(value, floor);
  return v === 0 ? undefined : v;
}
