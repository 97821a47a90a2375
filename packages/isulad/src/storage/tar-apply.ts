import { createHash, type Hash } from 'node:crypto';
import { constants as FS, type Stats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readlink, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { extract as tarExtract, type Header } from 'tar-stream';
import type { DaemonLogger } from '../log/logger';
import { native } from '../os/native';
import { PaxXattrTap } from './pax-tap';

/** What one layer entry left on disk, for `--image-layer-check` (see LayerStore.verify). */
export type ManifestType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'whiteout';

export interface ManifestEntry {
  /** Path relative to the layer directory, as it ended up on disk. */
  path: string;
  type: ManifestType;
  /** Content size of regular files. */
  size?: number;
  /** sha256 hex of regular file content. */
  sha256?: string;
}

export interface ApplyTarOptions {
  logger?: Pick<DaemonLogger, 'warn' | 'debug'>;
  /**
   * Whether device nodes and ownership can be applied; defaults to "running as root". Without it,
   * char/block devices are skipped with a warning (mknod needs CAP_MKNOD) and failed chowns are
   * ignored with one warning. Overlay whiteouts are 0:0 char devices too: they fail without it.
   */
  privileged?: boolean;
  /** Record a manifest of the applied content (per-file sha256); returned in the result. */
  manifest?: boolean;
}

export interface ApplyTarResult {
  /** Bytes of regular file content written. */
  size: number;
  /** Only with `manifest: true`: the entries present at the end, in tar order. */
  manifest?: ManifestEntry[];
}

/** A refused layer: a hostile or malformed entry. Nothing outside the destination was touched. */
export class LayerApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerApplyError';
  }
}

const escapeError = (name: string) => new LayerApplyError(`layer entry "${name}" escapes the layer directory`);

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const MAX_SYMLINKS = 255;
/** File content is written in batches of about this size (fewer syscalls than one per tar chunk). */
const WRITE_BATCH = 512 * 1024;
/** Files whose metadata and close may still be in flight while the next entries are applied. */
const MAX_DEFERRED = 32;

/**
 * Splits a tar entry name into clean path components: leading `/` and `./` are dropped (absolute
 * names land inside the layer, as docker does), `.` and empty components vanish, and `..` is resolved
 * lexically; a `..` that would climb above the layer root refuses the whole layer.
 */
export function normalizeEntryName(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw escapeError(name);
      out.pop();
      continue;
    }
    if (c.includes('\0')) throw new LayerApplyError(`layer entry "${name}" has a NUL byte in its name`);
    out.push(c);
  }
  return out;
}

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * Extracts an uncompressed tar stream (an image layer) into `dest`, streaming: file content goes
 * from the tar straight to disk in bounded batches, never a whole file in memory.
 *
 * Safety: every name is normalised (see normalizeEntryName), and every parent directory is resolved
 * component by component with lstat, symlinks being followed by hand *as if `dest` were the root*
 * (securejoin/chroot semantics: `/etc` and `../../..` both stay inside `dest`). The final component is
 * never followed: whatever is there (a symlink included) is removed and replaced. Hard-link targets are
 * resolved the same way and must already exist in this layer. So no entry can create, modify or link
 * anything outside `dest`. This relies on `dest` being private to the extraction while it runs (a fresh
 * layer directory nobody else writes to), which is how the layer store uses it.
 *
 * Semantics: regular files, directories, symlinks, hard links, fifos, char/block devices (root only),
 * modes including setuid/setgid/sticky, uid/gid, mtimes (directories last, so their children do not
 * disturb them), `SCHILY.xattr.*` PAX records (security.* failures only warn), and OCI whiteouts:
 * `.wh.<name>` becomes an overlay whiteout (char device 0:0 at `<name>`), `.wh..wh..opq` marks its
 * directory opaque (`trusted.overlay.opaque=y`); other `.wh..wh.*` (aufs metadata) are ignored.
 */
export async function applyTar(stream: Readable, dest: string, opts: ApplyTarOptions = {}): Promise<ApplyTarResult> {
  const applier = new Applier(dest, opts);
  const tap = new PaxXattrTap();
  const extractor = tarExtract();
  let failure: Error | undefined;
  let current: Promise<void> = Promise.resolve();
  // Entry events, not the async iterator: tar-stream's iterator costs ~0.2 ms per entry.
  const done = new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      if (failure) return;
      failure = err;
      stream.unpipe(tap);
      if (!stream.destroyed) stream.destroy();
      tap.destroy();
      extractor.destroy();
      reject(err);
    };
    stream.on('error', fail);
    tap.on('error', fail);
    extractor.on('error', fail);
    extractor.on('entry', (header, body, next) => {
      body.on('error', noop); // reported through the extractor
      current = applier.apply(header as PaxHeaders, body as unknown as EntryStream, tap.next());
      current.then(() => next(), fail);
    });
    let finished = false;
    extractor.on('finish', () => {
      finished = true;
      resolve();
    });
    extractor.on('close', () => {
      if (!finished) fail(new Error('tar stream closed before its end'));
    });
  });
  stream.pipe(tap).pipe(extractor as unknown as NodeJS.WritableStream);
  try {
    await done;
  } catch (err) {
    // Let the entry in progress and the background work stop before the caller cleans `dest` up.
    await current.catch(noop);
    await applier.settle();
    throw err;
  }
  await applier.finish();
  return { size: applier.size, ...(opts.manifest ? { manifest: applier.manifestEntries() } : {}) };
}

const noop = () => undefined;

/** Streams an entry's content into `fh` in batches, with backpressure; resolves with the byte count. */
function copyBody(body: EntryStream, fh: FileHandle, hash: Hash | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    // Destroyed while we were opening the file (the tar broke off): its 'close' has already fired.
    if (body.destroyed || body.destroying) return reject(new Error('tar entry ended early'));
    let batch: Buffer[] = [];
    let batchLen = 0;
    let total = 0;
    let chain = Promise.resolve();
    let ended = false;
    let failed = false;
    const onError = (err: Error) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const flush = () => {
      const bufs = batch;
      const len = batchLen;
      batch = [];
      batchLen = 0;
      total += len;
      chain = chain.then(() => writeAll(fh, bufs, len));
      return chain;
    };
    body.on('data', (chunk: Buffer) => {
      hash?.update(chunk);
      batch.push(chunk);
      batchLen += chunk.length;
      if (batchLen >= WRITE_BATCH) {
        body.pause();
        flush().then(() => {
          if (!failed && !ended) body.resume();
        }, onError);
      }
    });
    body.on('end', () => {
      ended = true;
      flush().then(() => {
        if (!failed) resolve(total);
      }, onError);
    });
    body.on('error', onError);
    body.on('close', () => {
      if (!ended) onError(new Error('tar entry ended early'));
    });
  });
}

/** Writes all of `bufs` (`len` bytes) at the file's current offset, whatever short writes happen. */
async function writeAll(fh: FileHandle, bufs: Buffer[], len: number): Promise<void> {
  if (len === 0) return;
  const { bytesWritten } = await fh.writev(bufs);
  if (bytesWritten === len) return;
  let skip = bytesWritten;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let off = skip;
    skip = 0;
    while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
  }
}

/** tar-stream's entry stream, as used here (a streamx Readable). */
interface EntryStream {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly destroyed: boolean;
  readonly destroying: boolean;
}

/** tar-stream's header as it really arrives (linkname may be null, pax absent). */
type PaxHeaders = Partial<Omit<Header, 'pax' | 'linkname' | 'type'>> & {
  name: string;
  type?: Header['type'] | null;
  linkname?: string | null;
  pax?: Record<string, string> | null;
};

class Applier {
  size = 0;
  private readonly privileged: boolean;
  private readonly dirCache = new Map<string, string>();
  private readonly dirTimes: Array<[string, Date]> = [];
  private readonly manifest: Map<string, ManifestEntry> | undefined;
  private chownWarned = false;
  /** File metadata + close, run in the background so the next entries do not wait for them. */
  private readonly deferred = new Set<Promise<void>>();
  private deferredError: Error | undefined;

  constructor(
    private readonly dest: string,
    private readonly opts: ApplyTarOptions,
  ) {
    this.privileged = opts.privileged ?? process.getuid?.() === 0;
    if (opts.manifest) this.manifest = new Map();
  }

  manifestEntries(): ManifestEntry[] {
    return [...(this.manifest?.values() ?? [])];
  }

  async apply(header: PaxHeaders, body: EntryStream, rawXattrs: Map<string, Buffer> | null | undefined): Promise<void> {
    if (this.deferredError) throw this.deferredError;
    try {
      await this.applyEntry(header, body, rawXattrs);
    } finally {
      // An entry must be drained for tar-stream to go on; a no-op when its content was consumed.
      body.resume();
    }
  }

  private async applyEntry(header: PaxHeaders, body: EntryStream, rawXattrs: Map<string, Buffer> | null | undefined): Promise<void> {
    const name = header.name;
    let type = header.type ?? 'file';
    if (type === 'contiguous-file') type = 'file';
    const parts = normalizeEntryName(name);
    const base = parts.length > 0 ? parts[parts.length - 1]! : null;

    if (base !== null && base.startsWith(WHITEOUT_PREFIX)) {
      await this.whiteout(name, parts.slice(0, -1), base);
      return;
    }

    if (base === null) {
      // The layer root itself (`./`): only its metadata applies.
      if (type !== 'directory') throw new LayerApplyError(`layer entry "${name}" replaces the layer root with a ${type}`);
      await this.setMeta(this.dest, header, 'directory');
      this.dirTimes.push([this.dest, header.mtime ?? new Date(0)]);
      await this.setXattrs(this.dest, name, header, rawXattrs);
      return;
    }

    const parent = await this.resolveDir(name, parts.slice(0, -1), true);
    const path = join(parent, base);
    const rel = relative(this.dest, path);

    switch (type) {
      case 'directory': {
        try {
          await mkdir(path, { mode: 0o700 });
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
          const existing = await lstat(path);
          if (!existing.isDirectory()) {
            await this.removeExisting(path, rel, existing);
            await mkdir(path, { mode: 0o700 });
          }
        }
        await this.setMeta(path, header, type);
        this.dirTimes.push([path, header.mtime ?? new Date(0)]);
        this.record({ path: rel, type: 'dir' });
        break;
      }
      case 'file': {
        const hasXattrs = Object.keys(header.pax ?? {}).some((k) => k.startsWith('SCHILY.xattr.'));
        // Xattrs are set by path after chown (which drops security.capability): no deferral then.
        await this.writeFile(path, rel, header, body, !hasXattrs);
        if (!hasXattrs) return;
        break;
      }
      case 'symlink': {
        await this.create(path, rel, () => symlink(header.linkname ?? '', path));
        await this.setMeta(path, header, type);
        this.record({ path: rel, type: 'symlink' });
        break;
      }
      case 'link': {
        const target = await this.resolveLinkTarget(name, header.linkname ?? '');
        if (target === path) break; // a link to itself: already there
        await this.create(path, rel, () => link(target, path));
        this.record({ path: rel, type: 'hardlink' });
        break;
      }
      case 'character-device':
      case 'block-device': {
        if (!this.privileged) {
          this.opts.logger?.warn(`layer entry "${name}": ${type} skipped, creating device nodes needs root`);
          break;
        }
        const fmt = type === 'character-device' ? FS.S_IFCHR : FS.S_IFBLK;
        await this.create(path, rel, async () => native().mknod(path, fmt | ((header.mode ?? 0o600) & 0o7777), header.devmajor ?? 0, header.devminor ?? 0));
        await this.setMeta(path, header, type);
        this.record({ path: rel, type: type === 'character-device' ? 'char' : 'block' });
        break;
      }
      case 'fifo': {
        await this.create(path, rel, async () => native().mkfifo(path, 0o600));
        await this.setMeta(path, header, type);
        this.record({ path: rel, type: 'fifo' });
        break;
      }
      default:
        this.opts.logger?.warn(`layer entry "${name}": unsupported tar entry type ${String(type)}, skipped`);
        return;
    }
    await this.setXattrs(path, name, header, rawXattrs);
  }

  /** `.wh.<name>` → a 0:0 char device at `<name>`; `.wh..wh..opq` → its directory becomes opaque. */
  private async whiteout(name: string, dirParts: string[], base: string): Promise<void> {
    const dir = await this.resolveDir(name, dirParts, true);
    if (base === WHITEOUT_OPAQUE) {
      native().lsetxattr(dir, OPAQUE_XATTR, 'y');
      return;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) {
      this.opts.logger?.debug(`layer entry "${name}": whiteout metadata ignored`);
      return;
    }
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') throw new LayerApplyError(`layer entry "${name}" is an invalid whiteout`);
    const path = join(dir, hidden);
    const rel = relative(this.dest, path);
    try {
      await this.create(path, rel, async () => native().mknod(path, FS.S_IFCHR, 0, 0));
    } catch (err) {
      throw new LayerApplyError(`layer entry "${name}": cannot create the overlay whiteout: ${(err as Error).message}`);
    }
    this.record({ path: rel, type: 'whiteout' });
  }

  /**
   * Creates something at `path` optimistically (a fresh layer mostly has nothing there); when the
   * name is taken, whatever holds it is removed first (never followed) and creation is retried.
   */
  private async create<T>(path: string, rel: string, make: () => Promise<T>): Promise<T> {
    try {
      return await make();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    await this.removeExisting(path, rel);
    return make();
  }

  private async writeFile(path: string, rel: string, header: PaxHeaders, body: EntryStream, defer: boolean): Promise<void> {
    // O_EXCL|O_NOFOLLOW: never opens what is there (a symlink included); create() replaces it.
    const fh = await this.create(path, rel, () => open(path, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o600));
    const hash: Hash | undefined = this.manifest ? createHash('sha256') : undefined;
    let written: number;
    try {
      written = await copyBody(body, fh, hash);
    } catch (err) {
      await fh.close().catch(noop);
      throw err;
    }
    this.size += written;
    this.record({ path: rel, type: 'file', size: written, ...(hash ? { sha256: hash.digest('hex') } : {}) });
    const finalize = async () => {
      try {
        await this.chownHandle(fh, header);
        await fh.chmod((header.mode ?? 0o644) & 0o7777); // after chown, which clears setuid/setgid
        const mtime = header.mtime ?? new Date(0);
        await fh.utimes(mtime, mtime);
      } finally {
        await fh.close();
      }
    };
    if (!defer) return finalize();
    // Only descriptor-based calls in here, so a later entry replacing `path` cannot be affected.
    const p = finalize().then(
      () => void this.deferred.delete(p),
      (err: Error) => {
        this.deferred.delete(p);
        this.deferredError ??= err;
      },
    );
    this.deferred.add(p);
    if (this.deferred.size >= MAX_DEFERRED) await Promise.race(this.deferred);
  }

  /** Waits for the background file work; its first error, if any, stays in deferredError. */
  async settle(): Promise<void> {
    while (this.deferred.size > 0) await Promise.all(this.deferred);
  }

  private async chownHandle(fh: { chown(uid: number, gid: number): Promise<void> }, header: PaxHeaders): Promise<void> {
    try {
      await fh.chown(header.uid ?? 0, header.gid ?? 0);
    } catch (err) {
      this.chownFailed(err);
    }
  }

  private chownFailed(err: unknown): void {
    if (this.privileged || !(isErrno(err, 'EPERM') || isErrno(err, 'EINVAL'))) throw err;
    if (!this.chownWarned) {
      this.chownWarned = true;
      this.opts.logger?.warn('not running as root: file ownership from the layer is not applied');
    }
  }

  /** Owner, mode (not for symlinks: Linux has no lchmod) and, except directories (done last), times. */
  private async setMeta(path: string, header: PaxHeaders, type: string): Promise<void> {
    try {
      await lchown(path, header.uid ?? 0, header.gid ?? 0);
    } catch (err) {
      this.chownFailed(err);
    }
    if (type !== 'symlink') await chmod(path, (header.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777);
    if (type !== 'directory') {
      const mtime = header.mtime ?? new Date(0);
      await lutimes(path, mtime, mtime);
    }
  }

  private async setXattrs(path: string, name: string, header: PaxHeaders, raw: Map<string, Buffer> | null | undefined): Promise<void> {
    const decoded = new Map<string, string>();
    for (const [k, v] of Object.entries(header.pax ?? {})) {
      if (k.startsWith('SCHILY.xattr.')) decoded.set(k.slice('SCHILY.xattr.'.length), v);
    }
    if (decoded.size === 0) return;
    // Prefer the tap's raw bytes, but only when they agree with tar-stream's view of this entry.
    let values: Map<string, Buffer>;
    if (raw && raw.size === decoded.size && [...decoded].every(([k, v]) => raw.get(k)?.toString('utf8') === v)) {
      values = raw;
    } else {
      values = new Map([...decoded].map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
      this.opts.logger?.debug(`layer entry "${name}": xattrs taken from the UTF-8 decoded PAX header`);
    }
    for (const [key, value] of values) {
      try {
        native().lsetxattr(path, key, value);
      } catch (err) {
        if (key.startsWith('security.') || !this.privileged) {
          this.opts.logger?.warn(`layer entry "${name}": xattr ${key} not applied: ${(err as Error).message}`);
          continue;
        }
        throw new LayerApplyError(`layer entry "${name}": cannot set xattr ${key}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Resolves directory components inside `dest` the way a chroot would: symlinks are read and
   * followed by hand, absolute targets restart at `dest`, `..` never climbs above it. With `create`,
   * missing directories are made (0755). Returns an absolute path made only of real directories.
   */
  private async resolveDir(name: string, parts: string[], create: boolean): Promise<string> {
    const key = parts.join('/');
    const cached = this.dirCache.get(key);
    if (cached !== undefined) return cached;

    const resolved: string[] = [];
    const exists: boolean[] = [];
    const pending = parts.slice().reverse(); // a stack: next component last
    let links = 0;
    while (pending.length > 0) {
      const c = pending.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        resolved.pop();
        exists.pop();
        continue;
      }
      if (exists.length > 0 && !exists[exists.length - 1]) {
        resolved.push(c);
        exists.push(false);
        continue;
      }
      const path = join(this.dest, ...resolved, c);
      const st = await lstatOrNull(path);
      if (!st) {
        resolved.push(c);
        exists.push(false);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new LayerApplyError(`layer entry "${name}": too many levels of symbolic links`);
        const target = await readlink(path);
        if (target.startsWith('/')) {
          resolved.length = 0;
          exists.length = 0;
        }
        const more = target.split('/');
        for (let i = more.length - 1; i >= 0; i--) pending.push(more[i]!);
        continue;
      }
      if (!st.isDirectory()) throw new LayerApplyError(`layer entry "${name}": ${[...resolved, c].join('/')} is not a directory`);
      resolved.push(c);
      exists.push(true);
    }
    const path = join(this.dest, ...resolved);
    if (!relative(this.dest, path).split('/').every((c) => c !== '..')) throw escapeError(name); // cannot happen; belt and braces
    if (exists.includes(false)) {
      if (!create) throw new LayerApplyError(`layer entry "${name}": ${resolved.join('/')} does not exist in the layer`);
      for (let i = exists.indexOf(false); i < resolved.length; i++) {
        const dir = join(this.dest, ...resolved.slice(0, i + 1));
        await mkdir(dir, { mode: 0o755 });
        await chmod(dir, 0o755); // whatever the daemon's umask
        this.record({ path: relative(this.dest, dir), type: 'dir' });
      }
    }
    if (create) this.dirCache.set(key, path);
    return path;
  }

  /** The existing path a hard link points to, resolved inside `dest` like any entry name. */
  private async resolveLinkTarget(name: string, linkname: string): Promise<string> {
    let parts: string[];
    try {
      parts = normalizeEntryName(linkname);
    } catch {
      throw escapeError(name);
    }
    if (parts.length === 0) throw new LayerApplyError(`layer entry "${name}": hard link to the layer root`);
    let dir: string;
    try {
      dir = await this.resolveDir(name, parts.slice(0, -1), false);
    } catch (err) {
      if (err instanceof LayerApplyError && /does not exist/.test(err.message)) {
        throw new LayerApplyError(`layer entry "${name}": hard link target "${linkname}" is not in the layer`);
      }
      throw err;
    }
    const target = join(dir, parts[parts.length - 1]!);
    const st = await lstatOrNull(target);
    if (!st) throw new LayerApplyError(`layer entry "${name}": hard link target "${linkname}" is not in the layer`);
    if (st.isDirectory()) throw new LayerApplyError(`layer entry "${name}": hard link target "${linkname}" is a directory`);
    return target;
  }

  /** Removes whatever is at `path` (never following it); directories recursively. */
  private async removeExisting(path: string, rel: string, known?: Stats): Promise<void> {
    const st = known ?? (await lstatOrNull(path));
    if (!st) return;
    if (st.isDirectory()) {
      await rm(path, { recursive: true, force: true });
      this.dirCache.clear();
      if (this.manifest) {
        const prefix = `${rel}/`;
        for (const k of this.manifest.keys()) if (k.startsWith(prefix)) this.manifest.delete(k);
      }
    } else {
      await unlink(path);
      if (st.isSymbolicLink()) this.dirCache.clear();
    }
    this.manifest?.delete(rel);
  }

  private record(e: ManifestEntry): void {
    if (!this.manifest) return;
    this.manifest.delete(e.path); // keep tar order for the latest version of a path
    this.manifest.set(e.path, e);
  }

  /** Directory times last: creating their children changed them. */
  async finish(): Promise<void> {
    await this.settle();
    if (this.deferredError) throw this.deferredError;
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [path, mtime] = this.dirTimes[i]!;
      try {
        await lutimes(path, mtime, mtime);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err; // removed by a later entry
      }
    }
  }
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}
