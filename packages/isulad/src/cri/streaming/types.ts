import type { Duplex, Readable, Writable } from 'node:stream';
import type { TerminalSize } from './protocol';

export type { TerminalSize } from './protocol';

export interface ExecRequestInfo {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface AttachRequestInfo {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface PortForwardRequestInfo {
  podSandboxId: string;
  /** May be empty: the client then names the ports in the URL (`?port=80,443`). */
  ports: number[];
}

/**
 * One exec or attach session's streams, as the client asked for them.
 *
 * - `stdin` (when requested): the client's input; it ends when the client closes its stdin (v5
 *   CLOSE signal), when the connection goes away, and when the session ends. Reading it slowly
 *   slows the client (the connection stops being read while 64 KiB wait here).
 * - `stdout`/`stderr` (when requested): each write goes out on the channel; `write` returns false
 *   and `'drain'` comes later while the client is behind, so honour it. Left open, they are ended
 *   when the runtime's promise settles; after the client went away, writes are dropped.
 * - `resize`: terminal sizes sent by the client (zero sizes skipped), latest first when the
 *   consumer lags; it ends with the session. `resize.current` is the last size received,
 *   `resize.first(ms)` waits briefly for the client's initial size.
 * - `signal`: aborted when the client went away before the session ended.
 */
export interface SessionIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
  resize: ResizeEvents;
  signal: AbortSignal;
}

export interface ResizeEvents extends AsyncIterableIterator<TerminalSize> {
  /** The last size received. */
  readonly current: TerminalSize | undefined;
  /**
   * `current`, or the first size to arrive within `timeoutMs` (undefined if none): clients send
   * their terminal size right after connecting, so a tty exec can start its pty with it.
   * Takes nothing from the iterator.
   */
  first(timeoutMs: number): Promise<TerminalSize | undefined>;
}

/** What the daemon provides to the streaming server. */
export interface StreamingRuntime {
  /** Runs the command with these streams; resolves with its exit code. A rejection is reported to the client as an internal error. */
  exec(req: ExecRequestInfo, io: SessionIO): Promise<number>;
  /** Attaches to the container's streams; resolves when the attach ends (the container's output ended, or the client left and `signal` fired). */
  attach(req: AttachRequestInfo, io: SessionIO): Promise<void>;
  /**
   * Connects `stream` to `port` inside the pod's network namespace: what the client sends is read
   * from `stream`, what is written to it goes to the client. Resolves when the forwarding is over
   * (end `stream` or not, the connection closes once every port's promise settled). The stream is
   * destroyed when the client goes away. A rejection's message goes to the port's error channel.
   */
  portForward(podSandboxId: string, port: number, stream: Duplex): Promise<void>;
}

/** pino's Logger (DaemonLogger) fits. */
export interface StreamingLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
