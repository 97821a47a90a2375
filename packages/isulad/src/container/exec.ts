import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ErrorCode } from '@isula/protocol';
import { runtimeRoot, type OciRuntime } from '../runtime/oci-runtime';
import { Socket } from 'node:net';
import { constants as fsConstants } from 'node:fs';
import { connectAttach, frame, Frame, launchMonitor, openFd, watchExit } from '../runtime/monitor';
import { ContainerError } from './errors';
import { resolveUser } from './spec/user';
import { bridgeFifos, bridgeStream, type ClientFifos, type StdioStream, type StreamBridge } from './stdio';
import type { ContainerRecord } from './types';

/**
 * `isula exec`: one more process in a running container, run by a monitor of its own in exec mode
 * (packages/monitor/PROTOCOL.md, "Exec mode") under `<container state>/exec/<exec id>/`. Attached,
 * the client's FIFOs are bridged to that monitor and the call resolves with the process's exit
 * code; detached (`-d`), it resolves as soon as the process runs.
 */

export interface ExecOptions {
  /** Exec id (upstream's `suffix`); generated when empty. */
  suffix: string;
  argv: string[];
  env: string[];
  user: string;
  workdir: string;
  tty: boolean;
  /** Attach the client's stdin (FIFO `stdin` must be set). */
  attachStdin: boolean;
  fifos: ClientFifos;
  /** The client's stdio as a message stream (RemoteExec over tcp) instead of FIFOs. */
  stream?: StdioStream;
  /** Resolve at once (`-d`): no FIFOs, exit code 0. */
  detach: boolean;
}

export interface ExecResult {
  pid: number;
  exitCode: number;
}

/** What exec needs from the container domain (Containers satisfies it). */
export interface ExecHost {
  find(ref: string): ContainerRecord;
  stateDir(rec: ContainerRecord): string;
  runtimeFor(rec: ContainerRecord): Promise<OciRuntime>;
}

export const WORKDIR_NOT_ABSOLUTE = 'exec failed: workdir is not validate absolute path';

const EXEC_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** How long the runtime may take to start the process. */
const EXEC_START_TIMEOUT_MS = 120_000;

interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  umask?: number;
  username?: string;
}

interface OciProcess {
  terminal?: boolean;
  user?: OciUser;
  args?: string[];
  env?: string[];
  cwd?: string;
  capabilities?: unknown;
  rlimits?: unknown;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  selinuxLabel?: string;
  oomScoreAdj?: number;
  consoleSize?: { height: number; width: number };
}

interface OciSpec {
  process?: OciProcess;
  root?: { path?: string };
}

/**
 * Window sizes that arrived (Resize with an exec id) before their exec: the client sends its size
 * first, so the pty starts with it (OCI `consoleSize`) instead of 0x0. Kept briefly.
 */
const earlySizes = new Map<string, { height: number; width: number; timer: NodeJS.Timeout }>();
const EARLY_SIZE_TTL_MS = 30_000;

export function rememberSize(containerId: string, suffix: string, height: number, width: number): void {
  const key = `${containerId}/${suffix}`;
  const old = earlySizes.get(key);
  if (old) clearTimeout(old.timer);
  const timer = setTimeout(() => earlySizes.delete(key), EARLY_SIZE_TTL_MS);
  timer.unref();
  earlySizes.set(key, { height, width, timer });
}

function takeSize(containerId: string, suffix: string): { height: number; width: number } | undefined {
  const key = `${containerId}/${suffix}`;
  const v = earlySizes.get(key);
  if (!v) return undefined;
  clearTimeout(v.timer);
  earlySizes.delete(key);
  return { height: v.height, width: v.width };
}

/** The container's checks, in upstream's words. */
export function checkExecTarget(rec: ContainerRecord): void {
  if (rec.state.status === 'paused') throw new ContainerError(`Container ${rec.id} is paused, unpause the container before exec`, ErrorCode.EXEC);
  if (rec.state.status !== 'running') throw new ContainerError(`Container ${rec.id} is not running`, ErrorCode.EXEC);
}

/** The exec id as a directory name: safe, never a path. */
export function execDirName(suffix: string): string {
  if (!EXEC_ID.test(suffix)) throw new ContainerError(`Invalid exec id ${suffix}`, ErrorCode.INPUT);
  return suffix;
}

/** `KEY=VALUE` lists merged by key: later entries replace earlier ones in place. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = [...base];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(e.split('=', 1)[0]!, i));
  for (const e of extra) {
    const key = e.split('=', 1)[0]!;
    if (key === '') continue;
    const at = index.get(key);
    if (at !== undefined) out[at] = e;
    else {
      index.set(key, out.length);
      out.push(e);
    }
  }
  return out;
}

/** The OCI process of the exec: the container's own process section with the request applied. */
export async function execProcess(spec: OciSpec, bundle: string, o: Pick<ExecOptions, 'argv' | 'env' | 'user' | 'workdir' | 'tty'>, groupAdd: readonly string[] = []): Promise<OciProcess> {
  const base = spec.process ?? {};
  let user: OciUser = base.user ?? { uid: 0, gid: 0 };
  if (o.user.trim() !== '') {
    const rootfs = resolve(bundle, spec.root?.path ?? 'rootfs');
    let r;
    try {
      r = await resolveUser(rootfs, o.user, groupAdd);
    } catch (err) {
      throw new ContainerError(`exec failed: ${(err as Error).message}`, ErrorCode.INPUT);
    }
    user = { uid: r.uid, gid: r.gid };
    if (r.additionalGids.length > 0) user.additionalGids = r.additionalGids;
  }
  const p: OciProcess = {
    terminal: o.tty,
    user,
    args: o.argv,
    env: mergeEnv(base.env ?? [], o.env),
    cwd: o.workdir !== '' ? o.workdir : base.cwd || '/',
  };
  if (base.capabilities !== undefined) p.capabilities = base.capabilities;
  if (base.rlimits !== undefined) p.rlimits = base.rlimits;
  if (base.noNewPrivileges !== undefined) p.noNewPrivileges = base.noNewPrivileges;
  if (base.apparmorProfile) p.apparmorProfile = base.apparmorProfile;
  if (base.selinuxLabel) p.selinuxLabel = base.selinuxLabel;
  if (base.oomScoreAdj !== undefined) p.oomScoreAdj = base.oomScoreAdj;
  return p;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Runs `o.argv` in container `ref`; see the file comment. */
export async function execInContainer(host: ExecHost, ref: string, o: ExecOptions): Promise<ExecResult> {
  const rec = host.find(ref);
  checkExecTarget(rec);
  if (o.workdir !== '' && !isAbsolute(o.workdir)) throw new ContainerError(WORKDIR_NOT_ABSOLUTE, ErrorCode.INPUT);
  if (o.argv.length === 0) throw new ContainerError('exec failed: no command specified', ErrorCode.INPUT);
  const execId = execDirName(o.suffix !== '' ? o.suffix : randomBytes(32).toString('hex'));
  const rt = await host.runtimeFor(rec);
  const stateDir = host.stateDir(rec);

  let spec: OciSpec;
  try {
    spec = JSON.parse(await readFile(join(rec.bundle, 'config.json'), 'utf8')) as OciSpec;
  } catch (err) {
    throw new ContainerError(`exec failed: cannot read the container's spec: ${(err as Error).message}`);
  }
  const proc = await execProcess(spec, rec.bundle, o, rec.hostConfig.GroupAdd ?? []);
  const size = takeSize(rec.id, execId);
  if (o.tty && size && size.height > 0 && size.width > 0) proc.consoleSize = size;

  const execDir = join(stateDir, 'exec', execId);
  try {
    await mkdir(execDir, { recursive: false, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ContainerError(`exec failed: exec id ${execId} is already in use`, ErrorCode.INPUT);
    await mkdir(join(stateDir, 'exec'), { recursive: true, mode: 0o700 });
    await mkdir(execDir, { mode: 0o700 });
  }
  const cleanup = () => rm(execDir, { recursive: true, force: true }).catch(() => undefined);
  const processFile = join(execDir, 'process.json');
  const fifos: ClientFifos = {
    stdin: o.attachStdin && o.fifos.stdin ? o.fifos.stdin : undefined,
    stdout: o.fifos.stdout || undefined,
    stderr: o.fifos.stderr || undefined,
  };
  const stream = o.detach ? undefined : o.stream;
  const attach = !o.detach && (stream !== undefined || fifos.stdin !== undefined || fifos.stdout !== undefined || fifos.stderr !== undefined);
  const wantStdin = stream ? o.attachStdin : fifos.stdin !== undefined;

  // The client's stdin FIFO is opened for reading before anything else (non-blocking: the client
  // holds its end already): input it writes and closes while the process starts is not lost.
  let input: Socket | undefined;
  if (!o.detach && fifos.stdin) {
    try {
      input = new Socket({ fd: await openFd(fifos.stdin, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK), readable: true, writable: false });
      input.pause();
      input.on('error', () => undefined);
    } catch (err) {
      await cleanup();
      throw new ContainerError(`exec failed: cannot open ${fifos.stdin}: ${(err as Error).message}`);
    }
  }

  let started;
  try {
    await writeFile(processFile, JSON.stringify(proc), { mode: 0o600 });
    started = await launchMonitor({
      id: rec.id,
      bundle: rec.bundle,
      stateDir: execDir,
      runtime: rt,
      terminal: o.tty,
      stdin: wantStdin,
      start: false,
      holdOutput: attach,
      skipDelete: true,
      log: { driver: 'none', path: '', maxSize: 0, maxFile: 1, disabled: true },
      timeoutMs: EXEC_START_TIMEOUT_MS,
      exec: { process: processFile, runtimeRoot: runtimeRoot(stateDir) },
    });
  } catch (err) {
    input?.destroy();
    await cleanup();
    throw new ContainerError(err instanceof Error ? err.message : String(err), ErrorCode.RUNTIME);
  }

  const exited = watchExit(execDir);
  if (!attach) {
    // Detached (or nothing to attach): the directory goes once the process has ended.
    void exited.then(cleanup, cleanup);
    if (o.detach) return { pid: started.pid, exitCode: 0 };
    const st = await exited;
    return { pid: started.pid, exitCode: st.code };
  }
  let bridge: { done: Promise<number | undefined> };
  let streamBridge: StreamBridge | undefined;
  try {
    if (stream) {
      bridge = streamBridge = await bridgeStream(execDir, stream, { stdin: wantStdin, output: true, closeStdinAtEof: true });
    } else {
      bridge = await bridgeFifos(execDir, { stdout: fifos.stdout, stderr: fifos.stderr });
      if (input) await feedStdin(execDir, input);
    }
  } catch (err) {
    input?.destroy();
    // The client is gone: the process must not run on unseen.
    killQuietly(started.pid);
    await exited.catch(() => undefined);
    await cleanup();
    throw new ContainerError(`exec failed: cannot attach the client's streams: ${(err as Error).message}`);
  }
  // A stream client that goes away stops being served; the process is left to end on its own.
  void streamBridge?.clientGone.then(() => streamBridge?.release());
  const st = await exited;
  input?.destroy();
  const frameCode = await bridge.done;
  await cleanup();
  return { pid: started.pid, exitCode: st.recorded ? st.code : (frameCode ?? st.code) };
}

/** Copies the client's stdin into stdin frames on a connection of its own; EOF closes the process's stdin. */
async function feedStdin(dir: string, input: Socket): Promise<void> {
  const mon = await connectAttach(dir);
  mon.on('error', () => undefined);
  mon.on('data', () => undefined); // output goes through the bridge's connection
  mon.once('close', () => input.destroy());
  input.on('data', (chunk: Buffer) => {
    if (!mon.destroyed && !mon.write(frame(Frame.STDIN, chunk))) {
      input.pause();
      mon.once('drain', () => input.resume());
    }
  });
  input.once('end', () => {
    if (!mon.destroyed) mon.end(frame(Frame.STDIN));
  });
  input.resume();
}

/** The attach directory a resize goes to: the container's own, or one of its execs'. */
export function resizeTarget(host: Pick<ExecHost, 'find' | 'stateDir'>, ref: string, suffix: string): { rec: ContainerRecord; dir: string } {
  const rec = host.find(ref);
  checkExecTarget(rec);
  const dir = suffix === '' ? host.stateDir(rec) : join(host.stateDir(rec), 'exec', execDirName(suffix));
  return { rec, dir };
}
