/*
 * Container health checks (Docker / iSulad `HEALTHCHECK` semantics).
 *
 * Wiring, done by the container domain (this module owns no container state and spawns nothing):
 *  - at create/start: `resolveHealthcheck(rec.config, image.config)`; if it gives a value, call
 *    `monitor.start(id, hc)` once the container is running (also for containers found running at boot);
 *  - when the container exits (or is killed/stopped), call `monitor.stop(id)`; on removal `forget(id)`;
 *  - `exec(id, argv, timeoutMs)` is the caller's: it runs argv inside the container with `runc exec`
 *    (a plain child of the daemon, so no shim/monitor is involved), collects stdout+stderr, and should
 *    kill the process when timeoutMs elapses (the monitor also times out on its own, and never starts
 *    a second probe of one container while the first has not settled);
 *  - `state(id)` is what `isula inspect` shows under State.Health; `healthStateForList` feeds `ps`;
 *  - `onUnhealthyExit(id)` means ExitOnUnhealthy fired: the caller kills the container.
 */
import type { ContainerConfig, HealthCheck } from '@isula/protocol';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One probe result, as Docker/iSulad keep it in `State.Health.Log`. */
export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** `State.Health` of `isula inspect`. */
export interface HealthState {
  Status: HealthStatus | 'none';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** A health check after image inheritance and defaults; durations in milliseconds. */
export interface ResolvedHealthcheck {
  /** The merged `Test` as configured (`["CMD", ...]` or `["CMD-SHELL", ...]`). */
  test: string[];
  /** What to run in the container. */
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
  exitOnUnhealthy: boolean;
}

/** Docker defaults. */
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_START_PERIOD_MS = 0;
export const DEFAULT_RETRIES = 3;
/** Docker keeps this many results and this many bytes of each output. */
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Loosely typed image config (`config` of the OCI/Docker image config JSON). */
export interface ImageConfigLike {
  Healthcheck?: unknown;
}

function asHealthCheck(value: unknown): HealthCheck | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const out: HealthCheck = {};
  if (Array.isArray(v.Test)) out.Test = v.Test.filter((s): s is string => typeof s === 'string');
  out.Interval = num(v.Interval);
  out.Timeout = num(v.Timeout);
  out.StartPeriod = num(v.StartPeriod);
  out.Retries = num(v.Retries);
  if (typeof v.ExitOnUnhealthy === 'boolean') out.ExitOnUnhealthy = v.ExitOnUnhealthy;
  return out;
}

/** Nanoseconds → milliseconds; zero, negative or missing means "use the default" (Docker). */
function nsToMs(ns: number | undefined, fallback: number): number {
  if (ns === undefined || !Number.isFinite(ns) || ns <= 0) return fallback;
  return Math.max(1, Math.round(ns / 1e6));
}

function positive(n: number | undefined): n is number {
  return n !== undefined && Number.isFinite(n) && n > 0;
}

/**
 * Merge the container's health check with the image's (Docker's `merge`: the container wins field by
 * field, an empty Test inherits the image's) and apply the defaults. Undefined when no check applies:
 * none configured, `["NONE"]`, or a malformed Test (unknown type, no command).
 */
export function resolveHealthcheck(
  config: Pick<ContainerConfig, 'Healthcheck'> | null | undefined,
  imageConfig: ImageConfigLike | null | undefined,
): ResolvedHealthcheck | undefined {
  const user = asHealthCheck(config?.Healthcheck);
  const image = asHealthCheck(imageConfig?.Healthcheck);
  let hc: HealthCheck | undefined;
  if (!user) hc = image;
  else if (!image) hc = user;
  else {
    hc = {
      Test: user.Test && user.Test.length > 0 ? user.Test : image.Test,
      Interval: positive(user.Interval) ? user.Interval : image.Interval,
      Timeout: positive(user.Timeout) ? user.Timeout : image.Timeout,
      StartPeriod: positive(user.StartPeriod) ? user.StartPeriod : image.StartPeriod,
      Retries: positive(user.Retries) ? user.Retries : image.Retries,
      ExitOnUnhealthy: user.ExitOnUnhealthy ?? image.ExitOnUnhealthy,
    };
  }
  const test = hc?.Test;
  if (!hc || !test || test.length === 0) return undefined;
  let argv: string[];
  switch (test[0]) {
    case 'CMD':
      argv = test.slice(1);
      break;
    case 'CMD-SHELL':
      argv = test.length > 1 ? [...DEFAULT_SHELL, ...test.slice(1)] : [];
      break;
    default: // "NONE" and unknown types
      return undefined;
  }
  if (argv.length === 0 || argv[0] === '') return undefined;
  return {
    test: [...test],
    argv,
    intervalMs: nsToMs(hc.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: nsToMs(hc.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: nsToMs(hc.StartPeriod, DEFAULT_START_PERIOD_MS),
    retries: positive(hc.Retries) ? Math.floor(hc.Retries) : DEFAULT_RETRIES,
    exitOnUnhealthy: hc.ExitOnUnhealthy === true,
  };
}

/** The text `ps` appends to "Up ..." (`(healthy)`, `(unhealthy)`, `(health: starting)`); '' for none. */
export function healthStateForList(state: Pick<HealthState, 'Status'> | null | undefined): string {
  switch (state?.Status) {
    case 'starting':
      return '(health: starting)';
    case 'healthy':
      return '(healthy)';
    case 'unhealthy':
      return '(unhealthy)';
    default:
      return '';
  }
}

/** Go's `time.Duration.String()` for whole milliseconds ("30s", "1m30s", "1.5s", "500ms"). */
export function formatGoDuration(ms: number): string {
  ms = Math.max(0, Math.round(ms));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const restMs = ms % 60_000;
  let s = String(Math.floor(restMs / 1000));
  const frac = restMs % 1000;
  if (frac) s += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** Keep the first MAX_OUTPUT_BYTES bytes (on a UTF-8 boundary) and mark the cut with "..." as Docker. */
export function truncateOutput(output: string): string {
  const buf = Buffer.from(output, 'utf8');
  if (buf.length <= MAX_OUTPUT_BYTES) return output;
  let end = MAX_OUTPUT_BYTES;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // don't split a multi-byte character
  return buf.subarray(0, end).toString('utf8') + '...';
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

export interface HealthTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HealthMonitorOptions {
  /** Run argv in the container (the caller uses `runc exec`); should give up after timeoutMs. */
  exec: (id: string, argv: string[], timeoutMs: number) => Promise<ExecResult>;
  /** Called when a container's status changes (including the initial 'starting'). */
  onStatus?: (id: string, status: HealthStatus) => void;
  /** ExitOnUnhealthy fired: the caller kills the container (and then calls `stop`). */
  onUnhealthyExit?: (id: string) => void;
  /** Milliseconds since the epoch; defaults to Date.now. */
  now?: () => number;
  /** Defaults to the global setTimeout/clearTimeout (handles are unref'd when possible). */
  timers?: HealthTimers;
}

interface Monitor {
  id: string;
  hc: ResolvedHealthcheck;
  startedAt: number;
  timer?: unknown;
  stopped: boolean;
}

const defaultTimers: HealthTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/**
 * Runs the periodic probes of running containers and keeps their `State.Health`. One probe at a time
 * per container; the next one is due `interval` after the previous one finished.
 */
export class HealthMonitor {
  private readonly exec: HealthMonitorOptions['exec'];
  private readonly onStatus?: HealthMonitorOptions['onStatus'];
  private readonly onUnhealthyExit?: HealthMonitorOptions['onUnhealthyExit'];
  private readonly now: () => number;
  private readonly timers: HealthTimers;
  private readonly monitors = new Map<string, Monitor>();
  private readonly states = new Map<string, HealthState>();
  /** Container id → its unsettled exec (across monitor generations, so a restart can't overlap either). */
  private readonly inflight = new Map<string, object>();
  private closed = false;

  constructor(opts: HealthMonitorOptions) {
    this.exec = opts.exec;
    this.onStatus = opts.onStatus;
    this.onUnhealthyExit = opts.onUnhealthyExit;
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? defaultTimers;
  }

  /**
   * Start (or restart) monitoring a running container: status 'starting', streak 0; the log of an
   * earlier run is kept (Docker). The first probe runs after one interval.
   */
  start(id: string, hc: ResolvedHealthcheck): void {
    if (this.closed) return;
    this.cancel(id);
    const prev = this.states.get(id);
    this.states.set(id, { Status: 'starting', FailingStreak: 0, Log: prev ? prev.Log : [] });
    const mon: Monitor = { id, hc, startedAt: this.now(), stopped: false };
    this.monitors.set(id, mon);
    this.emitStatus(id, 'starting');
    this.schedule(mon, hc.intervalMs);
  }

  /**
   * The container stopped: cancel timers, ignore any probe still running. The state stays readable
   * with Status 'unhealthy' (Docker/iSulad set it so when the monitor stops).
   */
  stop(id: string): void {
    if (!this.cancel(id)) return;
    const st = this.states.get(id);
    if (st) st.Status = 'unhealthy';
  }

  /** Drop everything kept for a container (it was removed). */
  forget(id: string): void {
    this.cancel(id);
    this.states.delete(id);
  }

  /** A copy of the container's `State.Health`, or undefined when it never had a monitor. */
  state(id: string): HealthState | undefined {
    const st = this.states.get(id);
    if (!st) return undefined;
    return { Status: st.Status, FailingStreak: st.FailingStreak, Log: st.Log.map((e) => ({ ...e })) };
  }

  /** Is a monitor running for this container? */
  isMonitoring(id: string): boolean {
    return this.monitors.has(id);
  }

  /** Daemon shutdown: stop every monitor; later `start` calls are ignored. */
  closeAll(): void {
    this.closed = true;
    for (const id of [...this.monitors.keys()]) this.stop(id);
  }

  private cancel(id: string): boolean {
    const mon = this.monitors.get(id);
    if (!mon) return false;
    mon.stopped = true;
    if (mon.timer !== undefined) this.timers.clearTimeout(mon.timer);
    mon.timer = undefined;
    this.monitors.delete(id);
    return true;
  }

  private schedule(mon: Monitor, ms: number): void {
    if (mon.stopped) return;
    mon.timer = this.timers.setTimeout(() => {
      mon.timer = undefined;
      this.probe(mon);
    }, ms);
  }

  private probe(mon: Monitor): void {
    if (mon.stopped) return;
    const { id, hc } = mon;
    // An earlier exec ignored its timeout and is still running: skip this round rather than overlap.
    if (this.inflight.has(id)) {
      this.schedule(mon, hc.intervalMs);
      return;
    }
    const token = {};
    this.inflight.set(id, token);
    const start = this.now();
    let done = false;
    const timeoutOutput = `Health check exceeded timeout (${formatGoDuration(hc.timeoutMs)})`;
    const finish = (exitCode: number, output: string): void => {
      if (done) return;
      done = true;
      if (timeoutTimer !== undefined) this.timers.clearTimeout(timeoutTimer);
      if (mon.stopped) return;
      this.record(mon, start, {
        Start: iso(start),
        End: iso(this.now()),
        ExitCode: exitCode,
        Output: truncateOutput(output),
      });
    };
    const timeoutTimer: unknown = this.timers.setTimeout(() => finish(-1, timeoutOutput), hc.timeoutMs);
    let pending: Promise<ExecResult>;
    try {
      pending = Promise.resolve(this.exec(id, [...hc.argv], hc.timeoutMs));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(
        (r) => {
          // The caller's own kill at the deadline may beat our timer: it is still a timeout.
          if (this.now() - start >= hc.timeoutMs) finish(-1, timeoutOutput);
          else finish(Number.isInteger(r?.exitCode) ? r.exitCode : -1, typeof r?.output === 'string' ? r.output : '');
        },
        (err: unknown) => finish(-1, err instanceof Error ? err.message : String(err)),
      )
      .finally(() => {
        if (this.inflight.get(id) === token) this.inflight.delete(id);
      });
  }

  /** Docker's handleProbeResult. */
  private record(mon: Monitor, startMs: number, entry: HealthLogEntry): void {
    const st = this.states.get(mon.id);
    if (!st) return;
    st.Log.push(entry);
    if (st.Log.length > MAX_LOG_ENTRIES) st.Log.splice(0, st.Log.length - MAX_LOG_ENTRIES);
    const old = st.Status;
    if (entry.ExitCode === 0) {
      st.FailingStreak = 0;
      st.Status = 'healthy';
    } else {
      // While still starting, failures inside the start period don't count.
      const inStartPeriod = st.Status === 'starting' && startMs - mon.startedAt < mon.hc.startPeriodMs;
      if (!inStartPeriod) {
        st.FailingStreak++;
        if (st.FailingStreak >= mon.hc.retries) st.Status = 'unhealthy';
      }
    }
    if (st.Status !== old) {
      this.emitStatus(mon.id, st.Status as HealthStatus);
      if (st.Status === 'unhealthy' && mon.hc.exitOnUnhealthy) {
        // The container is about to be killed: probe no more; the caller's exit handling calls stop().
        mon.stopped = true;
        this.monitors.delete(mon.id);
        this.safely(() => this.onUnhealthyExit?.(mon.id));
        return;
      }
    }
    this.schedule(mon, mon.hc.intervalMs);
  }

  private emitStatus(id: string, status: HealthStatus): void {
    this.safely(() => this.onStatus?.(id, status));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // A misbehaving callback must not stop the probe loop.
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
