/**
 * Container features beyond the basic lifecycle (containers.e2e.test.ts): volumes and mounts, run
 * options as they land in the OCI spec and inside the container, log drivers, runtimes, the
 * day-to-day commands (logs -f, top, stats, update, export, ps filters, inspect, ...) and the
 * daemon's start-timeout. Real daemon in its own namespaces, real runc, the project's busybox.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ISULA, REPO, run, sleep, waitFor, type TestDaemon } from './harness';
import { CGROUP_ROOT, containerSuite, ok } from './containers-fixtures';

const suite = containerSuite('more');
const { daemonWithBusybox } = suite;
const CGROUP_PARENT = suite.cgroupParent;
// The machine may be busy with other suites: generous per-test budgets.
const LONG = 180_000;

const scratchDirs: string[] = [];
afterEach(async () => {
  await suite.stopDaemons();
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
afterAll(() => {
  suite.finish();
});

function scratch(prefix: string): string {
  const dir = mkdtempSync(`/tmp/${prefix}-${process.pid}-`);
  scratchDirs.push(dir);
  return dir;
}

/**
 * `isula run --rm <args>` with the client inside the daemon's namespaces (it needs its FIFOs there).
 * A client that never returns fails the test with what was running, instead of a bare test timeout
 * (the harness's own kill of nsenter cannot end a client that holds the output pipes).
 */
const runRm = (d: TestDaemon, args: string[]) => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`isula run --rm ${args.join(' ')} did not return in 60 s; processes:\n${processesInDaemonNs(d).join('\n')}`)),
      60_000,
    );
  });
  return Promise.race([d.isula(['run', '--rm', ...args], { inNamespaces: true }), deadline]).finally(() => clearTimeout(timer));
};

const inspect = async (d: TestDaemon, name: string, format: string) => (await ok(d, ['inspect', '-f', format, name])).stdout.trim();

/** Directories `<cgroup root>/<controller>/<parent>/<id>` that still exist. */
const cgroupDirsOf = (id: string) =>
  readdirSync(CGROUP_ROOT)
    .map((ctrl) => join(CGROUP_ROOT, ctrl, CGROUP_PARENT, id))
    .filter((p) => existsSync(p));

/**
 * Every process in the daemon's pid namespace, from the host's /proc: `<host pid> <ppid> <state>
 * <argv>` (a zombie has no argv: `[comm]`).
 */
function processesInDaemonNs(d: TestDaemon): string[] {
  const ns = readlinkSync(`/proc/${d.pid()}/ns/pid`);
  const inNs = (p: string) => {
    try {
      return readlinkSync(`/proc/${p}/ns/pid`) === ns;
    } catch {
      return false; // a zombie has no namespaces left: found below through its parent
    }
  };
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && inNs(p));
  for (const p of [...pids]) {
    try {
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) if (!pids.includes(c)) pids.push(c);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: string[] = [];
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push(`${p} ${ppid} ${state} ${argv || `[${comm}]`}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe('volumes and mounts', () => {
  it('a named volume is shared between containers, refused removal while in use, removable after', async () => {
    const d = await daemonWithBusybox();
    const id1 = (await ok(d, ['run', '-d', '--name', 'v1', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo hi > /data/f; sleep 1000'])).stdout.trim();
    const ls = (await ok(d, ['volume', 'ls'])).stdout.split('\n');
    expect(ls[0]).toMatch(/^DRIVER\s+VOLUME NAME/);
    expect(ls.slice(1).filter(Boolean)).toEqual([expect.stringMatching(/^local\s+data\s*$/)]);
    const onHost = d.path('graph', 'volumes', 'data', '_data', 'f');
    await waitFor('the file written into the volume', () => existsSync(onHost) || undefined, 15_000, 100);
    expect(readFileSync(onHost, 'utf8')).toBe('hi\n');
    // Another container sees the same data.
    const other = await runRm(d, ['-v', 'data:/data', 'busybox', 'cat', '/data/f']);
    expect(other.stderr).toBe('');
    expect(other.stdout).toBe('hi\n');
    const id2 = (await ok(d, ['run', '-d', '--name', 'v2', '-v', 'data:/data', 'busybox', 'sleep', '1000'])).stdout.trim();
    const busy = await d.isula(['volume', 'rm', 'data']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('remove volume data failed: volume is used by container');
    expect(busy.stderr).toContain(id1);
    expect(busy.stderr).toContain(id2);
    expect(existsSync(onHost)).toBe(true);
    await ok(d, ['rm', '-f', 'v1', 'v2']);
    expect((await ok(d, ['volume', 'rm', 'data'])).stdout).toBe('data\n');
    expect((await ok(d, ['volume', 'ls', '-q'])).stdout).toBe('');
    expect(existsSync(d.path('graph', 'volumes', 'data'))).toBe(false);
  }, LONG);

  it('anonymous volumes: 64-hex names, removed by rm -v, kept by plain rm, removed by volume prune', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '--name', 'a1', '-v', '/anon', 'busybox', 'sleep', '1000']);
    const names1 = (await ok(d, ['volume', 'ls', '-q'])).stdout.trim().split('\n');
    expect(names1).toHaveLength(1);
    expect(names1[0]).toMatch(/^[0-9a-f]{64}$/);
    const mounts = JSON.parse(await inspect(d, 'a1', '{{json .Mounts}}'));
    expect(mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: names1[0], Destination: '/anon' })]);
    await ok(d, ['rm', '-f', '-v', 'a1']);
    expect((await ok(d, ['volume', 'ls', '-q'])).stdout).toBe('');
    expect(existsSync(d.path('graph', 'volumes', names1[0]!))).toBe(false);

    await ok(d, ['run', '-d', '--name', 'a2', '-v', '/anon', 'busybox', 'sleep', '1000']);
    const name2 = (await ok(d, ['volume', 'ls', '-q'])).stdout.trim();
    expect(name2).toMatch(/^[0-9a-f]{64}$/);
    expect(name2).not.toBe(names1[0]);
    await ok(d, ['rm', '-f', 'a2']);
    expect((await ok(d, ['volume', 'ls', '-q'])).stdout.trim()).toBe(name2);
    const prune = await ok(d, ['volume', 'prune', '-f']);
    expect(prune.stdout).toContain(name2);
    expect((await ok(d, ['volume', 'ls', '-q'])).stdout).toBe('');
  }, LONG);

  it('a read-only bind mount is readable but not writable; --tmpfs mounts a tmpfs', async () => {
    const d = await daemonWithBusybox();
    const host = scratch('ie2e-bind');
    writeFileSync(join(host, 'h'), 'from-host\n');
    const r = await runRm(d, ['-v', `${host}:/x:ro`, 'busybox', 'sh', '-c', 'cat /x/h; touch /x/new']);
    expect(r.stdout).toBe('from-host\n');
    expect(r.stderr).toContain('Read-only file system');
    expect(r.code).toBe(1);
    expect(existsSync(join(host, 'new'))).toBe(false);
    // Read-write by default: the write lands on the host.
    const rw = await runRm(d, ['-v', `${host}:/x`, 'busybox', 'touch', '/x/new']);
    expect(rw.code, rw.stderr).toBe(0);
    expect(existsSync(join(host, 'new'))).toBe(true);

    const m = await runRm(d, ['--tmpfs', '/t', 'busybox', 'cat', '/proc/mounts']);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout.split('\n').filter((l) => l.split(' ')[1] === '/t')).toEqual([expect.stringMatching(/^tmpfs \/t tmpfs /)]);
  }, LONG);
});

describe('run options mapped onto the OCI spec', () => {
  it('-e, --env-file, --workdir, -u, --hostname, --entrypoint', async () => {
    const d = await daemonWithBusybox();
    const envFile = d.path('env.list');
    writeFileSync(envFile, 'B=2\n# a comment\nC=three\n');
    const env = await runRm(d, ['-e', 'A=1', '--env-file', envFile, 'busybox', 'sh', '-c', 'echo "$A $B $C"']);
    expect(env.stderr).toBe('');
    expect(env.stdout).toBe('1 2 three\n');
    expect((await runRm(d, ['--workdir', '/tmp', 'busybox', 'pwd'])).stdout).toBe('/tmp\n');
    const user = await runRm(d, ['-u', '1000:1000', 'busybox', 'sh', '-c', 'id -u; id -g']);
    expect(user.stdout).toBe('1000\n1000\n');
    expect((await runRm(d, ['--hostname', 'h1', 'busybox', 'hostname'])).stdout).toBe('h1\n');
    expect((await runRm(d, ['-h', 'h2', 'busybox', 'hostname'])).stdout).toBe('h2\n');
    const ep = await runRm(d, ['--entrypoint', '/bin/echo', 'busybox', 'a', 'b']);
    expect(ep.stdout).toBe('a b\n');
  }, LONG);

  it('a missing --env-file is reported by isula itself', async () => {
    const d = await daemonWithBusybox();
    const missing = d.path('no-such-env-file');
    const r = await d.isula(['run', '--env-file', missing, 'busybox', 'true']);
    expect(r.stderr).not.toMatch(/^node:/);
    expect(r.stderr).toContain(missing);
    expect(r.code).toBe(125);
  }, LONG);

  it('--read-only, --cap-drop ALL, --sysctl, --add-host, --ulimit', async () => {
    const d = await daemonWithBusybox();
    const ro = await runRm(d, ['--read-only', 'busybox', 'touch', '/f']);
    expect(ro.code).toBe(1);
    expect(ro.stderr).toContain('Read-only file system');
    expect((await runRm(d, ['busybox', 'touch', '/f'])).code).toBe(0);

    const noCaps = await runRm(d, ['--cap-drop', 'ALL', 'busybox', 'chown', '1', '/tmp']);
    expect(noCaps.code).toBe(1);
    expect(noCaps.stderr).toContain('Operation not permitted');
    expect((await runRm(d, ['busybox', 'chown', '1', '/tmp'])).code).toBe(0);

    const hostBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const daemonNs = () => run('nsenter', ['-t', String(d.pid()), '-n', 'cat', '/proc/sys/net/ipv4/ip_forward']);
    const nsBefore = (await daemonNs()).stdout;
    const sysctl = await runRm(d, ['--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward']);
    expect(sysctl.stderr).toBe('');
    expect(sysctl.stdout).toBe('1\n');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(hostBefore);
    expect((await daemonNs()).stdout).toBe(nsBefore);

    const hosts = await runRm(d, ['--add-host', 'a.test:1.2.3.4', 'busybox', 'cat', '/etc/hosts']);
    expect(hosts.stdout.split('\n')).toContain('1.2.3.4\ta.test');

    const ul = await runRm(d, ['--ulimit', 'nofile=1024:2048', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']);
    expect(ul.stdout).toBe('1024\n2048\n');
  }, LONG);

  it('umask: secure by default, normal by annotation; --cpus sets the CFS quota', async () => {
    const d = await daemonWithBusybox();
    expect((await runRm(d, ['busybox', 'sh', '-c', 'umask'])).stdout).toBe('0027\n');
    expect((await runRm(d, ['--annotation', 'native.umask=normal', 'busybox', 'sh', '-c', 'umask'])).stdout).toBe('0022\n');
    const id = (await ok(d, ['run', '-d', '--cpus', '0.5', 'busybox', 'sleep', '1000'])).stdout.trim();
    const cpu = join(CGROUP_ROOT, 'cpu', CGROUP_PARENT, id);
    expect(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000');
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000');
    await ok(d, ['rm', '-f', id]);
  }, LONG);

  it('--net host, --net none, the default private netns and --pid container:<other>', async () => {
    // A veth pair in the daemon's network namespace tells "host" apart from a fresh namespace.
    const d = await daemonWithBusybox({ prepare: ['ip link add v0 type veth peer name v1'] });
    const daemonNet = readlinkSync(`/proc/${d.pid()}/ns/net`);
    const host = await runRm(d, ['--net', 'host', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/net; ip -o link']);
    expect(host.stderr).toBe('');
    const [hostNs, ...hostLinks] = host.stdout.trim().split('\n');
    expect(hostNs).toBe(daemonNet);
    expect(hostLinks.some((l) => /\bv0@v1\b/.test(l))).toBe(true);

    const none = await runRm(d, ['--net', 'none', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/net; ip -o link']);
    const [noneNs, ...noneLinks] = none.stdout.trim().split('\n');
    expect(noneNs).not.toBe(daemonNet);
    expect(noneLinks.map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);

    const def = await runRm(d, ['busybox', 'readlink', '/proc/self/ns/net']);
    expect(def.stdout.trim()).toMatch(/^net:\[\d+\]$/);
    expect(def.stdout.trim()).not.toBe(daemonNet);

    await ok(d, ['run', '-d', '--name', 'other', 'busybox', 'sleep', '1234']);
    const ps = await runRm(d, ['--pid', 'container:other', 'busybox', 'ps', '-o', 'pid,args']);
    expect(ps.stdout).toMatch(/^\s*1\s+sleep 1234\s*$/m);
    const alone = await runRm(d, ['busybox', 'ps', '-o', 'pid,args']);
    expect(alone.stdout).not.toContain('sleep 1234');
  }, LONG);
});

describe('log options', () => {
  it('disable-log and the syslog driver: no console.log, logs warns or refuses, annotations say so', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', '--log-opt', 'disable-log=true', 'busybox', 'sh', '-c', 'echo hello; sleep 1000'])).stdout.trim();
    const bundle = d.path('graph', 'engines', 'runc', id);
    await sleep(500);
    expect(readdirSync(bundle).filter((f) => f.startsWith('console.log'))).toEqual([]);
    const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(cfg.annotations['log.console.file']).toBe('none');
    // Upstream: the daemon answers "disable console log", the client turns it into a warning, exit 0.
    const logs = await d.isula(['logs', id]);
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toBe(`[WARNING]: Container ${id} disable console log!\n`);
    expect(logs.code).toBe(0);

    const sid = (await ok(d, ['run', '-d', '--log-driver', 'syslog', 'busybox', 'sh', '-c', 'echo hello; sleep 1000'])).stdout.trim();
    expect(await inspect(d, sid, '{{.State.Status}}')).toBe('running');
    const scfg = JSON.parse(readFileSync(d.path('graph', 'engines', 'runc', sid, 'config.json'), 'utf8'));
    expect(scfg.annotations['log.console.driver']).toBe('syslog');
    const slogs = await d.isula(['logs', sid]);
    expect(slogs.code).toBe(1);
    expect(slogs.stderr).toContain('configured logging driver does not support reading');
  }, LONG);
});

describe('daemon.json defaults for containers', () => {
  it('container-log opts, default-ulimits (clamped to the hard limit) and native.umask apply to new containers', async () => {
    const d = await daemonWithBusybox({
      daemonJson: {
        'container-log': { driver: 'json-file', opts: { 'max-size': '30KB', 'max-file': '2' } },
        'default-ulimits': { nofile: { Name: 'nofile', Hard: 100000, Soft: 100000 } },
        'native.umask': 'normal',
      },
    });
    const id = (await ok(d, ['run', '-d', 'busybox', 'sh', '-c', 'ulimit -Hn; ulimit -n; umask; sleep 1000'])).stdout.trim();
    const cfg = JSON.parse(readFileSync(d.path('graph', 'engines', 'runc', id, 'config.json'), 'utf8'));
    expect(cfg.annotations['log.console.driver']).toBe('json-file');
    expect(cfg.annotations['log.console.filesize']).toBe('30KB');
    expect(cfg.annotations['log.console.filerotate']).toBe('2');
    expect(cfg.annotations['native.umask']).toBe('normal');
    const lines = await waitFor('the first output', async () => {
      const l = (await ok(d, ['logs', id])).stdout.trim().split('\n');
      return l.length >= 3 ? l : undefined;
    });
    // Above what the daemon itself may have: clamped, and the container still started.
    expect(Number(lines[0])).toBeLessThanOrEqual(20000);
    expect(Number(lines[0])).toBeGreaterThan(0);
    expect(Number(lines[1])).toBeLessThanOrEqual(Number(lines[0]));
    expect(lines[2]).toBe('0022');
    // The annotation still overrides the daemon's default.
    expect((await runRm(d, ['--annotation', 'native.umask=secure', 'busybox', 'sh', '-c', 'umask'])).stdout).toBe('0027\n');
  }, LONG);
});

describe('runtimes', () => {
  it('a runtime from daemon.json, an unknown runtime, default-runtime', async () => {
    // crun (installed by the test dependencies) through the repository's hybrid-cgroup wrapper.
    const crunHybrid = join(REPO, 'tools/runtimes/crun-hybrid');
    const d = await daemonWithBusybox({
      daemonJson: { runtimes: { crun: { path: crunHybrid }, myrunc: { path: '/usr/sbin/runc' } }, 'default-runtime': 'myrunc' },
    });
    const c = await runRm(d, ['--runtime', 'crun', 'busybox', 'echo', 'hi']);
    expect(c.stderr).toBe('');
    expect(c.stdout).toBe('hi\n');
    expect(c.code).toBe(0);
    const bad = await runRm(d, ['--runtime', 'nosuch', 'busybox', 'echo', 'hi']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('Invalid runtime name');
    expect(bad.stdout).toBe('');
    // Without --runtime the daemon's default-runtime is used.
    const id = (await ok(d, ['run', '-d', 'busybox', 'sleep', '1000'])).stdout.trim();
    expect(await inspect(d, id, '{{.HostConfig.Runtime}}')).toBe('myrunc');
    expect(existsSync(d.path('graph', 'engines', 'myrunc', id, 'config.json'))).toBe(true);
    expect(await inspect(d, id, '{{.State.Status}}')).toBe('running');
    // --runtime runc still picks runc.
    expect((await runRm(d, ['--runtime', 'runc', 'busybox', 'echo', 'via-runc'])).stdout).toBe('via-runc\n');
  }, LONG);
});

describe('commands', () => {
  it('logs -f follows until the container stops; logs -t prints RFC3339 timestamps', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', 'busybox', 'sh', '-c', 'echo first; sleep 3; echo second; sleep 1'])).stdout.trim();
    await waitFor('the first line', async () => ((await ok(d, ['logs', id])).stdout === 'first\n' ? true : undefined));
    let done = false;
    const follow = d.isula(['logs', '-f', id]).then((r) => ((done = true), r));
    await sleep(1000);
    expect(done).toBe(false);
    const r = await follow;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('first\nsecond\n');
    expect(await inspect(d, id, '{{.State.Status}}')).toBe('exited');

    const t = (await ok(d, ['logs', '-t', id])).stdout.trim().split('\n');
    expect(t).toHaveLength(2);
    for (const [i, line] of t.entries()) {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (\w+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number.isNaN(Date.parse(m![1]!))).toBe(false);
      expect(m![2]).toBe(['first', 'second'][i]);
    }
  }, LONG);

  it('isula logs piped into head exits quietly', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done'])).stdout.trim();
    await ok(d, ['wait', id]);
    const r = await run('bash', ['-c', `node '${ISULA}' logs -H 'unix://${d.sock}' ${id} | head -1`]);
    expect(r.stdout).toBe('line-0\n');
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.stderr).toBe('');
  }, LONG);

  it('top, stats --no-stream, update -m, export', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', '--name', 'tp', 'busybox', 'sleep', '1000'])).stdout.trim();
    const top = (await ok(d, ['top', 'tp'])).stdout.split('\n');
    expect(top[0]).toMatch(/\bPID\b.*\bCMD\b/);
    expect(top.filter((l) => /\ssleep 1000$/.test(l))).toHaveLength(1);

    const stats = (await ok(d, ['stats', '--no-stream', 'tp'])).stdout.split('\n');
    expect(stats[0]).toMatch(/^CONTAINER\s+CPU %\s+MEM USAGE \/ LIMIT/);
    const row = stats.find((l) => l.startsWith(id.slice(0, 12)));
    expect(row, stats.join('\n')).toBeDefined();
    const mem = /^\w{12}\s+[\d.]+\s+([\d.]+) (B|KiB|MiB|GiB) \//.exec(row!);
    expect(mem, row).not.toBeNull();
    expect(Number(mem![1])).toBeGreaterThan(0);

    const memFile = join(CGROUP_ROOT, 'memory', CGROUP_PARENT, id, 'memory.limit_in_bytes');
    expect(readFileSync(memFile, 'utf8').trim()).not.toBe(String(128 * 1024 * 1024));
    await ok(d, ['update', '-m', '128m', 'tp']);
    expect(readFileSync(memFile, 'utf8').trim()).toBe(String(128 * 1024 * 1024));
    expect(await inspect(d, 'tp', '{{.HostConfig.Memory}}')).toBe(String(128 * 1024 * 1024));
    expect(await inspect(d, 'tp', '{{.State.Status}}')).toBe('running');

    const out = d.path('tp.tar');
    await ok(d, ['export', '-o', out, 'tp']);
    const list = await run('tar', ['-tf', out]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n').map((l) => l.replace(/^\.\//, ''))).toContain('bin/busybox');
  }, LONG);

  it('wait on two containers; ps filters, -n, --no-trunc and --format; inspect JSON', async () => {
    const d = await daemonWithBusybox();
    const w1 = (await ok(d, ['run', '-d', '--name', 'w1', 'busybox', 'sh', '-c', 'sleep 1; exit 3'])).stdout.trim();
    const w2 = (await ok(d, ['run', '-d', '--name', 'w2', 'busybox', 'sh', '-c', 'exit 4'])).stdout.trim();
    expect((await ok(d, ['wait', 'w1', 'w2'])).stdout).toBe('3\n4\n');
    const up = (await ok(d, ['run', '-d', '--name', 'up', '-v', 'vol1:/vol', 'busybox', 'sleep', '1000'])).stdout.trim();

    const rows = (out: string) => out.split('\n').slice(1).filter(Boolean);
    const byName = rows((await ok(d, ['ps', '-a', '-f', 'name=w1'])).stdout);
    expect(byName).toHaveLength(1);
    expect(byName[0]).toMatch(/Exited \(3\) .*\sw1\s*$/);
    const exited = rows((await ok(d, ['ps', '-a', '-f', 'status=exited'])).stdout);
    expect(exited.map((l) => l.trim().split(/\s+/).at(-1)).sort()).toEqual(['w1', 'w2']);
    const last = rows((await ok(d, ['ps', '-n', '1'])).stdout);
    expect(last).toHaveLength(1);
    expect(last[0]!.startsWith(up.slice(0, 12))).toBe(true);
    const noTrunc = rows((await ok(d, ['ps', '-a', '--no-trunc'])).stdout);
    expect(noTrunc.map((l) => l.split(/\s+/)[0]).sort()).toEqual([w1, w2, up].sort());
    const fmt = (await ok(d, ['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout.split('\n').filter(Boolean);
    expect(fmt).toHaveLength(3);
    expect(fmt.find((l) => l.startsWith('w2'))).toMatch(/^w2\s+Exited \(4\) /);
    expect(fmt.find((l) => l.startsWith('up'))).toMatch(/^up\s+Up /);
    expect(fmt.join('\n')).not.toContain('CONTAINER ID');

    const info = JSON.parse((await ok(d, ['inspect', 'up'])).stdout);
    expect(Array.isArray(info)).toBe(true);
    expect(info).toHaveLength(1);
    expect(info[0].Id).toBe(up);
    expect(info[0].State.Status).toBe('running');
    expect(info[0].Config).toEqual(expect.objectContaining({ Image: 'busybox' }));
    expect(typeof info[0].HostConfig).toBe('object');
    expect(info[0].Mounts).toEqual([expect.objectContaining({ Name: 'vol1', Destination: '/vol' })]);
    const two = JSON.parse((await ok(d, ['inspect', 'w1', 'w2'])).stdout);
    expect(two.map((c: { Id: string }) => c.Id)).toEqual([w1, w2]);
  }, LONG);

  it('rename to an invalid or the same name, start -a, restart keeps the id, rm of an unknown name, rmi of a used image', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', '--name', 'old_name', 'busybox', 'sleep', '1000'])).stdout.trim();
    const same = await d.isula(['rename', 'old_name', 'old_name']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('Renaming a container with the same name as its current name');
    for (const bad of ['1', '123@']) {
      const r = await d.isula(['rename', 'old_name', bad]);
      expect(r.code).toBe(1);
      // Upstream's text (container_rename_cb): "Invalid container new name (%s), only ... are allowed."
      expect(r.stderr).toBe(`Error response from daemon: Invalid container new name (${bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-]+$ are allowed.\n`);
    }
    expect(await inspect(d, id, '{{.Name}}')).toBe('/old_name');

    await ok(d, ['create', '--name', 'sa', 'busybox', 'sh', '-c', 'echo started-output; exit 2']);
    const sa = await d.isula(['start', '-a', 'sa'], { inNamespaces: true });
    expect(sa.stdout).toBe('started-output\n');
    expect(sa.code).toBe(2);
    expect(await inspect(d, 'sa', '{{.State.Status}}')).toBe('exited');

    const pidBefore = await inspect(d, id, '{{.State.Pid}}');
    await ok(d, ['restart', '-t', '0', 'old_name']);
    expect(await inspect(d, 'old_name', '{{.Id}}')).toBe(id);
    expect(await inspect(d, 'old_name', '{{.State.Status}}')).toBe('running');
    expect(await inspect(d, 'old_name', '{{.RestartCount}}')).toBe('0');
    expect(await inspect(d, 'old_name', '{{.State.Pid}}')).not.toBe(pidBefore);

    const rm = await d.isula(['rm', 'nosuch']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toContain('No such container');
    expect(rm.stderr).toContain('nosuch');

    const rmi = await d.isula(['rmi', 'busybox']);
    expect(rmi.code).not.toBe(0);
    expect(rmi.stderr).toContain('Image used by ');
    expect(rmi.stderr).toMatch(/Image used by [0-9a-f]{64}/);
    expect((await ok(d, ['images'])).stdout).toContain('busybox');
  }, LONG);

  it('run --rm whose start fails leaves no container behind', async () => {
    const d = await daemonWithBusybox();
    const fg = await runRm(d, ['--name', 'rmfail', 'busybox', 'nonexistent-binary']);
    expect(fg.code).not.toBe(0);
    expect(fg.stderr).toContain('nonexistent-binary');
    const bg = await d.isula(['run', '-d', '--rm', '--name', 'rmfail2', 'busybox', 'nonexistent-binary']);
    expect(bg.code).not.toBe(0);
    // Upstream removes an auto-remove container whose start failed.
    await waitFor('auto-removal', async () => ((await ok(d, ['ps', '-a', '-q'])).stdout === '' ? true : undefined), 10_000, 200).catch(() => undefined);
    expect((await ok(d, ['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).stdout).toBe('');
  }, LONG);
});

describe('short-lived containers', () => {
  it('a container that exits at once is always seen to exit (run -d x30, run --rm x15)', async () => {
    const d = await daemonWithBusybox();
    for (let batch = 0; batch < 6; batch++) {
      const runs = await Promise.all(Array.from({ length: 5 }, () => d.isula(['run', '-d', 'busybox', 'true'])));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
    }
    const stuck = async () => (await ok(d, ['ps', '-a', '--format', '{{.ID}} {{.Status}}'])).stdout.split('\n').filter((l) => l !== '' && !/\sExited \(0\)/.test(l));
    await waitFor('every container exited', async () => ((await stuck()).length === 0 ? true : undefined), 30_000, 500).catch(() => undefined);
    const left = await stuck();
    expect(left, `still not exited:\n${left.join('\n')}\nprocesses:\n${processesInDaemonNs(d).join('\n')}`).toEqual([]);
    for (let i = 0; i < 15; i++) {
      const r = await runRm(d, ['busybox', 'true']);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 300_000);
});

describe('early output of an attached run', () => {
  it('stderr written right at the start reaches the client and the log (10 runs)', async () => {
    const d = await daemonWithBusybox();
    const lost: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await d.isula(['run', '--name', `early${i}`, 'busybox', 'sh', '-c', `echo err-${i} >&2; echo out-${i}; exit 1`], { inNamespaces: true });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe(`out-${i}\n`);
      const logged = (await d.isula(['logs', `early${i}`])).stderr;
      if (r.stderr !== `err-${i}\n` || logged !== `err-${i}\n`) lost.push(`run ${i}: client stderr ${JSON.stringify(r.stderr)}, logs stderr ${JSON.stringify(logged)}`);
    }
    expect(lost).toEqual([]);
  }, LONG);
});

describe('start-timeout', () => {
  it('a prestart hook slower than start-timeout fails the run and leaves nothing behind', async () => {
    const d = await daemonWithBusybox({ daemonJson: { 'start-timeout': '2s' } });
    const hooks = d.path('hooks.json');
    writeFileSync(hooks, JSON.stringify({ prestart: [{ path: '/bin/sleep', args: ['sleep', '10'] }] }));
    const t0 = Date.now();
    const r = await d.isula(['run', '-d', '--name', 'slow', '--hook-spec', hooks, 'busybox', 'sleep', '1000']);
    const took = Date.now() - t0;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/start-timeout|timed? ?out/i);
    expect(took).toBeLessThan(8000);
    expect(await inspect(d, 'slow', '{{.State.Status}}')).not.toBe('running');
    // No monitor, runtime or hook survives in the daemon's namespaces.
    const stray = () => processesInDaemonNs(d).filter((p) => /isula-monitor|runc|sleep/.test(p));
    const leftovers = await waitFor('no leftover processes', () => (stray().length === 0 ? [] : undefined), 5000, 100).catch(() => stray());
    expect(leftovers).toEqual([]);
    const id = await inspect(d, 'slow', '{{.Id}}');
    await ok(d, ['rm', 'slow']);
    expect(cgroupDirsOf(id)).toEqual([]);
  }, LONG);
});

describe('hooks', () => {
  it('prestart and poststop hooks of --hook-spec run, and the cgroups are gone after the exit', async () => {
    const d = await daemonWithBusybox();
    const hooks = d.path('hooks.json');
    const marks = d.path('marks');
    writeFileSync(
      hooks,
      JSON.stringify({
        prestart: [{ path: '/bin/sh', args: ['sh', '-c', `echo pre >> ${marks}`] }],
        poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo post >> ${marks}`] }],
      }),
    );
    const id = (await ok(d, ['run', '-d', '--hook-spec', hooks, 'busybox', 'true'])).stdout.trim();
    expect((await ok(d, ['wait', id])).stdout).toBe('0\n');
    // poststop hooks only run through the runtime's delete, which the monitor then performs.
    await waitFor('poststop hook', () => (existsSync(marks) && readFileSync(marks, 'utf8').includes('post') ? true : undefined), 5000, 50);
    expect(readFileSync(marks, 'utf8')).toBe('pre\npost\n');
    expect(cgroupDirsOf(id)).toEqual([]);
    // Without poststop hooks the daemon removes the cgroups itself.
    const plain = (await ok(d, ['run', '-d', 'busybox', 'true'])).stdout.trim();
    await ok(d, ['wait', plain]);
    expect(cgroupDirsOf(plain)).toEqual([]);
  }, LONG);
});
