/**
 * CRI configs → what the container domain creates (pure functions, unit tested):
 *
 * - a pod sandbox becomes a pause container with its own network (only `lo` until CNI, if any,
 *   adds an interface), IPC, UTS and (POD/CONTAINER pid) PID namespaces, or the host's for NODE;
 *   hostname, resolv.conf (dns_config) and hosts are written into its bundle;
 * - a container joins the pause container's network, IPC and UTS namespaces (`container:<pause>`),
 *   its PID namespace when pid is POD, the host's for NODE, another container's for TARGET, and
 *   shares the pause container's hostname/hosts/resolv.conf files (Containers.create `etcDir`).
 */
import type { ContainerConfig, HostConfig, MountSpec } from '@isula/protocol';
import { cri } from '@isula/cri-api';
import type { ContainerRecord } from '../container/types';
import { invalidArgument } from './errors';
import {
  CONTAINER_META,
  CONTAINER_NAME,
  CONTAINER_TYPE,
  IMAGE_NAME,
  passedAnnotations,
  SANDBOX_ID,
  SANDBOX_LOG_DIRECTORY,
  SANDBOX_META,
  SANDBOX_NAME,
  SANDBOX_NAMESPACE,
  SANDBOX_UID,
  TYPE_CONTAINER,
  TYPE_SANDBOX,
  type ContainerMeta,
  type NamespaceModes,
  type SandboxMeta,
} from './labels';
import { containerName, sandboxName } from './naming';
import { clampOomScoreAdj } from './oom';

const { NamespaceMode, MountPropagation, SecurityProfile_ProfileType: ProfileType } = cri;

/** containerd's values for the pause container: a tiny CPU weight, and the OOM killer spares it. */
export const SANDBOX_CPU_SHARES = 2;
export const SANDBOX_OOM_SCORE_ADJ = -998;

/** What Containers.create takes (CreateOptions minus what the caller adds: runtime, log, etcDir). */
export interface CreateSpec {
  name: string;
  image: string;
  hostConfig: HostConfig;
  config: ContainerConfig;
}

/** The log settings of a CRI container: the Kubernetes CRI log format at `path` ('' = no log). */
export function criLogConfig(path: string): ContainerRecord['log'] {
  return { driver: 'kubernetes', path, maxSize: 0, maxFile: 1, disabled: path === '' };
}

/** A container whose own log is not wanted (the pause container): no log file at all. */
export const NO_LOG: ContainerRecord['log'] = { driver: 'none', path: '', maxSize: 0, maxFile: 1, disabled: true };

/** Keeps the spec's `log.console.*` annotations truthful: the monitor writes no json-file log. */
const LOG_DISABLED = { LogConfig: { Type: 'json-file', Config: { 'disable-log': 'true' } } } as HostConfig;

export function namespaceModes(o: cri.NamespaceOption | undefined): NamespaceModes {
  return { network: o?.network ?? NamespaceMode.POD, pid: o?.pid ?? NamespaceMode.POD, ipc: o?.ipc ?? NamespaceMode.POD, targetId: o?.targetId ?? '' };
}

const bigintToNumber = (v: bigint | undefined): number => (v === undefined ? 0 : Number(v));

/** `seccomp` (SecurityProfile) or the deprecated `seccomp_profile_path` → `--security-opt seccomp=...` ([] = the default profile). */
export function seccompOptions(profile: cri.SecurityProfile | undefined, legacyPath: string): string[] {
  if (profile) {
    switch (profile.profileType) {
      case ProfileType.RuntimeDefault:
        return [];
      case ProfileType.Unconfined:
        return ['seccomp=unconfined'];
      case ProfileType.Localhost:
        if (!profile.localhostRef) throw invalidArgument('seccomp: a Localhost profile needs localhost_ref');
        return [`seccomp=${profile.localhostRef}`];
      default:
        throw invalidArgument(`seccomp: unknown profile type ${profile.profileType}`);
    }
  }
  // The deprecated path: "" is unconfined (as CRI says and containerd does).
  if (legacyPath === '' || legacyPath === 'unconfined') return ['seccomp=unconfined'];
  if (legacyPath === 'runtime/default' || legacyPath === 'docker/default') return [];
  if (legacyPath.startsWith('localhost/')) return [`seccomp=${legacyPath.slice('localhost/'.length)}`];
  throw invalidArgument(`seccomp: unsupported profile path ${legacyPath}`);
}

/** run_as_user / run_as_username / run_as_group → isulad's `User` ('' = the image's). */
export function userOf(sc: { runAsUser?: cri.Int64Value; runAsUsername?: string; runAsGroup?: cri.Int64Value } | undefined): string {
  if (!sc) return '';
  const group = sc.runAsGroup !== undefined ? `:${sc.runAsGroup.value}` : '';
  if (sc.runAsUsername) return `${sc.runAsUsername}${group}`;
  if (sc.runAsUser !== undefined) return `${sc.runAsUser.value}${group}`;
  if (sc.runAsGroup !== undefined) throw invalidArgument(`user group ${sc.runAsGroup.value} is specified without user`);
  return '';
}

/** LinuxContainerResources → the host-config resource keys (0 = unset, as CRI means it). */
export function resourcesToHostConfig(r: cri.LinuxContainerResources | undefined): HostConfig {
  const hc: HostConfig = {};
  if (!r) return hc;
  if (r.cpuPeriod !== 0n) hc.CPUPeriod = bigintToNumber(r.cpuPeriod);
  if (r.cpuQuota !== 0n) hc.CPUQuota = bigintToNumber(r.cpuQuota);
  if (r.cpuShares !== 0n) hc.CPUShares = bigintToNumber(r.cpuShares);
  if (r.memoryLimitInBytes !== 0n) hc.Memory = bigintToNumber(r.memoryLimitInBytes);
  if (r.memorySwapLimitInBytes !== 0n) hc.MemorySwap = bigintToNumber(r.memorySwapLimitInBytes);
  if (r.oomScoreAdj !== 0n) hc.OomScoreAdj = bigintToNumber(r.oomScoreAdj);
  if (r.cpusetCpus !== '') hc.CpusetCpus = r.cpusetCpus;
  if (r.cpusetMems !== '') hc.CpusetMems = r.cpusetMems;
  if (r.hugepageLimits.length > 0) hc.Hugetlbs = r.hugepageLimits.map((h) => ({ PageSize: h.pageSize, Limit: bigintToNumber(h.limit) }));
  // `unified` holds cgroup v2 keys: this host runs cgroup v1 controllers, so they cannot apply.
  return hc;
}

/** The host-config resources back as CRI reports them in ContainerStatus. */
export function hostConfigToResources(hc: HostConfig): Partial<cri.LinuxContainerResources> {
  const big = (n: number | undefined) => BigInt(Math.trunc(n ?? 0));
  return {
    cpuPeriod: big(hc.CPUPeriod),
    cpuQuota: big(hc.CPUQuota),
    cpuShares: big(hc.CPUShares),
    memoryLimitInBytes: big(hc.Memory),
    memorySwapLimitInBytes: big(hc.MemorySwap),
    oomScoreAdj: big(hc.OomScoreAdj),
    cpusetCpus: hc.CpusetCpus ?? '',
    cpusetMems: hc.CpusetMems ?? '',
    hugepageLimits: (hc.Hugetlbs ?? []).map((h) => ({ pageSize: h.PageSize ?? '', limit: big(h.Limit) })),
    unified: {},
  };
}

const PROPAGATION: Record<number, string> = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'rprivate',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'rslave',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'rshared',
};

export function mountsToHostConfig(mounts: cri.Mount[]): MountSpec[] {
  return mounts.map((m) => {
    if (m.image !== undefined && m.image.image !== '') throw invalidArgument(`mount ${m.containerPath}: image volume mounts are not supported`);
    if (!m.containerPath) throw invalidArgument('mount: container_path is required');
    if (!m.hostPath) throw invalidArgument(`mount ${m.containerPath}: host_path is required`);
    if (m.uidMappings.length > 0 || m.gidMappings.length > 0) throw invalidArgument(`mount ${m.containerPath}: id-mapped mounts are not supported`);
    const propagation = PROPAGATION[m.propagation];
    if (propagation === undefined) throw invalidArgument(`mount ${m.containerPath}: unknown propagation ${m.propagation}`);
    return { Type: 'bind', Source: m.hostPath, Target: m.containerPath, Readonly: m.readonly || m.recursiveReadOnly, BindOptions: { Propagation: propagation } };
  });
}

function podMeta(md: cri.PodSandboxMetadata | undefined): SandboxMeta['metadata'] {
  if (!md || md.name === '') throw invalidArgument('sandbox config: metadata.name is required');
  return { name: md.name, uid: md.uid, namespace: md.namespace, attempt: md.attempt };
}

/** RunPodSandbox: the pause container of a sandbox config. */
export function sandboxCreateSpec(cfg: cri.PodSandboxConfig, o: { image: string; runtimeHandler: string; oomScoreAdjFloor?: number }): CreateSpec & { meta: SandboxMeta } {
  const metadata = podMeta(cfg.metadata);
  const linux = cfg.linux;
  const sc = linux?.securityContext;
  const ns = namespaceModes(sc?.namespaceOptions);
  const hostNet = ns.network === NamespaceMode.NODE;
  const dns = cfg.dnsConfig;
  const meta: SandboxMeta = {
    metadata,
    hostname: cfg.hostname,
    logDirectory: cfg.logDirectory,
    dns: dns ? { servers: [...dns.servers], searches: [...dns.searches], options: [...dns.options] } : null,
    portMappings: cfg.portMappings.map((p) => ({ protocol: p.protocol, containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIp })),
    labels: { ...cfg.labels },
    annotations: { ...cfg.annotations },
    namespaces: ns,
    cgroupParent: linux?.cgroupParent ?? '',
    privileged: sc?.privileged === true,
    runtimeHandler: o.runtimeHandler,
  };
  const hostConfig: HostConfig = {
    ...LOG_DISABLED,
    NetworkMode: hostNet ? 'host' : 'none',
    UTSMode: hostNet ? 'host' : '',
    IpcMode: ns.ipc === NamespaceMode.NODE ? 'host' : '',
    PidMode: ns.pid === NamespaceMode.NODE ? 'host' : '',
    RestartPolicy: { Name: 'no' },
    CPUShares: SANDBOX_CPU_SHARES,
    ReadonlyRootfs: sc?.readonlyRootfs === true,
    SecurityOpt: seccompOptions(sc?.seccomp, sc?.seccompProfilePath ?? ''),
  };
  const oom = clampOomScoreAdj(SANDBOX_OOM_SCORE_ADJ, o.oomScoreAdjFloor ?? -1000);
  if (oom !== undefined) hostConfig.OomScoreAdj = oom;
  if (dns) {
    if (dns.servers.length > 0) hostConfig.Dns = [...dns.servers];
    if (dns.searches.length > 0) hostConfig.DnsSearch = [...dns.searches];
    if (dns.options.length > 0) hostConfig.DnsOptions = [...dns.options];
  }
  if (meta.cgroupParent !== '') hostConfig.CgroupParent = meta.cgroupParent;
  if (linux && Object.keys(linux.sysctls).length > 0) hostConfig.Sysctls = { ...linux.sysctls };
  const config: ContainerConfig = {
    Hostname: cfg.hostname,
    Labels: { ...cfg.labels, [CONTAINER_TYPE]: TYPE_SANDBOX },
    Annotations: {
      ...passedAnnotations(cfg.annotations),
      [CONTAINER_TYPE]: TYPE_SANDBOX,
      [SANDBOX_NAME]: metadata.name,
      [SANDBOX_NAMESPACE]: metadata.namespace,
      [SANDBOX_UID]: metadata.uid,
      [SANDBOX_LOG_DIRECTORY]: cfg.logDirectory,
      [SANDBOX_META]: JSON.stringify(meta),
    },
  };
  const user = userOf(sc);
  if (user !== '') config.User = user;
  return { name: sandboxName(metadata), image: o.image, hostConfig, config, meta };
}

/** The sandbox a container is created in, as translate needs it. */
export interface SandboxRef {
  id: string;
  meta: SandboxMeta;
}

/** CreateContainer: the container of a CRI config inside sandbox `sb`. */
export function containerCreateSpec(cfg: cri.ContainerConfig, sb: SandboxRef, o: { logPath: string; oomScoreAdjFloor?: number }): CreateSpec & { meta: ContainerMeta } {
  const md = cfg.metadata;
  if (!md || md.name === '') throw invalidArgument('container config: metadata.name is required');
  const image = cfg.image?.image ?? '';
  if (image === '') throw invalidArgument('container config: image.image is required');
  const sc = cfg.linux?.securityContext;
  if (sc?.privileged && !sb.meta.privileged) throw invalidArgument('no privileged container allowed in sandbox');
  const ns = namespaceModes(sc?.namespaceOptions);
  const pause = `container:${sb.id}`;
  const hostNet = ns.network === NamespaceMode.NODE;
  let pidMode: string;
  switch (ns.pid) {
    case NamespaceMode.NODE:
      pidMode = 'host';
      break;
    case NamespaceMode.CONTAINER:
      pidMode = '';
      break;
    case NamespaceMode.TARGET:
      if (!ns.targetId) throw invalidArgument('namespace options: pid TARGET needs target_id');
      pidMode = `container:${ns.targetId}`;
      break;
    default:
      // POD: the pause container's pid namespace (the host's when the sandbox has NODE pid).
      pidMode = sb.meta.namespaces.pid === NamespaceMode.NODE ? 'host' : pause;
  }
  const meta: ContainerMeta = {
    sandboxId: sb.id,
    metadata: { name: md.name, attempt: md.attempt },
    image,
    userSpecifiedImage: cfg.image?.userSpecifiedImage ?? '',
    labels: { ...cfg.labels },
    annotations: { ...cfg.annotations },
    logPath: o.logPath,
    mounts: cfg.mounts.map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly, selinuxRelabel: m.selinuxRelabel, propagation: m.propagation })),
    tty: cfg.tty,
    stdin: cfg.stdin,
    stdinOnce: cfg.stdinOnce,
  };
  const security: string[] = [...seccompOptions(sc?.seccomp, sc?.seccompProfilePath ?? '')];
  if (sc?.noNewPrivs) security.push('no-new-privileges');
  const hostConfig: HostConfig = {
    ...LOG_DISABLED,
    ...resourcesToHostConfig(cfg.linux?.resources),
    NetworkMode: hostNet ? 'host' : pause,
    UTSMode: hostNet ? 'host' : pause,
    IpcMode: ns.ipc === NamespaceMode.NODE ? 'host' : pause,
    PidMode: pidMode,
    RestartPolicy: { Name: 'no' },
    Privileged: sc?.privileged === true,
    ReadonlyRootfs: sc?.readonlyRootfs === true,
    SecurityOpt: security,
  };
  const oom = clampOomScoreAdj(hostConfig.OomScoreAdj, o.oomScoreAdjFloor ?? -1000);
  if (oom !== undefined) hostConfig.OomScoreAdj = oom;
  else delete hostConfig.OomScoreAdj;
  if (sb.meta.cgroupParent !== '') hostConfig.CgroupParent = sb.meta.cgroupParent;
  if (sc?.capabilities) {
    if (sc.capabilities.addCapabilities.length > 0) hostConfig.CapAdd = [...sc.capabilities.addCapabilities];
    if (sc.capabilities.dropCapabilities.length > 0) hostConfig.CapDrop = [...sc.capabilities.dropCapabilities];
  }
  if (sc && sc.supplementalGroups.length > 0) hostConfig.GroupAdd = sc.supplementalGroups.map(String);
  if (cfg.mounts.length > 0) hostConfig.Mounts = mountsToHostConfig(cfg.mounts);
  if (cfg.devices.length > 0) {
    hostConfig.Devices = cfg.devices.map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath || d.hostPath, CgroupPermissions: d.permissions || 'rwm' }));
  }
  const pod = sb.meta.metadata;
  const config: ContainerConfig = {
    // Joined UTS namespace: the runtime sets the spec's hostname in it, so it must be the pod's.
    Hostname: sb.meta.hostname || sb.id.slice(0, 12),
    Env: cfg.envs.map((e) => `${e.key}=${e.value}`),
    WorkingDir: cfg.workingDir,
    Tty: cfg.tty,
    OpenStdin: cfg.stdin,
    StdinOnce: cfg.stdinOnce,
    AttachStdin: cfg.stdin,
    Labels: { ...cfg.labels, [CONTAINER_TYPE]: TYPE_CONTAINER, [SANDBOX_ID]: sb.id },
    Annotations: {
      ...passedAnnotations(cfg.annotations),
      [CONTAINER_TYPE]: TYPE_CONTAINER,
      [SANDBOX_ID]: sb.id,
      [SANDBOX_NAME]: pod.name,
      [SANDBOX_NAMESPACE]: pod.namespace,
      [SANDBOX_UID]: pod.uid,
      [CONTAINER_NAME]: md.name,
      [IMAGE_NAME]: image,
      [CONTAINER_META]: JSON.stringify(meta),
    },
  };
  if (cfg.command.length > 0) config.Entrypoint = [...cfg.command];
  if (cfg.args.length > 0) config.Cmd = [...cfg.args];
  const user = userOf(sc);
  if (user !== '') config.User = user;
  return { name: containerName(md, pod), image, hostConfig, config, meta };
}
