import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { failingDaemon, startDaemon, type TestDaemon } from './harness';

const daemons: TestDaemon[] = [];
const track = <T extends TestDaemon>(d: T) => (daemons.push(d), d);
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

/** Starts a daemon that must refuse to start, and checks it left nothing behind in its directory. */
async function refused(opts: Parameters<typeof failingDaemon>[0]) {
  const r = await failingDaemon(opts);
  track(r.d);
  expect(r.d.listDir().filter((f) => !['etc-isulad', 'ovl'].includes(f))).toEqual([]);
  return r;
}

describe('configuration precedence', () => {
  it('a flag beats daemon.json, daemon.json beats the default', async () => {
    const d = track(
      await startDaemon({
        daemonJson: { graph: '/nonexistent-graph-from-file', 'container-log': { driver: 'syslog' } },
      }),
    );
    const info = await d.isula(['info']);
    expect(info.stdout).toContain(`iSulad Root Dir: ${d.path('graph')}\n`); // -g flag won
    expect(info.stdout).toContain('Logging Driver: syslog\n'); // file beat the json-file default
    expect(existsSync('/nonexistent-graph-from-file')).toBe(false);
  });

  it('--container-log-driver beats container-log.driver from the file', async () => {
    const d = track(await startDaemon({ daemonJson: { 'container-log': { driver: 'syslog' } }, args: ['--container-log-driver', 'json-file'] }));
    expect((await d.isula(['info'])).stdout).toContain('Logging Driver: json-file\n');
  });
});

describe('hosts', () => {
  it('refuses hosts given both as flags and in daemon.json, with the spec text', async () => {
    const r = await refused({
      daemonJson: { hosts: ['unix:///var/run/isulad.sock', 'tcp://localhost:5678', 'tcp://127.0.0.1:6789'] },
      args: ['-H', 'unix:///var/run/isulad.sock', '--host', 'tcp://127.0.0.1:6789'],
      noHostFlag: true,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///var/run/isulad.sock tcp://127.0.0.1:6789], from file: [unix:///var/run/isulad.sock tcp://localhost:5678 tcp://127.0.0.1:6789])',
    );
  });

  it('refuses 11 hosts given as flags (exit 125) and in daemon.json (exit 1)', async () => {
    const hosts = Array.from({ length: 11 }, (_, i) => `tcp://127.0.0.1:${7000 + i}`);
    const flags = await refused({ args: hosts.flatMap((h) => ['-H', h]), noHostFlag: true });
    expect(flags.code).toBe(125);
    expect(flags.stderr.trim()).toBe('Too many hosts, the max number is 10');
    const file = await refused({ daemonJson: { hosts }, noHostFlag: true });
    expect(file.code).toBe(1);
    expect(file.stderr.trim()).toBe('Too many hosts, the max number is 10');
  });

  it('accepts exactly 10 hosts after removing duplicates', async () => {
    const hosts = Array.from({ length: 10 }, (_, i) => `tcp://127.0.0.1:${7100 + i}`);
    const d = track(await startDaemon({ daemonJson: { hosts: [...hosts, hosts[0]] }, noHostFlag: true, waitReady: false }));
    // No unix host here: ask the first and the last tcp listener from inside the daemon's netns.
    await waitAnswer(d, ['version', '-H', hosts[0]!]);
    expect((await d.isula(['version', '-H', hosts[9]!], { noHost: true, inNamespaces: true })).code).toBe(0);
  });

  it('names an invalid host: flag → "Invalid socket name : x" exit 125; file → "Invalid socket name: x" exit 1', async () => {
    for (const bad of ['unix://relative/path', 'tcp://1.2.3:80', 'tcp://127.0.0.1:70000', 'http://127.0.0.1:80', 'tcp://example.com:80']) {
      const flag = await refused({ args: ['-H', bad], noHostFlag: true });
      expect(flag.code, bad).toBe(125);
      expect(flag.stderr.trim()).toBe(`Invalid socket name : ${bad}`);
      const file = await refused({ daemonJson: { hosts: [bad] }, noHostFlag: true });
      expect(file.code, bad).toBe(1);
      expect(file.stderr.trim()).toBe(`Invalid socket name: ${bad}`);
    }
  });

  it('serves two unix sockets and a tcp port at once', async () => {
    const d = track(await startDaemon({ args: ['-H', 'unix://{dir}/second.sock', '-H', 'tcp://127.0.0.1:2375'] }));
    expect((await d.isula(['version'])).code).toBe(0);
    expect((await d.isula(['version', '-H', `unix://${d.path('second.sock')}`], { noHost: true })).code).toBe(0);
    const tcp = await d.isula(['info', '-H', 'tcp://127.0.0.1:2375'], { noHost: true, inNamespaces: true });
    expect(tcp.code).toBe(0);
    expect(tcp.stdout).toContain('Containers: 0');
    // The tcp port lives in the daemon's own network namespace, not on the host.
    const fromHost = await d.isula(['version', '-H', 'tcp://127.0.0.1:2375'], { noHost: true });
    expect(fromHost.code).toBe(1);
    expect(fromHost.stderr.trim()).toBe('Can not connect with server.Is the iSulad daemon running on the host?');
  });

  it('reads hosts from daemon.json, a single string included', async () => {
    const d = track(await startDaemon({ daemonJson: { hosts: 'unix://{dir}/from-file.sock' }, noHostFlag: true, waitReady: false }));
    await waitAnswer(d, ['version', '-H', `unix://${d.path('from-file.sock')}`]);
  });
});

async function waitAnswer(d: TestDaemon, args: string[]) {
  for (let i = 0; i < 300; i++) {
    if (d.pid() !== undefined) {
      const r = await d.isula(args, { noHost: true, inNamespaces: true });
      if (r.code === 0) return r;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no answer to isula ${args.join(' ')}: ${d.stderr}`);
}


describe('bad daemon.json: one clear line, exit 1, nothing created', () => {
  const cases: Array<[string, object | string, RegExp | string]> = [
    ['malformed JSON', '{ "graph": ', /^Load isulad json config failed: \/etc\/isulad\/daemon\.json: .+/],
    ['a string where a string is wanted? no: a number', { graph: 5 }, 'Load isulad json config failed: "graph" must be a string, got 5'],
    ['a list key given a string', { 'storage-opts': 'overlay2.override_kernel_check=true' }, 'Load isulad json config failed: "storage-opts" must be an array of strings, got "overlay2.override_kernel_check=true"'],
    ['non-boolean tls', { tls: 'yes' }, 'Load isulad json config failed: "tls" must be a boolean, got "yes"'],
    ['network-plugin other than "" or cni', { 'network-plugin': 'calico' }, 'Init network plugin failed: Network plugin calico not found.'],
    ['websocket port out of range', { 'websocket-server-listening-port': 80 }, "Invalid websocket server listening port: '80' (range: 1024-49151)"],
    ['native.umask', { 'native.umask': 'loose' }, 'Invalid native umask: loose'],
    ['start-timeout', { 'start-timeout': '2h' }, 'Invalid time duration value(2h) in server conf, only ^([1-9][0-9]*)+([s,m])$ are allowed.'],
    ['default-ulimits Name differs from its key', { 'default-ulimits': { nofile: { Name: 'nproc', Hard: 10, Soft: 5 } } }, 'Ulimit Name "nproc" must same as type "nofile" in /etc/isulad/daemon.json'],
    ['default-ulimits Hard < Soft', { 'default-ulimits': { nofile: { Name: 'nofile', Hard: 5, Soft: 10 } } }, 'Ulimit soft limit must be less than or equal to hard limit: 10 > 5 in /etc/isulad/daemon.json'],
    ['log-opts with a bad max-file', { 'log-opts': { 'max-file': 'many' } }, 'Failed to parse log options max-file:many'],
    ['file log smaller than 4KB', { 'log-driver': 'file', 'log-opts': { 'max-size': '1KB' } }, 'Max-size "1024" must large than 4KB.'],
    ['relative log path', { 'log-driver': 'file', 'log-opts': { 'log-path': 'logs' } }, 'Daemon log path "logs" must be abosulte path.'],
    ['authorization plugin', { 'authorization-plugin': 'opa' }, "Invalid authorization plugin 'opa'"],
  ];
  for (const [name, json, expected] of cases) {
    it(name, async () => {
      const r = await refused({ daemonJson: json });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      if (typeof expected === 'string') expect(lines[0]).toBe(expected);
      else expect(lines[0]).toMatch(expected);
    });
  }

  it('a missing daemon.json is a clear error', async () => {
    const r = await refused({ daemonJson: null });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Load isulad json config failed: /etc/isulad/daemon.json: No such file or directory');
  });

  it('non-boolean use-decrypted-key and insecure-skip-verify-enforce fall back to their defaults', async () => {
    const d = track(await startDaemon({ daemonJson: { 'use-decrypted-key': 'no', 'insecure-skip-verify-enforce': 1 } }));
    expect((await d.isula(['version'])).code).toBe(0);
  });

  it('the spec example daemon.json starts (unknown keys are warnings)', async () => {
    const spec = {
      group: 'isulad', 'default-runtime': 'lcr', engine: 'lcr', 'log-level': 'ERROR',
      'log-opts': { 'log-file-mode': '0600', 'log-path': '{dir}', 'max-file': '1', 'max-size': '30KB' },
      'log-driver': 'stdout', 'start-timeout': '2m', 'storage-driver': 'overlay2',
      'storage-opts': ['overlay2.override_kernel_check=true'], 'registry-mirrors': ['docker.io'],
      'insecure-registries': ['rnd-dockerhub.huawei.com'], 'pod-sandbox-image': '', 'native.umask': 'secure',
      'network-plugin': '', 'cni-bin-dir': '', 'cni-conf-dir': '', 'image-layer-check': false,
      'use-decrypted-key': true, 'insecure-skip-verify-enforce': false, 'cri-runtime': { kata: 'io.containerd.kata.v2' },
    };
    const d = track(await startDaemon({ daemonJson: spec }));
    expect((await d.isula(['version'])).code).toBe(0);
  });
});

describe('bad flags', () => {
  it('an unknown flag: exit 125, upstream text', async () => {
    const r = await refused({ args: ['--no-such-flag'] });
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toBe("Unknown flag found:'--no-such-flag'");
  });

  it('a flag without its value', async () => {
    const r = await refused({ args: ['--graph'] , defaultPaths: true });
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toBe('Flag needs an argument: --graph');
  });

  it('--log-opt without k=v', async () => {
    const r = await refused({ args: ['--log-opt', 'max-size'] });
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toBe('Invalid value "max-size" for flag --log-opt');
  });

  it('--default-ulimit soft above hard, and given in both places', async () => {
    const r = await refused({ args: ['--default-ulimit', 'nofile=2048:1024'] });
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toBe('Ulimit soft limit must be less than or equal to hard limit: 2048 > 1024');
    const both = await refused({
      args: ['--default-ulimit', 'nofile=1024:2048'],
      daemonJson: { 'default-ulimits': { nofile: { Name: 'nofile', Hard: 6400, Soft: 3200 } } },
    });
    expect(both.code).toBe(1);
    expect(both.stderr.trim()).toBe(
      'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: default-ulimits: (from flag: [ nofile=1024:2048 ], from file: [ nofile=3200:6400 ])',
    );
  });

  it('a stray positional argument', async () => {
    const r = await refused({ args: ['extra'], defaultPaths: true });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('unresolved arguments: extra;\trun `isulad --help` for help.');
  });
});

describe('hook-spec', () => {
  it('must be an absolute path to a regular file holding valid OCI hooks', async () => {
    const rel = await refused({ daemonJson: { 'hook-spec': 'hooks.json' } });
    expect(rel.stderr.trim()).toBe('Hook path "hooks.json" must be an absolute path');
    const missing = await refused({ daemonJson: { 'hook-spec': '/nonexistent/hooks.json' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^Stat hook spec file failed: ENOENT/);
    const dir = await refused({ daemonJson: { 'hook-spec': '/tmp' } });
    expect(dir.stderr.trim()).toBe('Hook spec file must be a regular text file');
  });

  it('a valid hook spec is accepted', async () => {
    const d = track(
      await startDaemon({
        prepare: [`printf '%s' '{"prestart":[{"path":"/bin/true","args":["true"],"timeout":5}]}' > /etc/isulad/hooks.json`],
        daemonJson: { 'hook-spec': '/etc/isulad/hooks.json' },
      }),
    );
    expect((await d.isula(['version'])).code).toBe(0);
  });

  it('a hook without an absolute path is refused', async () => {
    const r = await refused({
      prepare: [`printf '%s' '{"poststop":[{"path":"true"}]}' > /etc/isulad/hooks.json`],
      daemonJson: { 'hook-spec': '/etc/isulad/hooks.json' },
    });
    expect(r.stderr.trim()).toBe('Invalid hook-spec file(/etc/isulad/hooks.json) in server conf: hook path "true" must be absolute');
  });
});

describe('storage options', () => {
  /** Refused by the storage driver (it needs the graph's filesystem): no pidfile, socket or database left. */
  async function refusedByStorage(args: string[]) {
    const r = await failingDaemon({ args });
    track(r.d);
    expect(r.d.listDir().filter((f) => !['etc-isulad', 'ovl', 'graph', 'state'].includes(f))).toEqual([]);
    expect(existsSync(r.d.path('graph', 'isulad.db'))).toBe(false);
    return r;
  }

  it('overlay2.size needs project quota, which this kernel lacks: refused with upstream text, not ignored', async () => {
    const r = await refusedByStorage(['--storage-opt', 'overlay2.size=10G']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Storage option overlay.size not supported. Filesystem does not support Project Quota');
  });

  it('devicemapper without a thin pool is refused with upstream text', async () => {
    const r = await refusedByStorage(['--storage-driver', 'devicemapper']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('devmapper: thin pool is not exist or caller did not pass us a pool, please create it firstly');
  });

  it('info reports the overlay2 driver status', async () => {
    const d = track(await startDaemon());
    const info = (await d.isula(['info'])).stdout;
    expect(info).toMatch(/\nStorage Driver: overlay2\n Backing Filesystem: \w+\n Supports d_type: true\n/);
  });
});
