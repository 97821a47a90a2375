/**
 * Peers for the `containers` bench section: a private dockerd (Debian docker.io 20.10, with the
 * containerd it starts itself), podman (Debian 4.3, daemonless) and bare runc, all with their state
 * under one temp dir, plus a guard that records what on the host they could change (ip_forward,
 * iptables, bridges, a few well-known paths, their cgroup roots) and puts it back afterwards.
 *
 * Facts behind the settings: /work/shared/research/machine.md §7 (this host has hybrid cgroups, no
 * systemd as pid 1, hard limits nofile 20000 / nproc 96365, no CAP_SYS_RESOURCE).
 *
 * Nothing here touches the host's own /var/lib/docker (the daemon gets --data-root / --exec-root
 * under the temp dir) or starts a system service (packages are installed with a policy-rc.d that
 * denies service starts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Packages

const POLICY_RC = '/usr/sbin/policy-rc.d';

/** Which peer binaries are missing, as Debian packages. */
export function missingPackages() {
  const want = [
    ['/usr/sbin/dockerd', 'docker.io'],
    ['/usr/bin/containerd', 'docker.io'],
    ['/usr/bin/podman', 'podman'],
    ['/usr/bin/conmon', 'podman'],
    ['/usr/sbin/runc', 'runc'],
  ];
  return [...new Set(want.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
}

/**
 * apt-get installs what is missing (docker.io, podman, runc), without recommends (they would bring
 * needrestart, cgroupfs-mount and apparmor), with a policy-rc.d that denies every service start
 * while installing, so that docker.io's postinst does not start the system dockerd. An existing
 * policy-rc.d is left as it is; one created here is removed afterwards, whatever happens.
 * Runs `apt-get update` once and retries when the first attempt fails.
 */
export function installPeers(log = () => {}) {
  const pkgs = missingPackages();
  if (pkgs.length === 0) return { installed: [], note: 'docker.io, podman and runc already installed' };
  let createdPolicy = false;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_SUSPEND: '1' };
  try {
    if (!existsSync(POLICY_RC)) {
      writeFileSync(POLICY_RC, '#!/bin/sh\n# written by tools/bench/peers.mjs while installing peers; removed right after\nexit 101\n');
      chmodSync(POLICY_RC, 0o755);
      createdPolicy = true;
    }
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8', timeout: 15 * 60_000 });
    log(`installing ${pkgs.join(', ')} with apt-get (policy-rc.d denies service starts${createdPolicy ? ', created for this' : ', already present'})`);
    let r = install();
    if (r.status !== 0) {
      log('apt-get install failed, running apt-get update and trying once more');
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8', timeout: 10 * 60_000 });
      r = install();
    }
    if (r.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
    const still = missingPackages();
    if (still.length) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
    return { installed: pkgs, note: `installed ${pkgs.join(', ')} (apt-get, --no-install-recommends, service starts denied)` };
  } finally {
    if (createdPolicy) rmSync(POLICY_RC, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// /proc and mounts

/** Every live process as { pid, ppid, argv }, read from /proc. */
export function processes() {
  const out = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue; // zombies (pid 1 here does not reap) hold no memory
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
      out.push({ pid: Number(e), ppid: Number(rest[1]), argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** VmRSS in KiB, undefined when the process is gone. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Mount points at or below dir, deepest first (from our own mountinfo: the host's namespace). */
export function mountsUnder(dir) {
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.reverse().sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below dir (umount, then umount -l); returns what is still mounted. */
export function unmountUnder(dir) {
  for (let round = 0; round < 3; round++) {
    const ms = mountsUnder(dir);
    if (ms.length === 0) return [];
    for (const m of ms) {
      const r = spawnSync('umount', [m], { encoding: 'utf8' });
      if (r.status !== 0) spawnSync('umount', ['-l', m], { encoding: 'utf8' });
    }
  }
  return mountsUnder(dir);
}

/** rm -rf dir, but only when nothing is mounted below it any more (never delete through a mount). */
export function removeDirSafely(dir) {
  if (!existsSync(dir)) return { removed: true };
  const left = unmountUnder(dir);
  if (left.length) return { removed: false, why: `still mounted: ${left.join(', ')}` };
  try {
    rmSync(dir, { recursive: true, force: true });
    return { removed: true };
  } catch (err) {
    return { removed: false, why: err.message };
  }
}

function killPids(pids, signal = 'SIGKILL') {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** Processes whose command line mentions dir (daemons, shims, monitors started with paths below it). */
export function processesMentioning(dir) {
  return processes().filter((p) => p.pid !== process.pid && p.argv.some((a) => a.includes(dir)));
}

/** spawn + wait, without blocking the event loop (teardown may run next to measurements). */
function exec(bin, args, { env, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => resolve({ status: null, stdout, stderr: String(err.message) }));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function httpPing(socketPath, urlPath, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: urlPath, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

// ---------------------------------------------------------------------------------------------
// Host guard

const CGROUP_ROOT = '/sys/fs/cgroup';
/** Top-level cgroup dirs the peers create (cgroupfs driver): docker's and podman's parents. */
const PEER_CGROUPS = ['docker', 'libpod_parent'];
/** Host paths the peers are known to create outside their roots (seen on this machine), removed when new. */
const PEER_PATHS = ['/etc/docker/key.json', '/run/docker', '/run/containerd', '/run/libpod', '/run/containers', '/dev/shm/libpod_lock'];
/** Paths that must not appear or change: reported, never touched. */
const WATCHED_ONLY = ['/var/lib/docker', '/var/lib/containerd', '/var/run/docker.sock'];
const BRIDGES = /^(docker\d*|podman\d*|cni-podman\d*|br-[0-9a-f]{12})$/;

function readTrim(p) {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * iptables-save without comments and counters, so that only rules and policies compare; a table
 * holding nothing but built-in chains with ACCEPT policy counts as absent (listing a table with
 * iptables-nft creates it empty).
 */
function iptablesSave(bin) {
  const r = spawnSync(bin, [], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const out = [];
  let table = [];
  const flush = () => {
    const body = table.slice(1).filter((l) => l !== 'COMMIT');
    const trivial = body.every((l) => /^:(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ACCEPT /.test(l));
    if (table.length && !trivial) out.push(...table);
    table = [];
  };
  for (const raw of r.stdout.split('\n')) {
    if (!raw || raw.startsWith('#')) continue;
    const l = raw.replace(/\[\d+:\d+\]/g, '[0:0]');
    if (l.startsWith('*')) flush();
    table.push(l);
  }
  flush();
  return out.join('\n');
}

const tablesOf = (save) => (save ?? '').split('\n').filter((l) => l.startsWith('*')).map((l) => l.slice(1));

function links() {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter(Boolean);
}

function cgroupDirs() {
  const out = [];
  let ctrls = [];
  try {
    ctrls = readdirSync(CGROUP_ROOT);
  } catch {
    return out;
  }
  for (const c of ctrls) {
    for (const name of PEER_CGROUPS) {
      const p = path.join(CGROUP_ROOT, c, name);
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

const exists = (p) => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** True when the tree holds nothing but (empty) directories. */
function onlyEmptyDirs(p) {
  const st = lstatSync(p);
  if (!st.isDirectory()) return false;
  return readdirSync(p).every((e) => onlyEmptyDirs(path.join(p, e)));
}

/** rmdir a cgroup tree bottom-up after killing what is still in it; true when it is gone. */
export function removeCgroup(dir) {
  const walk = (d) => {
    let entries = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
    const procs = readTrim(path.join(d, 'cgroup.procs'));
    if (procs) killPids(procs.split('\n').map(Number).filter(Boolean));
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(d);
        return;
      } catch (err) {
        if (err.code === 'ENOENT') return;
        spawnSync('sleep', ['0.05']);
      }
    }
  };
  walk(dir);
  return !existsSync(dir);
}

export class HostGuard {
  snapshot() {
    this.before = {
      ipForward: readTrim('/proc/sys/net/ipv4/ip_forward'),
      ip6Forward: readTrim('/proc/sys/net/ipv6/conf/all/forwarding'),
      iptables: iptablesSave('iptables-save'),
      ip6tables: iptablesSave('ip6tables-save'),
      links: links(),
      paths: Object.fromEntries([...PEER_PATHS, ...WATCHED_ONLY].map((p) => [p, exists(p)])),
      cgroups: cgroupDirs(),
    };
    return this.before;
  }

  /**
   * Compares the host with the snapshot; puts back what changed (ip_forward, iptables, new bridges,
   * new peer paths and cgroup parents) and returns { changes, restored, problems } (problems: what
   * could not be put back). Call it after every peer is stopped.
   */
  checkAndRestore() {
    const b = this.before;
    const changes = [];
    const restored = [];
    const problems = [];
    if (!b) return { changes, restored, problems: ['no snapshot taken'] };
    for (const [key, file] of [
      ['ipForward', '/proc/sys/net/ipv4/ip_forward'],
      ['ip6Forward', '/proc/sys/net/ipv6/conf/all/forwarding'],
    ]) {
      const now = readTrim(file);
      if (b[key] !== undefined && now !== b[key]) {
        changes.push(`${file}: ${b[key]} -> ${now}`);
        try {
          writeFileSync(file, `${b[key]}\n`);
          restored.push(`${file} set back to ${b[key]}`);
        } catch (err) {
          problems.push(`${file}: could not restore ${b[key]}: ${err.message}`);
        }
      }
    }
    for (const [key, save, restore, bin] of [
      ['iptables', 'iptables-save', 'iptables-restore', 'iptables'],
      ['ip6tables', 'ip6tables-save', 'ip6tables-restore', 'ip6tables'],
    ]) {
      if (b[key] === undefined) continue;
      const now = iptablesSave(save);
      if (now === b[key]) continue;
      changes.push(`${save} output changed`);
      // Tables that appeared: flush and delete their chains; tables that existed: restore them.
      for (const t of tablesOf(now).filter((t) => !tablesOf(b[key]).includes(t))) {
        spawnSync(bin, ['-t', t, '-F']);
        spawnSync(bin, ['-t', t, '-X']);
        const builtins = spawnSync(bin, ['-t', t, '-S'], { encoding: 'utf8' }).stdout?.match(/^-P \S+/gm) ?? [];
        for (const p of builtins) spawnSync(bin, ['-t', t, '-P', p.slice(3), 'ACCEPT']);
      }
      if (b[key].trim()) spawnSync(restore, [], { input: `${b[key]}\n`, encoding: 'utf8' });
      if (iptablesSave(save) === b[key]) restored.push(`${save}: rules restored`);
      else problems.push(`${save}: could not restore the saved rules`);
    }
    for (const l of links().filter((l) => !b.links.includes(l))) {
      changes.push(`new network link ${l}`);
      if (BRIDGES.test(l)) {
        const r = spawnSync('ip', ['link', 'del', l]);
        (r.status === 0 ? restored : problems).push(`link ${l} ${r.status === 0 ? 'deleted' : 'could not be deleted'}`);
      }
    }
    for (const p of PEER_PATHS) {
      if (b.paths[p] || !exists(p)) continue;
      changes.push(`new ${p}`);
      const isFile = !lstatSync(p).isDirectory();
      if (isFile || onlyEmptyDirs(p)) {
        rmSync(p, { recursive: true, force: true });
        restored.push(`${p} removed`);
      } else problems.push(`${p} appeared and holds files: left in place`);
    }
    for (const p of WATCHED_ONLY) if (!b.paths[p] && exists(p)) problems.push(`${p} appeared (not touched)`);
    for (const d of cgroupDirs().filter((d) => !b.cgroups.includes(d))) {
      changes.push(`new cgroup ${d}`);
      (removeCgroup(d) ? restored : problems).push(`cgroup ${d} ${existsSync(d) ? 'could not be removed' : 'removed'}`);
    }
    return { changes, restored, problems };
  }
}

// ---------------------------------------------------------------------------------------------
// dockerd

export class DockerPeer {
  /** root: a fresh dir (short: socket paths); track(child, name): the bench's process tracking. */
  constructor(root, { track = () => {}, env = process.env } = {}) {
    this.root = root;
    this.sock = path.join(root, 'docker.sock');
    this.dataRoot = path.join(root, 'data');
    this.execRoot = path.join(root, 'exec');
    this.cliConfig = path.join(root, 'cli');
    this.log = path.join(root, 'dockerd.log');
    this.track = track;
    this.env = env;
    this.docker = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
  }

  /** Environment for the docker CLI: a private config dir, no DOCKER_* from the caller. */
  cliEnv() {
    const env = { ...this.env, DOCKER_CONFIG: this.cliConfig };
    for (const k of Object.keys(env)) if (k.startsWith('DOCKER_') && k !== 'DOCKER_CONFIG') delete env[k];
    return env;
  }

  /** The docker CLI argv for a command against this daemon. */
  args(...a) {
    return [this.docker, '-H', `unix://${this.sock}`, ...a];
  }

  async start(timeoutMs = 60_000) {
    for (const d of [this.dataRoot, this.execRoot, this.cliConfig]) mkdirSync(d, { recursive: true });
    // An empty CLI config: podman reads DOCKER_CONFIG too (auth) and fails when it names a missing file.
    writeFileSync(path.join(this.cliConfig, 'config.json'), '{}\n');
    const cfg = path.join(this.root, 'daemon.json');
    writeFileSync(cfg, '{}\n'); // never read the host's /etc/docker/daemon.json
    this.argv = [
      '/usr/sbin/dockerd',
      '--config-file', cfg,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', path.join(this.root, 'dockerd.pid'),
      '-H', `unix://${this.sock}`,
      '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--storage-driver', 'overlay2',
    ];
    this.child = spawn(this.argv[0], this.argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.output = '';
    const keep = (b) => {
      this.output += b;
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r((this.exitInfo = { code, signal }))));
    this.track(this.child, 'dockerd', { stop: () => this.stop() });
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (this.exitInfo) throw new Error(`dockerd exited ${JSON.stringify(this.exitInfo)}: ${this.output.trim().split('\n').slice(-3).join(' | ')}`);
      if ((await httpPing(this.sock, '/_ping')) === 200) {
        this.readyMs = Date.now() - t0;
        return this;
      }
      await sleep(50);
    }
    throw new Error(`dockerd not ready after ${timeoutMs} ms: ${this.output.trim().split('\n').slice(-3).join(' | ')}`);
  }

  get pid() {
    return this.child?.pid;
  }

  /** The containerd dockerd started (its child). */
  containerdPid() {
    return processes().find((p) => p.ppid === this.pid && path.basename(p.argv[0] ?? '') === 'containerd')?.pid;
  }

  /** containerd-shim-runc-v2 processes serving our containerd (they are re-parented, so found by argv). */
  shimPids() {
    const addr = path.join(this.execRoot, 'containerd');
    return processes()
      .filter((p) => path.basename(p.argv[0] ?? '').startsWith('containerd-shim') && p.argv.some((a) => a.startsWith(addr)))
      .map((p) => p.pid);
  }

  /** Stops containers, dockerd (SIGTERM; SIGKILL after 20 s), its containerd and any shim left. Idempotent. */
  stop() {
    this.stopping ??= (async () => {
      const notes = [];
      if (this.child && !this.exitInfo) {
        const ps = await exec(this.docker, ['-H', `unix://${this.sock}`, 'ps', '-aq'], { env: this.cliEnv(), timeoutMs: 30_000 });
        const ids = ps.stdout?.trim().split('\n').filter(Boolean) ?? [];
        if (ids.length) {
          const rm = await exec(this.docker, ['-H', `unix://${this.sock}`, 'rm', '-f', ...ids], { env: this.cliEnv(), timeoutMs: 120_000 });
          notes.push(`removed ${ids.length} container(s) left over${rm.status === 0 ? '' : ` (docker rm exit ${rm.status})`}`);
        }
        const ctrd = this.containerdPid();
        try {
          process.kill(this.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const killer = setTimeout(() => {
          notes.push('dockerd did not stop within 20 s of SIGTERM: SIGKILL');
          killPids([this.pid, ctrd].filter(Boolean));
        }, 20_000);
        await this.exited;
        clearTimeout(killer);
        // dockerd stops its containerd on the way out; give it a moment, then make sure.
        for (let i = 0; i < 50 && ctrd && rssKiB(ctrd) !== undefined; i++) await sleep(100);
        if (ctrd && rssKiB(ctrd) !== undefined) {
          notes.push('containerd still running after dockerd stopped: SIGKILL');
          killPids([ctrd]);
        }
      }
      const left = processesMentioning(this.root);
      if (left.length) {
        notes.push(`killed leftover processes: ${left.map((p) => `${p.pid} ${path.basename(p.argv[0])}`).join(', ')}`);
        killPids(left.map((p) => p.pid));
        await sleep(200);
      }
      this.stopNotes = notes;
      return notes;
    })();
    return this.stopping;
  }
}

// ---------------------------------------------------------------------------------------------
// podman

export class PodmanPeer {
  constructor(root, { env = process.env } = {}) {
    this.root = root;
    this.conf = path.join(root, 'containers.conf');
    this.podman = '/usr/bin/podman';
    this.env = env;
  }

  setup() {
    mkdirSync(path.join(this.root, 'tmp'), { recursive: true });
    mkdirSync(path.join(this.root, 'net.d'), { recursive: true });
    writeFileSync(
      this.conf,
      [
        '# written by tools/bench/peers.mjs (settings from research/machine.md §7)',
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = "${path.join(this.root, 'events.log')}"`,
        `tmp_dir = "${path.join(this.root, 'tmp')}"`,
        '[network]',
        `network_config_dir = "${path.join(this.root, 'net.d')}"`,
        '',
      ].join('\n'),
    );
    return this;
  }

  cliEnv() {
    const env = { ...this.env, CONTAINERS_CONF: this.conf };
    delete env.CONTAINERS_STORAGE_CONF;
    delete env.CONTAINER_HOST;
    return env;
  }

  args(...a) {
    return [this.podman, '--root', path.join(this.root, 'storage'), '--runroot', path.join(this.root, 'run'), '--storage-driver', 'overlay', ...a];
  }

  conmonPids() {
    return processes()
      .filter((p) => path.basename(p.argv[0] ?? '') === 'conmon' && p.argv.some((a) => a.includes(this.root)))
      .map((p) => p.pid);
  }

  /** Removes every container (no stop timeout), kills leftovers, unmounts its storage. Idempotent. */
  stop() {
    this.stopping ??= (async () => {
      const notes = [];
      if (existsSync(this.conf)) {
        const [bin, ...a] = this.args('rm', '-a', '-f', '-t', '0');
        const r = await exec(bin, a, { env: this.cliEnv(), timeoutMs: 180_000 });
        const n = r.stdout?.trim().split('\n').filter(Boolean).length ?? 0;
        if (n) notes.push(`removed ${n} container(s) left over`);
        if (r.status !== 0) notes.push(`podman rm -a exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`);
      }
      const left = processesMentioning(this.root);
      if (left.length) {
        notes.push(`killed leftover processes: ${left.map((p) => `${p.pid} ${path.basename(p.argv[0])}`).join(', ')}`);
        killPids(left.map((p) => p.pid));
        await sleep(200);
      }
      this.stopNotes = notes;
      return notes;
    })();
    return this.stopping;
  }
}

// ---------------------------------------------------------------------------------------------
// Everything together: one root, torn down in one place.

export class Peers {
  constructor({ track, env } = {}) {
    this.root = mkdtempSync('/tmp/ib-');
    this.guard = new HostGuard();
    this.guard.snapshot();
    this.docker = new DockerPeer(path.join(this.root, 'docker'), { track, env });
    this.podman = new PodmanPeer(path.join(this.root, 'podman'), { env });
  }

  /**
   * Starts dockerd and sets podman up, each with the image tarball `tar` loaded. A peer that fails
   * is reported through `fail(name, err)` and left out; `must(what, argv, env)` runs a command that
   * has to succeed. Returns what the report shows of the peers.
   */
  async startWithImage(tar, { must, sh, fail, checkInterrupted }) {
    const out = { dockerdReadyMs: undefined, dockerVersion: undefined, podmanVersion: undefined };
    checkInterrupted();
    try {
      await this.docker.start();
      out.dockerdReadyMs = this.docker.readyMs;
      await must('docker load', this.docker.args('load', '-i', tar), this.docker.cliEnv());
      const v = await sh(this.docker.args('version', '--format', '{{.Client.Version}} / {{.Server.Version}}'), this.docker.cliEnv());
      out.dockerVersion = v.stdout.trim();
    } catch (err) {
      fail('docker', err);
    }
    checkInterrupted();
    try {
      this.podman.setup();
      await must('podman load', this.podman.args('load', '-i', tar), this.podman.cliEnv());
      out.podmanVersion = (await sh([this.podman.podman, '--version'], this.podman.cliEnv())).stdout.trim();
    } catch (err) {
      fail('podman', err);
    }
    return out;
  }

  /**
   * Stops both peers, unmounts everything below the root, removes it, checks/restores the host.
   * Idempotent; safe to call from a signal handler while a measurement is still running.
   */
  teardown() {
    this.tearing ??= (async () => {
      const report = { notes: [], warnings: [] };
      for (const [name, peer] of [
        ['docker', this.docker],
        ['podman', this.podman],
      ]) {
        try {
          for (const n of await peer.stop()) report.notes.push(`${name}: ${n}`);
        } catch (err) {
          report.warnings.push(`${name}: stop failed: ${err.message}`);
        }
      }
      for (const p of processesMentioning(this.root)) {
        report.warnings.push(`process ${p.pid} (${p.argv.join(' ').slice(0, 120)}) still mentions ${this.root}: SIGKILL`);
        killPids([p.pid]);
      }
      const mounts = mountsUnder(this.root);
      if (mounts.length) report.notes.push(`unmounted ${mounts.length} mount(s) left under ${this.root}`);
      const rm = removeDirSafely(this.root);
      if (!rm.removed) report.warnings.push(`${this.root} not removed: ${rm.why}`);
      const host = this.guard.checkAndRestore();
      report.host = host;
      // One line per kind: cgroup parents appear in every hierarchy.
      const cg = host.restored.filter((r) => r.startsWith('cgroup '));
      const names = [...new Set(cg.map((r) => path.basename(r.split(' ')[1])))];
      if (cg.length) report.notes.push(`host: removed the cgroup parent(s) ${names.join(', ')} the peers created (${cg.length} dirs)`);
      const other = host.restored.filter((r) => !r.startsWith('cgroup '));
      if (other.length) report.notes.push(`host: put back what the peers left: ${other.join('; ')}`);
      for (const p of host.problems) report.warnings.push(`host: ${p}`);
      const ipf = host.changes.find((c) => c.startsWith('/proc/sys/net/ipv4/ip_forward'));
      const ipt = host.changes.find((c) => c.startsWith('iptables-save'));
      if (ipf || ipt) report.warnings.push(`WARNING: the peers changed ${[ipf, ipt].filter(Boolean).join(' and ')}; restored (see host notes)`);
      report.ipForward = readTrim('/proc/sys/net/ipv4/ip_forward');
      report.ipForwardBefore = this.guard.before.ipForward;
      report.iptablesUnchanged = iptablesSave('iptables-save') === this.guard.before.iptables;
      report.mountsLeft = mountsUnder(this.root);
      report.processesLeft = processes()
        .filter((p) => ['dockerd', 'containerd', 'conmon'].includes(path.basename(p.argv[0] ?? '')) || path.basename(p.argv[0] ?? '').startsWith('containerd-shim'))
        .map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 100)}`);
      return report;
    })();
    return this.tearing;
  }

  /** Last resort on process exit (synchronous): kill what mentions the root, lazy-unmount, remove. */
  emergency() {
    if (this.tearing) return;
    try {
      killPids([this.docker.pid].filter(Boolean));
      killPids(processesMentioning(this.root).map((p) => p.pid));
      for (const m of mountsUnder(this.root)) spawnSync('umount', ['-l', m]);
      if (mountsUnder(this.root).length === 0) rmSync(this.root, { recursive: true, force: true });
      this.guard.checkAndRestore();
    } catch {
      /* best effort */
    }
  }
}

/**
 * Stops a process run under `unshare --fork --kill-child` (`child`): SIGTERM to the engine (`pid`),
 * then after `graceMs` SIGKILL to it and to unshare, which takes the whole pid namespace down.
 * `onKill` runs when the grace ran out. Resolves once `exited` has.
 */
export async function stopInNamespace({ pid, child, exited, graceMs, onKill }) {
  const kill = (p, sig) => {
    try {
      if (p !== undefined) process.kill(p, sig);
    } catch {
      /* gone */
    }
  };
  kill(pid, 'SIGTERM');
  const killer = setTimeout(
    () => {
      onKill?.();
      kill(pid, 'SIGKILL');
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    },
    pid === undefined ? 0 : graceMs,
  );
  await exited;
  clearTimeout(killer);
}

/**
 * CPU of one process from /proc/<pid>/stat, in seconds (100 Hz ticks): `self` = utime+stime,
 * `children` = cutime+cstime (what it reaped), and its `ppid`; undefined once it is gone.
 */
export function procCpu(pid) {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { self: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}
