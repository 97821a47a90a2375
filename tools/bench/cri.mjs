/**
 * Section `cri` of tools/bench/bench.mjs: Kubernetes CRI runtime.v1 pod churn, isulad side by side
 * with Debian's containerd 1.6 (its built-in CRI plugin), driven by the same @grpc/grpc-js client.
 *
 *   phase 1: N pods (default 100), each RunPodSandbox + CreateContainer (busybox `sleep 1000000`)
 *            + StartContainer, K in flight (default 10);
 *   then:    engine memory with the N pods up (isulad's node process; containerd alone, its
 *            containerd-shim-runc-v2 processes, and the sum), per-pod monitor RSS;
 *   phase 2: StopPodSandbox + RemovePodSandbox of every pod, K in flight.
 *
 * Both engines run in private mount + pid namespaces (private /run and /var/lib tmpfs) with every
 * state dir under one /tmp/ib-XXXXXX; pods get a network namespace with loopback only (isulad:
 * network-plugin ""; containerd: a CNI conflist that configures nothing but lo, see containerdConfig
 * below); pod cgroups go under a private cgroup parent per engine, removed at the end. One engine
 * runs at a time. The host guard of the peers (peers.mjs) checks ip_forward, iptables, links and
 * the well-known paths containerd would create, and every mount, process and cgroup is accounted for.
 *
 * bench.mjs passes its helpers in `ctx`. A failing isulad is reported as "unavailable" (the daemon
 * side may lag) and the containerd figures still print; a failing containerd is an error.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { HostGuard, mountsUnder, processes, procCpu, removeCgroup, removeDirSafely, stopInNamespace } from './peers.mjs';

export const CRI_TARGETS = {
  totalVsContainerd: 0.5, // (create+start + stop+remove) wall time, isulad / containerd
  rssVsContainerd: 0.8, // isulad node VmRSS / (containerd + shims) VmRSS, with N pods up
};

const IMAGE = 'busybox';
const CTRD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const SHIM = '/usr/bin/containerd-shim-runc-v2';
const CNI_BIN = '/usr/lib/cni';
const CGROUP_ROOT = '/sys/fs/cgroup';
const CG = { isulad: 'ib-cri-isulad', containerd: 'ib-cri-containerd' };
/** Host paths containerd (or CNI) would use by default: must not appear (the private /run and /var/lib hide them). */
const WATCH_PATHS = ['/run/containerd', '/var/lib/containerd', '/opt/containerd', '/var/lib/cni', '/etc/cni/net.d', '/run/netns', '/var/run/netns'];
const RPCS = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'StopPodSandbox', 'RemovePodSandbox'];
const CALL_DEADLINE_MS = 120_000;

const mib = (kib) => (kib === undefined ? undefined : kib / 1024);
const shortErr = (s, n = 300) => {
  const t = String(s ?? '').trim().replace(/\s+/g, ' ');
  return t.length > n ? `${t.slice(0, n)}…` : t;
};
const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0);
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function pct(values, p) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

function list(dir) {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** VmRSS, VmHWM (status) and Pss (smaps_rollup) of a process, KiB; undefined when gone. */
function memOf(pid) {
  if (pid === undefined) return undefined;
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (text, k) => {
      const m = new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    let pss;
    try {
      pss = get(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      /* older kernel */
    }
    return { pid, rss: get(st, 'VmRSS'), hwm: get(st, 'VmHWM'), pss, threads: get(st, 'Threads') };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a whole process tree (the engine's namespace: daemon, monitors or shims, runc, the
 * pods' processes), zombies included: utime+stime+cutime+cstime of every process below `root`. A
 * process that ends moves its share into its reaper's cutime/cstime, so the sum is conserved.
 */
function treeCpu(root) {
  const procs = [];
  for (const e of list('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const c = procCpu(Number(e));
    if (c) procs.push({ pid: Number(e), ppid: c.ppid, cpu: c.self + c.children });
  }
  const set = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!set.has(p.pid) && set.has(p.ppid)) grew = set.add(p.pid) !== undefined;
  }
  return sum(procs.filter((p) => set.has(p.pid) && p.pid !== root).map((p) => p.cpu));
}

/** CPU seconds of this process (the bench, i.e. the CRI client). */
function clientCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function loadNow() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);
  } catch {
    return undefined;
  }
}

/** A group of processes: count, median / max / sum of VmRSS and the sum of Pss (KiB). */
function groupMem(pids) {
  const ms = pids.map(memOf).filter((m) => m?.rss !== undefined);
  const rss = ms.map((m) => m.rss);
  return { count: ms.length, medianKiB: pct(rss, 50), maxKiB: rss.length ? Math.max(...rss) : undefined, sumKiB: sum(rss), pssSumKiB: sum(ms.map((m) => m.pss)) };
}

/** Processes below a pid (the engine's pid namespace, seen from the host). */
function descendants(root, all = processes()) {
  const set = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!set.has(p.pid) && set.has(p.ppid)) grew = set.add(p.pid) !== undefined;
  }
  return all.filter((p) => p.pid !== root && set.has(p.pid));
}

/**
 * The pods' containers as the kernel sees them: every `sleep 1000000` below the engine's `unshare`,
 * with its memory cgroup and the network devices of its namespace (/proc/<pid>/net/dev).
 */
function inspectSleepers(root, cgroupParent) {
  const sleepers = descendants(root).filter((p) => path.basename(p.argv[0] ?? '') === 'sleep' && p.argv[1] === '1000000');
  let inParent = 0;
  let loOnly = 0;
  const devs = new Set();
  for (const p of sleepers) {
    try {
      const cg = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8');
      if (new RegExp(`^\\d+:memory:/${cgroupParent}/`, 'm').test(cg)) inParent++;
      const names = readFileSync(`/proc/${p.pid}/net/dev`, 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0].trim())
        .filter(Boolean);
      for (const n of names) devs.add(n);
      if (names.length === 1 && names[0] === 'lo') loOnly++;
    } catch {
      /* gone */
    }
  }
  return { sleepers: sleepers.length, inCgroupParent: inParent, loOnly, netDevices: [...devs].sort() };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** RepoTags[0] of a docker-save tarball. */
function repoTagOf(tar) {
  const r = spawnSync('tar', ['-xOf', tar, 'manifest.json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot read manifest.json of ${tar}: ${shortErr(r.stderr)}`);
  return JSON.parse(r.stdout)[0].RepoTags[0];
}

// ---------------------------------------------------------------------------------------------
// cgroups: one private parent per engine, in every hierarchy

function cgroupTopLevel() {
  const out = {};
  for (const c of list(CGROUP_ROOT)) {
    const dir = path.join(CGROUP_ROOT, c);
    try {
      out[c] = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch {
      /* not a hierarchy */
    }
  }
  return out;
}

function cgroupDirsNamed(name) {
  return list(CGROUP_ROOT).map((c) => path.join(CGROUP_ROOT, c, name)).filter((d) => existsSync(d));
}

/** Kills what is left in the cgroup trees named `name` (bottom-up) and rmdirs them; returns the dirs still there. */
function removeCgroupTree(name) {
  for (const d of cgroupDirsNamed(name)) removeCgroup(d);
  return cgroupDirsNamed(name);
}

// ---------------------------------------------------------------------------------------------
// The CRI client: the same @grpc/grpc-js client as e2e/src/cri-client.ts, in plain JS over the built
// packages/cri-api and packages/protocol.

function loadCri(REPO) {
  const require = createRequire(path.join(REPO, 'e2e/package.json'));
  const grpc = require('@grpc/grpc-js');
  const { RuntimeService, ImageService, cri } = require(path.join(REPO, 'packages/cri-api/dist/index.js'));
  const { toGrpcJsServiceDefinition } = require(path.join(REPO, 'packages/protocol/dist/index.js'));
  return { grpc, RuntimeService, ImageService, cri, toGrpcJsServiceDefinition };
}

function criClient(mod, socket) {
  const { grpc, RuntimeService, ImageService, toGrpcJsServiceDefinition } = mod;
  const Runtime = grpc.makeGenericClientConstructor(toGrpcJsServiceDefinition(RuntimeService), 'RuntimeService');
  const Images = grpc.makeGenericClientConstructor(toGrpcJsServiceDefinition(ImageService), 'ImageService');
  const rt = new Runtime(`unix://${socket}`, grpc.credentials.createInsecure());
  const im = new Images(`unix://${socket}`, grpc.credentials.createInsecure());
  const unary = (stub, methods, name) => (req, { deadlineMs = CALL_DEADLINE_MS } = {}) =>
    new Promise((resolve, reject) => {
      stub[name](methods[name].createRequest(req), new grpc.Metadata(), { deadline: new Date(Date.now() + deadlineMs) }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  const r = (n) => unary(rt, RuntimeService.methods, n);
  const i = (n) => unary(im, ImageService.methods, n);
  return {
    version: r('Version'),
    status: r('Status'),
    runPodSandbox: r('RunPodSandbox'),
    stopPodSandbox: r('StopPodSandbox'),
    removePodSandbox: r('RemovePodSandbox'),
    listPodSandbox: r('ListPodSandbox'),
    createContainer: r('CreateContainer'),
    startContainer: r('StartContainer'),
    listContainers: r('ListContainers'),
    imageStatus: i('ImageStatus'),
    close: () => {
      rt.close();
      im.close();
    },
  };
}

const grpcErr = (err) => (err?.code !== undefined ? `${err.code} ${err.details ?? err.message}` : (err?.message ?? String(err)));

// ---------------------------------------------------------------------------------------------
// containerd, private: its own config, root, state, sockets, in mount + pid namespaces

class ContainerdEngine {
  constructor(dir, ctx) {
    this.dir = dir;
    this.ctx = ctx;
    this.sock = path.join(dir, 'c.sock');
    this.config = path.join(dir, 'config.toml');
    this.log = path.join(dir, 'containerd.log');
    this.netd = path.join(dir, 'net.d');
  }

  /**
   * config.toml (version 2). What matters: every path in the temp dir (root, state, temp, the opt
   * plugin's dir, the gRPC socket; the ttrpc socket is <socket>.ttrpc), netns bind mounts under the
   * state dir, the pause image we import, overlayfs, runc through the v2 shim with cgroupfs,
   * restrict_oom_score_adj (no CAP_SYS_RESOURCE here), no AppArmor, the stream server on
   * 127.0.0.1:<free port>, the CNI conf dir of ours with the Debian plugins.
   */
  writeConfig({ sandboxImage, streamPort }) {
    const d = this.dir;
    for (const sub of ['root', 'state', 'tmp', 'opt', 'net.d']) mkdirSync(path.join(d, sub), { recursive: true });
    // containerd 1.6's CRI needs a CNI network ("cni config not initialized" otherwise) and then an IP
    // on eth0 in the result ("failed to find network info for sandbox" with loopback alone). So:
    // loopback (brings lo up), then Debian's `static` IPAM plugin run as the network's plugin: it
    // creates and configures nothing, it only reports the placeholder 192.0.2.1/32 (TEST-NET-1) as
    // the pod's address. The pod's netns has only lo, as isulad's with network-plugin "".
    this.conflist = {
      cniVersion: '1.0.0',
      name: 'lo-only',
      plugins: [{ type: 'loopback' }, { type: 'static', ipam: { type: 'static', addresses: [{ address: '192.0.2.1/32' }] } }],
    };
    writeFileSync(path.join(this.netd, '10-lo-only.conflist'), `${JSON.stringify(this.conflist)}\n`);
    const s = JSON.stringify; // TOML basic strings are JSON strings for these values
    this.configText = [
      '# written by tools/bench/cri.mjs: a private containerd for the CRI benchmark',
      'version = 2',
      `root = ${s(path.join(d, 'root'))}`,
      `state = ${s(path.join(d, 'state'))}`,
      `temp = ${s(path.join(d, 'tmp'))}`,
      '[grpc]',
      `  address = ${s(this.sock)}`,
      '[plugins]',
      '  [plugins."io.containerd.internal.v1.opt"]',
      `    path = ${s(path.join(d, 'opt'))}`,
      '  [plugins."io.containerd.grpc.v1.cri"]',
      `    sandbox_image = ${s(sandboxImage)}`,
      '    stream_server_address = "127.0.0.1"',
      `    stream_server_port = ${s(String(streamPort))}`,
      '    disable_apparmor = true',
      '    restrict_oom_score_adj = true',
      '    netns_mounts_under_state_dir = true',
      '    [plugins."io.containerd.grpc.v1.cri".containerd]',
      '      snapshotter = "overlayfs"',
      '      default_runtime_name = "runc"',
      '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '        runtime_type = "io.containerd.runc.v2"',
      '        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
      '          SystemdCgroup = false',
      '    [plugins."io.containerd.grpc.v1.cri".cni]',
      `      bin_dir = ${s(CNI_BIN)}`,
      `      conf_dir = ${s(this.netd)}`,
      '',
    ].join('\n');
    writeFileSync(this.config, this.configText);
  }

  /** Starts containerd as `unshare --mount --pid --fork --kill-child bash` (like bench.mjs's Daemon). */
  start() {
    const script = [
      'set -e',
      'mount --make-rprivate /',
      'mount -t proc proc /proc',
      // Private /run and /var/lib: the shim sockets (/run/containerd/s), runc's state
      // (/run/containerd/runc) and libcni's cache (/var/lib/cni) stay out of the host.
      'mount -t tmpfs -o mode=0755 tmpfs /run',
      'mount -t tmpfs -o mode=0755 tmpfs /var/lib',
      'set +e',
      `${CTRD} --config ${q(this.config)} >> ${q(this.log)} 2>&1 &`,
      'wait $!',
    ].join('\n');
    this.child = spawn('unshare', ['--mount', '--pid', '--fork', '--kill-child', 'bash', '-c', script], { env: this.ctx.benchEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.output = '';
    this.child.stdout.on('data', (b) => (this.output += b));
    this.child.stderr.on('data', (b) => (this.output += b));
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r((this.exitInfo = { code, signal }))));
    this.ctx.track(this.child, 'containerd (cri)', { stop: (grace) => this.stop(grace) });
    return this;
  }

  pid() {
    if (this.cpid !== undefined && memOf(this.cpid)) return this.cpid;
    this.cpid = processes().find((p) => path.basename(p.argv[0] ?? '') === 'containerd' && p.argv.includes(this.config))?.pid;
    return this.cpid;
  }

  /** containerd-shim-runc-v2 processes serving this containerd (their argv names its socket). */
  shimPids() {
    return processes()
      .filter((p) => path.basename(p.argv[0] ?? '').startsWith('containerd-shim') && p.argv.includes(this.sock))
      .map((p) => p.pid);
  }

  logTail(n = 3) {
    let t = '';
    try {
      t = readFileSync(this.log, 'utf8');
    } catch {
      /* none yet */
    }
    return shortErr(`${this.output}\n${t}`.trim().split('\n').slice(-n).join(' | '), 600);
  }

  /**
   * What containerd logged at warning level or worse: { lines } other than the known harmless kinds,
   * and { expected } counts of those (devmapper is not configured on this kernel; every pod's shim
   * exits after RemovePodSandbox and containerd logs its cleanup as warnings).
   */
  complaints() {
    let t = '';
    try {
      t = readFileSync(this.log, 'utf8');
    } catch {
      return { lines: [], expected: {} };
    }
    const harmless = {
      'devmapper not configured': /devmapper not configured/,
      'cleaning up after shim disconnected': /cleaning up after shim disconnected/,
      'cleanup warnings (shim exit)': /msg="cleanup warnings /,
    };
    const expected = {};
    const lines = [];
    for (const l of t.split('\n')) {
      if (!/level=(error|fatal|panic|warning)/.test(l)) continue;
      const kind = Object.keys(harmless).find((k) => harmless[k].test(l));
      if (kind) expected[kind] = (expected[kind] ?? 0) + 1;
      else lines.push(l.replace(/^time="[^"]*" /, ''));
    }
    return { lines, expected };
  }

  /** SIGTERM to containerd; SIGKILL to it and to unshare (which takes the pid namespace down) after graceMs. */
  stop(graceMs = 15_000) {
    this.stopping ??= (async () => {
      if (!this.child || this.exitInfo) return this.exitInfo;
      const pid = this.pid();
      const t0 = performance.now();
      await stopInNamespace({ pid, child: this.child, exited: this.exited, graceMs, onKill: () => (this.killed = true) });
      this.stopMs = performance.now() - t0;
      return this.exitInfo;
    })();
    return this.stopping;
  }
}

// ---------------------------------------------------------------------------------------------

async function waitFor(what, fn, { timeoutMs = 30_000, everyMs = 50, sleep, check } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    check?.();
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${grpcErr(last)})` : ''}`);
    await sleep(everyMs);
  }
}

/** Runs fn(i) for i in [0, n) with at most k in flight. */
async function pool(n, k, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(k, n)) }, worker));
}

function podConfig(cri, engine, i, logRoot) {
  return {
    metadata: { name: `bench-${i}`, namespace: 'bench', uid: `uid-${engine}-${i}`, attempt: 0 },
    hostname: `pod-${i}`,
    logDirectory: path.join(logRoot, `pod-${i}`),
    labels: { bench: 'cri' },
    linux: {
      cgroupParent: `/${CG[engine]}`,
      securityContext: { namespaceOptions: { network: cri.NamespaceMode.POD, pid: cri.NamespaceMode.CONTAINER, ipc: cri.NamespaceMode.POD } },
    },
  };
}

function containerConfig() {
  return { metadata: { name: 'sleeper', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '1000000'], logPath: 'sleeper.log', labels: { bench: 'cri' } };
}

/**
 * The measurement on one engine (already started, images in): warm-up pod, phase 1, memory with the
 * pods up, phase 2, checks. `mem()` reads the engine's memory, `cpu()` its long-lived processes' CPU.
 */
async function churn(ctx, o, mod, e) {
  const { sleep, checkInterrupted } = ctx;
  const { cri } = mod;
  const out = { pods: o.pods, inFlight: o.concurrency, rpcMs: Object.fromEntries(RPCS.map((r) => [r, []])), failures: [], anomalies: [] };
  const c = criClient(mod, e.sock);
  try {
    const v = await c.version({ version: 'v1' });
    out.version = { runtimeName: v.runtimeName, runtimeVersion: v.runtimeVersion, runtimeApiVersion: v.runtimeApiVersion };
    for (const img of [e.sandboxImage, IMAGE]) {
      const st = await c.imageStatus({ image: { image: img } });
      if (!st.image) throw new Error(`ImageStatus: ${img} is not there after the load`);
    }
    const logRoot = e.logRoot;
    const onePod = async (i, record) => {
      const sb = podConfig(cri, e.key, i, logRoot);
      const p = { i };
      const time = async (rpc, fn) => {
        const t0 = performance.now();
        const r = await fn();
        if (record) out.rpcMs[rpc].push(performance.now() - t0);
        return r;
      };
      let step = 'RunPodSandbox';
      try {
        p.pod = (await time(step, () => c.runPodSandbox({ config: sb }))).podSandboxId;
        step = 'CreateContainer';
        p.ctr = (await time(step, () => c.createContainer({ podSandboxId: p.pod, config: containerConfig(), sandboxConfig: sb }))).containerId;
        step = 'StartContainer';
        await time(step, () => c.startContainer({ containerId: p.ctr }));
        p.up = true;
      } catch (err) {
        p.error = `${step}: ${grpcErr(err)}`;
      }
      return p;
    };
    const downPod = async (p, record) => {
      const time = async (rpc, fn) => {
        const t0 = performance.now();
        await fn();
        if (record) out.rpcMs[rpc].push(performance.now() - t0);
      };
      let step = 'StopPodSandbox';
      try {
        await time(step, () => c.stopPodSandbox({ podSandboxId: p.pod }));
        step = 'RemovePodSandbox';
        await time(step, () => c.removePodSandbox({ podSandboxId: p.pod }));
        p.down = true;
      } catch (err) {
        p.downError = `${step}: ${grpcErr(err)}`;
      }
    };

    // -- warm-up: one pod through the whole cycle, not timed -----------------------------------
    if (o.warmup > 0) {
      const t0 = performance.now();
      const w = await onePod(o.pods, false);
      if (w.pod) await downPod(w, false);
      out.warmupMs = performance.now() - t0;
      if (w.error || w.downError) throw new Error(`warm-up pod: ${w.error ?? w.downError}`);
    }
    await sleep(o.idleMs);
    out.memIdle = e.mem();
    out.loadBefore = loadNow();

    // -- phase 1: create + start ------------------------------------------------------------------
    checkInterrupted();
    const pods = new Array(o.pods);
    const cpu0 = { ...e.cpu(), client: clientCpu() };
    const t1 = performance.now();
    await pool(o.pods, o.concurrency, async (i) => {
      pods[i] = await onePod(i, true);
    });
    out.createStartMs = performance.now() - t1;
    const cpu1 = { ...e.cpu(), client: clientCpu() };
    out.up = pods.filter((p) => p.up).length;
    for (const p of pods) if (p.error) out.failures.push(`pod ${p.i} (${p.pod ?? 'no id'}) ${p.error}`);
    const ready = (await c.listPodSandbox({})).items.filter((x) => x.state === cri.PodSandboxState.SANDBOX_READY).length;
    const running = (await c.listContainers({})).containers.filter((x) => x.state === cri.ContainerState.CONTAINER_RUNNING).length;
    out.listedAfterCreate = { readyPods: ready, runningContainers: running };
    if (ready !== out.up || running !== out.up) out.anomalies.push(`after phase 1: ${ready} pods ready and ${running} containers running listed, ${out.up} started`);

    // -- memory with the pods up ------------------------------------------------------------------
    await sleep(o.idleMs);
    out.memLoaded = e.mem();
    // Equal footing: every container in its engine's cgroup parent, in a network namespace with only lo.
    out.kernelView = inspectSleepers(e.root(), CG[e.key]);
    const kv = out.kernelView;
    if (kv.sleepers !== out.up || kv.inCgroupParent !== out.up || kv.loOnly !== out.up) {
      out.anomalies.push(`after phase 1: ${kv.sleepers} sleep processes found, ${kv.inCgroupParent} in /${CG[e.key]}, ${kv.loOnly} with only lo (devices seen: ${kv.netDevices.join(', ')}); ${out.up} pods up`);
    }

    // -- phase 2: stop + remove ---------------------------------------------------------------------
    checkInterrupted();
    const made = pods.filter((p) => p.pod);
    const cpu2 = { ...e.cpu(), client: clientCpu() };
    const t2 = performance.now();
    await pool(made.length, o.concurrency, (j) => downPod(made[j], true));
    out.stopRemoveMs = performance.now() - t2;
    const cpu3 = { ...e.cpu(), client: clientCpu() };
    out.down = made.filter((p) => p.down).length;
    for (const p of made) if (p.downError) out.failures.push(`pod ${p.i} (${p.pod}, container ${p.ctr ?? '-'}) ${p.downError}`);
    out.totalMs = out.createStartMs + out.stopRemoveMs;
    out.loadAfter = loadNow();
    const dcpu = (a, b) => Object.fromEntries(Object.keys(b).filter((k) => a[k] !== undefined && b[k] !== undefined).map((k) => [k, b[k] - a[k]]));
    out.cpuS = { createStart: dcpu(cpu0, cpu1), stopRemove: dcpu(cpu2, cpu3) };
    const leftPods = (await c.listPodSandbox({})).items;
    const leftCtrs = (await c.listContainers({})).containers;
    out.leftAfterRemove = { pods: leftPods.length, containers: leftCtrs.length };
    if (leftPods.length || leftCtrs.length) {
      out.anomalies.push(`after phase 2: ${leftPods.length} pods and ${leftCtrs.length} containers still listed (removed now, untimed)`);
      for (const p of leftPods) {
        await c.stopPodSandbox({ podSandboxId: p.id }).catch(() => undefined);
        await c.removePodSandbox({ podSandboxId: p.id }).catch(() => undefined);
      }
    }
    await sleep(Math.min(o.idleMs, 1000));
    out.memAfter = e.mem();
    out.rpcStats = Object.fromEntries(
      RPCS.map((r) => {
        const v = out.rpcMs[r];
        return [r, { n: v.length, median: pct(v, 50), p90: pct(v, 90), max: v.length ? Math.max(...v) : undefined }];
      }),
    );
  } finally {
    c.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export async function criBench(o, report, ctx) {
  const { sleep, checkInterrupted } = ctx;
  const res = { notes: [], errors: [], anomalies: [], unavailable: {}, engines: {}, config: { pods: o.pods, inFlight: o.concurrency, idleMs: o.idleMs, warmupPods: o.warmup > 0 ? 1 : 0 } };
  const say = (s = '') => report.push(s);
  const log = (s) => process.stderr.write(`bench: cri: ${s}\n`);

  // -- prerequisites ------------------------------------------------------------------------------
  const missing = [CTRD, CTR, SHIM, '/usr/sbin/runc', path.join(CNI_BIN, 'loopback'), path.join(CNI_BIN, 'static')].filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`missing ${missing.join(', ')} (Debian packages containerd, runc, containernetworking-plugins)`);
  let mod;
  try {
    mod = loadCri(ctx.REPO);
  } catch (err) {
    throw new Error(`cannot load the CRI client (built packages/cri-api and packages/protocol, @grpc/grpc-js): ${err.message}`);
  }

  const root = mkdtempSync('/tmp/ib-');
  res.root = root;
  const guard = new HostGuard();
  guard.snapshot();
  const watchBefore = Object.fromEntries(WATCH_PATHS.map((p) => [p, existsSync(p) ? list(p) : null]));
  for (const name of Object.values(CG)) {
    const left = cgroupDirsNamed(name);
    if (left.length) {
      const still = removeCgroupTree(name);
      res.notes.push(`cgroup parent ${name} was left over by an earlier run: ${still.length ? `could not be removed (${still.join(', ')})` : 'removed first'}`);
    }
  }
  const cgroupsBefore = cgroupTopLevel();
  let daemon;
  let ctrd;
  let tornDown;
  const teardown = () =>
    (tornDown ??= (async () => {
      const t = { notes: [], warnings: [] };
      if (daemon) {
        await daemon.stop(5000).catch(() => undefined);
        ctx.removeTempDir(daemon.dir);
      }
      if (ctrd) await ctrd.stop(10_000).catch(() => undefined);
      const left = processes().filter((p) => p.pid !== process.pid && p.argv.some((a) => a.includes(root)));
      for (const p of left) {
        t.warnings.push(`process ${p.pid} (${p.argv.join(' ').slice(0, 100)}) still mentions ${root}: SIGKILL`);
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (left.length) await sleep(200);
      t.mountsSeen = mountsUnder(root);
      if (t.mountsSeen.length) t.notes.push(`unmounted ${t.mountsSeen.length} mount(s) under ${root} in the host's namespace`);
      const rm = removeDirSafely(root);
      t.rootRemoved = rm.removed;
      if (!rm.removed) t.warnings.push(`${root} not removed: ${rm.why}`);
      for (const [engine, name] of Object.entries(CG)) {
        const had = cgroupDirsNamed(name).length;
        const still = removeCgroupTree(name);
        if (had) t.notes.push(`${engine}: removed the cgroup parent /${name} (${had - still.length} of ${had} hierarchies)`);
        if (still.length) t.warnings.push(`cgroup ${still.join(', ')} could not be removed`);
      }
      const cgAfter = cgroupTopLevel();
      const newCg = [];
      for (const [c, names] of Object.entries(cgAfter)) for (const n of names) if (!(cgroupsBefore[c] ?? []).includes(n)) newCg.push(`${c}/${n}`);
      t.newCgroups = newCg;
      // Not attributable: other work on the machine (an e2e suite, ...) creates cgroups too.
      if (newCg.length) t.notes.push(`top-level cgroups that appeared meanwhile, not named by this section (other work on the machine?), not touched: ${newCg.join(', ')}`);
      const host = guard.checkAndRestore();
      t.host = host;
      for (const ch of host.changes) t.warnings.push(`host changed: ${ch}`);
      for (const r of host.restored) t.notes.push(`host: ${r}`);
      for (const p of host.problems) t.warnings.push(`host: ${p}`);
      for (const p of WATCH_PATHS) {
        const now = existsSync(p) ? list(p) : null;
        const was = watchBefore[p];
        if (JSON.stringify(now) !== JSON.stringify(was)) t.warnings.push(`${p} changed: ${was === null ? 'absent' : `[${was.join(', ')}]`} -> ${now === null ? 'absent' : `[${now.join(', ')}]`}`);
      }
      t.ipForwardBefore = guard.before.ipForward;
      t.ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
      t.iptablesUnchanged = !host.changes.some((ch) => ch.startsWith('iptables-save') || ch.startsWith('ip6tables-save'));
      t.linksUnchanged = !host.changes.some((ch) => ch.startsWith('new network link'));
      t.mountsLeft = mountsUnder(root);
      t.processesLeft = processes()
        .filter((p) => p.pid !== process.pid && p.argv.some((a) => a.includes(root)))
        .map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 100)}`);
      return t;
    })());
  const disposeHook = ctx.onCleanup(teardown, () => {
    try {
      if (ctrd?.child) ctrd.child.kill('SIGKILL');
      for (const p of processes().filter((x) => x.argv.some((a) => a.includes(root)))) process.kill(p.pid, 'SIGKILL');
    } catch {
      /* best effort */
    }
  });

  const unavailable = (key, err) => {
    let msg = shortErr(err?.message ?? err);
    try {
      checkInterrupted();
    } catch {
      msg = `interrupted (${msg})`;
    }
    res.unavailable[key] ??= msg;
    if (key !== 'isulad') res.errors.push(`${key}: ${msg}`);
  };

  try {
    // -- images ----------------------------------------------------------------------------------------
    const img = path.join(root, 'img');
    for (const script of ['make-pause.sh', 'make-busybox.sh']) {
      const r = spawnSync('bash', [path.join(ctx.REPO, 'tools/images', script), img], { encoding: 'utf8', env: ctx.benchEnv });
      if (r.status !== 0) throw new Error(`tools/images/${script} failed: ${shortErr(r.stderr || r.stdout)}`);
    }
    const pauseTar = path.join(img, 'pause.tar');
    const busyboxTar = path.join(img, 'busybox.tar');
    const sandboxImage = repoTagOf(pauseTar);
    res.sandboxImage = sandboxImage;
    const v = spawnSync(CTRD, ['--version'], { encoding: 'utf8' });
    const [, , upstream, debian] = v.stdout.trim().split(' ');
    res.containerdVersion = `${upstream}${debian ? ` (Debian ${debian})` : ''}`;
    res.runcVersion = spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];

    // -- isulad ------------------------------------------------------------------------------------------
    checkInterrupted();
    try {
      if (!existsSync(ctx.ISULA) || !existsSync(ctx.ISULAD)) throw new Error('packages/isula or packages/isulad not built');
      const port = await freePort();
      daemon = new ctx.Daemon({ label: 'isulad (cri)', daemonJson: { 'websocket-server-listening-port': port, 'pod-sandbox-image': sandboxImage } });
      res.isuladDaemonJson = { 'websocket-server-listening-port': port, 'pod-sandbox-image': sandboxImage };
      await daemon.waitReady();
      if (daemon.nodePid() === undefined) throw new Error('could not find the daemon node process under unshare/bash');
      for (const tar of [pauseTar, busyboxTar]) {
        const r = await ctx.run('node', [ctx.ISULA, 'load', '-H', `unix://${daemon.sock}`, '-i', tar], { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`isula load -i ${path.basename(tar)} failed (exit ${r.code ?? r.signal}): ${shortErr(r.stderr || r.stdout)}`);
      }
      const c = criClient(mod, daemon.sock);
      try {
        await waitFor('isulad CRI Status RuntimeReady + NetworkReady', async () => {
          const st = await c.status({});
          const cond = Object.fromEntries((st.status?.conditions ?? []).map((x) => [x.type, x.status]));
          return cond.RuntimeReady && cond.NetworkReady;
        }, { sleep, check: checkInterrupted, timeoutMs: 20_000 });
      } finally {
        c.close();
      }
      const logRoot = path.join(root, 'logs', 'isulad');
      const e = {
        key: 'isulad',
        sock: daemon.sock,
        sandboxImage,
        logRoot,
        mem: () => {
          const all = processes();
          const ns = descendants(daemon.child.pid, all);
          const monitors = ns.filter((p) => path.basename(p.argv[0] ?? '') === 'isula-monitor').map((p) => p.pid);
          return { engine: memOf(daemon.nodePid()), monitors: groupMem(monitors) };
        },
        cpu: () => ({ daemon: procCpu(daemon.nodePid())?.self, all: treeCpu(daemon.child.pid) }),
        root: () => daemon.child.pid,
      };
      log(`isulad: ${o.pods} pods, ${o.concurrency} in flight`);
      res.engines.isulad = await churn(ctx, o, mod, e);
    } catch (err) {
      unavailable('isulad', err);
    }
    if (daemon) {
      await daemon.stop(10_000);
      // WARN-or-worse lines of isulad.log with their error and RPC fields (pino JSON).
      const complaints = (daemon.log ?? [])
        .filter((l) => (l.level ?? 0) >= 40 || l.unparsed)
        .map((l) => {
          const err = l.err?.message ?? l.err ?? l.error?.message ?? l.error;
          const extra = [l.method ?? l.rpc, err].filter(Boolean).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
          return shortErr(`${String(l.msg ?? '').split('\n')[0]}${extra.length ? `: ${extra.join(': ')}` : ''}`, 400);
        });
      res.isuladExit = { exit: daemon.exitInfo, killed: daemon.killed ?? false, stopMs: daemon.stopMs, complaints: [...new Set(complaints)].slice(0, 20) };
      res.isuladBootedInMs = daemon.bootedInMs();
      ctx.removeTempDir(daemon.dir);
    }

    // -- containerd ------------------------------------------------------------------------------------
    checkInterrupted();
    try {
      ctrd = new ContainerdEngine(path.join(root, 'ctrd'), ctx);
      mkdirSync(ctrd.dir, { recursive: true });
      const streamPort = await freePort();
      ctrd.writeConfig({ sandboxImage, streamPort });
      res.containerdConfig = ctrd.configText;
      res.cniConflist = ctrd.conflist;
      const t0 = performance.now();
      ctrd.start();
      const alive = () => {
        checkInterrupted();
        if (ctrd.exitInfo) throw new Error(`containerd exited ${JSON.stringify(ctrd.exitInfo)}: ${ctrd.logTail()}`);
      };
      await waitFor('containerd socket', () => existsSync(ctrd.sock), { sleep, check: alive, everyMs: 20 });
      const c = criClient(mod, ctrd.sock);
      try {
        await waitFor('containerd CRI Status RuntimeReady + NetworkReady', async () => {
          const st = await c.status({}, { deadlineMs: 2000 });
          const cond = Object.fromEntries((st.status?.conditions ?? []).map((x) => [x.type, x.status]));
          return cond.RuntimeReady && cond.NetworkReady;
        }, { sleep, check: alive, timeoutMs: 30_000 });
      } finally {
        c.close();
      }
      res.containerdReadyMs = performance.now() - t0;
      for (const tar of [pauseTar, busyboxTar]) {
        const r = await ctx.run(CTR, ['-a', ctrd.sock, '-n', 'k8s.io', 'images', 'import', tar], { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`ctr images import ${path.basename(tar)} failed (exit ${r.code ?? r.signal}): ${shortErr(r.stderr || r.stdout)}`);
      }
      const e = {
        key: 'containerd',
        sock: ctrd.sock,
        sandboxImage,
        logRoot: path.join(root, 'logs', 'containerd'),
        mem: () => ({ engine: memOf(ctrd.pid()), monitors: groupMem(ctrd.shimPids()) }),
        cpu: () => ({ daemon: procCpu(ctrd.pid())?.self, all: treeCpu(ctrd.child.pid) }),
        root: () => ctrd.child.pid,
      };
      log(`containerd: ${o.pods} pods, ${o.concurrency} in flight`);
      res.engines.containerd = await churn(ctx, o, mod, e);
    } catch (err) {
      unavailable('containerd', err);
    }
    if (ctrd?.child) {
      await ctrd.stop(15_000);
      const cl = ctrd.complaints();
      res.containerdExit = { exit: ctrd.exitInfo, killed: ctrd.killed ?? false, stopMs: ctrd.stopMs, complaints: [...new Set(cl.lines)].slice(0, 20), expectedWarnings: cl.expected };
    }
  } catch (err) {
    res.errors.push(err.message);
  } finally {
    res.teardown = await teardown();
    disposeHook();
  }

  // -- figures ------------------------------------------------------------------------------------------
  const I = res.engines.isulad;
  const C = res.engines.containerd;
  const complete = (x) => x && x.up === o.pods && x.down === o.pods;
  for (const [k, x] of Object.entries(res.engines)) {
    for (const a of x.anomalies) res.anomalies.push(`${k}: ${a}`);
    if (x.failures.length) res.anomalies.push(`${k}: ${x.failures.length} pod failure(s), first: ${x.failures[0]}`);
    if (k === 'containerd' && x.failures.length) res.errors.push(`containerd: ${x.failures.length} pod failure(s)`);
  }
  if (res.isuladExit) {
    const d = res.isuladExit;
    if (d.exit && (d.exit.code !== 0 || d.exit.signal)) res.anomalies.push(`isulad exit after SIGTERM: ${JSON.stringify(d.exit)}`);
    if (d.killed) res.anomalies.push('isulad did not stop within the grace period, SIGKILLed');
    for (const l of d.complaints) res.anomalies.push(`isulad log: ${l}`);
  }
  if (res.containerdExit) {
    const d = res.containerdExit;
    if (d.exit && (d.exit.code !== 0 || d.exit.signal)) res.anomalies.push(`containerd exit after SIGTERM: ${JSON.stringify(d.exit)}`);
    if (d.killed) res.anomalies.push('containerd did not stop within 15 s of SIGTERM, SIGKILLed');
    for (const l of d.complaints.slice(0, 10)) res.anomalies.push(`containerd log: ${shortErr(l, 200)}`);
    const ex = Object.entries(d.expectedWarnings ?? {});
    if (ex.length) res.notes.push(`containerd logged the expected warnings: ${ex.map(([k, n]) => `${k} x${n}`).join(', ')}`);
  }
  const ratios = {};
  if (I?.totalMs !== undefined && C?.totalMs !== undefined) {
    ratios.createStart = I.createStartMs / C.createStartMs;
    ratios.stopRemove = I.stopRemoveMs / C.stopRemoveMs;
    ratios.total = I.totalMs / C.totalMs;
  }
  const iLoaded = I?.memLoaded;
  const cLoaded = C?.memLoaded;
  if (iLoaded?.engine && cLoaded?.engine) {
    const cSum = cLoaded.engine.rss + cLoaded.monitors.sumKiB;
    ratios.rss = iLoaded.engine.rss / cSum;
    ratios.rssVsContainerdAlone = iLoaded.engine.rss / cLoaded.engine.rss;
    ratios.rssWithMonitors = (iLoaded.engine.rss + iLoaded.monitors.sumKiB) / cSum;
    if (iLoaded.engine.pss !== undefined && cLoaded.engine.pss !== undefined) {
      ratios.pssWithMonitors = (iLoaded.engine.pss + iLoaded.monitors.pssSumKiB) / (cLoaded.engine.pss + cLoaded.monitors.pssSumKiB);
    }
  }
  res.ratios = ratios;
  // A pod isulad failed to bring up or down means the job was not done: MISSED whatever the time.
  // containerd failures make the comparison meaningless: not judged.
  const fails = (x) => `${x.failures.length} pod failure(s)`;
  res.verdicts = {
    total:
      ratios.total === undefined
        ? 'not measured'
        : !complete(C)
          ? `not judged (containerd: ${fails(C)})`
          : !complete(I)
            ? `MISSED (isulad: ${fails(I)})`
            : ratios.total <= CRI_TARGETS.totalVsContainerd
              ? 'MET'
              : 'MISSED',
    rss: ratios.rss === undefined ? 'not measured' : ratios.rss <= CRI_TARGETS.rssVsContainerd ? 'MET' : 'MISSED',
  };

  render(res, o, say, ctx);
  return res;
}

function render(res, o, say, { table, f1, f2 }) {
  const T = CRI_TARGETS;
  const I = res.engines.isulad;
  const C = res.engines.containerd;
  const s = (ms) => f2(ms === undefined ? undefined : ms / 1000);
  say('== cri ============================================================================');
  say('');
  say(`${o.pods} pods, each RunPodSandbox + CreateContainer (busybox \`sleep 1000000\`) + StartContainer, then StopPodSandbox + RemovePodSandbox;`);
  say(`${o.concurrency} pods in flight; one @grpc/grpc-js CRI runtime.v1 client (as e2e/src/cri-client.ts) per engine, one engine at a time;`);
  say(`${res.config.warmupPods ? '1 untimed warm-up pod per engine first; ' : ''}pods: lo only, cgroup parent /${CG.isulad} | /${CG.containerd}; sandbox image ${res.sandboxImage ?? '?'} (make-pause.sh).`);
  if (I?.version) say(`  isulad:     ${I.version.runtimeName} ${I.version.runtimeVersion}, private daemon (mount+pid ns), network-plugin "" ; booted in ${f2((res.isuladBootedInMs ?? NaN) / 1000)} s`);
  if (C?.version || res.containerdVersion) say(`  containerd: ${C?.version ? `${C.version.runtimeName} ${C.version.runtimeVersion}` : res.containerdVersion}, private instance (mount+pid ns), CRI plugin, runc v2 shim, overlayfs, CNI lo-only (loopback + static placeholder IP); ready in ${f2((res.containerdReadyMs ?? NaN) / 1000)} s; ${res.runcVersion ?? ''}`);
  say('');

  say('1. Wall time (s)');
  const rows = [];
  for (const [k, x] of [
    ['isulad', I],
    ['containerd', C],
  ]) {
    if (!x) {
      rows.push([k, '-', '-', '-', '-', '-', res.unavailable[k] ? 'unavailable' : '-']);
      continue;
    }
    rows.push([k, `${x.up}/${x.pods}`, s(x.createStartMs), `${x.down}/${x.up}`, s(x.stopRemoveMs), s(x.totalMs), s(x.warmupMs)]);
  }
  if (res.ratios.total !== undefined && res.ratios.createStart !== undefined) rows.push(['isulad / containerd', '', `${f2(res.ratios.createStart)}x`, '', `${f2(res.ratios.stopRemove)}x`, `${f2(res.ratios.total)}x`, '']);
  say(table(['engine', 'up', 'create+start', 'down', 'stop+remove', 'total', 'warm-up pod'], rows, ['l']));
  for (const k of ['isulad', 'containerd']) if (res.unavailable[k]) say(`  ${k}: unavailable (${res.unavailable[k]})`);
  const kv = (x) => (x?.kernelView ? `${x.kernelView.sleepers} containers, ${x.kernelView.inCgroupParent} in /${CG[x === I ? 'isulad' : 'containerd']}, ${x.kernelView.loOnly} with only lo` : '-');
  if (I?.kernelView || C?.kernelView) say(`  seen in /proc with the pods up: isulad ${kv(I)}; containerd ${kv(C)}`);
  if (res.ratios.total !== undefined) say(`  total isulad / containerd: ${f2(res.ratios.total)}x   target <= ${T.totalVsContainerd}x  ${res.verdicts.total}`);
  else say(`  total isulad / containerd: not measured (an engine did not run the phases)   target <= ${T.totalVsContainerd}x`);
  for (const [k, x] of [
    ['isulad', I],
    ['containerd', C],
  ]) {
    if (x?.failures.length) say(`  ${k}: ${x.failures.length} pod failure(s), the first: ${shortErr(x.failures[0], 400)}`);
  }
  say('');

  say(`2. Per-RPC latency (ms, over the ${o.pods} pods with ${o.concurrency} in flight: median / p90 / max)`);
  const rpcRow = (rpc) => {
    const cell = (x) => {
      const st = x?.rpcStats?.[rpc];
      return st?.n ? `${f1(st.median)} / ${f1(st.p90)} / ${f1(st.max)}` : '-';
    };
    return [rpc, cell(I), cell(C)];
  };
  say(table(['RPC', 'isulad', 'containerd'], RPCS.map(rpcRow), ['l']));
  const cpuRow = (phase) => {
    const cell = (x) => {
      const v = x?.cpuS?.[phase];
      return v ? `${f2(v.daemon)} / ${f2(v.all)} / ${f2(v.client)}` : '-';
    };
    return [phase === 'createStart' ? 'create+start' : 'stop+remove', cell(I), cell(C)];
  };
  say(table(['CPU s: daemon / whole engine namespace / client', 'isulad', 'containerd'], [cpuRow('createStart'), cpuRow('stopRemove')], ['l']));
  say('  daemon = the isulad node process / containerd itself; whole namespace = every process of the engine (daemon, monitors or');
  say('  shims, runc, the pods\' own processes), reaped ones included (utime+stime+cutime+cstime); client = the bench process.');
  const ld = (x) => (x?.loadBefore ? `${x.loadBefore.join(' ')} -> ${x.loadAfter?.join(' ') ?? '?'}` : '-');
  say(`  load average over the measured phases: isulad ${ld(I)}; containerd ${ld(C)} (${os.cpus().length} CPUs, shared machine)`);
  say('');

  say(`3. Memory with ${o.pods} pods up (MiB = KiB/1024, ${o.idleMs} ms after the last start; VmRSS, and Pss from smaps_rollup)`);
  const mrows = [];
  const eng = (label, x, key) => {
    const m = x?.[key]?.engine;
    return [label, f1(mib(x?.memIdle?.engine?.rss)), f1(mib(m?.rss)), f1(mib(m?.hwm)), f1(mib(m?.pss)), m?.threads ?? '-'];
  };
  const grp = (label, x) => {
    const g = x?.memLoaded?.monitors;
    return [label, f1(mib(x?.memIdle?.monitors?.sumKiB)), f1(mib(g?.sumKiB)), '-', f1(mib(g?.pssSumKiB)), g ? `${g.count} procs, median ${f2(mib(g.medianKiB))}, max ${f2(mib(g.maxKiB))}` : '-'];
  };
  const tot = (label, x) => {
    const l = x?.memLoaded;
    const i = x?.memIdle;
    if (!l?.engine) return [label, '-', '-', '-', '-', ''];
    return [label, f1(mib((i?.engine?.rss ?? 0) + (i?.monitors?.sumKiB ?? 0))), f1(mib(l.engine.rss + l.monitors.sumKiB)), '-', f1(mib((l.engine.pss ?? 0) + l.monitors.pssSumKiB)), ''];
  };
  if (I) {
    mrows.push(eng('isulad (node process)', I, 'memLoaded'));
    mrows.push(grp('  isula-monitor (2 per pod: pause + container)', I));
    mrows.push(tot('  isulad + monitors', I));
  }
  if (C) {
    mrows.push(eng('containerd alone', C, 'memLoaded'));
    mrows.push(grp('  containerd-shim-runc-v2 (1 per pod)', C));
    mrows.push(tot('  containerd + shims', C));
  }
  if (mrows.length) say(table(['process', 'idle (warm-up done)', `with ${o.pods} pods`, 'VmHWM', 'Pss', 'threads / monitors'], mrows, ['l']));
  const r = res.ratios;
  if (r.rss !== undefined) {
    say(`  isulad (node) / (containerd + shims), VmRSS: ${f2(r.rss)}x   target <= ${T.rssVsContainerd}x  ${res.verdicts.rss}`);
    say(`  for information: isulad / containerd alone ${f2(r.rssVsContainerdAlone)}x; (isulad + monitors) / (containerd + shims) VmRSS ${f2(r.rssWithMonitors)}x${r.pssWithMonitors !== undefined ? `, Pss ${f2(r.pssWithMonitors)}x` : ''}`);
    say('  (VmRSS sums count the pages the shims / monitors share, e.g. their program text, once per process; Pss splits them.)');
  } else say(`  isulad / (containerd + shims): not measured   target <= ${T.rssVsContainerd}x`);
  if (I?.memAfter || C?.memAfter) say(`  after stop+remove: isulad ${f1(mib(I?.memAfter?.engine?.rss))} MiB (${I?.memAfter?.monitors?.count ?? '-'} monitors left), containerd ${f1(mib(C?.memAfter?.engine?.rss))} MiB (${C?.memAfter?.monitors?.count ?? '-'} shims left)`);
  say('');

  const td = res.teardown;
  if (td) {
    say(`Teardown: ${res.root} ${td.rootRemoved ? 'removed' : 'NOT removed'}; mounts left under it: ${td.mountsLeft.length}; cgroup parents removed; ip_forward ${td.ipForwardBefore} -> ${td.ipForward}; iptables ${td.iptablesUnchanged ? 'unchanged' : 'CHANGED'}; links ${td.linksUnchanged ? 'unchanged' : 'CHANGED'}`);
    say(`  processes left naming the temp dir: ${td.processesLeft.length ? td.processesLeft.join('; ') : 'none'}; cgroups: /${CG.isulad} and /${CG.containerd} gone, ${td.newCgroups.length} other new top-level (see below)`);
    for (const n of td.notes) say(`  - ${n}`);
    for (const w of td.warnings) say(`  ! ${w}`);
  }
  for (const n of res.notes) say(`note: ${n}`);
  if (res.anomalies.length) {
    say('Anomalies:');
    for (const a of [...new Set(res.anomalies)]) say(`  - ${a}`);
  } else say('Anomalies: none seen (pod failures, list counts after each phase, engine stop, WARN+ lines in both logs).');
  if (res.errors.length) {
    say('Errors:');
    for (const e of res.errors) say(`  - ${e}`);
  }
}
