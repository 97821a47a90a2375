/**
 * How a CRI object lives in the container domain: a pod sandbox IS a container record (the pause
 * container) and a CRI container is a container record too; both are told apart, and carry their
 * CRI view, through labels and annotations of the record's config, so that the existing store and
 * restore keep everything across daemon restarts.
 *
 * Labels (`config.Labels`, what `isula ps -f label=...` sees):
 *   the CRI labels as given, plus
 *   io.kubernetes.cri.container-type   sandbox | container
 *   io.kubernetes.cri.sandbox-id       the pod sandbox id (containers)
 *
 * Annotations (`config.Annotations`, also the OCI spec's annotations, as containerd sets them for
 * runtimes such as kata):
 *   the CRI annotations as given (except `log.console.*`, which drive isulad's own log settings), plus
 *   io.kubernetes.cri.container-type       sandbox | container
 *   io.kubernetes.cri.sandbox-id           (containers)
 *   io.kubernetes.cri.sandbox-name / -namespace / -uid, io.kubernetes.cri.sandbox-log-directory
 *   io.kubernetes.cri.container-name, io.kubernetes.cri.image-name (containers)
 *   io.isula.cri.sandbox     JSON {@link SandboxMeta}: the CRI view of the sandbox config
 *   io.isula.cri.container   JSON {@link ContainerMeta}: the CRI view of the container config
 *   io.isula.cri.network     JSON {@link NetworkState}: the pod network (mutable: rewritten after CNI calls)
 *
 * The labels and annotations CRI reports back come from the JSON views, never from the record's
 * maps, so what kubelet gave is what it gets back, unaltered.
 */
import type { ContainerRecord } from '../container/types';

export const CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
export const TYPE_SANDBOX = 'sandbox';
export const TYPE_CONTAINER = 'container';
export const SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
export const SANDBOX_NAME = 'io.kubernetes.cri.sandbox-name';
export const SANDBOX_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';
export const SANDBOX_UID = 'io.kubernetes.cri.sandbox-uid';
export const SANDBOX_LOG_DIRECTORY = 'io.kubernetes.cri.sandbox-log-directory';
export const CONTAINER_NAME = 'io.kubernetes.cri.container-name';
export const IMAGE_NAME = 'io.kubernetes.cri.image-name';
export const SANDBOX_META = 'io.isula.cri.sandbox';
export const CONTAINER_META = 'io.isula.cri.container';
export const NETWORK_STATE = 'io.isula.cri.network';

/** CRI NamespaceMode values (POD 0, CONTAINER 1, NODE 2, TARGET 3). */
export interface NamespaceModes {
  network: number;
  pid: number;
  ipc: number;
  targetId: string;
}

/** The CRI view of a pod sandbox, JSON-safe (no bigint), stored at create. */
export interface SandboxMeta {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  hostname: string;
  logDirectory: string;
  dns: { servers: string[]; searches: string[]; options: string[] } | null;
  portMappings: Array<{ protocol: number; containerPort: number; hostPort: number; hostIp: string }>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  namespaces: NamespaceModes;
  cgroupParent: string;
  privileged: boolean;
  runtimeHandler: string;
}

/** One CRI mount, as given (propagation and ids as numbers). */
export interface CriMountMeta {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  selinuxRelabel: boolean;
  propagation: number;
}

/** The CRI view of a container, JSON-safe, stored at create. */
export interface ContainerMeta {
  sandboxId: string;
  metadata: { name: string; attempt: number };
  /** ImageSpec.image as given, and the user-specified image (kubelet's display name). */
  image: string;
  userSpecifiedImage: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The log file: join(sandbox log_directory, log_path), '' without one. */
  logPath: string;
  mounts: CriMountMeta[];
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

/**
 * The pod network: `host` (NODE network), `none` (network-plugin "": only lo), `pending` (CNI ADD
 * under way or interrupted: a teardown is owed), `ready` (CNI set up), `down` (torn down).
 */
export interface NetworkState {
  state: 'host' | 'none' | 'pending' | 'ready' | 'down';
  ip: string;
  ips: string[];
}

function annotation(rec: ContainerRecord, key: string): string | undefined {
  return rec.config.Annotations?.[key];
}

export function criType(rec: ContainerRecord): string | undefined {
  return annotation(rec, CONTAINER_TYPE);
}

export function isSandbox(rec: ContainerRecord): boolean {
  return criType(rec) === TYPE_SANDBOX && annotation(rec, SANDBOX_META) !== undefined;
}

export function isCriContainer(rec: ContainerRecord): boolean {
  return criType(rec) === TYPE_CONTAINER && annotation(rec, CONTAINER_META) !== undefined;
}

function parse<T>(rec: ContainerRecord, key: string): T {
  const raw = annotation(rec, key);
  if (raw === undefined) throw new Error(`container ${rec.id} has no ${key} annotation`);
  return JSON.parse(raw) as T;
}

export function sandboxMeta(rec: ContainerRecord): SandboxMeta {
  return parse<SandboxMeta>(rec, SANDBOX_META);
}

export function containerMeta(rec: ContainerRecord): ContainerMeta {
  return parse<ContainerMeta>(rec, CONTAINER_META);
}

export function networkState(rec: ContainerRecord): NetworkState {
  const raw = annotation(rec, NETWORK_STATE);
  if (raw === undefined) return { state: 'none', ip: '', ips: [] };
  return JSON.parse(raw) as NetworkState;
}

/** Stores the network state in the record (the caller saves it). */
export function setNetworkState(rec: ContainerRecord, st: NetworkState): void {
  rec.config.Annotations = { ...(rec.config.Annotations ?? {}), [NETWORK_STATE]: JSON.stringify(st) };
}

/** CRI annotations as they may go into the record: `log.console.*` would reconfigure isulad's own logging. */
export function passedAnnotations(annotations: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) if (!k.startsWith('log.console.')) out[k] = v;
  return out;
}

/** CRI label selectors: every key present with exactly that value (MatchLabels, ANDed). */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}
