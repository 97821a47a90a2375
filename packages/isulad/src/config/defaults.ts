import type { DaemonConfig, DaemonConstants } from './types';

export const DAEMON_JSON_PATH = '/etc/isulad/daemon.json';
export const DAEMON_CONSTANTS_PATH = '/etc/isulad/daemon_constants.json';
export const DEFAULT_UNIX_HOST = 'unix:///var/run/isulad.sock';
export const MAX_HOSTS = 10;

/** Upstream's built-in defaults (notes §3.2); TLS file defaults follow ISULAD_CERT_PATH like upstream. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const certDir = env.ISULAD_CERT_PATH && env.ISULAD_CERT_PATH !== '' ? env.ISULAD_CERT_PATH : '/root/.iSulad';
  const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0';
  return {
    hosts: [],
    // The spec's --help and daemon.json example name the socket group `isulad`.
    group: 'isulad',
    graph: '/var/lib/isulad',
    state: '/var/run/isulad',
    pidfile: '/var/run/isulad.pid',
    engine: 'lcr',
    // The spec's default runtime is lcr; until the lcr engine lands runc is the default (README).
    defaultRuntime: 'runc',
    runtimes: {},
    logLevel: 'INFO',
    logDriver: 'file',
    logOpts: { logPath: '/var/lib/isulad', logFileMode: 0o600, maxFile: 7, maxSize: 1024 * 1024 },
    containerLog: { driver: 'json-file', opts: {} },
    hookSpec: '',
    startTimeout: '',
    storageDriver: 'overlay2',
    storageOpts: [],
    registryMirrors: [],
    insecureRegistries: [],
    nativeUmask: 'secure',
    podSandboxImage: '',
    networkPlugin: '',
    cniBinDir: '/opt/cni/bin',
    cniConfDir: '/etc/cni/net.d',
    imageLayerCheck: false,
    useDecryptedKey: true,
    insecureSkipVerifyEnforce: false,
    tls: truthy(env.ISULAD_TLS),
    tlsVerify: truthy(env.ISULAD_TLS_VERIFY),
    tlsConfig: { caFile: `${certDir}/ca.pem`, certFile: `${certDir}/cert.pem`, keyFile: `${certDir}/key.pem` },
    authorizationPlugin: '',
    cgroupParent: '',
    defaultUlimits: {},
    websocketServerListeningPort: 10350,
    criRuntimes: {},
    selinuxEnabled: false,
    usernsRemap: '',
    cpuRtPeriod: 0,
    cpuRtRuntime: 0,
    systemdCgroup: false,
    enableCriV1: false,
  };
}

export function defaultConstants(): DaemonConstants {
  return {
    defaultHost: 'docker.io',
    registryTransformation: {
      'docker.io': 'registry-1.docker.io',
      'index.docker.io': 'registry-1.docker.io',
    },
  };
}
