import { DAEMON_JSON_PATH, DEFAULT_UNIX_HOST, MAX_HOSTS } from './defaults';
import { dedupHosts, parseHost, type HostAddress } from './hosts';
import { checkContainerLog, checkDaemonLog } from './log-opts';
import { formatUlimit } from './ulimit';
import type { FileSettings } from './daemon-json';
import type { FlagSettings } from './flags';
import { ConfigError, LOG_LEVELS, type DaemonConfig } from './types';

const conflict = (what: string, fromFlag: string, fromFile: string) =>
  new ConfigError(
    `unable to configure the isulad with file ${DAEMON_JSON_PATH}: the following directives are specified both as a flag and in the configuration file: ${what}: (from flag: [${fromFlag}], from file: [${fromFile}])`,
  );

/** Resolves hosts and ulimits from the two sources; a directive given in both places is an error. */
export function mergeExclusive(cfg: DaemonConfig, flags: FlagSettings, file: FileSettings): HostAddress[] {
  if (flags.hosts.length > 0 && file.hosts.length > 0) {
    throw conflict('hosts', dedupHosts(flags.hosts).join(' '), dedupHosts(file.hosts).join(' '));
  }
  const flagUlimits = Object.values(flags.ulimits);
  const fileUlimits = Object.values(file.ulimits);
  if (flagUlimits.length > 0 && fileUlimits.length > 0) {
    throw conflict('default-ulimits', ` ${flagUlimits.map(formatUlimit).join(' ')} `, ` ${fileUlimits.map(formatUlimit).join(' ')} `);
  }
  cfg.defaultUlimits = flagUlimits.length > 0 ? flags.ulimits : file.ulimits;

  let addresses: HostAddress[];
  if (flags.hosts.length > 0) {
    addresses = dedupHosts(flags.hosts).map((h) => parseHost(h)!); // checked while applying flags
  } else {
    const hosts = dedupHosts(file.hosts);
    if (hosts.length > MAX_HOSTS) throw new ConfigError(`Too many hosts, the max number is ${MAX_HOSTS}`);
    addresses = hosts.map((h) => {
      const parsed = parseHost(h);
      if (!parsed) throw new ConfigError(`Invalid socket name: ${h}`);
      return parsed;
    });
  }
  if (addresses.length === 0) addresses = [parseHost(DEFAULT_UNIX_HOST)!];
  cfg.hosts = addresses.map((a) => a.uri);
  return addresses;
}

/** Checks every merged value before anything is created on disk (exit 1 with upstream's texts). */
export function validateConfig(cfg: DaemonConfig): void {
  if (!(LOG_LEVELS as readonly string[]).includes(cfg.logLevel)) throw new ConfigError(`Invalid log level: ${cfg.logLevel}`);
  checkDaemonLog(cfg.logDriver, cfg.logOpts);
  checkContainerLog(cfg.containerLog.driver, cfg.containerLog.opts);
  if (cfg.nativeUmask !== 'normal' && cfg.nativeUmask !== 'secure') throw new ConfigError(`Invalid native umask: ${cfg.nativeUmask}`);
  if (cfg.startTimeout !== '' && !/^[1-9][0-9]*[sm]$/.test(cfg.startTimeout)) {
    throw new ConfigError(
      `Invalid time duration value(${cfg.startTimeout}) in server conf, only ^([1-9][0-9]*)+([s,m])$ are allowed.`,
    );
  }
  const port = cfg.websocketServerListeningPort;
  if (!Number.isInteger(port) || port < 1024 || port > 49151) {
    throw new ConfigError(`Invalid websocket server listening port: '${port}' (range: 1024-49151)`);
  }
  if (cfg.authorizationPlugin !== '' && cfg.authorizationPlugin !== 'authz-broker') {
    throw new ConfigError(`Invalid authorization plugin '${cfg.authorizationPlugin}'`);
  }
  if (cfg.networkPlugin !== '' && cfg.networkPlugin !== 'cni') {
    throw new ConfigError(`Init network plugin failed: Network plugin ${cfg.networkPlugin} not found.`);
  }
  if (cfg.storageDriver !== 'overlay2' && cfg.storageDriver !== 'devicemapper') {
    throw new ConfigError(`Invalid storage driver: ${cfg.storageDriver} (supported: overlay2, devicemapper)`);
  }
  for (const [field, value] of [['graph', cfg.graph], ['state', cfg.state], ['pidfile', cfg.pidfile]] as const) {
    if (!value.startsWith('/')) throw new ConfigError(`Invalid ${field} "${value}": an absolute path is required`);
  }
  if (cfg.tlsVerify) cfg.tls = true; // --tlsverify implies --tls
}
