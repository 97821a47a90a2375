import { isIPv4, isIPv6 } from 'node:net';

/** A daemon address as `-H` names it, for the daemon (listeners) and the client (where to dial). */
export type HostAddress =
  | { kind: 'unix'; uri: string; path: string }
  | { kind: 'tcp'; uri: string; host: string; port: number };

const SUN_PATH_MAX = 107; // sockaddr_un.sun_path holds 108 bytes with the terminating NUL

/**
 * Parses `unix:///abs/path` or `tcp://<ipv4|localhost|[ipv6]>:<port>` as upstream validates socket
 * names; undefined when the name is not valid (callers word the error: flag, file or client).
 */
export function parseHostUri(uri: string): HostAddress | undefined {
  if (uri.startsWith('unix://')) {
    const path = uri.slice('unix://'.length);
    if (!path.startsWith('/') || path.endsWith('/') || Buffer.byteLength(path) > SUN_PATH_MAX) return undefined;
    if (path.includes('\0')) return undefined;
    return { kind: 'unix', uri, path };
  }
  if (uri.startsWith('tcp://')) {
    const rest = uri.slice('tcp://'.length);
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(rest);
    if (!m) return undefined;
    let host = m[1]!;
    const port = Number(m[2]);
    if (port > 65535) return undefined;
    if (host.startsWith('[')) {
      host = host.slice(1, -1);
      if (!isIPv6(host)) return undefined;
    } else if (host !== 'localhost' && !isIPv4(host)) {
      return undefined;
    }
    return { kind: 'tcp', uri, host, port };
  }
  return undefined;
}

