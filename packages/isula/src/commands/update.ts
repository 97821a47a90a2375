import { findIsulaCommand } from '@isula/argv';
import { updateContainer } from '@isula/client';
import type { HostConfig } from '@isula/protocol';
import { IsulaCommand, type CommandContext } from '../command-base';
import { invalidArg } from '../create/errors';
import { parseRestartPolicy, restartPolicyError } from '../create/restart';
import { parseMemBytes, parseMemSwapBytes, parseNanoCpus } from '../create/units';
import { int64Flag, str } from '../create/values';
import { UsageError } from '../render/errors';
import { forEachName } from './stop';

/** The `update` options as the HostConfig keys the daemon changes (only those given). */
export function updateHostConfig(values: CommandContext['options']): HostConfig {
  const hc: HostConfig = {};
  const opt = (name: string) => str(values, name);
  const v = (name: string, parse: (flag: string, text: string) => number): number | undefined => {
    const t = opt(name);
    return t === undefined ? undefined : parse(name, t);
  };
  const set = <K extends keyof HostConfig>(key: K, value: HostConfig[K] | undefined) => {
    if (value !== undefined) hc[key] = value;
  };
  set('BlkioWeight', v('blkio-weight', int64Flag));
  set('CPUShares', v('cpu-shares', int64Flag));
  set('CPUPeriod', v('cpu-period', int64Flag));
  set('CPUQuota', v('cpu-quota', int64Flag));
  set('CPURealtimePeriod', v('cpu-rt-period', int64Flag));
  set('CPURealtimeRuntime', v('cpu-rt-runtime', int64Flag));
  set('NanoCpus', v('cpus', parseNanoCpus));
  set('CpusetCpus', opt('cpuset-cpus'));
  set('CpusetMems', opt('cpuset-mems'));
  set('KernelMemory', v('kernel-memory', parseMemBytes));
  set('Memory', v('memory', parseMemBytes));
  set('MemoryReservation', v('memory-reservation', parseMemBytes));
  set('MemorySwap', v('memory-swap', parseMemSwapBytes));
  const restart = opt('restart');
  if (restart !== undefined) {
    const rp = parseRestartPolicy(restart);
    const err = restartPolicyError(rp, false);
    if (err !== undefined) invalidArg(err);
    hc.RestartPolicy = rp;
  }
  return hc;
}

const CONNECTION = new Set(['host', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey', 'debug']);

export default class UpdateCommand extends IsulaCommand {
  static override paths = [['update']];
  static override spec = findIsulaCommand('update')!;

  protected async run(ctx: CommandContext) {
    const hostConfig = updateHostConfig(ctx.options);
    if (ctx.args.length === 0) throw new UsageError('Update requires at least 1 container names', 125);
    if (!Object.keys(ctx.options).some((k) => !CONNECTION.has(k))) {
      throw new UsageError('You must provide one or more udpate flags when using this command\n', 1);
    }
    return forEachName(ctx, ctx.args, (name) => updateContainer(ctx.client(), name, hostConfig));
  }
}
