import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ISULA, run, waitFor, type TestDaemon } from './harness';
import { containerSuite, ok } from './containers-fixtures';

const suite = containerSuite('exec');
const { daemonWithBusybox } = suite;

afterEach(() => suite.stopDaemons());
afterAll(() => {
  suite.finish();
});

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A daemon with one running busybox container `C`; returns its full id too. */
async function withRunning(): Promise<{ d: TestDaemon; id: string }> {
  const d = await daemonWithBusybox();
  const id = (await ok(d, ['run', '-d', '--name', 'cx', 'busybox', 'sleep', '1000'])).stdout.trim();
  return { d, id };
}

/** The exec directories the daemon has for container `id`. */
function execDirs(d: TestDaemon, id: string): string[] {
  const dir = join(d.dir, 'state', 'runc', id, 'exec');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('isula exec', () => {
  it('runs a command with its output and exit code, and cleans up after itself', async () => {
    const { d, id } = await withRunning();
    const r = await ok(d, ['exec', 'cx', 'echo', 'hi'], { inNamespaces: true });
    expect(r.stdout).toBe('hi\n');
    const e = await d.isula(['exec', 'cx', 'sh', '-c', 'echo out; echo err >&2; exit 7'], { inNamespaces: true });
    expect(e.code).toBe(7);
    expect(e.stdout).toBe('out\n');
    expect(e.stderr).toBe('err\n');
    expect(execDirs(d, id)).toEqual([]);
    // the container itself is untouched
    expect((await ok(d, ['inspect', '-f', '{{.State.Status}}', 'cx'])).stdout.trim()).toBe('running');
  });

  it('-d returns 0 at once and the process runs in the container', async () => {
    const { d } = await withRunning();
    const t0 = Date.now();
    const r = await ok(d, ['exec', '-d', 'cx', 'sleep', '5'], { inNamespaces: true });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.stdout).toBe('');
    const top = await ok(d, ['top', 'cx']);
    expect(top.stdout).toMatch(/sleep 5/);
  });

  it('-e, -u and --workdir apply to the process', async () => {
    const { d } = await withRunning();
    expect((await ok(d, ['exec', '-e', 'A=1', 'cx', 'sh', '-c', 'echo $A'], { inNamespaces: true })).stdout).toBe('1\n');
    expect((await ok(d, ['exec', '-u', '1000', 'cx', 'id', '-u'], { inNamespaces: true })).stdout).toBe('1000\n');
    expect((await ok(d, ['exec', '--workdir', '/tmp', 'cx', 'pwd'], { inNamespaces: true })).stdout).toBe('/tmp\n');
    // the container's environment is inherited
    expect((await ok(d, ['exec', 'cx', 'sh', '-c', 'echo $PATH'], { inNamespaces: true })).stdout).toMatch(/\/bin/);
  });

  it('refuses a relative --workdir with upstream text', async () => {
    const { d } = await withRunning();
    const r = await d.isula(['exec', '--workdir', 'rel', 'cx', 'pwd'], { inNamespaces: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('exec failed: workdir is not validate absolute path');
  });

  it('refuses a stopped container', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['create', '--name', 'sx', 'busybox', 'sleep', '1000']);
    const r = await d.isula(['exec', 'sx', 'echo', 'hi'], { inNamespaces: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Container [0-9a-f]{64} is not running/);
    expect(r.stdout).toBe('');
  });

  it('-i feeds stdin to the process', async () => {
    const { d } = await withRunning();
    const r = await ok(d, ['exec', '-i', 'cx', 'cat'], { inNamespaces: true, input: 'data\n' });
    expect(r.stdout).toBe('data\n');
  });

  it('-t gives the process a pty sized like the local terminal', async () => {
    const { d } = await withRunning();
    const pid = d.pid();
    expect(pid).toBeDefined();
    const isula = ['nsenter', '-t', String(pid), '-m', '-n', '-u', '-p', 'node', '--', ISULA, 'exec', '-H', `unix://${d.sock}`, '-t', 'cx', 'sh', '-c', 'stty size; tty'];
    const cmd = `stty rows 40 cols 100; ${isula.map(quote).join(' ')}`;
    const r = await run('script', ['-qec', cmd, '/dev/null']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+ \d+\r?$/m);
    expect(r.stdout).toContain('40 100');
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    // the local terminal was restored (script would show a raw one as a broken prompt; check stty)
    const again = await run('script', ['-qec', `${isula.map(quote).join(' ')}; stty -a | grep -o -- '-\\?icanon' | head -1`, '/dev/null']);
    expect(again.stdout).toMatch(/^icanon/m);
  });

  it('exec dirs of detached execs go once their process ends', async () => {
    const { d, id } = await withRunning();
    await ok(d, ['exec', '-d', 'cx', 'sleep', '0.2'], { inNamespaces: true });
    await waitFor('exec dir removed', () => (execDirs(d, id).length === 0 ? true : undefined), 10_000);
  });
});
