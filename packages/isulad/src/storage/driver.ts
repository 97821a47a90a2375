import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../config/types';
import type { DaemonLogger } from '../log/logger';
import { Overlay2Driver } from './overlay2/driver';

/**
 * A graph driver: where layer content lives and how layers are stacked into a mountable rootfs.
 * Ids are directory names (the layer store uses chain-id hex for image layers, container ids for
 * read-write layers).
 */
export interface GraphDriver {
  readonly name: string;
  readonly home: string;
  /** `isula info` lines, e.g. ['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']. */
  status(): Array<[string, string]>;
  /** A new empty layer on top of `parent` (null: a base layer). */
  create(id: string, parent: string | null, opts?: { readOnly?: boolean }): Promise<void>;
  /** The directory holding this layer's own content (where a layer tar is applied). */
  diffPath(id: string): string;
  /** Mounts the layer with its parents and returns the merged path; refcounted. */
  mount(id: string): Promise<string>;
  /** Drops one mount reference; unmounts at zero. */
  unmount(id: string): Promise<void>;
  /** Removes the layer (unmounting it first if needed). Missing layers are not an error. */
  remove(id: string): Promise<void>;
  exists(id: string): Promise<boolean>;
  /**
   * Gives a layer another id (the layer store extracts under a temporary id and renames once the
   * chain id is known). The layer must not be mounted; children keep working (they refer to it by
   * its short link, which moves along).
   */
  rename(from: string, to: string): Promise<void>;
  /**
   * Stacks a layer created without a parent onto `parent`: layers of one image are extracted side by
   * side and joined to their parents once those are registered.
   */
  setParent(id: string, parent: string): Promise<void>;
  /** Ids of every layer directory present (recovery compares them with the metadata). */
  list(): Promise<string[]>;
  /**
   * Shutdown: unmounts every layer this driver mounted, then its home. Layers `keep` names stay
   * mounted (rootfs of containers that outlive the daemon), and so does the home then.
   */
  cleanup(keep?: (id: string) => boolean): Promise<void>;
}

export interface DriverOptions {
  /** The graph root (`/var/lib/isulad`). */
  graph: string;
  /** The state root (`/var/run/isulad`), for mount bookkeeping. */
  runDir: string;
  /** `storage-opts` from daemon.json / `--storage-opt`. */
  options: string[];
  logger: DaemonLogger;
}

export const DEVMAPPER_NO_POOL = 'devmapper: thin pool is not exist or caller did not pass us a pool, please create it firstly';

/** Whether the running kernel has device-mapper (a registered misc/block device and a control node). */
export function deviceMapperAvailable(): boolean {
  try {
    const devices = readFileSync('/proc/devices', 'utf8');
    const misc = existsSync('/proc/misc') ? readFileSync('/proc/misc', 'utf8') : '';
    return (/\bdevice-mapper\b/.test(devices) || /\bdevice-mapper\b/.test(misc)) && existsSync('/dev/mapper/control');
  } catch {
    return false;
  }
}

export async function createDriver(name: string, opts: DriverOptions): Promise<GraphDriver> {
  switch (name) {
    case 'overlay2':
    case 'overlay':
      return Overlay2Driver.init(opts);
    case 'devicemapper': {
      // TODO(devicemapper): dm.fs, dm.min_free_space, dm.basesize, dm.mkfsarg, dm.mountopt parsing and the
      // thin-pool device set itself; this kernel has no device-mapper, so only the start-up refusals exist.
      const pool = opts.options.find((o) => /^dm\.thinpooldev=/i.test(o.trim()));
      if (pool === undefined || pool.split('=').slice(1).join('=').trim() === '') throw new ConfigError(DEVMAPPER_NO_POOL);
      if (!deviceMapperAvailable()) {
        throw new ConfigError('devmapper: device-mapper is not available in this kernel (no device-mapper in /proc/devices or no /dev/mapper/control)');
      }
      throw new ConfigError('devmapper: the devicemapper storage driver is not implemented by this isulad; use overlay2');
    }
    default:
      throw new ConfigError(`Unsupported storage driver: ${name}`);
  }
}
