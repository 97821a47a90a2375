/**
 * JSON documents carried as strings inside `containers.CreateRequest`:
 *
 * - `hostconfig` (field 5) → {@link HostConfig}, upstream schema `lcr: src/json/schema/host-config.json`
 * - `customconfig` (field 6) → {@link ContainerConfig}, upstream schema `lcr: src/json/schema/container/config.json`
 *
 * Key spellings follow the upstream schemas exactly (Docker-like PascalCase, with upstream's own
 * oddities such as `CPUShares`, `NanoCpus`, `UTSMode`, `Onbuild`). Every field is optional: upstream
 * omits unset values from the JSON. Integer schema types (`int64`, `uint64`...) are plain `number`s
 * here; values above 2^53 are not expected from the CLI.
 */

// ---------------------------------------------------------------------------
// Helper types (lcr defs.json and friends)
// ---------------------------------------------------------------------------

/** `RestartPolicy` of host-config.json. */
export interface RestartPolicy {
  /** `no`, `always`, `on-reboot`, `on-failure` (upstream also accepts `unless-stopped` in the daemon). */
  Name?: string;
  /** Only meaningful for `on-failure`. */
  MaximumRetryCount?: number;
}

/** Item of `Ulimits` (host-config.json). */
export interface Ulimit {
  /** Resource name without the `RLIMIT_` prefix, lower case: `nofile`, `nproc`, `core`... */
  Name?: string;
  Hard?: number;
  Soft?: number;
}

/** `BlkioDevice` of defs.json (`--device-read-bps` etc.). */
export interface BlkioDevice {
  Path?: string;
  /** Bytes per second (bps) or operations per second (iops). */
  Rate?: number;
}

/** `BlkioWeightDevice` of defs.json (`--blkio-weight-device`). */
export interface BlkioWeightDevice {
  Path?: string;
  /** 10..1000 (0 disables). */
  Weight?: number;
}

/** Item of `Devices` (host-config.json), from `--device host[:container][:rwm]`. */
export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  /** Subset of `rwm`. */
  CgroupPermissions?: string;
}

/** Item of `Hugetlbs` (host-config.json), from `--hugetlb-limit [pagesize:]limit`. */
export interface HugetlbLimit {
  /** e.g. `2MB`; empty means the default huge page size. */
  PageSize?: string;
  /** Bytes. */
  Limit?: number;
}

/** `HostChannel` (host-config.json), from `--host-channel host:container:rw|ro:size`. */
export interface HostChannel {
  PathOnHost?: string;
  PathInContainer?: string;
  /** `rw` or `ro`. */
  Permissions?: string;
  /** Bytes. */
  Size?: number;
}

/** `bind-options.json`. */
export interface BindOptions {
  /** `private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`. */
  Propagation?: string;
  /** SELinux relabel option (`z` / `Z`). Note the hyphenated upstream key. */
  'selinux-opts'?: string;
}

/** `volume/options.json`. */
export interface VolumeOptions {
  /** Do not copy image content into a new named volume. */
  NoCopy?: boolean;
}

/** `tmpfs-options.json`. */
export interface TmpfsOptions {
  SizeBytes?: number;
  /** File mode bits (e.g. 0o1777). */
  Mode?: number;
}

/** `mount_spec.json`: item of `HostConfig.Mounts`, from `--mount`. */
export interface MountSpec {
  /** `bind`, `volume` or `tmpfs`. */
  Type?: string;
  /** Host path (bind) or volume name (volume); empty for anonymous volumes and tmpfs. */
  Source?: string;
  /** Absolute path inside the container. */
  Target?: string;
  Readonly?: boolean;
  Consistency?: string;
  BindOptions?: BindOptions;
  VolumeOptions?: VolumeOptions;
  TmpfsOptions?: TmpfsOptions;
}

/** `HealthCheck` of defs.json (`ContainerConfig.Healthcheck`). Durations are nanoseconds. */
export interface HealthCheck {
  /**
   * `[]` inherit from image, `["NONE"]` disabled, `["CMD", args...]` exec directly,
   * `["CMD-SHELL", command]` run with the default shell.
   */
  Test?: string[];
  /** Nanoseconds between checks. */
  Interval?: number;
  /** Nanoseconds before a single check is considered hung. */
  Timeout?: number;
  /** Nanoseconds of start-up grace period. */
  StartPeriod?: number;
  /** Consecutive failures needed to report unhealthy. */
  Retries?: number;
  /** iSulad extension: kill the container when it becomes unhealthy. */
  ExitOnUnhealthy?: boolean;
}

/** `mapStringObject` of defs.json: keys with empty-object values (`{"80/tcp": {}}`, `{"/data": {}}`). */
export type EmptyObjectMap = Record<string, object>;

// ---------------------------------------------------------------------------
// host-config.json
// ---------------------------------------------------------------------------

/** `CreateRequest.hostconfig` (also `UpdateRequest.hostconfig`), schema `lcr: src/json/schema/host-config.json`. */
export interface HostConfig {
  /** Containers whose volumes are mounted too (`--volumes-from`). */
  VolumesFrom?: string[];
  /** `-v` specs, kept as strings: `src:dst[:opts]` or an anonymous `dst`. */
  Binds?: string[];
  /** `--mount` specs. */
  Mounts?: MountSpec[];
  /** `--net`/`--network`: `host`, `none`, `bridge`, `container:<id>`, or a network name. */
  NetworkMode?: string;
  GroupAdd?: string[];
  /** `--ipc`: `host`, `shareable`, `none`, `container:<id>`... */
  IpcMode?: string;
  /** `--pid`: `host` or `container:<id>`. */
  PidMode?: string;
  Privileged?: boolean;
  SystemContainer?: boolean;
  /** `--ns-change-opt` split on commas (system containers). */
  NsChangeFiles?: string[];
  /** `--user-remap uid:gid:offset`. */
  UserRemap?: string;
  /** Bytes of /dev/shm. */
  ShmSize?: number;
  /** `--rm`. */
  AutoRemove?: boolean;
  /** Daemon-internal copy of AutoRemove. */
  AutoRemoveBak?: boolean;
  /** `--read-only`. */
  ReadonlyRootfs?: boolean;
  /** `--tmpfs`: container path → mount options (`""` for defaults). */
  Tmpfs?: Record<string, string>;
  /** `--uts`: `host` or empty. */
  UTSMode?: string;
  /** `--userns`: `host` or empty. */
  UsernsMode?: string;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  RestartPolicy?: RestartPolicy;
  CapAdd?: string[];
  CapDrop?: string[];
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  /** `--add-host host:ip`. */
  ExtraHosts?: string[];
  /** Path of an OCI hooks JSON file (`--hook-spec`). */
  HookSpec?: string;
  /** Relative CPU weight (`--cpu-shares`). Note the upstream spelling `CPUShares`. */
  CPUShares?: number;
  /** Bytes. */
  Memory?: number;
  OomScoreAdj?: number;
  /** 10..1000. */
  BlkioWeight?: number;
  BlkioWeightDevice?: BlkioWeightDevice[];
  BlkioDeviceReadBps?: BlkioDevice[];
  BlkioDeviceWriteBps?: BlkioDevice[];
  BlkioDeviceReadIops?: BlkioDevice[];
  BlkioDeviceWriteIops?: BlkioDevice[];
  /** `--cpus` × 1e9. Note the upstream spelling `NanoCpus`. */
  NanoCpus?: number;
  /** Microseconds. */
  CPUPeriod?: number;
  /** Microseconds. */
  CPUQuota?: number;
  /** Microseconds. */
  CPURealtimePeriod?: number;
  /** Microseconds. */
  CPURealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[];
  DeviceCgroupRules?: string[];
  /** `--security-opt` strings (`seccomp=...`, `label=...`, `no-new-privileges`...). */
  SecurityOpt?: string[];
  StorageOpt?: Record<string, string>;
  /** Bytes. */
  KernelMemory?: number;
  /** Bytes. */
  MemoryReservation?: number;
  /** Bytes of memory + swap; -1 = unlimited swap. */
  MemorySwap?: number;
  /** 0..100; `null`/absent = inherit. */
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean;
  /** -1 or 0 = unlimited. */
  PidsLimit?: number;
  /** iSulad extension: max open files of the container cgroup (files cgroup); -1 or 0 = unlimited. */
  FilesLimit?: number;
  Ulimits?: Ulimit[];
  Hugetlbs?: HugetlbLimit[];
  HostChannel?: HostChannel;
  /** `--env-target-file`: file in the rootfs where the env is also written. */
  EnvTargetFile?: string;
  /** `--external-rootfs` path (also sent as `CreateRequest.rootfs`). */
  ExternalRootfs?: string;
  CgroupParent?: string;
}

// ---------------------------------------------------------------------------
// container/config.json
// ---------------------------------------------------------------------------

/** `CreateRequest.customconfig`, schema `lcr: src/json/schema/container/config.json`. */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  /** `user`, `uid`, `user:group`, `uid:gid`. */
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  /** `{"80/tcp": {}}`. */
  ExposedPorts?: EmptyObjectMap;
  PublishService?: string;
  Tty?: boolean;
  /** `-i`. */
  OpenStdin?: boolean;
  /** Close stdin after the first attached client detaches. */
  StdinOnce?: boolean;
  /** `KEY=VALUE` strings. */
  Env?: string[];
  Cmd?: string[];
  ArgsEscaped?: boolean;
  Image?: string;
  ImageRef?: string;
  /** Anonymous volume destinations: `{"/data": {}}`. */
  Volumes?: EmptyObjectMap;
  WorkingDir?: string;
  Entrypoint?: string[];
  NetworkDisabled?: boolean;
  MacAddress?: string;
  /** Note the upstream spelling `Onbuild`. */
  Onbuild?: string[];
  Labels?: Record<string, string>;
  LogDriver?: string;
  /**
   * Free-form annotations (`--annotation`); the client also stores log options here
   * (`log.console.driver`, `log.console.file`, `log.console.filesize`, `log.console.filerotate`,
   * `log.console.tag`, `log.console.facility`...).
   */
  Annotations?: Record<string, string>;
  /** Signal name or number, e.g. `SIGTERM`. */
  StopSignal?: string;
  Healthcheck?: HealthCheck;
  SystemContainer?: boolean;
  NsChangeOpt?: string;
  /** Mount strings (system containers). */
  Mounts?: string[];
}

/** Annotation keys that carry a container's console log settings (upstream's client writes them, the
 * daemon copies them into the bundle's config.json where upstream's CI greps them). */
export const LOG_ANNOTATION = {
  driver: 'log.console.driver',
  file: 'log.console.file',
  rotate: 'log.console.filerotate',
  size: 'log.console.filesize',
  tag: 'log.console.tag',
  facility: 'log.console.facility',
} as const;

// ---------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------

function parseObject(json: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error(`Invalid ${what} JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    throw new Error(`Invalid ${what} JSON: expected an object, got ${kind}`);
  }
  return value as Record<string, unknown>;
}

/** Parse `CreateRequest.hostconfig`. Only checks that the top level is an object; an empty string gives `{}`. */
export function parseHostConfig(json: string): HostConfig {
  if (json.trim() === '') return {};
  return parseObject(json, 'host config') as HostConfig;
}

/** Parse `CreateRequest.customconfig`. Only checks that the top level is an object; an empty string gives `{}`. */
export function parseContainerConfig(json: string): ContainerConfig {
  if (json.trim() === '') return {};
  return parseObject(json, 'container config') as ContainerConfig;
}
