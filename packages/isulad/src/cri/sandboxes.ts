/**
 * Pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.
 *
 * A sandbox is its pause container (see labels.ts for how the CRI view is kept in the record).
 * Networking: with network-plugin "" the pause container's private network namespace has only
 * `lo`; with "cni" the CNI ADD runs once the pause container runs, on `/proc/<pause pid>/ns/net`
 * (no extra bind-mounted netns file to manage or leak: the namespace lives exactly as long as the
 * pod's processes). The CNI result cache (network/cni) keeps what DEL needs across daemon
 * restarts; the record's `io.isula.cri.network` says whether a DEL is owed. DEL runs while the
 * namespace still exists (before the pause container stops); if the pause container died on its
 * own, the namespace of a still running pod container is used, and when no process holds it any
 * more DEL gets an empty CNI_NETNS (the plugins then release only what they hold on the host, such
 * as IPAM leases and port mappings).
 */
import { mkdir } from 'node:fs/promises';
import type { cri, DeepPartial } from '@isula/cri-api';
import { archOf } from '../image/images';
import { KeyedMutex } from '../storage/mutex';
import type { PortMapping as CniPortMapping } from '../network/cni';
import { isRunning, type CriDeps, type CriIndex } from './context';
import { invalidArgument, messageOf, notFound } from './errors';
import { containerMeta, networkState, sandboxMeta, setNetworkState, type NetworkState, type SandboxMeta } from './labels';
import { containerStatus, sandboxItem, sandboxMatches, sandboxStatus } from './status';
import { oomScoreAdjFloor } from './oom';
import { NO_LOG, sandboxCreateSpec } from './translate';
import type { ContainerRecord } from '../container/types';

/** A path that is no network namespace: CNI DEL then runs with an empty CNI_NETNS. */
export const NETNS_GONE = '/nonexistent/isulad-netns-gone';
/** The pause container gets this long to end after SIGTERM at StopPodSandbox. */
const PAUSE_STOP_TIMEOUT_S = 10;
const CNI_IFNAME = 'eth0';
const PROTOCOLS: Record<number, CniPortMapping['protocol']> = { 0: 'tcp', 1: 'udp', 2: 'sctp' };

/** `pod-sandbox-image`, else upstream's default `pause-<machine>:3.0` (the image tools/images/make-pause.sh builds). */
export function sandboxImage(configured: string, nodeArch: string = process.arch): string {
  return configured !== '' ? configured : `pause-${archOf(nodeArch)}:3.0`;
}

/**
 * `runtime_handler` → runtime name: `cri-runtimes` first; a handler naming a runtime directly
 * (`runc`, a key of `runtimes`) is taken as is; '' is the daemon's default runtime.
 */
export function runtimeForHandler(handler: string, criRuntimes: Record<string, string>, runtimes: Record<string, unknown>): string {
  if (handler === '') return '';
  const mapped = criRuntimes[handler];
  if (mapped) return mapped;
  if (handler === 'runc' || handler in runtimes) return handler;
  throw invalidArgument(`no runtime for ${JSON.stringify(handler)} is configured (daemon.json "cri-runtimes")`);
}

export function cniPortMappings(meta: SandboxMeta): CniPortMapping[] {
  return meta.portMappings
    .filter((p) => p.hostPort > 0 && p.containerPort > 0)
    .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: PROTOCOLS[p.protocol] ?? 'tcp', ...(p.hostIp !== '' && { hostIp: p.hostIp }) }));
}

export class PodSandboxes {
  /** Run, stop and remove of one sandbox are serialized. */
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly d: CriDeps,
    private readonly index: CriIndex,
  ) {}

  async run(req: cri.RunPodSandboxRequest): Promise<string> {
    const { box, config, logger, cni } = this.d;
    if (!req.config) throw invalidArgument('RunPodSandbox: config is required');
    const runtime = runtimeForHandler(req.runtimeHandler, config.criRuntimes, config.runtimes);
    const image = sandboxImage(config.podSandboxImage);
    try {
      this.d.images.usable(image);
    } catch (err) {
      // Pulling is kubelet's job (PullImage); the sandbox image must be there.
      throw notFound(`failed to get sandbox image ${JSON.stringify(image)}: ${messageOf(err)}`);
    }
    const spec = sandboxCreateSpec(req.config, { image, runtimeHandler: req.runtimeHandler, oomScoreAdjFloor: await oomScoreAdjFloor() });
    if (spec.meta.logDirectory !== '') await mkdir(spec.meta.logDirectory, { recursive: true, mode: 0o755 });
    const hostNet = spec.hostConfig.NetworkMode === 'host';
    const rec = await box.create({ name: spec.name, image, runtime, hostConfig: spec.hostConfig, config: spec.config, log: NO_LOG });
    return this.locks.run(rec.id, async () => {
      try {
        this.saveNetwork(rec.id, { state: hostNet ? 'host' : cni ? 'pending' : 'none', ip: '', ips: [] });
        const started = await box.start(rec.id);
        if (!hostNet && cni) {
          const meta = spec.meta;
          const r = await cni.setUp({
            podId: rec.id,
            netnsPath: `/proc/${started.state.pid}/ns/net`,
            ifName: CNI_IFNAME,
            podName: meta.metadata.name,
            podNamespace: meta.metadata.namespace,
            podUid: meta.metadata.uid,
            portMappings: cniPortMappings(meta),
          });
          this.saveNetwork(rec.id, { state: 'ready', ip: r.ip ?? r.ips[0] ?? '', ips: r.ip ? [r.ip, ...r.ips.filter((x) => x !== r.ip)] : r.ips });
        }
        logger.info({ sandbox: rec.id, name: spec.name }, 'pod sandbox running');
        return rec.id;
      } catch (err) {
        logger.error({ sandbox: rec.id, err: messageOf(err) }, 'RunPodSandbox failed; removing the sandbox');
        const cur = box.store.get(rec.id);
        if (cur) {
          await this.teardown(cur).catch((e: unknown) => logger.warn({ sandbox: rec.id, err: messageOf(e) }, 'CNI teardown of a failed sandbox'));
          await box.remove(rec.id, true, true).catch((e: unknown) => logger.warn({ sandbox: rec.id, err: messageOf(e) }, 'removing a failed sandbox'));
        }
        throw err;
      }
    });
  }

  /** Stops the pod: its network first (while the namespace exists), then its containers, then the pause container. Missing = done. */
  async stop(ref: string): Promise<void> {
    const sb0 = this.index.sandbox(ref);
    if (!sb0) return;
    await this.locks.run(sb0.id, async () => {
      const sb = this.index.sandbox(sb0.id);
      if (!sb) return;
      await this.teardown(sb);
      await Promise.all(this.index.containersOf(sb.id).filter(isRunning).map((c) => this.d.box.stop(c.id, 0, false)));
      if (sb.state.status === 'running' || sb.state.status === 'paused') await this.d.box.stop(sb.id, PAUSE_STOP_TIMEOUT_S, false);
    });
  }

  /** Removes the pod's containers, its network (if still set up) and the pause container. Missing = done. */
  async remove(ref: string): Promise<void> {
    const sb0 = this.index.sandbox(ref);
    if (!sb0) return;
    await this.locks.run(sb0.id, async () => {
      const sb = this.index.sandbox(sb0.id);
      if (!sb) return;
      for (const c of this.index.containersOf(sb.id)) await this.d.box.remove(c.id, true, true);
      await this.teardown(sb);
      await this.d.box.remove(sb.id, true, true);
      this.d.logger.info({ sandbox: sb.id }, 'pod sandbox removed');
    });
  }

  status(ref: string, verbose: boolean): DeepPartial<cri.PodSandboxStatusResponse> {
    const sb = this.index.mustSandbox(ref);
    const meta = sandboxMeta(sb);
    const net = networkState(sb);
    const info: Record<string, string> = {};
    if (verbose) {
      info.info = JSON.stringify({
        pid: sb.state.pid,
        image: sb.image,
        imageId: sb.imageId,
        runtime: sb.runtime,
        runtimeHandler: meta.runtimeHandler,
        name: sb.name,
        network: net,
        netns: sb.state.pid > 0 && sb.hostConfig.NetworkMode !== 'host' ? `/proc/${sb.state.pid}/ns/net` : '',
        cgroupParent: meta.cgroupParent,
        config: meta,
      });
    }
    return {
      status: sandboxStatus(sb, meta, net),
      info,
      containersStatuses: this.index.containersOf(sb.id).map((c) => containerStatus(c, containerMeta(c))),
      timestamp: BigInt(Date.now()) * 1_000_000n,
    };
  }

  list(filter: cri.PodSandboxFilter | undefined): DeepPartial<cri.PodSandbox>[] {
    const out: DeepPartial<cri.PodSandbox>[] = [];
    for (const sb of this.index.sandboxes()) {
      const meta = sandboxMeta(sb);
      if (sandboxMatches(sb, meta, filter)) out.push(sandboxItem(sb, meta));
    }
    return out;
  }

  /** The network namespace of a pod as a path, for CNI DEL: the pause's, else a pod container's, else none. */
  netnsPath(sb: ContainerRecord): string {
    if (isRunning(sb)) return `/proc/${sb.state.pid}/ns/net`;
    for (const c of this.index.containersOf(sb.id)) {
      if (isRunning(c) && c.hostConfig.NetworkMode === `container:${sb.id}`) return `/proc/${c.state.pid}/ns/net`;
    }
    return NETNS_GONE;
  }

  /** CNI DEL when a setup is (or may be) in place; then the record says the network is down. */
  private async teardown(sb: ContainerRecord): Promise<void> {
    const net = networkState(sb);
    if (net.state !== 'ready' && net.state !== 'pending') return;
    const { cni, logger } = this.d;
    if (!cni) {
      logger.warn({ sandbox: sb.id }, 'pod network was set up by CNI but network-plugin is no longer "cni": not torn down');
      return;
    }
    const meta = sandboxMeta(sb);
    await cni.tearDown({
      podId: sb.id,
      netnsPath: this.netnsPath(sb),
      ifName: CNI_IFNAME,
      podName: meta.metadata.name,
      podNamespace: meta.metadata.namespace,
      podUid: meta.metadata.uid,
      portMappings: cniPortMappings(meta),
    });
    this.saveNetwork(sb.id, { state: 'down', ip: '', ips: [] });
  }

  private saveNetwork(id: string, st: NetworkState): void {
    const rec = this.d.box.store.get(id);
    if (!rec) return;
    setNetworkState(rec, st);
    this.d.box.store.save(rec);
  }
}
