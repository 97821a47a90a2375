import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from './protocol';

/** Largest data part of one outgoing message; bigger writes go out as several messages. */
const MAX_FRAME_DATA = 256 * 1024;
const EMPTY = Buffer.alloc(0);

export interface ChannelConnOptions {
  base64: boolean;
  /** Above this many bytes queued on the socket, a send completes only once its message was flushed. */
  maxBufferedBytes: number;
  /** Close a connection that saw no message either way for this long (0: never). */
  idleTimeoutMs: number;
}

/**
 * A WebSocket carrying numbered channels. Sends are ordered and flow-controlled: `send`'s callback
 * runs at once while little is queued, otherwise once the message reached the kernel, so a writer
 * that waits for it never queues more than `maxBufferedBytes` plus one write. Reading is paused while
 * any consumer holds the connection (`hold`) and resumed when the last one lets go (`release`):
 * one full consumer stops the whole connection, as a blocked pipe does in kubelet.
 * After the connection closed, sends are dropped and their callbacks run at once.
 */
export class ChannelConn {
  readonly closed: Promise<void>;
  private isClosed = false;
  private readonly holds = new Set<object>();
  private readonly waiting = new Set<() => void>();
  private readonly idle?: NodeJS.Timeout;
  private handler: (channel: number, data: Buffer) => void = () => undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: ChannelConnOptions,
  ) {
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      ws.once('close', () => {
        this.isClosed = true;
        if (this.idle) clearTimeout(this.idle);
        this.holds.clear();
        for (const w of [...this.waiting]) w();
        resolve();
      });
    });
    ws.on('message', (data: WebSocket.RawData) => {
      this.touch();
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const f = decodeFrame(buf, opts.base64);
      if (f) this.handler(f.channel, f.data);
    });
    if (opts.idleTimeoutMs > 0) {
      this.idle = setTimeout(() => ws.terminate(), opts.idleTimeoutMs);
      this.idle.unref();
    }
  }

  get isOpen(): boolean {
    return !this.isClosed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the daemon for this client (not yet handed to the kernel). */
  get bufferedBytes(): number {
    return this.isClosed ? 0 : this.ws.bufferedAmount;
  }

  /** Incoming messages, decoded. */
  onFrame(handler: (channel: number, data: Buffer) => void): void {
    this.handler = handler;
  }

  send(channel: number, data: Uint8Array = EMPTY, cb?: () => void): void {
    if (!this.isOpen) {
      cb?.();
      return;
    }
    this.touch();
    let done: (() => void) | undefined;
    const waitFlush = cb !== undefined && this.ws.bufferedAmount + data.byteLength > this.opts.maxBufferedBytes;
    if (waitFlush) {
      let called = false;
      done = () => {
        if (called) return;
        called = true;
        this.waiting.delete(done!);
        cb();
      };
      this.waiting.add(done);
    }
    let off = 0;
    do {
      const part = data.subarray(off, off + MAX_FRAME_DATA);
      off += part.byteLength;
      const last = off >= data.byteLength;
      this.ws.send(encodeFrame(channel, part, this.opts.base64), { binary: !this.opts.base64 }, last && done ? () => done() : undefined);
    } while (off < data.byteLength);
    if (cb && !waitFlush) cb();
  }

  hold(key: object): void {
    if (this.isClosed) return;
    this.holds.add(key);
    if (!this.ws.isPaused) this.ws.pause();
  }

  release(key: object): void {
    if (!this.holds.delete(key) || this.holds.size > 0 || this.isClosed) return;
    this.ws.resume();
  }

  /** A normal close (1000) after what was queued; clients read it as the end of every stream. */
  close(code = 1000, reason?: string): void {
    if (this.isClosed) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    else this.ws.terminate();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private touch(): void {
    this.idle?.refresh();
  }
}

/** A session's output channel as a Writable: each write waits while the client is behind. */
export class ChannelWriter extends Writable {
  constructor(
    private readonly conn: ChannelConn,
    private readonly channel: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    // Misuse by the runtime (write after end) must not take the daemon down.
    this.on('error', () => undefined);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.conn.send(this.channel, chunk, () => cb());
  }
}
