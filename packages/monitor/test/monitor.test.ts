// isula-monitor against the real runc: a busybox rootfs, a hand-written OCI config, and the monitor
// spawned the way isulad spawns it (fd 3 = sync pipe, detached). Needs root.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

const PKG = path.resolve(__dirname, '..');
const BIN = path.join(PKG, 'build', 'isula-monitor');
const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const CGROUP_PARENT = 'isula-monitor-test';
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'seq', 'yes', 'head', 'stty', 'printf', 'tr'];

const canRun = process.getuid?.() === 0 && fs.existsSync(RUNC) && fs.existsSync(BUSYBOX);

const FRAME_STDIN = 0;
const FRAME_STDOUT = 1;
const FRAME_STDERR = 2;
const FRAME_RESIZE = 3;
const FRAME_EXIT = 4;
const FRAME_REOPEN_LOG = 5;

interface Frame {
  type: number;
  payload: Buffer;
}

interface Monitor {
  id: string;
  dir: string;
  state: string;
  child: ChildProcess;
  sync: Promise<string>;
  exited: Promise<number | null>;
  stderr: () => string;
}

let base = '';
let rootfs = '';
let seq = 0;
const live: Monitor[] = [];

function frame(type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const hdr = Buffer.alloc(5);
  hdr[0] = type;
  hdr.writeUInt32BE(body.length, 1);
  return Buffer.concat([hdr, body]);
}

function ociConfig(id: string, args: string[], terminal: boolean): object {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/bin', 'TERM=xterm'],
      cwd: '/',
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: id.slice(0, 12),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
    },
  };
}

interface StartOpts {
  terminal?: boolean;
  stdin?: boolean;
  extra?: string[];
  bundle?: string; // overrides the generated bundle (failing create)
}

function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    stream.on('end', () => resolve(buf));
    stream.on('error', () => resolve(buf));
  });
}

function startMonitor(args: string[], opts: StartOpts = {}): Monitor {
  const id = `mon-${process.pid}-${++seq}`;
  const dir = path.join(base, id);
  const bundle = path.join(dir, 'bundle');
  const state = path.join(dir, 'state');
  fs.mkdirSync(bundle, { recursive: true });
  fs.mkdirSync(state, { mode: 0o700 });
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(ociConfig(id, args, !!opts.terminal)));
  const argv = ['--id', id, '--bundle', opts.bundle ?? bundle, '--state', state, '--runtime', RUNC];
  if (opts.terminal) argv.push('--terminal');
  if (opts.stdin) argv.push('--stdin');
  argv.push(...(opts.extra ?? []));
  const child = spawn(BIN, argv, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const m: Monitor = { id, dir, state, child, sync: readLine(child.stdio[3] as NodeJS.ReadableStream), exited, stderr: () => err };
  live.push(m);
  return m;
}

/** A monitor in exec mode for the running container of `m`: `runc exec --detach --process FILE`. */
function startExecMonitor(m: Monitor, args: string[], opts: { terminal?: boolean; stdin?: boolean; extra?: string[] } = {}): Monitor {
  const n = ++seq;
  const dir = path.join(m.dir, `exec-${n}`);
  const state = path.join(dir, 'state');
  fs.mkdirSync(state, { recursive: true, mode: 0o700 });
  const processFile = path.join(dir, 'process.json');
  const proc = { terminal: !!opts.terminal, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin', 'TERM=xterm'], cwd: '/' };
  fs.writeFileSync(processFile, JSON.stringify(proc));
  const argv = ['--exec', '--id', m.id, '--process', processFile, '--state', state, '--runtime', RUNC, '--runtime-root', path.join(m.state, 'runtime')];
  if (opts.terminal) argv.push('--terminal');
  if (opts.stdin) argv.push('--stdin');
  argv.push(...(opts.extra ?? []));
  const child = spawn(BIN, argv, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // not pushed on `live`: the container's own cleanup (runc delete --force) ends the exec'd process too
  return { id: m.id, dir, state, child, sync: readLine(child.stdio[3] as NodeJS.ReadableStream), exited, stderr: () => err };
}

async function created(m: Monitor): Promise<number> {
  const line = await m.sync;
  expect(line, m.stderr()).toMatch(/^ok \d+$/);
  return Number(line.split(' ')[1]);
}

async function runcStart(m: Monitor): Promise<void> {
  await execFileP(RUNC, ['--root', path.join(m.state, 'runtime'), 'start', m.id]);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref()),
  ]);
}

async function monitorExit(m: Monitor): Promise<number | null> {
  return withTimeout(m.exited, 20_000, 'monitor exit');
}

function exitFile(m: Monitor): string {
  return fs.readFileSync(path.join(m.state, 'exit'), 'utf8');
}

interface LogLine {
  log: string;
  stream: string;
  time: string;
}

function logLines(file: string): LogLine[] {
  const text = fs.readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

interface CriRecord {
  time: string;
  stream: string;
  tag: string;
  content: string;
}

/** The records of a CRI-format log (`<time> <stream> <F|P> <content>`); every record ends in '\n'. */
function criRecords(file: string): CriRecord[] {
  const text = fs.readFileSync(file, 'latin1');
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
      expect(m, line).not.toBeNull();
      return { time: m![1], stream: m![2], tag: m![3], content: m![4] };
    });
}

/** Sends a reopen-log frame on a connection of its own; resolves with the answer's payload. */
async function reopenLog(m: Monitor): Promise<{ answer: string; frames: Frame[] }> {
  const c = await AttachClient.connect(m);
  c.send(FRAME_REOPEN_LOG);
  await c.waitFor(() => c.frames.some((f) => f.type === FRAME_REOPEN_LOG), 'reopen answer');
  c.sock.destroy();
  return { answer: c.frames.find((f) => f.type === FRAME_REOPEN_LOG)!.payload.toString(), frames: c.frames };
}

function expectExitFile(m: Monitor, code: number): void {
  const text = exitFile(m);
  expect(text).toMatch(/^\d+ \S+\n$/);
  const [c, t] = text.trim().split(' ');
  expect(Number(c)).toBe(code);
  expect(t).toMatch(RFC3339_NANO);
}

class AttachClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 5) {
        const len = this.buf.readUInt32BE(1);
        if (this.buf.length < 5 + len) break;
        this.frames.push({ type: this.buf[0], payload: this.buf.subarray(5, 5 + len) });
        this.buf = this.buf.subarray(5 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => undefined);
  }

  static connect(m: Monitor): Promise<AttachClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(path.join(m.state, 'attach.sock'));
      sock.once('connect', () => resolve(new AttachClient(sock)));
      sock.once('error', reject);
    });
  }

  text(type: number): string {
    return Buffer.concat(this.frames.filter((f) => f.type === type).map((f) => f.payload)).toString();
  }

  bytes(type: number): number {
    return this.frames.filter((f) => f.type === type).reduce((n, f) => n + f.payload.length, 0);
  }

  exitCode(): number | undefined {
    const f = this.frames.find((x) => x.type === FRAME_EXIT);
    return f ? f.payload.readUInt32BE(0) : undefined;
  }

  async waitFor(pred: () => boolean, what: string): Promise<void> {
    const until = Date.now() + 15_000;
    while (!pred()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  send(type: number, payload: Buffer | string = Buffer.alloc(0)): void {
    this.sock.write(frame(type, payload));
  }
}

function vmRssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh directory under the test's base for log files outside the state dir. */
function m0dir(): string {
  return fs.mkdtempSync(path.join(base, 'logs-'));
}

describe.skipIf(!canRun)('isula-monitor with runc', () => {
  beforeAll(() => {
    execFileSync('make', ['-s', '-C', PKG], { stdio: 'inherit' });
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'isula-monitor-test-'));
    rootfs = path.join(base, 'rootfs');
    for (const d of ['bin', 'proc', 'dev', 'tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  });

  afterEach(async () => {
    for (const m of live.splice(0)) {
      try {
        execFileSync(RUNC, ['--root', path.join(m.state, 'runtime'), 'delete', '--force', m.id], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
      if (m.child.pid !== undefined && m.child.exitCode === null && m.child.signalCode === null) {
        try {
          process.kill(m.child.pid, 'SIGKILL');
        } catch {
          /* exited meanwhile */
        }
        await withTimeout(m.exited, 5_000, 'monitor kill').catch(() => undefined);
      }
      fs.rmSync(m.dir, { recursive: true, force: true });
    }
  });

  afterAll(() => {
    if (base) fs.rmSync(base, { recursive: true, force: true });
    // runc delete removes each container's cgroup; the shared parent is ours to remove
    for (const ctrl of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
      const dir = path.join('/sys/fs/cgroup', ctrl, CGROUP_PARENT);
      try {
        fs.rmdirSync(dir);
      } catch {
        /* absent or not a cgroup hierarchy */
      }
    }
  });

  it('logs stdout as json-file and writes exit 0', async () => {
    const m = startMonitor(['echo', 'hello']);
    const pid = await created(m);
    expect(Number(fs.readFileSync(path.join(m.state, 'pid'), 'utf8'))).toBe(pid);
    expect(Number(fs.readFileSync(path.join(m.state, 'monitor.pid'), 'utf8'))).toBe(m.child.pid);
    expect(fs.statSync(path.join(m.state, 'attach.sock')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(m.state, 'exit.fifo')).isFIFO()).toBe(true);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const lines = logLines(path.join(m.state, 'console.log'));
    expect(lines).toHaveLength(1);
    expect(lines[0].log).toBe('hello\n');
    expect(lines[0].stream).toBe('stdout');
    expect(lines[0].time).toMatch(RFC3339_NANO);
    expectExitFile(m, 0);
    expect(fs.existsSync(path.join(m.state, 'attach.sock'))).toBe(false);
    expect(fs.existsSync(path.join(m.state, 'monitor.pid'))).toBe(false);
    expect(fs.existsSync(path.join(m.state, 'exit.tmp'))).toBe(false);
    // runtime delete --force ran: runc no longer knows the container
    expect(fs.existsSync(path.join(m.state, 'runtime', m.id))).toBe(false);
  });

  it('logs stderr and reports exit 3', async () => {
    const m = startMonitor(['sh', '-c', 'echo err >&2; exit 3']);
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const lines = logLines(path.join(m.state, 'console.log'));
    expect(lines.map((l) => [l.log, l.stream])).toEqual([['err\n', 'stderr']]);
    expectExitFile(m, 3);
  });

  it('escapes control characters and invalid UTF-8 into valid JSON', async () => {
    const m = startMonitor(['printf', 'a\\tb\\001c\\377d"\\\\ é\\n']);
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const lines = logLines(path.join(m.state, 'console.log'));
    expect(lines).toHaveLength(1);
    expect(lines[0].log).toBe('a\tb\u0001c\ufffdd"\\ é\n');
  });

  it('streams output and the exit frame to a client attached before start', async () => {
    const m = startMonitor(['sh', '-c', 'echo one; echo two >&2; echo three']);
    await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.text(FRAME_STDOUT)).toBe('one\nthree\n');
    expect(c.text(FRAME_STDERR)).toBe('two\n');
    const last = c.frames[c.frames.length - 1];
    expect(last.type).toBe(FRAME_EXIT);
    expect(last.payload.readUInt32BE(0)).toBe(0);
    expect(await monitorExit(m)).toBe(0);
  });

  it('feeds stdin from attach frames; an empty frame closes it', async () => {
    const m = startMonitor(['cat'], { stdin: true });
    await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    c.send(FRAME_STDIN, 'hello\n');
    await c.waitFor(() => c.text(FRAME_STDOUT) === 'hello\n', 'echoed stdin');
    c.send(FRAME_STDIN, 'world\n');
    c.send(FRAME_STDIN); // EOF
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.text(FRAME_STDOUT)).toBe('hello\nworld\n');
    expect(c.exitCode()).toBe(0);
    expect(await monitorExit(m)).toBe(0);
    expectExitFile(m, 0);
    expect(logLines(path.join(m.state, 'console.log')).map((l) => l.log)).toEqual(['hello\n', 'world\n']);
  });

  it('rotates json-file logs by max-size keeping max-file files', async () => {
    const maxSize = 102400;
    const m = startMonitor(['seq', '1', '50000'], { extra: ['--log-max-size', String(maxSize), '--log-max-file', '3'] });
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const log = path.join(m.state, 'console.log');
    for (const f of [log, `${log}.1`, `${log}.2`]) {
      expect(fs.existsSync(f), f).toBe(true);
      expect(fs.statSync(f).size).toBeGreaterThan(0);
      expect(fs.statSync(f).size).toBeLessThanOrEqual(maxSize);
    }
    expect(fs.existsSync(`${log}.3`)).toBe(false);
    // oldest to newest the kept records are one unbroken tail of the sequence
    const nums = [`${log}.2`, `${log}.1`, log].flatMap((f) => logLines(f)).map((l) => Number(l.log));
    expect(nums[nums.length - 1]).toBe(50000);
    nums.forEach((n, i) => i > 0 && expect(n).toBe(nums[i - 1] + 1));
    expectExitFile(m, 0);
  });

  it('truncates in place with max-file 1 and flushes a final partial line', async () => {
    const maxSize = 50000;
    const m = startMonitor(['sh', '-c', 'seq 1 20000; printf tail'], {
      extra: ['--log-max-size', String(maxSize), '--log-max-file', '1'],
    });
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const log = path.join(m.state, 'console.log');
    expect(fs.statSync(log).size).toBeLessThanOrEqual(maxSize);
    expect(fs.existsSync(`${log}.1`)).toBe(false);
    const lines = logLines(log);
    expect(lines[lines.length - 2].log).toBe('20000\n');
    expect(lines[lines.length - 1].log).toBe('tail');
  });

  it('sends records to syslog (no log file) with --log-driver syslog', async () => {
    const m = startMonitor(['sh', '-c', 'echo to-syslog; echo err-syslog >&2'], {
      extra: ['--log-driver', 'syslog', '--syslog-tag', 'monitor-test', '--syslog-facility', 'local3'],
    });
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    expect(fs.existsSync(path.join(m.state, 'console.log'))).toBe(false);
    expectExitFile(m, 0);
  });

  it('gives a pty with --terminal and applies a resize frame', async () => {
    const m = startMonitor(['sh', '-c', 'stty size; echo tty-ok'], { terminal: true });
    await created(m);
    expect(fs.existsSync(path.join(m.state, 'console.sock'))).toBe(false);
    const c = await AttachClient.connect(m);
    c.send(FRAME_RESIZE, Buffer.from([0, 40, 0, 120]));
    await sleep(300); // no acknowledgement in the protocol: let the monitor apply it before start
    await runcStart(m);
    await withTimeout(c.closed, 20_000, 'attach close');
    const out = c.text(FRAME_STDOUT);
    expect(out).toContain('40 120');
    expect(out).toContain('tty-ok');
    expect(c.exitCode()).toBe(0);
    expect(await monitorExit(m)).toBe(0);
    const logged = logLines(path.join(m.state, 'console.log'));
    expect(logged.every((l) => l.stream === 'stdout')).toBe(true);
    expect(logged.map((l) => l.log).join('')).toContain('tty-ok');
  });

  it('reports a failing create on the sync pipe and exits 1', async () => {
    const m = startMonitor(['true'], { bundle: '/nonexistent-isula-monitor-bundle' });
    const line = await m.sync;
    expect(line).toMatch(/^error \S/);
    expect(line).not.toContain('\n');
    expect(await monitorExit(m)).toBe(1);
    expect(fs.existsSync(path.join(m.state, 'attach.sock'))).toBe(false);
  });

  it('lets the exit.fifo reader see EOF only when the monitor is gone', async () => {
    const m = startMonitor(['sh', '-c', 'sleep 0.3; echo bye']);
    await created(m);
    const reader = fs.createReadStream(path.join(m.state, 'exit.fifo'));
    let ended = false;
    const eof = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    reader.on('end', () => (ended = true));
    reader.resume();
    await sleep(200);
    expect(ended).toBe(false);
    await runcStart(m);
    await withTimeout(eof, 20_000, 'exit.fifo EOF');
    expectExitFile(m, 0); // written before the monitor let go of the fifo
    expect(await monitorExit(m)).toBe(0);
    reader.destroy();
  });

  it('reports 137 for a SIGKILLed container and stays small while it runs', async () => {
    const m = startMonitor(['sleep', '100']);
    const pid = await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    await sleep(200);
    const rss = vmRssKb(m.child.pid!);
    console.log(`monitor VmRSS while a container runs: ${rss} kB`);
    expect(rss).toBeLessThanOrEqual(2048);
    expect(alive(m.child.pid!)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.exitCode()).toBe(137);
    expect(await monitorExit(m)).toBe(0);
    expectExitFile(m, 137);
  });

  it('ignores SIGTERM and exits with the killed status after runtime delete --force of a created container', async () => {
    const m = startMonitor(['sleep', '100']);
    await created(m);
    process.kill(m.child.pid!, 'SIGTERM');
    await sleep(200);
    expect(alive(m.child.pid!)).toBe(true);
    await execFileP(RUNC, ['--root', path.join(m.state, 'runtime'), 'delete', '--force', m.id]);
    expect(await monitorExit(m)).toBe(0);
    expectExitFile(m, 137);
  });

  it('pauses reading output while a client lags, and loses nothing', async () => {
    const total = 8_000_000;
    const m = startMonitor(['sh', '-c', `yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c ${total}`], {
      extra: ['--log-driver', 'none'],
    });
    await created(m);
    const c = await AttachClient.connect(m);
    c.sock.pause();
    await runcStart(m);
    await sleep(1000);
    // the container is held back by the full pipe: not finished, and the monitor did not buffer it all
    expect(fs.existsSync(path.join(m.state, 'exit'))).toBe(false);
    expect(vmRssKb(m.child.pid!)).toBeLessThanOrEqual(6 * 1024);
    c.sock.resume();
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.bytes(FRAME_STDOUT)).toBe(total);
    expect(c.exitCode()).toBe(0);
    expect(await monitorExit(m)).toBe(0);
    expect(fs.existsSync(path.join(m.state, 'console.log'))).toBe(false);
  });
  it('kubernetes driver: CRI records with F tags and nanosecond UTC times, made in a new log directory', async () => {
    const log = path.join(base, `k8s-${process.pid}-${seq + 1}`, 'ns_pod_uid', 'ctr', '0.log');
    const m = startMonitor(['sh', '-c', 'echo one; echo "two  spaced\ttab"; echo; echo err >&2; exit 2'], {
      extra: ['--log-driver', 'kubernetes', '--log-path', log],
    });
    await created(m);
    const before = Date.now();
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const after = Date.now();
    expectExitFile(m, 2);
    expect(fs.statSync(log).mode & 0o777).toBe(0o640);
    expect(fs.statSync(path.dirname(log)).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(m.state, 'console.log'))).toBe(false);
    const recs = criRecords(log);
    expect(recs.filter((r) => r.stream === 'stdout').map((r) => [r.tag, r.content])).toEqual([
      ['F', 'one'],
      ['F', 'two  spaced\ttab'],
      ['F', ''],
    ]);
    expect(recs.filter((r) => r.stream === 'stderr').map((r) => [r.tag, r.content])).toEqual([['F', 'err']]);
    for (const r of recs) {
      expect(r.time).toMatch(RFC3339_NANO);
      const ms = Date.parse(r.time);
      expect(ms).toBeGreaterThanOrEqual(before - 1000);
      expect(ms).toBeLessThanOrEqual(after + 1000);
    }
    fs.rmSync(path.dirname(path.dirname(path.dirname(log))), { recursive: true, force: true });
  });

  it('kubernetes driver: a line longer than the buffer is P records then F; a last line without newline is P', async () => {
    const log = path.join(m0dir(), 'long.log');
    const m = startMonitor(['sh', '-c', "yes | tr -d '\\n' | head -c 40000; echo; printf tail; printf 'e\\r\\n' >&2"], {
      extra: ['--log-driver', 'kubernetes', '--log-path', log],
    });
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    const recs = criRecords(log);
    const out = recs.filter((r) => r.stream === 'stdout');
    // the monitor's line buffer is 16 KiB, as containerd's default max_container_log_line_size
    expect(out.map((r) => [r.tag, r.content.length])).toEqual([
      ['P', 16384],
      ['P', 16384],
      ['F', 40000 - 2 * 16384],
      ['P', 4],
    ]);
    expect(out.slice(0, 3).every((r) => /^y+$/.test(r.content))).toBe(true);
    expect(out[3].content).toBe('tail');
    // "\r\n" ends a line like "\n" (containerd drops both)
    expect(recs.filter((r) => r.stream === 'stderr').map((r) => [r.tag, r.content])).toEqual([['F', 'e']]);
  });

  it('kubernetes driver with a terminal: everything is stdout, lines without their \\r', async () => {
    const log = path.join(m0dir(), 'tty.log');
    const m = startMonitor(['sh', '-c', 'echo tty-line; echo err-line >&2'], {
      terminal: true,
      extra: ['--log-driver', 'kubernetes', '--log-path', log],
    });
    await created(m);
    await runcStart(m);
    expect(await monitorExit(m)).toBe(0);
    expect(criRecords(log).map((r) => [r.stream, r.tag, r.content])).toEqual([
      ['stdout', 'F', 'tty-line'],
      ['stdout', 'F', 'err-line'],
    ]);
  });

  it('kubernetes driver needs --log-path', async () => {
    const m = startMonitor(['true'], { extra: ['--log-driver', 'kubernetes'] });
    expect(await m.sync).toMatch(/^error usage: --log-driver kubernetes needs --log-path$/);
    expect(await monitorExit(m)).toBe(1);
  });

  it('reopens the log on a reopen frame: old records stay in the renamed file, new ones go to the path', async () => {
    const log = path.join(m0dir(), 'reopen.log');
    const m = startMonitor(['cat'], { stdin: true, extra: ['--log-driver', 'kubernetes', '--log-path', log] });
    await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    c.send(FRAME_STDIN, 'one\n');
    await c.waitFor(() => c.text(FRAME_STDOUT) === 'one\n', 'first line');
    fs.renameSync(log, `${log}.1`); // what kubelet's rotation does, before ReopenContainerLog
    const r = await reopenLog(m);
    expect(r.answer).toBe('');
    expect(r.frames.map((f) => f.type)).toEqual([FRAME_REOPEN_LOG]); // a control connection gets no output
    expect(fs.existsSync(log)).toBe(true);
    c.send(FRAME_STDIN, 'two\n');
    await c.waitFor(() => c.text(FRAME_STDOUT) === 'one\ntwo\n', 'second line');
    // a second rotation, the attach client still streaming
    fs.renameSync(log, `${log}.2`);
    expect((await reopenLog(m)).answer).toBe('');
    c.send(FRAME_STDIN, 'three\n');
    c.send(FRAME_STDIN);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.text(FRAME_STDOUT)).toBe('one\ntwo\nthree\n');
    expect(c.exitCode()).toBe(0);
    expect(await monitorExit(m)).toBe(0);
    expect(criRecords(`${log}.1`).map((x) => x.content)).toEqual(['one']);
    expect(criRecords(`${log}.2`).map((x) => x.content)).toEqual(['two']);
    expect(criRecords(log).map((x) => x.content)).toEqual(['three']);
  });

  it('answers a failed reopen with the error and keeps writing to the old file', async () => {
    const dir = path.join(m0dir(), 'pod');
    const log = path.join(dir, '0.log');
    const m = startMonitor(['cat'], { stdin: true, extra: ['--log-driver', 'kubernetes', '--log-path', log] });
    await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    c.send(FRAME_STDIN, 'one\n');
    await c.waitFor(() => c.text(FRAME_STDOUT) === 'one\n', 'first line');
    fs.renameSync(dir, `${dir}.old`);
    fs.writeFileSync(dir, 'not a directory');
    const r = await reopenLog(m);
    expect(r.answer).toBe(`reopen log ${log}: Not a directory`);
    c.send(FRAME_STDIN, 'two\n');
    c.send(FRAME_STDIN);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(await monitorExit(m)).toBe(0);
    expect(criRecords(path.join(`${dir}.old`, '0.log')).map((x) => x.content)).toEqual(['one', 'two']);
  });

  it('reopen with json-file starts a new console.log; with no log file it is acknowledged as done', async () => {
    const m = startMonitor(['cat'], { stdin: true });
    await created(m);
    const c = await AttachClient.connect(m);
    await runcStart(m);
    c.send(FRAME_STDIN, 'one\n');
    await c.waitFor(() => c.text(FRAME_STDOUT) === 'one\n', 'first line');
    const log = path.join(m.state, 'console.log');
    fs.renameSync(log, `${log}.moved`);
    expect((await reopenLog(m)).answer).toBe('');
    c.send(FRAME_STDIN, 'two\n');
    c.send(FRAME_STDIN);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(await monitorExit(m)).toBe(0);
    expect(logLines(`${log}.moved`).map((l) => l.log)).toEqual(['one\n']);
    expect(logLines(log).map((l) => l.log)).toEqual(['two\n']);

    const n = startMonitor(['sleep', '100'], { extra: ['--log-driver', 'none', '--start'] });
    await created(n);
    expect((await reopenLog(n)).answer).toBe('');
  });

  it('exec mode: runs a process in a running container, streams it, and leaves the container alone', async () => {
    const m = startMonitor(['sleep', '100'], { extra: ['--start'] });
    const pid = await created(m);
    const e = startExecMonitor(m, ['sh', '-c', 'echo out; echo err >&2; exit 7'], { extra: ['--hold-output'] });
    const epid = await created(e);
    expect(epid).not.toBe(pid);
    const c = await AttachClient.connect(e);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.text(FRAME_STDOUT)).toBe('out\n');
    expect(c.text(FRAME_STDERR)).toBe('err\n');
    expect(c.exitCode()).toBe(7);
    expect(await monitorExit(e)).toBe(0);
    expectExitFile(e, 7);
    // no log file, no runtime state of its own, and the container still runs
    expect(fs.existsSync(path.join(e.state, 'console.log'))).toBe(false);
    expect(fs.existsSync(path.join(e.state, 'runtime'))).toBe(false);
    expect(fs.existsSync(path.join(e.state, 'attach.sock'))).toBe(false);
    expect(alive(pid)).toBe(true);
    expect(alive(m.child.pid!)).toBe(true);
  });

  it('exec mode: stdin and a pty with resize', async () => {
    const m = startMonitor(['sleep', '100'], { extra: ['--start'] });
    await created(m);
    const e = startExecMonitor(m, ['cat'], { stdin: true });
    await created(e);
    const c = await AttachClient.connect(e);
    c.send(FRAME_STDIN, 'piped\n');
    c.send(FRAME_STDIN);
    await withTimeout(c.closed, 20_000, 'attach close');
    expect(c.text(FRAME_STDOUT)).toBe('piped\n');
    expect(c.exitCode()).toBe(0);
    const t = startExecMonitor(m, ['sh', '-c', 'read x; stty size; echo tty-$x'], { terminal: true, stdin: true, extra: ['--hold-output'] });
    await created(t);
    const ct = await AttachClient.connect(t);
    ct.send(FRAME_RESIZE, Buffer.from([0, 33, 0, 99]));
    await sleep(200);
    ct.send(FRAME_STDIN, 'ok\n');
    await withTimeout(ct.closed, 20_000, 'tty attach close');
    expect(ct.text(FRAME_STDOUT)).toContain('33 99');
    expect(ct.text(FRAME_STDOUT)).toContain('tty-ok');
    expect(ct.exitCode()).toBe(0);
    expect(await monitorExit(t)).toBe(0);
  });

  it('exec mode: reports a failing exec on the sync pipe and exits 1', async () => {
    const m = startMonitor(['sleep', '100'], { extra: ['--start'] });
    await created(m);
    const e = startExecMonitor(m, ['no-such-command']);
    expect(await e.sync).toMatch(/^error .*no-such-command/);
    expect(await monitorExit(e)).toBe(1);
    expect(fs.existsSync(path.join(e.state, 'attach.sock'))).toBe(false);
    const bad = startExecMonitor({ ...m, id: `${m.id}-missing` }, ['echo']);
    expect(await bad.sync).toMatch(/^error \S/);
    expect(await monitorExit(bad)).toBe(1);
  });
});
