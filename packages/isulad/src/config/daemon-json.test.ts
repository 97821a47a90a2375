import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type LoadedConfig } from './index';
import { applyDaemonJson, parseConstantsJson } from './daemon-json';
import { defaultConfig, defaultConstants } from './defaults';

// daemon.json (mandatory) and daemon_constants.json: parse errors, types, unknown keys, the spec's examples.

const dir = mkdtempSync(join(tmpdir(), 'isulad-daemon-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

function write(text: string): string {
  const path = join(dir, `file-${seq++}.json`);
  writeFileSync(path, text);
  return path;
}

// The examples name the packaged /etc/default/isulad/hooks/default.json, which loadConfig reads (as
// upstream does at start): point them at an existing empty hook spec instead.
const HOOK_SPEC = '/etc/default/isulad/hooks/default.json';
const hookSpec = join(dir, 'default-hooks.json');
writeFileSync(hookSpec, '{}');

async function loadText(text: string, constants?: string): Promise<LoadedConfig> {
  return loadConfig({
    flags: {},
    env: {},
    daemonJsonPath: write(text.replaceAll(HOOK_SPEC, hookSpec)),
    constantsPath: constants === undefined ? join(dir, 'absent-constants.json') : write(constants),
  });
}
const load = (json: unknown) => loadText(JSON.stringify(json));

async function failure(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const e = err as ConfigError;
  expect(e.exitCode).toBe(1);
  expect(e.message).not.toContain('\n'); // one line for the user
  return e;
}

// The first example of the spec verbatim, "cri-runtime" typo included.
const SPEC_EXAMPLE = `{
    "group": "isulad",
    "default-runtime": "lcr",
    "graph": "/var/lib/isulad",
    "state": "/var/run/isulad",
    "engine": "lcr",
    "log-level": "ERROR",
    "pidfile": "/var/run/isulad.pid",
    "log-opts": {
        "log-file-mode": "0600",
        "log-path": "/var/lib/isulad",
        "max-file": "1",
        "max-size": "30KB"
    },
    "log-driver": "stdout",
    "hook-spec": "/etc/default/isulad/hooks/default.json",
    "start-timeout": "2m",
    "storage-driver": "overlay2",
    "storage-opts": [
        "overlay2.override_kernel_check=true"
    ],
    "registry-mirrors": [
        "docker.io"
    ],
    "insecure-registries": [
        "rnd-dockerhub.huawei.com"
    ],
    "pod-sandbox-image": "",
    "native.umask": "secure",
    "network-plugin": "",
    "cni-bin-dir": "",
    "cni-conf-dir": "",
    "image-layer-check": false,
    "use-decrypted-key": true,
    "insecure-skip-verify-enforce": false,
    "cri-runtime": {
        "kata": "io.containerd.kata.v2"
    }
}
`;

// The spec's second block (shown under "cat /etc/isulad/daemon.json" but holding daemon_constants.json keys).
const SPEC_CONSTANTS = `{
    "default-host": "docker.io",
    "registry-transformation":{
        "docker.io": "registry-1.docker.io",
        "index.docker.io": "registry-1.docker.io"
    }
}
`;

// Every example of the spec's daemon.json table in one file.
const SPEC_TABLE = {
  engine: 'lcr',
  group: 'isulad',
  'hook-spec': '/etc/default/isulad/hooks/default.json',
  hosts: 'unix:///var/run/isulad.sock',
  'log-driver': 'file',
  'log-level': 'ERROR',
  'log-opts': { 'log-file-mode': '0600', 'log-path': '/var/lib/isulad', 'max-file': '1', 'max-size': '30KB' },
  'container-log': { driver: 'json-file' },
  'start-timeout': '2m',
  'default-runtime': 'lcr',
  runtimes: {
    'kata-runtime': {
      path: '/usr/bin/kata-runtime',
      'runtime-args': ['--kata-config', '/usr/share/defaults/kata-containers/configuration.toml'],
    },
  },
  pidfile: '/var/run/isulad.pid',
  graph: '/var/lib/isulad',
  state: '/var/run/isulad',
  'storage-driver': 'overlay2',
  'storage-opts': ['overlay2.override_kernel_check=true'],
  'registry-mirrors': ['docker.io'],
  'insecure-registries': [],
  'native.umask': 'secure',
  'pod-sandbox-image': 'rnd-dockerhub.huawei.com/library/pause-aarch64:3.0',
  'network-plugin': '',
  'cni-bin-dir': '',
  'cni-conf-dir': '',
  'image-layer-check': false,
  'insecure-skip-verify-enforce': false,
  'use-decrypted-key': true,
  tls: false,
  tlsverify: false,
  'tls-config': { CAFile: '/root/.iSulad/ca.pem', CertFile: '/root/.iSulad/server-cert.pem', KeyFile: '/root/.iSulad/server-key.pem' },
  'authorization-plugin': 'authz-broker',
  'cgroup-parent': 'lxc/mycgroup',
  'default-ulimits': { nofile: { Name: 'nofile', Hard: 6400, Soft: 3200 } },
  'websocket-server-listening-port': 10350,
  'cri-runtimes': { kata: 'io.containerd.kata.v2' },
};

describe("the spec's examples load", () => {
  it('the example daemon.json (with its "cri-runtime" typo reported as unknown)', async () => {
    const l = await loadText(SPEC_EXAMPLE);
    expect(l.unknownKeys).toEqual(['cri-runtime']);
    const c = l.config;
    expect(c).toMatchObject({
      group: 'isulad',
      defaultRuntime: 'lcr',
      graph: '/var/lib/isulad',
      state: '/var/run/isulad',
      engine: 'lcr',
      logLevel: 'ERROR',
      pidfile: '/var/run/isulad.pid',
      logDriver: 'stdout',
      hookSpec,
      startTimeout: '2m',
      storageDriver: 'overlay2',
      storageOpts: ['overlay2.override_kernel_check=true'],
      registryMirrors: ['docker.io'],
      insecureRegistries: ['rnd-dockerhub.huawei.com'],
      podSandboxImage: '',
      nativeUmask: 'secure',
      networkPlugin: '',
      cniBinDir: '/opt/cni/bin',
      cniConfDir: '/etc/cni/net.d',
      imageLayerCheck: false,
      useDecryptedKey: true,
      insecureSkipVerifyEnforce: false,
      criRuntimes: {},
    });
    expect(c.logOpts).toEqual({ logFileMode: 0o600, logPath: '/var/lib/isulad', maxFile: 1, maxSize: 30 * 1024 });
    expect(c.hosts).toEqual(['unix:///var/run/isulad.sock']);
  });

  it('the second block as daemon.json: loads, its keys reported as unknown', async () => {
    const l = await loadText(SPEC_CONSTANTS);
    expect(l.unknownKeys).toEqual(['default-host', 'registry-transformation']);
  });

  it('the second block as daemon_constants.json', async () => {
    const l = await loadText('{}', SPEC_CONSTANTS);
    expect(l.constants).toEqual({
      defaultHost: 'docker.io',
      registryTransformation: { 'docker.io': 'registry-1.docker.io', 'index.docker.io': 'registry-1.docker.io' },
    });
  });

  it('every example of the daemon.json table together', async () => {
    const l = await load(SPEC_TABLE);
    expect(l.unknownKeys).toEqual([]);
    expect(l.config.runtimes).toEqual({
      'kata-runtime': { path: '/usr/bin/kata-runtime', runtimeArgs: ['--kata-config', '/usr/share/defaults/kata-containers/configuration.toml'] },
    });
    expect(l.config.defaultUlimits).toEqual({ nofile: { name: 'nofile', soft: 3200, hard: 6400 } });
    expect(l.config.criRuntimes).toEqual({ kata: 'io.containerd.kata.v2' });
    expect(l.config.cgroupParent).toBe('lxc/mycgroup');
    expect(l.config.authorizationPlugin).toBe('authz-broker');
    expect(l.config.tlsConfig).toEqual({ caFile: '/root/.iSulad/ca.pem', certFile: '/root/.iSulad/server-cert.pem', keyFile: '/root/.iSulad/server-key.pem' });
  });

  it('the TLS example', async () => {
    const l = await load({
      tls: true,
      'tls-verify': true,
      'tls-config': { CAFile: '/root/.iSulad/ca.pem', CertFile: '/root/.iSulad/server-cert.pem', KeyFile: '/root/.iSulad/server-key.pem' },
    });
    expect([l.config.tls, l.config.tlsVerify, l.config.tlsConfig.certFile]).toEqual([true, true, '/root/.iSulad/server-cert.pem']);
  });

  it('the devicemapper example as printed (missing comma) is a parse error', async () => {
    const text = `{
    "storage-driver": "devicemapper"
    "storage-opts": [
     "dm.thinpooldev=/dev/mapper/isula-thinpool",
     "dm.fs=ext4",
            "dm.min_free_space=10%"
    ]
}`;
    const e = await failure(loadText(text));
    expect(e.message).toMatch(/^Load isulad json config failed: \S+: /);
  });

  it('the devicemapper example with the comma', async () => {
    const l = await load({ 'storage-driver': 'devicemapper', 'storage-opts': ['dm.thinpooldev=/dev/mapper/isula-thinpool', 'dm.fs=ext4', 'dm.min_free_space=10%'] });
    expect(l.config.storageDriver).toBe('devicemapper');
    expect(l.config.storageOpts).toHaveLength(3);
  });
});

describe('malformed daemon.json', () => {
  it.each<[string, string]>([
    ['truncated', '{'],
    ['trailing comma', '{"group": "isula",}'],
    ['comment', '{ // no comments in JSON\n}'],
    ['not JSON at all', 'group=isula'],
  ])('%s → "Load isulad json config failed: <file>: <why>", exit 1', async (_name, text) => {
    const e = await failure(loadText(text));
    expect(e.message).toMatch(/^Load isulad json config failed: \/\S+\.json: .+/);
  });

  it.each<[string, string]>([
    ['an array', '["group"]'],
    ['a string', '"isula"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('top level %s → "<file> must hold a JSON object", exit 1', async (_name, text) => {
    const e = await failure(loadText(text));
    expect(e.message).toMatch(/^Load isulad json config failed: \/\S+\.json must hold a JSON object$/);
  });

  it('a missing daemon.json is an error (the file is mandatory), exit 1', async () => {
    const path = join(dir, 'nope', 'daemon.json');
    const e = await failure(loadConfig({ flags: {}, env: {}, daemonJsonPath: path, constantsPath: join(dir, 'absent.json') }));
    expect(e.message).toBe(`Load isulad json config failed: ${path}: No such file or directory`);
  });

  it('daemon.json being a directory is an error, exit 1', async () => {
    const path = join(dir, 'a-directory.json');
    mkdirSync(path, { recursive: true });
    const e = await failure(loadConfig({ flags: {}, env: {}, daemonJsonPath: path, constantsPath: join(dir, 'absent.json') }));
    expect(e.message).toMatch(new RegExp(`^Load isulad json config failed: ${path}: .*EISDIR`));
  });
});

describe('wrong value types name the key and the value on one line, exit 1', () => {
  it.each<[string, unknown, string]>([
    // string keys
    ['group', 5, '"group" must be a string, got 5'],
    ['graph', true, '"graph" must be a string, got true'],
    ['log-level', ['ERROR'], '"log-level" must be a string, got ["ERROR"]'],
    ['start-timeout', 120, '"start-timeout" must be a string, got 120'],
    ['native.umask', null, '"native.umask" must be a string, got null'],
    ['network-plugin', 0, '"network-plugin" must be a string, got 0'],
    // list keys
    ['storage-opts', 'overlay2.override_kernel_check=true', '"storage-opts" must be an array of strings, got "overlay2.override_kernel_check=true"'],
    ['registry-mirrors', 'docker.io', '"registry-mirrors" must be an array of strings, got "docker.io"'],
    ['insecure-registries', [1], '"insecure-registries" must be an array of strings, got [1]'],
    // object keys
    ['log-opts', ['max-size=1MB'], '"log-opts" must be an object, got ["max-size=1MB"]'],
    ['cri-runtimes', ['kata'], '"cri-runtimes" must be an object, got ["kata"]'],
    ['container-log', 'json-file', '"container-log" must be an object, got "json-file"'],
    ['tls-config', [], '"tls-config" must be an object, got []'],
    ['default-ulimits', [], '"default-ulimits" must be an object, got []'],
    ['runtimes', 'runc', '"runtimes" must be an object, got "runc"'],
    ['runtimes', { kata: { path: 1 } }, '"runtimes.kata.path" must be a string, got 1'],
    ['cri-runtimes', { kata: 1 }, '"cri-runtimes.kata" must be a string, got 1'],
    // booleans and integers
    ['tls', 'yes', '"tls" must be a boolean, got "yes"'],
    ['tls-verify', 1, '"tls-verify" must be a boolean, got 1'],
    ['image-layer-check', 'false', '"image-layer-check" must be a boolean, got "false"'],
    ['websocket-server-listening-port', '10350', '"websocket-server-listening-port" must be an integer, got "10350"'],
    ['websocket-server-listening-port', 10350.5, '"websocket-server-listening-port" must be an integer, got 10350.5'],
    ['cpu-rt-period', '1000', '"cpu-rt-period" must be an integer, got "1000"'],
  ])('%s: %j', async (key, value, detail) => {
    const e = await failure(load({ [key]: value }));
    expect(e.message).toBe(`Load isulad json config failed: ${detail}`);
  });

  it.each<[string, unknown, boolean]>([
    ['use-decrypted-key', 'false', true],
    ['use-decrypted-key', 0, true],
    ['use-decrypted-key', null, true],
    ['use-decrypted-key', false, false],
    ['insecure-skip-verify-enforce', 'true', false],
    ['insecure-skip-verify-enforce', 1, false],
    ['insecure-skip-verify-enforce', {}, false],
    ['insecure-skip-verify-enforce', true, true],
  ])('%s %j → %s (the spec: a non-boolean keeps the default)', async (key, value, want) => {
    const l = await load({ [key]: value });
    expect(key === 'use-decrypted-key' ? l.config.useDecryptedKey : l.config.insecureSkipVerifyEnforce).toBe(want);
  });
});

describe('unknown keys', () => {
  it('are reported in unknownKeys, in file order, and do not fail', async () => {
    const l = await load({ foo: 1, group: 'g', 'cri-runtime': { kata: 'x' }, 'log-opt': 'x' });
    expect(l.unknownKeys).toEqual(['foo', 'cri-runtime', 'log-opt']);
    expect(l.config.group).toBe('g');
  });

  it.each(['cri-sandboxers', 'storage-enable-remote-layer', 'enable-plugins', 'sup-groups', 'metrics-port', 'enable-pod-events', 'cdi-spec-dirs', 'enable-cdi', 'nri-support', 'plugin-config-path'])(
    'upstream key %s is accepted silently',
    async (key) => {
      expect((await load({ [key]: 'anything' })).unknownKeys).toEqual([]);
    },
  );

  it('applyDaemonJson alone: an empty file is an empty object', () => {
    const cfg = defaultConfig({});
    expect(applyDaemonJson(cfg, '  \n', '/x')).toEqual({ hosts: [], ulimits: {}, unknownKeys: [] });
    expect(cfg).toEqual(defaultConfig({}));
  });
});

describe('daemon_constants.json', () => {
  it('absent → the built-in defaults', async () => {
    const l = await load({});
    expect(l.constants).toEqual(defaultConstants());
    expect(l.constants).toEqual({
      defaultHost: 'docker.io',
      registryTransformation: { 'docker.io': 'registry-1.docker.io', 'index.docker.io': 'registry-1.docker.io' },
    });
  });

  it('only default-host given → the transformation keeps its default', async () => {
    const l = await loadText('{}', '{"default-host": "registry.example.com"}');
    expect(l.constants.defaultHost).toBe('registry.example.com');
    expect(l.constants.registryTransformation).toEqual(defaultConstants().registryTransformation);
  });

  it('registry-transformation given replaces the default map', async () => {
    const l = await loadText('{}', '{"registry-transformation": {"a.io": "b.io"}}');
    expect(l.constants).toEqual({ defaultHost: 'docker.io', registryTransformation: { 'a.io': 'b.io' } });
  });

  it('malformed → "Load isulad daemon constants failed: <file>: <why>", exit 1', async () => {
    const e = await failure(loadText('{}', '{'));
    expect(e.message).toMatch(/^Load isulad daemon constants failed: \/\S+\.json: /);
  });

  it.each<[string, string]>([
    ['["docker.io"]', '"daemon_constants" must be an object, got ["docker.io"]'],
    ['{"default-host": 5}', '"default-host" must be a string, got 5'],
    ['{"registry-transformation": {"a": 1}}', '"registry-transformation.a" must be a string, got 1'],
  ])('%s → an error naming the constants file, exit 1', async (text, detail) => {
    const path = write(text);
    expect(() => parseConstantsJson(text, path)).toThrow(`Load isulad daemon constants failed: ${path}: ${detail}`);
    const e = await failure(loadConfig({ flags: {}, env: {}, daemonJsonPath: write('{}'), constantsPath: path }));
    expect(e.message).toBe(`Load isulad daemon constants failed: ${path}: ${detail}`);
  });

  it('unknown keys in daemon_constants.json are ignored', () => {
    expect(parseConstantsJson('{"foo": 1}', '/x')).toEqual({});
  });
});
