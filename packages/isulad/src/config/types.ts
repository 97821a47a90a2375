/** Daemon log levels, most severe first (upstream's names). */
export const LOG_LEVELS = ['FATAL', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG', 'TRACE'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  /** Directory that holds isulad.log when the driver is `file`. */
  logPath: string;
  /** Mode of the log files, from an octal string such as "0600". */
  logFileMode: number;
  /** Number of files kept, the live one included; 1 disables rotation. */
  maxFile: number;
  /** Size in bytes at which the live file rotates. */
  maxSize: number;
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface RuntimeEntry {
  path: string;
  runtimeArgs: string[];
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The daemon's effective configuration: defaults, then daemon.json, then flags. */
export interface DaemonConfig {
  hosts: string[];
  group: string;
  graph: string;
  state: string;
  pidfile: string;
  engine: string;
  defaultRuntime: string;
  runtimes: Record<string, RuntimeEntry>;
  logLevel: LogLevel;
  logDriver: 'stdout' | 'file';
  logOpts: LogOptions;
  containerLog: { driver: string; opts: Record<string, string> };
  hookSpec: string;
  startTimeout: string;
  storageDriver: string;
  storageOpts: string[];
  registryMirrors: string[];
  insecureRegistries: string[];
  nativeUmask: 'normal' | 'secure';
  podSandboxImage: string;
  networkPlugin: string;
  cniBinDir: string;
  cniConfDir: string;
  imageLayerCheck: boolean;
  useDecryptedKey: boolean;
  insecureSkipVerifyEnforce: boolean;
  tls: boolean;
  tlsVerify: boolean;
  tlsConfig: TlsFiles;
  authorizationPlugin: string;
  cgroupParent: string;
  defaultUlimits: Record<string, Ulimit>;
  websocketServerListeningPort: number;
  criRuntimes: Record<string, string>;
  selinuxEnabled: boolean;
  usernsRemap: string;
  cpuRtPeriod: number;
  cpuRtRuntime: number;
  systemdCgroup: boolean;
  enableCriV1: boolean;
}

/** `/etc/isulad/daemon_constants.json`. */
export interface DaemonConstants {
  defaultHost: string;
  registryTransformation: Record<string, string>;
}

/** A configuration error: one line for the user and the exit code upstream uses for it. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}
