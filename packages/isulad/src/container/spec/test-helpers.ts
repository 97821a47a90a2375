import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildSpecInput, DeviceInfo } from './types';

/** A temp dir holding a fake rootfs with /etc/passwd and /etc/group, removed by `cleanup`. */
export function makeRootfs(): { dir: string; rootfs: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'isulad-spec-'));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(
    join(rootfs, 'etc', 'passwd'),
    ['root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin', 'app:x:1000:1000::/home/app:/bin/sh', ''].join('\n'),
  );
  writeFileSync(
    join(rootfs, 'etc', 'group'),
    ['root:x:0:', 'daemon:x:1:', 'wheel:x:10:app', 'app:x:1000:', 'audio:x:29:app,daemon', 'video:x:44:', ''].join('\n'),
  );
  return { dir, rootfs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const ID = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2';

/** Fake device table for statDevice. */
export const fakeStat = async (path: string): Promise<DeviceInfo> => {
  const table: Record<string, DeviceInfo> = {
    '/dev/sda': { type: 'b', major: 8, minor: 0, mode: 0o660, uid: 0, gid: 6 },
    '/dev/fuse': { type: 'c', major: 10, minor: 229, mode: 0o666, uid: 0, gid: 0 },
    '/dev/kvm': { type: 'c', major: 10, minor: 232, mode: 0o660, uid: 0, gid: 108 },
  };
  const d = table[path];
  if (!d) throw new Error('no such file or directory');
  return d;
};

export function baseInput(rootfs: string, dir: string, over: Partial<BuildSpecInput> = {}): BuildSpecInput {
  return {
    id: ID,
    name: 'web',
    rootfs,
    bundle: join(dir, 'engines', 'runc', ID),
    hostConfig: {},
    config: { Cmd: ['sh'] },
    imageConfig: { config: {} },
    daemon: { nativeUmask: 'secure', log: { driver: 'json-file', opts: {} } },
    hostLimits: { nofile: 20000, nproc: 96365 },
    host: { arch: 'x86_64' },
    paths: { template: join(dir, 'no-template.json'), seccompDefault: join(dir, 'no-seccomp.json') },
    statDevice: fakeStat,
    ...over,
  };
}
