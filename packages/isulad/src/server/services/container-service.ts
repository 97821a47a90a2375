import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, parseContainerConfig, parseHostConfig, type ContainerService } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import { fifoAttacher } from '../../container/stdio';
import { readCgroupStats } from '../../container/stats/cgroup-v1';
import { top } from '../../container/top/ps';
import { healthStateForList } from '../../container/health/health';
import { inspectJson, listItem, matchesFilters } from '../../container/views';
import type { DaemonContext } from '../../daemon/context';
import { buildInfo } from '../../system/build-info';
import { maskProxy, proxyEnv } from '../../system/info';
import type { UnaryImpl } from '../grpc-adapter';
import { inBand } from './in-band';

const run = promisify(execFile);

/** containers.ContainerService unary RPCs: wire messages in, the container domain's calls out. */
export function containerService(ctx: DaemonContext, box: Containers): UnaryImpl<typeof ContainerService> {
  return {
    async Version() {
      const b = buildInfo();
      return { version: b.version, gitCommit: b.gitCommit, buildTime: b.buildTime, rootPath: ctx.config.graph, cc: 0, errmsg: '' };
    },
    async Info() {
      const c = ctx.counts.containers();
      const { config, host, env } = ctx;
      return {
        cc: 0,
        errmsg: '',
        version: buildInfo().version,
        containersNum: c.total,
        cRunning: c.running,
        cPaused: c.paused,
        cStopped: c.stopped,
        imagesNum: ctx.counts.images(),
        kversion: host.kernelVersion,
        osType: host.osType,
        architecture: host.architecture,
        nodename: hostname(),
        cpus: host.cpus,
        operatingSystem: host.operatingSystem,
        cgroupDriver: config.systemdCgroup ? 'systemd' : 'cgroupfs',
        loggingDriver: config.containerLog.driver,
        hugePageSize: host.hugePageSize,
        isuladRootDir: config.graph,
        totalMem: host.totalMemGiB,
        httpProxy: maskProxy(proxyEnv(env, 'HTTP_PROXY')),
        httpsProxy: maskProxy(proxyEnv(env, 'HTTPS_PROXY')),
        noProxy: proxyEnv(env, 'NO_PROXY'),
        driverName: config.storageDriver,
        driverStatus: ctx.storageStatus.map(([k, v]) => `${k}: ${v}\n`).join(''),
      };
    },
    Create: (req) =>
      inBand(async () => {
        let hostConfig, config;
        try {
          hostConfig = parseHostConfig(req.hostconfig);
          config = parseContainerConfig(req.customconfig);
        } catch (err) {
          throw new ContainerError((err as Error).message, ErrorCode.INPUT);
        }
        if (req.rootfs !== '') throw new ContainerError('Creating a container from an external rootfs is not supported yet', ErrorCode.INPUT);
        const rec = await box.create({ name: req.id, image: req.image || config.Image || '', runtime: req.runtime, hostConfig, config });
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Start: (req) =>
      inBand(async () => {
        const fifos = { stdin: req.attachStdin ? req.stdin : undefined, stdout: req.attachStdout ? req.stdout : undefined, stderr: req.attachStderr ? req.stderr : undefined };
        for (const p of Object.values(fifos)) if (p !== undefined && p !== '' && !isAbsolute(p)) throw new ContainerError(`Invalid fifo path ${p}`, ErrorCode.INPUT);
        const rec = await box.start(req.id, fifoAttacher({ stdin: fifos.stdin || undefined, stdout: fifos.stdout || undefined, stderr: fifos.stderr || undefined }));
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Stop: (req) =>
      inBand(async () => {
        const rec = await box.stop(req.id, req.timeout, req.force);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Restart: (req) =>
      inBand(async () => {
        const rec = await box.restart(req.id, req.timeout);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Kill: (req) =>
      inBand(async () => {
        if (req.signal > 64) throw new ContainerError(`Invalid signal: ${req.signal}`, ErrorCode.INPUT);
        const rec = await box.kill(req.id, req.signal);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Delete: (req) =>
      inBand(async () => {
        const rec = await box.remove(req.id, req.force, req.volumes);
        return { id: rec.id, exitStatus: rec.state.exitCode, cc: 0, errmsg: '' };
      }),
    Pause: (req) =>
      inBand(async () => {
        const rec = await box.pause(req.id);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Resume: (req) =>
      inBand(async () => {
        const rec = await box.resume(req.id);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Rename: (req) =>
      inBand(async () => {
        const rec = box.rename(req.oldname, req.newname);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Wait: (req) =>
      inBand(async () => {
        const exitCode = await box.wait(req.id, req.condition);
        return { exitCode, cc: 0, errmsg: '' };
      }),
    Inspect: (req) =>
      inBand(async () => {
        let rec;
        try {
          rec = box.find(req.id);
        } catch {
          // The client falls back to image inspect on exactly this text.
          throw new ContainerError(`Inspect invalid name ${req.id}`);
        }
        const json = inspectJson(rec, {
          logPath: rec.log.driver === 'json-file' && !rec.log.disabled ? rec.log.path : '',
          graphDriver: { name: ctx.config.storageDriver, data: overlayData(ctx.config.graph, rec.id) },
          health: box.health.state(rec.id),
        });
        return { ContainerJSON: JSON.stringify(json, null, 4), cc: 0, errmsg: "" };
      }),
    List: (req) =>
      inBand(async () => {
        const filters = req.filters ?? {};
        let list = box.store
          .all()
          .filter((c) => !c.state.creating)
          .filter((c) => req.all || c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting')
          .filter((c) => matchesFilters(c, filters))
          .sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
        const lastN = Number(filters.last_n);
        if (Number.isInteger(lastN) && lastN > 0) list = list.slice(0, lastN);
        return { containers: list.map((c) => listItem(c, healthStateForList(box.health.state(c.id)))), cc: 0, errmsg: '' };
      }),
    Update: (req) =>
      inBand(async () => {
        let patch;
        try {
          patch = parseHostConfig(req.hostconfig);
        } catch (err) {
          throw new ContainerError((err as Error).message, ErrorCode.INPUT);
        }
        const rec = await box.update(req.id, patch);
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
    Top: (req) =>
      inBand(async () => {
        const { pids } = await box.pids(req.id);
        const res = await top(pids, req.args.length > 0 ? req.args : ['-ef']);
        return { titles: Buffer.from(res.titles), processes: res.processes.map((p) => Buffer.from(p)), cc: 0, errmsg: '' };
      }),
    Stats: (req) =>
      inBand(async () => {
        const recs = req.containers.length > 0 ? req.containers.map((r) => box.find(r)) : box.store.all().filter((c) => req.all || c.state.status === 'running' || c.state.status === 'paused');
        const out = [];
        for (const rec of recs) {
          const active = rec.state.status === 'running' || rec.state.status === 'paused';
          const sample = active ? await readCgroupStats(rec.cgroupPath) : {};
          out.push({ ...sample, id: rec.id, name: rec.name, status: rec.state.status });
        }
        return { containers: out, cc: 0, errmsg: '' };
      }),
    Export: (req) =>
      inBand(async () => {
        const rec = box.find(req.id);
        if (!isAbsolute(req.file)) throw new ContainerError(`Invalid output file ${req.file}: the path must be absolute`, ErrorCode.INPUT);
        await box.withRootfs(rec.id, async (rootfs) => {
          await run('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', req.file, '.'], { maxBuffer: 1024 * 1024 });
        });
        return { id: rec.id, cc: 0, errmsg: '' };
      }),
  };
}

function overlayData(graph: string, id: string): Record<string, string> {
  const dir = join(graph, 'storage', 'overlay', id);
  return { MergedDir: join(dir, 'merged'), UpperDir: join(dir, 'diff'), WorkDir: join(dir, 'work') };
}
