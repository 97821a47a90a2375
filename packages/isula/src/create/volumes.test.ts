import { describe, expect, it } from 'vitest';
import { isValidMountMode, parseMountSpec, parseTmpfs, validateVolumeSpec } from './volumes';
import { usageErrorOf } from './test-util';

describe('-v/--volume', () => {
  it.each(['/data', '/host:/ctr', '/host:/ctr:ro', '/host:/ctr:rw,z', 'vol:/ctr:ro,rshared,nocopy', 'named:/x'])(
    'accepts %s',
    (v) => {
      expect(() => validateVolumeSpec(v)).not.toThrow();
    },
  );
  it.each([
    ['', "Volume can't be empty"],
    [':/x', "Delimiter ':' can't be the first or the last character"],
    ['/x:', "Delimiter ':' can't be the first or the last character"],
    ['/x:ro', "Invalid volume specification '/x:ro',Invalid mode:ro"],
    ['/a:/b:rx', "Invalid volume specification '/a:/b:rx'.Invalid mode:rx"],
    ['/a:/b:ro,rw', "Invalid volume specification '/a:/b:ro,rw'.Invalid mode:ro,rw"],
    ['/a:/b:ro:x', "Invalid volume specification '/a:/b:ro:x'"],
    ['/a:b', "Invalid volume: path must be absolute, and destination can't be '/'"],
    ['/a:/', "Invalid volume: path must be absolute, and destination can't be '/'"],
  ])('rejects %j', (v, msg) => {
    expect(usageErrorOf(() => validateVolumeSpec(v))).toBe(msg);
  });
  it('mount modes', () => {
    expect(isValidMountMode('ro,Z,private,nocopy')).toBe(true);
    expect(isValidMountMode('z,Z')).toBe(false);
  });
});

describe('--mount', () => {
  it('bind with options', () => {
    expect(parseMountSpec('type=bind,src=/a/../b/,dst=/c,ro,bind-propagation=rshared,bind-selinux-opts=z')).toEqual({
      Type: 'bind',
      Source: '/b',
      Target: '/c',
      Readonly: true,
      BindOptions: { Propagation: 'rshared', 'selinux-opts': 'z' },
    });
  });
  it('volume is the default type; nocopy', () => {
    expect(parseMountSpec('source=myvol,target=/data,volume-nocopy=true,readonly=false')).toEqual({
      Type: 'volume',
      Source: 'myvol',
      Target: '/data',
      Readonly: false,
      VolumeOptions: { NoCopy: true },
    });
  });
  it('tmpfs', () => {
    expect(parseMountSpec('type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1777')).toEqual({
      Type: 'tmpfs',
      Target: '/run',
      TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1777 },
    });
  });
  it.each([
    ['', "Invalid mount specification: can't be empty"],
    ['type=nfs,dst=/x', "Invalid mount specification 'type=nfs,dst=/x'.Type must be one of squashfs/bind/volume/tmpfs"],
    ['type=bind,type=bind,src=/a,dst=/b', "Invalid mount specification 'type=bind,type=bind,src=/a,dst=/b'.More than one type found"],
    ['type=bind,dst=/b', "Invalid mount specification 'type=bind,dst=/b'.Missing source"],
    ['type=bind,src=rel,dst=/b', 'source rel should be absolute path for type bind'],
    ['src=/a,dst=b', "Invalid mount specification 'src=/a,dst=b'.Destination must be absolute path"],
    ['type=volume,dst=/', "Invalid mount specification 'type=volume,dst=/'.Destination can't be '/'"],
    ['type=volume,src=vol', "Invalid mount specification 'type=volume,src=vol'.Missing destination"],
    ['dst=/x,ro=maybe', "Invalid mount specification 'dst=/x,ro=maybe'.Invalid readonly mode:maybe"],
    ['dst=/x,foo=1', "Invalid mount specification 'dst=/x,foo=1'.Unsupported item:foo"],
    ['dst=/x,ro', "Invalid mount specification 'dst=/x,ro'.Readonly mode must not be specified for anonymous volume"],
    ['type=bind,src=/a,dst=/x,volume-nocopy=1', "Invalid mount specification 'type=bind,src=/a,dst=/x,volume-nocopy=1'.nocopy must not be specified for type bind"],
    ['src=!bad,dst=/x', 'Invalid volume name !bad, only "[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}" are allowed'],
  ])('rejects %j', (spec, msg) => {
    expect(usageErrorOf(() => parseMountSpec(spec))).toBe(msg);
  });
});

describe('--tmpfs', () => {
  it('path → options', () => {
    expect(parseTmpfs(['/run', '/tmp:rw,size=64m,mode=1777'])).toEqual({ '/run': '', '/tmp': 'rw,size=64m,mode=1777' });
    expect(parseTmpfs([])).toBeUndefined();
  });
  it('rejects relative paths', () => {
    expect(usageErrorOf(() => parseTmpfs(['run']))).toBe(
      `Invalid value "run" for flag --tmpfs: path must be absolute, and destination can't be '/'`,
    );
  });
});
