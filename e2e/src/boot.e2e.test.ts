import { existsSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ISULAD, failingDaemon, run, startDaemon, waitFor, type TestDaemon } from './harness';

const daemons: TestDaemon[] = [];
const track = <T extends TestDaemon>(d: T) => (daemons.push(d), d);
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

describe('isulad boot', () => {
  it('answers version and info on its unix socket, with mode 0660', async () => {
    const d = track(await startDaemon());
    const v = await d.isula(['version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^Client:\n  Version:\t\S+\n  Git commit:\t\S+\n  Built:\t.+\n\nServer:\n  Version:\t\S+/);
    expect(v.stdout).toContain('OCI config:\n  Version:\t1.0.1\n  Default file:\t/etc/default/isulad/config.json\n');
    const info = await d.isula(['info']);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^Containers: 0\n Running: 0\n Paused: 0\n Stopped: 0\nImages: 0\n/);
    expect(info.stdout).toContain(`iSulad Root Dir: ${d.path('graph')}\n`);
    expect(info.stdout).toContain('Storage Driver: overlay2\n');
    expect(info.stdout).toContain('Name: isula-e2e\n'); // the daemon's own uts namespace
    expect(info.stdout).toMatch(/\nCPUs: [1-9]\d*\nTotal Memory: \d+ GB\n/);
    expect(statSync(d.sock).mode & 0o777).toBe(0o660);
  });

  it('writes its pid into a locked pidfile and refuses a second daemon on it', async () => {
    const d = track(await startDaemon());
    const pidfile = d.path('isulad.pid');
    expect(existsSync(pidfile)).toBe(true);
    // A second daemon inside the first one's namespaces, with the same pidfile and another socket.
    const r = await run('nsenter', ['-t', String(d.pid()), '-m', '-n', 'node', ISULAD, '-p', pidfile, '-H', `unix://${d.path('other.sock')}`, '-g', d.path('g2'), '-S', d.path('s2')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`Pid file found, ensure isulad is not running or delete pid file ${pidfile} or please specify another pid file`);
    expect(existsSync(d.path('other.sock'))).toBe(false);
    expect((await d.isula(['version'])).code).toBe(0);
  });

  it('stops on SIGTERM: exit 0, socket and pidfile removed', async () => {
    const d = track(await startDaemon());
    const res = await d.stop();
    expect(res.code).toBe(0);
    expect(existsSync(d.sock)).toBe(false);
    expect(existsSync(d.path('isulad.pid'))).toBe(false);
  });

  it('stops on SIGINT the same way', async () => {
    const d = track(await startDaemon());
    d.signal('SIGINT');
    expect((await d.exited).code).toBe(0);
    expect(existsSync(d.sock)).toBe(false);
  });

  it('ignores SIGHUP and SIGUSR1', async () => {
    const d = track(await startDaemon());
    d.signal('SIGHUP');
    d.signal('SIGUSR1');
    await new Promise((r) => setTimeout(r, 300));
    expect((await d.isula(['version'])).code).toBe(0);
  });

  it('takes over a stale socket left by a daemon killed with SIGKILL', async () => {
    const first = track(await startDaemon());
    first.signal('SIGKILL');
    await first.exited;
    expect(existsSync(first.sock)).toBe(true); // nobody cleaned up
    const second = track(await startDaemon({ args: ['-H', `unix://${first.sock}`], noHostFlag: true, waitReady: false }));
    const answered = await waitFor('the second daemon on the stale socket', async () => {
      const r = await second.isula(['version', '-H', `unix://${first.sock}`], { noHost: true });
      return r.code === 0 ? r : undefined;
    });
    expect(answered.stdout).toContain('Server:');
  });

  it('refuses a socket path another live daemon answers on', async () => {
    const first = track(await startDaemon());
    const r = await failingDaemon({ args: ['-H', `unix://${first.sock}`], noHostFlag: true });
    track(r.d);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Listen on unix://${first.sock} failed: another daemon answers on this socket`);
    expect((await first.isula(['version'])).code).toBe(0);
  });

  it('prints its version and help without starting', async () => {
    const v = await failingDaemon({ args: ['--version'] });
    track(v.d);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^Version \d+\.\d+\.\d+, commit \S+\n$/);
    const h = await failingDaemon({ args: ['--help'] });
    track(h.d);
    expect(h.code).toBe(0);
    expect(h.stdout.startsWith('isulad\n\nlightweight container runtime daemon\n\nUsage:  isulad [global options]\n\nGLOBAL OPTIONS:\n')).toBe(true);
    expect(h.stdout).toContain('      --websocket-server-listening-port    CRI websocket streaming service listening port (default 10350)\n');
  });

  it('uses the default socket /var/run/isulad.sock when no host is configured', async () => {
    const d = track(await startDaemon({ defaultPaths: true, waitReady: false }));
    const r = await (async () => {
      for (let i = 0; i < 200; i++) {
        if (d.pid() !== undefined) {
          const res = await d.isula(['version'], { noHost: true, inNamespaces: true });
          if (res.code === 0) return res;
        }
        await new Promise((r2) => setTimeout(r2, 50));
      }
      throw new Error(`daemon with defaults never answered: ${d.stderr}`);
    })();
    expect(r.stdout).toContain('Server:');
    const info = await d.isula(['info'], { noHost: true, inNamespaces: true });
    expect(info.stdout).toContain('iSulad Root Dir: /var/lib/isulad\n');
  });
});
