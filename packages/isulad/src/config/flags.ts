import { parseHost, dedupHosts, type HostAddress } from './hosts';
import { MAX_HOSTS } from './defaults';
import { applyDaemonLogOpt, splitContainerLogOpt, splitDaemonLogOpt } from './log-opts';
import { parseUlimitFlag } from './ulimit';
import { ConfigError, type DaemonConfig, type LogLevel, type Ulimit } from './types';

export type FlagValues = Record<string, boolean | string | string[]>;

/** What the flags said that must not also come from daemon.json. */
export interface FlagSettings {
  hosts: string[];
  ulimits: Record<string, Ulimit>;
}

const list = (v: FlagValues[string] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [String(v)]);

function intFlag(flag: string, value: string): number {
  if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError(`Invalid value "${value}" for flag --${flag}`, 125);
  }
  return Number(value);
}

/** Validates `-H` values as upstream does at parse time (exit 125). */
export function checkFlagHosts(hosts: string[]): HostAddress[] {
  const unique = dedupHosts(hosts);
  if (unique.length > MAX_HOSTS) throw new ConfigError(`Too many hosts, the max number is ${MAX_HOSTS}`, 125);
  return unique.map((h) => {
    const parsed = parseHost(h);
    if (!parsed) throw new ConfigError(`Invalid socket name : ${h}`, 125);
    return parsed;
  });
}

const STRING_FLAGS: Record<string, keyof DaemonConfig> = {
  pidfile: 'pidfile',
  graph: 'graph',
  state: 'state',
  engine: 'engine',
  group: 'group',
  'hook-spec': 'hookSpec',
  'cgroup-parent': 'cgroupParent',
  'pod-sandbox-image': 'podSandboxImage',
  'cni-bin-dir': 'cniBinDir',
  'cni-conf-dir': 'cniConfDir',
  'userns-remap': 'usernsRemap',
  'storage-driver': 'storageDriver',
  'default-runtime': 'defaultRuntime',
  'log-driver': 'logDriver',
  'native.umask': 'nativeUmask',
  'start-timeout': 'startTimeout',
  'network-plugin': 'networkPlugin',
  'authorization-plugin': 'authorizationPlugin',
};

const BOOL_FLAGS: Record<string, keyof DaemonConfig> = {
  'image-layer-check': 'imageLayerCheck',
  'insecure-skip-verify-enforce': 'insecureSkipVerifyEnforce',
  'use-decrypted-key': 'useDecryptedKey',
  'selinux-enabled': 'selinuxEnabled',
  'systemd-cgroup': 'systemdCgroup',
  tls: 'tls',
  tlsverify: 'tlsVerify',
};

/** Applies parsed flags over the file-configured values: scalars override, repeatable flags append. */
export function applyFlags(cfg: DaemonConfig, values: FlagValues): FlagSettings {
  const out: FlagSettings = { hosts: list(values.host), ulimits: {} };
  checkFlagHosts(out.hosts);
  const rec = cfg as unknown as Record<string, unknown>;
  for (const [flag, field] of Object.entries(STRING_FLAGS)) {
    if (typeof values[flag] === 'string') rec[field] = values[flag];
  }
  for (const [flag, field] of Object.entries(BOOL_FLAGS)) {
    if (typeof values[flag] === 'boolean') rec[field] = values[flag];
  }
  if (typeof values['log-level'] === 'string') cfg.logLevel = values['log-level'].toUpperCase() as LogLevel;
  for (const opt of list(values['log-opt'])) {
    const [k, v] = splitDaemonLogOpt(opt);
    applyDaemonLogOpt(cfg.logOpts, k, v, 'flag');
  }
  if (typeof values['container-log-driver'] === 'string') cfg.containerLog.driver = values['container-log-driver'];
  for (const opt of list(values['container-log-opts'])) {
    const [k, v] = splitContainerLogOpt(opt);
    cfg.containerLog.opts[k] = v;
  }
  cfg.storageOpts.push(...list(values['storage-opt']));
  cfg.registryMirrors.push(...list(values['registry-mirrors']));
  cfg.insecureRegistries.push(...list(values['insecure-registry']));
  if (typeof values.tlscacert === 'string') cfg.tlsConfig.caFile = values.tlscacert;
  if (typeof values.tlscert === 'string') cfg.tlsConfig.certFile = values.tlscert;
  if (typeof values.tlskey === 'string') cfg.tlsConfig.keyFile = values.tlskey;
  for (const arg of list(values['default-ulimit'])) {
    const u = parseUlimitFlag(arg);
    out.ulimits[u.name] = u; // repeating a type overwrites, as upstream
  }
  const port = values['websocket-server-listening-port'];
  if (typeof port === 'string') cfg.websocketServerListeningPort = intFlag('websocket-server-listening-port', port);
  if (typeof values['cpu-rt-period'] === 'string') cfg.cpuRtPeriod = intFlag('cpu-rt-period', values['cpu-rt-period']);
  if (typeof values['cpu-rt-runtime'] === 'string') cfg.cpuRtRuntime = intFlag('cpu-rt-runtime', values['cpu-rt-runtime']);
  for (const kv of list(values['cri-runtime'])) {
    const eq = kv.indexOf('=');
    if (eq <= 0 || eq === kv.length - 1) throw new ConfigError(`Invalid value "${kv}" for flag --cri-runtime`, 125);
    cfg.criRuntimes[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}
