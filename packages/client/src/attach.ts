import { methodPath, MD_ATTACH_STDERR, MD_ATTACH_STDIN, MD_ATTACH_STDOUT, MD_CONTAINER_ID } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import type { IsulaClient } from './client';
import { DetachKeyDetector } from './stdio/tty';
import { GrpcConnection } from './transport/h2-lite';

/*
 * `isula attach` as an SDK function over the Attach bidi stream (containers.ContainerService
 * Attach), the way upstream's client does it on every transport: request headers `container-id`,
 * `attach-stdin`, `attach-stdout`, `attach-stderr` ("true"/"false"), stdin bytes in `stdin`
 * messages and `finish` at the end of local stdin; the daemon answers `stdout`/`stderr` messages
 * until the container exits (or the client leaves). Each attach runs on a connection of its own.
 */

const ATTACH_PATH = methodPath('containers.ContainerService', 'Attach');

export interface AttachStreams {
  /** Read (and forwarded) only when `want.stdin`. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Watch stdin for ctrl-p ctrl-q (tty sessions): the client then leaves, the container runs on. */
  detachKeys?: boolean;
}

/** How an attach ended: the container's output ended (it exited), or the user detached. */
export interface AttachEnd {
  reason: 'ended' | 'detached';
}

export interface AttachSession {
  /** Settles when the attach is over; rejects with the daemon's refusal (RpcError) or a lost connection. */
  done: Promise<AttachEnd>;
  /** Leaves: closes the stream (the container keeps running); `done` resolves 'detached'. */
  detach(): void;
}

/**
 * Attaches the local streams to container `id`: output goes to `io.stdout`/`io.stderr` as it
 * arrives, local stdin (with `want.stdin`) goes to the container, its end as `finish`.
 */
export function attachContainer(client: IsulaClient, id: string, want: AttachOptions, io: AttachStreams): AttachSession {
  const conn = new GrpcConnection(client.endpoint);
  let detached = false;
  let over = false;
  const call = conn.stream(ATTACH_PATH, {
    metadata: {
      [MD_CONTAINER_ID]: id,
      [MD_ATTACH_STDIN]: String(want.stdin),
      [MD_ATTACH_STDOUT]: String(want.stdout),
      [MD_ATTACH_STDERR]: String(want.stderr),
    },
    onMessage: (msg) => {
      if (over) return;
      const m = c.AttachResponse.decode(msg);
      if (m.stdout.length > 0) io.stdout.write(Buffer.from(m.stdout));
      if (m.stderr.length > 0) io.stderr.write(Buffer.from(m.stderr));
    },
  });

  const src = want.stdin ? io.stdin : undefined;
  const detector = want.detachKeys ? new DetachKeyDetector() : undefined;
  const send = (data: Buffer) => {
    if (data.length === 0 || over) return;
    if (!call.write(c.AttachRequest.encode({ stdin: data, finish: false }).finish())) {
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
    if (over) return;
    call.write(c.AttachRequest.encode({ stdin: Buffer.alloc(0), finish: true }).finish());
  };
  const stopStdin = () => {
    if (!src) return;
    src.removeListener('data', onData);
    src.removeListener('end', onEnd);
    src.pause();
    // Local stdin must not keep the process alive once the attach is over.
    (src as unknown as { destroy?: () => void }).destroy?.();
  };
  if (src) {
    src.on('data', onData);
    src.once('end', onEnd);
    src.resume();
  }

  let resolveDetach!: () => void;
  const detachedP = new Promise<void>((r) => (resolveDetach = r));
  function detach() {
    if (over) return;
    detached = true;
    resolveDetach();
  }

  const done = Promise.race([call.done.then(() => 'ended' as const), detachedP.then(() => 'detached' as const)]).then(
    (reason) => {
      over = true;
      stopStdin();
      if (reason === 'detached') call.cancel();
      call.done.catch(() => undefined);
      conn.close();
      return { reason };
    },
    (err: unknown) => {
      over = true;
      stopStdin();
      conn.close();
      if (detached) return { reason: 'detached' as const };
      throw err;
    },
  );
  return { done, detach };
}
