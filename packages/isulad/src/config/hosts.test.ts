import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseHost, type LoadedConfig } from './index';
import { dedupHosts } from './hosts';
import { checkFlagHosts, type FlagValues } from './flags';

// Spec "DAEMON多端口的绑定" and notes §3.4: hosts from flags or from daemon.json, never both; at most 10
// after de-duplication; unix:///abs or tcp://ip|localhost:port; default unix:///var/run/isulad.sock.

const dir = mkdtempSync(join(tmpdir(), 'isulad-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

async function load(json: unknown, flags: FlagValues = {}): Promise<LoadedConfig> {
  const path = join(dir, `daemon-${seq++}.json`);
  writeFileSync(path, JSON.stringify(json));
  return loadConfig({ flags, env: {}, daemonJsonPath: path, constantsPath: join(dir, 'absent.json') });
}

const VALID = [
  'unix:///var/run/isulad.sock',
  'unix:///a',
  'tcp://127.0.0.1:2375',
  'tcp://localhost:0',
  'tcp://localhost:5678',
  'tcp://0.0.0.0:65535',
  'tcp://0.0.0.0:2376',
  `unix:///${'a'.repeat(106)}`, // 107 bytes of path: the longest sun_path with its NUL
];

const INVALID = [
  'unix://rel',
  'unix://',
  'unix:///trailing/',
  'tcp://1.2.3:80',
  'tcp://1.2.3.4:70000',
  'tcp://1.2.3.4:65536',
  'tcp://256.1.1.1:80',
  'tcp://999.1.1.1:80',
  'tcp://host:80',
  'tcp://127.0.0.1',
  'tcp://127.0.0.1:',
  'tcp://:2375',
  'tcp://127.0.0.1:80/path',
  'http://x',
  'http://127.0.0.1:80',
  '/var/run/isulad.sock',
  'x',
  '',
  `unix:///${'a'.repeat(107)}`, // 108 bytes: does not fit sockaddr_un
];

describe('parseHost', () => {
  it.each(VALID)('accepts %s', (uri) => {
    expect(parseHost(uri)).toBeDefined();
  });

  it.each(INVALID)('refuses %j', (uri) => {
    expect(parseHost(uri)).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['unix:///var/run/isulad.sock', { kind: 'unix', uri: 'unix:///var/run/isulad.sock', path: '/var/run/isulad.sock' }],
    ['tcp://127.0.0.1:2375', { kind: 'tcp', uri: 'tcp://127.0.0.1:2375', host: '127.0.0.1', port: 2375 }],
    ['tcp://localhost:0', { kind: 'tcp', uri: 'tcp://localhost:0', host: 'localhost', port: 0 }],
    ['tcp://0.0.0.0:65535', { kind: 'tcp', uri: 'tcp://0.0.0.0:65535', host: '0.0.0.0', port: 65535 }],
  ])('parses %s', (uri, want) => {
    expect(parseHost(uri)).toEqual(want);
  });

  it('counts the unix path limit in bytes, not characters', () => {
    // 53 two-byte characters + "/" = 107 bytes fits; one more does not
    expect(parseHost(`unix:///${'é'.repeat(53)}`)).toBeDefined();
    expect(parseHost(`unix:///${'é'.repeat(54)}`)).toBeUndefined();
  });
});

describe('dedupHosts', () => {
  it('keeps the first occurrence, in order', () => {
    expect(dedupHosts(['unix:///a', 'tcp://127.0.0.1:1', 'unix:///a', 'tcp://127.0.0.1:1', 'unix:///b'])).toEqual([
      'unix:///a',
      'tcp://127.0.0.1:1',
      'unix:///b',
    ]);
  });
});

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `tcp://127.0.0.1:${2375 + i}`);

describe('hosts through loadConfig', () => {
  it('no hosts anywhere → unix:///var/run/isulad.sock', async () => {
    const l = await load({});
    expect(l.config.hosts).toEqual(['unix:///var/run/isulad.sock']);
    expect(l.listeners).toEqual([{ kind: 'unix', uri: 'unix:///var/run/isulad.sock', path: '/var/run/isulad.sock' }]);
  });

  it('an empty hosts array in the file also means the default', async () => {
    expect((await load({ hosts: [] })).config.hosts).toEqual(['unix:///var/run/isulad.sock']);
  });

  it('the spec example: hosts in daemon.json', async () => {
    const l = await load({ hosts: ['unix:///var/run/isulad.sock', 'tcp://localhost:5678', 'tcp://127.0.0.1:6789'] });
    expect(l.config.hosts).toEqual(['unix:///var/run/isulad.sock', 'tcp://localhost:5678', 'tcp://127.0.0.1:6789']);
    expect(l.listeners.map((x) => x.kind)).toEqual(['unix', 'tcp', 'tcp']);
  });

  it('the spec example: hosts as flags (-H unix:///var/run/isulad.sock --host tcp://127.0.0.1:6789)', async () => {
    const l = await load({}, { host: ['unix:///var/run/isulad.sock', 'tcp://127.0.0.1:6789'] });
    expect(l.config.hosts).toEqual(['unix:///var/run/isulad.sock', 'tcp://127.0.0.1:6789']);
  });

  it('the spec table form: "hosts" as a single JSON string', async () => {
    const l = await load({ hosts: 'unix:///var/run/isulad.sock' });
    expect(l.config.hosts).toEqual(['unix:///var/run/isulad.sock']);
  });

  it('hosts as anything else than a string or a list of strings is refused', async () => {
    await expect(load({ hosts: 5 })).rejects.toMatchObject({ message: 'Load isulad json config failed: "hosts" must be an array of strings, got 5', exitCode: 1 });
    await expect(load({ hosts: ['unix:///a', 1] })).rejects.toMatchObject({ exitCode: 1 });
  });

  it('hosts both as a flag and in the file → the spec message, exit 1', async () => {
    const err = load(
      { hosts: ['unix:///var/run/isulad.sock', 'tcp://localhost:5678', 'tcp://127.0.0.1:6789'] },
      { host: ['unix:///var/run/isulad.sock', 'tcp://127.0.0.1:6789'] },
    );
    await expect(err).rejects.toMatchObject({
      message:
        'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///var/run/isulad.sock tcp://127.0.0.1:6789], from file: [unix:///var/run/isulad.sock tcp://localhost:5678 tcp://127.0.0.1:6789])',
      exitCode: 1,
    });
  });

  it('the conflict lists each side de-duplicated', async () => {
    await expect(load({ hosts: ['unix:///b', 'unix:///b'] }, { host: ['unix:///a', 'unix:///a'] })).rejects.toMatchObject({
      message:
        'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///a], from file: [unix:///b])',
      exitCode: 1,
    });
  });

  it.each<[string, number]>([
    ['flags', 125],
    ['file', 1],
  ])('11 distinct hosts from %s → "Too many hosts, the max number is 10", exit %i', async (where, code) => {
    const p = where === 'flags' ? load({}, { host: hosts(11) }) : load({ hosts: hosts(11) });
    await expect(p).rejects.toMatchObject({ message: 'Too many hosts, the max number is 10', exitCode: code });
  });

  it.each(['flags', 'file'])('10 distinct hosts from %s are fine, and duplicates do not count', async (where) => {
    const list = [...hosts(10), ...hosts(10), 'tcp://127.0.0.1:2375'];
    const l = where === 'flags' ? await load({}, { host: list }) : await load({ hosts: list });
    expect(l.config.hosts).toEqual(hosts(10));
    expect(l.listeners).toHaveLength(10);
  });

  it.each(INVALID.filter((h) => h !== ''))('invalid flag host %j → "Invalid socket name : <x>", exit 125', async (bad) => {
    await expect(load({}, { host: ['unix:///var/run/isulad.sock', bad] })).rejects.toMatchObject({ message: `Invalid socket name : ${bad}`, exitCode: 125 });
  });

  it.each(INVALID.filter((h) => h !== ''))('invalid file host %j → "Invalid socket name: <x>", exit 1', async (bad) => {
    await expect(load({ hosts: ['unix:///var/run/isulad.sock', bad] })).rejects.toMatchObject({ message: `Invalid socket name: ${bad}`, exitCode: 1 });
  });

  it.each(VALID)('valid host %s loads from a flag and from the file', async (uri) => {
    expect((await load({}, { host: [uri] })).config.hosts).toEqual([uri]);
    expect((await load({ hosts: [uri] })).config.hosts).toEqual([uri]);
  });

  it('a bad flag host is reported before the conflict (the flag parser runs first)', async () => {
    await expect(load({ hosts: ['unix:///a'] }, { host: ['x'] })).rejects.toMatchObject({ message: 'Invalid socket name : x', exitCode: 125 });
  });

  it('checkFlagHosts returns the parsed listeners de-duplicated', () => {
    expect(checkFlagHosts(['unix:///a', 'unix:///a', 'tcp://localhost:1'])).toEqual([
      { kind: 'unix', uri: 'unix:///a', path: '/a' },
      { kind: 'tcp', uri: 'tcp://localhost:1', host: 'localhost', port: 1 },
    ]);
  });
});
