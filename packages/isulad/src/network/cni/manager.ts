/**
 * CniManager: the pod network of CRI sandboxes through CNI plugins (network-plugin "cni").
 *
 * - the network in use is the first config file of `confDir` (see config.ts); it is looked up again
 *   before each setUp, so a file dropped in later is picked up without a restart;
 * - setUp runs ADD through the list (prevResult chained), tearDown runs DEL in reverse order, check runs
 *   CHECK (lists of cniVersion >= 0.4.0 only, unless `disableCheck`);
 * - everything DEL needs is cached per sandbox (cache.ts) before ADD starts, and the ADD result after, so
 *   a restarted daemon, or a changed conf file, still tears down exactly what was set up; the entry goes
 *   once DEL succeeded;
 * - calls for the same sandbox are serialised; different sandboxes run in parallel.
 */
import { promises as fsp } from 'node:fs';
import { KeyedMutex } from '../../storage/mutex';
import { ResultCache, CACHE_KIND, type CacheEntry } from './cache';
import { listFromRaw, loadNetworkConfig, versionAtLeast } from './config';
import { CniError } from './errors';
import { findPlugin, invokePlugin, type CniCommand } from './exec';
import { podIpsFromResult } from './result';
import type {
  CniConfig, CniLogger, CniStatus, NetworkConfigList, PluginConf, PodNetworkParams, SetUpResult, TearDownParams,
} from './types';

export const DEFAULT_IFNAME = 'eth0';
const DEFAULT_TIMEOUT_MS = 120_000;
const STATUS_REFRESH_MS = 1000;
const NSFS_MAGIC = 0x6e736673;
const PROC_SUPER_MAGIC = 0x9fa0;

interface RuntimeArgs {
  containerId: string;
  netns: string;
  ifName: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Is `p` a network namespace (a bind-mounted nsfs file or /proc/<pid>/ns/net)? */
async function netnsUsable(p: string): Promise<{ ok: boolean; why?: string }> {
  if (p === '') return { ok: false, why: 'no path' };
  try {
    const st = await fsp.statfs(p);
    if (st.type === NSFS_MAGIC || st.type === PROC_SUPER_MAGIC) return { ok: true };
    return { ok: false, why: 'not a network namespace' };
  } catch (e) {
    return { ok: false, why: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}

function cniArgsOf(p: Partial<PodNetworkParams> & { podId: string }): Array<[string, string]> {
  // as kubelet/containerd: IgnoreUnknown first so plugins not knowing the K8S_* keys accept them
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', p.podNamespace ?? ''],
    ['K8S_POD_NAME', p.podName ?? ''],
    ['K8S_POD_INFRA_CONTAINER_ID', p.podId],
    ['K8S_POD_UID', p.podUid ?? ''],
  ];
}

function capabilityArgsOf(p: Partial<PodNetworkParams>): Record<string, unknown> {
  const caps: Record<string, unknown> = { ...(p.capabilityArgs ?? {}) };
  const pm = (p.portMappings ?? [])
    .filter((m) => m.hostPort > 0)
    .map((m) => {
      const o: Record<string, unknown> = {
        hostPort: m.hostPort,
        containerPort: m.containerPort,
        protocol: (m.protocol || 'tcp').toLowerCase(),
      };
      if (m.hostIp) o.hostIP = m.hostIp;
      return o;
    });
  if (pm.length > 0) caps.portMappings = pm;
  return caps;
}

export class CniManager {
  private current?: NetworkConfigList;
  private loadError?: string;
  private lastRefresh = 0;
  private refreshing?: Promise<unknown>;
  private readonly cache: ResultCache;
  private readonly locks = new KeyedMutex();

  private constructor(
    readonly cfg: CniConfig,
    private readonly log: CniLogger,
  ) {
    this.cache = new ResultCache(cfg.cacheDir);
  }

  /**
   * Creates the manager and looks for the network configuration. A missing or invalid configuration
   * does not fail: status() reports it (CRI NetworkReady=false, as containerd and kubelet do) and
   * setUp() throws the same clear error until a valid file appears.
   */
  static async load(cfg: CniConfig, log: CniLogger): Promise<CniManager> {
    const m = new CniManager(cfg, log);
    await m.refresh().catch(() => undefined);
    return m;
  }

  /** The network in use (first conf file), looked up again now; throws a CniError when unusable. */
  async refresh(): Promise<NetworkConfigList> {
    this.lastRefresh = Date.now();
    try {
      const list = await loadNetworkConfig(this.cfg.confDir);
      for (const p of list.plugins) await findPlugin(p.type, this.cfg.binDirs);
      if (this.current?.file !== list.file || this.current.name !== list.name || this.loadError !== undefined) {
        this.log.info({ network: list.name, file: list.file, plugins: list.plugins.map((p) => p.type) }, 'CNI network configuration loaded');
      }
      this.current = list;
      this.loadError = undefined;
      return list;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.loadError) this.log.warn({ confDir: this.cfg.confDir, binDirs: this.cfg.binDirs, err: msg }, 'CNI network not ready');
      this.current = undefined;
      this.loadError = msg;
      throw e instanceof CniError ? e : new CniError(msg);
    }
  }

  /** For CRI Status NetworkReady. Non-blocking: it answers from the last lookup and starts a new one when stale. */
  status(): CniStatus {
    if (!this.refreshing && Date.now() - this.lastRefresh > STATUS_REFRESH_MS) {
      this.refreshing = this.refresh()
        .catch(() => undefined)
        .finally(() => (this.refreshing = undefined));
    }
    if (this.current && this.loadError === undefined) {
      return { ready: true, network: this.current.name, file: this.current.file };
    }
    return {
      ready: false,
      reason: 'NetworkPluginNotReady',
      message: `Network plugin returns error: cni config load failed: ${this.loadError ?? 'not loaded yet'}`,
    };
  }

  async setUp(p: PodNetworkParams): Promise<SetUpResult> {
    if (!p.podId) throw new CniError('CNI setUp: empty sandbox id');
    const ifName = p.ifName || DEFAULT_IFNAME;
    return this.locks.run(p.podId, async () => {
      const t0 = Date.now();
      const list = await this.refresh();
      const ns = await netnsUsable(p.netnsPath);
      if (!ns.ok) throw new CniError(`network namespace ${JSON.stringify(p.netnsPath)} of sandbox ${p.podId} is not usable: ${ns.why}`);
      const rt: RuntimeArgs = {
        containerId: p.podId, netns: p.netnsPath, ifName, cniArgs: cniArgsOf(p), capabilityArgs: capabilityArgsOf(p),
      };
      const entry: CacheEntry = {
        kind: CACHE_KIND, containerId: p.podId, ifName, networkName: list.name, netns: p.netnsPath,
        cniArgs: rt.cniArgs, capabilityArgs: rt.capabilityArgs, config: list.raw, configFile: list.file,
        result: null, updated: new Date().toISOString(),
      };
      // Written before ADD so a crash in the middle still leaves what DEL needs.
      await this.cache.write(entry);
      let result: unknown;
      try {
        result = await this.addList(list, rt);
      } catch (e) {
        try {
          await this.delList(list, rt, undefined);
          await this.cache.remove(list.name, p.podId, ifName);
        } catch (de) {
          this.log.warn({ podId: p.podId, network: list.name, err: (de as Error).message }, 'CNI: undoing a failed ADD failed; tearDown will retry');
        }
        throw e;
      }
      entry.result = result;
      entry.updated = new Date().toISOString();
      await this.cache.write(entry);
      const ips = podIpsFromResult(result);
      this.log.info({ podId: p.podId, network: list.name, ip: ips.ip, ms: Date.now() - t0 }, 'CNI network set up');
      return { ...ips, result };
    });
  }

  /** CHECK with what was cached at setUp. Lists below 0.4.0 or with disableCheck are not checked. */
  async check(p: PodNetworkParams | TearDownParams): Promise<void> {
    const ifName = p.ifName || DEFAULT_IFNAME;
    await this.locks.run(p.podId, async () => {
      const entries = await this.cache.findFor(p.podId, ifName);
      if (entries.length === 0) throw new CniError(`no CNI network set up for sandbox ${p.podId} (interface ${ifName})`);
      for (const entry of entries) {
        const list = listFromRaw(entry.config, entry.configFile);
        if (!versionAtLeast(list.cniVersion, '0.4.0')) {
          this.log.debug({ podId: p.podId, network: list.name, cniVersion: list.cniVersion }, 'CNI CHECK skipped: version below 0.4.0');
          continue;
        }
        if (list.disableCheck) continue;
        if (entry.result === null || entry.result === undefined) {
          throw new CniError(`CNI network ${JSON.stringify(list.name)} of sandbox ${p.podId} was not completely set up`);
        }
        const netns = p.netnsPath || entry.netns;
        const ns = await netnsUsable(netns);
        if (!ns.ok) throw new CniError(`network namespace ${JSON.stringify(netns)} of sandbox ${p.podId} is not usable: ${ns.why}`);
        const rt: RuntimeArgs = { containerId: p.podId, netns, ifName, cniArgs: entry.cniArgs, capabilityArgs: entry.capabilityArgs };
        for (const plugin of list.plugins) await this.run('CHECK', list, plugin, rt, entry.result);
      }
    });
  }

  /**
   * DEL for every network cached for this sandbox (with the cached configuration, args and result), or,
   * when nothing is cached, with the current configuration. A netns already gone is given to the plugins
   * as an empty CNI_NETNS (the spec allows it for DEL) so IPAM still releases the address.
   */
  async tearDown(p: TearDownParams): Promise<void> {
    if (!p.podId) throw new CniError('CNI tearDown: empty sandbox id');
    const ifName = p.ifName || DEFAULT_IFNAME;
    await this.locks.run(p.podId, async () => {
      const t0 = Date.now();
      const entries = await this.cache.findFor(p.podId, ifName);
      const errors: Error[] = [];
      if (entries.length === 0) {
        let list: NetworkConfigList;
        try {
          list = await this.refresh();
        } catch (e) {
          this.log.warn({ podId: p.podId, err: (e as Error).message }, 'CNI tearDown: nothing cached and no network configuration; nothing to do');
          return;
        }
        const netns = await this.delNetns(p.netnsPath ?? '', p.podId);
        const rt: RuntimeArgs = { containerId: p.podId, netns, ifName, cniArgs: cniArgsOf(p), capabilityArgs: capabilityArgsOf(p) };
        await this.delList(list, rt, undefined);
      }
      for (const entry of entries) {
        try {
          const list = listFromRaw(entry.config, entry.configFile);
          const netns = await this.delNetns(p.netnsPath || entry.netns, p.podId);
          const caps = p.portMappings || p.capabilityArgs ? { ...entry.capabilityArgs, ...capabilityArgsOf(p) } : entry.capabilityArgs;
          const rt: RuntimeArgs = { containerId: p.podId, netns, ifName, cniArgs: entry.cniArgs, capabilityArgs: caps };
          await this.delList(list, rt, entry.result ?? undefined);
          await this.cache.remove(entry.networkName, p.podId, ifName);
        } catch (e) {
          errors.push(e as Error);
        }
      }
      if (errors.length > 0) {
        throw errors.length === 1 ? errors[0] : new CniError(errors.map((e) => e.message).join('; '));
      }
      this.log.info({ podId: p.podId, networks: entries.map((e) => e.networkName), ms: Date.now() - t0 }, 'CNI network torn down');
    });
  }

  private async delNetns(netns: string, podId: string): Promise<string> {
    if (netns === '') return '';
    const ns = await netnsUsable(netns);
    if (ns.ok) return netns;
    this.log.debug({ podId, netns, why: ns.why }, 'CNI DEL: network namespace gone, passing an empty CNI_NETNS');
    return '';
  }

  private async addList(list: NetworkConfigList, rt: RuntimeArgs): Promise<unknown> {
    let prev: unknown;
    for (const plugin of list.plugins) {
      const out = await this.run('ADD', list, plugin, rt, prev);
      if (out === undefined) {
        throw new CniError(
          `plugin type=${JSON.stringify(plugin.type)} name=${JSON.stringify(list.name)} failed (add): the plugin returned no result`,
          { command: 'ADD', plugin: plugin.type, network: list.name },
        );
      }
      prev = out;
    }
    return prev;
  }

  private async delList(list: NetworkConfigList, rt: RuntimeArgs, cachedResult: unknown): Promise<void> {
    // as libcni: prevResult on DEL only from 0.4.0 on
    const prev = versionAtLeast(list.cniVersion, '0.4.0') ? cachedResult : undefined;
    for (const plugin of [...list.plugins].reverse()) await this.run('DEL', list, plugin, rt, prev);
  }

  /** The stdin of one plugin: its own config plus the list's name and cniVersion, prevResult and runtimeConfig. */
  static pluginStdin(list: NetworkConfigList, plugin: PluginConf, prevResult: unknown, capabilityArgs: Record<string, unknown>): string {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    delete conf.prevResult;
    delete conf.runtimeConfig;
    if (prevResult !== undefined && prevResult !== null) conf.prevResult = prevResult;
    if (isObject(plugin.capabilities)) {
      const rc: Record<string, unknown> = {};
      for (const [cap, on] of Object.entries(plugin.capabilities)) {
        if (on === true && capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
      }
      if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
    }
    return JSON.stringify(conf);
  }

  private async run(command: CniCommand, list: NetworkConfigList, plugin: PluginConf, rt: RuntimeArgs, prev: unknown): Promise<unknown> {
    const pluginPath = await findPlugin(plugin.type, this.cfg.binDirs).catch((e: CniError) => {
      throw new CniError(`plugin type=${JSON.stringify(plugin.type)} name=${JSON.stringify(list.name)} failed (${command.toLowerCase()}): ${e.message}`, {
        command, plugin: plugin.type, network: list.name,
      });
    });
    const t0 = Date.now();
    const out = await invokePlugin({
      command, pluginPath, type: plugin.type, network: list.name, containerId: rt.containerId, netns: rt.netns,
      ifName: rt.ifName, cniArgs: rt.cniArgs, binDirs: this.cfg.binDirs,
      stdin: CniManager.pluginStdin(list, plugin, prev, rt.capabilityArgs),
      timeoutMs: this.cfg.pluginTimeoutMs ?? DEFAULT_TIMEOUT_MS, execPrefix: this.cfg.execPrefix,
    }).catch((e: CniError) => {
      this.log.warn({ podId: rt.containerId, plugin: plugin.type, command, stderr: e.detail?.stderr, err: e.message }, 'CNI plugin failed');
      throw e;
    });
    this.log.debug({ podId: rt.containerId, plugin: plugin.type, command, ms: Date.now() - t0, stderr: out.stderr || undefined }, 'CNI plugin ran');
    return out.result;
  }
}
