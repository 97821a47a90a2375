import type { IsulaClient } from '../client';
import { startContainer, waitContainer, WaitCondition } from '../containers';
import { cleanupOnSignals, createFifos, FifoCopier, removeFifos, type FifoPaths, type StdioStreams } from './fifos';

/** Attaching (`run` without -d, `start -a`) needs the RemoteStart stream on a tcp host, which is not there yet. */
export class AttachUnsupportedError extends Error {
  constructor() {
    super('Attaching over tcp is not supported yet');
    this.name = 'AttachUnsupportedError';
  }
}

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
}

/**
 * Starts a container with its standard streams connected to the local ones through FIFOs (unix
 * socket hosts), waits for it, and resolves with its exit code once its output is drained. The
 * FIFO directory is removed in every case, signals included.
 */
export async function startAttached(client: IsulaClient, o: AttachedStartOptions): Promise<number> {
  if (client.endpoint.kind === 'tcp') throw new AttachUnsupportedError();
  let fifos: FifoPaths;
  try {
    fifos = await createFifos(o.container, { stdin: o.stdin, stdout: true, stderr: true }, 'start', o.runDir);
  } catch (err) {
    throw new AttachedStartError('prepare', err);
  }
  let copier: FifoCopier | undefined;
  const cleanup = () => {
    copier?.close();
    removeFifos(fifos);
  };
  const uninstall = cleanupOnSignals(cleanup);
  try {
    try {
      copier = new FifoCopier(fifos, o.io);
    } catch (err) {
      throw new AttachedStartError('prepare', err);
    }
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
    copier.startStdin();
    let exitCode: number;
    try {
      exitCode = await waitContainer(client, o.container, o.waitCondition ?? WaitCondition.STOPPED);
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
