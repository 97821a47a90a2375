/**
 * The result cache, after libcni's `/var/lib/cni/results/<network>-<containerid>-<ifname>`: one JSON
 * file per (network, sandbox, interface) holding everything DEL needs after a daemon restart even when
 * the conf file changed meanwhile: the whole configuration list used at ADD, the CNI_ARGS, the
 * capability args (portmap's DEL needs the same portMappings) and the ADD result (prevResult of
 * DEL/CHECK). Written atomically (tmp file, fsync, rename); removed once DEL succeeded.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CniError } from './errors';

export const CACHE_KIND = 'cniCacheV1';

export interface CacheEntry {
  kind: typeof CACHE_KIND;
  containerId: string;
  ifName: string;
  networkName: string;
  /** netns path given at ADD */
  netns: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** the configuration list as used (list form even for a .conf) */
  config: Record<string, unknown>;
  /** file the configuration came from, for diagnostics */
  configFile: string;
  /** the result of the chain; null while ADD is in progress or when it failed and was not undone */
  result: unknown;
  /** ISO time of the write */
  updated: string;
}

export const cacheFileName = (network: string, containerId: string, ifName: string) => `${network}-${containerId}-${ifName}`;

let tmpSeq = 0;

export class ResultCache {
  constructor(readonly dir: string) {}

  pathOf(network: string, containerId: string, ifName: string): string {
    return path.join(this.dir, cacheFileName(network, containerId, ifName));
  }

  async write(entry: CacheEntry): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.pathOf(entry.networkName, entry.containerId, entry.ifName);
    const tmp = path.join(this.dir, `.${path.basename(file)}.tmp-${process.pid}-${++tmpSeq}`);
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(entry));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
    try {
      const dh = await fsp.open(this.dir, 'r');
      await dh.sync().finally(() => dh.close());
    } catch {
      /* best effort */
    }
  }

  async read(network: string, containerId: string, ifName: string): Promise<CacheEntry | undefined> {
    return this.readFile(this.pathOf(network, containerId, ifName));
  }

  private async readFile(file: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CniError(`failed to read CNI result cache ${file}: ${(e as Error).message}`);
    }
    try {
      const entry = JSON.parse(text) as CacheEntry;
      if (entry?.kind !== CACHE_KIND || typeof entry.config !== 'object' || entry.config === null) throw new Error('unknown format');
      return entry;
    } catch (e) {
      throw new CniError(`corrupt CNI result cache ${file}: ${(e as Error).message}`);
    }
  }

  /** Every entry cached for this sandbox and interface, whatever the network (its name may have changed). */
  async findFor(containerId: string, ifName: string): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const suffix = `-${containerId}-${ifName}`;
    const out: CacheEntry[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.') || !n.endsWith(suffix)) continue;
      const e = await this.readFile(path.join(this.dir, n));
      if (e && e.containerId === containerId && e.ifName === ifName) out.push(e);
    }
    return out;
  }

  async remove(network: string, containerId: string, ifName: string): Promise<void> {
    await fsp.rm(this.pathOf(network, containerId, ifName), { force: true });
  }
}
