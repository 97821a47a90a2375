import type { TerminalSize } from './protocol';
import type { ResizeEvents } from './types';

/**
 * Terminal sizes for one consumer. Only the latest size matters to a terminal, so a size not yet
 * taken is replaced by a newer one: the queue holds at most one.
 */
export class SizeQueue implements ResizeEvents {
  private pending: TerminalSize | undefined;
  private waiter: ((r: IteratorResult<TerminalSize>) => void) | undefined;
  private ended = false;
  private last: TerminalSize | undefined;
  private readonly firstWaiters = new Set<(s: TerminalSize | undefined) => void>();

  get current(): TerminalSize | undefined {
    return this.last;
  }

  /** The last size received, or the first one to arrive within `timeoutMs`; takes nothing from the queue. */
  first(timeoutMs: number): Promise<TerminalSize | undefined> {
    if (this.last || this.ended) return Promise.resolve(this.last);
    return new Promise((resolve) => {
      const done = (s: TerminalSize | undefined) => {
        clearTimeout(timer);
        this.firstWaiters.delete(done);
        resolve(s);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.firstWaiters.add(done);
    });
  }

  push(size: TerminalSize): void {
    if (this.ended) return;
    this.last = size;
    for (const w of [...this.firstWaiters]) w(size);
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: size, done: false });
    } else {
      this.pending = size;
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of [...this.firstWaiters]) w(this.last);
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<TerminalSize>> {
    if (this.pending) {
      const value = this.pending;
      this.pending = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('resize events have one consumer'));
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<TerminalSize>> {
    this.pending = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
