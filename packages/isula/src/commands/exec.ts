import { findIsulaCommand } from '@isula/argv';
import { cleanupOnSignals, createFifos, execInContainer, FifoCopier, inspectContainerJson, removeFifos, resizeTty, type FifoPaths, type IsulaClient } from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { describeFailure, requireRootFor, UsageError } from '../render/errors';

/*
 * `isula exec` over the local socket, as upstream's client does it: inspect the container for its
 * full id, make FIFOs under /var/run/isula/<id>/exec-<pid>-<n>/, send Exec (unary: it answers with
 * the exit code once the process has ended) and copy local stdio through the FIFOs meanwhile.
 * With -t the local terminal is raw while attached, and its size goes to the exec's pty first and
 * on every SIGWINCH (Resize with the exec id).
 */

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The local terminal in raw mode until `restore` (idempotent; also run at process exit). */
function rawTerminal(): () => void {
  const stdin = process.stdin as NodeJS.ReadStream;
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') return () => undefined;
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.removeListener('exit', restore);
    try {
      stdin.setRawMode(false);
    } catch {
      /* the terminal is gone */
    }
  };
  process.once('exit', restore);
  return restore;
}

/** Sends the local window size now and on SIGWINCH; returns the function that stops it. */
async function forwardSize(client: IsulaClient, id: string, suffix: string): Promise<() => void> {
  const out = process.stdout;
  if (!out.isTTY) return () => undefined;
  const send = () => {
    const [cols, rows] = out.getWindowSize();
    return resizeTty(client, id, suffix, rows, cols).catch(() => undefined);
  };
  await send();
  const onWinch = () => void send();
  process.on('SIGWINCH', onWinch);
  return () => process.removeListener('SIGWINCH', onWinch);
}

/**
 * The client's stdin into in-fifo. The FIFO's write end is opened blocking (in the thread pool):
 * it completes once the daemon has opened its reader, so input written and closed early (a pipe
 * that ends at once) is never dropped on a FIFO nobody reads yet. `stop` releases a pending open.
 */
function stdinToFifo(path: string, source: NodeJS.ReadableStream): { stop: () => void } {
  const fs = require('node:fs') as typeof import('node:fs');
  const { Socket } = require('node:net') as typeof import('node:net');
  let stopped = false;
  let sock: import('node:net').Socket | undefined;
  let opened = false;
  const release = () => {
    (source as unknown as { destroy?: () => void }).destroy?.();
  };
  fs.open(path, fs.constants.O_WRONLY, (err, fd) => {
    opened = true;
    if (err) return;
    if (stopped) {
      fs.close(fd, () => undefined);
      return;
    }
    sock = new Socket({ fd, readable: false, writable: true });
    sock.on('error', () => {
      stopped = true;
      release();
    });
    source.on('data', (chunk: Buffer | string) => {
      if (sock && !sock.destroyed && !sock.write(chunk)) {
        source.pause();
        sock.once('drain', () => source.resume());
      }
    });
    source.once('end', () => {
      const s = sock;
      if (!s || s.destroyed) return;
      // a FIFO has no shutdown(): close our only writer once everything went out
      if (s.writableLength === 0) s.destroy();
      else s.once('drain', () => s.destroy());
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
        // the daemon never opened its end: open it ourselves so the pending open completes
        fs.open(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, (err, fd) => {
          if (!err) setTimeout(() => fs.close(fd, () => undefined), 100);
        });
      }
    },
  };
}

export default class ExecCommand extends IsulaCommand {
  static override paths = [['exec']];
  static override spec = findIsulaCommand('exec')!;

  protected async run(ctx: CommandContext): Promise<number> {
    if (ctx.args.length < 2) throw new UsageError(`"isula exec" requires at least 2 argument(s).\nSee 'isula exec --help'.`, 125);
    requireRootFor('exec');
    const [name, ...argv] = ctx.args as [string, ...string[]];
    const detach = ctx.options.detach === true;
    const tty = ctx.options.tty === true;
    const interactive = ctx.options.interactive === true;
    const client = ctx.client();
    if (client.endpoint.kind === 'tcp') throw new UsageError('exec over tcp is not supported yet', 1);

    let id: string;
    try {
      id = (JSON.parse(await inspectContainerJson(client, name)) as { Id: string }).Id;
    } catch (err) {
      ctx.stderr.write(`${describeFailure(err).message}\n`);
      return 125;
    }
    const { randomBytes } = await import('node:crypto');
    const suffix = randomBytes(32).toString('hex');
    const request = {
      containerId: id,
      tty,
      openStdin: interactive,
      argv,
      env: list(ctx.options.env),
      user: text(ctx.options.user),
      workdir: text(ctx.options.workdir),
      suffix,
    };
    const fail = (err: unknown): number => {
      ctx.stderr.write(`${describeFailure(err).message}\n`);
      return 125;
    };
    if (detach) {
      try {
        await execInContainer(client, request);
        return 0;
      } catch (err) {
        return fail(err);
      }
    }

    let fifos: FifoPaths;
    try {
      fifos = await createFifos(id, { stdin: interactive, stdout: true, stderr: !tty }, 'exec');
    } catch (err) {
      return fail(err);
    }
    let copier: FifoCopier | undefined;
    let input: { stop: () => void } | undefined;
    let restoreTerminal: () => void = () => undefined;
    let stopResize: () => void = () => undefined;
    const cleanup = () => {
      stopResize();
      restoreTerminal();
      input?.stop();
      copier?.close();
      removeFifos(fifos);
    };
    const uninstall = cleanupOnSignals(cleanup);
    try {
      copier = new FifoCopier({ dir: fifos.dir, stdout: fifos.stdout, stderr: fifos.stderr }, { stdout: ctx.stdout, stderr: ctx.stderr });
      if (tty) {
        restoreTerminal = rawTerminal();
        stopResize = await forwardSize(client, id, suffix);
      }
      const pending = execInContainer(client, {
        ...request,
        attachStdin: interactive,
        attachStdout: true,
        attachStderr: !tty,
        stdin: fifos.stdin ?? '',
        stdout: fifos.stdout ?? '',
        stderr: fifos.stderr ?? '',
      });
      if (fifos.stdin) input = stdinToFifo(fifos.stdin, process.stdin);
      let exitCode: number;
      try {
        exitCode = (await pending).exitCode;
      } catch (err) {
        restoreTerminal();
        return fail(err);
      }
      await copier.drain(2000);
      return exitCode;
    } finally {
      uninstall();
      cleanup();
    }
  }
}
