import { methodPath } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import { checkInBand, type IsulaClient } from '../client';
import { GrpcConnection } from '../transport/h2-lite';
import { startContainer, waitContainer, WaitCondition } from '../containers';
import { PassThrough } from 'node:stream';
import { cleanupOnSignals, createFifos, FifoCopier, removeFifos, type FifoPaths, type StdioStreams } from './fifos';
import { DetachKeyDetector, enterRawMode, forwardWindowSize, type RawMode } from './tty';
import { attachHeaders, checkStreamTrailers } from '../attach';
import { openStdioSession, type StdioMessages } from './stream-session';

const REMOTE_START_PATH = methodPath('containers.ContainerService', 'RemoteStart');
const REMOTE_START_MESSAGES: StdioMessages = {
  encodeStdin: (data) => c.RemoteStartRequest.encode({ stdin: data, finish: false }).finish(),
  encodeFinish: () => c.RemoteStartRequest.encode({ stdin: Buffer.alloc(0), finish: true }).finish(),
  decode: (m) => c.RemoteStartResponse.decode(m),
};

/** Which step of an attached start failed, with the original error (DaemonError, ConnectError...). */
export class AttachedStartError extends Error {
  constructor(
    readonly phase: 'prepare' | 'start' | 'wait',
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'AttachedStartError';
  }
}

export interface AttachedStartOptions {
  /** Container id or name: used for the FIFO directory, Start and Wait. */
  container: string;
  /** Attach local stdin (`-i`). */
  stdin: boolean;
  /** Wait for the container to be removed (`--rm`) instead of stopped. */
  waitCondition?: WaitCondition;
  /** Local streams; `stdin` is read only when `stdin` is true. */
  io: StdioStreams;
  /** How long to wait for output still in flight once the container has exited (ms of silence). */
  drainIdleMs?: number;
  /** Where the FIFO directories go (default /var/run/isula). */
  runDir?: string;
  /**
   * The container has a tty (`-t`): its window size follows the local one (Resize RPC, failures
   * ignored), and with stdin attached the local terminal is raw while attached and ctrl-p ctrl-q
   * detaches (FIFOs closed, resolves 0, the container keeps running).
   */
  tty?: boolean;
}

/**
 * Wait on a connection of its own, so that a client leaving with ctrl-p ctrl-q can abandon it (a
 * pending call on the shared connection would keep the process alive).
 */
function cancellableWait(client: IsulaClient, id: string, condition: WaitCondition): { code: Promise<number>; cancel(): void } {
  const conn = new GrpcConnection(client.endpoint);
  let answer: c.WaitResponse | undefined;
  const call = conn.stream(methodPath('containers.ContainerService', 'Wait'), { onMessage: (m) => (answer = c.WaitResponse.decode(m)) });
  call.write(c.WaitRequest.encode(c.WaitRequest.fromPartial({ id, condition })).finish());
  call.end();
  const code = call.done.then(
    () => {
      conn.close();
      if (!answer) throw new Error('the daemon sent no wait answer');
      return checkInBand(answer).exitCode;
    },
    (err: unknown) => {
      conn.close();
      throw err;
    },
  );
  return {
    code,
    cancel: () => {
      call.cancel();
      conn.close();
    },
  };
}

/**
 * Local stdin seen through the detach-key detector: the returned stream carries what is to be
 * forwarded; `detached` resolves once ctrl-p ctrl-q was typed. `stop` lets go of the real stdin.
 */
function detachFilter(input: NodeJS.ReadableStream): { stream: PassThrough; detached: Promise<void>; stop(): void } {
  const stream = new PassThrough();
  const detector = new DetachKeyDetector();
  let fire!: () => void;
  const detached = new Promise<void>((r) => (fire = r));
  const onData = (chunk: Buffer | string) => {
    const { forward, detach } = detector.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (forward.length > 0 && !stream.write(forward)) {
      input.pause();
      stream.once('drain', () => input.resume());
    }
    if (detach) fire();
  };
  const onEnd = () => stream.end();
  input.on('data', onData);
  input.once('end', onEnd);
  // Reading starts when the copier resumes the filtered stream.
  input.pause();
  const origResume = stream.resume.bind(stream);
  stream.resume = () => {
    input.resume();
    return origResume();
  };
  return {
    stream,
    detached,
    stop: () => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.pause();
      (input as unknown as { destroy?: () => void }).destroy?.();
    },
  };
}

/**
 * Starts a container with its standard streams connected to the local ones, waits for it, and
 * resolves with its exit code once its output is drained: through FIFOs on a unix socket host (the
 * FIFO directory is removed in every case, signals included), through the RemoteStart stream on a
 * tcp host.
 */
export async function startAttached(client: IsulaClient, o: AttachedStartOptions): Promise<number> {
  if (client.endpoint.kind === 'tcp') return startAttachedRemote(client, o);
  let fifos: FifoPaths;
  try {
    fifos = await createFifos(o.container, { stdin: o.stdin, stdout: true, stderr: true }, 'start', o.runDir);
  } catch (err) {
    throw new AttachedStartError('prepare', err);
  }
  let copier: FifoCopier | undefined;
  const filter = o.tty && o.stdin && o.io.stdin ? detachFilter(o.io.stdin) : undefined;
  const io: StdioStreams = filter ? { ...o.io, stdin: filter.stream } : o.io;
  let raw: RawMode | undefined;
  let stopResize: (() => void) | undefined;
  const cleanup = () => {
    stopResize?.();
    raw?.restore();
    filter?.stop();
    copier?.close();
    removeFifos(fifos);
  };
  const uninstall = cleanupOnSignals(cleanup);
  try {
    try {
      copier = new FifoCopier(fifos, io);
    } catch (err) {
      throw new AttachedStartError('prepare', err);
    }
    if (filter) raw = enterRawMode(o.io.stdin);
    try {
      await startContainer(client, o.container, {
        stdin: fifos.stdin,
        attachStdin: o.stdin,
        stdout: fifos.stdout,
        attachStdout: true,
        stderr: fifos.stderr,
        attachStderr: true,
      });
    } catch (err) {
      throw new AttachedStartError('start', err);
    }
    if (o.tty) stopResize = forwardWindowSize(client, o.container, o.io.stdout);
    copier.startStdin();
    let exitCode: number;
    const waiting = filter ? cancellableWait(client, o.container, o.waitCondition ?? WaitCondition.STOPPED) : undefined;
    waiting?.code.catch(() => undefined); // cancelled when the client detaches
    try {
      const first = waiting
        ? await Promise.race([waiting.code.then((code) => ({ code })), filter!.detached.then(() => undefined)])
        : { code: await waitContainer(client, o.container, o.waitCondition ?? WaitCondition.STOPPED) };
      if (first === undefined) {
        waiting?.cancel();
        return 0; // ctrl-p ctrl-q: leave, the container runs on
      }
      exitCode = first.code;
    } catch (err) {
      throw new AttachedStartError('wait', err);
    }
    await copier.drain(o.drainIdleMs ?? 2000);
    return exitCode;
  } finally {
    uninstall();
    cleanup();
  }
}

/**
 * RemoteStart (tcp hosts, as upstream's client): the daemon starts the container with this stream
 * as its stdio and ends the call once the output has ended (trailers `cc`/`errmsg` say whether the
 * start worked); then Wait gives the exit code. With a tty the window size follows the local one
 * from the moment the daemon answers (the container runs), and ctrl-p ctrl-q leaves.
 */
async function startAttachedRemote(client: IsulaClient, o: AttachedStartOptions): Promise<number> {
  const keys = o.tty === true && o.stdin && o.io.stdin !== undefined;
  const raw = keys ? enterRawMode(o.io.stdin) : undefined;
  let stopResize: (() => void) | undefined;
  let over = false;
  try {
    const session = openStdioSession(client, {
      path: REMOTE_START_PATH,
      metadata: attachHeaders(o.container, { stdin: o.stdin, stdout: true, stderr: true }),
      messages: REMOTE_START_MESSAGES,
      stdin: o.stdin ? o.io.stdin : undefined,
      stdout: o.io.stdout,
      stderr: o.io.stderr,
      detachKeys: keys,
    });
    if (o.tty) {
      session.headers.then(
        () => {
          if (!over) stopResize = forwardWindowSize(client, o.container, o.io.stdout);
        },
        () => undefined,
      );
    }
    let end;
    try {
      end = await session.done;
      if (end.reason === 'ended') checkStreamTrailers(end.trailers);
    } catch (err) {
      throw new AttachedStartError('start', err);
    }
    if (end.reason === 'detached') return 0; // ctrl-p ctrl-q: leave, the container runs on
    try {
      return await waitContainer(client, o.container, o.waitCondition ?? WaitCondition.STOPPED);
    } catch (err) {
      throw new AttachedStartError('wait', err);
    }
  } finally {
    over = true;
    stopResize?.();
    raw?.restore();
  }
}
