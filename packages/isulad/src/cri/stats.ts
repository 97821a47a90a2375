/**
 * CRI stats from the cgroup v1 controllers (container/stats): ContainerStats, ListContainerStats,
 * PodSandboxStats, ListPodSandboxStats.
 *
 * - CPU: cumulative usage from cpuacct.usage; `usage_nano_cores` is the rate since the previous
 *   sample of the same cgroup (0 on the first one), as containerd computes it.
 * - Memory: working set = usage − total_inactive_file (cAdvisor's), available = limit − working
 *   set (absent when the limit is the unlimited sentinel).
 * - Writable layer: `du` of the container's overlay upper dir, cached for a few seconds.
 * - Pod: the pod cgroup (the sandbox's cgroup_parent) when kubelet gave one, else the sum of the
 *   pause container's and the containers' cgroups; network from /proc/<pause pid>/net/dev (the
 *   counters of the pod's namespace); process count from pids.current.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { cri, DeepPartial } from '@isula/cri-api';
import type { ContainerRecord } from '../container/types';
import { readCgroupStats, type ContainerStatsSample } from '../container/stats/cgroup-v1';
import { diskUsage } from './image-service';
import { isRunning, type CriIndex } from './context';
import { containerMeta, sandboxMeta } from './labels';

/** memory.limit_in_bytes of an unlimited cgroup v1 is PAGE_COUNTER_MAX × page size (≈ 2^63). */
const UNLIMITED_MEMORY = 1n << 62n;
const LAYER_USAGE_TTL_MS = 5000;

export interface CpuSample {
  atNanos: bigint;
  usage: bigint;
}

/** Average cores used between two samples, in nano-cores. */
export function nanoCores(prev: CpuSample | undefined, cur: CpuSample): bigint {
  if (!prev || cur.atNanos <= prev.atNanos || cur.usage < prev.usage) return 0n;
  return ((cur.usage - prev.usage) * 1_000_000_000n) / (cur.atNanos - prev.atNanos);
}

export function memoryUsage(s: ContainerStatsSample, ts: bigint): DeepPartial<cri.MemoryUsage> {
  return {
    timestamp: ts,
    workingSetBytes: { value: s.workingsetBytes },
    ...(s.memLimit > 0n && s.memLimit < UNLIMITED_MEMORY && { availableBytes: { value: s.avaliableBytes } }),
    usageBytes: { value: s.memUsed },
    rssBytes: { value: s.rssBytes },
    pageFaults: { value: s.pageFaults },
    majorPageFaults: { value: s.majorPageFaults },
  };
}

/** Adds samples field by field (a pod without a pod cgroup). */
export function sumSamples(samples: ContainerStatsSample[]): ContainerStatsSample {
  const zero: ContainerStatsSample = {
    pidsCurrent: 0n, cpuUseNanos: 0n, cpuUseUser: 0n, cpuUseKernel: 0n, cpuSystemUse: 0n, onlineCpus: 0, blkioRead: 0n, blkioWrite: 0n,
    memUsed: 0n, memLimit: 0n, kmemUsed: 0n, kmemLimit: 0n, cache: 0n, cacheTotal: 0n, inactiveFileTotal: 0n, avaliableBytes: 0n,
    workingsetBytes: 0n, rssBytes: 0n, pageFaults: 0n, majorPageFaults: 0n,
  };
  return samples.reduce((a, s) => {
    const out = { ...a };
    for (const k of Object.keys(zero) as (keyof ContainerStatsSample)[]) {
      if (k === 'onlineCpus' || k === 'cpuSystemUse') continue;
      (out[k] as bigint) = (a[k] as bigint) + (s[k] as bigint);
    }
    out.onlineCpus = s.onlineCpus;
    out.cpuSystemUse = s.cpuSystemUse;
    out.memLimit = 0n; // a sum has no single limit
    return out;
  }, zero);
}

/** /proc/<pid>/net/dev → per-interface counters (lo left out). */
export function parseNetDev(text: string): DeepPartial<cri.NetworkInterfaceUsage>[] {
  const out: DeepPartial<cri.NetworkInterfaceUsage>[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || name === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map((v) => (/^\d+$/.test(v) ? BigInt(v) : 0n));
    out.push({ name, rxBytes: { value: f[0] ?? 0n }, rxErrors: { value: f[2] ?? 0n }, txBytes: { value: f[8] ?? 0n }, txErrors: { value: f[10] ?? 0n } });
  }
  return out;
}

export class CriStats {
  private readonly cpu = new Map<string, CpuSample>();
  private readonly layer = new Map<string, { at: number; value: Promise<{ bytes: bigint; inodes: bigint }> }>();

  constructor(
    private readonly index: CriIndex,
    private readonly graph: string,
  ) {}

  private cpuUsage(key: string, usage: bigint, ts: bigint): DeepPartial<cri.CpuUsage> {
    const cur = { atNanos: ts, usage };
    const rate = nanoCores(this.cpu.get(key), cur);
    this.cpu.set(key, cur);
    return { timestamp: ts, usageCoreNanoSeconds: { value: usage }, usageNanoCores: { value: rate } };
  }

  private layerUsage(id: string): Promise<{ bytes: bigint; inodes: bigint }> {
    const hit = this.layer.get(id);
    if (hit && Date.now() - hit.at < LAYER_USAGE_TTL_MS) return hit.value;
    const value = diskUsage(this.upperDir(id)).catch(() => ({ bytes: 0n, inodes: 0n }));
    this.layer.set(id, { at: Date.now(), value });
    return value;
  }

  private upperDir(id: string): string {
    return join(this.graph, 'storage', 'overlay', id, 'diff');
  }

  /** Drops the samples of containers that are gone. */
  private prune(): void {
    const live = new Set([...this.index.containers(), ...this.index.sandboxes()].map((r) => r.id));
    for (const k of this.cpu.keys()) if (!live.has(k.replace(/^pod:/, ''))) this.cpu.delete(k);
    for (const k of this.layer.keys()) if (!live.has(k)) this.layer.delete(k);
  }

  async container(rec: ContainerRecord): Promise<DeepPartial<cri.ContainerStats>> {
    const meta = containerMeta(rec);
    const ts = BigInt(Date.now()) * 1_000_000n;
    const [s, layer] = await Promise.all([readCgroupStats(rec.cgroupPath), this.layerUsage(rec.id)]);
    return {
      attributes: { id: rec.id, metadata: meta.metadata, labels: meta.labels, annotations: meta.annotations },
      cpu: this.cpuUsage(rec.id, s.cpuUseNanos, ts),
      memory: memoryUsage(s, ts),
      writableLayer: { timestamp: ts, fsId: { mountpoint: this.upperDir(rec.id) }, usedBytes: { value: layer.bytes }, inodesUsed: { value: layer.inodes } },
    };
  }

  async listContainers(filter: cri.ContainerStatsFilter | undefined): Promise<DeepPartial<cri.ContainerStats>[]> {
    this.prune();
    const recs = this.index.containers().filter((rec) => {
      const meta = containerMeta(rec);
      if (filter?.id && !rec.id.startsWith(filter.id)) return false;
      if (filter?.podSandboxId && !meta.sandboxId.startsWith(filter.podSandboxId)) return false;
      for (const [k, v] of Object.entries(filter?.labelSelector ?? {})) if (meta.labels[k] !== v) return false;
      // Stats are for running containers, as containerd answers them.
      return isRunning(rec);
    });
    return Promise.all(recs.map((r) => this.container(r)));
  }

  async sandbox(sb: ContainerRecord): Promise<DeepPartial<cri.PodSandboxStats>> {
    const meta = sandboxMeta(sb);
    const ts = BigInt(Date.now()) * 1_000_000n;
    const members = this.index.containersOf(sb.id);
    const running = members.filter(isRunning);
    const sample =
      meta.cgroupParent !== ''
        ? await readCgroupStats(meta.cgroupParent)
        : sumSamples(await Promise.all([sb, ...running].filter((r) => r.cgroupPath !== '').map((r) => readCgroupStats(r.cgroupPath))));
    let interfaces: DeepPartial<cri.NetworkInterfaceUsage>[] = [];
    if (isRunning(sb) && sb.hostConfig.NetworkMode !== 'host') {
      interfaces = parseNetDev(await readFile(`/proc/${sb.state.pid}/net/dev`, 'utf8').catch(() => ''));
    }
    return {
      attributes: { id: sb.id, metadata: meta.metadata, labels: meta.labels, annotations: meta.annotations },
      linux: {
        cpu: this.cpuUsage(`pod:${sb.id}`, sample.cpuUseNanos, ts),
        memory: memoryUsage(sample, ts),
        network: { timestamp: ts, defaultInterface: interfaces.find((i) => i.name === 'eth0') ?? interfaces[0], interfaces },
        process: { timestamp: ts, processCount: { value: sample.pidsCurrent } },
        containers: await Promise.all(running.map((r) => this.container(r))),
      },
    };
  }

  async listSandboxes(filter: cri.PodSandboxStatsFilter | undefined): Promise<DeepPartial<cri.PodSandboxStats>[]> {
    this.prune();
    const sbs = this.index.sandboxes().filter((sb) => {
      const meta = sandboxMeta(sb);
      if (filter?.id && !sb.id.startsWith(filter.id)) return false;
      for (const [k, v] of Object.entries(filter?.labelSelector ?? {})) if (meta.labels[k] !== v) return false;
      return isRunning(sb);
    });
    return Promise.all(sbs.map((sb) => this.sandbox(sb)));
  }
}
