import { randomBytes } from 'node:crypto';
import { encodeRemoteExec, MD_REMOTE_EXEC, methodPath } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import { checkStreamTrailers } from './attach';
import { checkInBand, type IsulaClient } from './client';
import { cleanupOnSignals, createFifos, FifoCopier, removeFifos, stdinToFifo, type FifoPaths } from './stdio/fifos';
import { openStdioSession, type StdioMessages } from './stdio/stream-session';
import { enterRawMode, forwardWindowSize, terminalSize } from './stdio/tty';

/*
 * `containers.ContainerService` Exec, RemoteExec and Resize as SDK functions. Exec is unary and
 * answers once the process has exited (with its exit code), or at once for a detached exec; the
 * process's stdio travels through the FIFOs named in the request (see stdio/fifos.ts, kind
 * `exec`). `execAttached` picks FIFOs or the RemoteExec stream by host. Resize with `suffix` = the
 * exec id sizes that exec's pty ('' = the container's).
 */

const SERVICE = 'containers.ContainerService';

export type ExecRequest = c.ExecRequest;

export interface ExecResult {
  pid: number;
  exitCode: number;
}

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: any): T;
}

function unary<Req, Res>(name: string, request: Codec<Req>, response: Codec<Res>) {
  return {
    path: methodPath(SERVICE, name),
    requestStream: false as const,
    responseStream: false as const,
    encode: (m: Req) => request.encode(m).finish(),
    decode: (b: Uint8Array) => response.decode(b),
    createRequest: (p?: unknown) => request.fromPartial(p ?? {}),
  };
}

const EXEC = unary('Exec', c.ExecRequest, c.ExecResponse);
const RESIZE = unary('Resize', c.ResizeRequest, c.ResizeResponse);

async function invoke<Req, Res>(client: IsulaClient, method: ReturnType<typeof unary<Req, Res>>, request: Partial<Req>): Promise<Res> {
  const call = client.call as unknown as (m: typeof method, r: Partial<Req>) => Promise<Res>;
  return checkInBand(await call.call(client, method, request));
}

/** Runs a process in a running container; rejects with DaemonError on an in-band failure. */
export async function execInContainer(client: IsulaClient, req: Partial<ExecRequest>): Promise<ExecResult> {
  const res = await invoke(client, EXEC, c.ExecRequest.fromPartial(req));
  return { pid: res.pid, exitCode: res.exitCode };
}

/** Sets the pty size of container `id` (suffix '') or of its exec `suffix`. */
export async function resizeTty(client: IsulaClient, id: string, suffix: string, height: number, width: number): Promise<void> {
  await invoke(client, RESIZE, { id, suffix, height, width });
}

const REMOTE_EXEC_PATH = methodPath(SERVICE, 'RemoteExec');
const REMOTE_EXEC_MESSAGES: StdioMessages = {
  encodeStdin: (data) => c.RemoteExecRequest.encode({ cmd: [data], finish: false }).finish(),
  encodeFinish: () => c.RemoteExecRequest.encode({ cmd: [], finish: true }).finish(),
  decode: (m) => c.RemoteExecResponse.decode(m),
};

export interface AttachedExecOptions {
  /** Full container id (the FIFO directory is named after it). */
  containerId: string;
  argv: string[];
  env?: string[];
  user?: string;
  workdir?: string;
  /** The process gets a pty (`-t`): stdout only, local terminal raw while attached, window size forwarded. */
  tty: boolean;
  /** Local stdin goes to the process (`-i`); its end closes the process's stdin. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Exec id; a random one by default. */
  suffix?: string;
  /** Where the FIFO directories go (unix hosts; default /var/run/isula). */
  runDir?: string;
}

/**
 * Runs a process in a running container with the local stdio attached and resolves with its exit
 * code, the way upstream's client does: on a unix socket host through FIFOs under
 * /var/run/isula/<id>/exec-<pid>-<n>/ named in the unary Exec (which answers once the process has
 * ended); on a tcp host through the RemoteExec stream (the request as JSON in `isulad-remote-exec`,
 * the exit code in the trailers). With `tty` the window size goes to the exec's pty first (so it
 * starts with it) and on every SIGWINCH. Rejects with DaemonError on the daemon's refusal.
 */
export async function execAttached(client: IsulaClient, o: AttachedExecOptions): Promise<number> {
  const suffix = o.suffix ?? randomBytes(32).toString('hex');
  const raw = o.tty && o.stdin ? enterRawMode(o.stdin) : undefined;
  let stopResize: (() => void) | undefined;
  try {
    if (o.tty) {
      const size = terminalSize(o.stdout);
      if (size) await resizeTty(client, o.containerId, suffix, size.rows, size.cols).catch(() => undefined);
      stopResize = forwardWindowSize(client, o.containerId, o.stdout, suffix);
    }
    return client.endpoint.kind === 'tcp' ? await remoteExec(client, o, suffix) : await fifoExec(client, o, suffix);
  } finally {
    stopResize?.();
    raw?.restore();
  }
}

async function remoteExec(client: IsulaClient, o: AttachedExecOptions, suffix: string): Promise<number> {
  const request = encodeRemoteExec({
    container_id: o.containerId,
    tty: o.tty,
    open_stdin: o.stdin !== undefined,
    attach_stdin: o.stdin !== undefined,
    attach_stdout: true,
    attach_stderr: !o.tty,
    argv: o.argv,
    env: o.env ?? [],
    user: o.user ?? '',
    workdir: o.workdir ?? '',
    suffix,
  });
  const session = openStdioSession(client, {
    path: REMOTE_EXEC_PATH,
    metadata: { [MD_REMOTE_EXEC]: request },
    messages: REMOTE_EXEC_MESSAGES,
    stdin: o.stdin,
    stdout: o.stdout,
    stderr: o.stderr,
  });
  const end = await session.done;
  if (end.reason !== 'ended') return 0;
  return checkStreamTrailers(end.trailers).exitCode ?? 0;
}

async function fifoExec(client: IsulaClient, o: AttachedExecOptions, suffix: string): Promise<number> {
  const fifos: FifoPaths = await createFifos(o.containerId, { stdin: o.stdin !== undefined, stdout: true, stderr: !o.tty }, 'exec', o.runDir);
  let copier: FifoCopier | undefined;
  let input: { stop: () => void } | undefined;
  const cleanup = () => {
    input?.stop();
    copier?.close();
    removeFifos(fifos);
  };
  const uninstall = cleanupOnSignals(cleanup);
  try {
    copier = new FifoCopier({ dir: fifos.dir, stdout: fifos.stdout, stderr: fifos.stderr }, { stdout: o.stdout, stderr: o.stderr });
    const pending = execInContainer(client, {
      containerId: o.containerId,
      tty: o.tty,
      openStdin: o.stdin !== undefined,
      attachStdin: o.stdin !== undefined,
      attachStdout: true,
      attachStderr: !o.tty,
      stdin: fifos.stdin ?? '',
      stdout: fifos.stdout ?? '',
      stderr: fifos.stderr ?? '',
      argv: o.argv,
      env: o.env ?? [],
      user: o.user ?? '',
      workdir: o.workdir ?? '',
      suffix,
    });
    // Opened blocking: it completes once the daemon reads (see stdinToFifo).
    if (fifos.stdin && o.stdin) input = stdinToFifo(fifos.stdin, o.stdin);
    const { exitCode } = await pending;
    await copier.drain(2000);
    return exitCode;
  } finally {
    uninstall();
    cleanup();
  }
}
