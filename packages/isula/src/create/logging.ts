import { LOG_ANNOTATION } from '@isula/protocol';
import { invalidArg, invalidValue } from './errors';
import { safeUint32 } from './numbers';

export const LOG_DRIVERS = ['json-file', 'syslog'] as const;
export type LogDriver = (typeof LOG_DRIVERS)[number];

export { LOG_ANNOTATION };

export const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron',
  'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

/** `--log-opt` key → annotation key, and which driver supports it. */
const LOG_OPTS: Record<string, { key: string; driver: LogDriver }> = {
  'max-size': { key: LOG_ANNOTATION.size, driver: 'json-file' },
  'max-file': { key: LOG_ANNOTATION.rotate, driver: 'json-file' },
  'disable-log': { key: LOG_ANNOTATION.file, driver: 'json-file' },
  'syslog-tag': { key: LOG_ANNOTATION.tag, driver: 'syslog' },
  'syslog-facility': { key: LOG_ANNOTATION.facility, driver: 'syslog' },
};

/** `--log-driver`: json-file or syslog. */
export function parseLogDriver(text: string): LogDriver {
  if (!(LOG_DRIVERS as readonly string[]).includes(text)) return invalidValue('log-driver', text);
  return text as LogDriver;
}

/**
 * One `--log-opt key=value` into annotations (upstream `log_opt_parser` + `parse_container_log_opt`).
 * Any failure: `Invalid option: <key=value>`. `disable-log=true` stores `log.console.file=none`,
 * `disable-log=false` stores nothing. With an explicit driver, keys of the other driver are refused
 * with `driver: <d>, unsupport opts: <key>`.
 */
export function addLogOpt(annotations: Record<string, string>, option: string, driver?: LogDriver): void {
  const fail = (): never => invalidArg(`Invalid option: ${option}`);
  const eq = option.indexOf('=');
  if (option.length <= 2 || eq <= 0 || eq === option.length - 1) return fail();
  const key = option.slice(0, eq);
  const value = option.slice(eq + 1);
  const def = LOG_OPTS[key];
  if (def === undefined) return fail();
  if (driver !== undefined && def.driver !== driver) return invalidArg(`driver: ${driver}, unsupport opts: ${key}`);
  let stored: string | undefined = value;
  switch (key) {
    case 'max-file': {
      const n = safeUint32(value);
      if (!n.ok || n.value === 0n) return fail();
      break;
    }
    case 'disable-log':
      if (value === 'true') stored = 'none';
      else if (value === 'false') stored = undefined;
      else return fail();
      break;
    case 'syslog-facility':
      if (!(SYSLOG_FACILITIES as readonly string[]).includes(value)) return fail();
      break;
    default:
      break;
  }
  if (stored !== undefined) annotations[def.key] = stored;
}
