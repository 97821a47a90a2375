import { hostname } from 'node:os';
import type { ContainerService } from '@isula/protocol';
import type { DaemonContext } from '../../daemon/context';
import { buildInfo } from '../../system/build-info';
import { maskProxy, proxyEnv } from '../../system/info';
import type { UnaryImpl } from '../grpc-adapter';


/** containers.ContainerService: the system RPCs for now; container lifecycle arrives with its domain. */
export function containerService(ctx: DaemonContext): UnaryImpl<typeof ContainerService> {
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
  };
}
