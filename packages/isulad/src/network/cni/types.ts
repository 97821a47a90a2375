/** Public types of the CNI domain (what the CRI sandbox code passes in and gets back). */

export interface CniConfig {
  /** daemon config `cni-conf-dir` (default /etc/cni/net.d) */
  confDir: string;
  /** daemon config `cni-bin-dir` split into directories (see `parseBinDirs`); searched in order, also passed as CNI_PATH */
  binDirs: string[];
  /** where results of ADD are cached so DEL works after a restart, e.g. `<graph>/cni/results` */
  cacheDir: string;
  /**
   * Test hook: a command prefix every plugin is run through, e.g. `['ip', 'netns', 'exec', 'fakehost']`
   * so the plugins' host side is a private network namespace. The daemon leaves it unset.
   */
  execPrefix?: string[];
  /** a plugin taking longer than this is killed (SIGKILL) and the operation fails; default 120 s */
  pluginTimeoutMs?: number;
}

/** Minimal logger shape (a pino logger fits). */
export interface CniLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIp?: string;
}

export interface PodNetworkParams {
  /** the sandbox id: CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID */
  podId: string;
  /** path of the sandbox network namespace (e.g. /var/run/netns/<x> or /proc/<pid>/ns/net) */
  netnsPath: string;
  /** interface name inside the pod; default `eth0` */
  ifName?: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  /** port mappings given to plugins declaring `capabilities.portMappings` (entries with hostPort <= 0 are skipped) */
  portMappings?: PortMapping[];
  /** further runtimeConfig capability args by capability name (e.g. `bandwidth`, `dns`), injected like portMappings */
  capabilityArgs?: Record<string, unknown>;
}

/** For tearDown only podId is required: everything else comes from the cache when present. */
export type TearDownParams = Pick<PodNetworkParams, 'podId'> & Partial<Omit<PodNetworkParams, 'podId'>>;

export interface SetUpResult {
  /** the pod IP: first IPv4 address of the pod's interfaces, else the first address */
  ip?: string;
  /** every address (without prefix length) on interfaces inside the pod, ip first */
  ips: string[];
  /** the raw result of the last plugin of the chain */
  result: unknown;
}

export interface CniStatus {
  ready: boolean;
  /** CRI-style reason when not ready: `NetworkPluginNotReady` */
  reason?: string;
  /** human readable cause when not ready */
  message?: string;
  /** name and file of the network in use when ready */
  network?: string;
  file?: string;
}

/** One plugin entry of a network configuration list (raw JSON object; `type` is required). */
export type PluginConf = Record<string, unknown> & { type: string };

/** A parsed network configuration list (a `.conf` is wrapped into a list of one plugin). */
export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: PluginConf[];
  /** the list as JSON, exactly what is cached and used again at DEL time */
  raw: Record<string, unknown>;
  /** file it came from */
  file: string;
}
