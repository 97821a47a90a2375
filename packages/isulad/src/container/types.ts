import type { ContainerConfig, HostConfig } from '@isula/protocol';

/** Upstream's State.Status strings (note `inited`, not Docker's `created`). */
export type ContainerStatus = 'inited' | 'starting' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing';

export interface ContainerState {
  status: ContainerStatus;
  /** Container init's pid on the host while running, else 0. */
  pid: number;
  /** Monitor process and its start time (clock ticks since boot) to tell it from a reused pid. */
  monitorPid: number;
  monitorStartTicks: number;
  exitCode: number;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Stopped by a user (stop/kill/rm): restart policies leave it alone. */
  manuallyStopped: boolean;
  oomKilled: boolean;
  /** Set while create is still building the container: such a record is cleaned at boot. */
  creating?: boolean;
}

/** Everything isulad keeps about one container (one SQLite row). */
export interface ContainerRecord {
  id: string;
  name: string;
  /** The image as the user named it, and its id (64 hex). */
  image: string;
  imageId: string;
  runtime: string;
  created: string;
  /** The configuration as received on the wire (upstream's JSON schemas), image defaults merged. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Process as it runs: resolved entrypoint + cmd. */
  path: string;
  args: string[];
  /** `<graph>/engines/<runtime>/<id>`: OCI bundle, hostname/hosts/resolv.conf, console.log. */
  bundle: string;
  /** The OCI spec's cgroupsPath, for stats. */
  cgroupPath: string;
  /** The spec has poststop hooks: only the runtime's `delete` runs them, so the monitor must call it. */
  poststopHooks?: boolean;
  /** Named/anonymous volumes this container mounts (released on rm). */
  volumes: string[];
  /** Resolved mounts as inspect shows them. */
  mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean; Name?: string; Driver?: string }>;
  /** Binds, volume and tmpfs mounts for the OCI spec, resolved at create. */
  extraMounts?: Array<{ destination: string; type: string; source: string; options: string[] }>;
  /** Set when hostname, hosts and resolv.conf are another bundle's (a CRI container shares its sandbox's). */
  etcDir?: string;
  log: { driver: string; path: string; maxSize: number; maxFile: number; disabled: boolean; syslogTag?: string; syslogFacility?: string };
  state: ContainerState;
}

export function newState(): ContainerState {
  return {
    status: 'inited',
    pid: 0,
    monitorPid: 0,
    monitorStartTicks: 0,
    exitCode: 0,
    error: '',
    startedAt: ZERO_TIME,
    finishedAt: ZERO_TIME,
    restartCount: 0,
    manuallyStopped: false,
    oomKilled: false,
  };
}

/** Go's zero time, as Docker and iSulad print unset timestamps. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
