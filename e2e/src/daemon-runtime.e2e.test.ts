import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { IsulaClient } from '@isula/client';
import { afterEach, describe, expect, it } from 'vitest';
import { failingDaemon, startDaemon, waitFor, type TestDaemon } from './harness';

const daemons: TestDaemon[] = [];
const track = <T extends TestDaemon>(d: T) => (daemons.push(d), d);
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

describe('daemon log', () => {
  it('log-driver file rotates at max-size and keeps max-file files', async () => {
    const d = track(
      await startDaemon({
        daemonJson: { 'log-driver': 'file', 'log-level': 'DEBUG', 'log-opts': { 'log-path': '{dir}/logs', 'max-size': '4KB', 'max-file': '3', 'log-file-mode': '0640' } },
      }),
    );
    const client = new IsulaClient({ host: `unix://${d.sock}` });
    try {
      for (let i = 0; i < 150; i++) await client.version(); // one debug line per call
    } finally {
      client.close();
    }
    await d.stop();
    const files = d.listDir('logs');
    expect(files).toEqual(['isulad.log', 'isulad.log.1', 'isulad.log.2']);
    for (const f of files) {
      const st = statSync(d.path('logs', f));
      expect(st.mode & 0o777).toBe(0o640);
      expect(st.size).toBeLessThan(4096 + 1024); // rotation happens right after the line that crosses 4 KB
    }
    expect(statSync(d.path('logs', 'isulad.log.1')).size).toBeGreaterThanOrEqual(4096);
    const lines = readFileSync(d.path('logs', 'isulad.log'), 'utf8').trim().split('\n');
    // The last lines of the newest file record the shutdown, as JSON.
    expect(JSON.parse(lines.at(-1)!).msg).toBe('isulad stopped');
  });

  it('log-driver stdout writes to standard output and honours log-level', async () => {
    const d = track(await startDaemon({ daemonJson: { 'log-driver': 'stdout', 'log-level': 'WARN', 'no-such-key': 1 } }));
    await d.isula(['version']);
    await d.stop();
    expect(d.stdout).toMatch(/"level":40,.*"msg":"Unknown keys in daemon.json ignored: no-such-key"/);
    expect(d.stdout).not.toContain('successfully booted'); // INFO is below WARN
    expect(existsSync(d.path('graph', 'isulad.log'))).toBe(false);
  });

  it('log-driver file defaults to <log-path>/isulad.log and INFO shows the boot line', async () => {
    const d = track(await startDaemon({ daemonJson: { 'log-driver': 'file', 'log-opts': { 'log-path': '{dir}' } } }));
    await d.stop();
    const log = readFileSync(d.path('isulad.log'), 'utf8');
    expect(log).toMatch(/"msg":"iSulad successfully booted in \d+\.\d{3} s"/);
    expect(statSync(d.path('isulad.log')).mode & 0o777).toBe(0o600);
  });
});

describe('ISULAD_TMPDIR', () => {
  it('unset: <graph>/isulad_tmpdir, root-only', async () => {
    const d = track(await startDaemon());
    const st = statSync(d.path('graph', 'isulad_tmpdir'));
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o700);
    expect(st.uid).toBe(0);
  });

  it('/tmp and empty are ignored (graph default)', async () => {
    for (const value of ['/tmp', '']) {
      const d = track(await startDaemon({ env: { ISULAD_TMPDIR: value } }));
      expect(existsSync(d.path('graph', 'isulad_tmpdir'))).toBe(true);
      expect(existsSync('/tmp/isulad_tmpdir')).toBe(false);
    }
  });

  it('a custom directory is created when missing; stale content is wiped; a loose mode is fixed', async () => {
    const base = `/tmp/ie2e-tmpdir-${process.pid}`;
    const d1 = track(await startDaemon({ env: { ISULAD_TMPDIR: `${base}/a/b` } }));
    expect(statSync(`${base}/a/b/isulad_tmpdir`).mode & 0o777).toBe(0o700);
    await d1.stop();
    writeFileSync(`${base}/a/b/isulad_tmpdir/leftover-layer.tar`, 'half a pull');
    chmodSync(`${base}/a/b/isulad_tmpdir`, 0o777);
    const d2 = track(await startDaemon({ env: { ISULAD_TMPDIR: `${base}/a/b` } }));
    expect(readdirSync(`${base}/a/b/isulad_tmpdir`)).toEqual([]);
    expect(statSync(`${base}/a/b/isulad_tmpdir`).mode & 0o777).toBe(0o700);
    // The default place is secured too.
    expect(existsSync(d2.path('graph', 'isulad_tmpdir'))).toBe(true);
    await d2.stop();
    require('node:fs').rmSync(base, { recursive: true, force: true });
  });

  it('a symlinked base is followed; a dangling one stops the start', async () => {
    const base = `/tmp/ie2e-tmplink-${process.pid}`;
    mkdirSync(`${base}/real`, { recursive: true });
    symlinkSync(`${base}/real`, `${base}/link`);
    const d = track(await startDaemon({ env: { ISULAD_TMPDIR: `${base}/link` } }));
    expect(statSync(`${base}/real/isulad_tmpdir`).isDirectory()).toBe(true);
    expect(lstatSync(`${base}/link`).isSymbolicLink()).toBe(true);
    await d.stop();
    symlinkSync(`${base}/nowhere`, `${base}/dangling`);
    const r = await failingDaemon({ env: { ISULAD_TMPDIR: `${base}/dangling` } });
    track(r.d);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Failed to ensure the ${base}/dangling directory is a safe directory`);
    expect(existsSync(r.d.path('isulad.pid'))).toBe(false); // released on the way out
    require('node:fs').rmSync(base, { recursive: true, force: true });
  });
});

describe('systemd notification', () => {
  it('sends READY=1 to NOTIFY_SOCKET once it serves', async () => {
    const dir = `/tmp/ie2e-notify-${process.pid}`;
    mkdirSync(dir, { recursive: true });
    const sockPath = join(dir, 'notify.sock');
    // Node has no unix datagram sockets; a few lines of Python play systemd's part.
    const listener = spawn('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
data = s.recv(4096)
print(data.decode(), flush=True)
`, sockPath]);
    let out = '';
    listener.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor('python listener', () => (out.includes('bound') ? true : undefined));
    const d = track(await startDaemon({ env: { NOTIFY_SOCKET: sockPath } }));
    await waitFor('READY=1', () => (out.includes('READY=1') ? true : undefined), 5000);
    expect(out).toMatch(/READY=1\nMAINPID=\d+/);
    await d.stop();
    listener.kill();
    require('node:fs').rmSync(dir, { recursive: true, force: true });
  });
});
