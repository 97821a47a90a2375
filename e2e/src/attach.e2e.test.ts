import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ISULA, sleep, waitFor, type TestDaemon } from './harness';
import { containerSuite, ok } from './containers-fixtures';

const suite = containerSuite('attach');
const { daemonWithBusybox } = suite;

const spawned: Running[] = [];
afterEach(async () => {
  for (const r of spawned.splice(0)) r.kill('SIGKILL');
  await suite.stopDaemons();
});
afterAll(() => suite.finish());

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The argv of `isula <args>` against `d`, run in the daemon's namespaces. */
function isulaArgv(d: TestDaemon, args: string[]): string[] {
  const [cmd, ...rest] = args;
  return ['nsenter', '-t', String(d.pid()), '-m', '-n', '-u', '-p', 'node', '--', ISULA, cmd!, '-H', `unix://${d.sock}`, ...rest];
}

/** A long-running process with its output collected and its exit awaited. */
interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
  /** Kills the process and its children (nsenter forks the isula client). */
  kill(sig: NodeJS.Signals): void;
}

function start(cmd: string, args: string[]): Running {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* gone */
    }
  };
  const r = { child, out: () => out, exited, kill };
  spawned.push(r);
  return r;
}

/** `isula <args>` in the daemon's namespaces, left running. */
const spawnIsula = (d: TestDaemon, args: string[]) => {
  const [cmd, ...rest] = isulaArgv(d, args);
  return start(cmd!, rest);
};

/** `isula <args>` on a real pty (util-linux script) sized 30x100, keystrokes through stdin. */
const spawnOnPty = (d: TestDaemon, args: string[]) =>
  start('script', ['-qefc', `stty rows 30 cols 100; exec ${isulaArgv(d, args).map(q).join(' ')}`, '/dev/null']);

const seen = (r: Running, text: string | RegExp, timeoutMs = 15_000) =>
  waitFor(`output ${String(text)} in ${JSON.stringify(r.out())}`, () => (typeof text === 'string' ? r.out().includes(text) : text.test(r.out())) || undefined, timeoutMs);

const status = async (d: TestDaemon, name: string) => (await ok(d, ['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();

describe('isula attach', () => {
  it('refuses a stopped container with upstream text, and wants exactly one argument', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['create', '--name', 'idle', 'busybox', 'true']);
    const r = await d.isula(['attach', 'idle'], { inNamespaces: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('You cannot attach to a stopped container, start it first');
    const none = await d.isula(['attach'], { inNamespaces: true });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('"isula attach" requires exactly 1 argument(s).');
  });

  it('streams the output of a running container to two clients at once; the container runs on', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'while :; do echo tick; sleep 0.2; done']);
    const a = spawnIsula(d, ['attach', 'ticker']);
    const b = spawnIsula(d, ['attach', 'ticker']);
    await seen(a, /tick\n.*tick\n/s);
    await seen(b, /tick\n.*tick\n/s);
    await sleep(1000);
    a.kill('SIGKILL');
    b.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    expect(await status(d, 'ticker')).toBe('running');
    // A new attach after the others went away still gets output.
    const c = spawnIsula(d, ['attach', 'ticker']);
    await seen(c, 'tick\n');
    c.kill('SIGKILL');
    await c.exited;
    expect(await status(d, 'ticker')).toBe('running');
  });

  it('forwards stdin to a container started with -i', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '-i', '--name', 'cat', 'busybox', 'cat']);
    const a = spawnIsula(d, ['attach', 'cat']);
    a.child.stdin!.end('hello\n');
    await seen(a, 'hello\n');
    a.kill('SIGKILL');
    await a.exited;
    expect(await status(d, 'cat')).toBe('running');
  });

  it('ends with the exit code of a container that exits while attached', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 1; echo bye; exit 7']);
    const r = await d.isula(['attach', 'short'], { inNamespaces: true });
    expect(r.stdout).toContain('bye\n');
    expect(r.code).toBe(7);
  });
});

describe('tty', () => {
  it('run -it: raw tty with the window size, ctrl-p ctrl-q detaches the client (exit 0, nothing printed)', async () => {
    const d = await daemonWithBusybox();
    const run = spawnOnPty(d, ['run', '-it', '--name', 'shell', 'busybox', 'sh']);
    await seen(run, '# ');
    await sleep(300); // ash's cursor-position query at the prompt takes keys typed meanwhile
    run.child.stdin!.write('stty size; echo tty-$((40+2))\r');
    await seen(run, 'tty-42');
    expect(run.out()).toMatch(/30 100\r*\n/);
    const before = run.out().length;
    run.child.stdin!.write('\x10\x11');
    expect(await Promise.race([run.exited, sleep(10_000).then(() => 'timeout')])).toBe(0);
    expect(run.out().slice(before)).not.toMatch(/[a-z]/i);
  });

  // The FIFO bridge keeps a tty container's stdin open when the client's stdin FIFO ends.
  it('run -it: after a ctrl-p ctrl-q detach the container is still Up', async () => {
    const d = await daemonWithBusybox();
    const run = spawnOnPty(d, ['run', '-it', '--name', 'shell', 'busybox', 'sh']);
    await seen(run, '# ');
    run.child.stdin!.write('\x10\x11');
    expect(await Promise.race([run.exited, sleep(10_000).then(() => 'timeout')])).toBe(0);
    await sleep(500);
    expect(await status(d, 'shell')).toBe('running');
    expect((await ok(d, ['ps'])).stdout).toMatch(/Up .*\sshell\s*$/m);
  });

  it('attach to a tty container: typing works, ctrl-p ctrl-q detaches, re-attach and `exit 3` gives 3', async () => {
    const d = await daemonWithBusybox();
    await ok(d, ['run', '-d', '-it', '--name', 'bg', 'busybox', 'sh']);
    const att = spawnOnPty(d, ['attach', 'bg']);
    await sleep(500);
    att.child.stdin!.write('stty size; echo hi-$((2+3))\r');
    await seen(att, 'hi-5');
    expect(att.out()).toMatch(/30 100\r*\n/);
    att.child.stdin!.write('\x10\x11');
    expect(await Promise.race([att.exited, sleep(10_000).then(() => 'timeout')])).toBe(0);
    expect(await status(d, 'bg')).toBe('running');
    expect((await ok(d, ['ps'])).stdout).toMatch(/Up .*\sbg\s*$/m);

    const again = spawnOnPty(d, ['attach', 'bg']);
    await sleep(500);
    again.child.stdin!.write('echo again-$((1+1))\r');
    await seen(again, 'again-2');
    again.child.stdin!.write('exit 3\r');
    expect(await Promise.race([again.exited, sleep(10_000).then(() => 'timeout')])).toBe(3);
    expect(await status(d, 'bg')).toBe('exited');
  });
});
