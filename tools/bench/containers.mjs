/**
 * Section `containers` of tools/bench/bench.mjs: container start and density, isula-ts side by side
 * with docker (private dockerd), podman and bare runc, on the same busybox image, in one run.
 *
 *   1. one `run --rm busybox true`: docker CLI, podman CLI, runc (overlay mount + run + umount, and
 *      run alone), isula CLI, and the client SDK on one open connection (hyperfine / in-process loop);
 *   2. 100 parallel `run -d busybox sleep 1000`, then 100 parallel `rm -f` (wall time per phase);
 *   3. daemon RSS idle and with the 100 containers running, RSS of each per-container monitor.
 *
 * bench.mjs passes its helpers in `ctx` (process tracking, the isulad Daemon class, hyperfine, ...).
 * Every isula figure may fail (the daemon side may not be there yet): it is reported as
 * "isula: unavailable (<error>)" and the peer figures still print. Peers are always torn down.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installPeers, Peers, processes, rssKiB } from './peers.mjs';

export const CONTAINER_TARGETS = {
  cliRunVsDocker: 0.85, // isula run --rm / docker run --rm, medians
  sdkRunVsRunc: 1.5, // SDK create+start+wait(removed) / (overlay mount + runc run + umount), medians
  parallelVsDocker: 0.5, // 100 parallel run -d + rm -f, isula / docker wall time
  daemonRss100MiB: 100, // isulad VmRSS with 100 containers running
  monitorRssMiB: 2, // VmRSS of each isula-monitor (max)
};

const PARALLEL = 100;
const IMAGE = 'busybox';
const mib = (kib) => (kib === undefined ? undefined : kib / 1024);
const firstLine = (s) => String(s ?? '').trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
const shortErr = (s, n = 240) => {
  const t = String(s ?? '').trim().replace(/\s+/g, ' ');
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export async function containers(o, report, ctx) {
  const { stats, table, f1, f2, sleep, epochMs, checkInterrupted } = ctx;
  const res = { notes: [], errors: [], anomalies: [], single: {}, parallel: {}, rss: {}, unavailable: {} };
  const say = (s = '') => report.push(s);
  const note = (s) => res.notes.push(s);
  const log = (s) => process.stderr.write(`bench: containers: ${s}\n`);

  // -- packages (before anything is started) ----------------------------------------------------
  try {
    const inst = installPeers(log);
    note(inst.note);
  } catch (err) {
    res.errors.push(`installing peers: ${err.message}`);
  }

  const peers = new Peers({ track: ctx.track, env: ctx.benchEnv });
  res.root = peers.root;
  res.hostBefore = peers.guard.before;
  let daemon;
  const disposeHook = ctx.onCleanup(
    async () => {
      if (daemon) await daemon.dispose().catch(() => undefined);
      await peers.teardown();
    },
    () => peers.emergency(),
  );
  const docker = peers.docker;
  const podman = peers.podman;
  const avail = { docker: undefined, podman: undefined, runc: undefined, isula: undefined, sdk: undefined };
  const fail = (who, err) => {
    const msg = shortErr(err?.message ?? err);
    avail[who] = msg;
    res.unavailable[who] = msg;
  };
  const ok = (who) => avail[who] === undefined;

  try {
    // -- the image ---------------------------------------------------------------------------------
    const imgDir = path.join(peers.root, 'img');
    const mk = spawnSync('bash', [path.join(ctx.REPO, 'tools/images/make-busybox.sh'), imgDir], { encoding: 'utf8', env: ctx.benchEnv });
    if (mk.status !== 0) throw new Error(`tools/images/make-busybox.sh failed: ${shortErr(mk.stderr || mk.stdout)}`);
    const tar = path.join(imgDir, 'busybox.tar');
    res.imageTar = tar;
    const sh = (argv, env, timeoutMs = 120_000) => ctx.run(argv[0], argv.slice(1), { env, timeoutMs });
    const must = async (what, argv, env, timeoutMs) => {
      const r = await sh(argv, env, timeoutMs);
      if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code ?? r.signal}): ${shortErr(r.stderr || r.stdout)}`);
      return r;
    };

    // -- runc bundles: the same rootfs (the image's one layer) under an overlay ----------------------
    const rdir = path.join(peers.root, 'runc');
    const runcState = path.join(rdir, 'state');
    const lower = path.join(rdir, 'lower');
    const cycleBundle = path.join(rdir, 'b-cycle');
    const aloneBundle = path.join(rdir, 'b-alone');
    try {
      for (const d of [runcState, lower, path.join(rdir, 'x'), path.join(cycleBundle, 'rootfs'), path.join(aloneBundle, 'rootfs'), path.join(rdir, 'alone/upper'), path.join(rdir, 'alone/work')]) mkdirSync(d, { recursive: true });
      await must('tar (manifest)', ['tar', '-xf', tar, '-C', path.join(rdir, 'x'), 'manifest.json']);
      const layer = JSON.parse(readFileSync(path.join(rdir, 'x/manifest.json'), 'utf8'))[0].Layers[0];
      await must('tar (layer)', ['tar', '-xf', tar, '-C', path.join(rdir, 'x'), layer]);
      await must('tar (rootfs)', ['tar', '-xf', path.join(rdir, 'x', layer), '-C', lower]);
      await must('runc spec', ['runc', 'spec', '--bundle', cycleBundle]);
      const spec = JSON.parse(readFileSync(path.join(cycleBundle, 'config.json'), 'utf8'));
      spec.process.args = ['true'];
      spec.process.terminal = false;
      spec.root = { path: 'rootfs', readonly: false };
      spec.hostname = 'bench';
      writeFileSync(path.join(cycleBundle, 'config.json'), JSON.stringify(spec, null, 2));
      writeFileSync(path.join(aloneBundle, 'config.json'), JSON.stringify(spec, null, 2));
      // The cycle: fresh upper/work, overlay mount, runc run, umount, remove (bash + mkdir/rm execs: a few ms).
      const cycle = path.join(rdir, 'cycle.sh');
      writeFileSync(
        cycle,
        [
          '#!/bin/bash',
          `W=${rdir}/c$$`,
          'mkdir -p "$W/upper" "$W/work" || exit 1',
          `mount -t overlay overlay -o "lowerdir=${lower},upperdir=$W/upper,workdir=$W/work" ${cycleBundle}/rootfs || exit 1`,
          `runc --root ${runcState} run -b ${cycleBundle} "ib-cycle-$$"; rc=$?`,
          `umount ${cycleBundle}/rootfs`,
          'rm -rf "$W"',
          'exit $rc',
          '',
        ].join('\n'),
      );
      await must('overlay mount (runc alone)', ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${rdir}/alone/upper,workdir=${rdir}/alone/work`, path.join(aloneBundle, 'rootfs')]);
      res.runc = { version: firstLine(spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]), cycle, lower };
    } catch (err) {
      fail('runc', err);
    }

    // -- the peers: dockerd and podman, each with the image -----------------------------------------
    Object.assign(res, await peers.startWithImage(tar, { must, sh, fail, checkInterrupted }));

    // -- isulad ------------------------------------------------------------------------------------------
    checkInterrupted();
    const isulaArgs = (cmd, ...a) => ['node', ctx.ISULA, cmd, '-H', `unix://${daemon.sock}`, ...a];
    try {
      if (!existsSync(ctx.ISULA) || !existsSync(ctx.ISULAD)) throw new Error('packages/isula or packages/isulad not built');
      daemon = new ctx.Daemon({ label: 'isulad (containers)', sharedRun: true, daemonJson: { 'cgroup-parent': '/isula-bench' } });
      await daemon.waitReady();
      if (daemon.nodePid() === undefined) throw new Error('could not find the daemon node process under unshare/bash');
      await must('isula load', isulaArgs('load', '-i', tar));
    } catch (err) {
      fail('isula', err);
      fail('sdk', `no daemon: ${avail.isula}`);
    }

    // -- 1. one run --rm, side by side ------------------------------------------------------------------
    checkInterrupted();
    const env = { ...ctx.benchEnv, ...docker.cliEnv(), ...podman.cliEnv() };
    const candidates = [
      { key: 'docker', name: 'docker run --rm busybox true', argv: docker.args('run', '--rm', IMAGE, 'true') },
      { key: 'podman', name: 'podman run --rm --network none busybox true', argv: podman.args('run', '--rm', '--network', 'none', IMAGE, 'true') },
      { key: 'runc', name: 'runc: overlay mount + runc run + umount', argv: ['bash', path.join(rdir, 'cycle.sh')], runcKey: 'cycle' },
      { key: 'runc', name: 'runc run alone (overlay already mounted)', argv: ['runc', '--root', runcState, 'run', '-b', aloneBundle, 'ib-alone'], runcKey: 'alone' },
      { key: 'isula', name: 'isula run --rm busybox true', argv: daemon ? isulaArgs('run', '--rm', IMAGE, 'true') : [] },
    ];
    const commands = [];
    for (const c of candidates) {
      if (!ok(c.key)) continue;
      // hyperfine stops at a failing command: try each once first, for a readable error.
      const r = await sh(c.argv, env, 60_000);
      if (r.code !== 0) {
        fail(c.key, `\`${c.name}\` failed (exit ${r.code ?? r.signal}): ${r.stderr || r.stdout}`);
        continue;
      }
      commands.push(c);
    }
    if (commands.length) {
      try {
        const hf = await ctx.hyperfine(
          commands.map((c) => ({ name: c.name, cmd: c.argv.join(' ') })),
          o,
          { env },
        );
        for (const [i, h] of hf.entries()) res.single[commands[i].runcKey ? `runc-${commands[i].runcKey}` : commands[i].key] = h;
      } catch (err) {
        res.errors.push(`hyperfine: ${err.message}`);
      }
    }

    // -- SDK: create + start + wait for the removal, on one open connection -----------------------------
    checkInterrupted();
    if (ok('sdk')) {
      try {
        res.single.sdk = await sdkRuns(ctx, daemon.sock, o);
      } catch (err) {
        fail('sdk', err);
      }
    }

    // -- 2 + 3. 100 parallel run -d / rm -f, RSS idle and with 100 running --------------------------------
    const engines = [
      {
        key: 'isula',
        run: () => isulaArgs('run', '-d', IMAGE, 'sleep', '1000'),
        rm: (id) => isulaArgs('rm', '-f', id),
        ps: () => isulaArgs('ps', '-aq'),
        daemonPids: () => ({ daemon: daemon.nodePid() }),
        // Monitors live in the daemon's pid namespace: descendants of its `unshare` (or naming its dir).
        monitors: () => {
          const all = processes();
          const inNs = new Set([daemon.child.pid]);
          for (let grew = true; grew; ) {
            grew = false;
            for (const p of all) if (!inNs.has(p.pid) && inNs.has(p.ppid)) grew = inNs.add(p.pid) !== undefined;
          }
          return all
            .filter((p) => path.basename(p.argv[0] ?? '') === 'isula-monitor' && (inNs.has(p.pid) || p.argv.some((a) => a.includes(daemon.dir))))
            .map((p) => p.pid);
        },
        monitorName: 'isula-monitor',
      },
      {
        key: 'docker',
        run: () => docker.args('run', '-d', IMAGE, 'sleep', '1000'),
        rm: (id) => docker.args('rm', '-f', id),
        ps: () => docker.args('ps', '-aq'),
        daemonPids: () => ({ dockerd: docker.pid, containerd: docker.containerdPid() }),
        monitors: () => docker.shimPids(),
        monitorName: 'containerd-shim-runc-v2',
        monitorsInDaemonSum: true,
      },
      {
        key: 'podman',
        run: () => podman.args('run', '-d', '--network', 'none', IMAGE, 'sleep', '1000'),
        rm: (id) => podman.args('rm', '-f', '-t', '0', id),
        ps: () => podman.args('ps', '-aq'),
        daemonPids: () => ({}),
        monitors: () => podman.conmonPids(),
        monitorName: 'conmon',
      },
    ];
    for (const e of engines) {
      checkInterrupted();
      if (!ok(e.key)) continue;
      try {
        const p = await parallelPhase(ctx, e, env, o, sleep, epochMs);
        res.parallel[e.key] = p.parallel;
        res.rss[e.key] = p.rss;
        if (p.error) {
          if (e.key === 'isula') res.unavailable.isulaParallel = shortErr(p.error);
          else res.errors.push(`${e.key} parallel: ${p.error}`);
        }
      } catch (err) {
        if (e.key === 'isula') res.unavailable.isulaParallel = shortErr(err.message);
        else res.errors.push(`${e.key} parallel: ${err.message}`);
      }
    }
  } catch (err) {
    res.errors.push(err.message);
  } finally {
    // The runc-alone overlay stays mounted for the whole section; unmount it here (teardown would anyway).
    const alone = path.join(peers.root, 'runc/b-alone/rootfs');
    if (existsSync(alone)) spawnSync('umount', [alone]);
    if (daemon) {
      await daemon.stop();
      res.daemon = { exit: daemon.exitInfo, killed: daemon.killed ?? false, complaints: daemon.complaints().slice(0, 20) };
      ctx.removeTempDir(daemon.dir);
      // The daemon's cgroup parent (its containers' cgroups went with them): leave the host as found.
      for (const ctrl of readdirSync('/sys/fs/cgroup')) {
        const dir = path.join('/sys/fs/cgroup', ctrl, 'isula-bench');
        if (existsSync(dir)) spawnSync('rmdir', [dir]);
      }
    }
    res.teardown = await peers.teardown();
    disposeHook();
  }

  render(res, o, say, { stats, table, f1, f2 });
  return res;
}

/** N + warm-up runs through the SDK: createContainer, startContainer, waitContainer(…, 1) on one connection. */
export async function sdkRuns(ctx, sock, o) {
  const mod = createRequire(import.meta.url)(ctx.CLIENT_PKG);
  const pick = (...names) => names.map((n) => mod[n]).find((f) => typeof f === 'function');
  const create = pick('createContainer');
  const start = pick('startContainer');
  const wait = pick('waitContainer');
  const remove = pick('removeContainer');
  const missing = [['createContainer', create], ['startContainer', start], ['waitContainer', wait]].filter(([, f]) => !f).map(([n]) => n);
  if (missing.length) throw new Error(`packages/client (dist) does not export ${missing.join(', ')} yet`);
  const client = ctx.client(sock);
  const times = [];
  try {
    const once = async () => {
      const t0 = performance.now();
      // packages/client/src/containers.ts: createContainer(client, { image, hostConfig, config }) -> id;
      // waitContainer(client, id, 1 = WaitCondition.REMOVED) -> exit code.
      const created = await create(client, { image: IMAGE, hostConfig: { AutoRemove: true }, config: { Cmd: ['true'] } });
      const id = typeof created === 'string' ? created : (created?.id ?? created?.Id);
      if (!id) throw new Error(`createContainer returned no id: ${JSON.stringify(created)?.slice(0, 200)}`);
      try {
        await start(client, id);
        const code = await wait(client, id, 1);
        if (typeof code === 'number' && code !== 0) throw new Error(`container exited ${code}`);
      } catch (err) {
        if (remove) await remove(client, id, { force: true }).catch(() => undefined);
        throw err;
      }
      return performance.now() - t0;
    };
    for (let i = 0; i < o.warmup; i++) await ctx.withTimeout(once(), 60_000, 'SDK run (warm-up)');
    for (let i = 0; i < o.runs; i++) {
      ctx.checkInterrupted();
      times.push(await ctx.withTimeout(once(), 60_000, 'SDK run'));
    }
  } finally {
    client.close();
  }
  const s = ctx.stats(times);
  return { name: 'SDK: create + start + wait (AutoRemove), one connection', median_ms: s.median, mean_ms: s.mean, stddev_ms: s.stddev, min_ms: s.min, max_ms: s.max, runs: s.n, times_ms: times };
}

/** Reads the daemon's processes and the monitors (KiB). */
function readRss(e) {
  const pids = e.daemonPids();
  const daemons = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === undefined ? undefined : { pid, kib: rssKiB(pid) }]));
  const mon = e.monitors().map((pid) => rssKiB(pid)).filter((x) => x !== undefined);
  const daemonSum = Object.values(daemons).reduce((a, d) => a + (d?.kib ?? 0), 0);
  return {
    daemons,
    daemonKiB: Object.keys(daemons).length ? daemonSum : undefined,
    monitors: mon.length,
    monitorMedianKiB: median(mon),
    monitorMaxKiB: mon.length ? Math.max(...mon) : undefined,
    monitorSumKiB: mon.reduce((a, b) => a + b, 0),
    totalKiB: (Object.keys(daemons).length ? daemonSum : 0) + (e.monitorsInDaemonSum ? mon.reduce((a, b) => a + b, 0) : 0),
  };
}

async function parallelPhase(ctx, e, env, o, sleep, epochMs) {
  const out = { parallel: {}, rss: {} };
  await sleep(o.idleMs);
  out.rss.idle = readRss(e);
  const runAll = async (argvs) => {
    const t0 = epochMs();
    const rs = await Promise.all(argvs.map((a) => ctx.run(a[0], a.slice(1), { env, timeoutMs: 600_000 })));
    return { ms: epochMs() - t0, rs };
  };
  const up = await runAll(Array.from({ length: PARALLEL }, () => e.run()));
  const ids = up.rs.filter((r) => r.code === 0).map((r) => firstLine(r.stdout)).filter(Boolean);
  const failed = up.rs.filter((r) => r.code !== 0);
  out.parallel.runMs = up.ms;
  out.parallel.started = ids.length;
  out.parallel.runFailures = failed.length;
  if (failed.length) out.parallel.runError = shortErr(failed[0].stderr || failed[0].stdout);
  await sleep(o.idleMs);
  out.rss.loaded = readRss(e);
  out.rss.loaded.containers = ids.length;
  const down = await runAll(ids.map((id) => e.rm(id)));
  out.parallel.rmMs = down.ms;
  out.parallel.rmFailures = down.rs.filter((r) => r.code !== 0).length;
  if (out.parallel.rmFailures) out.parallel.rmError = shortErr(down.rs.find((r) => r.code !== 0).stderr);
  const ps = await ctx.run(e.ps()[0], e.ps().slice(1), { env, timeoutMs: 60_000 });
  out.parallel.leftAfterRm = ps.stdout.trim().split('\n').filter(Boolean).length;
  if (failed.length === PARALLEL) out.error = `all ${PARALLEL} \`run -d\` failed: ${out.parallel.runError}`;
  else if (failed.length) out.error = `${failed.length} of ${PARALLEL} \`run -d\` failed: ${out.parallel.runError}`;
  return out;
}

function render(res, o, say, { table, f1, f2 }) {
  const T = CONTAINER_TARGETS;
  const verdict = (ok) => (ok ? 'MET' : 'MISSED');
  const un = (k) => (res.unavailable[k] ? `unavailable (${res.unavailable[k]})` : undefined);
  say('== containers =====================================================================');
  say('');
  say(`Peers: ${res.dockerVersion ? `docker ${res.dockerVersion} (client / private dockerd)` : 'docker -'}; ${res.podmanVersion ?? 'podman -'}; ${res.runc?.version ?? 'runc -'}; image busybox from tools/images/make-busybox.sh, loaded into each`);
  say('');
  say(`1. One container: run --rm busybox true (hyperfine -N, ${o.warmup} warm-up + ${o.runs} runs each, wall ms)`);
  const s = res.single;
  const dockerMed = s.docker?.median_ms;
  const row = (label, h, extra = '') => [label, f1(h.median_ms), f1(h.min_ms), f1(h.max_ms), `${f1(h.mean_ms)} ±${f1(h.stddev_ms)}`, dockerMed ? f2(h.median_ms / dockerMed) : '-', extra];
  const rows = [];
  const add = (key, label) => {
    if (s[key]) rows.push(row(label, s[key]));
  };
  add('docker', 'docker run --rm busybox true  [daemon default net: no bridge]');
  add('podman', 'podman run --rm --network none busybox true');
  add('runc-cycle', 'runc: overlay mount + runc run + umount  [bash script]');
  add('runc-alone', 'runc run alone (overlay already mounted)');
  add('isula', 'isula run --rm busybox true');
  add('sdk', 'SDK createContainer+start+wait(removed), 1 connection');
  if (rows.length) say(table(['command', 'median', 'min', 'max', 'mean ±sd', 'x docker', ''], rows, ['l']).replace(/ +$/gm, ''));
  for (const k of ['docker', 'podman', 'runc', 'isula', 'sdk']) {
    const u = un(k);
    if (u) say(`  ${k === 'sdk' ? 'isula SDK' : k}: ${u}`);
  }
  say('  docker runs in its default network mode; the private dockerd has --bridge=none, so the container gets');
  say('  a network namespace with loopback only (research: cheaper than `--network none` on docker 20.10).');
  if (s.isula && s.docker) {
    const r = s.isula.median_ms / s.docker.median_ms;
    res.ratios = { ...res.ratios, cliRunVsDocker: r };
    say(`  isula run / docker run (medians): ${f2(r)}x   target <= ${T.cliRunVsDocker}x  ${verdict(r <= T.cliRunVsDocker)}`);
  } else say(`  isula run / docker run: not measured   target <= ${T.cliRunVsDocker}x`);
  if (s.sdk && s['runc-cycle']) {
    const r = s.sdk.median_ms / s['runc-cycle'].median_ms;
    res.ratios = { ...res.ratios, sdkRunVsRunc: r };
    say(`  SDK run / (overlay mount + runc run + umount) (medians): ${f2(r)}x   target <= ${T.sdkRunVsRunc}x  ${verdict(r <= T.sdkRunVsRunc)}`);
  } else say(`  SDK run / (overlay mount + runc run + umount): not measured   target <= ${T.sdkRunVsRunc}x`);
  say('');

  say(`2. ${PARALLEL} parallel \`run -d busybox sleep 1000\`, then ${PARALLEL} parallel \`rm -f <id>\` (one CLI process each; wall s per phase)`);
  const prow = [];
  for (const [k, label] of [
    ['isula', 'isula'],
    ['docker', 'docker'],
    ['podman', 'podman (--network none; rm -f -t 0)'],
  ]) {
    const p = res.parallel[k];
    if (!p) continue;
    prow.push([label, `${p.started}/${PARALLEL}`, f2(p.runMs / 1000), f2(p.rmMs / 1000), f2((p.runMs + p.rmMs) / 1000), p.rmFailures ?? 0, p.leftAfterRm ?? '-']);
  }
  if (prow.length) say(table(['engine', 'started', 'run -d s', 'rm -f s', 'total s', 'rm failed', 'left'], prow, ['l']));
  if (un('isula')) say(`  isula: ${un('isula')}`);
  else if (res.unavailable.isulaParallel) say(`  isula: unavailable (${res.unavailable.isulaParallel})`);
  for (const k of ['docker', 'podman']) if (un(k)) say(`  ${k}: ${un(k)}`);
  const pi = res.parallel.isula;
  const pd = res.parallel.docker;
  if (pi && pd && pi.started === PARALLEL && pd.started === PARALLEL) {
    const r = (pi.runMs + pi.rmMs) / (pd.runMs + pd.rmMs);
    res.ratios = { ...res.ratios, parallelVsDocker: r, parallelRunVsDocker: pi.runMs / pd.runMs, parallelRmVsDocker: pi.rmMs / pd.rmMs };
    say(`  isula / docker (run + rm): ${f2(r)}x (run ${f2(pi.runMs / pd.runMs)}x, rm ${f2(pi.rmMs / pd.rmMs)}x)   target <= ${T.parallelVsDocker}x  ${verdict(r <= T.parallelVsDocker)}`);
  } else say(`  isula / docker: not measured   target <= ${T.parallelVsDocker}x`);
  for (const [k, p] of Object.entries(res.parallel)) {
    if (p.runError) say(`  ${k}: run -d error: ${p.runError}`);
    if (p.rmError) say(`  ${k}: rm -f error: ${p.rmError}`);
  }
  say('');

  say(`3. Memory (VmRSS, MiB = KiB/1024; ${o.idleMs} ms idle before each reading)`);
  const mrow = [];
  const r = res.rss;
  if (r.isula) {
    mrow.push(['isulad (node)', f1(mib(r.isula.idle.daemonKiB)), f1(mib(r.isula.loaded.daemonKiB)), '-', `${r.isula.loaded.monitors} isula-monitor`, f2(mib(r.isula.loaded.monitorMedianKiB)), f2(mib(r.isula.loaded.monitorMaxKiB))]);
  }
  if (r.docker) {
    const d = r.docker;
    mrow.push([
      'dockerd + containerd + shims (sum)',
      f1(mib(d.idle.totalKiB)),
      f1(mib(d.loaded.totalKiB)),
      `${f1(mib(d.idle.daemons.dockerd?.kib))} / ${f1(mib(d.loaded.daemons.dockerd?.kib))}`,
      `${d.loaded.monitors} containerd-shim-runc-v2`,
      f2(mib(d.loaded.monitorMedianKiB)),
      f2(mib(d.loaded.monitorMaxKiB)),
    ]);
    mrow.push(['  of which containerd', f1(mib(d.idle.daemons.containerd?.kib)), f1(mib(d.loaded.daemons.containerd?.kib)), '', '', '', '']);
  }
  if (r.podman) mrow.push(['podman (no daemon)', '-', '-', '-', `${r.podman.loaded.monitors} conmon`, f2(mib(r.podman.loaded.monitorMedianKiB)), f2(mib(r.podman.loaded.monitorMaxKiB))]);
  if (mrow.length) say(table(['engine', 'daemon idle', `with ${PARALLEL}`, 'dockerd idle / 100', 'monitors', 'monitor median', 'monitor max'], mrow, ['l']));
  if (r.isula) {
    const d = mib(r.isula.loaded.daemonKiB);
    const m = mib(r.isula.loaded.monitorMaxKiB);
    say(`  isulad with ${r.isula.loaded.containers} containers: ${f1(d)} MiB   target <= ${T.daemonRss100MiB} MiB  ${verdict(d <= T.daemonRss100MiB)}`);
    if (r.isula.loaded.monitors) say(`  isula-monitor VmRSS max: ${f2(m)} MiB   target <= ${T.monitorRssMiB} MiB each  ${verdict(m <= T.monitorRssMiB)}`);
    else say(`  isula-monitor: none found running   target <= ${T.monitorRssMiB} MiB each`);
  } else {
    say(`  isulad daemon / monitor RSS: not measured   targets <= ${T.daemonRss100MiB} MiB with ${PARALLEL} containers, <= ${T.monitorRssMiB} MiB per monitor`);
  }
  say('');

  const td = res.teardown;
  if (td) {
    say(`Teardown: peers stopped, ${res.root} ${td.warnings.some((w) => w.includes('not removed')) ? 'NOT removed' : 'removed'}; mounts left under it: ${td.mountsLeft.length}; ip_forward ${td.ipForwardBefore} -> ${td.ipForward}; iptables ${td.iptablesUnchanged ? 'unchanged' : 'CHANGED'}`);
    say(`  dockerd/containerd/shim/conmon processes left on the host: ${td.processesLeft.length ? td.processesLeft.join('; ') : 'none'}`);
    for (const n of td.notes) say(`  - ${n}`);
    for (const w of td.warnings) say(`  ! ${w}`);
  }
  for (const n of res.notes) say(`note: ${n}`);
  if (res.daemon?.complaints?.length) {
    say('isulad log (WARN or worse):');
    for (const c of [...new Set(res.daemon.complaints.map((c) => String(c).split('\n')[0]))].slice(0, 10)) say(`  - ${c}`);
  }
  if (res.errors.length) {
    say('Errors:');
    for (const e of res.errors) say(`  - ${e}`);
  }
}
