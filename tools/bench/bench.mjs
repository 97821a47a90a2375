#!/usr/bin/env node
/**
 * Benchmarks for isula-ts (a benchmark, never a test: it measures and reports, it does not pass or
 * fail on a figure; targets are printed next to the figures for orientation only).
 *
 *   node tools/bench/bench.mjs [section ...] [--runs N] [--warmup N] [--idle-ms MS] [--calls N]
 *
 * Sections (default: all of them): see SECTIONS below or `--list`.
 * Results: a readable report on stdout and JSON in tools/bench/results/<timestamp>.json.
 *
 * Every daemon runs in private mount and pid namespaces (as e2e/src/harness.ts does): /etc is an
 * overlay so /etc/isulad can be a bind mount of a temp dir, /run and /var/lib are tmpfs, graph,
 * state, pidfile, socket and log live in a /tmp/ib-XXXXXX directory. Every process started here is
 * tracked by pid and stopped (SIGTERM, then SIGKILL) at the end, on errors and on Ctrl-C; every temp
 * dir is removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { containers, CONTAINER_TARGETS } from './containers.mjs';
import { criBench, CRI_TARGETS } from './cri.mjs';
import { execBench, EXEC_TARGETS } from './exec.mjs';
import { writeOciLayout } from './oci-fixture.mjs';
import { procCpu, stopInNamespace } from './peers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const ISULA = process.env.ISULA_BIN ?? path.join(REPO, 'packages/isula/dist/isula.js');
const ISULAD = process.env.ISULAD_BIN ?? path.join(REPO, 'packages/isulad/dist/isulad.js');
const CLIENT_PKG = path.join(REPO, 'packages/client');
const RESULTS_DIR = path.join(HERE, 'results');

/**
 * Node's runtime knobs (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ...) change start time a lot: with
 * NODE_EXTRA_CA_CERTS set, Node 20 loads the CA store at every start (~+70..90 ms here). The
 * measured processes run without them unless --keep-env; what was removed is reported.
 */
const SCRUBBED = Object.keys(process.env).filter((k) => k.startsWith('NODE_')).sort();
let benchEnv = process.env;

const TARGETS = {
  cliRatio: 1.3, // isula version / bare node start, medians
  readyMs: 300, // spawn -> first answered Version, median
  rssMiB: 60, // VmRSS of the idle daemon
  pullRatio: 0.9, // isula pull / skopeo copy throughput, medians
  pullRssMiB: 150, // peak VmRSS of the daemon during a pull
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall clock in ms with sub-ms resolution (comparable with bash's $EPOCHREALTIME and python's time.time()). */
const epochMs = () => performance.timeOrigin + performance.now();
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const stddev = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { n: v.length, median, mean, stddev, min: v[0], max: v[v.length - 1] };
}

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(1));
const f2 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(2));

function table(headers, rows, align = []) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '-')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) =>
    '  ' + r.map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), '  ' + widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      const st = statSync(p);
      if (st.isFile() && st.mode & 0o111) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function loadavg() {
  try {
    const [l1, l5, l15, procs] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/);
    return { at: new Date().toISOString(), load1: Number(l1), load5: Number(l5), load15: Number(l15), runnable: procs };
  } catch {
    const [l1, l5, l15] = os.loadavg();
    return { at: new Date().toISOString(), load1: l1, load5: l5, load15: l15 };
  }
}

/** Children of a process from /proc (the kernel's list), with a full scan as fallback. */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    const out = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
      } catch {
        /* gone */
      }
    }
    return out;
  }
}

function argvOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** VmRSS, VmHWM and the RSS breakdown of a process, in KiB (as /proc reports them). */
function memOf(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => {
    const m = text.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  return {
    vmRssKiB: get('VmRSS'),
    vmHwmKiB: get('VmHWM'),
    rssAnonKiB: get('RssAnon'),
    rssFileKiB: get('RssFile'),
    rssShmemKiB: get('RssShmem'),
    threads: get('Threads'),
  };
}

const mib = (kib) => (kib === undefined ? undefined : kib / 1024);

// ---------------------------------------------------------------------------------------------
// Everything started here, so that it can be stopped whatever happens.

/** pid -> { name, child, exited: Promise, stop?: () => Promise } */
const live = new Map();
const tempDirs = new Set();
/** Teardowns that must run before the processes are stopped (peers: containers first, then daemons). */
const cleanupHooks = new Set();

/** Registers { run: async teardown, sync: last-resort on exit }; returns a function that unregisters it. */
function onCleanup(run, sync) {
  const hook = { run, sync };
  cleanupHooks.add(hook);
  return () => cleanupHooks.delete(hook);
}

function track(child, name, extra = {}) {
  if (child.pid === undefined) return child;
  const entry = Object.assign(extra, { name, child });
  entry.exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  live.set(child.pid, entry);
  entry.exited.then(() => live.delete(child.pid));
  return child;
}

function makeTempDir() {
  // Short on purpose: a unix socket path must stay under ~100 bytes.
  const dir = mkdtempSync('/tmp/ib-');
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`bench: could not remove ${dir}: ${err.message}\n`);
  }
  tempDirs.delete(dir);
}

async function stopProcess(entry, graceMs = 5000) {
  if (entry.stop) return entry.stop(graceMs);
  try {
    entry.child.kill('SIGTERM');
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    try {
      entry.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  await entry.exited;
  clearTimeout(t);
}

let cleaningUp;
function cleanupAll() {
  cleaningUp ??= (async () => {
    for (const h of [...cleanupHooks]) {
      try {
        await h.run();
      } catch (err) {
        process.stderr.write(`bench: cleanup: ${err.message}\n`);
      }
      cleanupHooks.delete(h);
    }
    await Promise.all([...live.values()].map((e) => stopProcess(e, 3000).catch(() => undefined)));
    for (const dir of [...tempDirs]) removeTempDir(dir);
  })();
  return cleaningUp;
}

// Last resort when the process exits without the async cleanup having finished.
process.on('exit', () => {
  for (const h of cleanupHooks) {
    try {
      h.sync?.();
    } catch {
      /* best effort */
    }
  }
  for (const [pid, e] of live) {
    try {
      if (e.nodePid) process.kill(e.nodePid, 'SIGKILL');
    } catch {
      /* gone */
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${sig}, stopping everything it started...\n`);
    cleanupAll().finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  cleanupAll().finally(() => process.exit(1));
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`bench: unhandled rejection: ${err?.stack ?? err}\n`);
  cleanupAll().finally(() => process.exit(1));
});

function checkInterrupted() {
  if (interrupted) throw new Error('interrupted');
}

/** Runs a command to completion (tracked), capturing its output. */
function run(cmd, args, { timeoutMs = 60_000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? benchEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    track(child, `${path.basename(cmd)} ${args[0] ?? ''}`);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The in-process gRPC client (no CLI start cost in the readiness measurement)

let IsulaClient;
function client(sock) {
  if (!IsulaClient) ({ IsulaClient } = createRequire(import.meta.url)(CLIENT_PKG));
  return new IsulaClient({ host: `unix://${sock}` });
}

// ---------------------------------------------------------------------------------------------
// A daemon in private namespaces

const POLL_MS = 2;

class Daemon {
  /** daemonJson: the content of /etc/isulad/daemon.json as an object (default {}). */
  /** sharedRun: keep the host's /run, where `isula run` (on the host) creates its stdio FIFOs. */
  constructor({ env = {}, label = 'isulad', daemonJson = {}, sharedRun = false } = {}) {
    this.label = label;
    this.dir = makeTempDir();
    this.sock = path.join(this.dir, 'd.sock');
    this.pidfile = path.join(this.dir, 'isulad.pid');
    this.logDir = path.join(this.dir, 'log');
    this.graph = path.join(this.dir, 'graph');
    const etc = path.join(this.dir, 'etc-isulad');
    mkdirSync(etc);
    writeFileSync(path.join(etc, 'daemon.json'), `${JSON.stringify(daemonJson)}\n`);
    const args = [
      '-H', `unix://${this.sock}`,
      '-g', this.graph,
      '-S', path.join(this.dir, 'state'),
      '-p', this.pidfile,
      '--log-opt', `log-path=${this.logDir}`,
    ];
    const d = q(this.dir);
    const script = [
      'set -e',
      'echo "@@bench ns $EPOCHREALTIME"',
      'mount --make-rprivate /',
      // A /proc of the new pid namespace: runc reads /proc/<pid> of the processes it starts.
      'mount -t proc proc /proc',
      `mkdir -p ${d}/ovl/upper ${d}/ovl/work`,
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${d}/ovl/upper,workdir=${d}/ovl/work /etc`,
      'mkdir -p /etc/isulad',
      `mount --bind ${q(etc)} /etc/isulad`,
      ...(sharedRun ? [] : ['mount -t tmpfs -o mode=0755 tmpfs /run']),
      'mount -t tmpfs -o mode=0755 tmpfs /var/lib',
      'set +e',
      'echo "@@bench exec $EPOCHREALTIME"',
      // bash stays PID 1 of the namespace (reaps orphans); the daemon is its only job.
      `node ${q(ISULAD)} ${args.map(q).join(' ')} &`,
      'wait $!',
    ].join('\n');
    this.stdout = '';
    this.stderr = '';
    this.marks = {};
    this.spawnAt = epochMs();
    this.child = spawn('unshare', ['--mount', '--pid', '--fork', '--kill-child', 'bash', '-c', script], {
      env: { ...benchEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout.on('data', (b) => {
      this.stdout += b;
      for (const m of String(b).matchAll(/^@@bench (\w+) ([\d.]+)$/gm)) this.marks[m[1]] ??= Number(m[2]) * 1000;
    });
    this.child.stderr.on('data', (b) => (this.stderr += b));
    this.exitInfo = undefined;
    this.child.once('exit', (code, signal) => (this.exitInfo = { code, signal, at: epochMs() }));
    const entry = { stop: (grace) => this.stop(grace) };
    track(this.child, label, entry);
    this.entry = entry;
    this.exited = live.get(this.child.pid)?.exited ?? Promise.resolve();
  }

  /** The daemon's pid as the host sees it: the node child of the namespace's bash (argv[1] = the daemon). */
  nodePid() {
    if (this.pid !== undefined && alive(this.pid)) return this.pid;
    const stack = [this.child.pid];
    while (stack.length > 0) {
      const p = stack.pop();
      const argv = argvOf(p);
      if (argv.length > 1 && path.basename(argv[0]) === 'node' && argv[1] === ISULAD) {
        this.pid = p;
        this.entry.nodePid = p;
        return p;
      }
      stack.push(...childrenOf(p));
    }
    return undefined;
  }

  output() {
    const out = this.stdout.replace(/^@@bench .*\n/gm, '');
    return `${this.stderr}${out}`.trim();
  }

  /**
   * Polls every POLL_MS: first for the socket file, then with a fresh in-process client's Version
   * call until one answers. Resolves with the Version answer; readyAt = when it arrived.
   */
  async waitReady(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    this.attempts = 0;
    let lastErr;
    for (;;) {
      checkInterrupted();
      if (this.exitInfo) throw new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before it was ready:\n${this.output()}`);
      if (this.sockAt === undefined && existsSync(this.sock)) this.sockAt = epochMs();
      if (this.sockAt !== undefined) {
        this.attempts++;
        const c = client(this.sock);
        try {
          const v = await withTimeout(c.version(), 2000, 'Version');
          this.readyAt = epochMs();
          c.close();
          return v;
        } catch (err) {
          lastErr = err;
          c.close();
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.label} not ready after ${timeoutMs} ms (last error: ${lastErr?.message ?? 'no socket yet'}):\n${this.output()}`);
      }
      await sleep(POLL_MS);
    }
  }

  /** SIGTERM to the daemon; SIGKILL to unshare (which kills the whole pid namespace) after graceMs. */
  async stop(graceMs = 8000) {
    if (this.stopped) return this.stopped;
    this.stopped = (async () => {
      const pid = this.nodePid();
      const t0 = epochMs();
      if (this.exitInfo) await this.exited;
      else await stopInNamespace({ pid, child: this.child, exited: this.exited, graceMs, onKill: () => (this.killed = true) });
      this.stopMs = epochMs() - t0;
      this.leftovers = [this.sock, this.pidfile].filter((p) => existsSync(p)).map((p) => path.basename(p));
      this.log = this.readLog();
      return this.exitInfo;
    })();
    return this.stopped;
  }

  /** The daemon's JSON log lines (pino), parsed. */
  readLog() {
    let text = '';
    try {
      text = readFileSync(path.join(this.logDir, 'isulad.log'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return { level: 0, msg: l, unparsed: true };
        }
      });
  }

  bootedInMs() {
    for (const l of this.log ?? []) {
      const m = /booted in ([\d.]+) s/.exec(l.msg ?? '');
      if (m) return Number(m[1]) * 1000;
    }
    return undefined;
  }

  /** Log lines at WARN or above (pino: 40+). */
  complaints() {
    return (this.log ?? []).filter((l) => (l.level ?? 0) >= 40 || l.unparsed).map((l) => l.msg);
  }

  async dispose() {
    await this.stop(3000);
    removeTempDir(this.dir);
  }
}

/** A python3 unix datagram listener playing systemd's NOTIFY_SOCKET; timestamps every datagram. */
class NotifyListener {
  constructor() {
    this.dir = makeTempDir();
    this.sock = path.join(this.dir, 'notify.sock');
    this.messages = [];
    this.buf = '';
    this.child = spawn(
      'python3',
      [
        '-u',
        '-c',
        [
          'import socket, sys, time',
          's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
          's.bind(sys.argv[1])',
          'print("bound", flush=True)',
          'while True:',
          '    data = s.recv(65536)',
          '    t = time.time()',
          '    print("%.6f %s" % (t, data.decode(errors="replace").replace("\\n", "|")), flush=True)',
        ].join('\n'),
        this.sock,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(this.child, 'notify-listener');
    this.child.stdout.on('data', (b) => {
      this.buf += b;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line === 'bound') this.bound = true;
        const m = /^([\d.]+) (.*)$/.exec(line);
        if (m) this.messages.push({ at: Number(m[1]) * 1000, text: m[2] });
      }
    });
  }

  async ready(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.bound) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error('python3 notify listener did not start');
      await sleep(10);
    }
  }

  /** First READY=1 received after `since` (epoch ms). */
  async readyAfter(since, timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find((x) => x.at >= since - 1 && x.text.includes('READY=1'));
      if (m) return m;
      if (Date.now() > deadline) return undefined;
      await sleep(5);
    }
  }

  async dispose() {
    const e = live.get(this.child.pid);
    if (e) await stopProcess(e, 2000);
    removeTempDir(this.dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Section: foundation

async function hyperfine(commands, { runs, warmup }, { env } = {}) {
  const dir = makeTempDir();
  const out = path.join(dir, 'hyperfine.json');
  const args = ['-N', '--warmup', String(warmup), '--runs', String(runs), '--style', 'none', '--export-json', out];
  for (const c of commands) args.push('-n', c.name, c.cmd);
  try {
    const r = await run('hyperfine', args, { timeoutMs: 30 * 60_000, env });
    if (r.code !== 0) throw new Error(`hyperfine exited ${r.code ?? r.signal}: ${(r.stderr + r.stdout).trim()}`);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    return json.results.map((res, i) => ({
      name: commands[i].name,
      command: res.command,
      median_ms: res.median * 1000,
      mean_ms: res.mean * 1000,
      stddev_ms: (res.stddev ?? 0) * 1000,
      min_ms: res.min * 1000,
      max_ms: res.max * 1000,
      user_ms: res.user * 1000,
      system_ms: res.system * 1000,
      runs: res.times.length,
      times_ms: res.times.map((t) => t * 1000),
    }));
  } finally {
    removeTempDir(dir);
  }
}

/** Other engines' CLIs, only when already installed and their daemon answers (never installed or started here). */
async function otherEngines() {
  const found = [];
  const notes = [];
  for (const [tool, fmt] of [
    ['docker', '{{.Server.Version}}'],
    ['podman', '{{.Version}}'],
  ]) {
    const bin = which(tool);
    if (!bin) {
      notes.push(`${tool}: not installed, skipped`);
      continue;
    }
    const r = await run(bin, ['version', '--format', fmt], { timeoutMs: 10_000 });
    const version = r.stdout.trim();
    if (r.code === 0 && version !== '' && !version.includes('<no value>')) {
      found.push({ name: `${tool} version`, cmd: `${bin} version`, serverVersion: version });
      notes.push(`${tool}: ${bin}, server ${version}: measured`);
    } else {
      const why = (r.stderr || r.stdout).trim().split('\n').pop() || `exit ${r.code}`;
      notes.push(`${tool}: installed (${bin}) but no daemon reachable, skipped (${why})`);
    }
  }
  return { found, notes };
}

async function foundation(o, report) {
  const res = { notes: [], errors: [], anomalies: [] };
  const say = (s = '') => report.push(s);
  const anomaly = (s) => res.anomalies.push(s);

  // -- 3 (first, on a quiet daemon) then 1 on the same daemon ------------------------------------
  let main;
  try {
    // Reference: what an idle bare node process costs in RSS.
    const bare = spawn('node', ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore', env: benchEnv });
    track(bare, 'bare-node');
    await sleep(o.idleMs);
    res.bareNodeIdle = memOf(bare.pid);
    await stopProcess(live.get(bare.pid), 2000);

    main = new Daemon({ label: 'isulad (rss+cli)' });
    await main.waitReady();
    main.nodePid();
    if (main.pid === undefined) throw new Error('could not find the daemon node process under unshare/bash');
    const rss = { pid: main.pid };
    await sleep(o.idleMs);
    rss.idle = memOf(main.pid);
    const c = client(main.sock);
    const t0 = performance.now();
    for (let i = 0; i < o.calls; i++) await withTimeout(c.version(), 5000, 'Version');
    rss.callsMs = performance.now() - t0;
    c.close();
    rss.afterCalls = memOf(main.pid);
    await sleep(o.idleMs);
    rss.idleAfterCalls = memOf(main.pid);
    res.rss = rss;
  } catch (err) {
    res.errors.push(`daemon RSS: ${err.message}`);
  }

  // -- 1. CLI start ------------------------------------------------------------------------------
  try {
    checkInterrupted();
    if (!main || main.readyAt === undefined) throw new Error('no live daemon for `isula version`');
    const commands = [
      { name: 'node -e ""', cmd: `node -e ''` },
      { name: 'isula --version', cmd: `node ${ISULA} --version` },
      { name: 'isula version', cmd: `node ${ISULA} version -H unix://${main.sock}` },
    ];
    // hyperfine stops on a failing command: check each once first, for a readable error.
    for (const c of commands.slice(1)) {
      const [bin, ...args] = c.cmd.split(' ');
      const r = await run(bin, args, { timeoutMs: 20_000 });
      if (r.code !== 0) throw new Error(`\`${c.name}\` failed (exit ${r.code}): ${(r.stderr + r.stdout).trim()}`);
    }
    if (o.keepEnv === false && SCRUBBED.length > 0) {
      // Side by side: what the same starts cost with the caller's NODE_* variables.
      const vars = SCRUBBED.map((k) => q(`${k}=${process.env[k]}`)).join(' ');
      commands.push(
        { name: 'node -e "" [caller env]', cmd: `env ${vars} node -e ''`, callerEnv: true },
        { name: 'isula version [caller env]', cmd: `env ${vars} node ${ISULA} version -H unix://${main.sock}`, callerEnv: true },
      );
    }
    const others = await otherEngines();
    res.otherEngines = others.notes;
    commands.push(...others.found);
    res.cli = await hyperfine(commands, o);
    const by = Object.fromEntries(res.cli.map((r) => [r.name, r]));
    const base = by['node -e ""'].median_ms;
    res.cliRatios = {
      'isula --version / node': by['isula --version'].median_ms / base,
      'isula version / node': by['isula version'].median_ms / base,
    };
    for (const e of others.found) res.cliRatios[`${e.name} / node`] = by[e.name].median_ms / base;
    if (by['node -e "" [caller env]']) {
      res.cliRatios['isula version / node, both with the caller env'] = by['isula version [caller env]'].median_ms / by['node -e "" [caller env]'].median_ms;
      res.cliRatios['node caller env / node clean env'] = by['node -e "" [caller env]'].median_ms / base;
    }
    // Fresh connections the daemon served during this part: one check run + warm-ups + runs per `isula version` row.
    res.cliConnections = commands.filter((c) => c.cmd.includes(' version -H ')).length * (1 + o.warmup + o.runs) - (commands.some((c) => c.callerEnv) ? 1 : 0);
    if (main.pid) res.rss.afterCli = memOf(main.pid);
  } catch (err) {
    res.errors.push(`CLI start: ${err.message}`);
  }
  if (main) {
    await main.stop();
    res.rssDaemon = {
      bootedInMs: main.bootedInMs(),
      exit: main.exitInfo,
      stopMs: main.stopMs,
      leftovers: main.leftovers,
      complaints: main.complaints(),
    };
    removeTempDir(main.dir);
  }

  // -- 2. Daemon start-to-ready --------------------------------------------------------------------
  let listener;
  const runs = [];
  try {
    checkInterrupted();
    if (which('python3')) {
      listener = new NotifyListener();
      await listener.ready();
    } else {
      res.notes.push('python3 not found: READY=1 times not measured');
    }
    const warm = Math.min(o.warmup, 1);
    for (let i = 0; i < warm + o.runs; i++) {
      checkInterrupted();
      const d = new Daemon({ label: `isulad #${i}`, env: listener ? { NOTIFY_SOCKET: listener.sock } : {} });
      const r = { warmup: i < warm };
      try {
        await d.waitReady();
        r.spawnToReadyMs = d.readyAt - d.spawnAt;
        r.spawnToSocketMs = d.sockAt - d.spawnAt;
        r.spawnToNsMs = d.marks.ns - d.spawnAt;
        r.spawnToExecMs = d.marks.exec - d.spawnAt;
        r.execToReadyMs = d.readyAt - d.marks.exec;
        r.attempts = d.attempts;
        if (listener) {
          const m = await listener.readyAfter(d.spawnAt);
          if (m) {
            r.spawnToNotifyMs = m.at - d.spawnAt;
            r.execToNotifyMs = m.at - d.marks.exec;
            r.notify = m.text;
          } else anomaly(`run ${i}: no READY=1 on NOTIFY_SOCKET within 3 s of readiness`);
        }
      } catch (err) {
        r.error = err.message;
        res.errors.push(`start-to-ready run ${i}: ${err.message}`);
      }
      await d.stop();
      r.bootedInMs = d.bootedInMs();
      if (r.bootedInMs !== undefined && r.execToNotifyMs !== undefined) r.preBootMs = r.execToNotifyMs - r.bootedInMs;
      r.stopMs = d.stopMs;
      r.exit = d.exitInfo;
      r.killed = d.killed ?? false;
      r.leftovers = d.leftovers;
      r.complaints = d.complaints();
      if (r.bootedInMs === undefined && !r.error) anomaly(`run ${i}: no "booted in" line in isulad.log`);
      runs.push(r);
      removeTempDir(d.dir);
      await sleep(100); // let the previous namespace's teardown settle
    }
  } catch (err) {
    res.errors.push(`start-to-ready: ${err.message}`);
  } finally {
    if (listener) {
      res.notifyMessages = listener.messages.length;
      await listener.dispose();
    }
  }
  res.readyRuns = runs;
  const measured = runs.filter((r) => !r.warmup && !r.error);
  const pick = (k) => stats(measured.map((r) => r[k]));
  res.ready = {
    spawnToReadyMs: pick('spawnToReadyMs'),
    spawnToNotifyMs: pick('spawnToNotifyMs'),
    spawnToExecMs: pick('spawnToExecMs'),
    spawnToSocketMs: pick('spawnToSocketMs'),
    execToReadyMs: pick('execToReadyMs'),
    bootedInMs: pick('bootedInMs'),
    preBootMs: pick('preBootMs'),
    stopMs: pick('stopMs'),
    attempts: pick('attempts'),
  };

  // -- anomalies seen along the way ------------------------------------------------------------
  const allDaemons = [...runs.map((r, i) => ({ ...r, label: `run ${i}` })), res.rssDaemon && { ...res.rssDaemon, label: 'rss/cli daemon' }].filter(Boolean);
  for (const d of allDaemons) {
    if (d.exit && (d.exit.code !== 0 || d.exit.signal)) anomaly(`${d.label}: exit after SIGTERM was ${JSON.stringify({ code: d.exit.code, signal: d.exit.signal })} (expected 0)`);
    if (d.killed) anomaly(`${d.label}: did not stop within the grace period after SIGTERM, SIGKILLed`);
    if (d.leftovers?.length) anomaly(`${d.label}: left ${d.leftovers.join(', ')} behind after a clean stop`);
    for (const c of d.complaints ?? []) anomaly(`${d.label}: log: ${c}`);
  }
  // Collapse identical anomalies.
  const counts = new Map();
  for (const a of res.anomalies) {
    const key = a.replace(/^(run \d+|rss\/cli daemon): /, '');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  res.anomalySummary = [...counts].map(([k, n]) => `${k}${n > 1 ? `  (x${n})` : ''}`);

  // -- report ------------------------------------------------------------------------------------
  say('== foundation =====================================================================');
  say('');
  say(`1. CLI start (hyperfine -N, ${o.warmup} warm-up + ${o.runs} runs each, wall ms)`);
  if (res.cli) {
    say(
      table(
        ['command', 'median', 'mean', '±sd', 'min', 'max', 'user', 'sys', 'x node'],
        res.cli.map((r) => [r.name, f1(r.median_ms), f1(r.mean_ms), f1(r.stddev_ms), f1(r.min_ms), f1(r.max_ms), f1(r.user_ms), f1(r.system_ms), f2(r.median_ms / res.cli[0].median_ms)]),
        ['l'],
      ),
    );
    const ratio = res.cliRatios['isula version / node'];
    say(`  isula version / bare node (medians): ${f2(ratio)}x   target <= ${TARGETS.cliRatio}x  ${ratio <= TARGETS.cliRatio ? 'MET' : 'MISSED'}`);
    say(`  isula --version / bare node (medians): ${f2(res.cliRatios['isula --version / node'])}x`);
    if (res.cliRatios['node caller env / node clean env'] !== undefined) {
      say(`  [caller env] rows: the same starts with the caller's ${SCRUBBED.join(', ')} (removed from all other measurements):`);
      say(`    node start costs ${f2(res.cliRatios['node caller env / node clean env'])}x the clean-env start; isula version / node with that env: ${f2(res.cliRatios['isula version / node, both with the caller env'])}x`);
    }
  } else say('  not measured (see errors)');
  for (const n of res.otherEngines ?? []) say(`  ${n}`);
  say('');

  say(`2. Daemon start-to-ready (${measured.length} fresh daemons${runs.some((r) => r.warmup) ? ' after 1 discarded warm-up start' : ''}, ms)`);
  const rrow = (label, s) => [label, f1(s?.median), f1(s?.min), f1(s?.max), f1(s?.mean), f1(s?.stddev)];
  if (measured.length) {
    say(
      table(
        ['interval', 'median', 'min', 'max', 'mean', '±sd'],
        [
          rrow('spawn -> first Version answered (in-process client)', res.ready.spawnToReadyMs),
          rrow('spawn -> READY=1 received on NOTIFY_SOCKET', res.ready.spawnToNotifyMs),
          rrow('  spawn -> `node` exec (unshare, mounts)', res.ready.spawnToExecMs),
          rrow('  `node` exec -> first Version answered', res.ready.execToReadyMs),
          rrow('  spawn -> socket file seen (first poll that finds it)', res.ready.spawnToSocketMs),
          rrow('  "booted in" (daemon log, from runDaemon() entry)', res.ready.bootedInMs),
          rrow('  exec -> READY=1 minus "booted in" (node + module load)', res.ready.preBootMs),
          rrow('SIGTERM -> namespace gone (shutdown)', res.ready.stopMs),
        ],
        ['l'],
      ),
    );
    const med = res.ready.spawnToReadyMs?.median;
    say(`  median spawn -> ready: ${f1(med)} ms   target <= ${TARGETS.readyMs} ms  ${med <= TARGETS.readyMs ? 'MET' : 'MISSED'}`);
    say(`  per run (spawn -> ready): ${measured.map((r) => r.spawnToReadyMs.toFixed(0)).join(' ')}`);
    say(`  Version attempts until the first answer (median): ${f1(res.ready.attempts?.median)}; poll step ${POLL_MS} ms`);
  } else say('  not measured (see errors)');
  say('');

  say(`3. Daemon RSS (node process of isulad, MiB = /proc KiB / 1024; ${o.idleMs} ms idle; ${o.calls} Version calls on one connection)`);
  if (res.rss) {
    const row = (label, m) => [label, f1(mib(m?.vmRssKiB)), f1(mib(m?.vmHwmKiB)), f1(mib(m?.rssAnonKiB)), f1(mib(m?.rssFileKiB)), m?.threads ?? '-'];
    say(
      table(
        ['when', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'threads'],
        [
          row(`idle ${o.idleMs / 1000} s after ready`, res.rss.idle),
          row(`right after ${o.calls} Version calls`, res.rss.afterCalls),
          row(`idle ${o.idleMs / 1000} s after the calls`, res.rss.idleAfterCalls),
          row(`after the CLI benchmark (${res.cliConnections ?? 0} more CLI connections)`, res.rss.afterCli),
          row('reference: bare idle `node -e setInterval`', res.bareNodeIdle),
        ],
        ['l'],
      ),
    );
    const v = mib(res.rss.idleAfterCalls?.vmRssKiB);
    say(`  idle VmRSS after the calls: ${f1(v)} MiB   target <= ${TARGETS.rssMiB} MiB  ${v <= TARGETS.rssMiB ? 'MET' : 'MISSED'}`);
    say(`  ${o.calls} sequential Version calls took ${f1(res.rss.callsMs)} ms (${f2(res.rss.callsMs / o.calls)} ms/call)`);
    if (res.rssDaemon?.bootedInMs !== undefined) say(`  this daemon's own "booted in": ${f1(res.rssDaemon.bootedInMs)} ms`);
  } else say('  not measured (see errors)');
  say('');
  if (res.notes.length) for (const n of res.notes) say(`note: ${n}`);
  if (res.anomalySummary.length) {
    say('Anomalies seen in daemons/CLI during the run:');
    for (const a of res.anomalySummary) say(`  - ${a}`);
  } else say('Anomalies: none seen (exit codes, clean stops, socket/pidfile removal, warnings in isulad.log).');
  if (res.errors.length) {
    say('Errors:');
    for (const e of res.errors) say(`  - ${e}`);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Section: images

const IMAGES_RUNS = { default: 5, cap: 10 };
const SAMPLE_MS = 50;
const MB = 1e6;

/** A free TCP port on 127.0.0.1 (bind :0, read, close; the registry binds it right after). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** GET over plain http; resolves { status, headers, body } (body as a Buffer). */
function httpGet(url, headers = {}, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port>, plain http, storage in a temp dir. */
class Registry {
  async start() {
    this.dir = makeTempDir();
    this.stderr = '';
    let lastErr;
    for (let attempt = 0; attempt < 3; attempt++) {
      checkInterrupted();
      this.port = await freePort();
      const cfg = path.join(this.dir, 'config.yml');
      writeFileSync(
        cfg,
        [
          'version: 0.1',
          'log:',
          '  level: warn',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  cache:',
          '    blobdescriptor: inmemory',
          '  filesystem:',
          `    rootdirectory: ${path.join(this.dir, 'data')}`,
          '  delete:',
          '    enabled: true',
          'http:',
          `  addr: 127.0.0.1:${this.port}`,
          '',
        ].join('\n'),
      );
      this.child = spawn(which('docker-registry') ?? '/usr/bin/docker-registry', ['serve', cfg], { env: benchEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child.stdout.on('data', (b) => (this.stderr += b));
      this.child.stderr.on('data', (b) => (this.stderr += b));
      track(this.child, 'docker-registry');
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && this.child.exitCode === null && this.child.signalCode === null) {
        try {
          const r = await httpGet(`http://127.0.0.1:${this.port}/v2/`, {}, 1000);
          if (r.status === 200) return this;
          lastErr = new Error(`GET /v2/ answered ${r.status}`);
        } catch (err) {
          lastErr = err;
        }
        await sleep(50);
      }
      lastErr = new Error(`docker-registry on port ${this.port} not ready (${lastErr?.message}): ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      await this.stop();
    }
    throw lastErr;
  }

  get host() {
    return `127.0.0.1:${this.port}`;
  }

  markPushed() {
    this.sinceOffset = this.stderr.length;
  }

  /** Errors the registry logged after markPushed() (its log is logrus text: level=error ...), without per-request fields. */
  complaints() {
    return this.stderr
      .slice(this.sinceOffset ?? 0)
      .split('\n')
      .filter((l) => /level=(error|fatal|panic)/.test(l))
      .map((l) =>
        l
          .replace(/^time="[^"]*"\s*/, '')
          .replace(/\s(go\.version|http\.request\.\w+|http\.response\.\w+|instance\.id|service|vars\.\w+)=("[^"]*"|\S+)/g, '')
          .slice(0, 300),
      );
  }

  async stop() {
    const e = this.child && live.get(this.child.pid);
    if (e) await stopProcess(e, 3000);
  }

  async dispose() {
    await this.stop();
    if (this.dir) removeTempDir(this.dir);
  }
}


/**
 * Runs a command under `bash -c '…; times'` to get its user+system CPU (the children line of bash's
 * `times`); costs one bash start (~2 ms) on top. Resolves run()'s result plus cpuSeconds.
 */
async function runTimed(cmd, args, opts) {
  const r = await run('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'bench', cmd, ...args], opts);
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.stderr.trimEnd());
  if (m) {
    r.cpuSeconds = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
    r.stderr = r.stderr.trimEnd().split('\n').slice(0, -2).join('\n');
  }
  return r;
}

/** Resets VmHWM of pid (echo 5 > /proc/<pid>/clear_refs), so the next VmHWM is the peak since now. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Apparent size of a directory tree in bytes (du -sb), undefined when it is absent. */
function duBytes(dir) {
  if (!existsSync(dir)) return undefined;
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : undefined;
}

/** Samples VmRSS of pid every SAMPLE_MS until stopped; returns { peakKiB, samples }. */
function rssSampler(pid) {
  const samples = [];
  const take = () => {
    try {
      const m = memOf(pid);
      if (m.vmRssKiB !== undefined) samples.push(m.vmRssKiB);
    } catch {
      /* gone */
    }
  };
  take();
  const timer = setInterval(take, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakKiB: samples.length ? Math.max(...samples) : undefined, samples: samples.length };
    },
  };
}

const lastLines = (s, n = 3) => s.trim().split('\n').filter(Boolean).slice(-n).join(' | ');

async function images(o, report) {
  const res = { notes: [], errors: [], anomalies: [] };
  const say = (s = '') => report.push(s);
  const anomaly = (s) => res.anomalies.push(s);
  const runs = o.runsGiven ? Math.min(o.runs, IMAGES_RUNS.cap) : IMAGES_RUNS.default;
  if (o.runsGiven && o.runs > IMAGES_RUNS.cap) res.notes.push(`--runs ${o.runs} capped to ${IMAGES_RUNS.cap} for this section (each run moves ~200 MB twice)`);
  const warm = Math.min(o.warmup, 1);
  res.runsPerTool = runs;
  res.warmupPerTool = warm;

  for (const tool of ['skopeo', 'docker-registry']) if (!which(tool)) throw new Error(`${tool} not found on PATH (Debian: apt-get install ${tool})`);
  const skopeo = which('skopeo');
  res.skopeoVersion = spawnSync(skopeo, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  res.registryVersion = spawnSync(which('docker-registry'), ['--version'], { encoding: 'utf8' }).stdout?.trim();

  let registry;
  let daemon;
  const work = makeTempDir();
  const isulaRuns = [];
  const skopeoRuns = [];
  try {
    // -- the image: generated once, pushed once ---------------------------------------------------
    const layout = path.join(work, 'oci');
    let t0 = epochMs();
    const img = await writeOciLayout(layout);
    res.fixture = {
      generateMs: epochMs() - t0,
      layers: img.layers.map((l) => ({ digest: l.digest, size: l.size, diffId: l.diffId, tarBytes: l.tarBytes, files: l.files })),
      compressedBytes: img.compressedBytes,
      uncompressedBytes: img.uncompressedBytes,
      files: img.files,
    };
    checkInterrupted();
    registry = await new Registry().start();
    res.registryPort = registry.port;
    const ref = `${registry.host}/bench:latest`;
    res.ref = ref;
    t0 = epochMs();
    const push = await run(skopeo, ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:latest`, `docker://${ref}`], { timeoutMs: 10 * 60_000 });
    if (push.code !== 0) throw new Error(`skopeo push failed (exit ${push.code ?? push.signal}): ${lastLines(push.stderr + push.stdout)}`);
    res.fixture.pushMs = epochMs() - t0;
    registry.markPushed(); // skopeo's "blob unknown" HEAD probes while pushing are expected; complain about what follows
    rmSync(layout, { recursive: true, force: true }); // the registry holds it now
    // What a client transfers: the manifest, the config and every layer blob (as the registry serves them).
    const accept = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';
    const man = await httpGet(`http://${ref.replace('/bench:latest', '/v2/bench/manifests/latest')}`, { Accept: accept });
    if (man.status !== 200) throw new Error(`registry manifest GET answered ${man.status}`);
    const manifest = JSON.parse(man.body.toString('utf8'));
    res.fixture.manifestMediaType = manifest.mediaType ?? man.headers['content-type'];
    res.fixture.layerMediaType = manifest.layers?.[0]?.mediaType;
    res.bytes = man.body.length + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0);
    const sameBlobs = manifest.layers.every((l, i) => l.digest === img.layers[i]?.digest);
    if (!sameBlobs) anomaly('the registry serves other layer digests than the generated ones (skopeo recompressed?)');

    // -- the daemon -----------------------------------------------------------------------------
    // A daemon that does not start must not cost the skopeo figures: isulaBroken skips the isula side.
    checkInterrupted();
    let pid;
    let isulaBroken;
    try {
      daemon = new Daemon({ label: 'isulad (images)', daemonJson: { 'insecure-registries': [registry.host] } });
      await daemon.waitReady();
      pid = daemon.nodePid();
      if (pid === undefined) throw new Error('could not find the daemon node process under unshare/bash');
      await sleep(o.idleMs);
      res.rssIdleBefore = memOf(pid);
    } catch (err) {
      if (interrupted) throw err;
      isulaBroken = err.message;
      res.errors.push(`daemon: ${err.message.split('\n').slice(0, 3).join(' | ')}`);
    }
    // Options first: like upstream's command_parse_args, isula stops parsing options at the first
    // positional (`isula pull REF -H …` is three positionals: "pull requires 1 argument.").
    const isulaArgs = (cmd, ...a) => [ISULA, cmd, '-H', `unix://${daemon.sock}`, ...a];

    const isulaPull = async (i, isWarm) => {
      const r = { run: i, warmup: isWarm };
      const cpu0 = procCpu(pid)?.self;
      const hwmReset = resetPeak(pid);
      const sampler = rssSampler(pid);
      const t = epochMs();
      const p = await runTimed('node', isulaArgs('pull', ref), { timeoutMs: 10 * 60_000 });
      r.seconds = (epochMs() - t) / 1000;
      const s = sampler.stop();
      r.peakRssKiB = s.peakKiB;
      r.samples = s.samples;
      if (hwmReset) r.hwmKiB = memOf(pid).vmHwmKiB;
      r.daemonCpuSeconds = procCpu(pid)?.self - cpu0;
      r.cliCpuSeconds = p.cpuSeconds;
      r.exit = p.code ?? p.signal;
      r.output = lastLines(p.stderr + p.stdout, 4);
      if (p.code !== 0) {
        r.error = `isula pull exited ${r.exit}: ${r.output}`;
        return r;
      }
      r.mbps = res.bytes / MB / r.seconds;
      r.graphBytesAfterPull = duBytes(daemon.graph);
      const rm = await run('node', isulaArgs('rmi', ref), { timeoutMs: 60_000 });
      if (rm.code !== 0) {
        r.error = `isula rmi exited ${rm.code ?? rm.signal}: ${lastLines(rm.stderr + rm.stdout)}`;
        return r;
      }
      r.graphBytesAfterRmi = duBytes(daemon.graph);
      // Every pull must fetch everything: the layers have to be gone after rmi.
      if (r.graphBytesAfterRmi !== undefined && r.graphBytesAfterRmi > 16 * 2 ** 20) {
        anomaly(`after \`isula rmi\` the graph still holds ${f1(r.graphBytesAfterRmi / 2 ** 20)} MiB (layers not removed?)`);
      }
      if (/Already exists/.test(p.stderr + p.stdout)) anomaly(`run ${i}: isula pull reported "Already exists" for a layer after rmi`);
      return r;
    };

    const skopeoPull = async (i, isWarm) => {
      const r = { run: i, warmup: isWarm };
      const dest = path.join(work, 'skopeo-dir');
      rmSync(dest, { recursive: true, force: true });
      const t = epochMs();
      const p = await runTimed(skopeo, ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `dir:${dest}`], { timeoutMs: 10 * 60_000 });
      r.seconds = (epochMs() - t) / 1000;
      r.cpuSeconds = p.cpuSeconds;
      r.exit = p.code ?? p.signal;
      if (p.code !== 0) r.error = `skopeo copy exited ${r.exit}: ${lastLines(p.stderr + p.stdout)}`;
      else {
        r.mbps = res.bytes / MB / r.seconds;
        r.destBytes = duBytes(dest);
      }
      rmSync(dest, { recursive: true, force: true });
      return r;
    };

    // -- interleaved runs: isula, skopeo, isula, skopeo, ... -------------------------------------
    for (let i = 0; i < warm + runs; i++) {
      checkInterrupted();
      const isWarm = i < warm;
      if (!isulaBroken) {
        const r = await isulaPull(i, isWarm);
        isulaRuns.push(r);
        if (r.error) {
          isulaBroken = r.error;
          res.errors.push(`isula pull (run ${i}${isWarm ? ', warm-up' : ''}): ${r.error}`);
        }
      }
      checkInterrupted();
      const s = await skopeoPull(i, isWarm);
      skopeoRuns.push(s);
      if (s.error) {
        res.errors.push(`skopeo (run ${i}): ${s.error}`);
        break;
      }
    }
    if (pid !== undefined && alive(pid)) {
      await sleep(o.idleMs);
      res.rssIdleAfter = memOf(pid);
      res.daemonCpuTotalSeconds = procCpu(pid)?.self;
    }
  } catch (err) {
    res.errors.push(err.message);
  } finally {
    if (daemon) {
      await daemon.stop();
      res.daemon = { exit: daemon.exitInfo, killed: daemon.killed ?? false, leftovers: daemon.leftovers, complaints: daemon.complaints() };
      removeTempDir(daemon.dir);
    }
    if (registry) {
      await registry.stop();
      res.registryComplaints = registry.complaints();
      await registry.dispose();
    }
    removeTempDir(work);
  }

  res.isulaRuns = isulaRuns;
  res.skopeoRuns = skopeoRuns;
  const ok = (rs) => rs.filter((r) => !r.warmup && !r.error);
  const pick = (rs, k) => stats(ok(rs).map((r) => r[k]));
  res.isula = {
    seconds: pick(isulaRuns, 'seconds'),
    mbps: pick(isulaRuns, 'mbps'),
    peakRssKiB: pick(isulaRuns, 'peakRssKiB'),
    hwmKiB: pick(isulaRuns, 'hwmKiB'),
    daemonCpuSeconds: pick(isulaRuns, 'daemonCpuSeconds'),
    cliCpuSeconds: pick(isulaRuns, 'cliCpuSeconds'),
  };
  res.skopeo = { seconds: pick(skopeoRuns, 'seconds'), mbps: pick(skopeoRuns, 'mbps'), cpuSeconds: pick(skopeoRuns, 'cpuSeconds') };
  if (res.isula.mbps && res.skopeo.mbps) res.throughputRatio = res.isula.mbps.median / res.skopeo.mbps.median;
  const peakAll = Math.max(...isulaRuns.filter((r) => !r.error && r.peakRssKiB !== undefined).map((r) => r.peakRssKiB));
  res.peakRssMiB = Number.isFinite(peakAll) ? mib(peakAll) : undefined;

  if (res.daemon) {
    const d = res.daemon;
    if (d.exit && (d.exit.code !== 0 || d.exit.signal)) anomaly(`daemon exit after SIGTERM was ${JSON.stringify({ code: d.exit.code, signal: d.exit.signal })} (expected 0)`);
    if (d.killed) anomaly('daemon did not stop within the grace period after SIGTERM, SIGKILLed');
    if (d.leftovers?.length) anomaly(`daemon left ${d.leftovers.join(', ')} behind after a clean stop`);
    for (const c of d.complaints ?? []) anomaly(`isulad log: ${String(c).split('\n')[0]}`);
  }
  for (const c of res.registryComplaints ?? []) anomaly(`registry log: ${c}`);
  const counts = new Map();
  for (const a of res.anomalies) counts.set(a, (counts.get(a) ?? 0) + 1);
  res.anomalySummary = [...counts].map(([k, n]) => `${k}${n > 1 ? `  (x${n})` : ''}`);

  // -- report ------------------------------------------------------------------------------------
  say('== images =========================================================================');
  say('');
  const fx = res.fixture;
  if (fx) {
    const big = fx.layers.slice(0, -1);
    say(
      `Image: ${fx.layers.length} layers (${big.length} x ${f1(mib(big[0]?.size / 1024))} MiB + ${f1(mib(fx.layers.at(-1).size / 1024))} MiB), ${fx.files} files, ` +
        `random (incompressible) data as gzip tars: ${f1(fx.compressedBytes / MB)} MB compressed / ${f1(fx.uncompressedBytes / MB)} MB uncompressed; generated in ${f1(fx.generateMs / 1000)} s`,
    );
    if (fx.pushMs !== undefined) {
      say(`  pushed with skopeo (--format v2s2: ${fx.manifestMediaType}, layers ${fx.layerMediaType}) in ${f1(fx.pushMs / 1000)} s to ${res.registryVersion} on ${res.registryPort ? `127.0.0.1:${res.registryPort}` : '?'} (plain http, storage in a temp dir)`);
      say(`  bytes a pull transfers (manifest + config + layers, as served): ${res.bytes} = ${f1(res.bytes / MB)} MB (MB = 10^6 bytes)`);
    }
  }
  say('');
  const nIsula = ok(isulaRuns).length;
  const nSkopeo = ok(skopeoRuns).length;
  say(`Pull of ${res.ref ?? '?'} (${warm ? `${warm} discarded warm-up + ` : ''}${runs} runs each, interleaved isula/skopeo; image removed with \`isula rmi\` / target dir deleted between runs)`);
  const prow = (label, n, s, m, cpu, cpu2) => [label, n, f2(s?.median), f2(s?.min), f2(s?.max), f1(m?.median), f1(m?.max), f2(cpu?.median), f2(cpu2?.median)];
  say(
    table(
      ['command', 'runs', 'median s', 'min s', 'max s', 'MB/s (median)', 'MB/s (best)', 'CPU s (cmd)', 'CPU s (isulad)'],
      [
        prow('isula pull (end to end: CLI start + daemon pull)', nIsula, res.isula.seconds, res.isula.mbps, res.isula.cliCpuSeconds, res.isula.daemonCpuSeconds),
        prow(`skopeo copy docker://… dir:… (${res.skopeoVersion ?? 'skopeo'})`, nSkopeo, res.skopeo.seconds, res.skopeo.mbps, res.skopeo.cpuSeconds, undefined),
      ],
      ['l'],
    ),
  );
  say('  CPU s = user+system CPU seconds per run (medians): of the command itself (bash `times`), and of the daemon (/proc/<pid>/stat).');
  if (res.throughputRatio !== undefined) {
    say(`  isula / skopeo throughput (medians): ${f2(res.throughputRatio)}x   target >= ${TARGETS.pullRatio}x  ${res.throughputRatio >= TARGETS.pullRatio ? 'MET' : 'MISSED'}`);
  } else say('  isula / skopeo throughput: not measured (see errors)');
  if (nIsula) say(`  per run isula (s): ${ok(isulaRuns).map((r) => f2(r.seconds)).join(' ')}${warm && isulaRuns[0] && !isulaRuns[0].error ? `   (warm-up ${f2(isulaRuns[0].seconds)})` : ''}`);
  if (nSkopeo) say(`  per run skopeo (s): ${ok(skopeoRuns).map((r) => f2(r.seconds)).join(' ')}${warm && skopeoRuns[0] && !skopeoRuns[0].error ? `   (warm-up ${f2(skopeoRuns[0].seconds)})` : ''}`);
  const g = ok(isulaRuns)[0];
  if (g?.graphBytesAfterPull !== undefined) say(`  daemon graph after a pull: ${f1(g.graphBytesAfterPull / 2 ** 20)} MiB; after rmi: ${f1((g.graphBytesAfterRmi ?? 0) / 2 ** 20)} MiB`);
  say('  note: skopeo only downloads (writes the compressed blobs into a dir:), while isula pull also decompresses,');
  say('        verifies each layer\'s diff id (sha256 of the uncompressed tar) and extracts it into an overlay layer,');
  say('        then registers the image. The layers are random data (gzip stores them almost 1:1), so inflating is');
  say('        cheaper per byte than for real, compressible layers.');
  say('');
  say(`Daemon RSS (node process of isulad, MiB = /proc KiB / 1024; VmRSS sampled every ${SAMPLE_MS} ms during each pull)`);
  const row = (label, m) => [label, f1(mib(m?.vmRssKiB)), f1(mib(m?.vmHwmKiB)), f1(mib(m?.rssAnonKiB)), f1(mib(m?.rssFileKiB)), m?.threads ?? '-'];
  const pk = res.isula.peakRssKiB;
  say(
    table(
      ['when', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'threads'],
      [
        row(`idle ${o.idleMs / 1000} s after ready, before any pull`, res.rssIdleBefore),
        ['peak during a pull (median over runs)', f1(mib(pk?.median)), f1(mib(res.isula.hwmKiB?.median)), '-', '-', '-'],
        ['peak during a pull (max over runs)', f1(res.peakRssMiB), f1(mib(res.isula.hwmKiB?.max)), '-', '-', '-'],
        row(`idle ${o.idleMs / 1000} s after the last pull + rmi`, res.rssIdleAfter),
      ],
      ['l'],
    ),
  );
  if (nIsula) say(`  per run peak VmRSS (sampled) / VmHWM (MiB): ${ok(isulaRuns).map((r) => `${f1(mib(r.peakRssKiB))}/${f1(mib(r.hwmKiB))}`).join('  ')}`);
  say('  VmHWM of a pull = the kernel\'s own peak, reset (clear_refs 5) right before each pull (catches spikes between samples; its counters are approximate).');
  if (res.peakRssMiB !== undefined) say(`  peak VmRSS during a pull: ${f1(res.peakRssMiB)} MiB   target <= ${TARGETS.pullRssMiB} MiB  ${res.peakRssMiB <= TARGETS.pullRssMiB ? 'MET' : 'MISSED'}`);
  say('');
  for (const n of res.notes) say(`note: ${n}`);
  if (res.anomalySummary.length) {
    say('Anomalies seen in daemon/CLI/registry during the run:');
    for (const a of res.anomalySummary) say(`  - ${a}`);
  } else say('Anomalies: none seen (pull/rmi exit codes, layers gone after rmi, clean daemon stop, warnings in isulad.log, registry errors).');
  if (res.errors.length) {
    say('Errors:');
    for (const e of res.errors) say(`  - ${e}`);
  }
  return res;
}

// Section: containers (tools/bench/containers.mjs, peers in tools/bench/peers.mjs) gets the helpers here.
const ctx = {
  REPO,
  ISULA,
  ISULAD,
  CLIENT_PKG,
  Daemon,
  hyperfine,
  run,
  track,
  onCleanup,
  removeTempDir,
  client,
  stats,
  table,
  f1,
  f2,
  sleep,
  epochMs,
  withTimeout,
  checkInterrupted,
  get benchEnv() {
    return benchEnv;
  },
};

const SECTIONS = {
  foundation: {
    describe: 'CLI start vs bare node (and docker/podman if reachable), daemon start-to-ready, daemon idle RSS',
    needsRoot: true,
    needsBuild: true,
    run: foundation,
  },
  images: {
    describe: 'pull of a generated ~200 MB, 6-layer image from a local docker-registry: isula pull vs skopeo copy, daemon RSS while pulling',
    needsRoot: true,
    needsBuild: true,
    run: images,
  },
  containers: {
    describe: 'run --rm busybox true and 100 parallel run -d / rm -f: isula (CLI, SDK) vs private dockerd, podman, bare runc; daemon and monitor RSS (installs docker.io/podman if missing)',
    needsRoot: true,
    explicitOnly: true,
    run: (o, report) => containers(o, report, ctx),
  },
  exec: {
    describe: 'exec C true latency and exec C cat of a 200 MiB file (MB/s): isula vs private dockerd and podman, next to a bare node start (installs docker.io/podman if missing)',
    needsRoot: true,
    explicitOnly: true,
    run: (o, report) => execBench(o, report, ctx),
  },
  cri: {
    describe: 'CRI runtime.v1: --pods N (100) pods of one busybox container, created+started then stopped+removed, --concurrency K (10) in flight, through one grpc-js client: isulad vs a private containerd 1.6 (its CRI plugin); wall time, per-RPC latency, engine RSS with the pods up',
    needsRoot: true,
    explicitOnly: true,
    run: (o, report) => criBench(o, report, ctx),
  },
};

// ---------------------------------------------------------------------------------------------

function usage() {
  return [
    'usage: node tools/bench/bench.mjs [section ...] [options]',
    '',
    'sections (default: all but containers, exec and cri, which start other engines (containers/exec may install docker/podman): name them to run them):',
    ...Object.entries(SECTIONS).map(([k, s]) => `  ${k.padEnd(12)} ${s.describe}`),
    '',
    'options:',
    '  --runs N       measured runs per figure (default 20; images: default 5, at most 10)',
    '  --warmup N     hyperfine warm-up runs (default 3); the daemon start series discards 1 warm-up start when N > 0',
    '  --idle-ms MS   idle wait before each RSS reading (default 2000)',
    '  --calls N      Version calls between the RSS readings (default 200)',
    '  --pods N       cri: pods to create and remove per engine (default 100)',
    '  --concurrency K  cri: pods in flight (default 10)',
    '  --keep-env     run the measured processes with the caller\'s NODE_* variables (default: removed)',
    '  --no-save      do not write tools/bench/results/<timestamp>.json',
    '  --list         list sections',
    '',
  ].join('\n');
}

function git(args) {
  const r = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function meta() {
  const mtime = (p) => {
    try {
      return statSync(p).mtime.toISOString();
    } catch {
      return undefined;
    }
  };
  let daemonBuild;
  try {
    daemonBuild = JSON.parse(readFileSync(path.join(path.dirname(ISULAD), 'build-info.json'), 'utf8'));
  } catch {
    /* absent */
  }
  const cpus = os.cpus();
  const hf = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  const nodeOnPath = spawnSync('node', ['-p', 'process.execPath + " " + process.version'], { encoding: 'utf8' });
  return {
    host: os.hostname(),
    kernel: os.release(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    node: `${process.execPath} ${process.version}`,
    nodeOnPath: nodeOnPath.stdout?.trim(),
    hyperfine: hf.stdout?.trim(),
    gitHead: git(['rev-parse', 'HEAD']),
    gitDirtyFiles: git(['status', '--porcelain'])?.split('\n').filter(Boolean).length,
    isula: { path: ISULA, mtime: mtime(ISULA), bytes: existsSync(ISULA) ? statSync(ISULA).size : undefined },
    isulad: { path: ISULAD, mtime: mtime(ISULAD), build: daemonBuild },
  };
}

async function main() {
  let o;
  try {
    const { values, positionals } = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        runs: { type: 'string', short: 'n' },
        warmup: { type: 'string' },
        'idle-ms': { type: 'string' },
        calls: { type: 'string' },
        pods: { type: 'string' },
        concurrency: { type: 'string' },
        'no-save': { type: 'boolean' },
        'keep-env': { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || values.list) {
      process.stdout.write(usage());
      return 0;
    }
    const int = (v, d, name, min) => {
      if (v === undefined) return d;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${name} wants an integer >= ${min}, got ${v}`);
      return n;
    };
    const sections = positionals.length ? positionals : Object.keys(SECTIONS).filter((k) => !SECTIONS[k].explicitOnly);
    for (const s of sections) if (!SECTIONS[s]) throw new Error(`unknown section "${s}" (known: ${Object.keys(SECTIONS).join(', ')})`);
    o = {
      sections,
      runs: int(values.runs, 20, 'runs', 1),
      runsGiven: values.runs !== undefined,
      warmup: int(values.warmup, 3, 'warmup', 0),
      idleMs: int(values['idle-ms'], 2000, 'idle-ms', 0),
      calls: int(values.calls, 200, 'calls', 1),
      pods: int(values.pods, 100, 'pods', 1),
      concurrency: int(values.concurrency, 10, 'concurrency', 1),
      save: !values['no-save'],
      keepEnv: values['keep-env'] === true,
    };
  } catch (err) {
    process.stderr.write(`bench: ${err.message}\n\n${usage()}`);
    return 2;
  }
  if (!o.keepEnv) {
    benchEnv = { ...process.env };
    for (const k of SCRUBBED) delete benchEnv[k];
  }
  if (o.runs < 20) process.stderr.write(`bench: note: --runs ${o.runs} < 20; medians will be rough\n`);

  const missing = [];
  const built = existsSync(ISULA) && existsSync(ISULAD) && existsSync(path.join(CLIENT_PKG, 'dist/index.js'));
  if (!built && o.sections.some((s) => SECTIONS[s].needsBuild)) {
    missing.push('built artefacts (run `npx nx run-many -t build --output-style=static` at the repo root)');
  }
  for (const tool of ['hyperfine', 'unshare', 'node']) if (!which(tool)) missing.push(tool);
  if (o.sections.some((s) => SECTIONS[s].needsRoot) && process.getuid?.() !== 0) missing.push('root (namespaces and mounts)');
  if (missing.length) {
    process.stderr.write(`bench: missing: ${missing.join('; ')}\n`);
    return 2;
  }

  const startedAt = new Date();
  const result = { startedAt: startedAt.toISOString(), options: o, targets: { ...TARGETS, containers: CONTAINER_TARGETS, exec: EXEC_TARGETS, cri: CRI_TARGETS }, meta: meta(), loadBefore: loadavg(), sections: {} };
  const head = [];
  head.push(`isula-ts bench  ${result.startedAt}  sections: ${o.sections.join(', ')}  runs: ${o.runs}`);
  head.push(`host: ${result.meta.cpus} x ${result.meta.cpuModel ?? '?'}, ${result.meta.memTotalMiB} MiB, kernel ${result.meta.kernel}, node ${process.version}, ${result.meta.hyperfine}`);
  head.push(`tree: ${result.meta.gitHead?.slice(0, 12) ?? '?'} with ${result.meta.gitDirtyFiles ?? '?'} uncommitted paths; isula.js built ${result.meta.isula.mtime}, isulad built ${result.meta.isulad.build?.buildTime ?? result.meta.isulad.mtime}`);
  const lb = result.loadBefore;
  head.push(
    o.keepEnv
      ? `env: measured processes inherit the caller's environment (--keep-env)${SCRUBBED.length ? `, incl. ${SCRUBBED.join(', ')}` : ''}`
      : `env: measured processes run without the caller's NODE_* variables${SCRUBBED.length ? ` (removed: ${SCRUBBED.join(', ')})` : ' (none set)'}`,
  );
  head.push(`load average before: ${lb.load1} ${lb.load5} ${lb.load15}  (shared machine: other work runs concurrently, expect noise)`);
  process.stdout.write(`${head.join('\n')}\n\n`);

  let code = 0;
  for (const s of o.sections) {
    const report = [];
    try {
      result.sections[s] = await SECTIONS[s].run(o, report);
      if (result.sections[s].errors?.length) code = 1;
    } catch (err) {
      result.sections[s] = { errors: [err.message] };
      report.push(`== ${s}: failed: ${err.message}`);
      code = 1;
    }
    process.stdout.write(`${report.join('\n')}\n\n`);
    if (interrupted) break;
  }

  await cleanupAll();
  result.loadAfter = loadavg();
  result.finishedAt = new Date().toISOString();
  const la = result.loadAfter;
  const tail = [`load average after:  ${la.load1} ${la.load5} ${la.load15}  (before: ${lb.load1} ${lb.load5} ${lb.load15}; ${result.meta.cpus} CPUs, shared)`];
  tail.push(`took ${((Date.parse(result.finishedAt) - startedAt.getTime()) / 1000).toFixed(1)} s`);
  if (o.save) {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${result.startedAt.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    tail.push(`results: ${path.relative(process.cwd(), file) || file}`);
  }
  process.stdout.write(`${tail.join('\n')}\n`);
  return code;
}

main().then(
  async (code) => {
    await cleanupAll();
    process.exit(code);
  },
  async (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
