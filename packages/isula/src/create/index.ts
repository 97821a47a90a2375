/**
 * Client-side translation of `isula create` / `isula run` options into the Create RPC payload:
 * `CreateRequest{ id: name, rootfs, image, runtime, hostconfig: JSON(hostConfig), customconfig: JSON(config) }`.
 *
 * Input is what `parseArgs` (@isula/argv) returns for the `create`/`run` option table. Every invalid
 * value throws a `UsageError` (exit 125) carrying upstream's message text.
 */
import * as fs from 'node:fs';
import type { ContainerConfig, HostConfig } from '@isula/protocol';
import { invalidArg, invalidValue } from './errors';
import { addAnnotation, buildLabels, parseEnvList, readEnvFiles, REGULAR_FILE_SIZE } from './env';
import { buildHealthCheck } from './health';
import { addLogOpt, parseLogDriver, type LogDriver } from './logging';
import { parseNetworkMode, validateDns, validateExtraHost } from './network';
import {
  parseBpsDevice,
  parseDevice,
  parseHostChannel,
  parseHugetlb,
  parseIopsDevice,
  parseUlimits,
  parseWeightDevice,
  validateDeviceCgroupRule,
} from './resources';
import { buildRestartPolicy } from './restart';
import { buildSecurityOpts, parseStorageOpts, parseSysctls, validateCaps } from './security';
import { parseMemBytes, parseMemSwapBytes, parseNanoCpus, parseSwappiness } from './units';
import { bool, int64Flag, list, str, uint16Flag, type OptionValues } from './values';
import { parseMountSpec, parseTmpfs, validateVolumeSpec } from './volumes';

export type PullPolicy = 'always' | 'missing' | 'never';

export interface CreateRequestParts {
  /** `--name` (CreateRequest.id); absent → the daemon uses the id. */
  name?: string;
  /** CreateRequest.image (the first positional, verbatim). */
  image: string;
  /** `-R/--runtime` (CreateRequest.runtime). */
  runtime?: string;
  /** `--external-rootfs` (or IMAGE_NONE_PATH for image `none`), resolved to a real path (CreateRequest.rootfs). */
  rootfs?: string;
  hostConfig: HostConfig;
  config: ContainerConfig;
  /** `--pull` (default `missing`). */
  pull: PullPolicy;
  /** Non-fatal notes upstream prints to stderr (e.g. `--oom-kill-disable` without `-m`). */
  warnings: string[];
}

export interface BuildCreateOptions {
  /** Sub-command name; `run` (without `-d`) attaches stdout/stderr. Default `create`. */
  command?: 'create' | 'run';
}

/** Upstream HOST_NAME_REGEXP (printed verbatim in the error text). */
export const HOST_NAME_REGEXP =
  '^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])$';
const HOST_NAME_RE = new RegExp(HOST_NAME_REGEXP);
const MAX_HOST_NAME_LEN = 64;
const CONTAINER_NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const MAX_CONTAINER_NAME_LEN = 1024;

const NS_CHANGE_FILES: Record<'net' | 'ipc', string[]> = {
  net: ['/proc/sys/net'],
  ipc: [
    '/proc/sys/kernel/shmmax', '/proc/sys/kernel/shmmni', '/proc/sys/kernel/shmall',
    '/proc/sys/kernel/shm_rmid_forced', '/proc/sys/kernel/msgmax', '/proc/sys/kernel/msgmni',
    '/proc/sys/kernel/msgmnb', '/proc/sys/kernel/sem', '/proc/sys/fs/mqueue',
  ],
};

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'ENOTDIR':
      return 'Not a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function checkHookSpec(hookSpec: string): void {
  if (!/^(\/[^/ ]*)+\/?$/.test(hookSpec)) invalidArg(`Hook path "${hookSpec}" must be an absolute path`);
  let st: fs.Stats;
  try {
    st = fs.statSync(hookSpec);
  } catch (err) {
    return invalidArg(`Stat hook spec file failed: ${errnoText(err)}`);
  }
  if (!st.isFile()) invalidArg('Hook spec file must be a regular text file');
  if (st.size > REGULAR_FILE_SIZE) {
    invalidArg(`Hook spec file size ${st.size} exceed limit: ${REGULAR_FILE_SIZE / (1024 * 1024)}M`);
  }
}

function resolveRootfs(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch (err) {
    return invalidArg(`Failed to get rootfs '${p}': ${errnoText(err)}`);
  }
}

function parsePull(text: string | undefined): PullPolicy {
  if (text === undefined) return 'missing';
  if (text === 'always' || text === 'missing' || text === 'never') return text;
  return invalidValue('pull', text);
}

function nonEmpty<T>(arr: readonly T[]): T[] | undefined {
  return arr.length === 0 ? undefined : [...arr];
}

/** Set `obj[key] = value` only when `value` is defined (keeps the JSON free of `null`s). */
function put<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) obj[key] = value;
}

/**
 * Build the Create RPC parts from parsed `isula create`/`isula run` arguments.
 *
 * @param values      `parseArgs(...).values` (long option names as keys)
 * @param positionals `parseArgs(...).positionals`: IMAGE [COMMAND] [ARG...]
 * @param env         the client environment (`-e KEY` without a value, `IMAGE_NONE_PATH`)
 */
export function buildCreateRequest(
  values: OptionValues,
  positionals: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  options: BuildCreateOptions = {},
): CreateRequestParts {
  const command = options.command ?? 'create';
  const warnings: string[] = [];

  // --- checks upstream runs first (create_checker order) -------------------------------------
  const hostname = str(values, 'hostname');
  if (hostname !== undefined && (hostname.length > MAX_HOST_NAME_LEN || !HOST_NAME_RE.test(hostname))) {
    invalidArg(
      `Invalid container hostname (${hostname}), only ${HOST_NAME_REGEXP} and less than 64 bytes are allowed.`,
    );
  }
  const name = str(values, 'name');
  if (name !== undefined && (name.length > MAX_CONTAINER_NAME_LEN || !CONTAINER_NAME_RE.test(name))) {
    invalidArg(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed.`);
  }
  const devices = list(values, 'device').map(parseDevice);
  const binds = list(values, 'volume');
  binds.forEach(validateVolumeSpec);
  const mounts = list(values, 'mount').map(parseMountSpec);
  if (positionals.length < 1) invalidArg(`"${command}" requires a minimum of 1 argument.`);
  const image = positionals[0]!;
  const cmd = positionals.slice(1);

  const externalRootfs = str(values, 'external-rootfs');
  let rootfs: string | undefined;
  if (externalRootfs !== undefined) rootfs = resolveRootfs(externalRootfs);
  else if ((image === 'none' || image === 'none:latest') && env.IMAGE_NONE_PATH) rootfs = resolveRootfs(env.IMAGE_NONE_PATH);

  const extraHosts = list(values, 'add-host').map(validateExtraHost);
  const dns = list(values, 'dns').map(validateDns);

  const privileged = bool(values, 'privileged');
  const systemContainer = bool(values, 'system-container');
  const userRemap = str(values, 'user-remap');
  if (userRemap !== undefined) {
    if (privileged || !systemContainer || externalRootfs === undefined) {
      invalidArg('--user-remap only available for system container');
    }
    if (!/^[0-9]+:[0-9]+:[0-9]+$/.test(userRemap)) invalidArg(`Invalid user remap specification '${userRemap}'`);
  }
  const hookSpec = str(values, 'hook-spec');
  if (hookSpec !== undefined) checkHookSpec(hookSpec);
  const hugetlbs = list(values, 'hugetlb-limit').map(parseHugetlb);
  const netMode = str(values, 'net');
  const nsChangeOpt = str(values, 'ns-change-opt');
  let nsChangeFiles: string[] | undefined;
  if (nsChangeOpt !== undefined) {
    if (!systemContainer) invalidArg('Unsupported ns-change-opt param in normal container');
    const parts = nsChangeOpt.split(',').filter((p) => p !== '');
    if ((parts.length !== 1 && parts.length !== 2) || parts.some((p) => p !== 'net' && p !== 'ipc')) {
      invalidArg(`invalid ns-change-opt pararm:${nsChangeOpt}`);
    }
    if (!privileged) {
      const set = new Set(parts);
      nsChangeFiles = [...(set.has('net') ? NS_CHANGE_FILES.net : []), ...(set.has('ipc') ? NS_CHANGE_FILES.ipc : [])];
    }
  }
  const sysctls = parseSysctls(list(values, 'sysctl'));
  const envTargetFile = str(values, 'env-target-file');
  if (envTargetFile !== undefined && !envTargetFile.startsWith('/')) {
    invalidArg('env target file path must be absolute path');
  }

  // --- resources -----------------------------------------------------------------------------
  const memText = str(values, 'memory');
  const memory = memText === undefined ? undefined : parseMemBytes('memory', memText);
  const oomKillDisable = bool(values, 'oom-kill-disable');
  if (oomKillDisable && !memory) {
    warnings.push("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.");
  }
  const opt = <T>(flag: string, parse: (flag: string, text: string) => T): T | undefined => {
    const t = str(values, flag);
    return t === undefined ? undefined : parse(flag, t);
  };

  const hostConfig: HostConfig = {};
  put(hostConfig, 'Binds', nonEmpty(binds));
  put(hostConfig, 'Mounts', nonEmpty(mounts));
  put(hostConfig, 'VolumesFrom', nonEmpty(list(values, 'volumes-from')));
  put(hostConfig, 'Tmpfs', parseTmpfs(list(values, 'tmpfs')));
  put(hostConfig, 'NetworkMode', netMode === undefined ? undefined : parseNetworkMode(netMode));
  put(hostConfig, 'IpcMode', str(values, 'ipc'));
  put(hostConfig, 'PidMode', str(values, 'pid'));
  put(hostConfig, 'UTSMode', str(values, 'uts'));
  put(hostConfig, 'UsernsMode', str(values, 'userns'));
  put(hostConfig, 'GroupAdd', nonEmpty(list(values, 'group-add')));
  hostConfig.Privileged = privileged;
  hostConfig.SystemContainer = systemContainer;
  put(hostConfig, 'NsChangeFiles', nsChangeFiles);
  put(hostConfig, 'UserRemap', userRemap);
  hostConfig.AutoRemove = bool(values, 'rm');
  hostConfig.AutoRemoveBak = hostConfig.AutoRemove;
  hostConfig.ReadonlyRootfs = bool(values, 'read-only');
  hostConfig.OomKillDisable = oomKillDisable;
  put(hostConfig, 'ShmSize', opt('shm-size', parseMemBytes));
  put(hostConfig, 'Sysctls', sysctls);
  put(hostConfig, 'StorageOpt', parseStorageOpts(list(values, 'storage-opt')));
  put(hostConfig, 'Runtime', str(values, 'runtime'));
  hostConfig.RestartPolicy = buildRestartPolicy(str(values, 'restart'), hostConfig.AutoRemove);
  put(hostConfig, 'CapAdd', validateCaps(list(values, 'cap-add'), 'add'));
  put(hostConfig, 'CapDrop', validateCaps(list(values, 'cap-drop'), 'drop'));
  put(hostConfig, 'Dns', nonEmpty(dns));
  put(hostConfig, 'DnsOptions', nonEmpty(list(values, 'dns-opt')));
  put(hostConfig, 'DnsSearch', nonEmpty(list(values, 'dns-search')));
  put(hostConfig, 'ExtraHosts', nonEmpty(extraHosts));
  put(hostConfig, 'HookSpec', hookSpec);
  put(hostConfig, 'CPUShares', opt('cpu-shares', int64Flag));
  put(hostConfig, 'Memory', memory);
  put(hostConfig, 'OomScoreAdj', opt('oom-score-adj', int64Flag));
  put(hostConfig, 'BlkioWeight', opt('blkio-weight', uint16Flag));
  put(hostConfig, 'BlkioWeightDevice', nonEmpty(list(values, 'blkio-weight-device').map(parseWeightDevice)));
  put(hostConfig, 'BlkioDeviceReadBps', nonEmpty(list(values, 'device-read-bps').map(parseBpsDevice)));
  put(hostConfig, 'BlkioDeviceWriteBps', nonEmpty(list(values, 'device-write-bps').map(parseBpsDevice)));
  put(hostConfig, 'BlkioDeviceReadIops', nonEmpty(list(values, 'device-read-iops').map(parseIopsDevice)));
  put(hostConfig, 'BlkioDeviceWriteIops', nonEmpty(list(values, 'device-write-iops').map(parseIopsDevice)));
  put(hostConfig, 'NanoCpus', opt('cpus', parseNanoCpus));
  put(hostConfig, 'CPUPeriod', opt('cpu-period', int64Flag));
  put(hostConfig, 'CPUQuota', opt('cpu-quota', int64Flag));
  put(hostConfig, 'CPURealtimePeriod', opt('cpu-rt-period', int64Flag));
  put(hostConfig, 'CPURealtimeRuntime', opt('cpu-rt-runtime', int64Flag));
  put(hostConfig, 'CpusetCpus', str(values, 'cpuset-cpus') || undefined);
  put(hostConfig, 'CpusetMems', str(values, 'cpuset-mems') || undefined);
  put(hostConfig, 'Devices', nonEmpty(devices));
  put(hostConfig, 'DeviceCgroupRules', nonEmpty(list(values, 'device-cgroup-rule').map(validateDeviceCgroupRule)));
  put(hostConfig, 'SecurityOpt', buildSecurityOpts(list(values, 'security-opt')));
  put(hostConfig, 'KernelMemory', opt('kernel-memory', parseMemBytes));
  put(hostConfig, 'MemoryReservation', opt('memory-reservation', parseMemBytes));
  put(hostConfig, 'MemorySwap', opt('memory-swap', parseMemSwapBytes));
  const swappiness = opt('memory-swappiness', parseSwappiness);
  if (swappiness !== undefined && swappiness !== -1) hostConfig.MemorySwappiness = swappiness;
  put(hostConfig, 'PidsLimit', opt('pids-limit', int64Flag));
  put(hostConfig, 'FilesLimit', opt('files-limit', int64Flag));
  put(hostConfig, 'Ulimits', parseUlimits(list(values, 'ulimit')));
  put(hostConfig, 'Hugetlbs', nonEmpty(hugetlbs));
  const hostChannel = str(values, 'host-channel');
  put(hostConfig, 'HostChannel', hostChannel === undefined ? undefined : parseHostChannel(hostChannel));
  put(hostConfig, 'EnvTargetFile', envTargetFile);
  put(hostConfig, 'CgroupParent', str(values, 'cgroup-parent'));

  // --- container config ----------------------------------------------------------------------
  const config: ContainerConfig = {};
  put(config, 'Hostname', hostname);
  put(config, 'User', str(values, 'user'));
  const interactive = bool(values, 'interactive');
  const attachOut = command === 'run' && !bool(values, 'detach');
  config.AttachStdin = interactive;
  config.AttachStdout = attachOut;
  config.AttachStderr = attachOut;
  config.Tty = bool(values, 'tty');
  config.OpenStdin = interactive;
  // --env-file first so that --env wins for duplicated keys (the daemon keeps the last one).
  const envList = [...readEnvFiles(list(values, 'env-file'), env), ...parseEnvList(list(values, 'env'), env)];
  put(config, 'Env', nonEmpty(envList));
  put(config, 'Cmd', nonEmpty(cmd));
  put(config, 'WorkingDir', str(values, 'workdir'));
  const entrypoint = str(values, 'entrypoint');
  if (entrypoint) config.Entrypoint = [entrypoint];
  put(config, 'Labels', buildLabels(list(values, 'label-file'), list(values, 'label')));

  const logDriverText = str(values, 'log-driver');
  const logDriver: LogDriver | undefined = logDriverText === undefined ? undefined : parseLogDriver(logDriverText);
  put(config, 'LogDriver', logDriver);
  const annotations: Record<string, string> = {};
  for (const o of list(values, 'log-opt')) addLogOpt(annotations, o, logDriver);
  for (const a of list(values, 'annotation')) addAnnotation(annotations, a);
  if (Object.keys(annotations).length > 0) config.Annotations = annotations;

  put(config, 'StopSignal', str(values, 'stop-signal'));
  put(
    config,
    'Healthcheck',
    buildHealthCheck({
      cmd: str(values, 'health-cmd'),
      interval: str(values, 'health-interval'),
      timeout: str(values, 'health-timeout'),
      startPeriod: str(values, 'health-start-period'),
      retries: str(values, 'health-retries'),
      exitOnUnhealthy: bool(values, 'health-exit-on-unhealthy'),
      noHealthcheck: bool(values, 'no-healthcheck'),
    }),
  );
  if (systemContainer) config.SystemContainer = true;
  if (nsChangeOpt !== undefined && !privileged) config.NsChangeOpt = nsChangeOpt;

  const result: CreateRequestParts = {
    image,
    hostConfig,
    config,
    pull: parsePull(str(values, 'pull')),
    warnings,
  };
  put(result, 'name', name);
  put(result, 'runtime', str(values, 'runtime'));
  put(result, 'rootfs', rootfs);
  return result;
}

export { parseByteSize, parseDurationNanos, parseMemBytes, parseNanoCpus } from './units';
export { parseUlimit, parseUlimits, parseDevice, parseHugetlb, parseWeightDevice, parseBpsDevice, parseIopsDevice } from './resources';
export { parseRestartPolicy, restartPolicyError, buildRestartPolicy } from './restart';
export { addLogOpt, parseLogDriver, LOG_ANNOTATION } from './logging';
export { buildHealthCheck } from './health';
export { parseMountSpec, parseTmpfs, validateVolumeSpec, isValidMountMode } from './volumes';
export { parseEnvList, parseEnvFileContent, buildLabels, parseLabel } from './env';
export { EXIT_INVALID_ARGS } from './errors';
