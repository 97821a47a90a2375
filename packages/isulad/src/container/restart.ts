import type { DaemonLogger } from '../log/logger';
import type { ContainerRecord } from './types';

/** First delay before a policy restart; doubles per consecutive quick exit, capped (Docker's rule). */
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** A container that ran this long before exiting starts its backoff over. */
const RESET_AFTER_MS = 10_000;

/** Does the policy want this exited container back? (`no`, `always`, `on-reboot`, `on-failure[:N]`) */
export function shouldRestart(rec: ContainerRecord): boolean {
  if (rec.state.manuallyStopped) return false;
  const policy = rec.hostConfig.RestartPolicy ?? {};
  switch (policy.Name ?? 'no') {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      if (rec.state.exitCode === 0) return false;
      const max = policy.MaximumRetryCount ?? 0;
      return max <= 0 || rec.state.restartCount < max;
    }
    default:
      return false;
  }
}

/**
 * Schedules restarts decided by restart policies, with exponential backoff so a container that dies
 * at once cannot spin the daemon.
 */
export class RestartManager {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly delays = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly restart: (id: string) => Promise<void>,
    private readonly logger: DaemonLogger,
  ) {}

  /** A container exited on its own: restart it later if its policy says so. */
  exited(rec: ContainerRecord): void {
    if (!shouldRestart(rec)) return;
    const ranMs = Date.parse(rec.state.finishedAt) - Date.parse(rec.state.startedAt);
    let delay = this.delays.get(rec.id) ?? BASE_DELAY_MS;
    if (Number.isFinite(ranMs) && ranMs >= RESET_AFTER_MS) delay = BASE_DELAY_MS;
    this.delays.set(rec.id, Math.min(delay * 2, MAX_DELAY_MS));
    this.schedule(rec.id, delay);
  }

  /** Daemon start: `always`/`on-reboot` containers that were not stopped by a user come back. */
  atBoot(rec: ContainerRecord): void {
    const name = rec.hostConfig.RestartPolicy?.Name ?? 'no';
    if (rec.state.manuallyStopped || rec.state.status !== 'exited') return;
    if (name === 'always' || name === 'on-reboot' || name === 'unless-stopped') this.schedule(rec.id, 0);
  }

  private schedule(id: string, delay: number): void {
    if (this.closed) return;
    this.cancel(id, false);
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.restart(id).catch((err: Error) => this.logger.error(`restart policy: starting ${id} failed: ${err.message}`));
    }, delay);
    this.timers.set(id, t);
  }

  cancel(id: string, resetBackoff = true): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    if (resetBackoff) this.delays.delete(id);
  }

  pending(id: string): boolean {
    return this.timers.has(id);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
