import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type LoadedConfig } from './index';
import type { FlagValues } from './flags';
import { checkFileUlimit, formatUlimit, parseUlimitFlag } from './ulimit';
import { applyDaemonLogOpt, checkContainerLog, checkDaemonLog, splitContainerLogOpt, splitDaemonLogOpt } from './log-opts';

// Every validation text of notes §3.4 with the exit code upstream uses: flag parse errors 125,
// everything found while merging or validating 1.

const dir = mkdtempSync(join(tmpdir(), 'isulad-validation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
let lastPath = '';

async function load(json: unknown, flags: FlagValues = {}): Promise<LoadedConfig> {
  lastPath = join(dir, `daemon-${seq++}.json`);
  writeFileSync(lastPath, JSON.stringify(json));
  return loadConfig({ flags, env: {}, daemonJsonPath: lastPath, constantsPath: join(dir, 'absent.json') });
}

async function refused(p: Promise<unknown>, message: string, exitCode: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).message).toBe(message);
  expect((err as ConfigError).exitCode).toBe(exitCode);
}

describe('websocket-server-listening-port (range 1024-49151)', () => {
  it.each([1024, 10350, 49151])('%i is accepted from the file and from the flag', async (port) => {
    expect((await load({ 'websocket-server-listening-port': port })).config.websocketServerListeningPort).toBe(port);
    expect((await load({}, { 'websocket-server-listening-port': String(port) })).config.websocketServerListeningPort).toBe(port);
  });

  it.each([1023, 49152, 0, -1, 65536])("%i → \"Invalid websocket server listening port: '<n>' (range: 1024-49151)\", exit 1", async (port) => {
    const msg = `Invalid websocket server listening port: '${port}' (range: 1024-49151)`;
    await refused(load({ 'websocket-server-listening-port': port }), msg, 1);
    await refused(load({}, { 'websocket-server-listening-port': String(port) }), msg, 1);
  });
});

describe('native.umask', () => {
  it.each<[string, string]>([
    ['normal', 'normal'],
    ['secure', 'secure'],
    ['', 'secure'], // the spec: an empty value means the default (0027, secure)
  ])('daemon.json %j → %s', async (value, want) => {
    expect((await load({ 'native.umask': value })).config.nativeUmask).toBe(want);
  });

  it.each(['normal', 'secure'])('--native.umask %s', async (value) => {
    expect((await load({ 'native.umask': value === 'normal' ? 'secure' : 'normal' }, { 'native.umask': value })).config.nativeUmask).toBe(value);
  });

  it.each(['bad', 'Normal', '0022'])('%j → "Invalid native umask: <v>", exit 1', async (value) => {
    await refused(load({ 'native.umask': value }), `Invalid native umask: ${value}`, 1);
    await refused(load({}, { 'native.umask': value }), `Invalid native umask: ${value}`, 1);
  });
});

describe('start-timeout (^[1-9][0-9]*[sm]$)', () => {
  it.each(['2m', '10s', '1s', '120m', ''])('%j is accepted', async (value) => {
    expect((await load({ 'start-timeout': value })).config.startTimeout).toBe(value);
  });

  it.each(['0s', '1h', '05m', '10', 'm', '2M', '1.5m', '-1s', '2m ', '10ms'])('%j → the upstream message, exit 1', async (value) => {
    const msg = `Invalid time duration value(${value}) in server conf, only ^([1-9][0-9]*)+([s,m])$ are allowed.`;
    await refused(load({ 'start-timeout': value }), msg, 1);
    await refused(load({}, { 'start-timeout': value }), msg, 1);
  });
});

describe('authorization-plugin (only authz-broker)', () => {
  it.each(['authz-broker', ''])('%j is accepted', async (value) => {
    expect((await load({ 'authorization-plugin': value })).config.authorizationPlugin).toBe(value);
  });

  it.each(['other', 'authz'])('%j → "Invalid authorization plugin \'<v>\'", exit 1', async (value) => {
    await refused(load({ 'authorization-plugin': value }), `Invalid authorization plugin '${value}'`, 1);
    await refused(load({}, { 'authorization-plugin': value }), `Invalid authorization plugin '${value}'`, 1);
  });
});

describe('network-plugin ("" or cni)', () => {
  it.each(['', 'cni'])('%j is accepted', async (value) => {
    expect((await load({ 'network-plugin': value })).config.networkPlugin).toBe(value);
    expect((await load({}, { 'network-plugin': value })).config.networkPlugin).toBe(value);
  });

  it.each(['calico', 'CNI', 'flannel'])('%j → "Init network plugin failed: Network plugin <x> not found.", exit 1', async (value) => {
    await refused(load({ 'network-plugin': value }), `Init network plugin failed: Network plugin ${value} not found.`, 1);
    await refused(load({}, { 'network-plugin': value }), `Init network plugin failed: Network plugin ${value} not found.`, 1);
  });
});

describe('log-level', () => {
  it.each(['FATAL', 'ALERT', 'CRIT', 'ERROR', 'WARN', 'NOTICE', 'INFO', 'DEBUG', 'TRACE'])('%s is accepted (any case)', async (level) => {
    expect((await load({ 'log-level': level.toLowerCase() })).config.logLevel).toBe(level);
    expect((await load({}, { 'log-level': level })).config.logLevel).toBe(level);
  });

  it.each(['VERBOSE', 'WARNING', 'INF'])('%s → "Invalid log level: <v>", exit 1', async (level) => {
    await refused(load({ 'log-level': level }), `Invalid log level: ${level}`, 1);
    await refused(load({}, { 'log-level': level }), `Invalid log level: ${level}`, 1);
  });
});

describe('other merged checks', () => {
  it('log-driver must be stdout or file', async () => {
    await refused(load({ 'log-driver': 'journald' }), 'Invalid log driver: journald', 1);
    await refused(load({}, { 'log-driver': 'syslog' }), 'Invalid log driver: syslog', 1);
  });

  it('storage-driver must be overlay2 or devicemapper', async () => {
    expect((await load({ 'storage-driver': 'devicemapper' })).config.storageDriver).toBe('devicemapper');
    await refused(load({ 'storage-driver': 'btrfs' }), 'Invalid storage driver: btrfs (supported: overlay2, devicemapper)', 1);
  });

  it.each<[string, string]>([
    ['graph', 'var/lib/isulad'],
    ['state', 'run/isulad'],
    ['pidfile', 'isulad.pid'],
  ])('%s must be absolute', async (key, value) => {
    await refused(load({ [key]: value }), `Invalid ${key} "${value}": an absolute path is required`, 1);
  });
});

describe('--default-ulimit grammar (opt_ulimit.c, exit 125)', () => {
  it.each<[string, { name: string; soft: number; hard: number }]>([
    ['nofile=1024:2048', { name: 'nofile', soft: 1024, hard: 2048 }],
    ['nofile=1024', { name: 'nofile', soft: 1024, hard: 1024 }],
    ['nproc=2048:2048', { name: 'nproc', soft: 2048, hard: 2048 }],
    ['core=-1', { name: 'core', soft: -1, hard: -1 }],
    ['stack=0:0', { name: 'stack', soft: 0, hard: 0 }],
  ])('%s parses', (arg, want) => {
    expect(parseUlimitFlag(arg)).toEqual(want);
  });

  it.each(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'])(
    'type %s is valid',
    (type) => {
      expect(parseUlimitFlag(`${type}=1:2`).name).toBe(type);
    },
  );

  it.each<[string, string]>([
    ['', "ulimit argument can't be empty"],
    ['=1024', 'Invalid ulimit argument: "=1024", delimiter \'=\' can\'t be the first or the last character'],
    ['nofile=', 'Invalid ulimit argument: "nofile=", delimiter \'=\' can\'t be the first or the last character'],
    ['=', 'Invalid ulimit argument: "=", delimiter \'=\' can\'t be the first or the last character'],
    ['nofile', 'Invalid ulimit argument: nofile'],
    ['nofile=1=2', 'Invalid ulimit argument: nofile=1=2'],
    ['as=1024', 'Invalid ulimit type: as'],
    ['bogus=1:2', 'Invalid ulimit type: bogus'],
    ['NOFILE=1', 'Invalid ulimit type: NOFILE'],
    ['nofile=:2048', 'Invalid ulimit value: ":2048", delimiter \':\' can\'t be the first or the last character'],
    ['nofile=1024:', 'Invalid ulimit value: "1024:", delimiter \':\' can\'t be the first or the last character'],
    ['nofile=1:2:3', 'Too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`'],
    ['nofile=abc', 'Invalid argument - Invalid ulimit soft value: "abc", parse int64 failed'],
    ['nofile=1.5', 'Invalid argument - Invalid ulimit soft value: "1.5", parse int64 failed'],
    ['nofile=1024:abc', 'Invalid argument - Invalid ulimit hard value: "abc", parse int64 failed'],
    ['nofile=9223372036854775808', 'Numerical result out of range - Invalid ulimit soft value: "9223372036854775808", parse int64 failed'],
    ['nofile=2048:1024', 'Ulimit soft limit must be less than or equal to hard limit: 2048 > 1024'],
  ])('%j → %s', async (arg, msg) => {
    expect(() => parseUlimitFlag(arg)).toThrow(msg);
    await refused(load({}, { 'default-ulimit': [arg] }), msg, 125);
  });

  it('repeating a type on the command line overwrites it', async () => {
    const l = await load({}, { 'default-ulimit': ['nofile=1:2', 'nproc=5:6', 'nofile=3:4'] });
    expect(l.config.defaultUlimits).toEqual({ nofile: { name: 'nofile', soft: 3, hard: 4 }, nproc: { name: 'nproc', soft: 5, hard: 6 } });
  });

  it('formatUlimit prints name=soft:hard', () => {
    expect(formatUlimit({ name: 'nofile', soft: 1024, hard: 2048 })).toBe('nofile=1024:2048');
  });
});

describe('daemon.json default-ulimits', () => {
  it('the spec example loads', async () => {
    const l = await load({ 'default-ulimits': { nofile: { Name: 'nofile', Hard: 6400, Soft: 3200 } } });
    expect(l.config.defaultUlimits).toEqual({ nofile: { name: 'nofile', soft: 3200, hard: 6400 } });
  });

  it.each<[string, Record<string, unknown>, { soft: number; hard: number }]>([
    ['missing Hard and Soft are 0', { Name: 'nofile' }, { soft: 0, hard: 0 }],
    ['missing Soft is 0', { Name: 'nofile', Hard: 10 }, { soft: 0, hard: 10 }],
    ['Hard equal to Soft', { Name: 'nofile', Hard: 10, Soft: 10 }, { soft: 10, hard: 10 }],
  ])('%s', async (_name, entry, want) => {
    expect((await load({ 'default-ulimits': { nofile: entry } })).config.defaultUlimits.nofile).toEqual({ name: 'nofile', ...want });
  });

  it('Name different from its key → "Ulimit Name "<n>" must same as type "<key>" in <file>", exit 1', async () => {
    const p = load({ 'default-ulimits': { nofile: { Name: 'nproc', Hard: 10, Soft: 5 } } });
    await refused(p, `Ulimit Name "nproc" must same as type "nofile" in ${lastPath}`, 1);
  });

  it('a missing Name is reported as ""', async () => {
    const p = load({ 'default-ulimits': { nofile: { Hard: 10, Soft: 5 } } });
    await refused(p, `Ulimit Name "" must same as type "nofile" in ${lastPath}`, 1);
  });

  it('Hard < Soft → "Ulimit soft limit must be less than or equal to hard limit: S > H in <file>", exit 1', async () => {
    const p = load({ 'default-ulimits': { nofile: { Name: 'nofile', Hard: 5, Soft: 10 } } });
    await refused(p, `Ulimit soft limit must be less than or equal to hard limit: 10 > 5 in ${lastPath}`, 1);
  });

  it('only Soft given → Hard 0 < Soft', async () => {
    const p = load({ 'default-ulimits': { nofile: { Name: 'nofile', Soft: 5 } } });
    await refused(p, `Ulimit soft limit must be less than or equal to hard limit: 5 > 0 in ${lastPath}`, 1);
  });

  it('the production message names /etc/isulad/daemon.json', () => {
    expect(() => checkFileUlimit('nofile', { Name: 'nofile', Hard: 1, Soft: 2 }, '/etc/isulad/daemon.json')).toThrow(
      'Ulimit soft limit must be less than or equal to hard limit: 2 > 1 in /etc/isulad/daemon.json',
    );
  });

  it.each<[string, unknown]>([
    ['entry is not an object', 5],
    ['Hard is a string', { Name: 'nofile', Hard: '10' }],
    ['Soft is fractional', { Name: 'nofile', Soft: 1.5 }],
    ['Name is a number', { Name: 7 }],
  ])('%s → a one-line error, exit 1', async (_name, entry) => {
    const err = await load({ 'default-ulimits': { nofile: entry } }).catch((e: ConfigError) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(1);
    expect((err as ConfigError).message).toContain('default-ulimits.nofile');
    expect((err as ConfigError).message).not.toContain('\n');
  });

  it('given both as flag and in the file → the conflict message, exit 1', async () => {
    const p = load({ 'default-ulimits': { nofile: { Name: 'nofile', Hard: 6400, Soft: 3200 } } }, { 'default-ulimit': ['nofile=1024:2048'] });
    await refused(
      p,
      'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: default-ulimits: (from flag: [ nofile=1024:2048 ], from file: [ nofile=3200:6400 ])',
      1,
    );
  });

  it('the conflict lists every ulimit of each side', async () => {
    const p = load(
      { 'default-ulimits': { nofile: { Name: 'nofile', Hard: 2, Soft: 1 }, nproc: { Name: 'nproc', Hard: 4, Soft: 3 } } },
      { 'default-ulimit': ['core=0', 'stack=8:16'] },
    );
    await refused(
      p,
      'unable to configure the isulad with file /etc/isulad/daemon.json: the following directives are specified both as a flag and in the configuration file: default-ulimits: (from flag: [ core=0:0 stack=8:16 ], from file: [ nofile=1:2 nproc=3:4 ])',
      1,
    );
  });

  it('flag ulimits alone and file ulimits alone are both used', async () => {
    expect((await load({}, { 'default-ulimit': ['nofile=1:2'] })).config.defaultUlimits).toEqual({ nofile: { name: 'nofile', soft: 1, hard: 2 } });
    expect((await load({ 'default-ulimits': {} }, { 'default-ulimit': ['nofile=1:2'] })).config.defaultUlimits).toEqual({
      nofile: { name: 'nofile', soft: 1, hard: 2 },
    });
  });
});

describe('daemon --log-opt (exit 125) and daemon.json log-opts (exit 1)', () => {
  it.each<[string, Partial<Record<'logPath' | 'logFileMode' | 'maxFile' | 'maxSize', unknown>>]>([
    ['log-path=/tmp/logs/', { logPath: '/tmp/logs/' }],
    ['log-path=/a=b', { logPath: '/a=b' }],
    ['log-file-mode=0600', { logFileMode: 0o600 }],
    ['log-file-mode=0666', { logFileMode: 0o666 }],
    ['max-file=1', { maxFile: 1 }],
    ['max-file=7', { maxFile: 7 }],
    ['max-size=30KB', { maxSize: 30 * 1024 }],
    ['max-size=4KB', { maxSize: 4096 }],
    ['max-size=1MB', { maxSize: 1024 * 1024 }],
  ])('--log-opt %s', async (arg, want) => {
    expect((await load({}, { 'log-opt': [arg] })).config.logOpts).toMatchObject(want);
  });

  it.each([
    'x',
    'max-size',
    '=1MB',
    'max-size=',
    'bogus=1',
    'max-file=0',
    'max-file=-1',
    'max-file=many',
    'max-file=1.5',
    'max-size=0',
    'max-size=abc',
    'log-file-mode=600',
    'log-file-mode=abc',
    'log-file-mode=0999',
    'log-file-mode=0x1ff',
  ])('--log-opt %j → "Invalid value "<kv>" for flag --log-opt", exit 125', async (arg) => {
    await refused(load({}, { 'log-opt': [arg] }), `Invalid value "${arg}" for flag --log-opt`, 125);
  });

  it.each<[string, string]>([
    ['max-file', 'many'],
    ['max-file', '0'],
    ['max-size', 'abc'],
    ['max-size', '0'],
    ['log-file-mode', '600'],
    ['log-file-mode', 'abc'],
    ['log-file-mode', '0999'],
    ['log-path', ''],
    ['bogus', '1'],
  ])('daemon.json log-opts %s=%j → "Failed to parse log options k:v", exit 1', async (key, value) => {
    await refused(load({ 'log-opts': { [key]: value } }), `Failed to parse log options ${key}:${value}`, 1);
  });

  it('daemon.json log-opts values must be strings', async () => {
    await refused(load({ 'log-opts': { 'max-file': 1 } }), 'Load isulad json config failed: "log-opts.max-file" must be a string, got 1', 1);
  });

  it.each<[string, string, FlagValues, string | undefined]>([
    ['file driver, 1KB from the file', '1KB', {}, 'Max-size "1024" must large than 4KB.'],
    ['file driver, 4095 bytes', '4095', {}, 'Max-size "4095" must large than 4KB.'],
    ['file driver, exactly 4KB', '4KB', {}, undefined],
    ['stdout driver, 1KB is fine', '1KB', { 'log-driver': 'stdout' }, undefined],
  ])('max-size below 4KB: %s', async (_name, size, flags, msg) => {
    const p = load({ 'log-opts': { 'max-size': size } }, flags);
    if (msg) await refused(p, msg, 1);
    else await expect(p).resolves.toBeDefined();
  });

  it('max-size from the flag is checked against 4KB too (exit 1: a validation, not a parse error)', async () => {
    await refused(load({}, { 'log-opt': ['max-size=1KB'] }), 'Max-size "1024" must large than 4KB.', 1);
  });

  it('a relative log-path with the file driver → "Daemon log path "<p>" must be abosulte path.", exit 1', async () => {
    await refused(load({ 'log-opts': { 'log-path': 'logs' } }), 'Daemon log path "logs" must be abosulte path.', 1);
    await refused(load({}, { 'log-opt': ['log-path=logs'] }), 'Daemon log path "logs" must be abosulte path.', 1);
    // with stdout the path is unused
    expect((await load({ 'log-driver': 'stdout', 'log-opts': { 'log-path': 'logs' } })).config.logOpts.logPath).toBe('logs');
  });

  it('the helpers agree with loadConfig', () => {
    expect(splitDaemonLogOpt('max-size=1MB')).toEqual(['max-size', '1MB']);
    expect(() => splitDaemonLogOpt('max-size')).toThrow('Invalid value "max-size" for flag --log-opt');
    const opts = { logPath: '/x', logFileMode: 0o600, maxFile: 7, maxSize: 1 };
    expect(() => applyDaemonLogOpt(opts, 'max-file', '0', 'flag')).toThrow('Invalid value "max-file=0" for flag --log-opt');
    expect(() => applyDaemonLogOpt(opts, 'max-file', '0', 'file')).toThrow('Failed to parse log options max-file:0');
    expect(() => checkDaemonLog('file', { ...opts, maxSize: 4096 })).not.toThrow();
    expect(() => checkDaemonLog('file', { ...opts, logPath: './x', maxSize: 4096 })).toThrow('Daemon log path "./x" must be abosulte path.');
  });
});

describe('container log: --container-log-driver, --container-log-opts, daemon.json container-log', () => {
  it.each<[string, string, string]>([
    ['max-size=10MB', 'max-size', '10MB'],
    ['max-file=3', 'max-file', '3'],
    ['disable-log=true', 'disable-log', 'true'],
    ['syslog-tag=isula', 'syslog-tag', 'isula'],
    ['syslog-facility=daemon', 'syslog-facility', 'daemon'],
  ])('splitContainerLogOpt(%s)', (arg, key, value) => {
    expect(splitContainerLogOpt(arg)).toEqual([key, value]);
  });

  it.each(['x', 'max-size', '=10MB', 'max-size=', 'max-size=1=2'])('--container-log-opts %j → "Invalid input arguments: <v>", exit 125', async (arg) => {
    await refused(load({}, { 'container-log-opts': [arg] }), `Invalid input arguments: ${arg}`, 125);
  });

  it.each<[string, string]>([
    ['foo=bar', 'foo'],
    ['max_size=1MB', 'max_size'],
    ['log-path=/x', 'log-path'],
  ])('--container-log-opts %s → "Unsupport container log key: <k>", exit 125', async (arg, key) => {
    await refused(load({}, { 'container-log-opts': [arg] }), `Unsupport container log key: ${key}`, 125);
  });

  it.each<[string, string[]]>([
    ['json-file', ['max-size=10MB', 'max-file=3', 'disable-log=false']],
    ['syslog', ['syslog-tag=isula', 'syslog-facility=local0', 'disable-log=true']],
  ])('driver %s accepts %j', async (driver, opts) => {
    const l = await load({}, { 'container-log-driver': driver, 'container-log-opts': opts });
    expect(l.config.containerLog.driver).toBe(driver);
    expect(Object.keys(l.config.containerLog.opts)).toEqual(opts.map((o) => o.split('=')[0]));
  });

  it.each<[string, string, string]>([
    ['json-file', 'syslog-tag=isula', 'driver: json-file, unsupport opts: syslog-tag'],
    ['json-file', 'syslog-facility=daemon', 'driver: json-file, unsupport opts: syslog-facility'],
    ['syslog', 'max-size=10MB', 'driver: syslog, unsupport opts: max-size'],
    ['syslog', 'max-file=3', 'driver: syslog, unsupport opts: max-file'],
    ['json-file', 'max-file=0', "Invalid option 'max-file', value:0"],
    ['json-file', 'max-file=abc', "Invalid option 'max-file', value:abc"],
    ['json-file', 'max-size=big', "Invalid option 'max-size', value:big"],
    ['json-file', 'disable-log=yes', "Invalid option 'disable-log', value:yes"],
    ['syslog', 'syslog-facility=bogus', "Invalid option 'syslog-facility', value:bogus"],
  ])('driver %s with %s → %s, exit 1', async (driver, opt, msg) => {
    await refused(load({}, { 'container-log-driver': driver, 'container-log-opts': [opt] }), msg, 1);
    const [k, v] = opt.split('=') as [string, string];
    await refused(load({ 'container-log': { driver, opts: { [k]: v } } }), msg, 1);
  });

  it('an unknown key in daemon.json container-log.opts → "Unknow log opts: k = v", exit 1', async () => {
    await refused(load({ 'container-log': { opts: { foo: 'bar' } } }), 'Unknow log opts: foo = bar', 1);
  });

  it('an unsupported container log driver → "Unsupported log driver: <v>", exit 1', async () => {
    await refused(load({ 'container-log': { driver: 'journald' } }), 'Unsupported log driver: journald', 1);
    await refused(load({}, { 'container-log-driver': 'fluentd' }), 'Unsupported log driver: fluentd', 1);
  });

  it.each(['kern', 'user', 'daemon', 'auth', 'syslog', 'local0', 'local7', 'authpriv', 'cron'])('syslog-facility %s is valid', (facility) => {
    expect(() => checkContainerLog('syslog', { 'syslog-facility': facility })).not.toThrow();
  });

  it('an unknown key inside container-log is refused', async () => {
    await refused(
      load({ 'container-log': { driver: 'json-file', options: {} } }),
      'Load isulad json config failed: "container-log.options" must be absent (known keys: driver, opts), got {}',
      1,
    );
  });
});
