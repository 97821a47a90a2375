import { isAbsolute } from 'node:path';
import { ConfigError, type LogOptions } from './types';
import { parseByteSize, parseOctalMode } from './units';

const MIN_FILE_LOG_SIZE = 4 * 1024;

/**
 * Applies one daemon log option. `origin` decides the message and exit code:
 * a bad flag is an argument error (125), a bad daemon.json entry a start failure (1).
 */
export function applyDaemonLogOpt(opts: LogOptions, key: string, value: string, origin: 'flag' | 'file'): void {
  const fail = () =>
    origin === 'flag'
      ? new ConfigError(`Invalid value "${key}=${value}" for flag --log-opt`, 125)
      : new ConfigError(`Failed to parse log options ${key}:${value}`);
  switch (key) {
    case 'log-path':
      if (value === '') throw fail();
      opts.logPath = value;
      return;
    case 'log-file-mode': {
      const mode = parseOctalMode(value);
      if (Number.isNaN(mode)) throw fail();
      opts.logFileMode = mode;
      return;
    }
    case 'max-file': {
      if (!/^\d+$/.test(value) || Number(value) <= 0) throw fail();
      opts.maxFile = Number(value);
      return;
    }
    case 'max-size': {
      const size = parseByteSize(value);
      if (Number.isNaN(size) || size <= 0) throw fail();
      opts.maxSize = size;
      return;
    }
    default:
      throw fail();
  }
}

/** Splits `k=v` for `--log-opt`; anything else is upstream's invalid-value error. */
export function splitDaemonLogOpt(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw new ConfigError(`Invalid value "${arg}" for flag --log-opt`, 125);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** Checks that only hold once every source is merged (notes §3.4). */
export function checkDaemonLog(driver: string, opts: LogOptions): void {
  if (driver !== 'file' && driver !== 'stdout') throw new ConfigError(`Invalid log driver: ${driver}`);
  if (driver !== 'file') return;
  if (opts.maxSize < MIN_FILE_LOG_SIZE) throw new ConfigError(`Max-size "${opts.maxSize}" must large than 4KB.`);
  if (!isAbsolute(opts.logPath)) throw new ConfigError(`Daemon log path "${opts.logPath}" must be abosulte path.`);
}

export const CONTAINER_LOG_DRIVERS = ['json-file', 'syslog'] as const;
const CONTAINER_LOG_KEYS = ['max-size', 'max-file', 'disable-log', 'syslog-tag', 'syslog-facility'];
const DRIVER_KEYS: Record<string, string[]> = {
  'json-file': ['max-size', 'max-file', 'disable-log'],
  syslog: ['syslog-tag', 'syslog-facility', 'disable-log'],
};
const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/** Parses one `--container-log-opts k=v` (exit 125 on malformed input, as upstream). */
export function splitContainerLogOpt(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  // exactly one '=' (upstream splits on every '=' and wants two parts)
  if (eq <= 0 || eq === arg.length - 1 || arg.indexOf('=', eq + 1) !== -1) {
    throw new ConfigError(`Invalid input arguments: ${arg}`, 125);
  }
  const key = arg.slice(0, eq);
  if (!CONTAINER_LOG_KEYS.includes(key)) throw new ConfigError(`Unsupport container log key: ${key}`, 125);
  return [key, arg.slice(eq + 1)];
}

/** Validates the default container log driver and its options once merged. */
export function checkContainerLog(driver: string, opts: Record<string, string>): void {
  if (!(CONTAINER_LOG_DRIVERS as readonly string[]).includes(driver)) {
    throw new ConfigError(`Unsupported log driver: ${driver}`);
  }
  for (const [key, value] of Object.entries(opts)) {
    if (!CONTAINER_LOG_KEYS.includes(key)) throw new ConfigError(`Unknow log opts: ${key} = ${value}`);
    if (!DRIVER_KEYS[driver]!.includes(key)) throw new ConfigError(`driver: ${driver}, unsupport opts: ${key}`);
    if (key === 'max-file' && (!/^\d+$/.test(value) || Number(value) <= 0)) {
      throw new ConfigError(`Invalid option 'max-file', value:${value}`);
    }
    if (key === 'max-size' && (Number.isNaN(parseByteSize(value)) || parseByteSize(value) <= 0)) {
      throw new ConfigError(`Invalid option 'max-size', value:${value}`);
    }
    if (key === 'disable-log' && value !== 'true' && value !== 'false') {
      throw new ConfigError(`Invalid option 'disable-log', value:${value}`);
    }
    if (key === 'syslog-facility' && !SYSLOG_FACILITIES.includes(value)) {
      throw new ConfigError(`Invalid option 'syslog-facility', value:${value}`);
    }
  }
}
