import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/types';
import { native } from '../os/native';
import { createDriver, DEVMAPPER_NO_POOL, type GraphDriver } from './driver';
import { readMountsSync } from './mounts';
import { dTypeError, MAX_DEPTH, Overlay2Driver, QUOTA_FS_ERROR, QUOTA_PRJ_ERROR, supportsDType } from './overlay2/driver';
import { captureLogger } from './test-helpers';

const { logger } = captureLogger();
let root: string;
let graph: string;
let runDir: string;
const drivers: GraphDriver[] = [];

const mountPoints = () => readMountsSync().map((m) => m.mountPoint);
const mountsUnder = (dir: string) => mountPoints().filter((p) => p === dir || p.startsWith(`${dir}/`));

async function driver(options: string[] = []): Promise<GraphDriver> {
  const d = await createDriver('overlay2', { graph, runDir, options, logger });
  drivers.push(d);
  return d;
}

beforeEach(() => {
  root = realpathSync(mkdtempSync('/tmp/isulad-ovl-'));
  graph = join(root, 'graph');
  runDir = join(root, 'run');
});

afterEach(async () => {
  for (const d of drivers.splice(0).reverse()) await d.cleanup();
  // Belt and braces: nothing of ours may stay mounted, whatever a failing test did.
  for (const p of mountsUnder(root).reverse()) execFileSync('umount', ['-l', p]);
  expect(mountsUnder(root)).toEqual([]);
  rmSync(root, { recursive: true, force: true });
});

describe('overlay2 init', () => {
  it('lays out home, reports status and makes home a private mount (undone by cleanup)', async () => {
    const d = await driver();
    const home = join(graph, 'storage/overlay');
    expect(d.home).toBe(home);
    expect(d.status()).toEqual([
      ['Backing Filesystem', 'extfs'],
      ['Supports d_type', 'true'],
    ]);
    expect(existsSync(join(home, 'l'))).toBe(true);
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === home);
    expect(line).toBeDefined();
    expect(line).not.toMatch(/ shared:/);
    await d.cleanup();
    drivers.length = 0;
    expect(mountsUnder(root)).toEqual([]);
  });

  it('removes dangling short links at start', async () => {
    const d = await driver(['overlay2.skip_mount_home=true']);
    await d.create('base', null);
    const { symlinkSync } = await import('node:fs');
    symlinkSync('../gone/diff', join(d.home, 'l', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'));
    await driver(['overlay2.skip_mount_home=true']);
    expect(readdirSync(join(d.home, 'l'))).toEqual([readFileSync(join(d.home, 'base/link'), 'utf8')]);
  });

  it('overlay2.skip_mount_home=true leaves home alone', async () => {
    await driver(['overlay2.skip_mount_home=true']);
    expect(mountsUnder(root)).toEqual([]);
  });

  it('d_type: supported here; refused with upstream text otherwise', async () => {
    mkdirSync(root, { recursive: true });
    expect(supportsDType(root)).toBe(true);
    expect(readdirSync(root)).toEqual([]); // the probe cleans up
    await expect(Overlay2Driver.init({ graph, runDir, options: [], logger }, { dType: () => false })).rejects.toThrow(dTypeError('extfs'));
    expect(dTypeError('xfs')).toMatch(/^The backing xfs filesystem is formatted without d_type support/);
  });

  it('refuses a kernel without overlay, an old kernel unless overridden, and an unsupported backing fs', async () => {
    await expect(Overlay2Driver.init({ graph, runDir, options: [], logger }, { filesystems: () => 'nodev\tproc\n\text4\n' })).rejects.toThrow(
      "'overlay' not found as a supported filesystem on this host",
    );
    await expect(Overlay2Driver.init({ graph, runDir, options: [], logger }, { kernelRelease: () => '3.10.0-1160.el7' })).rejects.toThrow(/too old/);
    const ok = await Overlay2Driver.init(
      { graph, runDir, options: ['overlay2.override_kernel_check=true', 'overlay2.skip_mount_home=true'], logger },
      { kernelRelease: () => '3.10.0' },
    );
    drivers.push(ok);
    await expect(Overlay2Driver.init({ graph, runDir, options: [], logger }, { backingFs: () => 'overlayfs' })).rejects.toThrow(
      "'overlay' is not supported over overlayfs",
    );
  });

  it.each<[string[], string]>([
    [['overlay2.size=10G'], QUOTA_PRJ_ERROR],
    [['overlay2.basesize=1G'], QUOTA_PRJ_ERROR],
    [['overlay.size=20M'], QUOTA_PRJ_ERROR],
    [['overlay2.size=1000'], 'Illegal storage quota size 1000, 4096 at least'],
    [['overlay2.size=4095'], 'Illegal storage quota size 4095, 4096 at least'],
    [['overlay2.size=lots'], 'overlay2: invalid size "lots" for overlay2.size'],
    [['overlay2.nosuch=1'], 'overlay2: unknown option overlay2.nosuch'],
    [['dm.thinpooldev=x'], 'overlay2: unknown option dm.thinpooldev'],
    [['overlay2.skip_mount_home=maybe'], 'overlay2: invalid value "maybe" for overlay2.skip_mount_home, a boolean is expected'],
    [['novalue'], 'overlay2: invalid storage option "novalue", expected key=value'],
  ])('options %j → %s', async (options, message) => {
    const err = await createDriver('overlay2', { graph, runDir, options, logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
    expect(mountsUnder(root)).toEqual([]);
  });

  it('overlay2.size on a filesystem that is neither ext4 nor xfs → upstream text (tmpfs)', async () => {
    mkdirSync(graph, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', graph]);
    try {
      await expect(createDriver('overlay2', { graph, runDir, options: ['overlay2.size=1G'], logger })).rejects.toThrow(QUOTA_FS_ERROR);
      const d = await Overlay2Driver.init({ graph, runDir, options: ['overlay2.skip_mount_home=true'], logger });
      expect(d.status()[0]).toEqual(['Backing Filesystem', 'tmpfs']);
      await d.cleanup();
    } finally {
      execFileSync('umount', [graph]);
    }
  });

  it('devicemapper: thin pool missing → upstream text; with a pool → no device-mapper here', async () => {
    await expect(createDriver('devicemapper', { graph, runDir, options: [], logger })).rejects.toThrow(DEVMAPPER_NO_POOL);
    await expect(createDriver('devicemapper', { graph, runDir, options: ['dm.thinpooldev=/dev/mapper/isulad-thinpool'], logger })).rejects.toThrow(
      /devmapper: device-mapper is not available in this kernel|not implemented/,
    );
    await expect(createDriver('aufs', { graph, runDir, options: [], logger })).rejects.toThrow('Unsupported storage driver: aufs');
  });
});

describe('overlay2 layers', () => {
  it('creates the upstream layout', async () => {
    const d = await driver();
    await d.create('base', null);
    await d.create('child', 'base');
    await d.create('ro', 'child', { readOnly: true });
    const h = d.home;
    const short = readFileSync(join(h, 'base/link'), 'utf8');
    expect(short).toMatch(/^[A-Z0-9]{26}$/);
    expect(readlinkSync(join(h, 'l', short))).toBe('../base/diff');
    expect(existsSync(join(h, 'base/lower'))).toBe(false);
    expect(existsSync(join(h, 'base/empty'))).toBe(true);
    const childShort = readFileSync(join(h, 'child/link'), 'utf8');
    expect(readFileSync(join(h, 'child/lower'), 'utf8')).toBe(`l/${short}`);
    expect(readFileSync(join(h, 'ro/lower'), 'utf8')).toBe(`l/${childShort}:l/${short}`);
    for (const sub of ['diff', 'work', 'merged']) expect(lstatSync(join(h, 'child', sub)).isDirectory()).toBe(true);
    expect(existsSync(join(h, 'ro/work'))).toBe(false);
    expect(d.diffPath('child')).toBe(join(h, 'child/diff'));
    expect(await d.exists('child')).toBe(true);
    expect(await d.exists('nope')).toBe(false);
    expect((await d.list()).sort()).toEqual(['base', 'child', 'ro']);
    await expect(d.create('base', null)).rejects.toThrow(/EEXIST/);
    await expect(d.create('../x', null)).rejects.toThrow('overlay2: invalid layer id "../x"');

    await d.remove('child');
    expect(existsSync(join(h, 'child'))).toBe(false);
    expect(existsSync(join(h, 'l', childShort))).toBe(false);
    await d.remove('child'); // missing: fine
  });

  it('mounts a child over its parent: whiteouts hide, opaque dirs replace, writes go up', async () => {
    const d = await driver();
    await d.create('base', null);
    const b = d.diffPath('base');
    mkdirSync(join(b, 'etc'));
    writeFileSync(join(b, 'etc/keep'), 'keep');
    writeFileSync(join(b, 'etc/gone'), 'gone');
    mkdirSync(join(b, 'opq'));
    writeFileSync(join(b, 'opq/old'), 'old');

    await d.create('child', 'base');
    const c = d.diffPath('child');
    mkdirSync(join(c, 'etc'));
    native().mknod(join(c, 'etc/gone'), 0o020000, 0, 0);
    mkdirSync(join(c, 'opq'));
    native().lsetxattr(join(c, 'opq'), 'trusted.overlay.opaque', 'y');
    writeFileSync(join(c, 'opq/new'), 'new');

    const merged = await d.mount('child');
    expect(merged).toBe(join(d.home, 'child/merged'));
    expect(readdirSync(join(merged, 'etc')).sort()).toEqual(['keep']);
    expect(readdirSync(join(merged, 'opq'))).toEqual(['new']);
    writeFileSync(join(merged, 'written'), 'w');
    expect(readFileSync(join(c, 'written'), 'utf8')).toBe('w');

    // Refcounted, and recorded for a restarted daemon.
    const rec = join(runDir, 'storage/overlay-layers/child.json');
    expect(JSON.parse(readFileSync(rec, 'utf8'))).toEqual({ path: merged, count: 1 });
    expect(await d.mount('child')).toBe(merged);
    expect(JSON.parse(readFileSync(rec, 'utf8'))).toEqual({ path: merged, count: 2 });
    await d.unmount('child');
    expect(mountPoints()).toContain(merged);
    await d.unmount('child');
    expect(mountPoints()).not.toContain(merged);
    expect(existsSync(rec)).toBe(false);
  });

  it('mounts a base layer read-write (empty lower) and a read-only layer without upper', async () => {
    const d = await driver();
    await d.create('base', null);
    writeFileSync(join(d.diffPath('base'), 'a'), 'a');
    const m = await d.mount('base');
    expect(readFileSync(join(m, 'a'), 'utf8')).toBe('a');
    writeFileSync(join(m, 'b'), 'b');
    expect(existsSync(join(d.diffPath('base'), 'b'))).toBe(true);
    await d.unmount('base');

    await d.create('rotop', 'base', { readOnly: true });
    writeFileSync(join(d.diffPath('rotop'), 'c'), 'c');
    const r = await d.mount('rotop');
    expect(readdirSync(r).sort()).toEqual(['a', 'b', 'c']);
    expect(() => writeFileSync(join(r, 'd'), 'd')).toThrow(/EROFS/);
    await d.unmount('rotop');

    await d.create('robase', null, { readOnly: true });
    writeFileSync(join(d.diffPath('robase'), 'only'), 'o');
    const rb = await d.mount('robase');
    expect(readdirSync(rb)).toEqual(['only']);
    expect(() => writeFileSync(join(rb, 'x'), 'x')).toThrow(/EROFS/);
    await d.remove('robase'); // removing a mounted layer unmounts it
    expect(mountPoints()).not.toContain(rb);
  });

  it(`allows ${MAX_DEPTH} lower layers, refuses a chain of ${MAX_DEPTH + 1}`, async () => {
    const d = await driver();
    await d.create('l0', null);
    writeFileSync(join(d.diffPath('l0'), 'f0'), '0');
    for (let i = 1; i <= MAX_DEPTH; i++) await d.create(`l${i}`, `l${i - 1}`);
    writeFileSync(join(d.diffPath(`l${MAX_DEPTH}`), 'top'), 't');
    expect(readFileSync(join(d.home, `l${MAX_DEPTH}/lower`), 'utf8').split(':')).toHaveLength(MAX_DEPTH);
    await expect(d.create('too-deep', `l${MAX_DEPTH}`)).rejects.toThrow(/max depth exceeded/);
    expect(await d.exists('too-deep')).toBe(false);
    const m = await d.mount(`l${MAX_DEPTH}`); // 128 short lowerdirs fit in one mount option page
    expect(readdirSync(m).sort()).toEqual(['f0', 'top']);
    await d.unmount(`l${MAX_DEPTH}`);
  });

  it('overlay2.mountopt is passed to the mount', async () => {
    const d = await driver(['overlay2.mountopt=nodev']);
    await d.create('base', null);
    await d.create('c', 'base');
    const m = await d.mount('c');
    const info = readMountsSync().find((x) => x.mountPoint === m);
    expect(info?.options.split(',')).toContain('nodev');
    await d.unmount('c');
  });

  it('a restarted driver knows what is mounted; cleanup unmounts everything', async () => {
    const d1 = await driver(['overlay2.skip_mount_home=true']);
    await d1.create('base', null);
    await d1.create('c', 'base');
    const m = await d1.mount('c');
    await d1.mount('c');
    // Simulate a restart: a new driver over the same state, the old one forgotten without cleanup.
    drivers.length = 0;
    const d2 = await driver(['overlay2.skip_mount_home=true']);
    await d2.unmount('c');
    expect(mountPoints()).toContain(m); // count was 2
    await d2.cleanup();
    expect(mountPoints()).not.toContain(m);
    expect(readdirSync(join(runDir, 'storage/overlay-layers'))).toEqual([]);
  });

  it('renames a layer; its children keep their lower chain', async () => {
    const d = await driver();
    await d.create('tmp-1', null);
    writeFileSync(join(d.diffPath('tmp-1'), 'f'), 'f');
    await d.create('kid', 'tmp-1');
    await d.rename('tmp-1', 'final');
    expect(await d.exists('tmp-1')).toBe(false);
    const short = readFileSync(join(d.home, 'final/link'), 'utf8');
    expect(readlinkSync(join(d.home, 'l', short))).toBe('../final/diff');
    const m = await d.mount('kid');
    expect(readdirSync(m)).toEqual(['f']);
    await d.unmount('kid');
  });
});
