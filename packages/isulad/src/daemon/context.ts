import type { DaemonConfig, DaemonConstants } from '../config';
import type { DaemonLogger } from '../log/logger';
import type { HostFacts } from '../system/info';

/** Counts the Info RPC reports; the container and image stores provide them once they exist. */
export interface EngineCounts {
  containers(): { total: number; running: number; paused: number; stopped: number };
  images(): number;
}

/** Everything the services share, built once at boot. */
export interface DaemonContext {
  config: DaemonConfig;
  constants: DaemonConstants;
  logger: DaemonLogger;
  env: NodeJS.ProcessEnv;
  /** `<ISULAD_TMPDIR or graph>/isulad_tmpdir`, wiped at every start. */
  tmpdir: string;
  host: HostFacts;
  counts: EngineCounts;
  /** The graph driver's own status lines (`Backing Filesystem`, `Supports d_type`...). */
  storageStatus: Array<[string, string]>;
}

export const NO_COUNTS: EngineCounts = {
  containers: () => ({ total: 0, running: 0, paused: 0, stopped: 0 }),
  images: () => 0,
};
