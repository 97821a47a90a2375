/**
 * CRI `runtime.v1.RuntimeService`: the RPCs translated to the pod sandbox and container classes
 * beside this file. Unsupported calls answer UNIMPLEMENTED with the reason, never a fake success.
 */
import { status } from '@grpc/grpc-js';
import { cri, type RuntimeService } from '@isula/cri-api';
import { buildInfo } from '../system/build-info';
import type { ServerStreamImpl, UnaryImpl } from '../server/grpc-adapter';
import { CriIndex, isRunning, type CriDeps } from './context';
import { CriContainers } from './containers';
import { CriError, failedPrecondition, unimplemented } from './errors';
import { PodOf, streamEvents } from './events';
import { PodSandboxes } from './sandboxes';
import { CriStats } from './stats';
import { criStreamingRuntime } from './stream-runtime';
import type { StreamingRuntime } from './streaming';

/** The CRI API version this runtime speaks (VersionResponse.version: the kubelet runtime API version). */
export const CRI_VERSION = '0.1.0';
export const RUNTIME_NAME = 'iSulad';
export const RUNTIME_API_VERSION = 'v1';

/** The URL side of the streaming server (cri/streaming StreamingServer satisfies it). */
export interface StreamingUrls {
  getExec(req: { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): { url: string };
  getAttach(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): { url: string };
  getPortForward(req: { podSandboxId: string; ports: number[] }): { url: string };
}

/** A streaming server refusal (`code` = its gRPC status) as a CRI error. */
function streamingCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') throw new CriError((err as Error).message, code);
    throw err;
  }
}

export class CriRuntime {
  readonly index: CriIndex;
  readonly sandboxes: PodSandboxes;
  readonly containers: CriContainers;
  readonly stats: CriStats;
  readonly pods: PodOf;
  /** What the streaming server calls back when a client connects. */
  readonly streamingRuntime: StreamingRuntime;
  /** Set once the streaming server runs. */
  streaming: StreamingUrls | undefined;
  /** Why the streaming server does not run, when it could not start. */
  streamingError = '';
  /** The pod CIDR kubelet last gave in UpdateRuntimeConfig. */
  podCidr = '';

  constructor(private readonly d: CriDeps) {
    this.index = new CriIndex(d.box);
    this.sandboxes = new PodSandboxes(d, this.index);
    this.containers = new CriContainers(d, this.index);
    this.stats = new CriStats(this.index, d.config.graph);
    this.pods = new PodOf(this.index);
    this.streamingRuntime = criStreamingRuntime(d.box, this.index);
  }

  private urls(): StreamingUrls {
    if (!this.streaming) throw new CriError(this.streamingError || 'the CRI streaming server is not running', status.UNAVAILABLE);
    return this.streaming;
  }

  unary(): UnaryImpl<typeof RuntimeService> {
    const { config, cni } = this.d;
    return {
      Version: async () => ({ version: CRI_VERSION, runtimeName: RUNTIME_NAME, runtimeVersion: buildInfo().version, runtimeApiVersion: RUNTIME_API_VERSION }),

      Status: async (req) => {
        const net = cni ? cni.status() : { ready: true };
        const conditions = [
          { type: 'RuntimeReady', status: true, reason: '', message: '' },
          { type: 'NetworkReady', status: net.ready, reason: net.ready ? '' : (net.reason ?? 'NetworkPluginNotReady'), message: net.ready ? '' : (net.message ?? '') },
        ];
        const info: Record<string, string> = {};
        if (req.verbose) {
          info.config = JSON.stringify({
            podSandboxImage: config.podSandboxImage,
            networkPlugin: config.networkPlugin,
            cniBinDir: config.cniBinDir,
            cniConfDir: config.cniConfDir,
            defaultRuntime: config.defaultRuntime,
            criRuntimes: config.criRuntimes,
            cgroupParent: config.cgroupParent,
            streamingPort: config.websocketServerListeningPort,
            podCIDR: this.podCidr,
          });
          info.network = JSON.stringify(cni ? cni.status() : { ready: true, plugin: 'none: pods get only lo' });
        }
        const features = { recursiveReadOnlyMounts: false, userNamespaces: false };
        return {
          status: { conditions },
          info,
          runtimeHandlers: [{ name: '', features }, ...Object.keys(config.criRuntimes).map((name) => ({ name, features }))],
          features: { supplementalGroupsPolicy: false },
        };
      },

      RuntimeConfig: async () => ({ linux: { cgroupDriver: config.systemdCgroup ? cri.CgroupDriver.SYSTEMD : cri.CgroupDriver.CGROUPFS } }),

      UpdateRuntimeConfig: async (req) => {
        const cidr = req.runtimeConfig?.networkConfig?.podCidr ?? '';
        if (cidr !== '' && cidr !== this.podCidr) {
          this.podCidr = cidr;
          this.d.logger.info({ podCidr: cidr }, 'CRI UpdateRuntimeConfig: pod CIDR recorded (the CNI configuration decides the addresses)');
        }
        return {};
      },

      // ---- pod sandboxes
      RunPodSandbox: async (req) => {
        const id = await this.sandboxes.run(req);
        this.pods.remember(id, id);
        return { podSandboxId: id };
      },
      StopPodSandbox: async (req) => {
        await this.sandboxes.stop(req.podSandboxId);
        return {};
      },
      RemovePodSandbox: async (req) => {
        await this.sandboxes.remove(req.podSandboxId);
        return {};
      },
      PodSandboxStatus: async (req) => this.sandboxes.status(req.podSandboxId, req.verbose),
      ListPodSandbox: async (req) => ({ items: this.sandboxes.list(req.filter) }),

      // ---- containers
      CreateContainer: async (req) => {
        const id = await this.containers.create(req);
        this.pods.remember(id, req.podSandboxId.length === 64 ? req.podSandboxId : (this.index.sandbox(req.podSandboxId)?.id ?? req.podSandboxId));
        return { containerId: id };
      },
      StartContainer: async (req) => {
        await this.containers.start(req.containerId);
        return {};
      },
      StopContainer: async (req) => {
        await this.containers.stop(req.containerId, req.timeout);
        return {};
      },
      RemoveContainer: async (req) => {
        await this.containers.remove(req.containerId);
        return {};
      },
      ListContainers: async (req) => ({ containers: this.containers.list(req.filter) }),
      ContainerStatus: async (req) => this.containers.status(req.containerId, req.verbose),
      UpdateContainerResources: async (req) => {
        await this.containers.updateResources(req);
        return {};
      },
      ReopenContainerLog: async (req) => {
        await this.containers.reopenLog(req.containerId);
        return {};
      },

      // ---- exec, attach, port-forward
      ExecSync: async (req) => this.containers.execSync(req),
      Exec: async (req) => {
        const rec = this.index.mustContainer(req.containerId);
        if (!isRunning(rec)) throw failedPrecondition(`container ${rec.id} is not running`);
        return streamingCall(() => this.urls().getExec({ containerId: rec.id, cmd: [...req.cmd], tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }));
      },
      Attach: async (req) => {
        const rec = this.index.mustContainer(req.containerId);
        if (!isRunning(rec)) throw failedPrecondition(`container ${rec.id} is not running`);
        return streamingCall(() => this.urls().getAttach({ containerId: rec.id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr }));
      },
      PortForward: async (req) => {
        const sb = this.index.mustSandbox(req.podSandboxId);
        if (!isRunning(sb)) throw failedPrecondition(`pod sandbox ${sb.id} is not ready`);
        return streamingCall(() => this.urls().getPortForward({ podSandboxId: sb.id, ports: [...req.port] }));
      },

      // ---- stats
      ContainerStats: async (req) => ({ stats: await this.stats.container(this.index.mustContainer(req.containerId)) }),
      ListContainerStats: async (req) => ({ stats: await this.stats.listContainers(req.filter) }),
      PodSandboxStats: async (req) => ({ stats: await this.stats.sandbox(this.index.mustSandbox(req.podSandboxId)) }),
      ListPodSandboxStats: async (req) => ({ stats: await this.stats.listSandboxes(req.filter) }),

      // ---- not supported
      CheckpointContainer: async () => {
        throw unimplemented('CheckpointContainer is not supported by isulad: container checkpoint/restore (CRIU) is not implemented');
      },
      ListMetricDescriptors: async () => {
        throw unimplemented('ListMetricDescriptors is not supported by isulad: pod metrics are served through the stats RPCs (ListPodSandboxStats)');
      },
      ListPodSandboxMetrics: async () => {
        throw unimplemented('ListPodSandboxMetrics is not supported by isulad: pod metrics are served through the stats RPCs (ListPodSandboxStats)');
      },
    };
  }

  streams(): ServerStreamImpl<typeof RuntimeService> {
    return {
      GetContainerEvents: (_req, send, ctx) => streamEvents(this.d.events, this.index, this.pods, send, ctx.cancelled),
    };
  }
}
