/**
 * What the CRI streaming server runs when a client connects to an Exec, Attach or PortForward URL:
 * - exec: one more process through the container's runtime (container/exec.ts), with the session's
 *   streams as its stdio and the client's terminal sizes sent to its pty;
 * - attach: one more client of the container's monitor (as `isula attach`);
 * - port-forward: `nsenter -t <pause pid> -n busybox nc 127.0.0.1 <port>` (the daemon cannot enter
 *   another network namespace itself; busybox-static is on the host as for the test images), piping
 *   the client's stream both ways with half-close.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Containers } from '../container/containers';
import { execInContainer, rememberSize } from '../container/exec';
import { bridgeStream } from '../container/stdio';
import { sendResize } from '../runtime/monitor';
import { isRunning, type CriIndex } from './context';
import { failedPrecondition } from './errors';
import { containerMeta } from './labels';
import { sessionStdioStream, type AttachRequestInfo, type ExecRequestInfo, type SessionIO, type StreamingRuntime, type TerminalSize } from './streaming';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/usr/local/bin/busybox'];

function busybox(): string {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p)) ?? 'busybox';
}

/**
 * Forwards the session's terminal sizes to the monitor behind `dir` until the session ends. A size
 * that arrives before the monitor listens (an exec still starting) goes to `early` (the exec's
 * initial pty size) and is sent again once the monitor's socket is there.
 */
function pumpResizes(io: SessionIO, dir: string, early?: (size: TerminalSize) => void): { stop(): void } {
  let stopped = false;
  let latest: TerminalSize | undefined;
  let sent: TerminalSize | undefined;
  let waiting = false;
  const sock = join(dir, 'attach.sock');
  const flush = async () => {
    if (waiting) return;
    waiting = true;
    try {
      for (let i = 0; i < 400 && !stopped && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
      while (!stopped && latest !== undefined && latest !== sent && existsSync(sock)) {
        const size = latest;
        await sendResize(dir, size.height, size.width).catch(() => undefined);
        sent = size;
      }
    } finally {
      waiting = false;
    }
    // A size that came while the last one was being sent.
    if (!stopped && latest !== sent && existsSync(sock)) void flush();
  };
  void (async () => {
    try {
      for await (const size of io.resize) {
        if (stopped) break;
        latest = size;
        if (!existsSync(sock)) early?.(size);
        void flush();
      }
    } catch {
      /* the session ended */
    }
  })();
  return {
    stop: () => {
      stopped = true;
    },
  };
}

export function criStreamingRuntime(box: Containers, index: CriIndex): StreamingRuntime {
  const running = (id: string) => {
    const rec = index.mustContainer(id);
    if (!isRunning(rec)) throw failedPrecondition(`container ${rec.id} is not running`);
    return rec;
  };
  return {
    async exec(req: ExecRequestInfo, io: SessionIO): Promise<number> {
      const rec = running(req.containerId);
      const suffix = randomBytes(16).toString('hex');
      // The pty starts with the client's size (OCI consoleSize) when it came first; sizes go to its monitor.
      const remember = (size: TerminalSize) => size.height > 0 && size.width > 0 && rememberSize(rec.id, suffix, size.height, size.width);
      const first = io.resize.current;
      if (req.tty && first) remember(first);
      const pump = req.tty ? pumpResizes(io, join(box.stateDir(rec), 'exec', suffix), remember) : undefined;
      const r = await execInContainer(box, rec.id, {
        suffix,
        argv: [...req.cmd],
        env: [],
        user: '',
        workdir: '',
        tty: req.tty,
        attachStdin: req.stdin,
        fifos: {},
        stream: sessionStdioStream(io),
        detach: false,
      }).finally(() => pump?.stop());
      return r.exitCode;
    },

    async attach(req: AttachRequestInfo, io: SessionIO): Promise<void> {
      const rec = running(req.containerId);
      const meta = containerMeta(rec);
      const dir = box.stateDir(rec);
      const pump = meta.tty ? pumpResizes(io, dir) : undefined;
      const first = io.resize.current;
      if (pump && first) await sendResize(dir, first.height, first.width).catch(() => undefined);
      const bridge = await bridgeStream(dir, sessionStdioStream(io), {
        stdin: req.stdin,
        output: req.stdout || req.stderr,
        // kubelet's stdin_once: the first attach that closes its stdin closes the container's.
        closeStdinAtEof: meta.stdinOnce && !meta.tty,
      });
      const end = await Promise.race([bridge.done.then(() => 'ended' as const), bridge.clientGone.then(() => 'gone' as const)]);
      pump?.stop();
      if (end === 'gone') bridge.release();
    },

    portForward(podSandboxId: string, port: number, stream: Duplex): Promise<void> {
      const sb = index.mustSandbox(podSandboxId);
      if (!isRunning(sb)) throw failedPrecondition(`pod sandbox ${sb.id} is not ready`);
      return new Promise<void>((resolve, reject) => {
        const args = ['-t', String(sb.state.pid), '-n', '--', busybox(), 'nc', '127.0.0.1', String(port)];
        // Host networking: the pause container's namespace is the host's, entering it changes nothing.
        const child = spawn('nsenter', args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          if (err.length < 4096) err += c.toString();
        });
        child.stdin.on('error', () => undefined);
        child.stdout.on('error', () => undefined);
        stream.on('error', () => child.kill('SIGKILL'));
        stream.once('close', () => child.kill('SIGKILL'));
        stream.pipe(child.stdin);
        child.stdout.pipe(stream);
        child.once('error', (e) => reject(new Error(`port forward: cannot run nsenter: ${e.message}`)));
        child.once('close', (code, signal) => {
          if (code === 0 || signal === 'SIGKILL') resolve();
          else reject(new Error(err.trim() || `port forward to ${port} failed (exit ${code})`));
        });
      });
    },
  };
}
