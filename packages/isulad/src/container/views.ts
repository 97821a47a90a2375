import { containers } from '@isula/protocol';
import type { ContainerRecord, ContainerStatus } from './types';

const WIRE_STATUS: Record<ContainerStatus, containers.ContainerStatus> = {
  inited: containers.ContainerStatus.CREATED,
  starting: containers.ContainerStatus.STARTING,
  running: containers.ContainerStatus.RUNNING,
  paused: containers.ContainerStatus.PAUSED,
  restarting: containers.ContainerStatus.RESTARTING,
  exited: containers.ContainerStatus.STOPPED,
  removing: containers.ContainerStatus.STOPPED,
};

function quoteArg(a: string): string {
  return /\s/.test(a) ? `"${a}"` : a;
}

/** One `List` item, as upstream fills it (times as RFC 3339 strings, created in seconds). */
export function listItem(rec: ContainerRecord, healthState = ''): containers.Container {
  return {
    id: rec.id,
    pid: rec.state.pid,
    status: WIRE_STATUS[rec.state.status],
    interface: '',
    ipv4: '',
    ipv6: '',
    image: rec.image,
    command: [rec.path, ...rec.args].map(quoteArg).join(' '),
    ram: 0,
    swap: 0,
    exitCode: rec.state.exitCode,
    restartcount: rec.state.restartCount,
    startat: rec.state.startedAt,
    finishat: rec.state.finishedAt,
    runtime: rec.runtime,
    name: rec.name,
    healthState,
    // Nanoseconds since the epoch, as upstream fills it.
    created: BigInt(Date.parse(rec.created)) * 1_000_000n,
    ports: '',
  };
}

/** Upstream's list filters: id, name (prefix/substring), label k or k=v, status, last_n. */
export function matchesFilters(rec: ContainerRecord, filters: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(filters)) {
    switch (key) {
      case 'id':
        if (!rec.id.startsWith(value)) return false;
        break;
      case 'name':
        if (!rec.name.includes(value)) return false;
        break;
      case 'label': {
        const i = value.indexOf('=');
        const labels = rec.config.Labels ?? {};
        if (i < 0 ? !(value in labels) : labels[value.slice(0, i)] !== value.slice(i + 1)) return false;
        break;
      }
      case 'status': {
        const st = rec.state.status === 'inited' ? ['inited', 'created'] : rec.state.status === 'exited' ? ['exited', 'stopped'] : [rec.state.status];
        if (!st.includes(value)) return false;
        break;
      }
      case 'last_n':
        break;
      default:
        break;
    }
  }
  return true;
}

/** `isula inspect` of a container: upstream's `container/inspect.json` shape. */
export function inspectJson(rec: ContainerRecord, extra: { logPath: string; graphDriver: { name: string; data: Record<string, string> }; health?: object }): object {
  const st = rec.state;
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: {
      Status: st.status === 'removing' ? 'exited' : st.status,
      Running: st.status === 'running' || st.status === 'paused',
      Paused: st.status === 'paused',
      Restarting: st.status === 'restarting',
      OOMKilled: st.oomKilled,
      Dead: false,
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt,
      FinishedAt: st.finishedAt,
      ...(extra.health ? { Health: extra.health } : {}),
    },
    Resources: {},
    Image: `sha256:${rec.imageId}`,
    ResolvConfPath: `${rec.bundle}/resolv.conf`,
    HostnamePath: `${rec.bundle}/hostname`,
    HostsPath: `${rec.bundle}/hosts`,
    LogPath: extra.logPath,
    Name: `/${rec.name}`,
    RestartCount: st.restartCount,
    MountLabel: '',
    ProcessLabel: '',
    SeccompProfile: '',
    NoNewPrivileges: (rec.hostConfig.SecurityOpt ?? []).some((o) => o.startsWith('no-new-privileges') && !o.endsWith('false')),
    HostConfig: { ...rec.hostConfig, Runtime: rec.runtime },
    GraphDriver: { Name: extra.graphDriver.name, Data: extra.graphDriver.data },
    Mounts: rec.mounts.map((m) => ({ ...m, Mode: '', Propagation: m.Type === 'bind' ? 'rprivate' : '' })),
    Config: rec.config,
    NetworkSettings: { IPAddress: '', Networks: {} },
  };
}
