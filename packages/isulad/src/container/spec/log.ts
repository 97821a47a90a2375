import type { ContainerConfig } from '@isula/protocol';
import { LOG_ANNOTATION } from '@isula/protocol';
import { parseByteSize } from '../../config/units';
import { SpecError, type DaemonContainerLog } from './types';

export { LOG_ANNOTATION };
const LOG_PREFIX = 'log.console.';

export const DEFAULT_LOG_MAX_FILE = 7;
export const DEFAULT_LOG_MAX_SIZE_TEXT = '1MB';
export const DEFAULT_SYSLOG_FACILITY = 'daemon';

const DRIVER_ANNOTATIONS: Record<string, readonly string[]> = {
  'json-file': [LOG_ANNOTATION.driver, LOG_ANNOTATION.file, LOG_ANNOTATION.rotate, LOG_ANNOTATION.size],
  syslog: [LOG_ANNOTATION.driver, LOG_ANNOTATION.file, LOG_ANNOTATION.tag, LOG_ANNOTATION.facility],
};

const SYSLOG_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/** Daemon `container-log.opts` key → annotation key. */
const OPT_TO_ANNOTATION: Record<string, string> = {
  'max-size': LOG_ANNOTATION.size,
  'max-file': LOG_ANNOTATION.rotate,
  'syslog-tag': LOG_ANNOTATION.tag,
  'syslog-facility': LOG_ANNOTATION.facility,
};

/** Identity of the container, for syslog tag templates (`{{.ID}}`, `{{.Name}}`, `{{.ImageName}}`...). */
export interface LogContext {
  id: string;
  name: string;
  imageId?: string;
  imageName?: string;
}

export interface ResolvedLogConfig {
  driver: string;
  /** Log file (json-file), '' when disabled or syslog. */
  path: string;
  /** Bytes at which console.log rotates. */
  maxSize: number;
  /** Files kept, the live one included. */
  maxFile: number;
  disabled: boolean;
  syslogTag: string;
  syslogFacility: string;
  /** The `log.console.*` annotations to put into config.json. */
  annotations: Record<string, string>;
}

/** A Docker-style per-container log config, accepted besides upstream's `LogDriver` + annotations. */
export interface DockerLogConfig {
  Type?: string;
  Config?: Record<string, string> | null;
}

function expandTag(tag: string, ctx: LogContext): string {
  const values: Record<string, string | undefined> = {
    '.ID': ctx.id.slice(0, 12),
    '.FullID': ctx.id,
    '.Name': ctx.name,
    '.ImageID': ctx.imageId?.replace(/^sha256:/, '').slice(0, 12),
    '.ImageFullID': ctx.imageId,
    '.ImageName': ctx.imageName,
    '.DaemonName': 'iSulad',
  };
  return tag.replace(/\{\{\s*([^}\s]*)\s*\}\}/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new SpecError(`container syslog tag: unsupport: ${tag}`);
    return v;
  });
}

/**
 * Effective container log settings (`bundle` = `<graph>/engines/<runtime>/<id>`): the container's driver and options over the daemon-wide
 * `container-log` (whose options apply only when the drivers match), defaults filled as upstream
 * does (json-file: `filerotate` 7, `filesize` 1MB, file `<bundle>/console.log`; `disable-log=true`
 * → file `none`).
 */
export function resolveLogConfig(
  config: Pick<ContainerConfig, 'LogDriver' | 'Annotations'> | undefined,
  hostConfig: { LogConfig?: DockerLogConfig | null } | object | undefined,
  daemonLog: DaemonContainerLog | undefined,
  bundle: string,
  ctx?: LogContext,
): ResolvedLogConfig {
  const daemonDriver = daemonLog?.driver || 'json-file';
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(config?.Annotations ?? {})) {
    if (k.startsWith(LOG_PREFIX)) annotations[k] = v;
  }
  const lc = (hostConfig as { LogConfig?: DockerLogConfig | null } | undefined)?.LogConfig;
  const driver = config?.LogDriver || lc?.Type || annotations[LOG_ANNOTATION.driver] || daemonDriver;
  const applyOpts = (opts: Record<string, string>, overwrite: boolean) => {
    for (const [k, v] of Object.entries(opts)) {
      let key: string | undefined;
      let value = v;
      if (k === 'disable-log') {
        if (v !== 'true' && v !== 'false') throw new SpecError(`Invalid option 'disable-log', value:${v}`);
        if (v === 'false') continue;
        key = LOG_ANNOTATION.file;
        value = 'none';
      } else if (k.startsWith(LOG_PREFIX)) {
        key = k;
      } else {
        key = OPT_TO_ANNOTATION[k];
        if (key === undefined) throw new SpecError(`Unknow log opts: ${k} = ${v}`);
      }
      if (overwrite || !(key in annotations)) annotations[key] = value;
    }
  };
  if (lc?.Config) applyOpts(lc.Config, false);
  if (daemonLog && driver === daemonDriver) applyOpts(daemonLog.opts ?? {}, false);
  annotations[LOG_ANNOTATION.driver] = driver;

  const allowed = DRIVER_ANNOTATIONS[driver];
  if (!allowed) throw new SpecError(`Unsupported log driver: ${driver}`);
  for (const key of Object.keys(annotations)) {
    if (!allowed.includes(key)) throw new SpecError(`container log driver: ${driver}, unsupport: ${key}`);
  }

  let maxFile = DEFAULT_LOG_MAX_FILE;
  let maxSize = parseByteSize(DEFAULT_LOG_MAX_SIZE_TEXT);
  let syslogTag = ctx ? ctx.id.slice(0, 12) : '';
  let syslogFacility = DEFAULT_SYSLOG_FACILITY;
  if (driver === 'json-file') {
    annotations[LOG_ANNOTATION.rotate] ??= String(DEFAULT_LOG_MAX_FILE);
    annotations[LOG_ANNOTATION.size] ??= DEFAULT_LOG_MAX_SIZE_TEXT;
    annotations[LOG_ANNOTATION.file] ??= `${bundle.replace(/\/+$/, '')}/console.log`;
    const rotate = annotations[LOG_ANNOTATION.rotate]!;
    if (!/^\d+$/.test(rotate) || Number(rotate) <= 0) throw new SpecError(`Invalid option 'max-file', value:${rotate}`);
    maxFile = Number(rotate);
    const size = parseByteSize(annotations[LOG_ANNOTATION.size]!);
    if (Number.isNaN(size) || size <= 0) throw new SpecError(`Invalid option 'max-size', value:${annotations[LOG_ANNOTATION.size]}`);
    maxSize = size;
  } else {
    const tag = annotations[LOG_ANNOTATION.tag];
    if (tag !== undefined) {
      syslogTag = ctx ? expandTag(tag, ctx) : tag;
      annotations[LOG_ANNOTATION.tag] = syslogTag;
    }
    const facility = annotations[LOG_ANNOTATION.facility];
    if (facility !== undefined) {
      if (!SYSLOG_FACILITIES.includes(facility)) throw new SpecError(`Invalid option 'syslog-facility', value:${facility}`);
      syslogFacility = facility;
    }
  }
  const file = annotations[LOG_ANNOTATION.file];
  const disabled = file === 'none';
  return {
    driver,
    path: driver === 'json-file' && !disabled ? file ?? '' : '',
    maxSize,
    maxFile,
    disabled,
    syslogTag,
    syslogFacility,
    annotations,
  };
}
