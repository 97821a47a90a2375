import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from './index';
import type { FlagValues } from './flags';

// Precedence (notes §3.2, spec "优先级从高到低是：命令行方式>配置文件>代码中默认配置"):
// built-in defaults → /etc/isulad/daemon.json → flags; repeatable flags append to the file's lists.

const dir = mkdtempSync(join(tmpdir(), 'isulad-precedence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

function hookFile(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '{}');
  return path;
}

async function load(json: unknown, flags: FlagValues = {}, env: NodeJS.ProcessEnv = {}): Promise<LoadedConfig> {
  const path = join(dir, `daemon-${seq++}.json`);
  writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
  return loadConfig({ flags, env, daemonJsonPath: path, constantsPath: join(dir, 'absent-constants.json') });
}

describe('built-in defaults (empty daemon.json, no flags)', () => {
  it.each<[string, (l: LoadedConfig) => unknown, unknown]>([
    ['graph', (l) => l.config.graph, '/var/lib/isulad'],
    ['state', (l) => l.config.state, '/var/run/isulad'],
    ['pidfile', (l) => l.config.pidfile, '/var/run/isulad.pid'],
    ['log-level', (l) => l.config.logLevel, 'INFO'],
    ['log-driver', (l) => l.config.logDriver, 'file'],
    ['log-opts', (l) => l.config.logOpts, { logPath: '/var/lib/isulad', logFileMode: 0o600, maxFile: 7, maxSize: 1024 * 1024 }],
    ['storage-driver', (l) => l.config.storageDriver, 'overlay2'],
    ['native.umask', (l) => l.config.nativeUmask, 'secure'],
    ['use-decrypted-key', (l) => l.config.useDecryptedKey, true],
    ['insecure-skip-verify-enforce', (l) => l.config.insecureSkipVerifyEnforce, false],
    ['image-layer-check', (l) => l.config.imageLayerCheck, false],
    ['websocket-server-listening-port', (l) => l.config.websocketServerListeningPort, 10350],
    ['default-runtime', (l) => l.config.defaultRuntime, 'runc'],
    ['network-plugin', (l) => l.config.networkPlugin, ''],
    ['cni-bin-dir', (l) => l.config.cniBinDir, '/opt/cni/bin'],
    ['cni-conf-dir', (l) => l.config.cniConfDir, '/etc/cni/net.d'],
    ['container-log', (l) => l.config.containerLog, { driver: 'json-file', opts: {} }],
    ['tls', (l) => [l.config.tls, l.config.tlsVerify], [false, false]],
    ['hosts', (l) => l.config.hosts, ['unix:///var/run/isulad.sock']],
    ['listeners', (l) => l.listeners, [{ kind: 'unix', uri: 'unix:///var/run/isulad.sock', path: '/var/run/isulad.sock' }]],
    ['lists', (l) => [l.config.storageOpts, l.config.registryMirrors, l.config.insecureRegistries], [[], [], []]],
    ['default-ulimits', (l) => l.config.defaultUlimits, {}],
    ['unknownKeys', (l) => l.unknownKeys, []],
  ])('%s', async (_name, get, want) => {
    expect(get(await load({}))).toEqual(want);
  });
});

describe('scalar settings: default < daemon.json < flag', () => {
  // [flag name, daemon.json key, file value, flag value, read back]
  const cases: [string, string, unknown, string, (l: LoadedConfig) => unknown][] = [
    ['graph', 'graph', '/file/graph', '/flag/graph', (l) => l.config.graph],
    ['state', 'state', '/file/state', '/flag/state', (l) => l.config.state],
    ['pidfile', 'pidfile', '/file/isulad.pid', '/flag/isulad.pid', (l) => l.config.pidfile],
    ['group', 'group', 'filegroup', 'flaggroup', (l) => l.config.group],
    ['engine', 'engine', 'file-engine', 'flag-engine', (l) => l.config.engine],
    // the hook spec files must exist (loadConfig reads them): two empty ones in the temp dir
    ['hook-spec', 'hook-spec', hookFile('file-hooks.json'), hookFile('flag-hooks.json'), (l) => l.config.hookSpec],
    ['cgroup-parent', 'cgroup-parent', 'lxc/file', 'lxc/flag', (l) => l.config.cgroupParent],
    ['pod-sandbox-image', 'pod-sandbox-image', 'file/pause:3.0', 'flag/pause:3.0', (l) => l.config.podSandboxImage],
    ['cni-bin-dir', 'cni-bin-dir', '/file/cni', '/flag/cni', (l) => l.config.cniBinDir],
    ['cni-conf-dir', 'cni-conf-dir', '/file/net.d', '/flag/net.d', (l) => l.config.cniConfDir],
    ['default-runtime', 'default-runtime', 'lcr', 'kata-runtime', (l) => l.config.defaultRuntime],
    ['storage-driver', 'storage-driver', 'devicemapper', 'overlay2', (l) => l.config.storageDriver],
    ['log-level', 'log-level', 'ERROR', 'debug', (l) => l.config.logLevel],
    ['log-driver', 'log-driver', 'stdout', 'file', (l) => l.config.logDriver],
    ['native.umask', 'native.umask', 'normal', 'secure', (l) => l.config.nativeUmask],
    ['start-timeout', 'start-timeout', '2m', '30s', (l) => l.config.startTimeout],
    ['network-plugin', 'network-plugin', 'cni', '', (l) => l.config.networkPlugin],
    ['authorization-plugin', 'authorization-plugin', 'authz-broker', 'authz-broker', (l) => l.config.authorizationPlugin],
    ['userns-remap', 'userns-remap', '100000:100000:65536', '200000:200000:65536', (l) => l.config.usernsRemap],
    ['container-log-driver', 'container-log', { driver: 'syslog' }, 'json-file', (l) => l.config.containerLog.driver],
    ['tlscacert', 'tls-config', { CAFile: '/file/ca.pem' }, '/flag/ca.pem', (l) => l.config.tlsConfig.caFile],
    ['tlscert', 'tls-config', { CertFile: '/file/cert.pem' }, '/flag/cert.pem', (l) => l.config.tlsConfig.certFile],
    ['tlskey', 'tls-config', { KeyFile: '/file/key.pem' }, '/flag/key.pem', (l) => l.config.tlsConfig.keyFile],
  ];

  it.each(cases)('--%s beats daemon.json "%s", which beats the default', async (flag, key, fileValue, flagValue, get) => {
    const defaults = get(await load({}));
    const fromFile = get(await load({ [key]: fileValue }));
    const fromFlag = get(await load({ [key]: fileValue }, { [flag]: flagValue }));
    const fileExpected = typeof fileValue === 'object' ? Object.values(fileValue as object)[0] : fileValue;
    expect(fromFile).not.toEqual(defaults);
    expect(fromFile).toBe(fileExpected);
    expect(fromFlag).toBe(flag === 'log-level' ? flagValue.toUpperCase() : flagValue);
  });

  it('an empty string in daemon.json leaves the default in place (upstream override_string_value)', async () => {
    const l = await load({ graph: '', state: '', group: '', 'storage-driver': '', 'log-level': '', 'log-driver': '', 'native.umask': '' });
    expect([l.config.graph, l.config.state, l.config.storageDriver, l.config.logLevel, l.config.logDriver, l.config.nativeUmask]).toEqual([
      '/var/lib/isulad',
      '/var/run/isulad',
      'overlay2',
      'INFO',
      'file',
      'secure',
    ]);
  });

  it.each<[string, unknown, string, string, (l: LoadedConfig) => unknown, unknown, unknown]>([
    ['websocket-server-listening-port', 20000, 'websocket-server-listening-port', '30000', (l) => l.config.websocketServerListeningPort, 20000, 30000],
    ['cpu-rt-period', 1000000, 'cpu-rt-period', '500000', (l) => l.config.cpuRtPeriod, 1000000, 500000],
    ['cpu-rt-runtime', 950000, 'cpu-rt-runtime', '900000', (l) => l.config.cpuRtRuntime, 950000, 900000],
  ])('integer %s: file %s, flag wins', async (key, fileValue, flag, flagValue, get, fromFile, fromFlag) => {
    expect(get(await load({ [key]: fileValue }))).toBe(fromFile);
    expect(get(await load({ [key]: fileValue }, { [flag]: flagValue }))).toBe(fromFlag);
  });

  it.each<[string, string, (l: LoadedConfig) => boolean]>([
    ['image-layer-check', 'image-layer-check', (l) => l.config.imageLayerCheck],
    ['insecure-skip-verify-enforce', 'insecure-skip-verify-enforce', (l) => l.config.insecureSkipVerifyEnforce],
    ['selinux-enabled', 'selinux-enabled', (l) => l.config.selinuxEnabled],
    ['systemd-cgroup', 'systemd-cgroup', (l) => l.config.systemdCgroup],
  ])('boolean %s: false by default, true from the file or from the flag', async (key, flag, get) => {
    expect(get(await load({}))).toBe(false);
    expect(get(await load({ [key]: true }))).toBe(true);
    expect(get(await load({}, { [flag]: true }))).toBe(true);
  });

  it('use-decrypted-key: true by default, false from the file', async () => {
    expect((await load({})).config.useDecryptedKey).toBe(true);
    expect((await load({ 'use-decrypted-key': false })).config.useDecryptedKey).toBe(false);
  });
});

describe('repeatable flags append to the lists from daemon.json', () => {
  it.each<[string, string, unknown, string[], (l: LoadedConfig) => unknown, unknown]>([
    ['storage-opt', 'storage-opts', ['overlay2.override_kernel_check=true'], ['overlay2.size=10G'], (l) => l.config.storageOpts, ['overlay2.override_kernel_check=true', 'overlay2.size=10G']],
    ['registry-mirrors', 'registry-mirrors', ['docker.io'], ['mirror.example.com', 'mirror2.example.com'], (l) => l.config.registryMirrors, ['docker.io', 'mirror.example.com', 'mirror2.example.com']],
    ['insecure-registry', 'insecure-registries', ['rnd-dockerhub.huawei.com'], ['localhost:5000'], (l) => l.config.insecureRegistries, ['rnd-dockerhub.huawei.com', 'localhost:5000']],
    ['cri-runtime', 'cri-runtimes', { kata: 'io.containerd.kata.v2' }, ['runsc=io.containerd.runsc.v1'], (l) => l.config.criRuntimes, { kata: 'io.containerd.kata.v2', runsc: 'io.containerd.runsc.v1' }],
    ['log-opt', 'log-opts', { 'max-file': '3', 'log-path': '/file/logs' }, ['max-size=2MB', 'log-file-mode=0640'], (l) => l.config.logOpts, { maxFile: 3, logPath: '/file/logs', maxSize: 2 * 1024 * 1024, logFileMode: 0o640 }],
    ['container-log-opts', 'container-log', { driver: 'json-file', opts: { 'max-file': '3' } }, ['max-size=10MB'], (l) => l.config.containerLog.opts, { 'max-file': '3', 'max-size': '10MB' }],
  ])('--%s adds to daemon.json "%s"', async (flag, key, fileValue, flagValues, get, want) => {
    expect(get(await load({ [key]: fileValue }, { [flag]: flagValues }))).toEqual(want);
  });

  it.each<[string, string, unknown, string[], (l: LoadedConfig) => unknown, unknown]>([
    ['log-opt', 'log-opts', { 'max-file': '3' }, ['max-file=5'], (l) => l.config.logOpts.maxFile, 5],
    ['container-log-opts', 'container-log', { opts: { 'max-file': '3' } }, ['max-file=9'], (l) => l.config.containerLog.opts['max-file'], '9'],
    ['cri-runtime', 'cri-runtimes', { kata: 'io.containerd.kata.v2' }, ['kata=io.containerd.kata2.v2'], (l) => l.config.criRuntimes.kata, 'io.containerd.kata2.v2'],
  ])('--%s with a key daemon.json also sets: the flag wins for that key', async (flag, key, fileValue, flagValues, get, want) => {
    expect(get(await load({ [key]: fileValue }, { [flag]: flagValues }))).toEqual(want);
  });

  it('flag lists keep their order and repeats', async () => {
    const l = await load({}, { 'storage-opt': ['a=1', 'b=2', 'a=1'] });
    expect(l.config.storageOpts).toEqual(['a=1', 'b=2', 'a=1']);
  });

  it.each(['kata', 'kata=', '=io.containerd.kata.v2'])('--cri-runtime %j is refused with exit 125', async (bad) => {
    await expect(load({}, { 'cri-runtime': [bad] })).rejects.toMatchObject({ message: `Invalid value "${bad}" for flag --cri-runtime`, exitCode: 125 });
  });

  it.each([
    ['websocket-server-listening-port', 'abc'],
    ['cpu-rt-period', '1.5'],
    ['cpu-rt-runtime', '10x'],
  ])('integer flag --%s %j is refused with exit 125', async (flag, bad) => {
    await expect(load({}, { [flag]: bad })).rejects.toMatchObject({ message: `Invalid value "${bad}" for flag --${flag}`, exitCode: 125 });
  });
});

describe('TLS: environment defaults, daemon.json, flags; --tlsverify implies --tls', () => {
  it.each<[string, NodeJS.ProcessEnv, unknown, FlagValues, boolean, boolean]>([
    ['nothing', {}, {}, {}, false, false],
    ['ISULAD_TLS=1', { ISULAD_TLS: '1' }, {}, {}, true, false],
    ['ISULAD_TLS=true', { ISULAD_TLS: 'true' }, {}, {}, true, false],
    ['ISULAD_TLS=0', { ISULAD_TLS: '0' }, {}, {}, false, false],
    ['ISULAD_TLS empty', { ISULAD_TLS: '' }, {}, {}, false, false],
    ['ISULAD_TLS_VERIFY=1 (implies tls)', { ISULAD_TLS_VERIFY: '1' }, {}, {}, true, true],
    ['ISULAD_TLS_VERIFY=0', { ISULAD_TLS_VERIFY: '0' }, {}, {}, false, false],
    ['file tls:false overrides ISULAD_TLS=1', { ISULAD_TLS: '1' }, { tls: false }, {}, false, false],
    ['file tls:true without env', {}, { tls: true }, {}, true, false],
    ['file tls-verify:false overrides ISULAD_TLS_VERIFY=1', { ISULAD_TLS_VERIFY: '1' }, { 'tls-verify': false }, {}, false, false],
    ['file tls-verify:true implies tls', {}, { 'tls-verify': true }, {}, true, true],
    ['file "tlsverify" (the spec table spelling)', {}, { tlsverify: true }, {}, true, true],
    ['file tls:false, tls-verify:true → tls forced on', {}, { tls: false, 'tls-verify': true }, {}, true, true],
    ['--tls', {}, {}, { tls: true }, true, false],
    ['--tlsverify implies --tls', {}, {}, { tlsverify: true }, true, true],
    ['--tlsverify over file tls:false', {}, { tls: false, 'tls-verify': false }, { tlsverify: true }, true, true],
    ['--tls over file tls:false', {}, { tls: false }, { tls: true }, true, false],
  ])('%s', async (_name, env, json, flags, tls, tlsVerify) => {
    const l = await load(json, flags, env);
    expect([l.config.tls, l.config.tlsVerify]).toEqual([tls, tlsVerify]);
  });

  it.each<[string, NodeJS.ProcessEnv, unknown, FlagValues, [string, string, string]]>([
    ['default certificate directory (spec --help: /root/.iSulad)', {}, {}, {}, ['/root/.iSulad/ca.pem', '/root/.iSulad/cert.pem', '/root/.iSulad/key.pem']],
    ['ISULAD_CERT_PATH', { ISULAD_CERT_PATH: '/certs' }, {}, {}, ['/certs/ca.pem', '/certs/cert.pem', '/certs/key.pem']],
    ['empty ISULAD_CERT_PATH is ignored', { ISULAD_CERT_PATH: '' }, {}, {}, ['/root/.iSulad/ca.pem', '/root/.iSulad/cert.pem', '/root/.iSulad/key.pem']],
    [
      'file tls-config beats ISULAD_CERT_PATH per file',
      { ISULAD_CERT_PATH: '/certs' },
      { 'tls-config': { CAFile: '/root/.iSulad/ca.pem', CertFile: '/root/.iSulad/server-cert.pem' } },
      {},
      ['/root/.iSulad/ca.pem', '/root/.iSulad/server-cert.pem', '/certs/key.pem'],
    ],
    ['empty file paths keep the default', {}, { 'tls-config': { CAFile: '', CertFile: '', KeyFile: '' } }, {}, ['/root/.iSulad/ca.pem', '/root/.iSulad/cert.pem', '/root/.iSulad/key.pem']],
    [
      'flags beat the file',
      {},
      { 'tls-config': { CAFile: '/f/ca.pem', CertFile: '/f/cert.pem', KeyFile: '/f/key.pem' } },
      { tlscacert: '/x/ca.pem', tlscert: '/x/cert.pem', tlskey: '/x/key.pem' },
      ['/x/ca.pem', '/x/cert.pem', '/x/key.pem'],
    ],
  ])('%s', async (_name, env, json, flags, [ca, cert, key]) => {
    const l = await load(json, flags, env);
    expect(l.config.tlsConfig).toEqual({ caFile: ca, certFile: cert, keyFile: key });
  });

  it('an unknown tls-config key is refused', async () => {
    await expect(load({ 'tls-config': { CaFile: '/x' } })).rejects.toMatchObject({
      message: 'Load isulad json config failed: "tls-config.CaFile" must be absent (known keys: CAFile, CertFile, KeyFile), got "/x"',
      exitCode: 1,
    });
  });
});
