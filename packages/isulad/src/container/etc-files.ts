import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig } from '@isula/protocol';

/** The files isulad bind-mounts over /etc/hostname, /etc/hosts and /etc/resolv.conf. */
export interface EtcFiles {
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
}

/**
 * Writes hostname, hosts and resolv.conf into the bundle. With the host's network the host's own
 * files are copied (as Docker does); otherwise a minimal hosts file naming the container and a
 * resolv.conf from `--dns*` or the host's.
 */
export async function writeEtcFiles(bundle: string, hostname: string, host: HostConfig): Promise<EtcFiles> {
  const files: EtcFiles = {
    hostnamePath: join(bundle, 'hostname'),
    hostsPath: join(bundle, 'hosts'),
    resolvConfPath: join(bundle, 'resolv.conf'),
  };
  const hostNet = host.NetworkMode === 'host';
  await writeFile(files.hostnamePath, `${hostname}\n`, { mode: 0o644 });
  let hosts: string;
  if (hostNet) hosts = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
  else {
    hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters', `127.0.0.1\t${hostname}`].join('\n') + '\n';
  }
  for (const entry of host.ExtraHosts ?? []) {
    const i = entry.indexOf(':');
    if (i > 0) hosts += `${entry.slice(i + 1)}\t${entry.slice(0, i)}\n`;
  }
  await writeFile(files.hostsPath, hosts, { mode: 0o644 });
  await writeFile(files.resolvConfPath, await resolvConf(host), { mode: 0o644 });
  return files;
}

async function resolvConf(host: HostConfig): Promise<string> {
  const base = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const lines = base.split('\n');
  const pick = (key: string) => lines.filter((l) => l.trim().startsWith(key + ' ') || l.trim().startsWith(key + '\t'));
  const dns = host.Dns?.length ? host.Dns.map((d) => `nameserver ${d}`) : pick('nameserver');
  const search = host.DnsSearch?.length ? [`search ${host.DnsSearch.join(' ')}`] : pick('search');
  const options = host.DnsOptions?.length ? [`options ${host.DnsOptions.join(' ')}`] : pick('options');
  return [...dns, ...search, ...options].join('\n') + '\n';
}
