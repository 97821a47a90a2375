/**
 * Container records → CRI answers (pure, unit tested): states, exit reasons, timestamps in
 * nanoseconds, list items and statuses, and the List filters.
 */
import { cri, type DeepPartial } from '@isula/cri-api';
import type { ContainerRecord } from '../container/types';
import { matchesSelector, type ContainerMeta, type NetworkState, type SandboxMeta } from './labels';
import { hostConfigToResources } from './translate';

const { ContainerState, PodSandboxState } = cri;

/**
 * An RFC 3339 time (ISO from Node, or RFC3339Nano from the monitor) → nanoseconds since the epoch,
 * keeping all nine fractional digits. Go's zero time, '' or garbage → 0.
 */
export function toNanos(iso: string | undefined): bigint {
  if (!iso) return 0n;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(iso);
  if (!m) return 0n;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds) || seconds <= 0) return 0n;
  const frac = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  return BigInt(seconds) * 1_000_000n + BigInt(frac);
}

/** CRI state of a container record: created, running (paused counts as running, as in containerd), exited. */
export function containerState(rec: ContainerRecord): cri.ContainerState {
  switch (rec.state.status) {
    case 'inited':
      return ContainerState.CONTAINER_CREATED;
    case 'running':
    case 'paused':
    case 'starting':
    case 'restarting':
      return ContainerState.CONTAINER_RUNNING;
    case 'exited':
    case 'removing':
      return ContainerState.CONTAINER_EXITED;
    default:
      return ContainerState.CONTAINER_UNKNOWN;
  }
}

/** kubelet's reasons for an exited container: OOMKilled, Completed (exit 0), Error. */
export function exitReason(rec: ContainerRecord): string {
  if (containerState(rec) !== ContainerState.CONTAINER_EXITED) return '';
  if (rec.state.oomKilled) return 'OOMKilled';
  return rec.state.exitCode === 0 ? 'Completed' : 'Error';
}

/** A sandbox is ready while its pause container runs. */
export function sandboxState(rec: ContainerRecord): cri.PodSandboxState {
  return rec.state.status === 'running' || rec.state.status === 'paused' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

const createdNanos = (rec: ContainerRecord) => toNanos(rec.created);

/** `sha256:<id>`: the form the CRI ImageService answers. */
export const imageRefOf = (imageId: string) => `sha256:${imageId}`;

function imageSpec(meta: ContainerMeta): DeepPartial<cri.ImageSpec> {
  return { image: meta.image, userSpecifiedImage: meta.userSpecifiedImage, annotations: {} };
}

export function containerItem(rec: ContainerRecord, meta: ContainerMeta): DeepPartial<cri.Container> {
  return {
    id: rec.id,
    podSandboxId: meta.sandboxId,
    metadata: meta.metadata,
    image: imageSpec(meta),
    imageRef: imageRefOf(rec.imageId),
    imageId: imageRefOf(rec.imageId),
    state: containerState(rec),
    createdAt: createdNanos(rec),
    labels: meta.labels,
    annotations: meta.annotations,
  };
}

export function containerStatus(rec: ContainerRecord, meta: ContainerMeta): DeepPartial<cri.ContainerStatus> {
  const state = containerState(rec);
  const started = state === ContainerState.CONTAINER_CREATED ? 0n : toNanos(rec.state.startedAt);
  return {
    id: rec.id,
    metadata: meta.metadata,
    state,
    createdAt: createdNanos(rec),
    startedAt: started,
    finishedAt: state === ContainerState.CONTAINER_EXITED ? toNanos(rec.state.finishedAt) : 0n,
    exitCode: state === ContainerState.CONTAINER_EXITED ? rec.state.exitCode : 0,
    image: imageSpec(meta),
    imageRef: imageRefOf(rec.imageId),
    imageId: imageRefOf(rec.imageId),
    reason: exitReason(rec),
    message: state === ContainerState.CONTAINER_EXITED ? rec.state.error : '',
    labels: meta.labels,
    annotations: meta.annotations,
    mounts: meta.mounts.map((m) => ({ ...m, uidMappings: [], gidMappings: [], recursiveReadOnly: false })),
    logPath: meta.logPath,
    resources: { linux: hostConfigToResources(rec.hostConfig) },
  };
}

export function sandboxItem(rec: ContainerRecord, meta: SandboxMeta): DeepPartial<cri.PodSandbox> {
  return {
    id: rec.id,
    metadata: meta.metadata,
    state: sandboxState(rec),
    createdAt: createdNanos(rec),
    labels: meta.labels,
    annotations: meta.annotations,
    runtimeHandler: meta.runtimeHandler,
  };
}

export function sandboxStatus(rec: ContainerRecord, meta: SandboxMeta, net: NetworkState): DeepPartial<cri.PodSandboxStatus> {
  const ready = sandboxState(rec) === PodSandboxState.SANDBOX_READY;
  // The pod IP is reported while the network is set up (a stopped pod has none).
  const ips = ready && net.state === 'ready' ? net.ips : [];
  return {
    ...sandboxItem(rec, meta),
    network: { ip: ips[0] ?? '', additionalIps: ips.slice(1).map((ip) => ({ ip })) },
    linux: { namespaces: { options: { network: meta.namespaces.network, pid: meta.namespaces.pid, ipc: meta.namespaces.ipc, targetId: meta.namespaces.targetId } } },
  };
}

/** ListPodSandbox filter: id (full or prefix), state, label selector; all ANDed. */
export function sandboxMatches(rec: ContainerRecord, meta: SandboxMeta, f: cri.PodSandboxFilter | undefined): boolean {
  if (!f) return true;
  if (f.id !== '' && !rec.id.startsWith(f.id)) return false;
  if (f.state !== undefined && sandboxState(rec) !== f.state.state) return false;
  return matchesSelector(meta.labels, f.labelSelector);
}

/** ListContainers filter: id and pod_sandbox_id (full or prefix), state, label selector. */
export function containerMatches(rec: ContainerRecord, meta: ContainerMeta, f: cri.ContainerFilter | undefined): boolean {
  if (!f) return true;
  if (f.id !== '' && !rec.id.startsWith(f.id)) return false;
  if (f.podSandboxId !== '' && !meta.sandboxId.startsWith(f.podSandboxId)) return false;
  if (f.state !== undefined && containerState(rec) !== f.state.state) return false;
  return matchesSelector(meta.labels, f.labelSelector);
}
