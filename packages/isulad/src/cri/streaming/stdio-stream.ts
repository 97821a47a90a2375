import type { Writable } from 'node:stream';
import type { SessionIO } from './types';

/**
 * The shape of the daemon's `StdioStream` (container/stdio.ts), which `bridgeStream` and
 * `execInContainer({ stream })` take; declared here so this folder does not depend on that file.
 */
export interface SessionStdioStream {
  input: AsyncIterable<{ data: Buffer; finish: boolean }>;
  send(kind: 'stdout' | 'stderr', data: Buffer): Promise<void>;
  gone: Promise<void>;
}

const EMPTY = Buffer.alloc(0);

/**
 * A session's streams as the daemon's `StdioStream`:
 * - `input` yields the client's stdin and ends with `finish` when the client closes its stdin or
 *   goes away (kubelet too closes the process's stdin when the connection drops); it is empty
 *   without stdin;
 * - `send` writes to stdout/stderr and resolves once the writer may go on (at once, or at
 *   `'drain'`); output of a stream the client did not ask for, or after it left, is dropped;
 * - `gone` settles when the client went away before the session ended.
 */
export function sessionStdioStream(io: SessionIO): SessionStdioStream {
  const gone = new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });

  async function* input(): AsyncGenerator<{ data: Buffer; finish: boolean }> {
    if (!io.stdin) return;
    for await (const chunk of io.stdin as AsyncIterable<Buffer>) yield { data: chunk, finish: false };
    yield { data: EMPTY, finish: true };
  }

  // One wait per stream, shared by every send that finds it full (bridgeStream sends a whole
  // read's frames before waiting), so listeners do not pile up.
  const drains = new Map<Writable, Promise<void>>();
  const drained = (w: Writable): Promise<void> => {
    let p = drains.get(w);
    if (!p) {
      p = new Promise<void>((resolve) => {
        const done = () => {
          w.off('drain', done);
          w.off('close', done);
          io.signal.removeEventListener('abort', done);
          drains.delete(w);
          resolve();
        };
        w.on('drain', done);
        w.on('close', done);
        io.signal.addEventListener('abort', done);
      });
      drains.set(w, p);
    }
    return p;
  };

  const send = (kind: 'stdout' | 'stderr', data: Buffer): Promise<void> => {
    const w = kind === 'stdout' ? io.stdout : io.stderr;
    if (!w || w.writableEnded || w.destroyed || io.signal.aborted) return Promise.resolve();
    return w.write(data) ? Promise.resolve() : drained(w);
  };

  return { input: input(), send, gone };
}
