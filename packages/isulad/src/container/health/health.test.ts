import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  HealthMonitor,
  MAX_OUTPUT_BYTES,
  formatGoDuration,
  healthStateForList,
  resolveHealthcheck,
  truncateOutput,
  type ExecResult,
  type HealthStatus,
  type ResolvedHealthcheck,
} from './health';

const S = 1e9; // one second in nanoseconds

describe('resolveHealthcheck', () => {
  it('applies Docker defaults and builds the shell argv for CMD-SHELL', () => {
    expect(resolveHealthcheck({ Healthcheck: { Test: ['CMD-SHELL', 'curl -f localhost'] } }, undefined)).toEqual({
      test: ['CMD-SHELL', 'curl -f localhost'],
      argv: ['/bin/sh', '-c', 'curl -f localhost'],
      intervalMs: 30_000,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      retries: 3,
      exitOnUnhealthy: false,
    });
  });

  it('runs CMD arguments directly and converts nanoseconds', () => {
    const hc = resolveHealthcheck(
      {
        Healthcheck: {
          Test: ['CMD', 'pg_isready', '-U', 'postgres'],
          Interval: 5 * S,
          Timeout: 1.5 * S,
          StartPeriod: 60 * S,
          Retries: 7,
          ExitOnUnhealthy: true,
        },
      },
      null,
    );
    expect(hc).toMatchObject({
      argv: ['pg_isready', '-U', 'postgres'],
      intervalMs: 5000,
      timeoutMs: 1500,
      startPeriodMs: 60_000,
      retries: 7,
      exitOnUnhealthy: true,
    });
  });

  it('zero or negative values fall back to the defaults', () => {
    const hc = resolveHealthcheck(
      { Healthcheck: { Test: ['CMD', 'true'], Interval: 0, Timeout: -1, StartPeriod: 0, Retries: 0 } },
      undefined,
    );
    expect(hc).toMatchObject({ intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 });
  });

  it('inherits the image check when the container has none', () => {
    const hc = resolveHealthcheck({}, { Healthcheck: { Test: ['CMD-SHELL', 'check'], Interval: 10 * S, Retries: 2 } });
    expect(hc).toMatchObject({ argv: ['/bin/sh', '-c', 'check'], intervalMs: 10_000, retries: 2, timeoutMs: 30_000 });
    expect(resolveHealthcheck(undefined, { Healthcheck: { Test: ['CMD', 'x'] } })?.argv).toEqual(['x']);
  });

  it('an empty Test inherits the image Test; set fields override the image field by field', () => {
    const hc = resolveHealthcheck(
      { Healthcheck: { Test: [], Interval: 2 * S } },
      { Healthcheck: { Test: ['CMD', 'img-check'], Interval: 10 * S, Timeout: 3 * S, StartPeriod: 4 * S, Retries: 5 } },
    );
    expect(hc).toMatchObject({ argv: ['img-check'], intervalMs: 2000, timeoutMs: 3000, startPeriodMs: 4000, retries: 5 });

    const own = resolveHealthcheck(
      { Healthcheck: { Test: ['CMD', 'mine'] } },
      { Healthcheck: { Test: ['CMD', 'img-check'], Timeout: 3 * S } },
    );
    expect(own).toMatchObject({ argv: ['mine'], timeoutMs: 3000 });
  });

  it('NONE disables the check, from the container or the image', () => {
    expect(resolveHealthcheck({ Healthcheck: { Test: ['NONE'] } }, { Healthcheck: { Test: ['CMD', 'x'] } })).toBeUndefined();
    expect(resolveHealthcheck({ Healthcheck: { Test: [] } }, { Healthcheck: { Test: ['NONE'] } })).toBeUndefined();
    expect(resolveHealthcheck({}, { Healthcheck: { Test: ['NONE'] } })).toBeUndefined();
  });

  it('nothing configured or a malformed Test gives undefined', () => {
    expect(resolveHealthcheck({}, {})).toBeUndefined();
    expect(resolveHealthcheck(null, null)).toBeUndefined();
    expect(resolveHealthcheck({}, { Healthcheck: null })).toBeUndefined();
    expect(resolveHealthcheck({ Healthcheck: { Test: [] } }, undefined)).toBeUndefined();
    expect(resolveHealthcheck({ Healthcheck: { Test: ['CMD'] } }, undefined)).toBeUndefined();
    expect(resolveHealthcheck({ Healthcheck: { Test: ['CMD-SHELL'] } }, undefined)).toBeUndefined();
    expect(resolveHealthcheck({ Healthcheck: { Test: ['BOGUS', 'x'] } }, undefined)).toBeUndefined();
    expect(resolveHealthcheck({}, { Healthcheck: 'junk' })).toBeUndefined();
  });
});

describe('helpers', () => {
  it('healthStateForList gives the ps suffix', () => {
    expect(healthStateForList({ Status: 'healthy' })).toBe('(healthy)');
    expect(healthStateForList({ Status: 'unhealthy' })).toBe('(unhealthy)');
    expect(healthStateForList({ Status: 'starting' })).toBe('(health: starting)');
    expect(healthStateForList({ Status: 'none' })).toBe('');
    expect(healthStateForList(undefined)).toBe('');
  });

  it('formatGoDuration matches Go', () => {
    expect(formatGoDuration(30_000)).toBe('30s');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(500)).toBe('500ms');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
    expect(formatGoDuration(0)).toBe('0s');
  });

  it('truncateOutput keeps 4096 bytes on a character boundary and appends ...', () => {
    expect(truncateOutput('short')).toBe('short');
    const long = 'a'.repeat(MAX_OUTPUT_BYTES + 10);
    expect(truncateOutput(long)).toBe('a'.repeat(MAX_OUTPUT_BYTES) + '...');
    const multi = 'a' + 'é'.repeat(MAX_OUTPUT_BYTES); // 'é' is 2 bytes: byte 4096 falls inside one
    const out = truncateOutput(multi);
    expect(out.endsWith('...')).toBe(true);
    expect(out).not.toContain('\uFFFD');
    expect(Buffer.byteLength(out.slice(0, -3))).toBe(MAX_OUTPUT_BYTES - 1);
  });
});

// ---------------------------------------------------------------------------
// HealthMonitor
// ---------------------------------------------------------------------------

interface Call {
  id: string;
  argv: string[];
  timeoutMs: number;
  resolve: (r: ExecResult) => void;
  reject: (e: unknown) => void;
}

/** exec whose probes the test settles by hand (or automatically through `auto`). */
function fakeExec() {
  const calls: Call[] = [];
  let auto: ((n: number) => ExecResult | undefined) | undefined;
  const exec = vi.fn((id: string, argv: string[], timeoutMs: number) => {
    return new Promise<ExecResult>((resolve, reject) => {
      const call = { id, argv, timeoutMs, resolve, reject };
      calls.push(call);
      const r = auto?.(calls.length);
      if (r) resolve(r);
    });
  });
  return {
    exec,
    calls,
    /** Settle every probe at once with what `fn(probeNumber)` returns (undefined: leave it pending). */
    setAuto(fn: (n: number) => ExecResult | undefined) {
      auto = fn;
    },
  };
}

function hc(over: Partial<ResolvedHealthcheck> = {}): ResolvedHealthcheck {
  return {
    test: ['CMD', 'check'],
    argv: ['check'],
    intervalMs: 1000,
    timeoutMs: 500,
    startPeriodMs: 0,
    retries: 3,
    exitOnUnhealthy: false,
    ...over,
  };
}

const ok: ExecResult = { exitCode: 0, output: 'ok\n' };
const fail: ExecResult = { exitCode: 1, output: 'bad\n' };

describe('HealthMonitor', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(extra: { onUnhealthyExit?: (id: string) => void } = {}) {
    const fe = fakeExec();
    const statuses: Array<[string, HealthStatus]> = [];
    const mon = new HealthMonitor({
      exec: fe.exec,
      onStatus: (id, s) => statuses.push([id, s]),
      onUnhealthyExit: extra.onUnhealthyExit,
    });
    return { fe, mon, statuses };
  }

  it('starts in starting and runs the first probe only after one interval', async () => {
    const { fe, mon, statuses } = setup();
    fe.setAuto(() => ok);
    mon.start('c1', hc());
    expect(mon.state('c1')).toEqual({ Status: 'starting', FailingStreak: 0, Log: [] });
    expect(statuses).toEqual([['c1', 'starting']]);
    await vi.advanceTimersByTimeAsync(999);
    expect(fe.exec).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fe.exec).toHaveBeenCalledTimes(1);
    expect(fe.exec).toHaveBeenCalledWith('c1', ['check'], 500);
    const st = mon.state('c1')!;
    expect(st.Status).toBe('healthy');
    expect(st.Log).toEqual([
      { Start: '2024-01-01T00:00:01.000Z', End: '2024-01-01T00:00:01.000Z', ExitCode: 0, Output: 'ok\n' },
    ]);
    expect(statuses).toEqual([
      ['c1', 'starting'],
      ['c1', 'healthy'],
    ]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(fe.exec).toHaveBeenCalledTimes(4);
    expect(statuses).toHaveLength(2); // no event without a change
    mon.closeAll();
  });

  it('becomes unhealthy after `retries` consecutive failures, and healthy again on success', async () => {
    const { fe, mon, statuses } = setup();
    fe.setAuto((n) => (n <= 4 ? fail : ok));
    mon.start('c1', hc({ retries: 3 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(mon.state('c1')).toMatchObject({ Status: 'starting', FailingStreak: 2 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')).toMatchObject({ Status: 'unhealthy', FailingStreak: 3 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')).toMatchObject({ Status: 'unhealthy', FailingStreak: 4 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')).toMatchObject({ Status: 'healthy', FailingStreak: 0 });
    expect(statuses.map(([, s]) => s)).toEqual(['starting', 'unhealthy', 'healthy']);
    mon.closeAll();
  });

  it('a success resets the streak before it reaches retries', async () => {
    const { fe, mon } = setup();
    const seq = [fail, fail, ok, fail, fail];
    fe.setAuto((n) => seq[n - 1] ?? ok);
    mon.start('c1', hc({ retries: 3 }));
    await vi.advanceTimersByTimeAsync(5000);
    expect(mon.state('c1')).toMatchObject({ Status: 'healthy', FailingStreak: 2 });
    mon.closeAll();
  });

  it('failures inside the start period do not count while starting', async () => {
    const { fe, mon } = setup();
    fe.setAuto(() => fail);
    mon.start('c1', hc({ startPeriodMs: 3500, retries: 1 }));
    await vi.advanceTimersByTimeAsync(3000); // probes at 1s, 2s, 3s: inside the start period
    expect(fe.exec).toHaveBeenCalledTimes(3);
    const st = mon.state('c1')!;
    expect(st).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(st.Log).toHaveLength(3); // still logged
    await vi.advanceTimersByTimeAsync(1000); // probe at 4s: past the start period
    expect(mon.state('c1')).toMatchObject({ Status: 'unhealthy', FailingStreak: 1 });
    mon.closeAll();
  });

  it('once healthy, failures count even inside the start period', async () => {
    const { fe, mon } = setup();
    fe.setAuto((n) => (n === 1 ? ok : fail));
    mon.start('c1', hc({ startPeriodMs: 60_000, retries: 2 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')!.Status).toBe('healthy');
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')).toMatchObject({ Status: 'healthy', FailingStreak: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(mon.state('c1')).toMatchObject({ Status: 'unhealthy', FailingStreak: 2 });
    mon.closeAll();
  });

  it('a probe that exceeds the timeout is a failure with exit code -1', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc({ timeoutMs: 2000, intervalMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fe.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(mon.state('c1')!.Log).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const st = mon.state('c1')!;
    expect(st.FailingStreak).toBe(1);
    expect(st.Log).toEqual([
      {
        Start: '2024-01-01T00:00:01.000Z',
        End: '2024-01-01T00:00:03.000Z',
        ExitCode: -1,
        Output: 'Health check exceeded timeout (2s)',
      },
    ]);
    // The late result of the timed-out exec is ignored.
    fe.calls[0]!.resolve(ok);
    await vi.advanceTimersByTimeAsync(0);
    expect(mon.state('c1')!.Log).toHaveLength(1);
    expect(mon.state('c1')!.Status).toBe('starting');
    mon.closeAll();
  });

  it('an exec that returns at the deadline (killed by the caller) still counts as a timeout', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc({ timeoutMs: 1500 }));
    await vi.advanceTimersByTimeAsync(1000);
    vi.setSystemTime(Date.now() + 1500); // clock moves, our timer has not fired yet
    fe.calls[0]!.resolve({ exitCode: 137, output: '' });
    await vi.advanceTimersByTimeAsync(0);
    expect(mon.state('c1')!.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (1.5s)' });
    mon.closeAll();
  });

  it('exec errors are failures with the error message', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc());
    await vi.advanceTimersByTimeAsync(1000);
    fe.calls[0]!.reject(new Error('runc exec: container not running'));
    await vi.advanceTimersByTimeAsync(0);
    expect(mon.state('c1')!.Log[0]).toMatchObject({ ExitCode: -1, Output: 'runc exec: container not running' });
    expect(mon.state('c1')!.FailingStreak).toBe(1);
    mon.closeAll();
  });

  it('never overlaps probes: the next is due an interval after the previous finished', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc({ intervalMs: 1000, timeoutMs: 10_000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fe.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5000); // slow probe, well past one interval
    expect(fe.calls).toHaveLength(1);
    fe.calls[0]!.resolve(ok); // finishes at t=6s
    await vi.advanceTimersByTimeAsync(999);
    expect(fe.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fe.calls).toHaveLength(2); // t=7s
    mon.closeAll();
  });

  it('skips rounds while a timed-out exec has not settled yet', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc({ intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(1000); // probe 1 at 1s, ignores its timeout
    await vi.advanceTimersByTimeAsync(500); // timed out at 1.5s
    await vi.advanceTimersByTimeAsync(3000); // rounds at 2.5s, 3.5s, 4.5s are skipped
    expect(fe.calls).toHaveLength(1);
    expect(mon.state('c1')!.Log).toHaveLength(1);
    fe.calls[0]!.resolve(ok); // finally exits at 4.5s
    await vi.advanceTimersByTimeAsync(1000); // next round at 5.5s runs
    expect(fe.calls).toHaveLength(2);
    mon.closeAll();
  });

  it('stop during an in-flight probe cancels it and ignores its result', async () => {
    const { fe, mon, statuses } = setup();
    mon.start('c1', hc());
    await vi.advanceTimersByTimeAsync(1000);
    expect(fe.calls).toHaveLength(1);
    mon.stop('c1');
    expect(mon.isMonitoring('c1')).toBe(false);
    fe.calls[0]!.resolve(ok);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fe.calls).toHaveLength(1);
    // Docker/iSulad mark a stopped monitor unhealthy; the ignored result is not logged.
    expect(mon.state('c1')).toEqual({ Status: 'unhealthy', FailingStreak: 0, Log: [] });
    expect(statuses).toEqual([['c1', 'starting']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop before the first probe clears the timer; forget drops the state', async () => {
    const { fe, mon } = setup();
    mon.start('c1', hc());
    mon.stop('c1');
    await vi.advanceTimersByTimeAsync(5000);
    expect(fe.exec).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    mon.forget('c1');
    expect(mon.state('c1')).toBeUndefined();
    mon.stop('unknown'); // harmless
    expect(mon.state('unknown')).toBeUndefined();
  });

  it('keeps only the last 5 results and truncates output', async () => {
    const { fe, mon } = setup();
    const big = 'x'.repeat(5000);
    fe.setAuto((n) => ({ exitCode: 0, output: n === 7 ? big : `run ${n}` }));
    mon.start('c1', hc());
    await vi.advanceTimersByTimeAsync(7000);
    const log = mon.state('c1')!.Log;
    expect(log).toHaveLength(5);
    expect(log.slice(0, 4).map((e) => e.Output)).toEqual(['run 3', 'run 4', 'run 5', 'run 6']);
    expect(log[4]!.Output).toBe('x'.repeat(4096) + '...');
    mon.closeAll();
  });

  it('ExitOnUnhealthy calls onUnhealthyExit once and probes no more', async () => {
    const onUnhealthyExit = vi.fn();
    const { fe, mon } = setup({ onUnhealthyExit });
    fe.setAuto(() => fail);
    mon.start('c1', hc({ retries: 2, exitOnUnhealthy: true }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(onUnhealthyExit).toHaveBeenCalledTimes(1);
    expect(onUnhealthyExit).toHaveBeenCalledWith('c1');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fe.exec).toHaveBeenCalledTimes(2);
    expect(mon.state('c1')!.Status).toBe('unhealthy');
    mon.stop('c1'); // the caller's exit handling
    expect(mon.state('c1')!.Status).toBe('unhealthy');
  });

  it('without ExitOnUnhealthy the callback is not called', async () => {
    const onUnhealthyExit = vi.fn();
    const { fe, mon } = setup({ onUnhealthyExit });
    fe.setAuto(() => fail);
    mon.start('c1', hc({ retries: 1 }));
    await vi.advanceTimersByTimeAsync(3000);
    expect(mon.state('c1')!.Status).toBe('unhealthy');
    expect(onUnhealthyExit).not.toHaveBeenCalled();
    mon.closeAll();
  });

  it('a restart resets status and streak but keeps the log', async () => {
    const { fe, mon } = setup();
    fe.setAuto(() => fail);
    mon.start('c1', hc({ retries: 1 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(mon.state('c1')).toMatchObject({ Status: 'unhealthy', FailingStreak: 2 });
    mon.stop('c1');
    mon.start('c1', hc({ retries: 1 }));
    expect(mon.state('c1')).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(mon.state('c1')!.Log).toHaveLength(2);
    mon.closeAll();
  });

  it('monitors containers independently and state() returns a copy', async () => {
    const { fe, mon } = setup();
    fe.setAuto(() => undefined);
    mon.start('a', hc({ intervalMs: 1000 }));
    mon.start('b', hc({ intervalMs: 3000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fe.calls.map((c) => c.id)).toEqual(['a']);
    fe.calls[0]!.resolve(ok);
    await vi.advanceTimersByTimeAsync(2000);
    expect(fe.calls.map((c) => c.id)).toEqual(['a', 'a', 'b']);
    const copy = mon.state('a')!;
    copy.Status = 'none';
    copy.Log.length = 0;
    expect(mon.state('a')!.Status).toBe('healthy');
    expect(mon.state('a')!.Log).toHaveLength(2); // ok at 1s, timeout of the 2s probe
    mon.closeAll();
  });

  it('closeAll stops every monitor and later starts are ignored', async () => {
    const { fe, mon } = setup();
    mon.start('a', hc());
    mon.start('b', hc());
    mon.closeAll();
    expect(vi.getTimerCount()).toBe(0);
    mon.start('c', hc());
    expect(mon.state('c')).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fe.exec).not.toHaveBeenCalled();
  });

  it('uses injected timers and clock', async () => {
    let t = 1_700_000_000_000;
    const pending: Array<{ fn: () => void; at: number; live: boolean }> = [];
    const timers = {
      setTimeout: (fn: () => void, ms: number) => {
        const h = { fn, at: t + ms, live: true };
        pending.push(h);
        return h;
      },
      clearTimeout: (h: unknown) => {
        (h as { live: boolean }).live = false;
      },
    };
    const exec = vi.fn(async () => ok);
    const mon = new HealthMonitor({ exec, now: () => t, timers });
    mon.start('c1', hc());
    expect(pending).toHaveLength(1);
    t += 1000;
    pending[0]!.live = false;
    pending[0]!.fn();
    await Promise.resolve();
    await Promise.resolve();
    await Promise.resolve();
    expect(exec).toHaveBeenCalledTimes(1);
    expect(mon.state('c1')!.Log[0]!.Start).toBe(new Date(t).toISOString());
    expect(mon.state('c1')!.Status).toBe('healthy');
    // Left: the next interval; the probe's timeout timer was cleared when exec returned.
    expect(pending.filter((p) => p.live)).toHaveLength(1);
    mon.closeAll();
    expect(pending.filter((p) => p.live)).toHaveLength(0);
  });
});
