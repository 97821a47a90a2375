/**
 * OCI runtime spec (config.json) types as this module writes them, the input of `buildSpec`
 * and the error it throws. Field names follow the OCI runtime spec 1.0.2 JSON exactly.
 */
import type { ContainerConfig, HostConfig } from '@isula/protocol';

export type { ContainerConfig, HostConfig };

// ---------------------------------------------------------------------------------------------
// OCI runtime spec
// ---------------------------------------------------------------------------------------------

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciConsoleSize {
  height: number;
  width: number;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: OciConsoleSize;
  user: OciUser;
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciRoot {
  path: string;
  readonly?: boolean;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

import type { OciHooks } from '../../config/hook-spec';
export type { OciHook, OciHooks } from '../../config/hook-spec';

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
}

export interface OciWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: OciWeightDevice[];
  throttleReadBpsDevice?: OciThrottleDevice[];
  throttleWriteBpsDevice?: OciThrottleDevice[];
  throttleReadIOPSDevice?: OciThrottleDevice[];
  throttleWriteIOPSDevice?: OciThrottleDevice[];
}

export interface OciHugepageLimit {
  pageSize: string;
  limit: number;
}

export interface OciResources {
  devices?: OciDeviceCgroup[];
  memory?: OciMemory;
  cpu?: OciCpu;
  pids?: { limit: number };
  blockIO?: OciBlockIO;
  hugepageLimits?: OciHugepageLimit[];
  network?: { classID?: number; priorities?: { name: string; priority: number }[] };
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: OciNamespaceType;
  path?: string;
}

export interface OciDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSeccompSyscall[];
}

export interface OciLinux {
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  sysctl?: Record<string, string>;
  resources?: OciResources;
  cgroupsPath?: string;
  namespaces?: OciNamespace[];
  devices?: OciDevice[];
  seccomp?: OciSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: OciRoot;
  hostname?: string;
  mounts?: OciMount[];
  hooks?: OciHooks;
  annotations?: Record<string, string>;
  linux?: OciLinux;
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/** The `config` object of an OCI image config JSON (`{config?: {...}}`). */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Volumes?: Record<string, unknown> | null;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
}

export interface ImageConfigJson {
  config?: ImageRuntimeConfig | null;
}

/** A mount the caller already resolved to host paths (binds, named volumes, tmpfs). */
export interface ResolvedMount {
  source: string;
  destination: string;
  type: string;
  options?: string[];
}

/** Container log settings, daemon-wide (`container-log` in daemon.json). */
export interface DaemonContainerLog {
  driver: string;
  opts: Record<string, string>;
}

export interface DaemonUlimit {
  name: string;
  soft: number;
  hard: number;
}

export interface SpecDaemonDefaults {
  nativeUmask?: 'normal' | 'secure' | string;
  /** daemon.json `default-ulimits` (keyed by name, or the values as a list). */
  defaultUlimits?: Record<string, DaemonUlimit> | readonly DaemonUlimit[];
  cgroupParent?: string;
  /** Path of the daemon-wide hook spec file ('' = none). */
  hookSpec?: string;
  /** `uid:gid:range` or ''. */
  usernsRemap?: string;
  log?: DaemonContainerLog;
}

export interface HostLimits {
  /** Hard RLIMIT_NOFILE of the daemon (what runc can grant at most). */
  nofile: number;
  /** Hard RLIMIT_NPROC of the daemon. */
  nproc: number;
  /** Any other hard limit the caller knows, keyed by ulimit name (`memlock`, `core`, ...). */
  [name: string]: number | undefined;
}

/** `stat` of a device node on the host. */
export interface DeviceInfo {
  type: 'c' | 'b' | 'p';
  major: number;
  minor: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
}

export type StatDevice = (path: string) => Promise<DeviceInfo>;
/** Resolves a container id or name to the pid of its running init process; throws / returns undefined if not running. */
export type ResolveContainerPid = (idOrName: string) => number | undefined | Promise<number | undefined>;

export interface SpecPaths {
  /** OCI spec template; default `/etc/default/isulad/config.json`. Absent file → built-in default. */
  template?: string;
  /** Default seccomp profile; default `/etc/isulad/seccomp_default.json`. Absent file → built-in default. */
  seccompDefault?: string;
}

/** Optional facts about the host. */
export interface SpecHostInfo {
  /** Capabilities the daemon holds (bounding set); privileged / `--cap-add ALL` grant these. Default: every known one. */
  capabilities?: string[];
  /** Seccomp arch of the host (`x86_64`, `aarch64`...); default `process.arch`. */
  arch?: string;
  /** Host hostname, used for `--net=host` containers without an explicit hostname. */
  hostname?: string;
  /** Host device nodes a privileged container gets (the caller scans /dev). */
  devices?: OciDevice[];
  /** Whether the memory cgroup has swap accounting (then Memory without MemorySwap gets swap = 2 × memory). */
  swapAccounting?: boolean;
}

export interface BuildSpecInput {
  id: string;
  name: string;
  /** Absolute path of the merged rootfs. */
  rootfs: string;
  /** Bundle dir (`<graph>/engines/<runtime>/<id>`): default `log.console.file` is `<bundle>/console.log`. */
  bundle: string;
  hostConfig: HostConfig;
  config: ContainerConfig;
  imageConfig?: ImageConfigJson | null;
  /** Image id / name, used by syslog tag templates (`{{.ImageID}}`, `{{.ImageName}}`). */
  imageId?: string;
  imageName?: string;
  mounts?: ResolvedMount[];
  hostnamePath?: string;
  hostsPath?: string;
  resolvConfPath?: string;
  /** Host dir bind-mounted at /dev/shm instead of a private tmpfs (e.g. shared from another container). */
  shmPath?: string;
  daemon: SpecDaemonDefaults;
  /** The daemon's hard rlimits; every container rlimit is clamped to them. */
  hostLimits: HostLimits;
  host?: SpecHostInfo;
  paths?: SpecPaths;
  statDevice?: StatDevice;
  /** Resolves `container:<x>` namespace targets to the pid of that running container. */
  resolvePid?: ResolveContainerPid;
}

/** Invalid user input found while building the spec; the caller maps it to cc ERR_INPUT. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}
