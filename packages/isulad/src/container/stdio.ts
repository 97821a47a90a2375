import { close, constants as fsConstants } from 'node:fs';
import { Socket } from 'node:net';
import { Frame, FrameDecoder, connectAttach, frame, openFd } from '../runtime/monitor';

/** The client side of a start/attach: FIFO paths as upstream's client passes them in StartRequest. */
export interface ClientFifos {
  stdin?: string;
  stdout?: string;
  stderr?: string;
}

/** How long a client may take to open its end of a FIFO before isulad gives up on it. */
const FIFO_OPEN_TIMEOUT_MS = 10_000;

/**
 * Opens a client FIFO. A non-blocking attempt first (the common case: the client already has its
 * end open); otherwise a blocking open in the thread pool, released after a timeout by opening the
 * other end ourselves, so a client that vanished never pins a thread.
 */
async function openFifo(path: string, write: boolean): Promise<number | undefined> {
  if (write) {
    try {
      return await openFd(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Opening the opposite end completes the blocked open; both are closed right after.
    void openFd(path, (write ? fsConstants.O_RDONLY : fsConstants.O_WRONLY) | fsConstants.O_NONBLOCK)
      .then((fd) => setTimeout(() => close(fd, () => undefined), 1000))
      .catch(() => undefined);
  }, FIFO_OPEN_TIMEOUT_MS);
  try {
    const fd = await openFd(path, write ? fsConstants.O_WRONLY : fsConstants.O_RDONLY);
    if (timedOut) {
      close(fd, () => undefined);
      return undefined;
    }
    return fd;
  } finally {
    clearTimeout(timer);
  }
}

function socketOf(fd: number, writable: boolean): Socket {
  return new Socket({ fd, readable: !writable, writable });
}

/**
 * Bridges a client's FIFOs and the container's monitor: output frames go to the stdout/stderr
 * FIFOs (pausing the monitor socket while a FIFO is full: a slow reader slows the container, it does
 * not grow the daemon), stdin bytes become stdin frames, and stdin EOF closes the container's stdin.
 * Resolves once the FIFOs are open and the monitor connection is up, before the container starts,
 * so no output is lost; `done` settles when the container's output has ended.
 */
export async function bridgeFifos(stateDir: string, fifos: ClientFifos, opts: { closeStdinAtEof?: boolean } = {}): Promise<{ done: Promise<number | undefined> }> {
  // A pty has no half-close: for a tty the client's stdin ending means it left (ctrl-p ctrl-q
  // detach), and the container keeps its stdin for the next attach.
  const closeStdinAtEof = opts.closeStdinAtEof ?? true;
  const [outFh, errFh] = await Promise.all([fifos.stdout ? openFifo(fifos.stdout, true) : undefined, fifos.stderr ? openFifo(fifos.stderr, true) : undefined]);
  const out = outFh !== undefined ? socketOf(outFh, true) : undefined;
  const err = errFh !== undefined ? socketOf(errFh, true) : undefined;
  for (const s of [out, err]) s?.on('error', () => undefined);
  const mon = await connectAttach(stateDir);
  // stdin is opened without blocking the start: the client may open its end only once started.
  if (fifos.stdin) {
    void openFifo(fifos.stdin, false).then(
      (fd) => {
        if (fd === undefined) return;
        const input = socketOf(fd, false);
        input.on('data', (chunk: Buffer) => {
          if (!mon.destroyed) mon.write(frame(Frame.STDIN, chunk));
        });
        const close = () => {
          if (closeStdinAtEof && !mon.destroyed) mon.write(frame(Frame.STDIN));
        };
        input.once('end', close);
        input.on('error', () => undefined);
        mon.once('close', () => input.destroy());
      },
      () => undefined,
    );
  }
  const decoder = new FrameDecoder();
  const done = new Promise<number | undefined>((resolve) => {
    let exitCode: number | undefined;
    mon.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (type, payload) => {
        const target = type === Frame.STDOUT ? out : type === Frame.STDERR ? err : undefined;
        if (target && !target.destroyed && !target.write(payload)) {
          mon.pause();
          target.once('drain', () => mon.resume());
        }
        if (type === Frame.EXIT && payload.length >= 4) exitCode = payload.readInt32BE(0);
      });
    });
    const finish = () => {
      let pending = 0;
      const end = (s: Socket | undefined) => {
        if (!s || s.destroyed) return;
        pending++;
        s.end(() => {
          s.destroy();
          if (--pending === 0) resolve(exitCode);
        });
      };
      end(out);
      end(err);
      if (pending === 0) resolve(exitCode);
    };
    mon.once('close', finish);
    mon.on('error', () => undefined);
  });
  return { done };
}

/**
 * A client's stdio as gRPC messages (Attach, RemoteStart, RemoteExec): stdin chunks come in with
 * `finish` marking the end of the client's stdin; output goes out through `send`, which resolves
 * once the client can take more.
 */
export interface StdioStream {
  /** Incoming stdin; ends when the client half-closes, throws when it goes away (cancel). */
  input: AsyncIterable<{ data: Buffer; finish: boolean }>;
  send(kind: 'stdout' | 'stderr', data: Buffer): Promise<void>;
  /** Settles when the client cancels the call or its connection is lost. */
  gone: Promise<void>;
}

export interface StreamBridge {
  /** Settles once the monitor's output has ended and was handed to the client: the exit frame's code. */
  done: Promise<number | undefined>;
  /** Settles when the client went away (cancelled) before the output ended. */
  clientGone: Promise<void>;
  /** Drops the monitor connection (the process runs on; its output is no longer forwarded). */
  release(): void;
}

/**
 * Bridges a message stream and the monitor behind `stateDir` on one attach connection. Output
 * frames become `send`s with the monitor socket paused while a send waits (a slow client slows the
 * process, it never grows the daemon); stdin chunks become stdin frames, written with the socket's
 * back-pressure honoured. `finish` (or the client half-closing) closes the process's stdin when
 * `closeStdinAtEof`; otherwise it only ends this client's input (a tty, or a later attach).
 */
export async function bridgeStream(stateDir: string, s: StdioStream, opts: { stdin: boolean; output: boolean; closeStdinAtEof: boolean }): Promise<StreamBridge> {
  const mon = await connectAttach(stateDir);
  mon.on('error', () => undefined);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    mon.destroy();
  };

  const done = new Promise<number | undefined>((resolve) => {
    const decoder = new FrameDecoder();
    let exitCode: number | undefined;
    let pending = 0;
    let lastSend: Promise<void> = Promise.resolve();
    mon.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (type, payload) => {
        if (type === Frame.EXIT && payload.length >= 4) exitCode = payload.readInt32BE(0);
        if ((type !== Frame.STDOUT && type !== Frame.STDERR) || !opts.output || payload.length === 0) return;
        pending++;
        mon.pause();
        // The payload is a view of the read; send serializes it at once, so no copy is needed.
        lastSend = s.send(type === Frame.STDOUT ? 'stdout' : 'stderr', payload).then(() => {
          if (--pending === 0 && !mon.destroyed) mon.resume();
        });
      });
    });
    // What was already sent goes out before `done`.
    mon.once('close', () => void lastSend.then(() => resolve(exitCode)));
  });

  // Input runs on its own; the client leaving is seen through `gone` (also after a half-close).
  void (async () => {
    let open = opts.stdin;
    const closeStdin = () => {
      if (open && opts.closeStdinAtEof && !mon.destroyed) mon.write(frame(Frame.STDIN));
      open = false;
    };
    try {
      for await (const m of s.input) {
        if (released) break;
        if (open && m.data.length > 0 && !mon.destroyed && !mon.write(frame(Frame.STDIN, m.data))) {
          await new Promise<void>((r) => {
            mon.once('drain', r);
            mon.once('close', r);
          });
        }
        if (m.finish) closeStdin();
      }
      closeStdin();
    } catch {
      /* the client cancelled: `gone` settles */
    }
  })();
  const clientGone = s.gone;
  return { done, clientGone, release };
}

/**
 * Connects a client's stdio to the monitor behind `stateDir` while the monitor holds the output
 * (before the process runs, so nothing is lost). `tty`: the process has a terminal.
 */
export type StdioAttacher = (stateDir: string, o: { tty: boolean }) => Promise<void>;

/** The attacher of a local client's FIFOs (Start's stdin/stdout/stderr paths); none without FIFOs. */
export function fifoAttacher(fifos: ClientFifos): StdioAttacher | undefined {
  if (!fifos.stdin && !fifos.stdout && !fifos.stderr) return undefined;
  return async (stateDir, { tty }) => {
    await bridgeFifos(stateDir, fifos, { closeStdinAtEof: !tty });
  };
}
