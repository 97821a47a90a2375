/**
 * Per-host TLS material from `certs.d/<host[:port]>/` as iSulad (`certs.c`) and docker read it:
 * `*.crt` are extra CAs (added to the system roots), `*.cert` is a client certificate whose key is
 * the same name with `.key`. And the `insecure-registries` match.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { RegistryError } from './errors';

export const DEFAULT_CERTS_DIR = '/etc/isulad/certs.d';

export interface HostTls {
  /** CA bundle to verify with (system roots + certs.d CAs), or undefined for the default. */
  ca?: string[];
  cert?: string;
  key?: string;
  /** The files used, for logs. */
  files: string[];
}

/** Reads `<certsDir>/<hostDir>/`; a missing directory gives no extra material. Synchronous: it
 * runs once per host, from the connector. */
export function loadHostTls(certsDir: string, hostDir: string): HostTls {
  const dir = join(certsDir, hostDir);
  const out: HostTls = { files: [] };
  if (hostDir.includes('/') || hostDir === '..' || hostDir === '.' || !existsSync(dir)) return out;
  if (!statSync(dir).isDirectory()) return out;
  const names = readdirSync(dir).sort();
  const cas: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (name.endsWith('.crt')) {
      cas.push(readFileSync(path, 'utf8'));
      out.files.push(path);
    } else if (name.endsWith('.cert') && out.cert === undefined) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      const keyPath = join(dir, keyName);
      if (!existsSync(keyPath)) {
        throw new RegistryError(`missing key ${keyName} for client certificate ${name} in ${dir}`, {
          code: 'CERTS_D',
        });
      }
      out.cert = readFileSync(path, 'utf8');
      out.key = readFileSync(keyPath, 'utf8');
      out.files.push(path, keyPath);
    }
  }
  if (cas.length > 0) out.ca = [...rootCertificates, ...cas];
  return out;
}

/** The certs.d directory name of an origin: `host:port`, or `host` for the default port. */
export function hostDirName(hostname: string, port: string | number | undefined, protocol = 'https:'): string {
  const h = isIP(hostname) === 6 && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
  const p = port === undefined || port === '' ? '' : String(port);
  const defaultPort = protocol === 'http:' ? '80' : '443';
  return p === '' || p === defaultPort ? h : `${h}:${p}`;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
}

/**
 * Whether a registry is insecure: an entry equal to `host[:port]` (scheme and trailing `/`
 * ignored), equal to the bare host, or an IPv4 CIDR containing the host's address.
 */
export function isInsecureRegistry(registry: string, entries: readonly string[]): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  for (const raw of entries) {
    const e = raw.trim().replace(/^https?:\/\//i, '').replace(/\/+$/, '');
    if (e.length === 0) continue;
    if (e === registry || e === host) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(e);
    if (cidr !== null && isIP(host) === 4 && isIP(cidr[1]!) === 4) {
      const bits = Number(cidr[2]);
      if (bits > 32) continue;
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4ToInt(host) & mask) >>> 0 === (ipv4ToInt(cidr[1]!) & mask) >>> 0) return true;
    }
  }
  return false;
}
