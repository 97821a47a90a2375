// CniManager against fake plugins (small node scripts that log what they were given): the protocol
// side (env, stdin, chaining, order, cache, errors). No root and no network change needed.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureLogger } from '../../storage/test-helpers';
import { CniError, CniManager, type CniConfig } from './index';

let tmp: string;
let cfg: CniConfig;
let logFile: string;

const FAKE = (log: string) => `#!${process.execPath}
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const cmd = process.env.CNI_COMMAND;
const env = {};
for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH']) env[k] = process.env[k];
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ type: conf.type, cmd, env, conf }) + '\\n');
const f = conf.fail && conf.fail[cmd];
if (f && !(f.once && fs.existsSync(f.once))) {
  if (f.once) fs.writeFileSync(f.once, '');
  if (f.sleep) { setTimeout(() => {}, f.sleep); return; }
  if (f.stderr) process.stderr.write(f.stderr);
  process.stdout.write(f.raw !== undefined ? f.raw : JSON.stringify(f.error));
  process.exit(f.exit || 1);
}
if (cmd === 'ADD') {
  const prev = conf.prevResult || { cniVersion: conf.cniVersion, interfaces: [], ips: [] };
  const r = JSON.parse(JSON.stringify(prev));
  if (conf.addIp) {
    r.interfaces.push({ name: process.env.CNI_IFNAME, sandbox: process.env.CNI_NETNS });
    r.ips.push({ address: conf.addIp, interface: r.interfaces.length - 1 });
  }
  r.seen = (r.seen || []).concat(conf.type);
  process.stdout.write(JSON.stringify(r));
}
`;

interface Call { type: string; cmd: string; env: Record<string, string>; conf: Record<string, unknown> }
const calls = (): Call[] =>
  existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : [];
const clearCalls = () => rmSync(logFile, { force: true });

const writeConf = (name: string, body: unknown) => writeFileSync(join(cfg.confDir, name), JSON.stringify(body));

const pod = (over: Record<string, unknown> = {}) => ({
  podId: 'a1b2c3d4e5f6', netnsPath: '/proc/self/ns/net', podName: 'web', podNamespace: 'default', podUid: 'uid-1', ...over,
});

const chain = (version = '1.0.0', extra: Record<string, unknown> = {}) => ({
  cniVersion: version, name: 'fakenet', ...extra,
  plugins: [
    { type: 'fakea', addIp: '10.250.0.9/24' },
    { type: 'fakeb', capabilities: { portMappings: true } },
    { type: 'fakec', capabilities: { bandwidth: true } },
  ],
});

beforeEach(() => {
  tmp = mkdtempSync('/tmp/isulad-cni-fake-');
  logFile = join(tmp, 'calls.jsonl');
  cfg = { confDir: join(tmp, 'net.d'), binDirs: [join(tmp, 'empty-bin'), join(tmp, 'bin')], cacheDir: join(tmp, 'cache') };
  mkdirSync(cfg.confDir);
  mkdirSync(join(tmp, 'bin'));
  for (const t of ['fakea', 'fakeb', 'fakec', 'faked']) {
    writeFileSync(join(tmp, 'bin', t), FAKE(logFile));
    chmodSync(join(tmp, 'bin', t), 0o755);
  }
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

// each fake plugin is a node process (~100 ms): give the longer tests room on a loaded 2-core machine
describe('CniManager with fake plugins', { timeout: 30_000 }, () => {
  it('ADD: env, CNI_ARGS, stdin (name, cniVersion, prevResult chain, runtimeConfig by capability), pod IP, cache', async () => {
    writeConf('10-fake.conflist', chain());
    const m = await CniManager.load(cfg, captureLogger().logger);
    expect(m.status()).toMatchObject({ ready: true, network: 'fakenet' });
    const r = await m.setUp(pod({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 0, containerPort: 81, protocol: 'tcp' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1' },
      ],
    }));
    expect(r.ip).toBe('10.250.0.9');
    expect(r.ips).toEqual(['10.250.0.9']);
    expect((r.result as { seen: string[] }).seen).toEqual(['fakea', 'fakeb', 'fakec']);

    const c = calls();
    expect(c.map((x) => `${x.cmd} ${x.type}`)).toEqual(['ADD fakea', 'ADD fakeb', 'ADD fakec']);
    expect(c[0].env).toEqual({
      CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a1b2c3d4e5f6', CNI_NETNS: '/proc/self/ns/net', CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=a1b2c3d4e5f6;K8S_POD_UID=uid-1',
      CNI_PATH: cfg.binDirs.join(':'),
    });
    expect(c[0].conf).toEqual({ type: 'fakea', addIp: '10.250.0.9/24', name: 'fakenet', cniVersion: '1.0.0' });
    expect(c[1].conf.prevResult).toMatchObject({ seen: ['fakea'] });
    expect(c[1].conf.runtimeConfig).toEqual({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
      ],
    });
    expect(c[2].conf.runtimeConfig).toBeUndefined(); // capability bandwidth, but no bandwidth args
    expect(c[2].conf.prevResult).toMatchObject({ seen: ['fakea', 'fakeb'] });

    const files = readdirSync(cfg.cacheDir);
    expect(files).toEqual(['fakenet-a1b2c3d4e5f6-eth0']);
    const entry = JSON.parse(readFileSync(join(cfg.cacheDir, files[0]), 'utf8'));
    expect(entry).toMatchObject({
      kind: 'cniCacheV1', containerId: 'a1b2c3d4e5f6', ifName: 'eth0', networkName: 'fakenet', netns: '/proc/self/ns/net',
      config: chain(), configFile: join(cfg.confDir, '10-fake.conflist'), result: r.result,
    });
    expect(entry.capabilityArgs.portMappings).toHaveLength(2);
  });

  it('CHECK with the cached result for >= 0.4.0; skipped below 0.4.0 and with disableCheck', async () => {
    writeConf('10-fake.conflist', chain('0.4.0'));
    const m = await CniManager.load(cfg, captureLogger().logger);
    const r = await m.setUp(pod());
    clearCalls();
    await m.check(pod());
    const c = calls();
    expect(c.map((x) => `${x.cmd} ${x.type}`)).toEqual(['CHECK fakea', 'CHECK fakeb', 'CHECK fakec']);
    for (const x of c) expect(x.conf.prevResult).toEqual(r.result);
    await m.tearDown(pod());

    writeConf('10-fake.conflist', chain('0.3.1'));
    await m.setUp(pod());
    clearCalls();
    await m.check(pod());
    expect(calls()).toEqual([]);
    await m.tearDown(pod());

    writeConf('10-fake.conflist', chain('1.0.0', { disableCheck: true }));
    await m.setUp(pod());
    clearCalls();
    await m.check(pod());
    expect(calls()).toEqual([]);
    await expect(m.check(pod({ podId: 'unknown' }))).rejects.toThrow('no CNI network set up for sandbox unknown');
  });

  it('DEL in reverse order with the cached config, args, portMappings and prevResult, after a restart and a conf change', async () => {
    writeConf('10-fake.conflist', chain());
    const m1 = await CniManager.load(cfg, captureLogger().logger);
    const r = await m1.setUp(pod({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }));
    // "restart": a new manager, and the conf dir now holds another network with another plugin
    writeConf('10-fake.conflist', { cniVersion: '1.0.0', name: 'othernet', plugins: [{ type: 'faked' }] });
    const m2 = await CniManager.load(cfg, captureLogger().logger);
    expect(m2.status()).toMatchObject({ ready: true, network: 'othernet' });
    clearCalls();
    await m2.tearDown({ podId: 'a1b2c3d4e5f6' });
    const c = calls();
    expect(c.map((x) => `${x.cmd} ${x.type}`)).toEqual(['DEL fakec', 'DEL fakeb', 'DEL fakea']);
    for (const x of c) {
      expect(x.conf.name).toBe('fakenet');
      expect(x.conf.prevResult).toEqual(r.result);
      expect(x.env.CNI_ARGS).toContain('K8S_POD_NAME=web');
      expect(x.env.CNI_NETNS).toBe('/proc/self/ns/net');
    }
    expect(c[1].conf.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    expect(readdirSync(cfg.cacheDir)).toEqual([]);
    // a second tearDown has no cache: DEL with the current configuration (idempotent as the spec wants)
    clearCalls();
    await m2.tearDown({ podId: 'a1b2c3d4e5f6' });
    expect(calls().map((x) => `${x.cmd} ${x.type} ${x.conf.name}`)).toEqual(['DEL faked othernet']);
  });

  it('DEL below 0.4.0 gets no prevResult; a netns that is gone is passed as an empty CNI_NETNS', async () => {
    writeConf('10-fake.conf', { cniVersion: '0.3.1', name: 'single', type: 'fakea', addIp: '10.250.1.2/24' });
    const m = await CniManager.load(cfg, captureLogger().logger);
    const netnsFile = join(tmp, 'netns-bind');
    writeFileSync(netnsFile, '');
    await expect(m.setUp(pod({ netnsPath: netnsFile }))).rejects.toThrow(`network namespace "${netnsFile}" of sandbox a1b2c3d4e5f6 is not usable: not a network namespace`);
    await expect(m.setUp(pod({ netnsPath: join(tmp, 'missing') }))).rejects.toThrow('is not usable: ENOENT');
    expect(calls()).toEqual([]);
    const r = await m.setUp(pod());
    expect(r).toMatchObject({ ip: '10.250.1.2' });
    clearCalls();
    await m.tearDown({ podId: 'a1b2c3d4e5f6', netnsPath: join(tmp, 'missing') });
    const c = calls();
    expect(c).toHaveLength(1);
    expect(c[0].cmd).toBe('DEL');
    expect(c[0].env.CNI_NETNS).toBe('');
    expect(c[0].conf.prevResult).toBeUndefined();
    expect(c[0].conf.name).toBe('single');
  });

  it('a failing plugin: its error JSON becomes the message, the ADD is undone (DEL in reverse) and nothing stays cached', async () => {
    const list = chain();
    (list.plugins[1] as Record<string, unknown>).fail = { ADD: { error: { code: 7, msg: 'failed to set bridge addr', details: 'could not add IP address to "cni0": permission denied' } } };
    writeConf('10-fake.conflist', list);
    const m = await CniManager.load(cfg, captureLogger().logger);
    const err = await m.setUp(pod()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).message).toBe(
      'plugin type="fakeb" name="fakenet" failed (add): failed to set bridge addr; could not add IP address to "cni0": permission denied',
    );
    expect((err as CniError).detail).toMatchObject({ code: 7, command: 'ADD', plugin: 'fakeb', network: 'fakenet' });
    expect(calls().map((x) => `${x.cmd} ${x.type}`)).toEqual(['ADD fakea', 'ADD fakeb', 'DEL fakec', 'DEL fakeb', 'DEL fakea']);
    expect(readdirSync(cfg.cacheDir)).toEqual([]);
  });

  it('a plugin failing without error JSON: stderr is the message; a DEL failure keeps the cache so tearDown can retry', async () => {
    const list = chain();
    (list.plugins[0] as Record<string, unknown>).fail = { ADD: { raw: '', stderr: 'panic: something odd\n', exit: 2 } };
    writeConf('10-fake.conflist', list);
    const m = await CniManager.load(cfg, captureLogger().logger);
    await expect(m.setUp(pod())).rejects.toThrow('plugin type="fakea" name="fakenet" failed (add): panic: something odd');

    const once = join(tmp, 'del-failed-once');
    const list2 = chain();
    (list2.plugins[2] as Record<string, unknown>).fail = { DEL: { error: { code: 11, msg: 'try again later' }, once } };
    writeConf('10-fake.conflist', list2);
    await m.setUp(pod());
    await expect(m.tearDown({ podId: 'a1b2c3d4e5f6' })).rejects.toThrow('plugin type="fakec" name="fakenet" failed (del): try again later');
    expect(readdirSync(cfg.cacheDir)).toEqual(['fakenet-a1b2c3d4e5f6-eth0']);
    clearCalls();
    await m.tearDown({ podId: 'a1b2c3d4e5f6' });
    expect(calls().map((x) => `${x.cmd} ${x.type}`)).toEqual(['DEL fakec', 'DEL fakeb', 'DEL fakea']);
    expect(readdirSync(cfg.cacheDir)).toEqual([]);
  });

  it('a hanging plugin is killed after pluginTimeoutMs', async () => {
    const list = chain();
    (list.plugins[0] as Record<string, unknown>).fail = { ADD: { sleep: 30_000 } };
    writeConf('10-fake.conflist', list);
    const m = await CniManager.load({ ...cfg, pluginTimeoutMs: 300 }, captureLogger().logger);
    const t0 = Date.now();
    await expect(m.setUp(pod())).rejects.toThrow('plugin type="fakea" name="fakenet" failed (add): timed out after 0.3s');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('status: not ready without config or with a missing plugin binary; ready once a valid file appears', async () => {
    const m = await CniManager.load(cfg, captureLogger().logger);
    expect(m.status()).toEqual({
      ready: false, reason: 'NetworkPluginNotReady',
      message: `Network plugin returns error: cni config load failed: no network config found in ${cfg.confDir} (looked for *.conf, *.conflist, *.json)`,
    });
    await expect(m.setUp(pod())).rejects.toThrow(`no network config found in ${cfg.confDir}`);
    // nothing cached and no config: tearDown has nothing to do and succeeds
    await m.tearDown({ podId: 'a1b2c3d4e5f6' });

    writeConf('10-fake.conflist', { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'fakea' }, { type: 'nosuch' }] });
    await expect(m.refresh()).rejects.toThrow(`failed to find plugin "nosuch" in path [${cfg.binDirs.join(' ')}]`);
    expect(m.status()).toMatchObject({ ready: false, message: expect.stringContaining('failed to find plugin "nosuch"') });

    writeConf('10-fake.conflist', chain());
    await m.refresh();
    expect(m.status()).toEqual({ ready: true, network: 'fakenet', file: join(cfg.confDir, '10-fake.conflist') });
  });

  it('calls for one sandbox are serialised, different sandboxes run in parallel', async () => {
    writeConf('10-fake.conflist', chain());
    const m = await CniManager.load(cfg, captureLogger().logger);
    await Promise.all([m.setUp(pod()), m.tearDown({ podId: 'a1b2c3d4e5f6' }), m.setUp(pod({ podId: 'other' }))]);
    const mine = calls().filter((x) => x.env.CNI_CONTAINERID === 'a1b2c3d4e5f6').map((x) => `${x.cmd} ${x.type}`);
    expect(mine).toEqual(['ADD fakea', 'ADD fakeb', 'ADD fakec', 'DEL fakec', 'DEL fakeb', 'DEL fakea']);
    expect(readdirSync(cfg.cacheDir)).toEqual(['fakenet-other-eth0']);
  });
});
