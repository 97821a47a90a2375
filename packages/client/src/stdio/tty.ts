import type { IsulaClient } from '../client';
import { resizeTty } from '../exec';
export { DETACH_KEYS, DetachKeyDetector } from '@isula/protocol';

/*
 * The local terminal while attached to a container with a tty (`run -it`, `start -a`, `attach`):
 * raw mode (restored on every way out: normal end, SIGINT/SIGTERM/SIGHUP, process exit), the
 * detach sequence ctrl-p ctrl-q spotted in the keyboard bytes, and the window size forwarded
 * through the Resize RPC at start and on SIGWINCH.
 */

/** A stream that may be a terminal (process.stdin is a tty.ReadStream when it is one). */
interface MaybeTty {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** What `enterRawMode` returns: `restore` is idempotent. */
export interface RawMode {
  /** True when the stream was a terminal and is now raw. */
  readonly active: boolean;
  restore(): void;
}

/**
 * Puts `input` (a terminal) into raw mode until `restore()`; the previous mode also comes back when
 * the process exits or is killed by SIGINT/SIGTERM/SIGHUP (it then dies of the same signal). A
 * stream that is not a terminal is left alone (`active` false).
 */
export function enterRawMode(input: NodeJS.ReadableStream = process.stdin): RawMode {
  const tty = input as unknown as MaybeTty;
  if (!tty.isTTY || typeof tty.setRawMode !== 'function') return { active: false, restore: () => undefined };
  tty.setRawMode(true);
  let restored = false;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (sig: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, sig);
  };
  const handlers = signals.map((sig) => [sig, () => onSignal(sig)] as const);
  const onExit = () => restore();
  function restore() {
    if (restored) return;
    restored = true;
    for (const [sig, h] of handlers) process.removeListener(sig, h);
    process.removeListener('exit', onExit);
    try {
      tty.setRawMode!(false);
    } catch {
      /* the terminal is gone */
    }
  }
  for (const [sig, h] of handlers) process.once(sig, h);
  process.once('exit', onExit);
  return { active: true, restore };
}

/** The terminal's size (rows, columns), when `output` (else stdout, else stderr) is a terminal. */
export function terminalSize(output?: NodeJS.WritableStream): { rows: number; cols: number } | undefined {
  for (const s of [output, process.stdout, process.stderr]) {
    const t = s as unknown as { isTTY?: boolean; rows?: number; columns?: number } | undefined;
    if (t?.isTTY && t.rows && t.columns) return { rows: t.rows, cols: t.columns };
  }
  return undefined;
}

/**
 * Resize RPC (containers.ContainerService Resize: id, suffix '' for the container's own tty, or an
 * exec id, height, width). Rejects like other calls; callers forwarding window sizes ignore failures.
 */
export async function resizeContainer(client: IsulaClient, id: string, size: { rows: number; cols: number }, suffix = ''): Promise<void> {
  await resizeTty(client, id, suffix, size.rows, size.cols);
}

/**
 * Forwards the local window size to `id`'s tty now and on every SIGWINCH, ignoring failures (a
 * daemon without Resize must not break the session). Returns the function that stops it.
 */
export function forwardWindowSize(client: IsulaClient, id: string, output?: NodeJS.WritableStream, suffix = ''): () => void {
  let stopped = false;
  const send = () => {
    if (stopped) return;
    const size = terminalSize(output);
    if (size) resizeContainer(client, id, size, suffix).catch(() => undefined);
  };
  const onWinch = () => send();
  process.on('SIGWINCH', onWinch);
  send();
  return () => {
    stopped = true;
    process.removeListener('SIGWINCH', onWinch);
  };
}
