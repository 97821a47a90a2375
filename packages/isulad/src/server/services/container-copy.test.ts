import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ContainerService } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import type { ContainerRecord } from '../../container/types';
import { bindBidi, grpcDefinition } from '../grpc-adapter';
import { ARCHIVE_BLOCK_SIZE, headerJson, prepareArchiveCopy, preserveTrailingDotOrSeparator, splitPathDirEntry } from '@isula/protocol';
import { containerAbsPath, containerCopy, entryComponents, extractInScope, resolveContainerPath, statContainerPath } from './container-copy';

const dir = mkdtempSync(join(tmpdir(), 'cp-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string; linkname?: string; mode?: number };

/** A tar archive of `entries`, made with tar-stream (so hostile names can be written). */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = tarPack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.body ?? '');
    else p.entry({ name: e.name, type, linkname: e.linkname, mode: e.mode ?? 0o755 });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('cp path semantics (docker/iSulad archive rules)', () => {
  it('keeps a trailing separator or /. through cleaning', () => {
    expect(preserveTrailingDotOrSeparator('/a/b', 'a/b/')).toBe('/a/b/');
    expect(preserveTrailingDotOrSeparator('/a/b', 'a/b/.')).toBe('/a/b/.');
    expect(preserveTrailingDotOrSeparator('/a/b', 'a/b')).toBe('/a/b');
    expect(containerAbsPath('x/../y/')).toBe('/y/');
    expect(containerAbsPath('../../etc/passwd')).toBe('/etc/passwd');
    expect(containerAbsPath('/')).toBe('/');
  });

  it('splits a path into directory and entry', () => {
    expect(splitPathDirEntry('/a/b')).toEqual({ dir: '/a', base: 'b' });
    expect(splitPathDirEntry('/a/b/')).toEqual({ dir: '/a', base: 'b' });
    expect(splitPathDirEntry('/a/b/.')).toEqual({ dir: '/a/b', base: '.' });
    expect(splitPathDirEntry('/')).toEqual({ dir: '/', base: '/' });
    expect(splitPathDirEntry('file')).toEqual({ dir: '.', base: 'file' });
  });

  it('prepareArchiveCopy: upstream cases and error texts', () => {
    const file = { path: '/host/f.txt', exists: true, isDir: false };
    const dirSrc = { path: '/host/d', exists: true, isDir: true };
    expect(prepareArchiveCopy(file, { path: '/tmp', exists: true, isDir: true })).toEqual({ dstDir: '/tmp' });
    expect(prepareArchiveCopy(file, { path: '/tmp/g.txt', exists: true, isDir: false })).toEqual({ dstDir: '/tmp', rename: { from: 'f.txt', to: 'g.txt' } });
    expect(() => prepareArchiveCopy(dirSrc, { path: '/tmp/g.txt', exists: true, isDir: false })).toThrow('cannot copy directory to file');
    expect(prepareArchiveCopy(dirSrc, { path: '/tmp/new', exists: false, isDir: false })).toEqual({ dstDir: '/tmp', rename: { from: 'd', to: 'new' } });
    expect(() => prepareArchiveCopy(file, { path: '/tmp/new/', exists: false, isDir: false })).toThrow('no such directory, can not copy file');
    expect(prepareArchiveCopy(file, { path: '/tmp/new', exists: false, isDir: false })).toEqual({ dstDir: '/tmp', rename: { from: 'f.txt', to: 'new' } });
    expect(prepareArchiveCopy({ ...file, rebaseName: 'link' }, { path: '/n', exists: false, isDir: false }).rename).toEqual({ from: 'link', to: 'n' });
    expect(prepareArchiveCopy({ path: '/host/d/.', exists: true, isDir: true }, { path: '/new', exists: false, isDir: false }).rename).toEqual({ from: '.', to: 'new' });
  });

  it('entry names: renamed top entry, . dropped, .. climbing out refused', () => {
    expect(entryComponents('./a/b', { from: '.', to: 'new' })).toEqual(['new', 'a', 'b']);
    expect(entryComponents('d/x', { from: 'd', to: 'e' })).toEqual(['e', 'x']);
    expect(entryComponents('dd/x', { from: 'd', to: 'e' })).toEqual(['dd', 'x']);
    expect(entryComponents('/abs/x')).toEqual(['abs', 'x']);
    expect(entryComponents('a/../b')).toEqual(['b']);
    expect(() => entryComponents('../x')).toThrow(/escapes/);
    expect(() => entryComponents('a/../../x')).toThrow(/escapes/);
  });

  it('headerJson escapes non-ASCII and stays the same JSON', () => {
    const v = { Name: 'été 東京', Size: 1 };
    const s = headerJson(v);
    expect(/^[\x20-\x7e]*$/.test(s)).toBe(true);
    expect(JSON.parse(s)).toEqual(v);
  });
});

describe('resolution and extraction stay inside the rootfs', () => {
  let root: string;
  let outside: string;

  beforeEach(() => {
    const base = mkdtempSync(join(dir, 'case-'));
    root = join(base, 'rootfs');
    outside = join(base, 'outside');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'host secret');
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    // Hostile links a container could hold: absolute, and relative climbing out.
    symlinkSync('/', join(root, 'tmp', 'toroot'));
    symlinkSync('../../../../../../../..' + outside, join(root, 'tmp', 'climb'));
    symlinkSync(outside, join(root, 'tmp', 'hostabs'));
  });

  it('resolveContainerPath follows symlinks as if the rootfs were /, never the last component', async () => {
    expect((await resolveContainerPath(root, '/tmp/toroot/etc/passwd')).resolved).toBe(join(root, 'etc', 'passwd'));
    expect((await resolveContainerPath(root, '../../../etc/passwd')).resolved).toBe(join(root, 'etc', 'passwd'));
    expect((await resolveContainerPath(root, '/tmp/climb/secret')).resolved.startsWith(root + '/')).toBe(true);
    expect((await resolveContainerPath(root, '/tmp/hostabs')).resolved).toBe(join(root, 'tmp', 'hostabs'));
    expect((await resolveContainerPath(root, '/tmp/hostabs/')).resolved).toBe(join(root, outside) + '/');
  });

  it('statContainerPath: upstream fields; a symlink target resolved in scope', async () => {
    const { resolved, abs } = await resolveContainerPath(root, '/etc/passwd');
    const st = await statContainerPath(root, resolved, abs);
    expect(st).toMatchObject({ Name: 'passwd', Size: 26 });
    expect(st.Mode & 0o170000).toBe(0o100000);
    expect(st.Mtime.seconds).toBeGreaterThan(1_600_000_000);
    expect(st.LinkTarget).toBeUndefined();
    const l = await resolveContainerPath(root, '/tmp/hostabs');
    expect((await statContainerPath(root, l.resolved, l.abs)).LinkTarget).toBe(outside);
    await expect(statContainerPath(root, join(root, 'nope'), '/nope')).rejects.toThrow(`lstat ${join(root, 'nope')}: No such file or directory`);
  });

  it('extracts files, dirs, symlinks, hard links with modes, renaming the top entry', async () => {
    const tar = await tarOf([
      { name: 'src/', type: 'directory', mode: 0o750 },
      { name: 'src/a.txt', body: 'A', mode: 0o600 },
      { name: 'src/sub/', type: 'directory' },
      { name: 'src/sub/b.txt', body: 'B' },
      { name: 'src/ln', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'src/hard', type: 'link', linkname: 'src/a.txt' },
    ]);
    await extractInScope(Readable.from([tar]), root, join(root, 'tmp'), { rename: { from: 'src', to: 'dst' } });
    expect(readFileSync(join(root, 'tmp/dst/a.txt'), 'utf8')).toBe('A');
    expect(lstatSync(join(root, 'tmp/dst/a.txt')).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(root, 'tmp/dst')).mode & 0o777).toBe(0o750);
    expect(readFileSync(join(root, 'tmp/dst/sub/b.txt'), 'utf8')).toBe('B');
    expect(readlinkSync(join(root, 'tmp/dst/ln'))).toBe('/etc/passwd');
    expect(lstatSync(join(root, 'tmp/dst/hard')).ino).toBe(lstatSync(join(root, 'tmp/dst/a.txt')).ino);
  });

  it('writes through the container’s symlinks land inside the rootfs, never on the host', async () => {
    const tar = await tarOf([
      { name: 'toroot/etc/evil', body: 'x' }, // toroot -> /  (container's /)
      { name: 'climb/secret', body: 'overwritten?' }, // climb -> ../../../..<outside>
      { name: 'hostabs/new', body: 'x' }, // hostabs -> <outside> (absolute host-looking path)
    ]);
    await extractInScope(Readable.from([tar]), root, join(root, 'tmp'));
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host secret');
    expect(existsSync(join(outside, 'new'))).toBe(false);
    expect(readFileSync(join(root, 'etc', 'evil'), 'utf8')).toBe('x');
    expect(readFileSync(join(root, outside, 'secret'), 'utf8')).toBe('overwritten?');
    expect(readFileSync(join(root, outside, 'new'), 'utf8')).toBe('x');
  });

  it('an archive that plants a symlink then writes through it stays inside', async () => {
    const tar = await tarOf([
      { name: 'esc', type: 'symlink', linkname: outside },
      { name: 'esc/planted', body: 'x' },
      { name: 'esc2', type: 'symlink', linkname: '../../../../../../..' },
      { name: 'esc2/tmp/planted2', body: 'y' },
    ]);
    await extractInScope(Readable.from([tar]), root, join(root, 'tmp'));
    expect(existsSync(join(outside, 'planted'))).toBe(false);
    expect(readFileSync(join(root, outside, 'planted'), 'utf8')).toBe('x');
    expect(readFileSync(join(root, 'tmp', 'planted2'), 'utf8')).toBe('y');
  });

  it('a final component that is a symlink is replaced, not followed', async () => {
    symlinkSync(join(outside, 'secret'), join(root, 'tmp', 'victim'));
    await extractInScope(Readable.from([await tarOf([{ name: 'victim', body: 'new content' }])]), root, join(root, 'tmp'));
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host secret');
    expect(lstatSync(join(root, 'tmp', 'victim')).isFile()).toBe(true);
  });

  it('refuses names and hard links climbing out of the destination', async () => {
    await expect(extractInScope(Readable.from([await tarOf([{ name: '../../evil', body: 'x' }])]), root, join(root, 'tmp'))).rejects.toThrow(/escapes/);
    await expect(extractInScope(Readable.from([await tarOf([{ name: 'h', type: 'link', linkname: '../../../etc/passwd' }])]), root, join(root, 'tmp'))).rejects.toThrow(/escapes/);
    // A hard link through a container symlink resolves in scope: it links the container's file.
    await extractInScope(Readable.from([await tarOf([{ name: 'h2', type: 'link', linkname: 'hostabs/../toroot/etc/passwd' }])]), root, join(root, 'tmp'));
    expect(readFileSync(join(root, 'tmp', 'h2'), 'utf8')).toContain('root:x:0:0');
    expect(existsSync(join(dir, 'evil'))).toBe(false);
  });
});

// ---- the service over grpc-js, with a fake container domain ------------------------------------------

describe('CopyFromContainer / CopyToContainer over gRPC', () => {
  const sock = join(dir, 'copy.sock');
  const root = join(dir, 'svc-rootfs');
  let server: grpc.Server;
  let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const calls: string[] = [];
  const rec = { id: 'c'.repeat(64), name: 'web', state: { status: 'running' }, hostConfig: {} } as unknown as ContainerRecord;
  const box = {
    find: (ref: string) => {
      if (ref !== 'web' && ref !== rec.id) throw new ContainerError(`No such container:${ref}`);
      return rec;
    },
    withRootfs: async <T>(_id: string, fn: (rootfs: string) => Promise<T>) => {
      calls.push('mount');
      try {
        return await fn(root);
      } finally {
        calls.push('unmount');
      }
    },
    pause: async () => void calls.push('pause'),
    resume: async () => void calls.push('resume'),
  } as unknown as Containers;
  const log = { debug: () => undefined, error: () => undefined };

  beforeAll(async () => {
    mkdirSync(join(root, 'data', 'sub'), { recursive: true });
    writeFileSync(join(root, 'data', 'small.txt'), 'hello from the container\n');
    writeFileSync(join(root, 'data', 'sub', 'big.bin'), Buffer.alloc(300 * 1024, 7));
    symlinkSync('/', join(root, 'escape'));
    server = new grpc.Server();
    server.addService(grpcDefinition(ContainerService), bindBidi(ContainerService, containerCopy(box), log));
    await new Promise<number>((res, rej) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    const Ctor = grpc.makeGenericClientConstructor(grpcDefinition(ContainerService), 'ContainerService');
    client = new Ctor(`unix://${sock}`, grpc.credentials.createInsecure()) as never;
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  function copyFrom(id: string, srcpath: string): Promise<{ stat?: Record<string, unknown>; chunks: Buffer[]; err?: grpc.ServiceError }> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let stat: Record<string, unknown> | undefined;
      const call = client.CopyFromContainer({ id, runtime: '', srcpath }) as grpc.ClientReadableStream<{ data: Buffer }>;
      call.on('metadata', (md: grpc.Metadata) => {
        const raw = md.get('isulad-container-path-stat')[0];
        if (raw !== undefined) stat = JSON.parse(String(raw)) as Record<string, unknown>;
      });
      call.on('data', (m: { data: Buffer }) => chunks.push(Buffer.from(m.data)));
      call.on('error', (err: grpc.ServiceError) => resolve({ stat, chunks, err }));
      call.on('end', () => resolve({ stat, chunks }));
    });
  }

  function copyTo(metadata: Record<string, string>, tar: Buffer): Promise<{ finish: boolean[]; err?: grpc.ServiceError }> {
    return new Promise((resolve) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      const call = client.CopyToContainer(md) as grpc.ClientDuplexStream<{ data: Buffer }, { finish: boolean }>;
      const finish: boolean[] = [];
      call.on('data', (m: { finish: boolean }) => finish.push(m.finish));
      call.on('error', (err: grpc.ServiceError) => resolve({ finish, err }));
      call.on('end', () => resolve({ finish }));
      for (let off = 0; off < tar.length; off += ARCHIVE_BLOCK_SIZE) call.write({ data: tar.subarray(off, off + ARCHIVE_BLOCK_SIZE) });
      call.end();
    });
  }

  it('CopyFromContainer: path stat as initial metadata, an empty first message, then the tar in ≤32 KiB messages', async () => {
    calls.length = 0;
    const { stat, chunks, err } = await copyFrom('web', '/data');
    expect(err).toBeUndefined();
    expect(stat).toMatchObject({ Name: 'data', Size: expect.any(Number), Mtime: { seconds: expect.any(Number), nanos: expect.any(Number) } });
    expect((stat!.Mode as number) & 0o170000).toBe(0o040000);
    expect(chunks[0]!.length).toBe(0);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(ARCHIVE_BLOCK_SIZE);
    const out = join(dir, 'out1');
    mkdirSync(out);
    execFileSync('tar', ['-x', '-C', out], { input: Buffer.concat(chunks) });
    expect(readFileSync(join(out, 'data', 'small.txt'), 'utf8')).toBe('hello from the container\n');
    expect(readFileSync(join(out, 'data', 'sub', 'big.bin')).length).toBe(300 * 1024);
    expect(calls).toEqual(['pause', 'mount', 'unmount', 'resume']);
  });

  it('CopyFromContainer: `dir/.` archives the contents; a path through a symlink stays in the rootfs', async () => {
    const { chunks } = await copyFrom('web', '/data/.');
    const names = execFileSync('tar', ['-t'], { input: Buffer.concat(chunks) }).toString().split('\n');
    expect(names).toContain('./small.txt');
    const esc = await copyFrom('web', '/escape/data/small.txt');
    expect(esc.err).toBeUndefined();
    expect(esc.stat).toMatchObject({ Name: 'small.txt', Size: 25 });
    const up = await copyFrom('web', '../../../../data/small.txt');
    expect(up.stat).toMatchObject({ Name: 'small.txt' });
  });

  it('CopyFromContainer errors: UNKNOWN with upstream texts, no path stat', async () => {
    const missing = await copyFrom('nope', '/data');
    expect(missing.err?.code).toBe(grpc.status.UNKNOWN);
    expect(missing.err?.details).toBe('No such container:nope');
    const empty = await copyFrom('web', '');
    expect(empty.err?.details).toBe('bad parameter: path cannot be empty');
    const gone = await copyFrom('web', '/no/such');
    expect(gone.err?.details).toBe(`lstat ${join(root, 'no/such')}: No such file or directory`);
    expect(gone.stat).toBeUndefined();
  });

  it('CopyToContainer: request JSON in metadata, tar in data messages, finish then OK', async () => {
    const tar = await tarOf([
      { name: 'hostdir/', type: 'directory' },
      { name: 'hostdir/one.txt', body: 'one' },
      { name: 'hostdir/big.bin', body: 'z'.repeat(100_000) },
    ]);
    const req = { id: 'web', runtime: '', srcPath: '/home/u/hostdir', srcIsdir: true, srcRebaseName: '', dstPath: '/data/copied' };
    const res = await copyTo({ 'isulad-copy-to-container': JSON.stringify(req) }, tar);
    expect(res.err).toBeUndefined();
    expect(res.finish).toEqual([true]);
    expect(readFileSync(join(root, 'data', 'copied', 'one.txt'), 'utf8')).toBe('one');
    expect(readFileSync(join(root, 'data', 'copied', 'big.bin')).length).toBe(100_000);
    // Into an existing directory: no renaming.
    const res2 = await copyTo({ 'isulad-copy-to-container': JSON.stringify({ ...req, dstPath: '/data' }) }, tar);
    expect(res2.err).toBeUndefined();
    expect(readFileSync(join(root, 'data', 'hostdir', 'one.txt'), 'utf8')).toBe('one');
  });

  it('CopyToContainer through the container’s symlink to / lands in the rootfs', async () => {
    const tar = await tarOf([{ name: 'f.txt', body: 'via link' }]);
    const req = { id: 'web', srcPath: '/h/f.txt', srcIsdir: false, dstPath: '/escape/tmp-f.txt' };
    const res = await copyTo({ 'isulad-copy-to-container': JSON.stringify(req) }, tar);
    expect(res.err).toBeUndefined();
    expect(readFileSync(join(root, 'tmp-f.txt'), 'utf8')).toBe('via link');
    expect(existsSync('/tmp-f.txt')).toBe(false);
  });

  it('CopyToContainer errors: finish, then UNKNOWN with upstream texts', async () => {
    const tar = await tarOf([{ name: 'f.txt', body: 'x' }]);
    const none = await copyTo({}, tar);
    expect(none.err?.details).toBe("No metadata 'isulad-copy-to-container' received");
    expect(none.finish).toEqual([true]);
    const bad = await copyTo({ 'isulad-copy-to-container': '{nope' }, tar);
    expect(bad.err?.details).toMatch(/^Invalid copy to container json: /);
    const notDir = await copyTo({ 'isulad-copy-to-container': JSON.stringify({ id: 'web', srcPath: '/h/f.txt', srcIsdir: false, dstPath: '/no/such/dir/' }) }, tar);
    expect(notDir.err?.details).toBe('no such directory, can not copy file');
    const dirToFile = await copyTo({ 'isulad-copy-to-container': JSON.stringify({ id: 'web', srcPath: '/h/d', srcIsdir: true, dstPath: '/data/small.txt' }) }, tar);
    expect(dirToFile.err?.details).toBe('cannot copy directory to file');
    const hostile = await copyTo({ 'isulad-copy-to-container': JSON.stringify({ id: 'web', srcPath: '/h/f.txt', srcIsdir: false, dstPath: '/data' }) }, await tarOf([{ name: '../../../../x', body: 'x' }]));
    expect(hostile.err?.details).toMatch(/^Can not untar to container: .*escapes/);
    expect(hostile.finish).toEqual([true]);
  });
});
