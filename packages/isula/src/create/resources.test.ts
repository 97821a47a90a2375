import { describe, expect, it } from 'vitest';
import {
  parseBpsDevice,
  parseDevice,
  parseHostChannel,
  parseHugetlb,
  parseIopsDevice,
  parseUlimit,
  parseUlimits,
  parseWeightDevice,
  validateDeviceCgroupRule,
} from './resources';
import { int32Flag, int64Flag, uint16Flag } from './values';
import { usageErrorOf } from './test-util';

describe('--ulimit', () => {
  it('soft[:hard]', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ Name: 'nofile', Soft: 1024, Hard: 2048 });
    expect(parseUlimit('nproc=100')).toEqual({ Name: 'nproc', Soft: 100, Hard: 100 });
    expect(parseUlimit('core=-1')).toEqual({ Name: 'core', Soft: -1, Hard: -1 });
  });
  it('a repeated type overwrites in place', () => {
    expect(parseUlimits(['nofile=1', 'nproc=2', 'nofile=3:4'])).toEqual([
      { Name: 'nofile', Soft: 3, Hard: 4 },
      { Name: 'nproc', Soft: 2, Hard: 2 },
    ]);
  });
  it.each([
    ['', "ulimit argument can't be empty"],
    ['=1', `Invalid ulimit argument: "=1", delimiter '=' can't be the first or the last character`],
    ['nofile=', `Invalid ulimit argument: "nofile=", delimiter '=' can't be the first or the last character`],
    ['nofile', 'Invalid ulimit argument: nofile'],
    ['a=b=c', 'Invalid ulimit argument: a=b=c'],
    ['as=1', 'Invalid ulimit type: as'],
    ['nofile=:1', `Invalid ulimit value: "nofile=:1", delimiter ':' can't be the first or the last character`],
    ['nofile=1:2:3', 'Too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`'],
    ['nofile=x', 'Invalid ulimit soft value: "nofile=x", parse int64 failed: Invalid argument'],
    ['nofile=1:y', 'Invalid ulimit hard value: "nofile=1:y", parse int64 failed: Invalid argument'],
    ['nofile=20:10', 'Ulimit soft limit must be less than or equal to hard limit: 20 > 10'],
  ])('rejects %j', (v, msg) => {
    expect(usageErrorOf(() => parseUlimit(v))).toBe(msg);
  });
});

describe('integer flags', () => {
  it('strtoll semantics', () => {
    expect(int64Flag('cpu-shares', '512')).toBe(512);
    expect(int64Flag('cpu-shares', '0x10')).toBe(16);
    expect(int64Flag('cpu-shares', '010')).toBe(8);
    expect(int64Flag('oom-score-adj', '-500')).toBe(-500);
    expect(uint16Flag('blkio-weight', '500')).toBe(500);
    expect(int32Flag('health-retries', '3')).toBe(3);
  });
  it('errors carry the strerror prefix', () => {
    expect(usageErrorOf(() => int64Flag('cpu-shares', 'abc'))).toBe('Invalid argument - Invalid value "abc" for flag --cpu-shares');
    expect(usageErrorOf(() => uint16Flag('blkio-weight', '70000'))).toBe(
      'Numerical result out of range - Invalid value "70000" for flag --blkio-weight',
    );
    expect(usageErrorOf(() => int64Flag('pids-limit', '99999999999999999999'))).toBe(
      'Numerical result out of range - Invalid value "99999999999999999999" for flag --pids-limit',
    );
  });
});

describe('block IO', () => {
  it('weight device', () => {
    expect(parseWeightDevice('/dev/sda:200')).toEqual({ Path: '/dev/sda', Weight: 200 });
    expect(parseWeightDevice('/dev/sda:0')).toEqual({ Path: '/dev/sda', Weight: 0 });
    expect(usageErrorOf(() => parseWeightDevice('/dev/sda:5'))).toBe('Invalid weight for device: /dev/sda:5');
    expect(usageErrorOf(() => parseWeightDevice('sda:100'))).toBe('Bad format for device path: sda:100');
    expect(usageErrorOf(() => parseWeightDevice('/dev/sda'))).toBe('Bad blkio weight device format: /dev/sda');
  });
  it('bps / iops', () => {
    expect(parseBpsDevice('/dev/sda:1mb')).toEqual({ Path: '/dev/sda', Rate: 1048576 });
    expect(parseIopsDevice('/dev/sda:1000')).toEqual({ Path: '/dev/sda', Rate: 1000 });
    expect(usageErrorOf(() => parseBpsDevice('/dev/sda:fast'))).toMatch(/^invalid rate for device: \/dev\/sda:fast\. The correct format/);
    expect(usageErrorOf(() => parseIopsDevice('/dev/sda:1k'))).toMatch(/^invalid rate for device: \/dev\/sda:1k\./);
    expect(usageErrorOf(() => parseIopsDevice('/dev/sda'))).toBe('bad format: /dev/sda');
    expect(usageErrorOf(() => parseBpsDevice('/tmp/x:1'))).toBe('bad format for device path: /tmp/x:1');
  });
});

describe('--device', () => {
  it.each([
    ['/dev/fuse', { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
    ['/dev/fuse:r', { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'r' }],
    ['/dev/sda:/dev/xvda', { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'rwm' }],
    ['/dev/sda:/dev/xvda:rw', { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'rw' }],
  ])('%s', (spec, expected) => {
    expect(parseDevice(spec)).toEqual(expected);
  });
  it.each([
    ['/dev/sda:/dev/xvda:rwx', 'Invalid value "/dev/sda:/dev/xvda:rwx" for flag --device: bad mode specified: rwx'],
    ['/dev/sda:xvda', 'Invalid value "/dev/sda:xvda" for flag --device: xvda is not an absolute path'],
    ['a:b:c:d', 'Invalid value "a:b:c:d" for flag --device'],
  ])('rejects %j', (spec, msg) => {
    expect(usageErrorOf(() => parseDevice(spec))).toBe(msg);
  });
  it('cgroup rules', () => {
    expect(validateDeviceCgroupRule('c 1:3 rwm')).toBe('c 1:3 rwm');
    expect(validateDeviceCgroupRule('a *:* r')).toBe('a *:* r');
    expect(usageErrorOf(() => validateDeviceCgroupRule('x 1:3 r'))).toBe('Invalid value "x 1:3 r" for flag --device-cgroup-rule');
  });
});

describe('huge pages and host channel', () => {
  it('--hugetlb-limit', () => {
    expect(parseHugetlb('2MB:32MB')).toEqual({ PageSize: '2MB', Limit: 32 * 1024 * 1024 });
    expect(parseHugetlb('1g')).toEqual({ PageSize: '', Limit: 1024 ** 3 });
    expect(usageErrorOf(() => parseHugetlb('a:b:c'))).toBe('Invalid arguments "a:b:c" for flag --hugetlb-limit: too many colons');
    expect(usageErrorOf(() => parseHugetlb('2MB:x'))).toBe('Invalid hugetlb limit:x:Invalid argument');
  });
  it('--host-channel', () => {
    expect(parseHostChannel('/h:/c:ro:1m')).toEqual({ PathOnHost: '/h', PathInContainer: '/c', Permissions: 'ro', Size: 1048576 });
    expect(parseHostChannel('/h:/c::')).toEqual({ PathOnHost: '/h', PathInContainer: '/c', Permissions: 'rw', Size: 64 * 1048576 });
    expect(usageErrorOf(() => parseHostChannel('/h:/c'))).toBe('Bad host channel format: /h:/c');
    expect(usageErrorOf(() => parseHostChannel('h:/c:rw:1m'))).toBe('Host channel host path should be absolute: h');
    expect(usageErrorOf(() => parseHostChannel('/h:/c:rw:1k'))).toBe('Invalid size, larger than 4KB is allowed');
  });
});
