import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetadataDb } from '../metadata/db';
import { captureLogger } from '../storage/test-helpers';
import { VolumeError } from './errors';
import { resolveInScope } from './scope';
import { Volumes } from './volumes';

const { logger } = captureLogger();
const isRoot = process.getuid?.() === 0;

let tmp: string;
let root: string;
let dbPath: string;
let db: MetadataDb;
let volumes: Volumes;

async function reopen(): Promise<Volumes> {
  db.close();
  db = MetadataDb.open(dbPath);
  volumes = await Volumes.open({ db, root, logger });
  return volumes;
}

const mode = (p: string) => lstatSync(p).mode & 0o7777;

beforeEach(async () => {
  tmp = realpathSync(mkdtempSync('/tmp/isulad-volumes-'));
  root = join(tmp, 'graph', 'volumes');
  dbPath = join(tmp, 'graph', 'isulad.db');
  db = MetadataDb.open(dbPath);
  volumes = await Volumes.open({ db, root, logger });
});

afterEach(() => {
  db.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('Volumes', () => {
  it('ensure creates <root>/<name>/_data 0755 once and lists it', async () => {
    const old = process.umask(0o077);
    try {
      const v = await volumes.ensure('data1');
      expect(v).toMatchObject({ name: 'data1', driver: 'local', anonymous: false, createdNow: true, path: join(root, 'data1', '_data') });
      expect(mode(join(root, 'data1'))).toBe(0o755);
      expect(mode(join(root, 'data1', '_data'))).toBe(0o755);
    } finally {
      process.umask(old);
    }
    writeFileSync(join(root, 'data1', '_data', 'keep'), 'x');
    const again = await volumes.ensure('data1');
    expect(again.createdNow).toBe(false);
    expect(readFileSync(join(again.path, 'keep'), 'utf8')).toBe('x');
    expect(volumes.list().map((v) => v.name)).toEqual(['data1']);
    expect(volumes.path('data1')).toBe(join(root, 'data1', '_data'));
  });

  it('refuses invalid names without touching the disk', async () => {
    for (const bad of ['a', '-x', '.hidden', '../up', 'a/b', 'a b', '', '_x']) {
      await expect(volumes.ensure(bad)).rejects.toThrow(/^Invalid volume name/);
    }
    expect(readdirSync(root)).toEqual([]);
    await expect(volumes.ensure('A1_b.c-d')).resolves.toMatchObject({ createdNow: true });
  });

  it('concurrent ensure of one name creates it once', async () => {
    const all = await Promise.all([volumes.ensure('same'), volumes.ensure('same'), volumes.ensure('same')]);
    expect(all.filter((v) => v.createdNow)).toHaveLength(1);
    expect(volumes.list()).toHaveLength(1);
  });

  it('createAnonymous makes a 64-hex anonymous volume', async () => {
    const { name, anonymous, createdNow } = await volumes.createAnonymous();
    expect([anonymous, createdNow]).toEqual([true, true]);
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    expect(volumes.exists(name)).toBe(true);
    expect(volumes.get(name)!.anonymous).toBe(true);
    expect(existsSync(volumes.path(name))).toBe(true);
  });

  it('remove refuses a volume in use, then deletes it once released', async () => {
    await volumes.ensure('busy');
    volumes.addRef('busy', 'c1');
    volumes.addRef('busy', 'c1'); // idempotent
    volumes.addRef('busy', 'c2');
    expect(volumes.users('busy')).toEqual(['c1', 'c2']);
    const err = await volumes.remove('busy').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VolumeError);
    expect((err as Error).message).toBe('remove volume busy failed: volume is used by container c1, c2');
    await volumes.releaseContainer('c1', true);
    await expect(volumes.remove('busy')).rejects.toThrow('volume is used by container c2');
    expect(await volumes.releaseContainer('c2', false)).toEqual([]);
    await volumes.remove('busy');
    expect(volumes.list()).toEqual([]);
    expect(readdirSync(root)).toEqual([]);
    await expect(volumes.remove('busy')).rejects.toThrow('No such volume: busy');
  });

  it('addRef on a missing volume is refused', () => {
    expect(() => volumes.addRef('ghost', 'c1')).toThrow('No such volume: ghost');
  });

  it('releaseContainer with removeAnonymous deletes only its unshared anonymous volumes', async () => {
    const anon = (await volumes.createAnonymous()).name;
    const shared = (await volumes.createAnonymous()).name;
    await volumes.ensure('named');
    for (const v of [anon, shared, 'named']) volumes.addRef(v, 'c1');
    volumes.addRef(shared, 'c2'); // --volumes-from
    expect(volumes.volumesOf('c1')).toEqual([anon, shared, 'named'].sort());
    const removed = await volumes.releaseContainer('c1', true);
    expect(removed).toEqual([anon]);
    expect(volumes.list().map((v) => v.name).sort()).toEqual([shared, 'named'].sort());
    expect(existsSync(join(root, anon))).toBe(false);
    expect(volumes.volumesOf('c1')).toEqual([]);
  });

  it('prune removes every unreferenced volume, named and anonymous', async () => {
    const anon = (await volumes.createAnonymous()).name;
    await volumes.ensure('free');
    await volumes.ensure('used');
    volumes.addRef('used', 'c1');
    expect((await volumes.prune()).sort()).toEqual([anon, 'free'].sort());
    expect(volumes.list().map((v) => v.name)).toEqual(['used']);
    expect(readdirSync(root)).toEqual(['used']);
    expect(await volumes.prune()).toEqual([]);
  });

  it('at open adopts directories without rows, drops rows without directories, cleans leftovers', async () => {
    await volumes.ensure('kept');
    await volumes.ensure('vanished');
    volumes.addRef('vanished', 'c1');
    rmSync(join(root, 'vanished'), { recursive: true });
    // A crash after mkdir and before the row: a volume dir (even without _data) and an anonymous one.
    mkdirSync(join(root, 'orphan', '_data'), { recursive: true });
    writeFileSync(join(root, 'orphan', '_data', 'f'), 'data');
    const hex = 'ab'.repeat(32);
    mkdirSync(join(root, hex));
    // A removal cut short after the rename, and things that are not volumes.
    mkdirSync(join(root, '.removing-0123456789abcdef', '_data'), { recursive: true });
    writeFileSync(join(root, 'stray-file'), '');

    await reopen();
    const list = volumes.list();
    expect(list.map((v) => v.name).sort()).toEqual([hex, 'kept', 'orphan'].sort());
    expect(list.find((v) => v.name === hex)!.anonymous).toBe(true);
    expect(list.find((v) => v.name === 'orphan')!.anonymous).toBe(false);
    expect(readFileSync(join(volumes.path('orphan'), 'f'), 'utf8')).toBe('data');
    expect(existsSync(join(root, hex, '_data'))).toBe(true);
    expect(volumes.volumesOf('c1')).toEqual([]);
    expect(existsSync(join(root, '.removing-0123456789abcdef'))).toBe(false);
    expect(existsSync(join(root, 'stray-file'))).toBe(true);
  });

  it('rows survive a reopen', async () => {
    await volumes.ensure('v1');
    volumes.addRef('v1', 'c9');
    await reopen();
    expect(volumes.get('v1')).toMatchObject({ name: 'v1', anonymous: false });
    expect(volumes.users('v1')).toEqual(['c9']);
  });

  describe('populateFrom', () => {
    let image: string;

    beforeEach(() => {
      image = join(tmp, 'rootfs', 'etc', 'app');
      mkdirSync(join(image, 'conf.d', 'deep'), { recursive: true });
      writeFileSync(join(image, 'main.conf'), 'main');
      writeFileSync(join(image, 'conf.d', 'deep', 'x.conf'), 'x');
      chmodSync(join(image, 'conf.d'), 0o750);
      writeFileSync(join(image, 'run.sh'), '#!/bin/sh\n');
      chmodSync(join(image, 'run.sh'), 0o4755);
      symlinkSync('/etc/shadow', join(image, 'abs-link'));
      symlinkSync('../../../../outside', join(image, 'rel-link'));
      symlinkSync('conf.d', join(image, 'dir-link'));
      execFileSync('mkfifo', [join(image, 'pipe')]);
      chmodSync(image, 0o711);
      utimesSync(join(image, 'conf.d'), 1_600_000_000, 1_600_000_000);
    });

    it('copies a nested tree into an empty volume, links as links, modes kept', async () => {
      const v = await volumes.ensure('cfg');
      expect(await volumes.populateFrom('cfg', image)).toBe(true);
      expect(readFileSync(join(v.path, 'main.conf'), 'utf8')).toBe('main');
      expect(readFileSync(join(v.path, 'conf.d', 'deep', 'x.conf'), 'utf8')).toBe('x');
      expect(mode(join(v.path, 'conf.d'))).toBe(0o750);
      expect(mode(join(v.path, 'run.sh'))).toBe(0o4755);
      expect(mode(v.path)).toBe(0o711); // _data takes the image directory's mode
      expect(lstatSync(join(v.path, 'conf.d')).mtimeMs).toBe(1_600_000_000_000);
      for (const [link, target] of [['abs-link', '/etc/shadow'], ['rel-link', '../../../../outside'], ['dir-link', 'conf.d']]) {
        expect(lstatSync(join(v.path, link!)).isSymbolicLink()).toBe(true);
        expect(readlinkSync(join(v.path, link!))).toBe(target);
      }
      expect(existsSync(join(v.path, 'pipe'))).toBe(false); // FIFOs are skipped
      expect(existsSync(join(root, 'cfg', '.populating'))).toBe(false);
      // Not empty any more: a second copy-up does nothing.
      writeFileSync(join(image, 'later'), '');
      expect(await volumes.populateFrom('cfg', image)).toBe(false);
      expect(existsSync(join(v.path, 'later'))).toBe(false);
    });

    it.runIf(isRoot)('keeps ownership (setuid bits survive the chown)', async () => {
      chownSync(join(image, 'run.sh'), 1234, 5678);
      chmodSync(join(image, 'run.sh'), 0o4755); // chown cleared it on the source too
      chownSync(join(image, 'conf.d'), 1000, 1000);
      chownSync(image, 42, 43);
      const v = await volumes.ensure('owned');
      await volumes.populateFrom('owned', image);
      const st = lstatSync(join(v.path, 'run.sh'));
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 5678, 0o4755]);
      expect(lstatSync(join(v.path, 'conf.d')).uid).toBe(1000);
      expect([lstatSync(v.path).uid, lstatSync(v.path).gid]).toEqual([42, 43]);
    });

    it('does nothing for a missing path, a file or a symlink, and needs the volume', async () => {
      await volumes.ensure('vv');
      expect(await volumes.populateFrom('vv', join(tmp, 'nope'))).toBe(false);
      expect(await volumes.populateFrom('vv', join(image, 'main.conf'))).toBe(false);
      expect(await volumes.populateFrom('vv', join(image, 'dir-link'))).toBe(false);
      expect(readdirSync(volumes.path('vv'))).toEqual([]);
      await expect(volumes.populateFrom('ghost', image)).rejects.toThrow('No such volume: ghost');
    });

    it('a copy-up cut short by a crash is undone at open', async () => {
      const v = await volumes.ensure('half');
      writeFileSync(join(v.path, 'partial'), '');
      writeFileSync(join(root, 'half', '.populating'), '');
      await reopen();
      expect(readdirSync(volumes.path('half'))).toEqual([]);
      expect(existsSync(join(root, 'half', '.populating'))).toBe(false);
      expect(await volumes.populateFrom('half', image)).toBe(true);
    });
  });
});

describe('resolveInScope', () => {
  it('follows links without leaving the root', async () => {
    const rootfs = join(tmp, 'rootfs');
    mkdirSync(join(rootfs, 'real', 'dir'), { recursive: true });
    symlinkSync('/real', join(rootfs, 'abs'));
    symlinkSync('../../../../../..', join(rootfs, 'up'));
    symlinkSync('/', join(rootfs, 'real', 'slash'));
    expect(await resolveInScope(rootfs, '/abs/dir')).toBe(join(rootfs, 'real', 'dir'));
    expect(await resolveInScope(rootfs, '/up/etc')).toBe(join(rootfs, 'etc'));
    expect(await resolveInScope(rootfs, '/../../etc/passwd')).toBe(join(rootfs, 'etc', 'passwd'));
    expect(await resolveInScope(rootfs, '/real/slash/real/missing/x')).toBe(join(rootfs, 'real', 'missing', 'x'));
    symlinkSync('loop', join(rootfs, 'loop'));
    await expect(resolveInScope(rootfs, '/loop')).rejects.toThrow(/too many levels/);
  });
});
