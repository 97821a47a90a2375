import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor, type TestDaemon } from './harness';
import { CGROUP_ROOT, containerSuite, ok } from './containers-fixtures';

const suite = containerSuite('ctr');
const { daemonWithBusybox } = suite;
const CGROUP_PARENT = suite.cgroupParent;

afterEach(() => suite.stopDaemons());
afterAll(() => {
  suite.finish();
});

const inspect = async (d: TestDaemon, name: string, format: string) => (await ok(d, ['inspect', '-f', format, name])).stdout.trim();

describe('run, exit codes, output', () => {
  it('run --rm prints the output, exits 0 and leaves no container', async () => {
    const d = await daemonWithBusybox();
    const r = await ok(d, ['run', '--rm', 'busybox', 'echo', 'hello'], { inNamespaces: true });
    expect(r.stdout).toBe('hello\n');
    expect((await ok(d, ['ps', '-a', '-q'])).stdout).toBe('');
    // The rw layer and the bundle went with it.
    expect(d.listDir('graph', 'engines', 'runc')).toEqual([]);
  });

  it('propagates the exit code and separates stdout from stderr', async () => {
    const d = await daemonWithBusybox();
    const r = await d.isula(['run', '--name', 'three', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { inNamespaces: true });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(await inspect(d, 'three', '{{.State.Status}}')).toBe('exited');
    expect(await inspect(d, 'three', '{{.State.ExitCode}}')).toBe('3');
    const ps = (await ok(d, ['ps', '-a'])).stdout.split('\n');
    expect(ps[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/);
    expect(ps[1]).toMatch(/Exited \(3\) .*\sthree\s*$/);
  });

  it('create prints a 64-hex id, the container is inited until started; wait reports the code', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['create', '--name', 'c1', 'busybox', 'sh', '-c', 'exit 5'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await inspect(d, 'c1', '{{.State.Status}}')).toBe('inited');
    await ok(d, ['start', id.slice(0, 10)]);
    const w = await ok(d, ['wait', 'c1']);
    expect(w.stdout).toBe('5\n');
    const dup = await d.isula(['create', '--name', 'c1', 'busybox', 'true']);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('is already in use');
  });
});

describe('limits and logs', () => {
  it('memory and pids limits are set in the container cgroup', async () => {
    const d = await daemonWithBusybox();
    const id = (await ok(d, ['run', '-d', '-m', '64m', '--pids-limit', '32', 'busybox', 'sleep', '1000'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const mem = readFileSync(join(CGROUP_ROOT, 'memory', CGROUP_PARENT, id, 'memory.limit_in_bytes'), 'utf8').trim();
    expect(mem).toBe(String(64 * 1024 * 1024));
    const pids = readFileSync(join(CGROUP_ROOT, 'pids', CGROUP_PARENT, id, 'pids.max'), 'utf8').trim();
    expect(pids).toBe('32');
    await ok(d, ['rm', '-f', id]);
    expect(existsSync(join(CGROUP_ROOT, 'memory', CGROUP_PARENT, id))).toBe(false);
  });

  it('json-file logs rotate at max-size and keep max-file files; logs --tail reads across them', async () => {
    const d = await daemonWithBusybox();
    const script = 'i=0; while [ $i -lt 3000 ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done';
    const id = (await ok(d, ['run', '-d', '--log-opt', 'max-size=20k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', script])).stdout.trim();
    expect((await ok(d, ['wait', id])).stdout).toBe('0\n');
    const dir = d.path('graph', 'engines', 'runc', id);
    const logs = readdirSync(dir).filter((f) => f.startsWith('console.log')).sort();
    expect(logs).toEqual(['console.log', 'console.log.1', 'console.log.2']);
    for (const f of logs) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(20 * 1024);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg.annotations['log.console.filerotate']).toBe('3');
    const tail = await ok(d, ['logs', '--tail', '2', id]);
    expect(tail.stdout).toBe('line-2998-abcdefghijklmnopqrstuvwxyz\nline-2999-abcdefghijklmnopqrstuvwxyz\n');
    const all = (await ok(d, ['logs', id])).stdout.trim().split('\n');
    // Consecutive lines, oldest kept file first.
    const nums = all.map((l) => Number(/line-(\d+)-/.exec(l)![1]));
    expect(nums.at(-1)).toBe(2999);
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBe(nums[i - 1]! + 1);
  });
});

describe('lifecycle', () => {
  it('stop, start, restart, pause, unpause, rename, kill, rm -f', async () => {
    const d = await daemonWithBusybox();
    // PID 1 of a container ignores signals it does not handle: the trap makes USR1 and TERM count.
    const loop = 'trap "exit 9" USR1; trap "exit 0" TERM; while :; do sleep 0.1; done';
    const id = (await ok(d, ['run', '-d', '--name', 'life', 'busybox', 'sh', '-c', loop])).stdout.trim();
    expect((await ok(d, ['ps'])).stdout).toMatch(/Up .*\slife/);
    expect((await ok(d, ['pause', 'life'])).stdout).toBe('life\n');
    expect(await inspect(d, 'life', '{{.State.Status}}')).toBe('paused');
    expect(readFileSync(join(CGROUP_ROOT, 'freezer', CGROUP_PARENT, id, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    expect((await ok(d, ['ps'])).stdout).toMatch(/\(Paused\)/);
    await ok(d, ['unpause', 'life']);
    expect(await inspect(d, 'life', '{{.State.Status}}')).toBe('running');
    // The trap ends it on SIGTERM, well before the timeout.
    const t0 = Date.now();
    expect((await ok(d, ['stop', '-t', '5', 'life'])).stdout).toBe('life\n');
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(await inspect(d, 'life', '{{.State.ExitCode}}')).toBe('0');
    await ok(d, ['start', 'life']);
    await ok(d, ['restart', '-t', '1', 'life']);
    expect(await inspect(d, 'life', '{{.State.Status}}')).toBe('running');
    await ok(d, ['rename', 'life', 'life2']);
    expect(await inspect(d, id, '{{.Name}}')).toBe('/life2');
    const rm = await d.isula(['rm', 'life2']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toBe(`Error response from daemon: You cannot remove a running container ${id}. Stop the container before attempting removal or use -f\n`);
    expect((await ok(d, ['kill', '-s', 'SIGUSR1', 'life2'])).stdout).toBe('life2\n');
    await waitFor('killed by USR1', async () => (await inspect(d, 'life2', '{{.State.Status}}')) === 'exited', 5000);
    expect(await inspect(d, 'life2', '{{.State.ExitCode}}')).toBe('9');
    await ok(d, ['start', 'life2']);
    expect((await ok(d, ['rm', '-f', 'life2'])).stdout).toBe('life2\n');
    expect((await ok(d, ['ps', '-a', '-q'])).stdout).toBe('');
    // A process that ignores SIGTERM is killed when the stop timeout passes: 137.
    await ok(d, ['run', '-d', '--name', 'stubborn', 'busybox', 'sleep', '1000']);
    const t1 = Date.now();
    await ok(d, ['stop', '-t', '1', 'stubborn']);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(1000);
    expect(await inspect(d, 'stubborn', '{{.State.ExitCode}}')).toBe('137');
  });

  it('restart policy always brings an exiting container back', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '--name', 'bouncy', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 1']);
    await waitFor('two restarts', async () => Number(await inspect(d, 'bouncy', '{{.RestartCount}}')) >= 2, 15_000, 200);
    await ok(d, ['stop', '-t', '1', 'bouncy']);
    const count = await inspect(d, 'bouncy', '{{.RestartCount}}');
    await sleep(1000);
    // A user's stop is final.
    expect(await inspect(d, 'bouncy', '{{.State.Status}}')).toBe('exited');
    expect(await inspect(d, 'bouncy', '{{.RestartCount}}')).toBe(count);
  });

  it('50 concurrent run -d all succeed, rm -f removes them all', async () => {
    const d = await daemonWithBusybox();
    const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => d.isula(['run', '-d', '--name', `par${i}`, 'busybox', 'sleep', '1000'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const ids = new Set(runs.map((r) => r.stdout.trim()));
    expect(ids.size).toBe(50);
    expect((await ok(d, ['ps', '-q'])).stdout.trim().split('\n')).toHaveLength(50);
    const rms = await Promise.all([...ids].map((id) => d.isula(['rm', '-f', id])));
    for (const r of rms) expect(r.code, r.stderr).toBe(0);
    expect((await ok(d, ['ps', '-a', '-q'])).stdout).toBe('');
  }, 120_000);

  it('events reports create, start and die', async () => {
    const d = await daemonWithBusybox();
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (await ok(d, ['run', '-d', 'busybox', 'true'])).stdout.trim();
    await ok(d, ['wait', id]);
    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await ok(d, ['events', '-S', String(since), '-U', String(until)]);
    const opts = ev.stdout
      .split('\n')
      .filter((l) => l.includes(id))
      .map((l) => /container (\w+) /.exec(l)?.[1]);
    expect(opts).toEqual(['create', 'start', 'die']);
  });
});

describe('bad input', () => {
  it('unknown signal, bad memory value and a missing image give upstream texts and codes', async () => {
    const d = await daemonWithBusybox();
    const kill = await d.isula(['kill', '-s', 'NOPE', 'x']);
    expect(kill.stderr).toContain('Invalid signal: NOPE');
    expect(kill.code).not.toBe(0);
    const mem = await d.isula(['run', '-m', 'lots', 'busybox', 'true']);
    expect(mem.code).toBe(125);
    expect(mem.stderr).toContain('lots');
    const missing = await d.isula(['run', '--pull', 'never', 'nosuchimage', 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('No such image');
    const noCmd = await d.isula(['run', '-d', 'busybox', 'nonexistent-binary']);
    expect(noCmd.code).not.toBe(0);
    expect((await ok(d, ['ps', '-a', '-q'])).stdout.trim().split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('persistence across daemon restarts', () => {
  it('kill -9 of the daemon: 20 containers keep running, logs continue, all stoppable', async () => {
    const d = await daemonWithBusybox({ respawn: true });
    const ids: string[] = [];
    const runs = await Promise.all(
      Array.from({ length: 20 }, () => d.isula(['run', '-d', 'busybox', 'sh', '-c', 'i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.2; done'])),
    );
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      ids.push(r.stdout.trim());
    }
    const before = d.pid()!;
    process.kill(before, 'SIGKILL');
    await waitFor('a new daemon', () => {
      const p = d.pid();
      return p !== undefined && p !== before ? p : undefined;
    });
    await d.ready();
    await sleep(600);
    const ps = (await ok(d, ['ps', '-q', '--no-trunc'])).stdout.trim().split('\n');
    expect(new Set(ps)).toEqual(new Set(ids));
    // Output written while no daemon ran is in the log, numbered without a gap.
    const lines = (await ok(d, ['logs', ids[0]!])).stdout.trim().split('\n');
    const nums = lines.map((l) => Number(l.replace('tick-', '')));
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBe(nums[i - 1]! + 1);
    const stops = await Promise.all(ids.map((id) => d.isula(['stop', '-t', '1', id])));
    for (const s of stops) expect(s.code, s.stderr).toBe(0);
    expect((await ok(d, ['ps', '-q'])).stdout).toBe('');
  }, 120_000);

  it('a container that exits while the daemon is down shows its real exit code', async () => {
    const d = await daemonWithBusybox({ respawn: true });
    await ok(d, ['run', '-d', '--name', 'late', 'busybox', 'sh', '-c', 'sleep 1.5; exit 7']);
    writeFileSync(d.path('hold'), '');
    const before = d.pid()!;
    process.kill(before, 'SIGKILL');
    await sleep(2500);
    unlinkSync(d.path('hold'));
    await waitFor('a new daemon', () => {
      const p = d.pid();
      return p !== undefined && p !== before ? p : undefined;
    });
    await d.ready();
    expect(await inspect(d, 'late', '{{.State.Status}}')).toBe('exited');
    expect(await inspect(d, 'late', '{{.State.ExitCode}}')).toBe('7');
    // Nothing of the run is left mounted.
    const mounts = readFileSync(`/proc/${d.pid()}/mountinfo`, 'utf8');
    const id = await inspect(d, 'late', '{{.Id}}');
    expect(mounts).not.toContain(`${id}/merged`);
  }, 60_000);

  it('a clean daemon stop leaves containers running; the next daemon manages them', async () => {
    const d = await daemonWithBusybox({ respawn: true });
    const id = (await ok(d, ['run', '-d', 'busybox', 'sleep', '1000'])).stdout.trim();
    const before = d.pid()!;
    process.kill(before, 'SIGTERM');
    await waitFor('a new daemon', () => {
      const p = d.pid();
      return p !== undefined && p !== before ? p : undefined;
    });
    await d.ready();
    expect(await inspect(d, id, '{{.State.Status}}')).toBe('running');
    await ok(d, ['rm', '-f', id]);
  }, 60_000);
});

describe('--rm with stop and rm -f', () => {
  it('stop and rm -f of a running --rm container return at once and leave nothing', async () => {
    const d = await daemonWithBusybox();
    const a = (await ok(d, ['run', '-d', '--rm', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'])).stdout.trim();
    const t0 = Date.now();
    await ok(d, ['stop', '-t', '5', a]);
    expect(Date.now() - t0).toBeLessThan(4000);
    await waitFor('auto-removal', async () => ((await d.isula(['inspect', a])).code !== 0 ? true : undefined), 5000);
    const b = (await ok(d, ['run', '-d', '--rm', 'busybox', 'sleep', '1000'])).stdout.trim();
    const t1 = Date.now();
    await ok(d, ['rm', '-f', b]);
    expect(Date.now() - t1).toBeLessThan(4000);
    expect((await ok(d, ['ps', '-a', '-q'])).stdout).toBe('');
  });
});
