import type { Socket } from 'node:net';
import { MD_ATTACH_STDERR, MD_ATTACH_STDIN, MD_ATTACH_STDOUT, MD_CONTAINER_ID, ErrorCode, type ContainerService } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import { Frame, FrameDecoder, connectAttach, frame } from '../../runtime/monitor';
import type { BidiImpl, StreamCall } from '../grpc-adapter';

/*
 * `isula attach` on the daemon side (containers.ContainerService Attach, bidi), wire-compatible with
 * upstream iSulad: the request headers `container-id`, `attach-stdin`, `attach-stdout`,
 * `attach-stderr` ("true"/"false") say what to attach; request messages carry stdin bytes (`stdin`)
 * and the end of the client's stdin (`finish`); response messages carry `stdout` / `stderr` bytes.
 *
 * The call is one more client of the container's monitor (attach.sock, PROTOCOL.md): output frames
 * become response messages (the monitor socket is paused while a `send` waits for the client to
 * drain, so a slow client slows the container instead of growing the daemon), stdin messages become
 * stdin frames. `finish` only ends this client's stdin: the container's stdin stays open for later
 * attaches (as with a `run -d -i` container in Docker). The call ends when the container exits (the
 * monitor's exit frame, then close) or when the client goes away; the container keeps running and
 * the monitor connection is freed either way.
 */

type AttachCall = StreamCall<{ stdin: Buffer; finish: boolean }, { stdout: Buffer; stderr: Buffer; finish: boolean }>;

/** How often a call whose client stopped sending is checked for cancellation. */
const CANCEL_POLL_MS = 200;

function header(call: AttachCall, key: string): string {
  const v = call.metadata.get(key)[0];
  return v === undefined ? '' : String(v);
}

export function containerAttach(box: Containers): BidiImpl<typeof ContainerService> {
  return {
    Attach: async (call: AttachCall) => {
      const ref = header(call, MD_CONTAINER_ID);
      if (!ref) throw new ContainerError('Container id or name is required', ErrorCode.INPUT);
      const wantStdin = header(call, MD_ATTACH_STDIN) === 'true';
      const wantStdout = header(call, MD_ATTACH_STDOUT) === 'true';
      const wantStderr = header(call, MD_ATTACH_STDERR) === 'true';
      if (wantStdout !== wantStderr) throw new ContainerError('Attach stdout and stderr must be both true or both false', ErrorCode.INPUT);
      const rec = box.find(ref);
      const status = rec.state.status;
      if (status === 'paused') throw new ContainerError(`Container ${rec.id} is paused, unpause the container before attach`);
      if (status === 'restarting') throw new ContainerError(`Container ${rec.id} is restarting, wait until the container is running`);
      if (status !== 'running') throw new ContainerError('Container is not running');
      let mon: Socket;
      try {
        mon = await connectAttach(box.stateDir(rec));
      } catch {
        throw new ContainerError('Container is not running');
      }
      mon.on('error', () => undefined);

      let finished = false;
      const release = () => {
        if (!finished) {
          finished = true;
          mon.destroy();
        }
      };
      // Output: frames → messages, with the monitor paused while a send waits for the client.
      const outputDone = new Promise<void>((resolve) => {
        const decoder = new FrameDecoder();
        let pending = 0;
        let closed = false;
        let lastSend: Promise<void> = Promise.resolve();
        mon.on('data', (chunk: Buffer) => {
          decoder.push(chunk, (type, payload) => {
            if ((type !== Frame.STDOUT && type !== Frame.STDERR) || !wantStdout || payload.length === 0) return;
            const msg = type === Frame.STDOUT ? { stdout: Buffer.from(payload) } : { stderr: Buffer.from(payload) };
            pending++;
            mon.pause();
            lastSend = call.send(msg).then(() => {
              if (--pending === 0 && !closed && !mon.destroyed) mon.resume();
            });
          });
        });
        mon.once('close', () => {
          closed = true;
          // What was already sent goes out before the call ends.
          void lastSend.then(() => resolve());
        });
      });

      // Input: stdin messages → stdin frames; the loop also notices the client going away.
      const inputDone = (async () => {
        try {
          let stdinOpen = wantStdin;
          for await (const m of call.messages) {
            if (finished) break;
            if (stdinOpen && m.stdin.length > 0 && !mon.destroyed) mon.write(frame(Frame.STDIN, Buffer.from(m.stdin)));
            if (m.finish) stdinOpen = false;
          }
        } catch {
          release(); // the client cancelled: free the monitor connection, the container runs on
          return;
        }
        // The client half-closed: keep serving output until it goes away or the container exits.
        while (!finished && !call.cancelled()) await new Promise((r) => setTimeout(r, CANCEL_POLL_MS));
        release();
      })();

      await outputDone;
      finished = true;
      if (!call.cancelled()) await call.send({ finish: true });
      // Let the input side settle (it stops at its next message or poll).
      void inputDone;
    },
  };
}
