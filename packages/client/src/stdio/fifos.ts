import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { close, constants as fsc, mkdirSync, open, openSync, closeSync, rmdirSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { CLIENT_RUN_DIR } from '@isula/protocol';

/*
 * Local stdio of `run` (not detached) and `start -a`, the way upstream's client does it over the unix
 * socket: the client makes three FIFOs under /var/run/isula/<container>/start-<pid>-<rand>/, opens
 * its ends first (non-blocking, so no open waits for the daemon), passes the paths in
 * StartRequest.stdin/stdout/stderr, and copies its own stdin into in-fifo and out-fifo/err-fifo to
 * its stdout/stderr until the daemon closes them. The FIFOs are pipes to libuv (net.Socket over
 * the fd: epoll, no thread pool), and a read end opened before any writer does not report EOF until
 * a writer has come and gone.
 *
 * TTY mode (-t): the caller (stdio/attach.ts with stdio/tty.ts) puts the local terminal in raw mode,
 * forwards the window size through Resize and detaches on ctrl-p ctrl-q; the bytes pass unchanged.
 */

export interface FifoPaths {
  /** The per-start directory holding the FIFOs. */
  dir: string;
  stdin?: string;
  stdout?: string;
  stderr?: string;
}

export interface StdioStreams {
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function mkfifo(paths: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '0600', ...paths], (err, _stdout, stderr) => {
      if (err) reject(new Error(`Failed to create console fifo: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/**
 * Creates `<runDir>/<name>/<kind>-<pid>-<rand>/` (0770) with `in-fifo` / `out-fifo` / `err-fifo`
 * (0600) for the streams asked for. On failure nothing is left behind.
 */
export async function createFifos(
  name: string,
  want: { stdin: boolean; stdout: boolean; stderr: boolean },
  kind = 'start',
  runDir: string = CLIENT_RUN_DIR,
): Promise<FifoPaths> {
  const dir = join(runDir, name, `${kind}-${process.pid}-${randomBytes(4).readUInt32BE(0)}`);
  mkdirSync(dir, { recursive: true, mode: 0o770 });
  const out: FifoPaths = { dir };
  if (want.stdin) out.stdin = join(dir, 'in-fifo');
  if (want.stdout) out.stdout = join(dir, 'out-fifo');
  if (want.stderr) out.stderr = join(dir, 'err-fifo');
  const paths = [out.stdin, out.stdout, out.stderr].filter((p): p is string => p !== undefined);
  try {
    if (paths.length > 0) await mkfifo(paths);
  } catch (err) {
    removeFifos(out);
    throw err;
  }
  return out;
}

/** Removes the per-start directory (and the container's directory above it when that is now empty). */
export function removeFifos(f: FifoPaths): void {
  try {
    rmSync(f.dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
  try {
    // Only removes an empty directory: another client's FIFOs for the same container stay.
    rmdirSync(join(f.dir, '..'));
  } catch {
    /* not empty, or gone */
  }
}

function pipeFromFd(path: string, flags: number, readable: boolean): Socket {
  const fd = openSync(path, flags | fsc.O_NONBLOCK);
  try {
    return new Socket({ fd, readable, writable: !readable });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Local stdin into in-fifo. The FIFO's write end is opened blocking (in the thread pool): it
 * completes once the daemon has opened its reader, so input written and closed early (a pipe that
 * ends at once) is never lost in a FIFO nobody reads yet. Our only writer is closed once stdin has
 * ended and everything went out: the daemon then sees EOF. `stop` also releases a pending open.
 */
export function stdinToFifo(path: string, source: NodeJS.ReadableStream): { stop: () => void } {
  let stopped = false;
  let sock: Socket | undefined;
  let opened = false;
  const release = () => {
    source.pause();
    // Local stdin must not keep the process alive once the process is gone.
    (source as unknown as { destroy?: () => void }).destroy?.();
  };
  open(path, fsc.O_WRONLY, (err, fd) => {
    opened = true;
    if (err) return;
    if (stopped) {
      close(fd, () => undefined);
      return;
    }
    const out = new Socket({ fd, readable: false, writable: true });
    sock = out;
    out.on('error', () => {
      stopped = true;
      release();
    });
    source.on('data', (chunk: Buffer | string) => {
      if (!out.destroyed && !out.write(chunk)) {
        source.pause();
        out.once('drain', () => source.resume());
      }
    });
    source.once('end', () => {
      if (out.destroyed) return;
      // A FIFO has no shutdown(): close our only writer once everything went out.
      if (out.writableLength === 0) out.destroy();
      else out.once('drain', () => out.destroy());
    });
    source.resume();
  });
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      sock?.destroy();
      release();
      if (!opened) {
        // The daemon never opened its end: open it ourselves so the pending open completes.
        open(path, fsc.O_RDONLY | fsc.O_NONBLOCK, (err, fd) => {
          if (!err) setTimeout(() => close(fd, () => undefined), 100);
        });
      }
    },
  };
}

/** The copying between the local streams and the FIFOs; `done` settles once both outputs hit EOF. */
export class FifoCopier {
  private readonly sockets: Socket[] = [];
  private lastOutput = Date.now();
  private input: { stop: () => void } | undefined;
  /** Resolves once every attached output stream has reached EOF (or was closed by `close`). */
  readonly done: Promise<void>;

  /** Opens the client ends of the output FIFOs; call before the request so the daemon finds readers. */
  constructor(
    readonly fifos: FifoPaths,
    private readonly io: StdioStreams,
  ) {
    const ends: Promise<void>[] = [];
    try {
      if (fifos.stdout) ends.push(this.output(fifos.stdout, io.stdout));
      if (fifos.stderr) ends.push(this.output(fifos.stderr, io.stderr));
    } catch (err) {
      this.close();
      throw err;
    }
    this.done = Promise.all(ends).then(() => undefined);
  }

  private output(path: string, sink: NodeJS.WritableStream): Promise<void> {
    const s = pipeFromFd(path, fsc.O_RDONLY, true);
    this.sockets.push(s);
    return new Promise((resolve) => {
      s.on('data', (chunk: Buffer) => {
        this.lastOutput = Date.now();
        if (!sink.write(chunk)) {
          s.pause();
          sink.once('drain', () => s.resume());
        }
      });
      s.once('end', resolve);
      s.once('close', () => resolve());
      s.once('error', () => resolve());
    });
  }

  /** Starts copying local stdin into in-fifo (only when stdin is attached); the FIFO is closed at stdin EOF. */
  startStdin(): void {
    if (!this.fifos.stdin || !this.io.stdin || this.input) return;
    this.input = stdinToFifo(this.fifos.stdin, this.io.stdin);
  }

  /**
   * Waits for the outputs to reach EOF, giving up once no output has come for `idleMs`; true when
   * they did reach EOF.
   */
  async drain(idleMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const since = Date.now();
    const idle = new Promise<boolean>((resolve) => {
      const check = () => {
        const quiet = Date.now() - Math.max(this.lastOutput, since);
        if (quiet >= idleMs) resolve(false);
        else timer = setTimeout(check, idleMs - quiet);
      };
      check();
    });
    try {
      return await Promise.race([this.done.then(() => true), idle]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops all copying and closes every FIFO end (idempotent). */
  close(): void {
    this.input?.stop();
    for (const s of this.sockets) s.destroy();
  }
}

/**
 * Removes `fifos` when the process is interrupted (SIGINT/SIGTERM/SIGHUP) while attached, then dies
 * of the same signal as it would have. Returns the function that uninstalls the handlers.
 */
export function cleanupOnSignals(cleanup: () => void): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((sig) => {
    const h = () => {
      uninstall();
      try {
        cleanup();
      } finally {
        process.kill(process.pid, sig);
      }
    };
    process.once(sig, h);
    return [sig, h] as const;
  });
  const uninstall = () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
  return uninstall;
}
