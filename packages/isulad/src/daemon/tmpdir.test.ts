import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config';
import { prepareTmpdir, TMPDIR_NAME, tmpdirBase } from './tmpdir';

// Notes §3.6 and the spec: $ISULAD_TMPDIR/isulad_tmpdir, unless ISULAD_TMPDIR is unset, empty or /tmp
// (then <graph>/isulad_tmpdir); wiped at every start, mode 0700, a dangling symlinked base is fatal.

const root = realpathSync(mkdtempSync(join(tmpdir(), 'isulad-tmpdir-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const fresh = () => mkdtempSync(join(root, `t${seq++}-`));
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('tmpdirBase', () => {
  it.each<[string, NodeJS.ProcessEnv, { base: string; custom: boolean }]>([
    ['unset', {}, { base: '/var/lib/isulad', custom: false }],
    ['empty', { ISULAD_TMPDIR: '' }, { base: '/var/lib/isulad', custom: false }],
    ['exactly /tmp', { ISULAD_TMPDIR: '/tmp' }, { base: '/var/lib/isulad', custom: false }],
    ['custom', { ISULAD_TMPDIR: '/data/isula-tmp' }, { base: '/data/isula-tmp', custom: true }],
    ['a subdirectory of /tmp', { ISULAD_TMPDIR: '/tmp/isula' }, { base: '/tmp/isula', custom: true }],
  ])('%s', (_name, env, want) => {
    expect(tmpdirBase(env, '/var/lib/isulad')).toEqual(want);
  });

  it('falls back to the configured graph, not a fixed path', () => {
    expect(tmpdirBase({}, '/srv/isulad')).toEqual({ base: '/srv/isulad', custom: false });
  });
});

describe('prepareTmpdir', () => {
  it('creates a missing base (mkdir -p, 0700) and an empty isulad_tmpdir (0700)', async () => {
    const base = join(fresh(), 'deep', 'base');
    const dir = await prepareTmpdir(base);
    expect(dir).toBe(join(base, TMPDIR_NAME));
    expect(statSync(base).isDirectory()).toBe(true);
    expect(mode(base)).toBe(0o700);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(mode(dir)).toBe(0o700);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('wipes what an earlier run left behind', async () => {
    const base = fresh();
    const dir = join(base, TMPDIR_NAME);
    mkdirSync(join(dir, 'pull-123', 'layers'), { recursive: true });
    writeFileSync(join(dir, 'pull-123', 'layers', 'blob'), 'half a layer');
    writeFileSync(join(dir, 'load.tar'), 'half a tarball');
    expect(await prepareTmpdir(base)).toBe(dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves the rest of the base alone', async () => {
    const base = fresh();
    writeFileSync(join(base, 'keep.txt'), 'mine');
    await prepareTmpdir(base);
    expect(readdirSync(base).sort()).toEqual([TMPDIR_NAME, 'keep.txt']);
  });

  it('fixes the mode to 0700 when it was 0777', async () => {
    const base = fresh();
    const dir = join(base, TMPDIR_NAME);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(mode(dir)).toBe(0o777);
    await prepareTmpdir(base);
    expect(mode(dir)).toBe(0o700);
  });

  it('replaces a regular file named isulad_tmpdir with a directory', async () => {
    const base = fresh();
    writeFileSync(join(base, TMPDIR_NAME), 'not a directory');
    const dir = await prepareTmpdir(base);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('replaces a symlink named isulad_tmpdir without touching what it points to', async () => {
    const base = fresh();
    const elsewhere = fresh();
    writeFileSync(join(elsewhere, 'precious'), 'do not delete');
    symlinkSync(elsewhere, join(base, TMPDIR_NAME));
    const dir = await prepareTmpdir(base);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(lstatSync(dir).isSymbolicLink()).toBe(false);
    expect(readdirSync(elsewhere)).toEqual(['precious']);
  });

  it('follows a symlinked base (realpath) and works in its target', async () => {
    const target = fresh();
    const link = join(fresh(), 'link');
    symlinkSync(target, link);
    const dir = await prepareTmpdir(link);
    expect(dir).toBe(join(target, TMPDIR_NAME));
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(mode(dir)).toBe(0o700);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('a dangling symlinked base fails: "Failed to ensure the <dir> directory is a safe directory"', async () => {
    const link = join(fresh(), 'dangling');
    symlinkSync(join(root, 'does-not-exist'), link);
    const err = await prepareTmpdir(link).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message.startsWith(`Failed to ensure the ${link} directory is a safe directory`)).toBe(true);
    expect((err as ConfigError).message).not.toContain('\n');
    expect((err as ConfigError).exitCode).toBe(1);
    expect(existsSync(join(root, 'does-not-exist'))).toBe(false); // nothing created through the link
  });

  it('is idempotent', async () => {
    const base = fresh();
    const a = await prepareTmpdir(base);
    const b = await prepareTmpdir(base);
    expect(a).toBe(b);
    expect(mode(b)).toBe(0o700);
  });
});
