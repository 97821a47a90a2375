import { applyDaemonLogOpt } from './log-opts';
import { checkFileUlimit } from './ulimit';
import { ConfigError, type DaemonConfig, type LogLevel, type Ulimit } from './types';

/** What daemon.json said, kept apart where a flag may not repeat it (hosts, default-ulimits). */
export interface FileSettings {
  hosts: string[];
  ulimits: Record<string, Ulimit>;
  /** Keys we do not know: reported as a warning, never fatal (upstream ignores them too). */
  unknownKeys: string[];
}

type Json = unknown;
type Apply = (cfg: DaemonConfig, value: Json, key: string, file: string, out: FileSettings) => void;

const describe = (v: Json) => JSON.stringify(v);
const typeError = (key: string, want: string, v: Json) =>
  new ConfigError(`Load isulad json config failed: "${key}" must be ${want}, got ${describe(v)}`);

function str(key: string, v: Json): string {
  if (typeof v !== 'string') throw typeError(key, 'a string', v);
  return v;
}
function bool(key: string, v: Json): boolean {
  if (typeof v !== 'boolean') throw typeError(key, 'a boolean', v);
  return v;
}
function int(key: string, v: Json): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw typeError(key, 'an integer', v);
  return v;
}
function strList(key: string, v: Json): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw typeError(key, 'an array of strings', v);
  return v as string[];
}
function strMap(key: string, v: Json): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw typeError(key, 'an object', v);
  for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw typeError(`${key}.${k}`, 'a string', s);
  return v as Record<string, string>;
}
function obj(key: string, v: Json): Record<string, Json> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw typeError(key, 'an object', v);
  return v as Record<string, Json>;
}

/** A string setting: upstream lets only non-empty strings override the default. */
const setString =
  (field: keyof DaemonConfig): Apply =>
  (cfg, v, key) => {
    const s = str(key, v);
    if (s !== '') (cfg as unknown as Record<string, unknown>)[field] = s;
  };
const setBool =
  (field: keyof DaemonConfig): Apply =>
  (cfg, v, key) => {
    (cfg as unknown as Record<string, unknown>)[field] = bool(key, v);
  };
/** The spec: a non-boolean value for these keys leaves the default in place (a yajl quirk upstream keeps). */
const setLenientBool =
  (field: keyof DaemonConfig): Apply =>
  (cfg, v) => {
    if (typeof v === 'boolean') (cfg as unknown as Record<string, unknown>)[field] = v;
  };
const setInt =
  (field: keyof DaemonConfig): Apply =>
  (cfg, v, key) => {
    (cfg as unknown as Record<string, unknown>)[field] = int(key, v);
  };
const appendList =
  (field: 'storageOpts' | 'registryMirrors' | 'insecureRegistries'): Apply =>
  (cfg, v, key) => {
    cfg[field].push(...strList(key, v));
  };
const ignored: Apply = () => {};

const KEYS: Record<string, Apply> = {
  hosts: (_cfg, v, key, _file, out) => {
    out.hosts.push(...(typeof v === 'string' ? [v] : strList(key, v)));
  },
  group: setString('group'),
  graph: setString('graph'),
  state: setString('state'),
  pidfile: setString('pidfile'),
  engine: setString('engine'),
  'default-runtime': setString('defaultRuntime'),
  'log-level': (cfg, v, key) => {
    const s = str(key, v);
    if (s !== '') cfg.logLevel = s.toUpperCase() as LogLevel; // validated after merging
  },
  'log-driver': (cfg, v, key) => {
    const s = str(key, v);
    if (s !== '') cfg.logDriver = s as DaemonConfig['logDriver'];
  },
  'log-opts': (cfg, v, key) => {
    for (const [k, s] of Object.entries(strMap(key, v))) applyDaemonLogOpt(cfg.logOpts, k, s, 'file');
  },
  'container-log': (cfg, v, key) => {
    const o = obj(key, v);
    for (const k of Object.keys(o)) if (k !== 'driver' && k !== 'opts') throw typeError(`${key}.${k}`, 'absent (known keys: driver, opts)', o[k]);
    if (o.driver !== undefined) {
      const d = str(`${key}.driver`, o.driver);
      if (d !== '') cfg.containerLog.driver = d;
    }
    if (o.opts !== undefined) Object.assign(cfg.containerLog.opts, strMap(`${key}.opts`, o.opts));
  },
  'hook-spec': setString('hookSpec'),
  'start-timeout': setString('startTimeout'),
  'storage-driver': setString('storageDriver'),
  'storage-opts': appendList('storageOpts'),
  'registry-mirrors': appendList('registryMirrors'),
  'insecure-registries': appendList('insecureRegistries'),
  'native.umask': (cfg, v, key) => {
    const s = str(key, v);
    if (s !== '') cfg.nativeUmask = s as DaemonConfig['nativeUmask']; // validated after merging
  },
  'pod-sandbox-image': setString('podSandboxImage'),
  'network-plugin': (cfg, v, key) => {
    cfg.networkPlugin = str(key, v);
  },
  'cni-bin-dir': setString('cniBinDir'),
  'cni-conf-dir': setString('cniConfDir'),
  'image-layer-check': setBool('imageLayerCheck'),
  'use-decrypted-key': setLenientBool('useDecryptedKey'),
  'insecure-skip-verify-enforce': setLenientBool('insecureSkipVerifyEnforce'),
  tls: setBool('tls'),
  'tls-verify': setBool('tlsVerify'),
  tlsverify: setBool('tlsVerify'), // the spec's table spells it this way
  'tls-config': (cfg, v, key) => {
    const o = obj(key, v);
    const files: Record<string, 'caFile' | 'certFile' | 'keyFile'> = { CAFile: 'caFile', CertFile: 'certFile', KeyFile: 'keyFile' };
    for (const [k, s] of Object.entries(o)) {
      const field = files[k];
      if (!field) throw typeError(`${key}.${k}`, 'absent (known keys: CAFile, CertFile, KeyFile)', s);
      const path = str(`${key}.${k}`, s);
      if (path !== '') cfg.tlsConfig[field] = path;
    }
  },
  'authorization-plugin': setString('authorizationPlugin'),
  'cgroup-parent': setString('cgroupParent'),
  'default-ulimits': (_cfg, v, key, file, out) => {
    for (const [type, entry] of Object.entries(obj(key, v))) out.ulimits[type] = checkFileUlimit(type, entry, file);
  },
  'websocket-server-listening-port': setInt('websocketServerListeningPort'),
  'cri-runtimes': (cfg, v, key) => {
    Object.assign(cfg.criRuntimes, strMap(key, v));
  },
  runtimes: (cfg, v, key) => {
    for (const [name, entry] of Object.entries(obj(key, v))) {
      const e = obj(`${key}.${name}`, entry);
      const path = e.path === undefined ? '' : str(`${key}.${name}.path`, e.path);
      const args = e['runtime-args'] === undefined ? [] : strList(`${key}.${name}.runtime-args`, e['runtime-args']);
      cfg.runtimes[name] = { path, runtimeArgs: args };
    }
  },
  'selinux-enabled': setBool('selinuxEnabled'),
  'userns-remap': setString('usernsRemap'),
  'cpu-rt-period': setInt('cpuRtPeriod'),
  'cpu-rt-runtime': setInt('cpuRtRuntime'),
  'systemd-cgroup': setBool('systemdCgroup'),
  'enable-cri-v1': setBool('enableCriV1'),
  // Upstream keys for capabilities this engine does not offer (yet); accepted so shared files still load.
  'cri-sandboxers': ignored,
  'storage-enable-remote-layer': ignored,
  'enable-plugins': ignored,
  'sup-groups': ignored,
  'metrics-port': ignored,
  'enable-pod-events': ignored,
  'cdi-spec-dirs': ignored,
  'enable-cdi': ignored,
};

/** Parses daemon.json text and applies it onto `cfg`. Throws ConfigError (exit 1) on bad content. */
export function applyDaemonJson(cfg: DaemonConfig, text: string, file: string): FileSettings {
  let doc: Json;
  try {
    doc = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Load isulad json config failed: ${file}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(`Load isulad json config failed: ${file} must hold a JSON object`);
  }
  const out: FileSettings = { hosts: [], ulimits: {}, unknownKeys: [] };
  for (const [key, value] of Object.entries(doc)) {
    const apply = KEYS[key] ?? (key.startsWith('nri-') || key.startsWith('plugin-') ? ignored : undefined);
    if (!apply) {
      out.unknownKeys.push(key);
      continue;
    }
    apply(cfg, value, key, file, out);
  }
  return out;
}

/** daemon_constants.json: `default-host` and `registry-transformation`. */
export function parseConstantsJson(text: string, file: string): { defaultHost?: string; registryTransformation?: Record<string, string> } {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Load isulad daemon constants failed: ${file}: ${(err as Error).message}`);
  }
  try {
    const o = obj('daemon_constants', doc);
    const res: { defaultHost?: string; registryTransformation?: Record<string, string> } = {};
    if (o['default-host'] !== undefined) res.defaultHost = str('default-host', o['default-host']);
    if (o['registry-transformation'] !== undefined) {
      res.registryTransformation = strMap('registry-transformation', o['registry-transformation']);
    }
    return res;
  } catch (err) {
    // the type checks speak of daemon.json; name the file that is actually wrong
    const detail = (err as Error).message.replace(/^Load isulad json config failed: /, '');
    throw new ConfigError(`Load isulad daemon constants failed: ${file}: ${detail}`);
  }
}
