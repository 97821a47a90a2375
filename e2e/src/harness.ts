/**
 * Starts a real isulad in fresh mount, pid, net and uts namespaces with its own /etc/isulad, graph,
 * state, socket and pidfile, and drives the real isula binary against it. Everything a daemon
 * creates lives under one temporary directory or inside its namespaces, so tearing down is: SIGTERM
 * the daemon (SIGKILL after a grace period), let the namespaces die with it, delete the directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..');
export const ISULA = process.env.ISULA_BIN ?? join(REPO, 'packages/isula/dist/isula.js');
export const ISULAD = process.env.ISULAD_BIN ?? join(REPO, 'packages/isulad/dist/isulad.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a command that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Children of a process, from /proc (the kernel's own list, no `ps` parsing). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

export interface DaemonOptions {
  /** daemon.json content: an object (serialised) or raw text; undefined writes `{}`; null writes no file. */
  daemonJson?: object | string | null;
  constantsJson?: object | string;
  /** Extra isulad flags (`{dir}` = the test directory). Unless `defaultPaths`, -g/-S/-p and -H into the test dir are added. */
  args?: string[];
  /** Leave graph, state, pidfile and host to the daemon's defaults (private tmpfs /run and /var/lib). */
  defaultPaths?: boolean;
  /** Omit only the default -H (e.g. hosts come from daemon.json). */
  noHostFlag?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Wait until `isula version` answers (default true). */
  waitReady?: boolean;
  /** Shell lines run inside the namespaces before the daemon starts (after the private mounts). */
  prepare?: string[];
  /** Start the daemon again in the same namespaces whenever it exits (restart and kill -9 tests). */
  respawn?: boolean;
}

let counter = 0;

/** A running (or exited) daemon under test. */
export class TestDaemon {
  readonly dir: string;
  readonly sock: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout = '';
  stderr = '';
  private readonly child: ChildProcess;
  private daemonPid: number | undefined;

  constructor(readonly opts: DaemonOptions = {}) {
    // Short paths: unix socket names must stay under 108 bytes.
    this.dir = mkdtempSync(`/tmp/ie2e-${process.pid}-${counter++}-`);
    this.sock = join(this.dir, 'isulad.sock');
    const etc = join(this.dir, 'etc-isulad');
    mkdirSync(etc);
    if (opts.daemonJson !== null) {
      const text = typeof opts.daemonJson === 'string' ? opts.daemonJson : JSON.stringify(opts.daemonJson ?? {}, null, 2);
      writeFileSync(join(etc, 'daemon.json'), text.replaceAll('{dir}', this.dir));
    }
    if (opts.constantsJson !== undefined) {
      const text = typeof opts.constantsJson === 'string' ? opts.constantsJson : JSON.stringify(opts.constantsJson);
      writeFileSync(join(etc, 'daemon_constants.json'), text);
    }
    // `{dir}` in an argument stands for this daemon's private directory.
    const args = (opts.args ?? []).map((a) => a.replaceAll('{dir}', this.dir));
    if (!opts.defaultPaths) {
      // A test's own -g/-S/-p win; the rest default into the test directory.
      const given = (short: string, long: string) => args.includes(short) || args.includes(long);
      if (!given('-g', '--graph')) args.push('-g', join(this.dir, 'graph'));
      if (!given('-S', '--state')) args.push('-S', join(this.dir, 'state'));
      if (!given('-p', '--pidfile')) args.push('-p', join(this.dir, 'isulad.pid'));
      if (!opts.noHostFlag) args.push('-H', `unix://${this.sock}`);
    }
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const script = [
      'set -e',
      // Nothing mounted here propagates back to the host.
      'mount --make-rprivate /',
      // A /proc of the new pid namespace: runc reads /proc/<pid> of the processes it starts.
      'mount -t proc proc /proc',
      // /etc stays the host's, read through an overlay so /etc/isulad can be a private mount point.
      `mkdir -p ${q(this.dir)}/ovl/upper ${q(this.dir)}/ovl/work`,
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${q(this.dir)}/ovl/upper,workdir=${q(this.dir)}/ovl/work /etc`,
      'mkdir -p /etc/isulad',
      `mount --bind ${q(etc)} /etc/isulad`,
      // Default socket, pidfile and client run dir (/var/run -> /run) and graph stay private.
      'mount -t tmpfs -o mode=0755 tmpfs /run',
      'mount -t tmpfs -o mode=0755 tmpfs /var/lib',
      'ip link set lo up',
      'hostname isula-e2e',
      ...(opts.prepare ?? []),
      'set +e',
      // bash stays PID 1 of the namespace so orphans are reaped; the daemon is its only job.
      ...(opts.respawn
        ? [`while :; do while [ -e ${q(this.dir)}/hold ]; do sleep 0.05; done; node ${q(ISULAD)} ${args.map(q).join(' ')} & wait $!; [ -e ${q(this.dir)}/no-respawn ] && break; sleep 0.1; done`]
        : [`node ${q(ISULAD)} ${args.map(q).join(' ')} &`, 'wait $!']),
    ].join('\n');
    this.child = spawn('unshare', ['--mount', '--pid', '--net', '--uts', '--fork', '--kill-child', 'bash', '-c', script], {
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  /** The daemon's pid as the host sees it (unshare → bash → node). */
  pid(): number | undefined {
    if (this.daemonPid !== undefined && alive(this.daemonPid)) return this.daemonPid;
    const stack = [this.child.pid!];
    while (stack.length > 0) {
      const p = stack.pop()!;
      const argv = argvOf(p);
      if (argv[0] === 'node' && argv[1] === ISULAD) {
        this.daemonPid = p;
        return p;
      }
      stack.push(...childrenOf(p));
    }
    return undefined;
  }

  /** Runs the real isula against this daemon's socket (`-H` added unless `noHost`). */
  isula(args: string[], opts: { env?: NodeJS.ProcessEnv; noHost?: boolean; inNamespaces?: boolean; input?: string } = {}): Promise<RunResult> {
    const cmd = args[0];
    const withHost = opts.noHost || cmd === undefined || cmd.startsWith('-') ? args : insertHost(args, `unix://${this.sock}`);
    const env = { ...process.env, ...(opts.env ?? {}) };
    if (opts.inNamespaces) {
      const pid = this.pid();
      if (pid === undefined) throw new Error('daemon is not running');
      return run('nsenter', ['-t', String(pid), '-m', '-n', '-u', '-p', 'node', '--', ISULA, ...withHost], { env, input: opts.input });
    }
    return run('node', ['--', ISULA, ...withHost], { env, input: opts.input });
  }

  /** Resolves once `isula version` answers, or rejects with the daemon's output if it exited. */
  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      if (existsSync(this.sock)) {
        const r = await this.isula(['version']);
        if (r.code === 0) return;
      }
      if (exited) throw new Error(`isulad exited before it was ready:\n${this.stderr}${this.stdout}`);
      if (Date.now() > deadline) throw new Error(`isulad not ready after ${timeoutMs} ms:\n${this.stderr}${this.stdout}`);
      await sleep(50);
    }
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.pid();
    if (pid !== undefined) process.kill(pid, sig);
  }

  /** SIGTERM, then SIGKILL of the whole namespace after `graceMs`; resolves with how the daemon ended. */
  async stop(graceMs = 8000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.opts.respawn) writeFileSync(join(this.dir, 'no-respawn'), '');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const res = await this.exited;
    clearTimeout(timer);
    return res;
  }

  /** Stops whatever still runs and removes the test directory. */
  async cleanup(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.stop(3000);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  listDir(...parts: string[]): string[] {
    try {
      return readdirSync(this.path(...parts)).sort();
    } catch {
      return [];
    }
  }
}

/** Puts `-H <host>` right after the (one or two word) sub-command, where isula expects options. */
function insertHost(args: string[], host: string): string[] {
  const groups = ['volume', 'network'];
  const n = groups.includes(args[0]!) && args[1] !== undefined && !args[1].startsWith('-') ? 2 : 1;
  return [...args.slice(0, n), '-H', host, ...args.slice(n)];
}

/** Starts a daemon and waits for it unless told not to. */
export async function startDaemon(opts: DaemonOptions = {}): Promise<TestDaemon> {
  const d = new TestDaemon(opts);
  if (opts.waitReady !== false) {
    try {
      await d.ready();
    } catch (err) {
      await d.cleanup();
      throw err;
    }
  }
  return d;
}

/** Starts a daemon that is expected to refuse to start; returns its exit and output. */
export async function failingDaemon(opts: DaemonOptions, timeoutMs = 15_000): Promise<{ code: number | null; stderr: string; stdout: string; d: TestDaemon }> {
  const d = new TestDaemon({ ...opts, waitReady: false });
  const timer = setTimeout(() => void d.cleanup(), timeoutMs);
  const res = await d.exited;
  clearTimeout(timer);
  return { code: res.code, stderr: d.stderr, stdout: d.stdout, d };
}
