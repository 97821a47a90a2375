import {
  decodeRemoteExec,
  DETACH_NOTICE,
  DetachKeyDetector,
  MD_ATTACH_STDERR,
  MD_ATTACH_STDIN,
  MD_ATTACH_STDOUT,
  MD_CONTAINER_ID,
  MD_REMOTE_EXEC,
  streamTrailers,
  type ContainerService,
} from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import { execInContainer } from '../../container/exec';
import { bridgeStream, type StdioStream, type StreamBridge } from '../../container/stdio';
import type { BidiImpl, StreamCall } from '../grpc-adapter';
import { failure } from './in-band';

/*
 * The stdio streams of containers.ContainerService, wire-compatible with upstream iSulad (used by
 * its client on tcp hosts; Attach on every host):
 *
 * - `Attach`: headers `container-id`, `attach-stdin/-stdout/-stderr` ("true"/"false"); one more
 *   client of a running container's monitor. `finish` ends this client's input only.
 * - `RemoteStart`: the same headers; starts the container with the stream as its stdio (the
 *   monitor holds the output until the stream is connected), then serves it until the output ends.
 * - `RemoteExec`: the exec request as JSON in `isulad-remote-exec`; stdin chunks in `cmd`.
 *
 * Output messages wait for the client to drain (a slow reader slows the process, never grows the
 * daemon). The daemon sends `finish` once the output has ended, then ends the call with trailers
 * `cc`/`errmsg` (and `exit_code` for RemoteExec). Failures of the operation itself travel in those
 * trailers with status OK, as upstream; a malformed request ends with UNKNOWN and its reason. On a
 * tty with stdin attached, the daemon also honours ctrl-p ctrl-q: it sends `read escape sequence`
 * and ends the call, the container running on (upstream's client leaves the keys to the daemon).
 */

type Out = { stdout: Buffer; stderr: Buffer; finish: boolean };

interface Wanted {
  id: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

function header(call: StreamCall<unknown, unknown>, key: string): string {
  const v = call.metadata.get(key)[0];
  return v === undefined ? '' : String(v);
}

/** The four headers of Attach and RemoteStart. */
function attachHeaders(call: StreamCall<unknown, unknown>): Wanted {
  const id = header(call, MD_CONTAINER_ID);
  if (!id) throw new ContainerError('Transform request failed');
  return { id, stdin: header(call, MD_ATTACH_STDIN) === 'true', stdout: header(call, MD_ATTACH_STDOUT) === 'true', stderr: header(call, MD_ATTACH_STDERR) === 'true' };
}

/** A call as the bridge sees it; with `detector`, the stdin stops at the detach keys and `onDetach` runs. */
function stdioOf<M extends { finish: boolean }>(call: StreamCall<M, Out>, chunks: (m: M) => Buffer[], detector?: DetachKeyDetector, onDetach?: () => void): StdioStream {
  return {
    input: (async function* () {
      for await (const m of call.messages) {
        for (const c of chunks(m)) {
          if (!detector) {
            yield { data: c, finish: false };
            continue;
          }
          const { forward, detach } = detector.push(c);
          if (forward.length > 0) yield { data: forward, finish: false };
          if (detach) {
            onDetach?.();
            return;
          }
        }
        if (m.finish) yield { data: Buffer.alloc(0), finish: true };
      }
    })(),
    send: (kind, data) => call.send(kind === 'stdout' ? { stdout: data } : { stderr: data }),
    gone: call.whenCancelled,
  };
}

/** Serves a bridged stream to its end: output ended (finish + cc 0), detach keys, or the client gone. */
async function serve(call: StreamCall<unknown, Out>, bridge: StreamBridge, detached: Promise<void>, trailers: () => Record<string, string> = () => streamTrailers(0, '')): Promise<void> {
  const end = await Promise.race([
    bridge.done.then(() => 'ended' as const),
    bridge.clientGone.then(() => 'gone' as const),
    detached.then(() => 'detached' as const),
  ]);
  if (end === 'gone') {
    bridge.release(); // the container runs on; its monitor connection is freed
    return;
  }
  if (end === 'detached') {
    bridge.release();
    await call.send({ stdout: Buffer.from(DETACH_NOTICE) });
  }
  await call.send({ finish: true });
  call.setTrailers(trailers());
}

/** A detach signal: `fire` from the input side, `fired` for the server loop. */
function detachSignal(): { fired: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const fired = new Promise<void>((r) => (fire = r));
  return { fired, fire };
}

export function containerStdio(box: Containers): BidiImpl<typeof ContainerService> {
  return {
    Attach: async (call) => {
      const want = attachHeaders(call);
      if (want.stdout !== want.stderr) throw new ContainerError('Attach stdout should always equal to attach stderr');
      let rec;
      try {
        rec = box.find(want.id);
        const status = rec.state.status;
        if (status === 'paused') throw new ContainerError(`Container ${rec.id} is paused, unpause the container before attach`);
        if (status === 'restarting') throw new ContainerError(`Container ${rec.id} is restarting, wait until the container is running`);
        if (status !== 'running') throw new ContainerError('Container is not running');
      } catch (err) {
        const f = failure(err);
        call.setTrailers(streamTrailers(f.cc, f.errmsg));
        return;
      }
      const detach = detachSignal();
      const detector = rec.config.Tty === true && want.stdin ? new DetachKeyDetector() : undefined;
      let bridge: StreamBridge;
      try {
        bridge = await bridgeStream(box.stateDir(rec), stdioOf(call, (m) => [m.stdin], detector, detach.fire), {
          stdin: want.stdin,
          output: want.stdout,
          closeStdinAtEof: false,
        });
      } catch {
        call.setTrailers(streamTrailers(failure(new ContainerError('Container is not running')).cc, 'Container is not running'));
        return;
      }
      await serve(call, bridge, detach.fired);
    },

    RemoteStart: async (call) => {
      const want = attachHeaders(call);
      const detach = detachSignal();
      let bridge: StreamBridge | undefined;
      try {
        await box.start(want.id, async (stateDir, { tty }) => {
          const detector = tty && want.stdin ? new DetachKeyDetector() : undefined;
          bridge = await bridgeStream(stateDir, stdioOf(call, (m) => [m.stdin], detector, detach.fire), {
            stdin: want.stdin,
            output: want.stdout || want.stderr,
            closeStdinAtEof: !tty,
          });
        });
      } catch (err) {
        const f = failure(err);
        call.setTrailers(streamTrailers(f.cc, f.errmsg));
        return;
      }
      // Headers now: the client knows the container runs (it sizes the tty from here on).
      call.sendMetadata({});
      await serve(call, bridge!, detach.fired);
    },

    RemoteExec: async (call) => {
      const raw = header(call, MD_REMOTE_EXEC);
      if (!raw) throw new ContainerError("No metadata 'isulad-remote-exec' received");
      let req;
      try {
        req = decodeRemoteExec(raw);
      } catch (err) {
        throw new ContainerError(`Invalid remote exec container json: ${(err as Error).message}`);
      }
      const detach = !req.attach_stdin && !req.attach_stdout && !req.attach_stderr;
      try {
        const r = await execInContainer(box, req.container_id, {
          suffix: req.suffix,
          argv: req.argv,
          env: req.env,
          user: req.user,
          workdir: req.workdir,
          tty: req.tty,
          attachStdin: req.attach_stdin,
          fifos: {},
          stream: detach ? undefined : stdioOf(call, (m) => m.cmd),
          detach,
        });
        if (call.cancelled()) return;
        await call.send({ finish: true });
        call.setTrailers(streamTrailers(0, '', r.exitCode));
      } catch (err) {
        const f = failure(err);
        await call.send({ finish: true });
        call.setTrailers(streamTrailers(f.cc, f.errmsg));
      }
    },
  };
}
