/**
 * Section `exec` of tools/bench/bench.mjs: running a process in a running container, isula-ts side
 * by side with docker (private dockerd) and podman, on the same busybox image, in one run.
 *
 *   1. latency of `exec C true` (hyperfine -N), with a bare `node -e ''` row for reference;
 *   2. throughput of `exec C cat /big > /dev/null` for a 200 MiB (209715200 bytes) random file in
 *      the container's rootfs, interleaved runs, MB/s; one `exec C cat /big | wc -c` per engine
 *      checks that every byte arrives; CPU per run of the CLI and of the engine's processes.
 *
 * The peers (packages, dockerd, podman, host guard, teardown) are the containers section's
 * (peers.mjs); the isulad daemon is bench.mjs's Daemon with the host's /run shared (the isula
 * client makes its exec FIFOs under /var/run/isula/<id>/). bench.mjs passes its helpers in `ctx`.
 * Every isula figure may fail: it is reported as "isula: unavailable (<error>)" and the peer
 * figures still print. Everything created here is removed at the end (containers, daemon, peers).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { installPeers, Peers, procCpu } from './peers.mjs';

export const EXEC_TARGETS = {
  latencyVsDocker: 0.9, // isula exec C true / docker exec C true, medians
  throughputVsDocker: 1, // isula exec C cat MB/s / docker exec C cat MB/s, medians
};

const IMAGE = 'busybox';
const BIG_BYTES = 209_715_200; // 200 MiB
const MB = 1e6;
const TP_RUNS_DEFAULT = 5; // throughput runs per engine: min(--runs, 5)
const CGROUP_PARENT = 'isula-bench-exec';
const ENGINES = ['isula', 'docker', 'podman'];

const shortErr = (s, n = 240) => {
  const t = String(s ?? '').trim().replace(/\s+/g, ' ');
  return t.length > n ? `${t.slice(0, n)}…` : t;
};
const firstLine = (s) => String(s ?? '').trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';

/** CPU readings of a { name: pid } map. */
function cpuSnapshot(pids) {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procCpu(pid)]));
}

/** Per-process CPU seconds spent between two snapshots ({ name: { self, children } }). */
function cpuDelta(a, b) {
  const out = {};
  for (const k of Object.keys(b)) {
    if (!a[k] || !b[k]) continue;
    out[k] = { self: b[k].self - a[k].self, children: b[k].children - a[k].children };
  }
  return out;
}

/** Entries of a directory (empty when absent). */
function list(dir) {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Removes the daemon's cgroup parent in every hierarchy (its containers' cgroups went with them):
 * leave the host as found. Returns the hierarchies where it is still there.
 */
function removeCgroupParent() {
  const where = () => list('/sys/fs/cgroup').filter((c) => existsSync(path.join('/sys/fs/cgroup', c, CGROUP_PARENT)));
  // Bottom-up: after an interrupt the (empty) cgroups of the killed containers are still below it.
  const rmTree = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      /* busy or gone: reported by the caller */
    }
  };
  for (const c of where()) {
    try {
      rmTree(path.join('/sys/fs/cgroup', c, CGROUP_PARENT));
    } catch {
      /* gone meanwhile */
    }
  }
  return where();
}

export async function execBench(o, report, ctx) {
  const { stats, checkInterrupted, epochMs } = ctx;
  const res = { notes: [], errors: [], anomalies: [], containers: {}, latency: {}, throughput: { bytes: BIG_BYTES }, check: {}, unavailable: {}, ratios: {} };
  const say = (s = '') => report.push(s);
  const note = (s) => res.notes.push(s);
  const log = (s) => process.stderr.write(`bench: exec: ${s}\n`);

  // -- packages (before anything is started) ----------------------------------------------------
  try {
    note(installPeers(log).note);
  } catch (err) {
    res.errors.push(`installing peers: ${err.message}`);
  }

  // The isula client makes its FIFOs under /var/run/isula (= /run/isula) on the host.
  const runIsulaBefore = list('/run/isula');
  const runBefore = list('/run');
  const peers = new Peers({ track: ctx.track, env: ctx.benchEnv });
  res.root = peers.root;
  let daemon;
  // On Ctrl-C / SIGTERM / an uncaught error (bench.mjs runs this before its generic cleanup).
  const disposeHook = ctx.onCleanup(
    async () => {
      if (daemon) {
        await daemon.dispose().catch(() => undefined);
        removeCgroupParent();
      }
      await peers.teardown();
    },
    () => peers.emergency(),
  );
  const docker = peers.docker;
  const podman = peers.podman;
  const fail = (who, err) => {
    const msg = shortErr(err?.message ?? err);
    res.unavailable[who] ??= msg;
    // isula rows may be unavailable (the daemon side may lag); a failing peer is an error.
    if (who !== 'isula') res.errors.push(`${who}: ${msg}`);
  };
  const ok = (who) => res.unavailable[who] === undefined;
  const sh = (argv, env, timeoutMs = 120_000) => ctx.run(argv[0], argv.slice(1), { env, timeoutMs });
  const must = async (what, argv, env, timeoutMs) => {
    const r = await sh(argv, env, timeoutMs);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code ?? r.signal}): ${shortErr(r.stderr || r.stdout)}`);
    return r;
  };
  /** Per engine: CLI argv, env, the container id, the engine's long-lived processes. */
  const eng = {
    isula: {
      argv: (cmd, ...a) => ['node', ctx.ISULA, cmd, '-H', `unix://${daemon.sock}`, ...a],
      env: () => ctx.benchEnv,
      run: () => ['run', '-d', IMAGE, 'sleep', '1000000'],
      rm: (id) => ['rm', '-f', id],
      // the daemon's node process; its reaped children are the exec monitors (each the subreaper of
      // its runc and of the exec'd process), so their CPU lands in the daemon's cutime/cstime.
      pids: () => ({ isulad: daemon.nodePid() }),
    },
    docker: {
      argv: (...a) => docker.args(...a),
      env: () => docker.cliEnv(),
      run: () => ['run', '-d', IMAGE, 'sleep', '1000000'],
      rm: (id) => ['rm', '-f', id],
      // dockerd, its containerd and the container's shim (the subreaper of the exec'd process).
      pids: () => ({ dockerd: docker.pid, containerd: docker.containerdPid(), ...Object.fromEntries(docker.shimPids().map((p, i) => [`shim${i ? i + 1 : ''}`, p])) }),
    },
    podman: {
      argv: (...a) => podman.args(...a),
      env: () => podman.cliEnv(),
      run: () => ['run', '-d', '--network', 'none', IMAGE, 'sleep', '1000000'],
      rm: (id) => ['rm', '-f', '-t', '0', id],
      // no daemon: the CLI does the work, the exec's conmon is re-parented (not reaped here).
      pids: () => ({}),
    },
  };

  try {
    // -- the image ---------------------------------------------------------------------------------
    const imgDir = path.join(peers.root, 'img');
    const mk = spawnSync('bash', [path.join(ctx.REPO, 'tools/images/make-busybox.sh'), imgDir], { encoding: 'utf8', env: ctx.benchEnv });
    if (mk.status !== 0) throw new Error(`tools/images/make-busybox.sh failed: ${shortErr(mk.stderr || mk.stdout)}`);
    const tar = path.join(imgDir, 'busybox.tar');

    // -- the peers: dockerd and podman, each with the image -----------------------------------------
    Object.assign(res, await peers.startWithImage(tar, { must, sh, fail, checkInterrupted }));

    // -- isulad ------------------------------------------------------------------------------------
    checkInterrupted();
    try {
      if (!existsSync(ctx.ISULA) || !existsSync(ctx.ISULAD)) throw new Error('packages/isula or packages/isulad not built');
      daemon = new ctx.Daemon({ label: 'isulad (exec)', sharedRun: true, daemonJson: { 'cgroup-parent': `/${CGROUP_PARENT}` } });
      await daemon.waitReady();
      if (daemon.nodePid() === undefined) throw new Error('could not find the daemon node process under unshare/bash');
      await must('isula load', eng.isula.argv('load', '-i', tar));
    } catch (err) {
      fail('isula', err);
    }

    // -- one long-running container per engine, /big inside it ------------------------------------------
    for (const k of ENGINES) {
      checkInterrupted();
      if (!ok(k)) continue;
      const e = eng[k];
      try {
        const r = await must(`${k} run -d`, e.argv(...e.run()), e.env());
        const id = firstLine(r.stdout);
        if (!id) throw new Error(`${k} run -d printed no id`);
        res.containers[k] = id;
        // hyperfine stops at a failing command: try `exec C true` once first, for a readable error.
        await must(`${k} exec C true`, e.argv('exec', id, 'true'), e.env(), 60_000);
        const t0 = epochMs();
        let made = await sh(e.argv('exec', id, 'sh', '-c', `head -c ${BIG_BYTES} /dev/urandom > /big && wc -c < /big`), e.env(), 300_000);
        if (made.code !== 0 || made.stdout.trim() !== String(BIG_BYTES)) {
          // busybox without `head -c`: dd does the same.
          made = await sh(e.argv('exec', id, 'sh', '-c', `dd if=/dev/urandom of=/big bs=1048576 count=${BIG_BYTES / 1048576} 2>/dev/null && wc -c < /big`), e.env(), 300_000);
        }
        if (made.code !== 0 || made.stdout.trim() !== String(BIG_BYTES)) {
          throw new Error(`creating /big failed (exit ${made.code ?? made.signal}, size ${made.stdout.trim() || '?'}): ${shortErr(made.stderr)}`);
        }
        res.throughput[`${k}CreateMs`] = epochMs() - t0;
      } catch (err) {
        fail(k, err);
      }
    }

    // -- 1. latency: exec C true ---------------------------------------------------------------------
    checkInterrupted();
    const env = { ...ctx.benchEnv, ...docker.cliEnv(), ...podman.cliEnv() };
    const commands = [{ key: 'node', name: "node -e ''", cmd: "node -e ''" }];
    if (ok('isula')) commands.push({ key: 'isulaVersion', name: 'isula --version', cmd: `node ${ctx.ISULA} --version` });
    for (const k of ENGINES) if (ok(k)) commands.push({ key: k, name: `${k} exec C true`, cmd: eng[k].argv('exec', res.containers[k], 'true').join(' ') });
    try {
      const hf = await ctx.hyperfine(commands.map((c) => ({ name: c.name, cmd: c.cmd })), o, { env });
      for (const [i, h] of hf.entries()) res.latency[commands[i].key] = h;
    } catch (err) {
      res.errors.push(`hyperfine: ${err.message}`);
    }

    // -- 2. throughput: exec C cat /big > /dev/null, interleaved ------------------------------------------
    const tpRuns = Math.min(o.runs, TP_RUNS_DEFAULT);
    const warm = o.warmup > 0 ? 1 : 0;
    res.throughput.runs = tpRuns;
    res.throughput.warmup = warm;
    const active = ENGINES.filter(ok);
    const samples = Object.fromEntries(active.map((k) => [k, []]));
    // `times` in bash: the CLI's own user+system CPU (children line), one bash start (~2 ms) on top.
    const toNull = (argv) => ['bash', '-c', '"$@" > /dev/null; rc=$?; times >&2; exit $rc', 'bench', ...argv];
    const once = async (k) => {
      const e = eng[k];
      const pids = e.pids();
      const before = cpuSnapshot(pids);
      const t0 = epochMs();
      const r = await sh(toNull(e.argv('exec', res.containers[k], 'cat', '/big')), env, 600_000);
      const ms = epochMs() - t0;
      const after = cpuSnapshot(pids);
      const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.stderr.trimEnd());
      const cliCpu = m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : undefined;
      if (r.code !== 0) return { error: `exit ${r.code ?? r.signal}: ${shortErr(r.stderr.trimEnd().split('\n').slice(0, -2).join(' '))}` };
      const procs = cpuDelta(before, after);
      const engineSelf = Object.values(procs).reduce((a, p) => a + p.self, 0);
      const engineChildren = Object.values(procs).reduce((a, p) => a + p.children, 0);
      return { ms, mbps: BIG_BYTES / MB / (ms / 1000), cliCpu, engineSelf, engineChildren, procs };
    };
    for (let i = 0; i < warm + tpRuns; i++) {
      for (const k of active) {
        checkInterrupted();
        if (!ok(k)) continue;
        const s = await once(k);
        s.warmup = i < warm;
        samples[k].push(s);
        if (s.error) fail(k, `exec C cat /big: ${s.error}`);
      }
    }
    for (const k of active) {
      const good = samples[k].filter((s) => !s.error && !s.warmup);
      const procNames = [...new Set(good.flatMap((s) => Object.keys(s.procs)))];
      res.throughput[k] = {
        samples: samples[k],
        seconds: stats(good.map((s) => s.ms / 1000)),
        mbps: stats(good.map((s) => s.mbps)),
        cliCpu: stats(good.map((s) => s.cliCpu)),
        engineSelf: stats(good.map((s) => s.engineSelf)),
        engineChildren: stats(good.map((s) => s.engineChildren)),
        procs: Object.fromEntries(procNames.map((n) => [n, { self: stats(good.map((s) => s.procs[n]?.self)), children: stats(good.map((s) => s.procs[n]?.children)) }])),
      };
    }

    // -- byte check: exec C cat /big | wc -c, once per engine ---------------------------------------------
    for (const k of active) {
      checkInterrupted();
      if (!ok(k)) continue;
      const t0 = epochMs();
      const r = await sh(['bash', '-c', 'set -o pipefail; "$@" | wc -c', 'bench', ...eng[k].argv('exec', res.containers[k], 'cat', '/big')], env, 600_000);
      const ms = epochMs() - t0;
      const bytes = Number(r.stdout.trim());
      res.check[k] = { code: r.code, bytes, ms, mbps: BIG_BYTES / MB / (ms / 1000), ok: r.code === 0 && bytes === BIG_BYTES };
      if (!res.check[k].ok) res.anomalies.push(`${k} exec C cat /big | wc -c: ${r.code === 0 ? `${r.stdout.trim()} bytes, expected ${BIG_BYTES}` : `exit ${r.code ?? r.signal}: ${shortErr(r.stderr)}`}`);
    }
  } catch (err) {
    res.errors.push(err.message);
  } finally {
    // Containers first (each engine's own rm), then the daemon, then the peers and the host check.
    for (const k of ENGINES) {
      const id = res.containers[k];
      if (!id || (k === 'isula' && (!daemon || daemon.stopped))) continue;
      if (k !== 'isula' && peers.tearing) continue; // interrupted: the cleanup hook is removing them already
      const e = eng[k];
      const r = await sh(e.argv(...e.rm(id)), e.env(), 120_000).catch((err) => ({ code: -1, stderr: err.message }));
      if (r.code !== 0) res.anomalies.push(`${k} rm -f ${id.slice(0, 12)}: exit ${r.code}: ${shortErr(r.stderr)}`);
    }
    if (daemon) {
      await daemon.stop();
      res.daemon = { exit: daemon.exitInfo, killed: daemon.killed ?? false, complaints: daemon.complaints().slice(0, 20) };
      ctx.removeTempDir(daemon.dir);
      const cgLeft = removeCgroupParent();
      if (cgLeft.length) res.anomalies.push(`cgroup parent /${CGROUP_PARENT} left in ${cgLeft.join(', ')}`);
    }
    res.teardown = await peers.teardown();
    disposeHook();
    const newRun = list('/run').filter((e) => !runBefore.includes(e));
    const newRunIsula = list('/run/isula').filter((e) => !runIsulaBefore.includes(e));
    res.runLeft = { run: newRun, runIsula: newRunIsula };
    if (newRun.length) res.anomalies.push(`new entries in /run after the section: ${newRun.join(', ')}`);
    if (newRunIsula.length) res.anomalies.push(`FIFO dirs left in /run/isula: ${newRunIsula.join(', ')}`);
  }

  render(res, o, say, ctx);
  return res;
}

function render(res, o, say, { table, f1, f2 }) {
  const T = EXEC_TARGETS;
  const verdict = (ok) => (ok ? 'MET' : 'MISSED');
  say('== exec ===========================================================================');
  say('');
  const ids = Object.entries(res.containers).map(([k, id]) => `${k} ${id.slice(0, 12)}`).join(', ');
  say(`Peers: ${res.dockerVersion ? `docker ${res.dockerVersion} (client / private dockerd)` : 'docker -'}; ${res.podmanVersion ?? 'podman -'}; image busybox from tools/images/make-busybox.sh, loaded into each`);
  say(`Containers C (\`run -d busybox sleep 1000000\`, podman with --network none): ${ids || 'none'}`);
  say('');

  // -- 1 --
  const L = res.latency;
  say(`1. Latency: exec C true (hyperfine -N, ${o.warmup} warm-up + ${o.runs} runs each, wall ms)`);
  const dockerMed = L.docker?.median_ms;
  const lrow = (label, h) => [label, f1(h.median_ms), f1(h.min_ms), f1(h.max_ms), `${f1(h.mean_ms)} ±${f1(h.stddev_ms)}`, f1(h.user_ms), f1(h.system_ms), dockerMed ? f2(h.median_ms / dockerMed) : '-'];
  const rows = [];
  if (L.node) rows.push(lrow("node -e ''  [bare Node start, reference]", L.node));
  if (L.isulaVersion) rows.push(lrow('isula --version  [CLI start, no connection]', L.isulaVersion));
  if (L.isula) rows.push(lrow('isula exec C true', L.isula));
  if (L.docker) rows.push(lrow('docker exec C true', L.docker));
  if (L.podman) rows.push(lrow('podman exec C true', L.podman));
  if (rows.length) say(table(['command', 'median', 'min', 'max', 'mean ±sd', 'user', 'sys', 'x docker'], rows, ['l']));
  say('  user / sys: CPU ms of the CLI process (hyperfine; the daemons\' share is not in it).');
  for (const k of ENGINES) if (res.unavailable[k]) say(`  ${k}: unavailable (${res.unavailable[k]})`);
  if (L.isula && L.docker) {
    const r = L.isula.median_ms / L.docker.median_ms;
    res.ratios.latencyVsDocker = r;
    say(`  isula exec / docker exec (medians): ${f2(r)}x   target <= ${T.latencyVsDocker}x  ${verdict(r <= T.latencyVsDocker)}`);
    if (L.node) say(`  isula exec minus a bare Node start (medians): ${f1(L.isula.median_ms - L.node.median_ms)} ms`);
  } else say(`  isula exec / docker exec: not measured   target <= ${T.latencyVsDocker}x`);
  say('');

  // -- 2 --
  const P = res.throughput;
  say(`2. Throughput: exec C cat /big > /dev/null, /big = ${BIG_BYTES} bytes (200 MiB) of random data in C's rootfs`);
  say(`   (${P.warmup ? `${P.warmup} discarded warm-up + ` : ''}${P.runs ?? '?'} runs per engine, interleaved; MB = 10^6 bytes; wall time includes the CLI start)`);
  const trows = [];
  for (const k of ENGINES) {
    const t = P[k];
    if (!t?.mbps) continue;
    trows.push([`${k} exec C cat /big`, t.mbps.n, f2(t.seconds.median), f2(t.seconds.min), f1(t.mbps.median), f1(t.mbps.max), f2(t.cliCpu?.median), k === 'podman' ? '-' : f2(t.engineSelf?.median), k === 'podman' ? '-' : f2(t.engineChildren?.median)]);
  }
  if (trows.length) say(table(['command', 'runs', 'median s', 'min s', 'MB/s (median)', 'MB/s (best)', 'CPU s CLI', 'CPU s engine', 'CPU s reaped'], trows, ['l']));
  say('  CPU s (medians per run): CLI = the CLI process (bash `times`); engine = utime+stime of the engine\'s long-lived');
  say('  processes (isula: isulad\'s node; docker: dockerd + containerd + the container\'s shim); reaped = what those');
  say('  processes reaped meanwhile (isula: the exec\'s isula-monitor with its runc and `cat`; docker: `cat`, via the shim).');
  say('  podman has no daemon; its exec conmon is re-parented and not counted.');
  const procLine = (k) => {
    const t = P[k];
    if (!t?.procs) return undefined;
    const parts = Object.entries(t.procs).map(([n, p]) => `${n} ${f2(p.self?.median)}${p.children?.median ? ` (+${f2(p.children.median)} reaped)` : ''}`);
    return parts.length ? `  ${k} per process (CPU s, median): ${parts.join(', ')}` : undefined;
  };
  for (const k of ['isula', 'docker']) {
    const l = procLine(k);
    if (l) say(l);
  }
  if (P.isula?.mbps && P.docker?.mbps) {
    const r = P.isula.mbps.median / P.docker.mbps.median;
    res.ratios.throughputVsDocker = r;
    say(`  isula / docker throughput (medians): ${f2(r)}x   target >= ${T.throughputVsDocker}x  ${verdict(r >= T.throughputVsDocker)}`);
  } else say(`  isula / docker throughput: not measured   target >= ${T.throughputVsDocker}x`);
  for (const k of ENGINES) {
    const s = P[k]?.samples;
    if (!s?.length) continue;
    const w = s.find((x) => x.warmup && !x.error);
    say(`  per run ${k} (s): ${s.filter((x) => !x.warmup && !x.error).map((x) => f2(x.ms / 1000)).join(' ')}${w ? `   (warm-up ${f2(w.ms / 1000)})` : ''}`);
  }
  const checks = ENGINES.filter((k) => res.check[k]).map((k) => {
    const c = res.check[k];
    return `${k} ${c.ok ? `${c.bytes} OK` : `${Number.isFinite(c.bytes) ? c.bytes : '?'} WRONG`} (${f1(c.mbps)} MB/s)`;
  });
  if (checks.length) {
    say(`  byte check, once: exec C cat /big | wc -c: ${checks.join('; ')}`);
    say('  (the MB/s of the check is one run through a pipe into wc: indicative only, not a measurement)');
  }
  say('');

  const td = res.teardown;
  if (td) {
    say(`Teardown: containers removed, daemon and peers stopped, ${res.root} ${td.warnings.some((w) => w.includes('not removed')) ? 'NOT removed' : 'removed'}; mounts left under it: ${td.mountsLeft.length}; ip_forward ${td.ipForwardBefore} -> ${td.ipForward}; iptables ${td.iptablesUnchanged ? 'unchanged' : 'CHANGED'}`);
    say(`  dockerd/containerd/shim/conmon processes left on the host: ${td.processesLeft.length ? td.processesLeft.join('; ') : 'none'}`);
    for (const n of td.notes) say(`  - ${n}`);
    for (const w of td.warnings) say(`  ! ${w}`);
  }
  for (const n of res.notes) say(`note: ${n}`);
  if (res.daemon) {
    const d = res.daemon;
    if (d.exit && (d.exit.code !== 0 || d.exit.signal)) res.anomalies.push(`isulad exit after SIGTERM was ${JSON.stringify({ code: d.exit.code, signal: d.exit.signal })} (expected 0)`);
    if (d.killed) res.anomalies.push('isulad did not stop within the grace period after SIGTERM, SIGKILLed');
    for (const c of [...new Set((d.complaints ?? []).map((c) => String(c).split('\n')[0]))].slice(0, 10)) res.anomalies.push(`isulad log: ${c}`);
  }
  if (res.anomalies.length) {
    say('Anomalies:');
    for (const a of res.anomalies) say(`  - ${a}`);
  } else say('Anomalies: none seen (byte counts, rm -f exit codes, clean daemon stop, warnings in isulad.log, leftovers in /run).');
  if (res.errors.length) {
    say('Errors:');
    for (const e of res.errors) say(`  - ${e}`);
  }
}
