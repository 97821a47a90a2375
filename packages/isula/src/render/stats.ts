/*
 * `isula stats` as upstream's client prints it (`src/cmd/isula/extend/stats.c`): a reverse-video
 * header, one `%-16s %-10.2f %-26s %-10.2f %-26s %-10llu` line per container, CPU % computed from the
 * difference with the previous sample (0.00 on the first one).
 */

const ESC = '\x1b';
/** Cursor home + clear screen, written before each refresh. */
export const TERM_CLEAR = `${ESC}[H${ESC}[J`;
const TERM_NORM = `${ESC}[0m`;
const TERM_BOLD = `${ESC}[1m`;
const TERM_RVRS = `${ESC}[7m`;

/** What a stats line needs (the `containers.ContainerInfo` message fits). */
export interface StatsSample {
  id: string;
  pidsCurrent: bigint;
  cpuUseNanos: bigint;
  cpuSystemUse: bigint;
  onlineCpus: number;
  blkioRead: bigint;
  blkioWrite: bigint;
  memUsed: bigint;
  memLimit: bigint;
}

const GIB = 1n << 30n;
const MIB = 1n << 20n;
const KIB = 1n << 10n;
const two = (n: bigint) => n.toString().padStart(2, '0');

/** Upstream's `isula_size_humanize`: `1.50 GiB`, `12.34 MiB`, `0.98 KiB`, `512.00 B` (thresholds are strict). */
export function humanizeSize(value: bigint | number): string {
  const v = typeof value === 'bigint' ? value : BigInt(Math.max(0, Math.trunc(value)));
  if (v > GIB) return `${(v >> 30n) & 0xffffffffn}.${two(((v & (GIB - 1n)) / 10737419n) & 0xffffffffn)} GiB`;
  if (v > MIB) {
    const x = v + 5243n;
    return `${(x >> 20n) & 0xffffffffn}.${two((((x & (MIB - 1n)) * 100n) >> 20n) & 0xffffffffn)} MiB`;
  }
  if (v > KIB) {
    const x = v + 5n;
    return `${(x >> 10n) & 0xffffffffn}.${two((((x & (KIB - 1n)) * 100n) >> 10n) & 0xffffffffn)} KiB`;
  }
  return `${v & 0xffffffffn}.00 B`;
}

/** CPU % of `cur` since `prev` (same container): container CPU time over system CPU time × online CPUs. */
export function cpuPercent(cur: StatsSample, prev: StatsSample | undefined): number {
  if (!prev) return 0;
  const dSys = cur.cpuSystemUse > prev.cpuSystemUse ? cur.cpuSystemUse - prev.cpuSystemUse : 0n;
  const dCpu = cur.cpuUseNanos > prev.cpuUseNanos ? cur.cpuUseNanos - prev.cpuUseNanos : 0n;
  if (dSys === 0n || cur.onlineCpus <= 0) return 0;
  return (Number(dCpu) / Number(dSys)) * cur.onlineCpus * 100;
}

export function statsHeader(styled: boolean): string {
  const line = `${'CONTAINER'.padEnd(16)} ${'CPU %'.padEnd(10)} ${'MEM USAGE / LIMIT'.padEnd(26)} ${'MEM %'.padEnd(10)} ${'BLOCK I / O'.padEnd(26)} ${'PIDS'.padEnd(10)}\n`;
  return styled ? `${TERM_RVRS}${TERM_BOLD}${line}${TERM_NORM}` : line;
}

export function statsLine(cur: StatsSample, prev: StatsSample | undefined): string {
  const id = cur.id.slice(0, 12);
  const mem = `${humanizeSize(cur.memUsed)} / ${humanizeSize(cur.memLimit)}`;
  const io = `${humanizeSize(cur.blkioRead)} / ${humanizeSize(cur.blkioWrite)}`;
  const memPct = cur.memLimit > 0n ? (Number(cur.memUsed) / Number(cur.memLimit)) * 100 : 0;
  return `${id.padEnd(16)} ${cpuPercent(cur, prev).toFixed(2).padEnd(10)} ${mem.padEnd(26)} ${memPct.toFixed(2).padEnd(10)} ${io.padEnd(26)} ${cur.pidsCurrent.toString().padEnd(10)}\n`;
}

/**
 * One refresh: (on a terminal) clear screen and the styled header, then a line per container, CPU
 * from the previous sample of the same id.
 */
export function renderStats(samples: StatsSample[], previous: StatsSample[] | undefined, terminal: boolean): string {
  const prevById = new Map((previous ?? []).map((p) => [p.id, p]));
  let out = terminal ? TERM_CLEAR : '';
  out += statsHeader(terminal);
  for (const s of samples) out += statsLine(s, prevById.get(s.id));
  return out;
}
