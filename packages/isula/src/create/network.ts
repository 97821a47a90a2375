import { isIPv4 } from 'node:net';
import { invalidArg } from './errors';

/** `--add-host host:ip` (IPv4 only, exactly one colon). */
export function validateExtraHost(entry: string): string {
  const items = entry.split(':').filter((p) => p !== '');
  if (items.length !== 2) return invalidArg(`Invalid extra hosts specification '${entry}'. unsupported format`);
  if (!isIPv4(items[1]!)) return invalidArg(`Invalid host ip address '${items[1]}'.`);
  return entry;
}

/** `--dns <ipv4>`. */
export function validateDns(ip: string): string {
  if (!isIPv4(ip)) return invalidArg(`Invalid dns ip address '${ip}'.`);
  return ip;
}

/** True for `host`, `none` and `container:<id>` network modes (everything else is a bridge network). */
export function isSpecialNetworkMode(mode: string): boolean {
  return mode === 'host' || mode === 'none' || mode.startsWith('container:');
}

/** Longest accepted `--net` value: (MAX_NETWORK_NAME_LEN + 1) * 200 - 1. */
const MAX_NETWORK_NAME_LEN = 128;
const MAX_NET_MODE_LEN = (MAX_NETWORK_NAME_LEN + 1) * 200 - 1;

/** `--net` → `NetworkMode`, kept verbatim (`host`, `none`, `container:<id>`, `bridge`, network names). */
export function parseNetworkMode(mode: string): string {
  if (!isSpecialNetworkMode(mode) && mode.length > MAX_NET_MODE_LEN) {
    return invalidArg(`Network mode "${mode}" is too long`);
  }
  return mode;
}
