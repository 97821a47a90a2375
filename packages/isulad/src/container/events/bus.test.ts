import { describe, expect, it } from 'vitest';
import { EventBus, EventsError, Ring, toWireEvent, type BusEvent, type EventSubscription } from './bus';

const T0 = Date.UTC(2026, 10, 27, 7, 55, 1);
const at = (s: number) => new Date(T0 + s * 1000);
const tick = () => new Promise((r) => setTimeout(r, 0));

/** Pull `n` events with a timeout. */
async function take(sub: EventSubscription, n: number, timeoutMs = 2000): Promise<BusEvent[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: BusEvent[] = [];
  while (out.length < n) {
    const r = await Promise.race([it.next(), new Promise<'t'>((res) => setTimeout(() => res('t'), timeoutMs))]);
    if (r === 't') throw new Error(`timeout after ${out.length}`);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}
async function drain(sub: EventSubscription): Promise<BusEvent[]> {
  const out: BusEvent[] = [];
  for await (const e of sub) out.push(e);
  return out;
}
const opts = (es: BusEvent[]) => es.map((e) => `${e.opt}:${e.id}`);

describe('Ring', () => {
  it('drops the oldest when full', () => {
    const r = new Ring<number>(3);
    expect([r.push(1), r.push(2), r.push(3), r.push(4)]).toEqual([false, false, false, true]);
    expect(r.toArray()).toEqual([2, 3, 4]);
    expect(r.shift()).toBe(2);
    r.push(5);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.length).toBe(3);
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('EventBus', () => {
  it('live events only when neither since nor until is given; id filter', async () => {
    const bus = new EventBus();
    bus.publish({ id: 'a', opt: 'create', time: at(0) });
    const ac = new AbortController();
    const all = bus.subscribe({}, ac.signal);
    const onlyB = bus.subscribe({ id: 'b' }, ac.signal);
    bus.publish({ id: 'a', opt: 'start' });
    bus.publish({ id: 'b', opt: 'start', annotations: { name: 'x' } });
    expect(opts(await take(all, 2))).toEqual(['start:a', 'start:b']);
    const [b] = await take(onlyB, 1);
    expect(b).toMatchObject({ id: 'b', opt: 'start', type: 'container', annotations: { name: 'x' } });
    ac.abort();
    expect(await drain(all)).toEqual([]);
    expect(bus.subscriberCount).toBe(0);
  });

  it('since replays stored events then continues live, without gap or duplicate', async () => {
    const bus = new EventBus();
    bus.publish({ id: 'a', opt: 'create', time: at(0) });
    bus.publish({ id: 'a', opt: 'start', time: at(1) });
    bus.publish({ id: 'b', opt: 'create', time: at(2) });
    const ac = new AbortController();
    const sub = bus.subscribe({ since: at(1) }, ac.signal);
    bus.publish({ id: 'a', opt: 'die', time: at(3) });
    expect(opts(await take(sub, 3))).toEqual(['start:a', 'create:b', 'die:a']);
    ac.abort();
  });

  it('until in the past: replay only, then end', async () => {
    const bus = new EventBus();
    for (let i = 0; i < 5; i++) bus.publish({ id: 'a', opt: `o${i}`, time: at(i) });
    const ac = new AbortController();
    expect(opts(await drain(bus.subscribe({ since: at(1), until: at(3) }, ac.signal)))).toEqual(['o1:a', 'o2:a', 'o3:a']);
    expect(opts(await drain(bus.subscribe({ until: at(1) }, ac.signal)))).toEqual(['o0:a', 'o1:a']);
    expect(bus.subscriberCount).toBe(0);
  });

  it('storeOnly: replay, no live', async () => {
    const bus = new EventBus();
    bus.publish({ id: 'a', opt: 'create', time: at(0) });
    const ac = new AbortController();
    const sub = bus.subscribe({ storeOnly: true }, ac.signal);
    bus.publish({ id: 'a', opt: 'start' });
    expect(opts(await drain(sub))).toEqual(['create:a']);
  });

  it('until in the future ends the live stream when it passes', async () => {
    const bus = new EventBus();
    const ac = new AbortController();
    const sub = bus.subscribe({ until: new Date(Date.now() + 100) }, ac.signal);
    bus.publish({ id: 'a', opt: 'start' });
    const t0 = Date.now();
    expect(opts(await drain(sub))).toEqual(['start:a']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    expect(bus.subscriberCount).toBe(0);
  });

  it('since after until is refused as upstream', () => {
    const bus = new EventBus();
    expect(() => bus.subscribe({ since: at(2), until: at(1) }, new AbortController().signal)).toThrow(
      new EventsError("'since' time cannot be after 'until' time"),
    );
  });

  it('history is a bounded ring', async () => {
    const bus = new EventBus({ historySize: 3 });
    for (let i = 0; i < 10; i++) bus.publish({ id: 'a', opt: `o${i}`, time: at(i) });
    expect(bus.stored().map((e) => e.opt)).toEqual(['o7', 'o8', 'o9']);
    expect(opts(await drain(bus.subscribe({ since: at(0), storeOnly: true }, new AbortController().signal)))).toEqual([
      'o7:a',
      'o8:a',
      'o9:a',
    ]);
  });

  it('a slow subscriber keeps only the newest events and counts the dropped ones', async () => {
    const bus = new EventBus({ subscriberQueueSize: 4 });
    const ac = new AbortController();
    const slow = bus.subscribe({}, ac.signal);
    for (let i = 0; i < 10; i++) bus.publish({ id: 'a', opt: `o${i}` });
    expect(slow.dropped).toBe(6);
    expect(opts(await take(slow, 4))).toEqual(['o6:a', 'o7:a', 'o8:a', 'o9:a']);
    bus.publish({ id: 'a', opt: 'later' });
    expect(opts(await take(slow, 1))).toEqual(['later:a']);
    ac.abort();
  });

  it('breaking out of the loop unregisters; so does return() before the first next()', async () => {
    const bus = new EventBus();
    const ac = new AbortController();
    const sub = bus.subscribe({}, ac.signal);
    bus.publish({ id: 'a', opt: 'x' });
    for await (const e of sub) {
      expect(e.opt).toBe('x');
      break;
    }
    expect(bus.subscriberCount).toBe(0);
    const never = bus.subscribe({}, ac.signal);
    expect(bus.subscriberCount).toBe(1);
    await never[Symbol.asyncIterator]().return?.();
    expect(bus.subscriberCount).toBe(0);
  });

  it('abort while waiting ends the iteration', async () => {
    const bus = new EventBus();
    const ac = new AbortController();
    const p = drain(bus.subscribe({}, ac.signal));
    await tick();
    ac.abort();
    expect(await p).toEqual([]);
  });

  it('an already aborted signal gives only the replay', async () => {
    const bus = new EventBus();
    bus.publish({ id: 'a', opt: 'x', time: at(0) });
    const ac = new AbortController();
    ac.abort();
    expect(await drain(bus.subscribe({}, ac.signal))).toEqual([]);
    expect(bus.subscriberCount).toBe(0);
  });
});

describe('toWireEvent', () => {
  it('prefixes the type and splits the time', () => {
    const e = new EventBus().publish({ id: 'a', opt: 'start', time: new Date(T0 + 123), annotations: { name: 'x' } });
    expect(toWireEvent(e)).toEqual({
      timestamp: { seconds: BigInt(T0 / 1000), nanos: 123_000_000 },
      opt: 'container start',
      id: 'a',
      annotations: { name: 'x' },
    });
    expect(toWireEvent({ ...e, type: 'image', opt: 'pull', id: 'busybox' }).opt).toBe('image pull');
    expect(toWireEvent({ ...e, opt: 'container die' }).opt).toBe('container die');
  });
});
