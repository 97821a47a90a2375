import { ConfigError, type Ulimit } from './types';

/** The rlimit names Docker and iSulad accept (`--default-ulimit` and daemon.json `default-ulimits`). */
export const ULIMIT_TYPES = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
  'rttime', 'sigpending', 'stack',
] as const;

const INT64 = /^[+-]?\d+$/;

function parseLimit(text: string, which: 'soft' | 'hard'): number {
  if (!INT64.test(text)) {
    throw new ConfigError(`Invalid argument - Invalid ulimit ${which} value: "${text}", parse int64 failed`, 125);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new ConfigError(`Numerical result out of range - Invalid ulimit ${which} value: "${text}", parse int64 failed`, 125);
  }
  return value;
}

/** Parses one `--default-ulimit type=soft[:hard]` value with upstream's messages (exit 125). */
export function parseUlimitFlag(arg: string): Ulimit {
  if (arg === '') throw new ConfigError("ulimit argument can't be empty", 125);
  if (arg.startsWith('=') || arg.endsWith('=')) {
    throw new ConfigError(`Invalid ulimit argument: "${arg}", delimiter '=' can't be the first or the last character`, 125);
  }
  const parts = arg.split('=');
  if (parts.length !== 2) throw new ConfigError(`Invalid ulimit argument: ${arg}`, 125);
  const [name, value] = parts as [string, string];
  if (!(ULIMIT_TYPES as readonly string[]).includes(name)) throw new ConfigError(`Invalid ulimit type: ${name}`, 125);
  if (value.startsWith(':') || value.endsWith(':')) {
    throw new ConfigError(`Invalid ulimit value: "${value}", delimiter ':' can't be the first or the last character`, 125);
  }
  const limits = value.split(':');
  if (limits.length > 2) {
    throw new ConfigError(`Too many limit value arguments - ${value}, can only have up to two, \`soft[:hard]\``, 125);
  }
  const soft = parseLimit(limits[0]!, 'soft');
  const hard = limits.length === 2 ? parseLimit(limits[1]!, 'hard') : soft;
  if (soft > hard) throw new ConfigError(`Ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`, 125);
  return { name, soft, hard };
}

/** Checks one daemon.json `default-ulimits` entry: Name must equal its key, Hard >= Soft (missing = 0). */
export function checkFileUlimit(key: string, entry: unknown, file: string): Ulimit {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new ConfigError(`Load isulad json config failed: default-ulimits.${key} must be an object in ${file}`);
  }
  const e = entry as Record<string, unknown>;
  const name = e.Name === undefined ? '' : e.Name;
  if (typeof name !== 'string') throw new ConfigError(`Load isulad json config failed: default-ulimits.${key}.Name must be a string in ${file}`);
  for (const f of ['Soft', 'Hard']) {
    if (e[f] !== undefined && !Number.isSafeInteger(e[f])) {
      throw new ConfigError(`Load isulad json config failed: default-ulimits.${key}.${f} must be an integer in ${file}`);
    }
  }
  const soft = (e.Soft as number | undefined) ?? 0;
  const hard = (e.Hard as number | undefined) ?? 0;
  if (name !== key) throw new ConfigError(`Ulimit Name "${name}" must same as type "${key}" in ${file}`);
  if (!(ULIMIT_TYPES as readonly string[]).includes(key)) throw new ConfigError(`Invalid ulimit type: ${key} in ${file}`);
  if (soft > hard) throw new ConfigError(`Ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard} in ${file}`);
  return { name, soft, hard };
}

/** `nofile=1024:2048` as upstream prints ulimits in its conflict message. */
export function formatUlimit(u: Ulimit): string {
  return `${u.name}=${u.soft}:${u.hard}`;
}
