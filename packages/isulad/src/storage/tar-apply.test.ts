import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../os/native';
import { applyTar, LayerApplyError, normalizeEntryName } from './tar-apply';
import { captureLogger, chunked, makeTar, padded, paxRecord, snapshot, ustarHeader } from './test-helpers';

const isRoot = process.getuid?.() === 0;
const major = (rdev: number) => Number((BigInt(rdev) >> 8n) & 0xfffn);
const minor = (rdev: number) => Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let root: string;
let dest: string;
let outside: string;
let before: string[];

beforeEach(() => {
  root = realpathSync(mkdtempSync('/tmp/isulad-tar-'));
  dest = join(root, 'dest');
  outside = join(root, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  writeFileSync(join(outside, 'sentinel'), 'keep me\n');
  before = snapshot(root, dest);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Nothing outside `dest` changed: the sibling tree, /etc's passwd and the usual escape targets. */
function assertNothingOutside(): void {
  expect(snapshot(root, dest)).toEqual(before);
  expect(existsSync('/etc/passwd_evil')).toBe(false);
  expect(existsSync('/evil')).toBe(false);
  expect(existsSync('/tmp/evil')).toBe(false);
  expect(existsSync(join(root, 'evil'))).toBe(false);
  expect(existsSync('/x')).toBe(false);
}

describe('normalizeEntryName', () => {
  it.each([
    ['./a/b', ['a', 'b']],
    ['/abs/evil', ['abs', 'evil']],
    ['a//b/./c/', ['a', 'b', 'c']],
    ['a/../b', ['b']],
    ['./', []],
  ])('%s', (name, want) => {
    expect(normalizeEntryName(name)).toEqual(want);
  });

  it.each(['../evil', 'a/../../evil', '/../x', '..'])('refuses %s', (name) => {
    expect(() => normalizeEntryName(name)).toThrow(`layer entry "${name}" escapes the layer directory`);
  });
});

describe('applyTar: ordinary content', () => {
  it('files, directories, modes, owners, mtimes, symlinks, hard links, fifos, devices, xattrs', async () => {
    const mtime = new Date(1_500_000_000_000);
    const tar = await makeTar([
      { name: './', type: 'directory', mode: 0o755, mtime },
      { name: 'bin/', type: 'directory', mode: 0o755, mtime },
      { name: 'bin/suid', mode: 0o4755, uid: 1000, gid: 1001, mtime, content: 'setuid program\n' },
      { name: 'tmp/', type: 'directory', mode: 0o1777, mtime },
      { name: 'etc/conf', mode: 0o600, uid: 0, gid: 0, mtime, content: 'a=1\n' }, // parent implied
      { name: 'etc/link', type: 'symlink', linkname: 'conf', mtime, uid: 1000, gid: 1000 },
      { name: 'etc/abs', type: 'symlink', linkname: '/etc/passwd', mtime },
      { name: 'etc/hard', type: 'link', linkname: 'etc/conf' },
      { name: 'run/fifo', type: 'fifo', mode: 0o620, mtime },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3, mtime },
      { name: 'dev/loop9', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 9, mtime },
      { name: 'xattr', mtime, content: 'x', pax: { 'SCHILY.xattr.user.note': 'hello', 'SCHILY.xattr.trusted.t': 'v' } },
      { name: 'empty', mtime, content: '' },
    ]);
    const res = await applyTar(chunked(tar), dest, { manifest: true });
    expect(res.size).toBe('setuid program\n'.length + 4 + 1);

    const st = statSync(join(dest, 'bin/suid'));
    expect(st.mode & 0o7777).toBe(0o4755);
    expect([st.uid, st.gid]).toEqual([1000, 1001]);
    expect(st.mtimeMs).toBe(mtime.getTime());
    expect(statSync(join(dest, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(dest, 'bin')).mtimeMs).toBe(mtime.getTime()); // dir times applied last
    expect(statSync(dest).mtimeMs).toBe(mtime.getTime());
    expect(statSync(join(dest, 'etc')).mode & 0o7777).toBe(0o755); // implied parent
    expect(readFileSync(join(dest, 'etc/conf'), 'utf8')).toBe('a=1\n');
    expect(statSync(join(dest, 'etc/conf')).mode & 0o7777).toBe(0o600);

    const l = lstatSync(join(dest, 'etc/link'));
    expect(l.isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dest, 'etc/link'))).toBe('conf');
    expect([l.uid, l.gid]).toEqual([1000, 1000]);
    expect(l.mtimeMs).toBe(mtime.getTime());
    expect(readlinkSync(join(dest, 'etc/abs'))).toBe('/etc/passwd'); // symlinks are data, kept verbatim

    expect(statSync(join(dest, 'etc/hard')).ino).toBe(statSync(join(dest, 'etc/conf')).ino);
    const fifo = lstatSync(join(dest, 'run/fifo'));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.mode & 0o7777).toBe(0o620);

    if (isRoot) {
      const c = lstatSync(join(dest, 'dev/null'));
      expect(c.isCharacterDevice()).toBe(true);
      expect([major(c.rdev), minor(c.rdev)]).toEqual([1, 3]);
      const b = lstatSync(join(dest, 'dev/loop9'));
      expect(b.isBlockDevice()).toBe(true);
      expect([major(b.rdev), minor(b.rdev)]).toEqual([7, 9]);
    }
    expect(native().lgetxattr(join(dest, 'xattr'), 'user.note')?.toString()).toBe('hello');
    if (isRoot) expect(native().lgetxattr(join(dest, 'xattr'), 'trusted.t')?.toString()).toBe('v');

    const byPath = new Map(res.manifest!.map((e) => [e.path, e]));
    expect(byPath.get('bin/suid')).toEqual({ path: 'bin/suid', type: 'file', size: 15, sha256: sha(join(dest, 'bin/suid')) });
    expect(byPath.get('etc/hard')?.type).toBe('hardlink');
    expect(byPath.get('etc')?.type).toBe('dir');
    expect(byPath.get('empty')).toMatchObject({ type: 'file', size: 0 });
    assertNothingOutside();
  });

  it('keeps binary xattr values byte for byte (raw PAX records)', async () => {
    const value = Buffer.from([0x01, 0x00, 0xff, 0x80, 0xc3, 0x28, 0x0a, 0x3d]);
    const pax = paxRecord('SCHILY.xattr.user.bin', value);
    const content = Buffer.from('data\n');
    const tar = Buffer.concat([
      ustarHeader('PaxHeaders/f', 'x', pax.length),
      padded(pax),
      ustarHeader('f', '0', content.length),
      padded(content),
      Buffer.alloc(1024),
    ]);
    await applyTar(chunked(tar, 100), dest);
    expect(native().lgetxattr(join(dest, 'f'), 'user.bin')).toEqual(value);
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('data\n');
  });

  it('replaces earlier entries: file over dir, dir kept for dir, file over symlink', async () => {
    const tar = await makeTar([
      { name: 'd/', type: 'directory' },
      { name: 'd/child', content: 'c' },
      { name: 'd', content: 'now a file' },
      { name: 'keep/', type: 'directory', mode: 0o700 },
      { name: 'keep/a', content: 'a' },
      { name: 'keep/', type: 'directory', mode: 0o750 },
      { name: 'f', type: 'symlink', linkname: join(outside, 'sentinel') },
      { name: 'f', content: 'replaced the symlink, not its target' },
    ]);
    await applyTar(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'd'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(dest, 'keep/a'), 'utf8')).toBe('a');
    expect(statSync(join(dest, 'keep')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(dest, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(outside, 'sentinel'), 'utf8')).toBe('keep me\n');
    assertNothingOutside();
  });

  it('later entries win over earlier ones whose metadata is still being applied', async () => {
    const entries: Parameters<typeof makeTar>[0] = [];
    for (let i = 0; i < 100; i++) entries.push({ name: `d/f${i}`, mode: 0o755, uid: 1, gid: 1, content: `one ${i}` });
    for (let i = 0; i < 100; i += 2) entries.push({ name: `d/f${i}`, mode: 0o600, uid: 2, gid: 2, content: `two ${i}` });
    for (let i = 1; i < 100; i += 4) entries.push({ name: `d/f${i}`, type: 'symlink', linkname: `f${i - 1}` });
    for (let i = 3; i < 100; i += 4) entries.push({ name: `d/h${i}`, type: 'link', linkname: `d/f${i}` });
    await applyTar(chunked(await makeTar(entries), 1000), dest);
    for (let i = 0; i < 100; i++) {
      const p = join(dest, `d/f${i}`);
      const st = lstatSync(p);
      if (i % 2 === 0) {
        expect([readFileSync(p, 'utf8'), st.mode & 0o7777, st.uid]).toEqual([`two ${i}`, 0o600, 2]);
      } else if (i % 4 === 1) {
        expect(readlinkSync(p)).toBe(`f${i - 1}`);
      } else {
        expect([readFileSync(p, 'utf8'), st.mode & 0o7777, st.uid, st.nlink]).toEqual([`one ${i}`, 0o755, 1, 2]);
      }
    }
  });

  it.skipIf(!isRoot)('file capabilities survive the ownership change (xattrs after chown), binary bytes intact', async () => {
    // VFS_CAP_REVISION_2, effective, permitted = cap_setuid (7, byte 0x80) | cap_net_raw (13).
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const pax = paxRecord('SCHILY.xattr.security.capability', cap);
    const content = Buffer.from('ping\n');
    const file = ustarHeader('bin/ping', '0', content.length, 0o755);
    file.write('0001750\0', 108, 'latin1'); // uid 1000
    file.write('0001750\0', 116, 'latin1');
    file.write('        ', 148, 'latin1');
    let sum = 0;
    for (const b of file) sum += b;
    file.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const tar = Buffer.concat([ustarHeader('PaxHeaders/ping', 'x', pax.length), padded(pax), file, padded(content), Buffer.alloc(1024)]);
    await applyTar(Readable.from([tar]), dest);
    const st = lstatSync(join(dest, 'bin/ping'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1000, 1000, 0o755]);
    expect(native().lgetxattr(join(dest, 'bin/ping'), 'security.capability')).toEqual(cap);
  });

  it('a security.* xattr the kernel refuses only warns', async () => {
    const { logger, lines } = captureLogger();
    const tar = await makeTar([{ name: 'f', content: 'f', pax: { 'SCHILY.xattr.security.capability': 'not a capability' } }]);
    await applyTar(Readable.from([tar]), dest, { logger });
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('f');
    expect(lines.some((l) => /layer entry "f": xattr security.capability not applied/.test(l.msg))).toBe(true);
  });

  it('streams: a 128 MiB file goes through without being held in memory', async () => {
    const size = 128 * 1024 * 1024;
    const p = pack();
    const body = p.entry({ name: 'big', size, mode: 0o644 });
    const zeros = Buffer.alloc(1024 * 1024);
    void (async () => {
      for (let sent = 0; sent < size; sent += zeros.length) {
        if (!body.write(zeros)) await new Promise<void>((r) => body.once('drain', () => r()));
      }
      (body as unknown as NodeJS.WritableStream).end(); // @types/tar-stream wants a callback here
      p.finalize();
    })();
    let peak = 0;
    const base = process.memoryUsage().arrayBuffers;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)), 5);
    try {
      const res = await applyTar(Readable.from(p as unknown as AsyncIterable<Buffer>), dest);
      expect(res.size).toBe(size);
    } finally {
      clearInterval(timer);
    }
    expect(statSync(join(dest, 'big')).size).toBe(size);
    expect(peak).toBeLessThan(48 * 1024 * 1024);
  });

  it('skips device nodes with a warning when not privileged', async () => {
    const { logger, lines } = captureLogger();
    const tar = await makeTar([
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'ok', content: 'fine' },
    ]);
    await applyTar(Readable.from([tar]), dest, { privileged: false, logger });
    expect(existsSync(join(dest, 'dev/null'))).toBe(false);
    expect(existsSync(join(dest, 'dev/sda'))).toBe(false);
    expect(readFileSync(join(dest, 'ok'), 'utf8')).toBe('fine');
    expect(lines.filter((l) => /skipped, creating device nodes needs root/.test(l.msg))).toHaveLength(2);
  });
});

describe('applyTar: whiteouts', () => {
  it('.wh.<name> becomes a 0:0 character device, .wh..wh..opq an opaque directory', async () => {
    const tar = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.removed', content: '' },
      { name: 'etc/there', content: 'will be whited out' },
      { name: 'etc/.wh.there', content: '' },
      { name: 'opq/', type: 'directory' },
      { name: 'opq/.wh..wh..opq', content: '' },
      { name: 'opq/new', content: 'n' },
      { name: '.wh.top', content: '' },
      { name: 'x/.wh..wh.plnk', type: 'directory' },
    ]);
    const res = await applyTar(Readable.from([tar]), dest, { manifest: true });
    for (const p of ['etc/removed', 'etc/there', 'top']) {
      const st = lstatSync(join(dest, p));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe(0);
    }
    expect(existsSync(join(dest, 'etc/.wh.removed'))).toBe(false);
    expect(existsSync(join(dest, 'opq/.wh..wh..opq'))).toBe(false);
    expect(native().lgetxattr(join(dest, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(native().lgetxattr(join(dest, 'etc'), 'trusted.overlay.opaque')).toBeNull();
    expect(existsSync(join(dest, 'x/.wh..wh.plnk'))).toBe(false);
    expect(res.manifest!.find((e) => e.path === 'etc/there')?.type).toBe('whiteout');
  });
});

describe('applyTar: hostile layers', () => {
  const refuse = async (entries: Parameters<typeof makeTar>[0], message: string) => {
    const tar = await makeTar(entries);
    await expect(applyTar(Readable.from([tar]), dest)).rejects.toThrow(message);
    assertNothingOutside();
  };

  it('refuses ../evil', async () => {
    await refuse([{ name: '../evil', content: 'x' }], 'layer entry "../evil" escapes the layer directory');
  });

  it('refuses a deeper .. escape', async () => {
    await refuse([{ name: 'a/b/../../../evil', content: 'x' }], 'layer entry "a/b/../../../evil" escapes the layer directory');
  });

  it('puts /abs/evil inside the layer', async () => {
    const tar = await makeTar([{ name: '/abs/evil', content: 'x' }, { name: '/tmp/evil', content: 'y' }]);
    await applyTar(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'abs/evil'), 'utf8')).toBe('x');
    expect(readFileSync(join(dest, 'tmp/evil'), 'utf8')).toBe('y');
    assertNothingOutside();
  });

  it('link -> /etc then link/passwd_evil lands in the layer', async () => {
    const tar = await makeTar([
      { name: 'link', type: 'symlink', linkname: '/etc' },
      { name: 'link/passwd_evil', content: 'root::0:0::/:/bin/sh\n' },
    ]);
    await applyTar(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'etc/passwd_evil'), 'utf8')).toContain('root::0:0');
    expect(readlinkSync(join(dest, 'link'))).toBe('/etc');
    assertNothingOutside();
  });

  it('link -> ../../.. then link/x lands at the layer root', async () => {
    const tar = await makeTar([
      { name: 'a/link', type: 'symlink', linkname: '../../..' },
      { name: 'a/link/x', content: 'x' },
      { name: 'b', type: 'symlink', linkname: outside }, // an absolute path that exists on the host
      { name: 'b/sentinel', content: 'overwritten?' },
      { name: 'c', type: 'symlink', linkname: 'a/link/../../../..' + outside },
      { name: 'c/new', content: 'n' },
    ]);
    await applyTar(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'x'), 'utf8')).toBe('x');
    expect(readFileSync(join(dest, outside, 'sentinel'), 'utf8')).toBe('overwritten?');
    expect(readFileSync(join(dest, outside, 'new'), 'utf8')).toBe('n');
    assertNothingOutside();
  });

  it('a symlink chain through several links stays inside', async () => {
    const tar = await makeTar([
      { name: 'l1', type: 'symlink', linkname: 'l2' },
      { name: 'l2', type: 'symlink', linkname: '/l3/../../../' },
      { name: 'l3', type: 'symlink', linkname: '..' },
      { name: 'l1/evil', content: 'x' },
    ]);
    await applyTar(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'evil'), 'utf8')).toBe('x');
    assertNothingOutside();
  });

  it('refuses symlink loops', async () => {
    await refuse(
      [
        { name: 'p', type: 'symlink', linkname: 'q' },
        { name: 'q', type: 'symlink', linkname: 'p' },
        { name: 'p/x', content: 'x' },
      ],
      'layer entry "p/x": too many levels of symbolic links',
    );
  });

  it('refuses a hard link to /etc/passwd (not in the layer)', async () => {
    await refuse([{ name: 'h', type: 'link', linkname: '/etc/passwd' }], 'layer entry "h": hard link target "/etc/passwd" is not in the layer');
    expect(existsSync(join(dest, 'h'))).toBe(false);
  });

  it('refuses a hard link to ../outside', async () => {
    await refuse([{ name: 'h', type: 'link', linkname: '../outside/sentinel' }], 'layer entry "h" escapes the layer directory');
  });

  it('refuses a hard link through a symlink to /etc', async () => {
    await refuse(
      [
        { name: 'e', type: 'symlink', linkname: '/etc' },
        { name: 'h', type: 'link', linkname: 'e/passwd' },
      ],
      'layer entry "h": hard link target "e/passwd" is not in the layer',
    );
  });

  it('a hard link to a symlink pointing outside links the symlink itself', async () => {
    const tar = await makeTar([
      { name: 's', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'h', type: 'link', linkname: 's' },
      { name: 'h', content: 'replaces the link' },
    ]);
    const passwd = sha('/etc/passwd');
    await applyTar(Readable.from([tar]), dest);
    expect(lstatSync(join(dest, 'h')).isFile()).toBe(true);
    expect(sha('/etc/passwd')).toBe(passwd);
    assertNothingOutside();
  });

  it('a whiteout cannot reach outside either', async () => {
    await refuse([{ name: '../.wh.sentinel', content: '' }], 'escapes the layer directory');
    const tar = await makeTar([
      { name: 'o', type: 'symlink', linkname: outside },
      { name: 'o/.wh.sentinel', content: '' },
    ]);
    await applyTar(Readable.from([tar]), dest);
    expect(lstatSync(join(dest, outside, 'sentinel')).isCharacterDevice()).toBe(isRoot);
    assertNothingOutside();
  });

  it('refuses a corrupt tar and a truncated one', async () => {
    const tar = await makeTar([{ name: 'f', content: 'x'.repeat(2000) }]);
    const bad = Buffer.from(tar);
    bad[10] = 0x41; // breaks the header checksum
    await expect(applyTar(Readable.from([bad]), dest)).rejects.toThrow(/Invalid tar header/);
    await expect(applyTar(Readable.from([tar.subarray(0, 1000)]), dest)).rejects.toThrow();
    assertNothingOutside();
  });

  it('passes input errors through', async () => {
    const input = new Readable({
      read() {
        this.destroy(new Error('network went away'));
      },
    });
    await expect(applyTar(input, dest)).rejects.toThrow('network went away');
  });

  it('LayerApplyError is what a hostile entry raises', async () => {
    const tar = await makeTar([{ name: '../evil', content: 'x' }]);
    await expect(applyTar(Readable.from([tar]), dest)).rejects.toBeInstanceOf(LayerApplyError);
  });
});
