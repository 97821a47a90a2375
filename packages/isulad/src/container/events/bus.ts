/**
 * In-memory bus of container (and image) events, the daemon side of the Events RPC.
 *
 * Upstream (src/daemon/modules/events/collector.c) keeps the last 64 events and, for a subscriber:
 *   - replays the stored events only when `since` or `until` is given: those with since <= time <= until,
 *     oldest first;
 *   - then forwards live events (time >= since) until the client goes away or the clock passes `until`;
 *   - filters on the container by an anchored match of the request's `id` against the event's id;
 *   - refuses since > until with "'since' time cannot be after 'until' time".
 * This bus does the same, with a larger ring (default 1000) and `storeOnly` (the request field: replay,
 * no live events). A slow subscriber never makes memory grow: its queue is capped (default 1024) and the
 * oldest undelivered events are dropped and counted (`EventSubscription.dropped`).
 *
 * `opt` is the bare action as published by the daemon ("create", "start", "die", "exec_create: sh -c ls",
 * …). On the wire upstream sends "container <action>" / "image <action>": `toWireEvent` adds the prefix.
 */

/**
 * Container event names: upstream's (collector.c g_isulad_event_strtype, where rename is misspelt "reanme";
 * we use Docker's "rename") plus Docker's "destroy". The bus accepts any string.
 */
export const CONTAINER_EVENT_OPTS = [
  'exit', 'die', 'starting', 'running', 'stopping', 'aborting', 'freezing', 'frozen',
  'thawed', 'oom', 'create', 'start', 'restart', 'stop', 'exec_create', 'exec_start',
  'exec_die', 'attach', 'kill', 'top', 'rename', 'archive-path', 'extract-to-dir', 'update',
  'pause', 'unpause', 'export', 'resize', 'paused1', 'destroy',
] as const;

/** Upstream's image event names (`opt` "image <name>" on the wire). */
export const IMAGE_EVENT_OPTS = ['load', 'remove', 'pull', 'login', 'logout'] as const;

export interface PublishEvent {
  /** Container id (64 hex), or the image name for image events. */
  id: string;
  /** Action: 'create', 'start', 'die', …, optionally "action: args". */
  opt: string;
  /** Defaults to now. */
  time?: Date;
  /** Upstream order: pid, exitCode, image, name, labels…, extra. Insertion order is kept. */
  annotations?: Record<string, string>;
  /** 'container' (default) or 'image'. */
  type?: 'container' | 'image';
}

export interface BusEvent {
  /** Publication order, strictly increasing. */
  seq: number;
  id: string;
  opt: string;
  type: 'container' | 'image';
  time: Date;
  annotations: Record<string, string>;
}

export interface SubscribeFilter {
  since?: Date;
  until?: Date;
  /** Only events of this id (exact match; the caller resolves a name or short id first). */
  id?: string;
  /** Replay the stored events only, no live events (EventsRequest.storeOnly). */
  storeOnly?: boolean;
}

/** The Events wire message (`containers.Event`), structurally: timestamp as seconds/nanos. */
export interface WireEvent {
  timestamp: { seconds: bigint; nanos: number };
  opt: string;
  id: string;
  annotations: { [key: string]: string };
}

export class EventsError extends Error {
  override name = 'EventsError';
}

export interface EventSubscription extends AsyncIterable<BusEvent> {
  /** Live events dropped for this subscriber because it did not keep up. */
  readonly dropped: number;
}

export interface EventBusOptions {
  /** Events kept for replay (default 1000; upstream keeps 64). */
  historySize?: number;
  /** Undelivered live events kept per subscriber before the oldest are dropped (default 1024). */
  subscriberQueueSize?: number;
}

/** Fixed-capacity FIFO; pushing onto a full ring drops the oldest element. */
export class Ring<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be >= 1, got ${capacity}`);
    this.buf = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.len;
  }

  /** Returns true when an element had to be dropped. */
  push(v: T): boolean {
    const tail = (this.head + this.len) % this.capacity;
    this.buf[tail] = v;
    if (this.len < this.capacity) {
      this.len++;
      return false;
    }
    this.head = (this.head + 1) % this.capacity;
    return true;
  }

  shift(): T | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.len--;
    return v;
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.buf[(this.head + i) % this.capacity] as T);
    return out;
  }
}

interface Subscriber {
  filter: SubscribeFilter;
  queue: Ring<BusEvent>;
  dropped: number;
  wake: (() => void) | undefined;
}

const matches = (f: SubscribeFilter, ev: BusEvent): boolean =>
  (f.id === undefined || f.id === '' || f.id === ev.id) &&
  (f.since === undefined || ev.time.getTime() >= f.since.getTime()) &&
  (f.until === undefined || ev.time.getTime() <= f.until.getTime());

/** setTimeout takes at most 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class EventBus {
  private readonly history: Ring<BusEvent>;
  private readonly queueSize: number;
  private readonly subscribers = new Set<Subscriber>();
  private seq = 0;

  constructor(opts: EventBusOptions = {}) {
    this.history = new Ring(opts.historySize ?? 1000);
    this.queueSize = opts.subscriberQueueSize ?? 1024;
  }

  /** Number of live subscribers (for tests and diagnostics). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publish(ev: PublishEvent): BusEvent {
    const e: BusEvent = {
      seq: ++this.seq,
      id: ev.id,
      opt: ev.opt,
      type: ev.type ?? 'container',
      time: ev.time ?? new Date(),
      annotations: { ...(ev.annotations ?? {}) },
    };
    this.history.push(e);
    for (const s of this.subscribers) {
      if (!matches(s.filter, e)) continue;
      if (s.queue.push(e)) s.dropped++;
      const w = s.wake;
      s.wake = undefined;
      w?.();
    }
    return e;
  }

  /** Stored events (oldest first), e.g. for a non-streaming caller. */
  stored(filter: SubscribeFilter = {}): BusEvent[] {
    return this.history.toArray().filter((e) => matches(filter, e));
  }

  /**
   * Replay then live events, see the module comment. Registration happens now, so nothing published
   * after this call is missed even if iteration starts later; the subscription ends on abort, when
   * `until` passes, or when the consumer stops iterating (break/return). A subscription that is never
   * iterated stays registered until `signal` aborts (its queue is capped all the same).
   */
  subscribe(filter: SubscribeFilter, signal: AbortSignal): EventSubscription {
    const { since, until } = filter;
    if (since && until && since.getTime() > until.getTime()) {
      throw new EventsError("'since' time cannot be after 'until' time");
    }
    const replay = since || until || filter.storeOnly ? this.stored(filter) : [];
    const live = !filter.storeOnly && !signal.aborted && !(until && until.getTime() < Date.now());
    const sub: Subscriber = { filter, queue: new Ring(this.queueSize), dropped: 0, wake: undefined };
    if (live) this.subscribers.add(sub);

    let finished = !live;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      finished = true;
      this.subscribers.delete(sub);
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      const w = sub.wake;
      sub.wake = undefined;
      w?.();
    };
    if (live) {
      signal.addEventListener('abort', finish, { once: true });
      if (until) {
        const arm = () => {
          const ms = until.getTime() - Date.now();
          if (ms < 0) return finish();
          timer = setTimeout(arm, Math.min(ms + 1, MAX_TIMER_MS));
        };
        arm();
      }
    }

    async function* iterate(): AsyncGenerator<BusEvent> {
      try {
        for (const e of replay) {
          if (signal.aborted) return;
          yield e;
        }
        const lastReplayed = replay.length > 0 ? replay[replay.length - 1].seq : 0;
        for (;;) {
          const e = sub.queue.shift();
          if (e) {
            if (e.seq > lastReplayed) yield e; // an event both stored and queued is given once
            continue;
          }
          if (finished) return;
          await new Promise<void>((resolve) => (sub.wake = resolve));
        }
      } finally {
        finish();
      }
    }

    const gen = iterate();
    // `return()` on a generator that never started skips its `finally`: unregister here as well.
    const iterator: AsyncIterator<BusEvent> = {
      next: () => gen.next(),
      return: (value?: unknown) => {
        finish();
        return gen.return(value as undefined);
      },
    };
    return {
      get dropped() {
        return sub.dropped;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
  }
}

/** Bus event → the `containers.Event` message: "container <opt>" / "image <opt>", seconds/nanos. */
export function toWireEvent(e: Pick<BusEvent, 'id' | 'opt' | 'time' | 'annotations'> & { type?: 'container' | 'image' }): WireEvent {
  const ms = e.time.getTime();
  const seconds = Math.floor(ms / 1000);
  const type = e.type ?? 'container';
  const opt = e.opt.startsWith('container ') || e.opt.startsWith('image ') ? e.opt : `${type} ${e.opt}`;
  return {
    timestamp: { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 },
    opt,
    id: e.id,
    annotations: { ...e.annotations },
  };
}
