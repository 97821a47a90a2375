import { spawn } from 'node:child_process';
import { close as closeCb, constants as fsConstants, existsSync, open as openCb } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { OciRuntime } from './oci-runtime';
import { RuntimeError } from './oci-runtime';

/**
 * The per-container monitor (`packages/monitor`, C): one small process per container that runs the
 * OCI runtime's `create`, holds the container's stdio, writes its log and leaves the exit status in
 * `<state>/exit`. The contract is packages/monitor/PROTOCOL.md.
 */
export interface MonitorLaunch {
  id: string;
  bundle: string;
  stateDir: string;
  runtime: OciRuntime;
  terminal: boolean;
  stdin: boolean;
  /** Create and start in one runtime process (`run --detach`) instead of `create` alone. */
  start: boolean;
  /** Keep the container's output in its pipes until the first attach client connects (≤10 s). */
  holdOutput: boolean;
  /** No runtime `delete` at exit (no poststop hooks to run): isulad removes the cgroups itself. */
  skipDelete: boolean;
  /**
   * The container's log. `driver`: `json-file` (Docker's format at `path`, rotated by `maxSize`/`maxFile`),
   * `kubernetes` (the CRI log format kubelet reads, at the CRI `log_directory`/`log_path`; never rotated by
   * the monitor: kubelet renames the file and calls ReopenContainerLog, see `reopenLog`; an empty `path`
   * means no log, as in containerd), `syslog`, or `none`.
   */
  log: { driver: string; path: string; maxSize: number; maxFile: number; disabled: boolean; syslogTag?: string; syslogFacility?: string };
  /** Kill everything and fail when create takes longer (daemon `start-timeout`). */
  timeoutMs: number;
  /**
   * Exec mode (`isula exec`): run the OCI process in `process` inside the running container whose
   * runtime root is `runtimeRoot`; `bundle`, `start`, `skipDelete` and `log` are then ignored.
   */
  exec?: { process: string; runtimeRoot: string };
}

export interface MonitorStarted {
  monitorPid: number;
  /** The container's init pid (created, not yet started). */
  pid: number;
}

let monitorPath: string | undefined;

/** Where the monitor binary is: `ISULAD_MONITOR`, beside the daemon bundle in the repository, or installed. */
export function findMonitor(env: NodeJS.ProcessEnv = process.env): string {
  if (monitorPath !== undefined) return monitorPath;
  const candidates = [
    env.ISULAD_MONITOR,
    join(__dirname, '..', '..', 'monitor', 'build', 'isula-monitor'),
    join(dirname(process.execPath), 'isula-monitor'),
    '/usr/local/libexec/isula/isula-monitor',
  ].filter((p): p is string => typeof p === 'string' && p !== '');
  for (const p of candidates) {
    if (existsSync(p)) return (monitorPath = p);
  }
  throw new RuntimeError(`isula-monitor not found (looked in ${candidates.join(', ')})`);
}

export function monitorArgs(l: MonitorLaunch): string[] {
  if (l.exec) {
    const args = ['--exec', '--id', l.id, '--process', l.exec.process, '--state', l.stateDir, '--runtime', l.runtime.path, '--runtime-root', l.exec.runtimeRoot];
    for (const a of l.runtime.args) args.push('--runtime-arg', a);
    if (l.terminal) args.push('--terminal');
    if (l.stdin) args.push('--stdin');
    if (l.holdOutput) args.push('--hold-output');
    return args;
  }
  const args = ['--id', l.id, '--bundle', l.bundle, '--state', l.stateDir, '--runtime', l.runtime.path];
  for (const a of l.runtime.args) args.push('--runtime-arg', a);
  if (l.terminal) args.push('--terminal');
  if (l.stdin) args.push('--stdin');
  if (l.start) args.push('--start');
  if (l.holdOutput) args.push('--hold-output');
  if (l.skipDelete) args.push('--skip-delete');
  const driver = l.log.disabled || (l.log.driver === 'kubernetes' && l.log.path === '') ? 'none' : l.log.driver;
  if (driver === 'kubernetes') {
    args.push('--log-driver', 'kubernetes', '--log-path', l.log.path);
    return args;
  }
  args.push('--log-driver', driver === 'syslog' ? 'syslog' : driver === 'none' ? 'none' : 'json-file');
  if (driver === 'json-file') {
    args.push('--log-path', l.log.path, '--log-max-size', String(l.log.maxSize), '--log-max-file', String(l.log.maxFile));
  }
  if (driver === 'syslog') {
    if (l.log.syslogTag) args.push('--syslog-tag', l.log.syslogTag);
    if (l.log.syslogFacility) args.push('--syslog-facility', l.log.syslogFacility);
  }
  return args;
}

/** Starts the monitor and waits for its handshake (`ok <pid>` / `error <msg>` on fd 3). */
export function launchMonitor(l: MonitorLaunch): Promise<MonitorStarted> {
  const child = spawn(findMonitor(), monitorArgs(l), { cwd: l.stateDir, detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const sync = child.stdio[3] as Socket;
  return new Promise<MonitorStarted>((resolve, reject) => {
    let text = '';
    let settled = false;
    const done = (err: Error | undefined, v?: MonitorStarted) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sync.destroy();
      child.unref();
      if (err) reject(err);
      else resolve(v!);
    };
    const timer =
      l.timeoutMs > 0
        ? setTimeout(() => {
            // The monitor made itself a session leader: its group holds the runtime and the container.
            if (child.pid !== undefined) {
              try {
                process.kill(-child.pid, 'SIGKILL');
              } catch {
                /* already gone */
              }
            }
            done(new RuntimeError(`start container failed: runtime did not create the container within ${Math.round(l.timeoutMs / 1000)}s (start-timeout)`));
          }, l.timeoutMs)
        : undefined;
    child.once('error', (err) => done(new RuntimeError(`cannot run the monitor: ${err.message}`)));
    sync.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      if (line.startsWith('ok ')) done(undefined, { monitorPid: child.pid!, pid: Number(line.slice(3)) });
      else done(new RuntimeError(line.replace(/^error /, '') || 'runtime create failed'));
    });
    sync.on('error', () => undefined);
    sync.on('close', () => done(new RuntimeError(text.replace(/^error /, '').trim() || 'the monitor exited before creating the container')));
  });
}

export interface ExitStatus {
  code: number;
  finishedAt: string;
  /** False when the monitor vanished without recording a status (killed). */
  recorded: boolean;
}

/** Reads `<state>/exit` as the monitor left it: `<code> <RFC3339Nano>`. */
export async function readExit(stateDir: string): Promise<ExitStatus | undefined> {
  try {
    const text = (await readFile(join(stateDir, 'exit'), 'utf8')).trim();
    const [code, time] = text.split(' ');
    const n = Number(code);
    if (!Number.isInteger(n)) return undefined;
    return { code: n, finishedAt: time ?? new Date().toISOString(), recorded: true };
  } catch {
    return undefined;
  }
}

/**
 * Resolves when the monitor ends: it holds the only writer of `exit.fifo`, so the read end sees EOF
 * exactly then, through epoll, with no polling and no thread. Works the same for a monitor started
 * by a previous daemon.
 *
 * Linux reports that EOF only to a reader that opened while a writer existed; so once the fifo is
 * open, a monitor that has already ended (exit file written, or its pid gone) settles at once.
 */
export async function watchExit(stateDir: string): Promise<ExitStatus> {
  const fifo = join(stateDir, 'exit.fifo');
  try {
    const fd = await openFd(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const sock = new Socket({ fd, readable: true, writable: false });
    await new Promise<void>((resolve) => {
      sock.on('data', () => undefined);
      sock.once('end', resolve);
      sock.once('close', () => resolve());
      sock.once('error', () => resolve());
      sock.resume();
      void monitorGone(stateDir).then((gone) => gone && resolve());
    });
    sock.destroy();
  } catch {
    /* no fifo: the monitor is long gone */
  }
  return (await readExit(stateDir)) ?? { code: 137, finishedAt: new Date().toISOString(), recorded: false };
}

/** True when the monitor of `stateDir` has finished: its exit file exists or its process is gone. */
async function monitorGone(stateDir: string): Promise<boolean> {
  if ((await readExit(stateDir)) !== undefined) return true;
  const pid = Number((await readFile(join(stateDir, 'monitor.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return !cmd.includes('isula-monitor');
  } catch {
    return true;
  }
}

/**
 * Opens a raw fd for a net.Socket, which then owns and closes it. (A FileHandle would try to close
 * it again when garbage collected, and that failure is fatal to the process.)
 */
export function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => openCb(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** Frame types of attach.sock (PROTOCOL.md). */
export const Frame = { STDIN: 0, STDOUT: 1, STDERR: 2, RESIZE: 3, EXIT: 4, REOPEN_LOG: 5 } as const;

export function frame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/**
 * Splits the attach socket's byte stream into frames. Payloads are views of the chunks read (no
 * copy); only a frame split across two reads is assembled, so a 200 MB stream is not copied again.
 */
export class FrameDecoder {
  /** The start of a frame whose end has not arrived yet. */
  private rest: Buffer | undefined;

  push(chunk: Buffer, onFrame: (type: number, payload: Buffer) => void): void {
    let pos = 0;
    if (this.rest) {
      let rest = this.rest;
      if (rest.length < 5) {
        const take = Math.min(5 - rest.length, chunk.length);
        rest = Buffer.concat([rest, chunk.subarray(0, take)]);
        pos = take;
        if (rest.length < 5) {
          this.rest = rest;
          return;
        }
      }
      const total = 5 + rest.readUInt32BE(1);
      const take = Math.min(total - rest.length, chunk.length - pos);
      rest = Buffer.concat([rest, chunk.subarray(pos, pos + take)]);
      pos += take;
      if (rest.length < total) {
        this.rest = rest;
        return;
      }
      this.rest = undefined;
      onFrame(rest[0]!, rest.subarray(5));
    }
    while (chunk.length - pos >= 5) {
      const len = chunk.readUInt32BE(pos + 1);
      if (chunk.length - pos < 5 + len) break;
      const type = chunk[pos]!;
      const payload = chunk.subarray(pos + 5, pos + 5 + len);
      pos += 5 + len;
      onFrame(type, payload);
    }
    this.rest = pos < chunk.length ? chunk.subarray(pos) : undefined;
  }
}

/** Longest unix socket path we connect to directly (the kernel's sun_path holds 108 bytes). */
const MAX_SOCKET_PATH = 100;

/**
 * Connects to the monitor's attach socket. A path too long for sun_path is reached through an open
 * descriptor of its directory (`/proc/self/fd/N/attach.sock`), the way runc does for its sockets.
 */
export async function connectAttach(stateDir: string): Promise<Socket> {
  const full = join(stateDir, 'attach.sock');
  if (full.length <= MAX_SOCKET_PATH) return connectUnix(full);
  const dirFd = await openFd(stateDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    return await connectUnix(`/proc/self/fd/${dirFd}/attach.sock`);
  } finally {
    closeCb(dirFd, () => undefined);
  }
}

/**
 * Makes the running monitor of `stateDir` open its log file's path anew (CRI ReopenContainerLog, after
 * kubelet renamed the file to rotate it): a REOPEN_LOG frame on attach.sock, answered by a REOPEN_LOG
 * frame with an empty payload (done: records from then on go to the new file) or the monitor's error
 * text (the old file stays in use). Rejects when the monitor is gone (the container is not running),
 * closes without answering, or does not answer within `timeoutMs`.
 */
export async function reopenLog(stateDir: string, timeoutMs = 10_000): Promise<void> {
  let sock: Socket;
  try {
    sock = await connectAttach(stateDir);
  } catch (err) {
    throw new RuntimeError(`reopen log: the container's monitor is not running (${(err as Error).message})`);
  }
  return new Promise<void>((resolve, reject) => {
    const decoder = new FrameDecoder();
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new RuntimeError('reopen log: the monitor did not answer')), timeoutMs);
    sock.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (type, payload) => {
        if (type !== Frame.REOPEN_LOG) return; // output sent before the monitor knew this was a control connection
        done(payload.length === 0 ? undefined : new RuntimeError(payload.toString()));
      }),
    );
    sock.on('error', (err) => done(new RuntimeError(`reopen log: ${err.message}`)));
    sock.on('close', () => done(new RuntimeError('reopen log: the monitor closed the connection (the container exited)')));
    sock.write(frame(Frame.REOPEN_LOG));
  });
}

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if gone. */
export async function processStartTicks(pid: number): Promise<number> {
  if (pid <= 0) return 0;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]) || 0;
  } catch {
    return 0;
  }
}

/** Sends one resize frame (rows, columns) to the monitor behind `stateDir` and hangs up. */
export async function sendResize(stateDir: string, rows: number, cols: number): Promise<void> {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(rows & 0xffff, 0);
  payload.writeUInt16BE(cols & 0xffff, 2);
  const sock = await connectAttach(stateDir);
  await new Promise<void>((resolve) => {
    sock.once('close', () => resolve());
    sock.on('error', () => resolve());
    sock.on('data', () => undefined); // output frames of an attached container: not ours
    sock.end(frame(Frame.RESIZE, payload));
    setTimeout(() => sock.destroy(), 1000).unref();
  });
}
