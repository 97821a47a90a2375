import type { HealthCheck } from '@isula/protocol';
import { invalidArg } from './errors';
import { parseDurationFlag } from './units';
import { int32Flag } from './values';

export interface HealthOptions {
  cmd?: string;
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  retries?: string;
  exitOnUnhealthy?: boolean;
  noHealthcheck?: boolean;
}

/**
 * `--health-*` / `--no-healthcheck` → `Healthcheck` (undefined when nothing was asked).
 * `--no-healthcheck` gives `{Test:["NONE"]}` and conflicts with any `--health-*` setting;
 * other settings need `--health-cmd`, which becomes `["CMD-SHELL", cmd]`. Durations are nanoseconds.
 */
export function buildHealthCheck(o: HealthOptions): HealthCheck | undefined {
  const interval = o.interval === undefined ? 0 : parseDurationFlag('health-interval', o.interval);
  const timeout = o.timeout === undefined ? 0 : parseDurationFlag('health-timeout', o.timeout);
  const startPeriod = o.startPeriod === undefined ? 0 : parseDurationFlag('health-start-period', o.startPeriod);
  const retries = o.retries === undefined ? 0 : int32Flag('health-retries', o.retries);
  const hasCmd = o.cmd !== undefined && o.cmd !== '';
  const haveSettings = hasCmd || interval !== 0 || timeout !== 0 || startPeriod !== 0 || retries !== 0;
  if (o.noHealthcheck) {
    if (haveSettings) return invalidArg('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!haveSettings) return undefined;
  if (!hasCmd) return invalidArg('--health-cmd required!');
  return {
    Test: ['CMD-SHELL', o.cmd!],
    Interval: interval,
    Timeout: timeout,
    StartPeriod: startPeriod,
    Retries: retries,
    ExitOnUnhealthy: o.exitOnUnhealthy === true,
  };
}
