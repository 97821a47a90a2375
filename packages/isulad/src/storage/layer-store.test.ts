import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetadataDb } from '../metadata/db';
import { decompressStream, sniffCompression } from './decompress';
import { createDriver, type GraphDriver } from './driver';
import { chainIdOf, LayerStore } from './layer-store';
import { readMountsSync } from './mounts';
import { captureLogger, chunked, makeTar } from './test-helpers';

// A tiny layer compressed once with `zstd -19` (zstd 1.5.4): hello/ (0755), hello/zstd.txt
// ("zstd works\n"), hello/link -> zstd.txt. Its uncompressed tar hashes to ZSTD_DIFF_ID.
const ZSTD_LAYER_B64 =
  'KLUv/WQAC/0DAMIFEhGQPQaAKyOkaGbWlP6H9365UAaIZNYPAABxQgmCjZVmcSBKujkFIXX1He3aDX5Q2bUYJCDMOS8XP/payCRUxIFIaf0HhErpXhUgUCm37f1VgIUKaPItCKaUeIBgIb4q918DWNV0WDhsJg84BEkoAEMApRNILQFA8Do6FSMC4lJy';
const ZSTD_DIFF_ID = 'sha256:ed316140c0f86a89bd656c04a9144129410f771512cfddc82142d3b030638f9c';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const { logger, lines } = captureLogger();

let root: string;
let graph: string;
let driver: GraphDriver;
let db: MetadataDb;
let store: LayerStore;

async function openStore(): Promise<LayerStore> {
  store = await LayerStore.open({ graph, state: join(root, 'run'), driver, db, tmpdir: join(root, 'tmp'), logger });
  return store;
}

beforeEach(async () => {
  root = realpathSync(mkdtempSync('/tmp/isulad-layers-'));
  graph = join(root, 'graph');
  driver = await createDriver('overlay2', { graph, runDir: join(root, 'run'), options: [], logger });
  db = MetadataDb.open(join(graph, 'isulad.db'));
  await openStore();
});

afterEach(async () => {
  await driver.cleanup();
  db.close();
  expect(readMountsSync().filter((m) => m.mountPoint.startsWith(root))).toEqual([]);
  rmSync(root, { recursive: true, force: true });
});

const layerDirs = async () => (await driver.list()).sort();

describe('decompress', () => {
  it('sniffs gzip, zstd and plain', () => {
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Buffer.from('ustar'))).toBe('none');
    expect(sniffCompression(Buffer.from([0x1f]))).toBe('none');
  });

  it.each([
    ['plain', (b: Buffer) => b],
    ['gzip', (b: Buffer) => gzipSync(b)],
  ])('%s round trip, fed in small chunks', async (_n, enc) => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const out: Buffer[] = [];
    for await (const c of decompressStream(chunked(enc(data), 3))) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('zstd fixture, fed one byte at a time', async () => {
    const out: Buffer[] = [];
    for await (const c of decompressStream(chunked(Buffer.from(ZSTD_LAYER_B64, 'base64'), 1))) out.push(c as Buffer);
    expect(sha256(Buffer.concat(out))).toBe(ZSTD_DIFF_ID);
  });

  it('reports corrupt gzip and truncated zstd', async () => {
    const bad = gzipSync(Buffer.from('hello world'.repeat(100)));
    bad[bad.length - 6] ^= 0xff; // breaks the CRC
    await expect(async () => {
      for await (const _ of decompressStream(Readable.from([bad]))) void _;
    }).rejects.toThrow(/gzip/);
    const z = Buffer.from(ZSTD_LAYER_B64, 'base64');
    await expect(async () => {
      for await (const _ of decompressStream(Readable.from([z.subarray(0, z.length - 20)]))) void _;
    }).rejects.toThrow(/zstd/);
  });
});

describe('LayerStore.applyLayer', () => {
  it('applies a gzip layer under its chain id and a child on top', async () => {
    const tar1 = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=test\n' }, { name: 'gone', content: 'x' }]);
    const d1 = sha256(tar1);
    const gz = gzipSync(tar1);
    const l1 = await store.applyLayer(chunked(gz), { parent: null, expectedDiffId: d1, compressedDigest: sha256(gz) });
    expect(l1).toMatchObject({ id: d1.slice(7), parent: null, diffId: d1, compressedDigest: sha256(gz), size: 9, tarSize: tar1.length, refs: 0, kind: 'layer' });
    expect(readFileSync(join(store.diffPath(l1.id), 'etc/os-release'), 'utf8')).toBe('ID=test\n');

    const tar2 = await makeTar([{ name: '.wh.gone', content: '' }, { name: 'etc/new', content: 'new' }]);
    const d2 = sha256(tar2);
    const l2 = await store.applyLayer(Readable.from([tar2]), { parent: l1.id }); // plain, no expected id
    expect(l2.id).toBe(chainIdOf(l1.id, d2));
    expect(l2.id).toBe(createHash('sha256').update(`${d1} ${d2}`).digest('hex'));
    expect(store.get(l1.id)?.refs).toBe(1); // the child holds its parent
    expect(store.list().map((l) => l.id).sort()).toEqual([l1.id, l2.id].sort());
    expect(await layerDirs()).toEqual([l1.id, l2.id].sort());

    const merged = await store.mount(l2.id);
    expect(readdirSync(merged).sort()).toEqual(['etc']);
    expect(readdirSync(join(merged, 'etc')).sort()).toEqual(['new', 'os-release']);
    await store.unmount(l2.id);
  });

  it('applies a zstd layer', async () => {
    const l = await store.applyLayer(Readable.from([Buffer.from(ZSTD_LAYER_B64, 'base64')]), { parent: null, expectedDiffId: ZSTD_DIFF_ID });
    expect(l.id).toBe(ZSTD_DIFF_ID.slice(7));
    expect(readFileSync(join(store.diffPath(l.id), 'hello/link'), 'utf8')).toBe('zstd works\n');
  });

  it('applies a multi-frame zstd layer made by the zstd CLI', async () => {
    const tar = await makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: `${i}`.repeat(5000 + i) })));
    const half = tar.length / 2 - ((tar.length / 2) % 512);
    const zst = Buffer.concat([execFileSync('zstd', ['-c', '-q'], { input: tar.subarray(0, half) }), execFileSync('zstd', ['-c', '-q'], { input: tar.subarray(half) })]);
    const l = await store.applyLayer(chunked(zst, 4096), { parent: null, expectedDiffId: sha256(tar) });
    expect(readFileSync(join(store.diffPath(l.id), 'f49'), 'utf8')).toBe('49'.repeat(5049));
  });

  it('a diff id mismatch removes everything', async () => {
    const tar = await makeTar([{ name: 'f', content: 'f' }]);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(store.applyLayer(Readable.from([gzipSync(tar)]), { parent: null, expectedDiffId: wrong })).rejects.toThrow(
      `layer diff id mismatch: expected ${wrong}, got ${sha256(tar)}`,
    );
    expect(await layerDirs()).toEqual([]);
    expect(db.db.prepare('SELECT COUNT(*) AS n FROM layers').get()).toEqual({ n: 0 });
    expect(readdirSync(join(driver.home, 'l'))).toEqual([]);
  });

  it('a blob digest mismatch, a hostile tar and a broken stream remove everything too', async () => {
    const tar = await makeTar([{ name: 'f', content: 'f' }]);
    await expect(store.applyLayer(Readable.from([tar]), { parent: null, compressedDigest: `sha256:${'1'.repeat(64)}` })).rejects.toThrow(
      /^layer blob digest mismatch: expected sha256:1{64}, got sha256:[0-9a-f]{64}$/,
    );
    const evil = await makeTar([{ name: 'ok', content: 'ok' }, { name: '../../evil', content: 'x' }]);
    await expect(store.applyLayer(Readable.from([gzipSync(evil)]), { parent: null })).rejects.toThrow('layer entry "../../evil" escapes the layer directory');
    const broken = new Readable({
      read() {
        this.push(gzipSync(tar).subarray(0, 20));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.applyLayer(broken, { parent: null })).rejects.toThrow('connection reset');
    expect(await layerDirs()).toEqual([]);
    expect(db.db.prepare('SELECT COUNT(*) AS n FROM layers').get()).toEqual({ n: 0 });
  });

  it('refuses an unknown parent', async () => {
    const tar = await makeTar([{ name: 'f', content: 'f' }]);
    await expect(store.applyLayer(Readable.from([tar]), { parent: 'ab'.repeat(32) })).rejects.toThrow(`parent layer ${'ab'.repeat(32)} not found`);
  });

  it('is idempotent, also for concurrent applies of the same layer', async () => {
    const tar = await makeTar([{ name: 'big', content: 'z'.repeat(2_000_000) }]);
    const d = sha256(tar);
    const gz = gzipSync(tar);
    const withId = await Promise.all([1, 2, 3].map(() => store.applyLayer(chunked(gz, 65536), { parent: null, expectedDiffId: d })));
    expect(new Set(withId.map((l) => l.id))).toEqual(new Set([d.slice(7)]));
    const blind = await Promise.all([1, 2].map(() => store.applyLayer(chunked(gz, 65536), { parent: null })));
    expect(new Set(blind.map((l) => l.id))).toEqual(new Set([d.slice(7)]));
    expect(await layerDirs()).toEqual([d.slice(7)]);
    expect(store.list()).toHaveLength(1);
    expect(readdirSync(join(driver.home, 'l'))).toHaveLength(1);
  });
});

describe('LayerStore references, rw layers, recovery and verification', () => {
  async function twoLayers() {
    const t1 = await makeTar([{ name: 'a', content: 'a' }]);
    const t2 = await makeTar([{ name: 'b', content: 'b' }]);
    const l1 = await store.applyLayer(Readable.from([t1]), { parent: null });
    const l2 = await store.applyLayer(Readable.from([t2]), { parent: l1.id });
    return [l1.id, l2.id] as const;
  }

  it('release at zero removes the layer and, in turn, an unreferenced parent', async () => {
    const [l1, l2] = await twoLayers();
    store.addRef(l1); // an image [l1]
    store.addRef(l1); // an image [l1, l2] holds both
    store.addRef(l2);
    expect(store.get(l1)?.refs).toBe(3);
    await store.release(l2);
    expect(store.get(l2)).toBeUndefined();
    expect(await layerDirs()).toEqual([l1]);
    expect(store.get(l1)?.refs).toBe(2);
    await store.release(l1);
    expect(store.get(l1)?.refs).toBe(1);
    await store.release(l1);
    expect(store.list()).toEqual([]);
    expect(await layerDirs()).toEqual([]);
    expect(readdirSync(join(graph, 'storage/overlay-layers'))).toEqual([]);
    expect(() => store.addRef(l1)).toThrow(`layer ${l1} not found`);
  });

  it('read-write layers hold their image layer; removal releases it', async () => {
    const [l1, l2] = await twoLayers();
    store.addRef(l2);
    const cid = 'c'.repeat(64);
    await store.createRwLayer(cid, l2);
    expect(store.get(cid)).toMatchObject({ kind: 'rw', parent: l2, diffId: null });
    expect(store.get(l2)?.refs).toBe(2);
    const m = await store.mount(cid);
    writeFileSync(join(m, 'container-file'), 'c');
    expect(readdirSync(m).sort()).toEqual(['a', 'b', 'container-file']);
    await store.release(l2); // the image goes; its layers stay for the container
    expect(store.get(l2)?.refs).toBe(1);
    await store.removeRwLayer(cid); // mounted: unmounted on the way
    expect(store.list()).toEqual([]);
    expect(await layerDirs()).toEqual([]);
    void l1;
  });

  it('recover() at open removes incomplete layers, orphan directories and stray manifests', async () => {
    const [l1] = await twoLayers();
    store.addRef(l1);
    // What a kill -9 in the middle of an apply leaves: a complete = 0 row with its directory...
    db.db.prepare("INSERT INTO layers (id, parent, created, complete) VALUES ('tmp-dead', NULL, 'x', 0)").run();
    await driver.create('tmp-dead', null);
    writeFileSync(join(driver.diffPath('tmp-dead'), 'half'), 'half');
    // ...a directory renamed to its chain id but never registered, and a manifest without a layer.
    await driver.create('f'.repeat(64), null);
    writeFileSync(join(graph, 'storage/overlay-layers', `${'e'.repeat(64)}.manifest`), '{}\n');
    writeFileSync(join(graph, 'storage/overlay-layers', `${l1}.manifest.tmp`), '{}\n');

    lines.length = 0;
    await openStore();
    expect(await layerDirs()).toEqual([l1]); // l2 had no reference: pruned too
    expect(db.db.prepare('SELECT id FROM layers').all()).toEqual([{ id: l1 }]);
    expect(readdirSync(join(graph, 'storage/overlay-layers'))).toEqual([`${l1}.manifest`]);
    expect(readdirSync(join(driver.home, 'l'))).toHaveLength(1);
    expect(lines.some((l) => /removed 2 incomplete or unregistered layer\(s\): tmp-dead, f{64}/.test(l.msg))).toBe(true);
  });

  it('verify() passes on an intact layer and detects a modified, truncated or missing file', async () => {
    const tar = await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/tool', mode: 0o755, content: 'real tool\n' },
      { name: 'etc/conf', content: 'k=v\n' },
      { name: 'etc/empty', content: '' },
      { name: 'etc/ln', type: 'symlink', linkname: 'conf' },
      { name: 'etc/hard', type: 'link', linkname: 'etc/conf' },
      { name: '.wh.old', content: '' },
    ]);
    const l = await store.applyLayer(Readable.from([tar]), { parent: null });
    expect(await store.verify(l.id)).toBe(true);
    const diff = store.diffPath(l.id);

    rmSync(join(diff, 'etc/empty')); // empty files are not checked
    rmSync(join(diff, 'etc/ln')); // nor links
    expect(await store.verify(l.id)).toBe(true);

    writeFileSync(join(diff, 'bin/tool'), 'evil tool\n'); // same size, other content
    expect(await store.verify(l.id)).toBe(false);
    expect(lines.at(-1)?.msg).toMatch(/bin\/tool: content changed/);
    writeFileSync(join(diff, 'bin/tool'), 'real tool\n');
    expect(await store.verify(l.id)).toBe(true);

    appendFileSync(join(diff, 'etc/conf'), 'more');
    expect(await store.verify(l.id)).toBe(false);
    writeFileSync(join(diff, 'etc/conf'), 'k=v\n');
    rmSync(join(diff, 'old'));
    expect(await store.verify(l.id)).toBe(false);
    expect(lines.at(-1)?.msg).toMatch(/old: missing/);
    expect(await store.verify('9'.repeat(64))).toBe(false);
  });

  it('prune at open keeps referenced layers', async () => {
    const [l1, l2] = await twoLayers();
    store.addRef(l2);
    await openStore();
    expect(store.list().map((l) => l.id).sort()).toEqual([l1, l2].sort());
  });
});
