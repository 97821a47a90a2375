import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareVersions, confFiles, loadNetworkConfig, parseBinDirs, parseNetworkConfig } from './config';
import { podIpsFromResult } from './result';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync('/tmp/isulad-cni-conf-');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, body: unknown) => writeFileSync(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));

describe('config discovery', () => {
  it('takes the first *.conf/*.conflist/*.json by name and ignores other files and directories', async () => {
    write('99-last.conflist', { cniVersion: '1.0.0', name: 'last', plugins: [{ type: 'bridge' }] });
    write('10-mid.json', { cniVersion: '0.4.0', name: 'mid', type: 'ptp' });
    write('05-notes.txt', 'not a config');
    write('20-b.conf', { cniVersion: '0.3.1', name: 'b', type: 'bridge' });
    mkdirSync(join(dir, '00-dir.conf'));
    expect((await confFiles(dir)).map((f) => f.slice(dir.length + 1))).toEqual(['10-mid.json', '20-b.conf', '99-last.conflist']);
    const list = await loadNetworkConfig(dir);
    expect(list).toMatchObject({ name: 'mid', cniVersion: '0.4.0', file: join(dir, '10-mid.json'), disableCheck: false });
    expect(list.plugins).toEqual([{ cniVersion: '0.4.0', name: 'mid', type: 'ptp' }]);
    expect(list.raw).toEqual({ cniVersion: '0.4.0', name: 'mid', plugins: [{ cniVersion: '0.4.0', name: 'mid', type: 'ptp' }] });
  });

  it('byte order, as Go sorts: upper case before lower case, digits first', async () => {
    write('b.conf', { name: 'lower', type: 'x' });
    write('B.conf', { name: 'upper', type: 'x' });
    write('1.conf', { name: 'digit', type: 'x' });
    expect((await confFiles(dir)).map((f) => f.slice(dir.length + 1))).toEqual(['1.conf', 'B.conf', 'b.conf']);
  });

  it('none, missing directory and invalid files give clear errors naming the directory or file', async () => {
    await expect(loadNetworkConfig(dir)).rejects.toThrow(`no network config found in ${dir}`);
    await expect(loadNetworkConfig(join(dir, 'nope'))).rejects.toThrow('no network config found in');
    write('10-bad.conflist', '{"name": "x", plugins: ]');
    await expect(loadNetworkConfig(dir)).rejects.toThrow(`invalid CNI config ${join(dir, '10-bad.conflist')}: not valid JSON`);
  });

  it.each([
    ['a.conflist', { name: 'n', plugins: [] }, 'no plugins in list'],
    ['a.conflist', { name: 'n' }, "no 'plugins' key"],
    ['a.conflist', { name: 'n', plugins: {} }, "'plugins' must be an array"],
    ['a.conflist', { plugins: [{ type: 'bridge' }] }, 'no network name'],
    ['a.conflist', { name: 'n', plugins: [{ bridge: 'x' }] }, "(plugin 0): missing 'type'"],
    ['a.conflist', { name: 'n', plugins: [{ type: '../evil' }] }, 'invalid plugin type'],
    ['a.conflist', { name: 'n', cniVersion: 'one', plugins: [{ type: 'x' }] }, 'invalid cniVersion'],
    ['a.conflist', { name: 'n', disableCheck: 'maybe', plugins: [{ type: 'x' }] }, 'invalid disableCheck'],
    ['a.conf', { name: 'n' }, "missing 'type'"],
    ['a.conf', [1, 2], 'must be a JSON object'],
  ])('%s %j → %s', (file, body, msg) => {
    expect(() => parseNetworkConfig(JSON.stringify(body), `/x/${file}`)).toThrow(msg);
  });

  it('a .conf holding a list is read as a list; disableCheck accepts "true"', () => {
    const l = parseNetworkConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', disableCheck: 'true', plugins: [{ type: 'a' }, { type: 'b' }] }), '/x/a.conf');
    expect(l.plugins.map((p) => p.type)).toEqual(['a', 'b']);
    expect(l.disableCheck).toBe(true);
  });

  it('cni-bin-dir lists and versions', () => {
    expect(parseBinDirs('/opt/cni/bin')).toEqual(['/opt/cni/bin']);
    expect(parseBinDirs('/opt/cni/bin:/usr/lib/cni::')).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
    expect(parseBinDirs('/a,/b')).toEqual(['/a', '/b']);
    expect(compareVersions('0.4.0', '0.3.1')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '0.4.0')).toBeGreaterThan(0);
    expect(compareVersions('', '0.4.0')).toBeLessThan(0);
    expect(compareVersions('0.10.0', '0.4.0')).toBeGreaterThan(0);
  });
});

describe('pod IPs from results', () => {
  it('1.0.0: only addresses on interfaces inside the pod, IPv4 first', () => {
    const r = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'cni0', mac: 'aa' }, { name: 'veth1', mac: 'bb' }, { name: 'eth0', mac: 'cc', sandbox: '/var/run/netns/x' }],
      ips: [
        { address: 'fd00::5/64', interface: 2 },
        { address: '10.88.0.1/16', interface: 0 },
        { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 },
      ],
    };
    expect(podIpsFromResult(r)).toEqual({ ip: '10.88.0.5', ips: ['10.88.0.5', 'fd00::5'] });
  });
  it('0.4.0 / 0.3.1 with version fields and no interface index', () => {
    expect(podIpsFromResult({ cniVersion: '0.3.1', ips: [{ version: '4', address: '10.1.0.7/24' }] })).toEqual({ ip: '10.1.0.7', ips: ['10.1.0.7'] });
  });
  it('0.2.0: ip4 and ip6', () => {
    expect(podIpsFromResult({ cniVersion: '0.2.0', ip4: { ip: '10.3.0.2/24' }, ip6: { ip: 'fd01::2/64' } })).toEqual({ ip: '10.3.0.2', ips: ['10.3.0.2', 'fd01::2'] });
    expect(podIpsFromResult({ ip6: { ip: 'fd01::2/64' } })).toEqual({ ip: 'fd01::2', ips: ['fd01::2'] });
  });
  it('nothing usable', () => {
    expect(podIpsFromResult(undefined)).toEqual({ ip: undefined, ips: [] });
    expect(podIpsFromResult({ ips: [{ address: 'garbage' }] })).toEqual({ ip: undefined, ips: [] });
  });
});
