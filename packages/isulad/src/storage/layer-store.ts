import { createHash, getHashes, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import type { DaemonLogger } from '../log/logger';
import type { MetadataDb, Migration } from '../metadata/db';
import type { GraphDriver } from './driver';
import { KeyedMutex } from './mutex';
import type { ManifestEntry, ManifestType } from './tar-apply';

export interface LayerInfo {
  /** Chain id hex (image layers) or the container's id (read-write layers). */
  id: string;
  parent: string | null;
  /** `sha256:…` of the uncompressed layer tar; null for read-write layers. */
  diffId: string | null;
  /** Digest of the blob it was applied from, when the caller named one (and it was verified). */
  compressedDigest: string | null;
  /** Bytes of regular file content in the layer. */
  size: number;
  /** Bytes of the uncompressed tar stream. */
  tarSize: number;
  /** ISO time of registration. */
  created: string;
  /** Persistent references: images using it, child layers (image or read-write) on top of it. */
  refs: number;
  kind: 'layer' | 'rw';
}

export interface ApplyLayerOptions {
  parent: string | null;
  /** `sha256:…` the uncompressed stream must hash to (the config's diff id). */
  expectedDiffId?: string;
  /** `algo:hex` the raw (compressed) input must hash to (the manifest's blob digest). */
  compressedDigest?: string;
  /**
   * Settles once `parent` is registered (it is being applied concurrently): the layer is extracted
   * meanwhile and stacked on its parent afterwards. Without it, `parent` must exist already.
   */
  parentReady?: Promise<unknown>;
}

export interface LayerStoreOptions {
  graph: string;
  state: string;
  driver: GraphDriver;
  db: MetadataDb;
  /** ISULAD_TMPDIR: layers are extracted straight into the driver, so nothing is staged here today. */
  tmpdir: string;
  logger: DaemonLogger;
  /**
   * At open, also remove complete image layers nobody references (refs 0): what an interrupted pull
   * or load leaves behind. Default true; needs every image to hold its layers with addRef().
   */
  pruneUnreferenced?: boolean;
}

const MIGRATIONS: Migration[] = [
  `CREATE TABLE layers (
     id TEXT PRIMARY KEY,
     parent TEXT,
     diff_id TEXT,
     compressed_digest TEXT,
     size INTEGER NOT NULL DEFAULT 0,
     tar_size INTEGER NOT NULL DEFAULT 0,
     created TEXT NOT NULL,
     refs INTEGER NOT NULL DEFAULT 0,
     complete INTEGER NOT NULL DEFAULT 0,
     kind TEXT NOT NULL DEFAULT 'layer'
   );
   CREATE INDEX layers_parent ON layers(parent);
   CREATE INDEX layers_diff_id ON layers(diff_id);`,
];

interface Row {
  id: string;
  parent: string | null;
  diff_id: string | null;
  compressed_digest: string | null;
  size: number;
  tar_size: number;
  created: string;
  refs: number;
  complete: number;
  kind: 'layer' | 'rw';
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const TMP_PREFIX = 'tmp-';

const toInfo = (r: Row): LayerInfo => ({
  id: r.id,
  parent: r.parent,
  diffId: r.diff_id,
  compressedDigest: r.compressed_digest,
  size: r.size,
  tarSize: r.tar_size,
  created: r.created,
  refs: r.refs,
  kind: r.kind,
});

/** OCI chain id (hex): the diff id for a base layer, sha256("sha256:<parent> <diffId>") above it. */
export function chainIdOf(parent: string | null, diffId: string): string {
  if (parent === null) return diffId.replace(/^sha256:/, '');
  return createHash('sha256').update(`sha256:${parent.replace(/^sha256:/, '')} ${diffId}`).digest('hex');
}

const bare = (id: string) => id.replace(/^sha256:/, '');

/** Hashes what flows through, counting bytes. */
class HashTap extends Transform {
  readonly hash;
  bytes = 0;
  constructor(algorithm: string) {
    super();
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Image layers (and containers' read-write layers) over a graph driver, with metadata in the shared
 * SQLite database (domain `layers`).
 *
 * Applying a layer: the blob (gzip, zstd or plain) is decompressed and hashed while it streams into a
 * fresh driver layer under a temporary id; once the diff id is known and verified, the layer is renamed
 * to its chain id and registered in one transaction. Rows of layers being written are `complete = 0`,
 * so `recover()` at open removes whatever a crash interrupted.
 *
 * References: `refs` counts images holding the layer (addRef/release) plus layers stacked on it. A
 * layer whose count drops to zero is removed, and releases its parent in turn.
 */
export class LayerStore {
  private readonly locks = new KeyedMutex();
  /** Layers in use by an operation in flight (a parent during an apply): never removed meanwhile. */
  private readonly pins = new Map<string, number>();
  private readonly manifestDir: string;

  private constructor(
    private readonly driver: GraphDriver,
    private readonly meta: MetadataDb,
    private readonly logger: DaemonLogger,
    graph: string,
  ) {
    const dirName = driver.name === 'overlay2' ? 'overlay' : driver.name;
    this.manifestDir = join(graph, 'storage', `${dirName}-layers`);
  }

  static async open(opts: LayerStoreOptions): Promise<LayerStore> {
    opts.db.migrate('layers', MIGRATIONS);
    const store = new LayerStore(opts.driver, opts.db, opts.logger, opts.graph);
    await mkdir(store.manifestDir, { recursive: true, mode: 0o700 });
    await store.recover();
    if (opts.pruneUnreferenced ?? true) await store.prune();
    return store;
  }

  private get db() {
    return this.meta.db;
  }

  private row(id: string): Row | undefined {
    return this.db.prepare('SELECT * FROM layers WHERE id = ?').get(bare(id)) as Row | undefined;
  }

  /** A complete layer by id (chain id hex, `sha256:` accepted), or undefined. */
  get(id: string): LayerInfo | undefined {
    const r = this.row(id);
    return r && r.complete === 1 ? toInfo(r) : undefined;
  }

  list(): LayerInfo[] {
    return (this.db.prepare('SELECT * FROM layers WHERE complete = 1 ORDER BY created, id').all() as Row[]).map(toInfo);
  }

  diffPath(id: string): string {
    return this.driver.diffPath(bare(id));
  }

  private pin(id: string | null): void {
    if (id !== null) this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
  }

  private unpin(id: string | null): void {
    if (id === null) return;
    const n = (this.pins.get(id) ?? 1) - 1;
    if (n <= 0) this.pins.delete(id);
    else this.pins.set(id, n);
  }

  private manifestPath(id: string): string {
    return join(this.manifestDir, `${id}.manifest`);
  }

  /**
   * Applies a layer blob on top of `parent` and returns the registered layer. Idempotent: when the
   * chain id exists already, that layer is returned (with `expectedDiffId` the stream is then
   * destroyed unread, so callers should check get() first). Concurrent applies of the same layer
   * are serialised on the chain id and give one layer.
   */
  async applyLayer(stream: Readable, opts: ApplyLayerOptions): Promise<LayerInfo> {
    const parent = opts.parent === null ? null : bare(opts.parent);
    if (opts.expectedDiffId !== undefined && !DIGEST_RE.test(opts.expectedDiffId)) {
      stream.destroy();
      throw new Error(`invalid diff id ${opts.expectedDiffId}`);
    }
    if (parent !== null && opts.parentReady === undefined) {
      const p = this.get(parent);
      if (!p || p.kind !== 'layer') {
        stream.destroy();
        throw new Error(`parent layer ${parent} not found`);
      }
    }
    const known = opts.expectedDiffId !== undefined ? chainIdOf(parent, opts.expectedDiffId) : undefined;
    this.pin(parent);
    try {
      if (known === undefined) return await this.extractAndRegister(stream, parent, opts, false);
      return await this.locks.run(known, async () => {
        const existing = this.get(known);
        if (existing) {
          stream.destroy();
          return existing;
        }
        return this.extractAndRegister(stream, parent, opts, true);
      });
    } finally {
      this.unpin(parent);
    }
  }

  private async extractAndRegister(stream: Readable, parent: string | null, opts: ApplyLayerOptions, locked: boolean): Promise<LayerInfo> {
    const tmpId = `${TMP_PREFIX}${randomBytes(12).toString('hex')}`;
    this.db
      .prepare('INSERT INTO layers (id, parent, created, complete) VALUES (?, ?, ?, 0)')
      .run(tmpId, parent, new Date().toISOString());
    let renamedTo: string | undefined;
    try {
      // A parent still being applied elsewhere: extract now, stack on it once it is registered.
      const stackLater = parent !== null && opts.parentReady !== undefined;
      await this.driver.create(tmpId, stackLater ? null : parent);

      let blobTap: HashTap | undefined;
      let blobAlgo: string | undefined;
      if (opts.compressedDigest !== undefined) {
        const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(opts.compressedDigest);
        if (!m || !getHashes().includes(m[1]!)) throw new Error(`unsupported blob digest ${opts.compressedDigest}`);
        blobAlgo = m[1]!;
        blobTap = new HashTap(blobAlgo);
      }
      const diffTap = new HashTap('sha256');
      // tar-stream and the zstd decoder load on the first layer, not at every daemon start.
      const [{ createDecompressor }, { applyTar }] = await Promise.all([import('./decompress.js'), import('./tar-apply.js')]);
      const stages = [stream, ...(blobTap ? [blobTap] : []), createDecompressor(), diffTap] as const;
      let pipeError: Error | undefined;
      pipeline(stages as unknown as [Readable, Transform], (err) => {
        if (err) pipeError = err;
      });
      const result = await applyTar(diffTap, this.driver.diffPath(tmpId), { logger: this.logger, manifest: true });
      if (pipeError) throw pipeError;

      if (blobTap) {
        const got = `${blobAlgo}:${blobTap.hash.digest('hex')}`;
        if (got !== opts.compressedDigest) throw new Error(`layer blob digest mismatch: expected ${opts.compressedDigest}, got ${got}`);
      }
      const diffId = `sha256:${diffTap.hash.digest('hex')}`;
      if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
        throw new Error(`layer diff id mismatch: expected ${opts.expectedDiffId}, got ${diffId}`);
      }
      const chainId = chainIdOf(parent, diffId);
      if (stackLater) {
        await opts.parentReady;
        const p = this.get(parent!);
        if (!p || p.kind !== 'layer') throw new Error(`parent layer ${parent} not found`);
        await this.driver.setParent(tmpId, parent!);
      }

      const register = async (): Promise<LayerInfo> => {
        const existing = this.get(chainId);
        if (existing) {
          await this.discardTemp(tmpId);
          return existing;
        }
        await this.writeManifest(chainId, diffId, result.manifest ?? []);
        if (await this.driver.exists(chainId)) {
          this.logger.warn(`layer ${chainId}: removing a stale, unregistered layer directory`);
          await this.driver.remove(chainId);
        }
        await this.driver.rename(tmpId, chainId);
        renamedTo = chainId;
        this.meta.transaction(() => {
          this.db.prepare('DELETE FROM layers WHERE id = ?').run(tmpId);
          this.db
            .prepare(
              `INSERT INTO layers (id, parent, diff_id, compressed_digest, size, tar_size, created, refs, complete, kind)
               VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1, 'layer')`,
            )
            .run(chainId, parent, diffId, opts.compressedDigest ?? null, result.size, diffTap.bytes, new Date().toISOString());
          if (parent !== null) this.db.prepare('UPDATE layers SET refs = refs + 1 WHERE id = ?').run(parent);
        });
        this.logger.debug(`layer ${chainId} registered (diff ${diffId}, ${result.size} bytes)`);
        return this.get(chainId)!;
      };
      return await (locked ? register() : this.locks.run(chainId, register));
    } catch (err) {
      if (renamedTo === undefined) {
        await this.discardTemp(tmpId).catch((e: Error) => this.logger.warn(`layer ${tmpId}: cleanup failed: ${e.message}`));
      } else {
        // Renamed but not registered: recover() would find a directory without a row; do it now.
        await this.driver.remove(renamedTo).catch(() => undefined);
        await rm(this.manifestPath(renamedTo), { force: true });
        this.db.prepare('DELETE FROM layers WHERE id = ? AND complete = 0').run(tmpId);
      }
      if (!stream.destroyed) stream.destroy();
      throw err;
    }
  }

  private async discardTemp(tmpId: string): Promise<void> {
    await this.driver.remove(tmpId);
    this.db.prepare('DELETE FROM layers WHERE id = ?').run(tmpId);
  }

  private async writeManifest(id: string, diffId: string, entries: ManifestEntry[]): Promise<void> {
    const lines = [JSON.stringify({ version: 1, diffId })];
    for (const e of entries) lines.push(JSON.stringify([e.path, e.type, e.size ?? 0, e.sha256 ?? '']));
    const file = this.manifestPath(id);
    await writeFile(`${file}.tmp`, `${lines.join('\n')}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /**
   * One more persistent reference (an image now uses the layer). Synchronous, so it can run inside
   * the caller's own transaction (better-sqlite3 nests transactions as savepoints).
   */
  addRef(id: string): number {
    const r = this.row(id);
    if (!r || r.complete !== 1) throw new Error(`layer ${bare(id)} not found`);
    this.db.prepare('UPDATE layers SET refs = refs + 1 WHERE id = ?').run(r.id);
    return r.refs + 1;
  }

  /**
   * Drops one reference; at zero the layer goes (unless an operation in flight pins it; the next
   * start's prune then takes it), and releases its parent in turn.
   */
  async release(id: string): Promise<void> {
    const removed = this.meta.transaction(() => {
      const r = this.row(id);
      if (!r || r.complete !== 1) throw new Error(`layer ${bare(id)} not found`);
      const refs = Math.max(0, r.refs - 1);
      this.db.prepare('UPDATE layers SET refs = ? WHERE id = ?').run(refs, r.id);
      return refs === 0 ? this.unregisterChain(r.id) : [];
    });
    await this.removeDirs(removed);
  }

  /** Deletes the row of an unreferenced layer and, transitively, parents that this leaves unreferenced. */
  private unregisterChain(id: string): string[] {
    const removed: string[] = [];
    let cur: string | null = id;
    while (cur !== null) {
      const r = this.row(cur);
      if (!r || r.refs > 0 || this.pins.has(cur)) break;
      this.db.prepare('DELETE FROM layers WHERE id = ?').run(cur);
      removed.push(cur);
      if (r.parent === null) break;
      this.db.prepare('UPDATE layers SET refs = MAX(refs - 1, 0) WHERE id = ?').run(r.parent);
      cur = r.parent;
    }
    return removed;
  }

  /** Driver directories and manifests of unregistered layers; each under its id's lock. */
  private async removeDirs(ids: string[]): Promise<void> {
    await Promise.all(
      ids.map((id) =>
        this.locks.run(id, async () => {
          await this.driver.remove(id);
          await rm(this.manifestPath(id), { force: true });
          this.logger.debug(`layer ${id} removed`);
        }),
      ),
    );
  }

  /** A container's read-write layer on top of an image's top layer (null: an empty rootfs). */
  async createRwLayer(id: string, parentChainId: string | null): Promise<void> {
    const parent = parentChainId === null ? null : bare(parentChainId);
    if (parent !== null && !this.get(parent)) throw new Error(`parent layer ${parent} not found`);
    if (this.row(id)) throw new Error(`layer ${id} already exists`);
    this.pin(parent);
    try {
      this.db.prepare("INSERT INTO layers (id, parent, created, complete, kind) VALUES (?, ?, ?, 0, 'rw')").run(id, parent, new Date().toISOString());
      try {
        await this.driver.create(id, parent);
      } catch (err) {
        this.db.prepare('DELETE FROM layers WHERE id = ?').run(id);
        await this.driver.remove(id).catch(() => undefined);
        throw err;
      }
      this.meta.transaction(() => {
        this.db.prepare('UPDATE layers SET complete = 1 WHERE id = ?').run(id);
        if (parent !== null) this.db.prepare('UPDATE layers SET refs = refs + 1 WHERE id = ?').run(parent);
      });
    } finally {
      this.unpin(parent);
    }
  }

  /** Removes a container's read-write layer (unmounting it) and releases its parent. */
  async removeRwLayer(id: string): Promise<void> {
    const removed = this.meta.transaction(() => {
      const r = this.row(id);
      if (!r) return [];
      if (r.kind !== 'rw') throw new Error(`layer ${id} is not a read-write layer`);
      this.db.prepare('DELETE FROM layers WHERE id = ?').run(id);
      if (r.parent === null) return [id];
      this.db.prepare('UPDATE layers SET refs = MAX(refs - 1, 0) WHERE id = ?').run(r.parent);
      const parent = this.row(r.parent);
      return parent && parent.refs === 0 ? [id, ...this.unregisterChain(r.parent)] : [id];
    });
    await this.removeDirs(removed.length > 0 ? removed : [id]);
  }

  mount(id: string): Promise<string> {
    return this.driver.mount(bare(id));
  }

  unmount(id: string): Promise<void> {
    return this.driver.unmount(bare(id));
  }

  /**
   * `--image-layer-check`: compares the layer's directory with the manifest recorded when it was
   * applied. Regular files with content must exist with the same size and sha256; device nodes,
   * fifos and whiteouts must exist with their type. Empty files, directories and links (symbolic and
   * hard) are not checked.
   */
  async verify(id: string): Promise<boolean> {
    const r = this.row(id);
    if (!r || r.complete !== 1) {
      this.logger.warn(`layer check: layer ${bare(id)} not found`);
      return false;
    }
    if (r.kind !== 'layer') return true;
    let text: string;
    try {
      text = await readFile(this.manifestPath(r.id), 'utf8');
    } catch (err) {
      this.logger.warn(`layer check: layer ${r.id} has no manifest: ${(err as Error).message}`);
      return false;
    }
    const diff = this.driver.diffPath(r.id);
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      if (lines[i] === '') continue;
      const [path, type, size, sha] = JSON.parse(lines[i]!) as [string, ManifestType, number, string];
      const problem = await checkEntry(join(diff, path), type, size, sha);
      if (problem !== null) {
        this.logger.warn(`layer check: layer ${r.id}: ${path}: ${problem}`);
        return false;
      }
    }
    return true;
  }

  /**
   * Start-up cleanup after a crash: rows of layers being written (complete = 0), driver directories
   * without a row, manifests without a layer.
   */
  async recover(): Promise<string[]> {
    const removed: string[] = [];
    const incomplete = this.db.prepare('SELECT id FROM layers WHERE complete = 0').all() as Array<{ id: string }>;
    for (const { id } of incomplete) {
      await this.driver.remove(id);
      await rm(this.manifestPath(id), { force: true });
      this.db.prepare('DELETE FROM layers WHERE id = ? AND complete = 0').run(id);
      removed.push(id);
    }
    const known = new Set((this.db.prepare('SELECT id FROM layers').all() as Array<{ id: string }>).map((r) => r.id));
    for (const id of await this.driver.list()) {
      if (known.has(id)) continue;
      await this.driver.remove(id);
      removed.push(id);
    }
    for (const file of await readdir(this.manifestDir)) {
      const id = file.replace(/\.manifest(\.tmp)?$/, '');
      if (id === file) continue;
      if (file.endsWith('.tmp') || !known.has(id)) await rm(join(this.manifestDir, file), { force: true });
    }
    if (removed.length > 0) this.logger.warn(`layer store: removed ${removed.length} incomplete or unregistered layer(s): ${removed.join(', ')}`);
    return removed;
  }

  /** Removes image layers no image or layer references (what an interrupted pull or load leaves). */
  async prune(): Promise<string[]> {
    const ids = (this.db.prepare("SELECT id FROM layers WHERE complete = 1 AND kind = 'layer' AND refs = 0").all() as Array<{ id: string }>).map((r) => r.id);
    const removed = this.meta.transaction(() => ids.flatMap((id) => this.unregisterChain(id)));
    await this.removeDirs(removed);
    if (removed.length > 0) this.logger.info(`layer store: pruned ${removed.length} unreferenced layer(s)`);
    return removed;
  }
}

async function checkEntry(path: string, type: ManifestType, size: number, sha: string): Promise<string | null> {
  if (type === 'dir' || type === 'symlink' || type === 'hardlink') return null;
  if (type === 'file' && size === 0) return null;
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 'missing';
  }
  switch (type) {
    case 'file': {
      if (!st.isFile()) return 'not a regular file any more';
      if (st.size !== size) return `size ${st.size}, expected ${size}`;
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      const got = hash.digest('hex');
      return got === sha ? null : `content changed (sha256 ${got}, expected ${sha})`;
    }
    case 'char':
    case 'whiteout':
      if (!st.isCharacterDevice()) return 'not a character device any more';
      if (type === 'whiteout' && st.rdev !== 0) return 'not a whiteout any more';
      return null;
    case 'block':
      return st.isBlockDevice() ? null : 'not a block device any more';
    case 'fifo':
      return st.isFIFO() ? null : 'not a fifo any more';
  }
  return null;
}
