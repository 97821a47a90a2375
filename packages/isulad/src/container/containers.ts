import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, type ContainerConfig, type HostConfig } from '@isula/protocol';
import type { DaemonConfig } from '../config';
import type { Images } from '../image/images';
import type { DaemonLogger } from '../log/logger';
import { resolveRuntime, runVerb, runtimeState, type OciRuntime, type RuntimeError } from '../runtime/oci-runtime';
import { launchMonitor, processStartTicks, readExit, watchExit, type ExitStatus } from '../runtime/monitor';
import type { LayerStore } from '../storage/layer-store';
import { resolveInScope } from '../volume/scope';
import type { Volumes } from '../volume/volumes';
import { ContainerError } from './errors';
import { writeEtcFiles } from './etc-files';
import { removeCgroup } from './cgroups';
import type { EventBus } from './events/bus';
import { planMounts, type OciMount } from './mounts';
import { checkName, lookup, NAME_PATTERN, newContainerId } from './names';
import { HealthMonitor, resolveHealthcheck } from './health/health';
import { RestartManager } from './restart';
import { buildSpec, resolveLogConfig, resolveStopSignal, SpecError, type BuildSpecInput } from './spec';
import type { StdioAttacher } from './stdio';
import type { ContainerStore } from './store';
import { newState, type ContainerRecord } from './types';

export interface ContainersDeps {
  store: ContainerStore;
  images: Images;
  layers: LayerStore;
  volumes: Volumes;
  events: EventBus;
  config: DaemonConfig;
  logger: DaemonLogger;
  /** The daemon's own hard limits: generated rlimits are clamped to them. */
  hardLimits: { nofile: number; nproc: number };
  /** Capabilities the daemon holds: privileged containers get these and no more (runc refuses others). */
  hostCapabilities: string[];
}

export interface CreateOptions {
  name: string;
  image: string;
  runtime: string;
  hostConfig: HostConfig;
  config: ContainerConfig;
  /** Log settings that replace those resolved from the configuration (CRI: the pod's log file). */
  log?: ContainerRecord['log'];
  /** Bind-mount hostname, hosts and resolv.conf from this directory instead of writing the container's own (CRI: the sandbox's bundle). */
  etcDir?: string;
}

/** What a running container holds in memory: its exit, observed through the monitor. */
interface Live {
  exited: Promise<void>;
}

/** States in which a container's processes exist (or are about to). */
const ACTIVE = new Set(['running', 'paused', 'restarting', 'starting']);

const DEFAULT_START_TIMEOUT_MS = 120_000;

function startTimeoutMs(value: string): number {
  const m = /^([1-9][0-9]*)([sm])$/.exec(value);
  if (!m) return DEFAULT_START_TIMEOUT_MS;
  return Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
}

/**
 * The container domain: lifecycle on an OCI runtime through one monitor per container, state in
 * SQLite, exit watching without polling, restart policies, and restore after a daemon restart.
 * Operations on one container are serialized; different containers proceed in parallel.
 */
export class Containers {
  private readonly live = new Map<string, Live>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly stopWaiters = new Map<string, Array<() => void>>();
  private readonly removeWaiters = new Map<string, Array<() => void>>();
  private readonly runtimes = new Map<string, Promise<OciRuntime>>();
  readonly restarts: RestartManager;
  readonly health: HealthMonitor;
  private closing = false;
  /** Exit codes of recently removed containers, for a `wait` that arrives after an auto-remove. */
  private readonly removed = new Map<string, number>();

  constructor(private readonly deps: ContainersDeps) {
    this.restarts = new RestartManager((id) => this.restartByPolicy(id), deps.logger);
    // Health probes run through `runtime exec` (no monitor involved); output is captured here.
    this.health = new HealthMonitor({
      exec: async (id, argv, timeoutMs) => {
        const rec = this.deps.store.get(id);
        if (!rec) return { exitCode: -1, output: 'container removed' };
        const rt = await this.runtime(rec.runtime);
        try {
          const out = await runVerb(rt, this.stateDir(rec), ['exec', rec.id, ...argv], undefined, timeoutMs);
          return { exitCode: 0, output: out };
        } catch (err) {
          const e = err as RuntimeError;
          return { exitCode: e.exitCode ?? -1, output: e.stdout + e.message };
        }
      },
      onStatus: (id, status) => {
        const rec = this.deps.store.get(id);
        if (rec) this.deps.events.publish({ id, opt: `health_status: ${status}`, time: new Date(), annotations: { image: rec.image, name: rec.name } });
      },
      onUnhealthyExit: (id) => void this.kill(id, 9).catch(() => undefined),
    });
  }

  get store(): ContainerStore {
    return this.deps.store;
  }

  find(ref: string): ContainerRecord {
    return lookup(this.deps.store.all(), ref);
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    const all = this.deps.store.all().filter((c) => !c.state.creating);
    const running = all.filter((c) => c.state.status === 'running' || c.state.status === 'restarting').length;
    const paused = all.filter((c) => c.state.status === 'paused').length;
    return { total: all.length, running, paused, stopped: all.length - running - paused };
  }

  stateDir(rec: ContainerRecord): string {
    return join(this.deps.config.state, rec.runtime, rec.id);
  }

  private runtime(name: string): Promise<OciRuntime> {
    let rt = this.runtimes.get(name);
    if (!rt) {
      rt = resolveRuntime(name, this.deps.config.runtimes);
      rt.catch(() => this.runtimes.delete(name));
      this.runtimes.set(name, rt);
    }
    return rt;
  }

  /** Runs `fn` after every earlier operation on the same container has finished. */
  private async serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  // ---------------------------------------------------------------- create

  async create(opts: CreateOptions): Promise<ContainerRecord> {
    const { store, images, layers, config } = this.deps;
    const runtimeName = opts.runtime || opts.hostConfig.Runtime || config.defaultRuntime || 'runc';
    const rt = await this.runtime(runtimeName).catch((err: Error) => {
      throw new ContainerError(err.message, ErrorCode.INPUT);
    });
    const image = images.usable(opts.image);
    const id = newContainerId((x) => store.get(x) !== undefined);
    const name = opts.name === '' ? id : opts.name;
    checkName(name);
    if (store.byName(name)) throw new ContainerError(`Conflict. The name "${name}" is already in use by container ${store.byName(name)!.id}. You have to remove (or rename) that container to be able to reuse that name.`);
    const imageConfig = JSON.parse(image.config) as { config?: ImageRunConfig };
    const ic = imageConfig.config ?? {};
    const cfg: ContainerConfig = { ...opts.config, Image: opts.image };
    const entrypoint = cfg.Entrypoint !== undefined && cfg.Entrypoint.length > 0 ? cfg.Entrypoint : cfg.Entrypoint !== undefined && cfg.Cmd !== undefined ? [] : (ic.Entrypoint ?? []);
    const cmd = cfg.Cmd !== undefined && cfg.Cmd.length > 0 ? cfg.Cmd : cfg.Entrypoint !== undefined && cfg.Entrypoint.length > 0 ? [] : (ic.Cmd ?? []);
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw new ContainerError('No command specified', ErrorCode.INPUT);
    const bundle = join(config.graph, 'engines', rt.name, id);
    const log = opts.log ?? (() => {
      try {
        return resolveLogConfig(cfg, opts.hostConfig, config.containerLog, bundle);
      } catch (err) {
        throw specFailure(err);
      }
    })();
    const plan = await planMounts(opts.hostConfig, Object.keys(ic.Volumes ?? {}));
    const rec: ContainerRecord = {
      id,
      name,
      image: opts.image,
      imageId: image.id,
      runtime: rt.name,
      created: new Date().toISOString(),
      config: cfg,
      hostConfig: opts.hostConfig,
      path: argv[0]!,
      args: argv.slice(1),
      bundle,
      cgroupPath: '',
      volumes: [],
      mounts: [],
      log,
      ...(opts.etcDir !== undefined && { etcDir: opts.etcDir }),
      state: { ...newState(), creating: true },
    };
    // The row first (it claims the name atomically), flagged as still being created: a crash from
    // here on leaves a record that boot cleans, never an orphan layer or directory.
    try {
      store.insert(rec);
    } catch (err) {
      if (String(err).includes('UNIQUE')) throw new ContainerError(`Conflict. The name "${name}" is already in use by another container. You have to remove (or rename) that container to be able to reuse that name.`);
      throw err;
    }
    try {
      await layers.createRwLayer(id, image.layers.at(-1) ?? null);
      await mkdir(bundle, { recursive: true, mode: 0o700 });
      const volumeMounts = await this.prepareVolumes(rec, plan.volumes);
      rec.mounts = [
        ...plan.binds.map((m) => ({ Type: 'bind', Source: m.source, Destination: m.destination, RW: !m.options.includes('ro') })),
        ...volumeMounts.map((m) => ({ Type: 'volume', Name: m.name, Source: m.source, Destination: m.destination, Driver: 'local', RW: !m.options.includes('ro') })),
      ];
      rec.extraMounts = [...plan.binds, ...volumeMounts.map(({ name: _n, ...m }) => m), ...plan.tmpfs];
      // Built once now so bad options fail the create, not a later start.
      const spec = await this.spec(rec, join(config.graph, 'storage', 'overlay', id, 'merged'));
      rec.cgroupPath = spec.linux?.cgroupsPath ?? '';
      rec.poststopHooks = (spec.hooks?.poststop?.length ?? 0) > 0;
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
      rec.state = newState();
      store.save(rec);
    } catch (err) {
      await this.destroy(rec, true).catch((e: Error) => this.deps.logger.warn(`cleaning failed create ${id}: ${e.message}`));
      throw err instanceof SpecError ? specFailure(err) : err;
    }
    this.deps.events.publish({ id, opt: 'create', time: new Date(), annotations: { image: rec.image, name } });
    return rec;
  }

  private async prepareVolumes(rec: ContainerRecord, needs: Array<{ name?: string; destination: string; readonly: boolean; copyUp: boolean }>): Promise<Array<OciMount & { name: string }>> {
    const { volumes, layers } = this.deps;
    const out: Array<OciMount & { name: string }> = [];
    let rootfs: string | undefined;
    try {
      for (const v of needs) {
        const vol = v.name === undefined ? await volumes.createAnonymous() : await volumes.ensure(v.name);
        const name = vol.name;
        volumes.addRef(name, rec.id);
        rec.volumes.push(name);
        if (vol.createdNow && v.copyUp) {
          rootfs ??= await layers.mount(rec.id);
          await volumes.populateFrom(name, await resolveInScope(rootfs, v.destination));
        }
        out.push({ name, destination: v.destination, type: 'bind', source: volumes.path(name), options: ['rbind', 'rprivate', v.readonly ? 'ro' : 'rw'] });
      }
    } finally {
      if (rootfs !== undefined) await layers.unmount(rec.id);
    }
    return out;
  }

  /** Writes hostname/hosts/resolv.conf and builds the OCI spec for `rec` over `rootfs`. */
  private async spec(rec: ContainerRecord, rootfs: string) {
    if (rec.etcDir === undefined) await writeEtcFiles(rec.bundle, rec.config.Hostname || rec.id.slice(0, 12), rec.hostConfig);
    return buildSpec(this.specInput(rec, rec.hostConfig, rootfs));
  }

  /** What the spec builder needs: the container, the daemon's defaults and the host's limits. */
  private specInput(rec: ContainerRecord, host: HostConfig, rootfs: string): BuildSpecInput {
    const { config, hardLimits } = this.deps;
    return {
      id: rec.id,
      name: rec.name,
      rootfs,
      bundle: rec.bundle,
      hostConfig: host,
      config: rec.config,
      imageConfig: this.imageConfig(rec),
      imageId: rec.imageId,
      imageName: rec.image,
      mounts: rec.extraMounts ?? [],
      hostnamePath: join(rec.etcDir ?? rec.bundle, 'hostname'),
      hostsPath: join(rec.etcDir ?? rec.bundle, 'hosts'),
      resolvConfPath: join(rec.etcDir ?? rec.bundle, 'resolv.conf'),
      daemon: {
        nativeUmask: config.nativeUmask,
        defaultUlimits: Object.values(config.defaultUlimits),
        cgroupParent: config.cgroupParent,
        hookSpec: config.hookSpec,
        usernsRemap: config.usernsRemap,
        log: config.containerLog,
      },
      hostLimits: hardLimits,
      host: { capabilities: this.deps.hostCapabilities },
      resolvePid: (ref: string) => {
        const other = this.find(ref);
        if (other.state.status !== 'running' && other.state.status !== 'paused') throw new ContainerError(`Container ${ref} is not running`);
        return other.state.pid;
      },
    };
  }

  // ---------------------------------------------------------------- start

  /** Starts container `ref`; `attach` connects a client's stdio before the process runs. */
  async start(ref: string, attach?: StdioAttacher): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.find(rec0.id);
      if (rec.state.status === 'running' || rec.state.status === 'paused') {
        if (attach) throw new ContainerError(`Container ${rec.id} is already running`);
        return rec;
      }
      if (rec.state.status === 'removing') throw new ContainerError(`Container ${rec.id} is marked for removal and cannot be started.`);
      this.restarts.cancel(rec.id);
      rec.state.manuallyStopped = false;
      await this.startLocked(rec, attach);
      return rec;
    });
  }

  private async startLocked(rec: ContainerRecord, attach?: StdioAttacher): Promise<void> {
    const { layers, store, config, logger } = this.deps;
    const rt = await this.runtime(rec.runtime);
    const stateDir = this.stateDir(rec);
    const rootfs = await layers.mount(rec.id);
    let mounted = true;
    let monitorPid = 0;
    try {
      // The bundle written at create (or by update) is reused; only namespaces joined from another
      // container need a fresh spec, since that container's pid changes with every start.
      const hc = rec.hostConfig;
      if ([hc.NetworkMode, hc.IpcMode, hc.PidMode, hc.UTSMode].some((m) => m?.startsWith('container:'))) {
        const spec = await this.spec(rec, rootfs);
        rec.poststopHooks = (spec.hooks?.poststop?.length ?? 0) > 0;
        await writeFile(join(rec.bundle, 'config.json'), JSON.stringify(spec));
      }
      await rm(stateDir, { recursive: true, force: true });
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const timeoutMs = startTimeoutMs(config.startTimeout);
      // One runtime process creates and starts the container; an attached start has the monitor
      // hold the output until the client's streams are connected, so nothing is lost.
      const started = await launchMonitor({
        id: rec.id,
        bundle: rec.bundle,
        stateDir,
        runtime: rt,
        terminal: rec.config.Tty === true,
        stdin: rec.config.OpenStdin === true,
        start: true,
        holdOutput: attach !== undefined,
        skipDelete: rec.poststopHooks !== true,
        log: rec.log,
        timeoutMs,
      });
      monitorPid = started.monitorPid;
      if (attach) await attach(stateDir, { tty: rec.config.Tty === true });
      rec.state = {
        ...rec.state,
        status: 'running',
        pid: started.pid,
        monitorPid,
        monitorStartTicks: await processStartTicks(monitorPid),
        exitCode: 0,
        error: '',
        startedAt: new Date().toISOString(),
        oomKilled: false,
      };
      store.save(rec);
      mounted = false; // the exit handler unmounts from now on
      this.watch(rec);
      this.startHealth(rec);
      this.deps.events.publish({ id: rec.id, opt: 'start', time: new Date(), annotations: { image: rec.image, name: rec.name } });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      logger.error(`start container ${rec.id} failed: ${message}`);
      if (monitorPid > 0) {
        // Started but not attachable (a client FIFO failed): the container must not run on unseen.
        await runVerb(rt, stateDir, ['kill', '--all', rec.id, '9']).catch(() => undefined);
        await watchExit(stateDir).catch(() => undefined);
      }
      if (mounted) await layers.unmount(rec.id).catch(() => undefined);
      await removeCgroup(rec.cgroupPath).catch(() => undefined);
      rec.state = { ...rec.state, status: 'exited', pid: 0, monitorPid: 0, error: message, exitCode: exitCodeForStartError(message), finishedAt: new Date().toISOString() };
      store.save(rec);
      // `--rm` holds for a start that failed too (upstream marks it for removal); the lock is ours.
      if (rec.hostConfig.AutoRemove) {
        rec.state.status = 'removing';
        store.save(rec);
        await this.destroy(rec, false).catch((e: Error) => logger.warn(`auto-remove ${rec.id}: ${e.message}`));
        this.wake(this.stopWaiters, rec.id);
        this.wake(this.removeWaiters, rec.id);
      }
      throw new ContainerError(message, ErrorCode.RUNTIME);
    }
  }

  private startHealth(rec: ContainerRecord): void {
    const hc = resolveHealthcheck(rec.config, (this.imageConfig(rec) as { config?: { Healthcheck?: unknown } }).config ?? {});
    if (hc) this.health.start(rec.id, hc);
  }

  /** Follows a running container's monitor until it ends, then records the exit. */
  private watch(rec: ContainerRecord): void {
    const stateDir = this.stateDir(rec);
    const exited = watchExit(stateDir).then((st) => this.onExit(rec.id, st));
    this.live.set(rec.id, { exited });
  }

  private async onExit(id: string, st: ExitStatus): Promise<void> {
    const { store, layers, logger } = this.deps;
    const rec = store.get(id);
    this.live.delete(id);
    if (!rec) return;
    if (this.closing) return; // the daemon is stopping: the next boot reads the exit file
    this.health.stop(id);
    if (!st.recorded) logger.warn(`container ${id}: monitor ended without an exit status; recording ${st.code}`);
    rec.state = { ...rec.state, status: 'exited', pid: 0, monitorPid: 0, monitorStartTicks: 0, exitCode: st.code, finishedAt: st.finishedAt };
    store.save(rec);
    await layers.unmount(rec.id).catch((err: Error) => logger.warn(`unmount rootfs of ${id}: ${err.message}`));
    // Without a runtime `delete` (see poststopHooks) the empty cgroups are ours to remove.
    if (rec.cgroupPath !== '') await removeCgroup(rec.cgroupPath);
    this.deps.events.publish({ id, opt: 'die', time: new Date(), annotations: { image: rec.image, name: rec.name, exitCode: String(st.code) } });
    this.wake(this.stopWaiters, id);
    if (rec.hostConfig.AutoRemove) {
      // Queued, not awaited: a stop or rm of this container holds its lock while it waits for
      // this exit to be recorded.
      void this.remove(id, true, false).catch((err: Error) => logger.warn(`auto-remove ${id}: ${err.message}`));
      return;
    }
    this.restarts.exited(rec);
  }

  private wake(map: Map<string, Array<() => void>>, id: string): void {
    const list = map.get(id);
    map.delete(id);
    for (const fn of list ?? []) fn();
  }

  private async restartByPolicy(id: string): Promise<void> {
    const rec = this.deps.store.get(id);
    if (!rec || rec.state.manuallyStopped || this.closing) return;
    await this.serialized(id, async () => {
      const cur = this.deps.store.get(id);
      if (!cur || cur.state.status === 'running' || cur.state.manuallyStopped) return;
      cur.state.restartCount++;
      await this.startLocked(cur);
      this.deps.events.publish({ id, opt: 'restart', time: new Date(), annotations: { image: cur.image, name: cur.name } });
    });
  }

  // ---------------------------------------------------------------- stop, kill

  async stop(ref: string, timeoutSeconds: number, force: boolean): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.find(rec0.id);
      this.restarts.cancel(rec.id);
      rec.state.manuallyStopped = true;
      this.deps.store.save(rec);
      if (rec.state.status !== 'running' && rec.state.status !== 'paused') return rec;
      const rt = await this.runtime(rec.runtime);
      const signal = force ? 9 : resolveStopSignal(rec.config, this.imageConfig(rec));
      if (signal !== 9) {
        await this.signal(rec, rt, signal);
        if (await this.waitExited(rec.id, timeoutSeconds < 0 ? 10_000 : timeoutSeconds * 1000)) return rec;
        this.deps.logger.info(`container ${rec.id} did not stop within ${timeoutSeconds}s; killing it`);
      }
      await this.signal(rec, rt, 9);
      if (!(await this.waitExited(rec.id, 30_000))) throw new ContainerError(`Container ${rec.id} did not exit after SIGKILL`, ErrorCode.RUNTIME);
      this.deps.events.publish({ id: rec.id, opt: 'stop', time: new Date(), annotations: { image: rec.image, name: rec.name } });
      return rec;
    });
  }

  private imageConfig(rec: ContainerRecord): object {
    try {
      return JSON.parse(this.deps.images.resolve(rec.imageId).config) as object;
    } catch {
      return {};
    }
  }

  /** Signals the container's processes; a paused container is thawed so the signal lands. */
  private async signal(rec: ContainerRecord, rt: OciRuntime, signal: number): Promise<void> {
    const stateDir = this.stateDir(rec);
    await runVerb(rt, stateDir, ['kill', ...(signal === 9 ? ['--all'] : []), rec.id, String(signal)]).catch((err: Error) => {
      if (/not running|does not exist|container not found/.test(err.message)) return;
      // The process exited meanwhile and its cgroup went with it (runc then fails on freezer.state):
      // the signal has nothing left to reach, which is what the caller wanted.
      if (!processAlive(rec.state.pid)) return;
      throw new ContainerError(err.message, ErrorCode.RUNTIME);
    });
    if (rec.state.status === 'paused') await runVerb(rt, stateDir, ['resume', rec.id]).catch(() => undefined);
  }

  /** Waits until the container's exit has been recorded; false on timeout. */
  private async waitExited(id: string, ms: number): Promise<boolean> {
    const live = this.live.get(id);
    if (!live) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const done = await Promise.race([live.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  async kill(ref: string, signal: number): Promise<ContainerRecord> {
    const rec = this.find(ref);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new ContainerError(`Cannot kill container: Container ${rec.id} is not running`);
    const rt = await this.runtime(rec.runtime);
    if (signal === 9 || signal === 15) {
      rec.state.manuallyStopped = true;
      this.deps.store.save(rec);
    }
    await this.signal(rec, rt, signal === 0 ? 9 : signal);
    this.deps.events.publish({ id: rec.id, opt: 'kill', time: new Date(), annotations: { image: rec.image, name: rec.name, signal: String(signal) } });
    return rec;
  }

  // ---------------------------------------------------------------- remove

  async remove(ref: string, force: boolean, volumes: boolean): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.deps.store.get(rec0.id);
      if (!rec) return rec0;
      const running = rec.state.status === 'running' || rec.state.status === 'paused';
      if (running && !force) throw new ContainerError(`You cannot remove a running container ${rec.id}. Stop the container before attempting removal or use -f`);
      this.restarts.cancel(rec.id);
      if (running) {
        rec.state.manuallyStopped = true;
        const rt = await this.runtime(rec.runtime);
        await this.signal(rec, rt, 9);
        if (!(await this.waitExited(rec.id, 30_000))) throw new ContainerError(`Container ${rec.id} did not exit after SIGKILL`, ErrorCode.RUNTIME);
      }
      rec.state.status = 'removing';
      this.deps.store.save(rec);
      await this.destroy(rec, volumes);
      this.deps.events.publish({ id: rec.id, opt: 'destroy', time: new Date(), annotations: { image: rec.image, name: rec.name } });
      this.wake(this.stopWaiters, rec.id);
      this.wake(this.removeWaiters, rec.id);
      return rec;
    });
  }

  /** Removes everything a container owns; the row goes last, so an interrupted removal is retried at boot. */
  private async destroy(rec: ContainerRecord, removeVolumes: boolean): Promise<void> {
    const { layers, volumes, store } = this.deps;
    await rm(this.stateDir(rec), { recursive: true, force: true });
    if (rec.cgroupPath !== '') await removeCgroup(rec.cgroupPath);
    await layers.removeRwLayer(rec.id);
    await rm(rec.bundle, { recursive: true, force: true });
    await volumes.releaseContainer(rec.id, removeVolumes);
    store.delete(rec.id);
    this.health.forget(rec.id);
    this.removed.set(rec.id, rec.state.exitCode);
    if (this.removed.size > 1000) this.removed.delete(this.removed.keys().next().value!);
  }

  // ---------------------------------------------------------------- pause, resume, rename, wait, restart

  async pause(ref: string): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.find(rec0.id);
      if (rec.state.status === 'paused') throw new ContainerError(`Container ${rec.id} is already paused`);
      if (rec.state.status !== 'running') throw new ContainerError(`Container ${rec.id} is not running`);
      const rt = await this.runtime(rec.runtime);
      await runVerb(rt, this.stateDir(rec), ['pause', rec.id]).catch((err: Error) => {
        throw new ContainerError(`Failed to pause container ${rec.id}: ${err.message}`, ErrorCode.RUNTIME);
      });
      rec.state.status = 'paused';
      this.deps.store.save(rec);
      this.deps.events.publish({ id: rec.id, opt: 'pause', time: new Date(), annotations: { image: rec.image, name: rec.name } });
      return rec;
    });
  }

  async resume(ref: string): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.find(rec0.id);
      if (rec.state.status !== 'paused') throw new ContainerError(`Container ${rec.id} is not paused`);
      const rt = await this.runtime(rec.runtime);
      await runVerb(rt, this.stateDir(rec), ['resume', rec.id]).catch((err: Error) => {
        throw new ContainerError(`Failed to resume container ${rec.id}: ${err.message}`, ErrorCode.RUNTIME);
      });
      rec.state.status = 'running';
      this.deps.store.save(rec);
      this.deps.events.publish({ id: rec.id, opt: 'unpause', time: new Date(), annotations: { image: rec.image, name: rec.name } });
      return rec;
    });
  }

  rename(oldRef: string, newName: string): ContainerRecord {
    const rec = this.find(oldRef);
    const name = newName.startsWith('/') ? newName.slice(1) : newName;
    if (!NAME_PATTERN.test(name)) throw new ContainerError(`Invalid container new name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-]+$ are allowed.`, ErrorCode.INPUT);
    if (name === rec.name) throw new ContainerError(`Renaming a container with the same name as its current name`);
    const other = this.deps.store.byName(name);
    if (other) throw new ContainerError(`Conflict. The name "${name}" is already in use by container ${other.id}. You have to remove (or rename) that container to be able to reuse that name.`);
    const old = rec.name;
    rec.name = name;
    this.deps.store.save(rec);
    this.deps.events.publish({ id: rec.id, opt: 'rename', time: new Date(), annotations: { oldName: old, name } });
    return rec;
  }

  /** Waits for the container to stop (condition 0) or to be removed (condition 1); returns its exit code. */
  async wait(ref: string, condition: number): Promise<number> {
    const gone = this.removed.get(ref);
    if (gone !== undefined) return gone;
    const rec = this.find(ref);
    const map = condition === 1 ? this.removeWaiters : this.stopWaiters;
    const settled = () => {
      const cur = this.deps.store.get(rec.id);
      if (!cur) return true;
      return condition === 0 && !ACTIVE.has(cur.state.status) && !this.locks.has(rec.id);
    };
    while (!settled()) {
      await new Promise<void>((resolve) => {
        const list = map.get(rec.id) ?? [];
        list.push(resolve);
        map.set(rec.id, list);
        // A start that failed or a no-op releases the lock without an exit: look again shortly.
        if (this.locks.has(rec.id)) void this.locks.get(rec.id)!.then(() => setImmediate(() => this.wake(map, rec.id)));
      });
    }
    return this.deps.store.get(rec.id)?.state.exitCode ?? this.removed.get(rec.id) ?? rec.state.exitCode;
  }

  async restart(ref: string, timeoutSeconds: number): Promise<ContainerRecord> {
    const rec = await this.stop(ref, timeoutSeconds, false);
    const restarted = await this.start(rec.id);
    this.deps.events.publish({ id: rec.id, opt: 'restart', time: new Date(), annotations: { image: rec.image, name: rec.name } });
    return restarted;
  }

  async update(ref: string, patch: HostConfig): Promise<ContainerRecord> {
    const rec0 = this.find(ref);
    return this.serialized(rec0.id, async () => {
      const rec = this.find(rec0.id);
      const merged: HostConfig = { ...rec.hostConfig, ...patch };
      const spec = await buildSpec(this.specInput(rec, merged, join(this.deps.config.graph, 'storage', 'overlay', rec.id, 'merged'))).catch((err: unknown) => {
        throw specFailure(err);
      });
      if (rec.state.status === 'running' || rec.state.status === 'paused') {
        const rt = await this.runtime(rec.runtime);
        await runVerb(rt, this.stateDir(rec), ['update', '--resources', '-', rec.id], JSON.stringify(spec.linux?.resources ?? {})).catch((err: Error) => {
          throw new ContainerError(`Cannot update container ${rec.id}: ${err.message}`, ErrorCode.RUNTIME);
        });
      }
      // The next start uses the bundle as is: it must carry the new limits.
      rec.poststopHooks = (spec.hooks?.poststop?.length ?? 0) > 0;
      await writeFile(join(rec.bundle, 'config.json'), JSON.stringify(spec));
      rec.hostConfig = merged;
      this.deps.store.save(rec);
      if (patch.RestartPolicy) this.restarts.cancel(rec.id);
      return rec;
    });
  }

  /** Runs `fn` with the container's rootfs mounted (export, cp); the mount is reference counted. */
  async withRootfs<T>(id: string, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const rootfs = await this.deps.layers.mount(id);
    try {
      return await fn(rootfs);
    } finally {
      await this.deps.layers.unmount(id);
    }
  }

  /** Runs the runtime's `ps` for `top`. */
  async pids(ref: string): Promise<{ rec: ContainerRecord; pids: number[] }> {
    const rec = this.find(ref);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new ContainerError(`Container ${rec.id} is not running`);
    const rt = await this.runtime(rec.runtime);
    const out = await runVerb(rt, this.stateDir(rec), ['ps', '--format', 'json', rec.id]);
    const pids = (JSON.parse(out || '[]') as number[] | null) ?? [];
    return { rec, pids };
  }

  // ---------------------------------------------------------------- restore and shutdown

  /**
   * Boot: finish interrupted creates and removals, re-attach to containers whose monitor still runs,
   * record the exit of those that ended while the daemon was down (the monitor left the real code),
   * then apply `--rm` and restart policies.
   */
  async restore(): Promise<void> {
    const { store, layers, logger } = this.deps;
    const known = new Set<string>();
    for (const rec of store.all()) {
      known.add(rec.id);
      try {
        if (rec.state.creating || rec.state.status === 'removing') {
          logger.info(`cleaning container ${rec.id} left half ${rec.state.creating ? 'created' : 'removed'}`);
          await this.destroy(rec, false);
          continue;
        }
        if (rec.state.status === 'running' || rec.state.status === 'paused' || rec.state.status === 'starting' || rec.state.status === 'restarting') {
          const alive = rec.state.monitorPid > 0 && (await processStartTicks(rec.state.monitorPid)) === rec.state.monitorStartTicks;
          if (alive) {
            this.watch(rec);
            this.startHealth(rec);
            continue;
          }
          const st = await readExit(this.stateDir(rec));
          let code = st?.code;
          if (code === undefined) {
            // The monitor is gone without a status: stop whatever is left, as upstream, with 255.
            const rt = await this.runtime(rec.runtime).catch(() => undefined);
            if (rt) {
              const cur = await runtimeState(rt, this.stateDir(rec), rec.id);
              if (cur) await runVerb(rt, this.stateDir(rec), ['delete', '--force', rec.id]).catch(() => undefined);
            }
            code = 255;
          }
          rec.state = { ...rec.state, status: 'exited', pid: 0, monitorPid: 0, exitCode: code, finishedAt: st?.finishedAt ?? new Date().toISOString() };
          store.save(rec);
          await layers.unmount(rec.id).catch(() => undefined);
          if (rec.cgroupPath !== '') await removeCgroup(rec.cgroupPath);
          this.deps.events.publish({ id: rec.id, opt: 'die', time: new Date(), annotations: { image: rec.image, name: rec.name, exitCode: String(code) } });
          if (rec.hostConfig.AutoRemove) {
            await this.remove(rec.id, true, false);
            continue;
          }
          this.restarts.exited(rec);
          continue;
        }
        if (rec.state.status === 'exited' && rec.hostConfig.AutoRemove) {
          await this.remove(rec.id, true, false);
          continue;
        }
        this.restarts.atBoot(rec);
      } catch (err) {
        logger.error(`restoring container ${rec.id}: ${(err as Error).message}`);
      }
    }
    await this.cleanOrphans(known);
  }

  /** Run directories and bundles no container owns (a crash between steps) are removed. */
  private async cleanOrphans(known: Set<string>): Promise<void> {
    const { config, logger } = this.deps;
    for (const root of [config.state, join(config.graph, 'engines')]) {
      const runtimes = await readdir(root, { withFileTypes: true }).catch(() => []);
      for (const rt of runtimes) {
        if (!rt.isDirectory() || rt.name === 'storage') continue;
        const dir = join(root, rt.name);
        const entries = await readdir(dir).catch(() => []);
        for (const id of entries) {
          if (!/^[0-9a-f]{64}$/.test(id) || known.has(id)) continue;
          logger.info(`removing orphan container directory ${join(dir, id)}`);
          await rm(join(dir, id), { recursive: true, force: true }).catch(() => undefined);
        }
      }
    }
  }

  /** Daemon stop: containers keep running; their rootfs mounts stay. */
  shutdown(): Set<string> {
    this.closing = true;
    this.restarts.close();
    this.health.closeAll();
    const keep = new Set<string>();
    for (const rec of this.deps.store.all()) if (rec.state.status === 'running' || rec.state.status === 'paused') keep.add(rec.id);
    return keep;
  }

  /** The OCI runtime `rec` runs on (exec: container/exec.ts). */
  runtimeFor(rec: ContainerRecord): Promise<OciRuntime> {
    return this.runtime(rec.runtime);
  }
}

interface ImageRunConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
}

function specFailure(err: unknown): ContainerError {
  if (err instanceof ContainerError) return err;
  return new ContainerError(err instanceof Error ? err.message : String(err), ErrorCode.INPUT);
}

/** Docker's convention for a process that could not be started: 127 not found, 126 not executable. */
function exitCodeForStartError(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied/i.test(message)) return 126;
  return 125;
}

/** True while `pid` exists (a zombie counts: its exit has not been collected yet). */
function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
