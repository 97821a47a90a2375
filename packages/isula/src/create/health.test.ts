import { describe, expect, it } from 'vitest';
import { buildHealthCheck } from './health';
import { usageErrorOf } from './test-util';

describe('health check options', () => {
  it('nothing asked → undefined', () => {
    expect(buildHealthCheck({})).toBeUndefined();
  });
  it('full set', () => {
    expect(
      buildHealthCheck({ cmd: 'curl -f localhost', interval: '1m30s', timeout: '10s', startPeriod: '5s', retries: '4', exitOnUnhealthy: true }),
    ).toEqual({
      Test: ['CMD-SHELL', 'curl -f localhost'],
      Interval: 90e9,
      Timeout: 10e9,
      StartPeriod: 5e9,
      Retries: 4,
      ExitOnUnhealthy: true,
    });
  });
  it('--no-healthcheck', () => {
    expect(buildHealthCheck({ noHealthcheck: true })).toEqual({ Test: ['NONE'] });
    expect(usageErrorOf(() => buildHealthCheck({ noHealthcheck: true, cmd: 'true' }))).toBe(
      '--no-healthcheck conflicts with --health-* options',
    );
  });
  it('settings without a command', () => {
    expect(usageErrorOf(() => buildHealthCheck({ interval: '5s' }))).toBe('--health-cmd required!');
  });
  it('bad values', () => {
    expect(usageErrorOf(() => buildHealthCheck({ cmd: 'x', interval: '5' }))).toBe('Invalid value "5" for flag --health-interval');
    expect(usageErrorOf(() => buildHealthCheck({ cmd: 'x', retries: 'many' }))).toBe(
      'Invalid argument - Invalid value "many" for flag --health-retries',
    );
  });
});
