import { methodPath, MD_ATTACH_STDERR, MD_ATTACH_STDIN, MD_ATTACH_STDOUT, MD_CONTAINER_ID, readStreamTrailers } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import type { IsulaClient } from './client';
import { DaemonError } from './errors';
import { openStdioSession, type StdioMessages } from './stdio/stream-session';

/*
 * `isula attach` as an SDK function over the Attach bidi stream (containers.ContainerService
 * Attach), the way upstream's client does it on every transport: request headers `container-id`,
 * `attach-stdin`, `attach-stdout`, `attach-stderr` ("true"/"false"), stdin bytes in `stdin`
 * messages and `finish` at the end of local stdin; the daemon answers `stdout`/`stderr` messages
 * until the container exits (or the client leaves), then trailers `cc`/`errmsg`.
 */

const ATTACH_PATH = methodPath('containers.ContainerService', 'Attach');

/** Attach and RemoteStart carry the same message shapes. */
export const ATTACH_MESSAGES: StdioMessages = {
  encodeStdin: (data) => c.AttachRequest.encode({ stdin: data, finish: false }).finish(),
  encodeFinish: () => c.AttachRequest.encode({ stdin: Buffer.alloc(0), finish: true }).finish(),
  decode: (m) => c.AttachResponse.decode(m),
};

/** The four request headers of Attach and RemoteStart. */
export function attachHeaders(id: string, want: { stdin: boolean; stdout: boolean; stderr: boolean }): Record<string, string> {
  return {
    [MD_CONTAINER_ID]: id,
    [MD_ATTACH_STDIN]: String(want.stdin),
    [MD_ATTACH_STDOUT]: String(want.stdout),
    [MD_ATTACH_STDERR]: String(want.stderr),
  };
}

/** Throws the daemon's in-band failure carried in a stream's trailers. */
export function checkStreamTrailers(trailers: Record<string, string | string[] | undefined>): { exitCode: number | undefined } {
  const t = readStreamTrailers(trailers);
  if (t.cc !== 0) throw new DaemonError(t.cc, t.errmsg);
  return { exitCode: t.exitCode };
}

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
  /** Settles when the attach is over; rejects with the daemon's refusal (DaemonError, RpcError) or a lost connection. */
  done: Promise<AttachEnd>;
  /** Leaves: closes the stream (the container keeps running); `done` resolves 'detached'. */
  detach(): void;
}

/**
 * Attaches the local streams to container `id`: output goes to `io.stdout`/`io.stderr` as it
 * arrives, local stdin (with `want.stdin`) goes to the container, its end as `finish`.
 */
export function attachContainer(client: IsulaClient, id: string, want: AttachOptions, io: AttachStreams): AttachSession {
  const session = openStdioSession(client, {
    path: ATTACH_PATH,
    metadata: attachHeaders(id, want),
    messages: ATTACH_MESSAGES,
    stdin: want.stdin ? io.stdin : undefined,
    stdout: io.stdout,
    stderr: io.stderr,
    detachKeys: want.detachKeys,
  });
  const done = session.done.then((end): AttachEnd => {
    if (end.reason === 'ended') checkStreamTrailers(end.trailers);
    return { reason: end.reason };
  });
  return { done, detach: session.detach };
}
