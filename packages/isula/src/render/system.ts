import type { DaemonInfo, VersionInfo } from '@isula/client';
import type { BuildInfo } from '../build-info';

/** `isula version`: client, server and OCI config sections, tab-aligned as upstream. */
export function renderVersion(client: BuildInfo, server: VersionInfo): string {
  return [
    'Client:',
    `  Version:\t${client.version}`,
    `  Git commit:\t${client.gitCommit}`,
    `  Built:\t${client.buildTime}`,
    '',
    'Server:',
    `  Version:\t${server.version}`,
    `  Git commit:\t${server.gitCommit}`,
    `  Built:\t${server.buildTime}`,
    '',
    'OCI config:',
    '  Version:\t1.0.1',
    '  Default file:\t/etc/default/isulad/config.json',
    '',
  ].join('\n');
}

/** Indents every line of a multi-line status block by one space (driver status under "Storage Driver"). */
function indentBlock(text: string): string {
  return text
    .split('\n')
    .map((line, i, all) => (i === all.length - 1 && line === '' ? '' : ` ${line}`))
    .join('\n');
}

/** `isula info`, in upstream's order; empty strings are left out as upstream leaves out NULLs. */
export function renderInfo(info: DaemonInfo): string {
  const lines: string[] = [
    `Containers: ${info.containersNum}`,
    ` Running: ${info.cRunning}`,
    ` Paused: ${info.cPaused}`,
    ` Stopped: ${info.cStopped}`,
    `Images: ${info.imagesNum}`,
  ];
  const opt = (label: string, value: string) => {
    if (value !== '') lines.push(`${label}: ${value}`);
  };
  opt('Server Version', info.version);
  opt('Storage Driver', info.driverName);
  let out = lines.join('\n') + '\n';
  if (info.driverStatus !== '') out += indentBlock(info.driverStatus.endsWith('\n') ? info.driverStatus : `${info.driverStatus}\n`);
  lines.length = 0;
  opt('Logging Driver', info.loggingDriver);
  opt('Cgroup Driver', info.cgroupDriver);
  opt('Hugetlb Pagesize', info.hugePageSize);
  opt('Kernel Version', info.kversion);
  opt('Operating System', info.operatingSystem);
  opt('OSType', info.osType);
  opt('Architecture', info.architecture);
  lines.push(`CPUs: ${info.cpus}`, `Total Memory: ${info.totalMem} GB`);
  opt('Name', info.nodename);
  opt('iSulad Root Dir', info.isuladRootDir);
  opt('Http Proxy', info.httpProxy);
  opt('Https Proxy', info.httpsProxy);
  opt('No Proxy', info.noProxy);
  return out + lines.join('\n') + '\n';
}
