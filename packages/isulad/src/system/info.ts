import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** Static facts about the host, read once at boot (none of them change while the daemon runs). */
export interface HostFacts {
  kernelVersion: string;
  osType: string;
  architecture: string;
  operatingSystem: string;
  cpus: number;
  totalMemGiB: number;
  hugePageSize: string;
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** PRETTY_NAME from os-release, the way `isula info` and `docker info` name the distribution. */
export function prettyName(osRelease: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (!m) return 'Linux';
  return m[1]!.trim().replace(/^(["'])(.*)\1$/, '$2'); // os-release(5) allows either quote
}

/** `Hugepagesize:       2048 kB` → `2048kB`. */
export function hugePageSize(meminfo: string): string {
  const m = /^Hugepagesize:\s+(\d+)\s*(\w+)/m.exec(meminfo);
  return m ? `${m[1]}${m[2]}` : '';
}

export async function readHostFacts(): Promise<HostFacts> {
  const [osRelease, meminfo] = await Promise.all([readOr('/etc/os-release', ''), readOr('/proc/meminfo', '')]);
  return {
    kernelVersion: os.release(),
    osType: os.type(),
    architecture: os.machine(),
    operatingSystem: prettyName(osRelease),
    cpus: os.availableParallelism(),
    totalMemGiB: Math.floor(os.totalmem() / 1024 ** 3),
    hugePageSize: hugePageSize(meminfo),
  };
}

/** Replaces the password of `scheme://user:pass@host` with `xxxx:xxxx`, as upstream masks proxies. */
export function maskProxy(value: string | undefined): string {
  if (!value) return '';
  return value.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)?[^/@:\s]+:[^/@\s]*@/, (_m, scheme: string | undefined) => `${scheme ?? ''}xxxx:xxxx@`);
}

export function proxyEnv(env: NodeJS.ProcessEnv, name: 'HTTP_PROXY' | 'HTTPS_PROXY' | 'NO_PROXY'): string {
  return env[name] ?? env[name.toLowerCase()] ?? '';
}
