import type { IncomingHttpHeaders } from 'node:http2';
import { DetachKeyDetector } from '@isula/protocol';
import type { IsulaClient } from '../client';
import { GrpcConnection, type Metadata } from '../transport/h2-lite';

/*
 * One stdio stream with the daemon (Attach, RemoteStart, RemoteExec: the same shape with other
 * message types): local stdin goes out as request messages, `finish` at its end; `stdout`/`stderr`
 * response messages go to the local streams. Reading from the daemon pauses while a local stream
 * is full (HTTP/2 flow control then slows the daemon, which slows the process). Each session has
 * a connection of its own, so leaving it never waits on other calls.
 */

export interface StdioMessages {
  encodeStdin(data: Buffer): Uint8Array;
  encodeFinish(): Uint8Array;
  decode(message: Buffer): { stdout: Buffer; stderr: Buffer; finish: boolean };
}

export interface StdioSessionOptions {
  path: string;
  metadata: Metadata;
  messages: StdioMessages;
  /** Read and forwarded when given. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Watch stdin for ctrl-p ctrl-q (tty sessions): the client then leaves, the container runs on. */
  detachKeys?: boolean;
}

/** How a session ended: the daemon ended the call (its trailers), or the user detached. */
export type StdioSessionEnd = { reason: 'ended'; trailers: IncomingHttpHeaders } | { reason: 'detached' };

export interface StdioSession {
  /** Settles when the session is over; rejects with RpcError/ConnectError when the call fails. */
  done: Promise<StdioSessionEnd>;
  /** The daemon's response headers (for RemoteStart: the container runs). */
  headers: Promise<IncomingHttpHeaders>;
  /** Leaves: cancels the stream (the container keeps running); `done` resolves 'detached'. */
  detach(): void;
}

/** A call that failed before any message ends trailers-only: its cc/errmsg come in the one HEADERS. */
function trailersOf(end: { headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }): IncomingHttpHeaders {
  return end.trailers['grpc-status'] !== undefined ? end.trailers : end.headers;
}

export function openStdioSession(client: IsulaClient, o: StdioSessionOptions): StdioSession {
  const conn = new GrpcConnection(client.endpoint);
  let over = false;
  let paused = 0;
  const call = conn.stream(o.path, {
    metadata: o.metadata,
    onMessage: (msg) => {
      if (over) return;
      const m = o.messages.decode(msg);
      for (const [data, out] of [
        [m.stdout, o.stdout],
        [m.stderr, o.stderr],
      ] as const) {
        if (data.length === 0) continue;
        if (!out.write(Buffer.from(data))) {
          if (paused++ === 0) call.pause();
          out.once('drain', () => {
            if (--paused === 0) call.resume();
          });
        }
      }
    },
  });

  const src = o.stdin;
  const detector = o.detachKeys ? new DetachKeyDetector() : undefined;
  const send = (data: Buffer) => {
    if (data.length === 0 || over) return;
    if (!call.write(o.messages.encodeStdin(data))) {
      src?.pause();
      void call.drained().then(() => {
        if (!over) src?.resume();
      });
    }
  };
  const onData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!detector) return send(b);
    const { forward, detach: leave } = detector.push(b);
    send(forward);
    if (leave) detach();
  };
  const onEnd = () => {
    if (!over) call.write(o.messages.encodeFinish());
  };
  const stopStdin = () => {
    if (!src) return;
    src.removeListener('data', onData);
    src.removeListener('end', onEnd);
    src.pause();
    // Local stdin must not keep the process alive once the session is over.
    (src as unknown as { destroy?: () => void }).destroy?.();
  };
  if (src) {
    src.on('data', onData);
    src.once('end', onEnd);
    src.resume();
  }

  let detached = false;
  let resolveDetach!: () => void;
  const detachedP = new Promise<void>((r) => (resolveDetach = r));
  function detach() {
    if (over) return;
    detached = true;
    resolveDetach();
  }

  const done = Promise.race([call.done.then((end) => ({ reason: 'ended' as const, trailers: trailersOf(end) })), detachedP.then(() => ({ reason: 'detached' as const }))]).then(
    (end): StdioSessionEnd => {
      over = true;
      stopStdin();
      if (end.reason === 'detached') call.cancel();
      call.done.catch(() => undefined);
      conn.close();
      return end;
    },
    (err: unknown): StdioSessionEnd => {
      over = true;
      stopStdin();
      conn.close();
      if (detached) return { reason: 'detached' };
      throw err;
    },
  );
  return { done, headers: call.headers, detach };
}
