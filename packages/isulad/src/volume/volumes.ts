import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, cp, lchown, lstat, lutimes, mkdir, readdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DaemonLogger } from '../log/logger';
import type { MetadataDb } from '../metadata/db';
import { KeyedMutex } from '../storage/mutex';
import { VALID_VOLUME_NAME, VolumeError, invalidVolumeName, noSuchVolume, volumeInUse } from './errors';

/** A local volume as the daemon keeps it. */
export interface VolumeRecord {
  name: string;
  /** Always `local`: volumes are directories under `<graph>/volumes`. */
  driver: string;
  /** When the volume was created (or adopted), ISO 8601. */
  created: string;
  /** Created for a container's `VOLUME`/`-v /path` without a name (64 hex); `rm -v` deletes it. */
  anonymous: boolean;
  /** The directory mounted into containers: `<root>/<name>/_data`. */
  path: string;
}

/** What {@link Volumes.ensure} found or made. */
export interface EnsuredVolume extends VolumeRecord {
  /** True when this call created the volume. */
  createdNow: boolean;
}

export interface VolumesOptions {
  db: MetadataDb;
  /** `<graph>/volumes`. */
  root: string;
  logger: DaemonLogger;
}

const MIGRATIONS = [
  `CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     driver TEXT NOT NULL DEFAULT 'local',
     created TEXT NOT NULL,
     anonymous INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE volume_refs (
     volume TEXT NOT NULL REFERENCES volumes(name),
     container TEXT NOT NULL,
     PRIMARY KEY (volume, container)
   );
   CREATE INDEX volume_refs_by_container ON volume_refs(container);`,
];

interface VolumeRow {
  name: string;
  driver: string;
  created: string;
  anonymous: number;
}

const DATA_DIR = '_data';
/** A volume directory being deleted is first renamed to this prefix (never a valid volume name). */
const TRASH_PREFIX = '.removing-';
/** Present in `<root>/<name>/` while a copy-up runs; found at open, the half copy is undone. */
const POPULATING = '.populating';
const ANONYMOUS_NAME = /^[0-9a-f]{64}$/;

const errno = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

type DestroyResult = { status: 'removed' } | { status: 'missing' } | { status: 'in-use'; users: string[] };

/**
 * Local volumes: one directory `<root>/<name>/_data` each, one row in `volumes`, and one
 * `volume_refs` row per container using it. The directory is made before the row is written, and
 * removed (renamed away first) before the row goes, so a crash leaves at worst a directory without a
 * row or a row without a directory; {@link Volumes.open} adopts the first and drops the second.
 * Work on one volume is serialised by name; reference changes are synchronous SQLite statements.
 */
export class Volumes {
  readonly root: string;
  private readonly meta: MetadataDb;
  private readonly logger: DaemonLogger;
  private readonly locks = new KeyedMutex();
  /** Volumes whose removal has started: no new reference may be taken on them. */
  private readonly removing = new Set<string>();

  /** Prefer {@link Volumes.open}, which also reconciles the directories with the rows. */
  constructor({ db, root, logger }: VolumesOptions) {
    this.meta = db;
    this.root = root;
    this.logger = logger;
    db.migrate('volumes', MIGRATIONS);
  }

  /** Opens the volume store and repairs what a crash left half done. */
  static async open(options: VolumesOptions): Promise<Volumes> {
    const volumes = new Volumes(options);
    await volumes.reconcile();
    return volumes;
  }

  // --- queries (synchronous) -------------------------------------------------------------------

  private hydrate(r: VolumeRow): VolumeRecord {
    return { name: r.name, driver: r.driver, created: r.created, anonymous: r.anonymous !== 0, path: this.dataPath(r.name) };
  }

  private row(name: string): VolumeRow | undefined {
    return this.meta.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as VolumeRow | undefined;
  }

  private dataPath(name: string): string {
    return join(this.root, name, DATA_DIR);
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.row(name);
    return r ? this.hydrate(r) : undefined;
  }

  exists(name: string): boolean {
    return this.row(name) !== undefined;
  }

  /** Every volume, by name. */
  list(): VolumeRecord[] {
    return (this.meta.db.prepare('SELECT * FROM volumes ORDER BY name').all() as VolumeRow[]).map((r) => this.hydrate(r));
  }

  /** The directory to mount for volume `name` (`<root>/<name>/_data`). */
  path(name: string): string {
    if (!this.row(name)) throw noSuchVolume(name);
    return this.dataPath(name);
  }

  /** Containers holding a reference on the volume, sorted. */
  users(name: string): string[] {
    return (this.meta.db.prepare('SELECT container FROM volume_refs WHERE volume = ? ORDER BY container').all(name) as { container: string }[]).map(
      (r) => r.container,
    );
  }

  /** Volumes container `containerId` references, sorted. */
  volumesOf(containerId: string): string[] {
    return (this.meta.db.prepare('SELECT volume FROM volume_refs WHERE container = ? ORDER BY volume').all(containerId) as { volume: string }[]).map(
      (r) => r.volume,
    );
  }

  // --- creation --------------------------------------------------------------------------------

  /** The named volume, created (empty, 0755) when it does not exist yet. */
  ensure(name: string): Promise<EnsuredVolume> {
    return this.create(name, false);
  }

  /** A new anonymous volume with a random 64-hex name. */
  createAnonymous(): Promise<EnsuredVolume> {
    return this.create(randomBytes(32).toString('hex'), true);
  }

  private create(name: string, anonymous: boolean): Promise<EnsuredVolume> {
    if (!VALID_VOLUME_NAME.test(name)) return Promise.reject(invalidVolumeName(name));
    return this.locks.run(name, async () => {
      await this.makeDirs(name);
      const createdNow =
        this.meta.db
          .prepare("INSERT INTO volumes (name, driver, created, anonymous) VALUES (?, 'local', ?, ?) ON CONFLICT(name) DO NOTHING")
          .run(name, new Date().toISOString(), anonymous ? 1 : 0).changes > 0;
      if (createdNow) this.logger.debug({ volume: name, anonymous }, 'volume created');
      return { ...this.get(name)!, createdNow };
    });
  }

  /** `<root>/<name>/_data`, each directory made here 0755 whatever the umask. */
  private async makeDirs(name: string): Promise<void> {
    const dir = join(this.root, name);
    const data = join(dir, DATA_DIR);
    const first = await mkdir(data, { recursive: true, mode: 0o755 });
    if (first === undefined) return;
    if (first.length <= dir.length) await chmod(dir, 0o755);
    await chmod(data, 0o755);
  }

  // --- references ------------------------------------------------------------------------------

  /** Records that `containerId` uses the volume (idempotent). */
  addRef(name: string, containerId: string): void {
    this.meta.transaction(() => {
      if (this.removing.has(name) || !this.row(name)) throw noSuchVolume(name);
      this.meta.db.prepare('INSERT INTO volume_refs (volume, container) VALUES (?, ?) ON CONFLICT DO NOTHING').run(name, containerId);
    });
  }

  /**
   * Drops every reference `containerId` holds. With `removeAnonymous` (`rm -v`), the anonymous
   * volumes it used that no other container references are deleted too; returns their names.
   */
  async releaseContainer(containerId: string, removeAnonymous: boolean): Promise<string[]> {
    const names = this.meta.transaction(() => {
      const held = this.volumesOf(containerId);
      this.meta.db.prepare('DELETE FROM volume_refs WHERE container = ?').run(containerId);
      return held;
    });
    if (!removeAnonymous) return [];
    const removed: string[] = [];
    for (const name of names) {
      const result = await this.destroy(name, (r) => r.anonymous).catch((err: Error) => {
        this.logger.warn({ volume: name, container: containerId, err: err.message }, 'anonymous volume not removed');
        return undefined;
      });
      if (result?.status === 'removed') removed.push(name);
    }
    return removed;
  }

  // --- removal ---------------------------------------------------------------------------------

  /** Deletes a volume no container uses. */
  async remove(name: string): Promise<void> {
    const result = await this.destroy(name);
    if (result.status === 'missing') throw noSuchVolume(name);
    if (result.status === 'in-use') throw volumeInUse(name, result.users);
  }

  /** Deletes every volume no container uses; returns their names. */
  async prune(): Promise<string[]> {
    const candidates = (
      this.meta.db.prepare('SELECT name FROM volumes WHERE name NOT IN (SELECT volume FROM volume_refs) ORDER BY name').all() as { name: string }[]
    ).map((r) => r.name);
    const removed: string[] = [];
    for (const name of candidates) {
      // One volume that cannot be deleted does not stop the others.
      const result = await this.destroy(name).catch((err: Error) => {
        this.logger.warn({ volume: name, err: err.message }, 'volume not pruned');
        return undefined;
      });
      if (result?.status === 'removed') removed.push(name);
    }
    return removed;
  }

  /**
   * Under the volume's lock: refuses when referenced, then renames the directory out of the way
   * (atomic), drops the row, and deletes the renamed tree. A failed rename leaves everything as it
   * was; a failed deletion leaves a `.removing-*` directory that the next open removes.
   */
  private destroy(name: string, only?: (r: VolumeRecord) => boolean): Promise<DestroyResult> {
    return this.locks.run(name, async (): Promise<DestroyResult> => {
      const rec = this.get(name);
      if (!rec || (only && !only(rec))) return { status: 'missing' };
      const users = this.users(name);
      if (users.length > 0) return { status: 'in-use', users };
      this.removing.add(name);
      try {
        const trash = join(this.root, `${TRASH_PREFIX}${randomBytes(8).toString('hex')}`);
        let moved = true;
        try {
          await rename(join(this.root, name), trash);
        } catch (err) {
          if (errno(err) !== 'ENOENT') throw new VolumeError(`remove volume ${name} failed: ${(err as Error).message}`);
          moved = false;
        }
        this.meta.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
        this.logger.debug({ volume: name }, 'volume removed');
        if (moved) {
          await rm(trash, { recursive: true, force: true }).catch((err: Error) =>
            this.logger.warn({ volume: name, path: trash, err: err.message }, 'volume directory not fully deleted; retried at next start'),
          );
        }
        return { status: 'removed' };
      } finally {
        this.removing.delete(name);
      }
    });
  }

  // --- copy-up ---------------------------------------------------------------------------------

  /**
   * Copies the image's content at the mount point (`imageDir`, already resolved inside the rootfs,
   * see `resolveInScope`) into the volume when the volume is empty, as Docker does for a volume
   * mounted over a non-empty image directory. Symlinks are copied as links (never followed), modes,
   * ownership and times are kept, sockets, FIFOs and device nodes are skipped. The volume's `_data`
   * takes the mode and owner of `imageDir`. Returns whether anything was copied (false when
   * `imageDir` is missing or not a directory, or the volume is not empty).
   */
  populateFrom(name: string, imageDir: string): Promise<boolean> {
    return this.locks.run(name, async () => {
      if (!this.row(name)) throw noSuchVolume(name);
      let src: Stats;
      try {
        src = await lstat(imageDir);
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
        throw err;
      }
      if (!src.isDirectory()) return false;
      const data = this.dataPath(name);
      if ((await readdir(data)).length > 0) return false;
      const marker = join(this.root, name, POPULATING);
      await writeFile(marker, '', { mode: 0o600 });
      try {
        await cp(imageDir, data, {
          recursive: true,
          errorOnExist: false,
          force: false,
          dereference: false,
          verbatimSymlinks: true,
          preserveTimestamps: true,
          filter: (from) => this.copyable(from),
        });
        await this.copyMetadata(imageDir, data, src);
      } catch (err) {
        await emptyDir(data).catch(() => undefined);
        await unlink(marker).catch(() => undefined);
        throw err;
      }
      await unlink(marker);
      return true;
    });
  }

  private async copyable(path: string): Promise<boolean> {
    const st = await lstat(path);
    if (st.isDirectory() || st.isFile() || st.isSymbolicLink()) return true;
    this.logger.warn({ path }, 'volume copy-up skips a socket, FIFO or device node');
    return false;
  }

  /** Ownership, permission bits (setuid included, which chown clears) and times, never following links. */
  private async copyMetadata(srcRoot: string, destRoot: string, rootStat: Stats): Promise<void> {
    let canChown = true;
    const apply = async (st: Stats, dest: string): Promise<void> => {
      let dt: Stats;
      try {
        dt = await lstat(dest);
      } catch {
        return; // filtered out
      }
      if ((st.mode & 0o170000) !== (dt.mode & 0o170000)) return;
      let chowned = false;
      if (canChown && (st.uid !== dt.uid || st.gid !== dt.gid)) {
        try {
          await lchown(dest, st.uid, st.gid);
          chowned = true;
        } catch (err) {
          if (errno(err) !== 'EPERM') throw err;
          canChown = false; // not root: ownership cannot be kept
        }
      }
      if (st.isSymbolicLink()) {
        await lutimes(dest, st.atime, st.mtime);
        return;
      }
      if (chowned || (st.mode & 0o7777) !== (dt.mode & 0o7777)) await chmod(dest, st.mode & 0o7777);
      if (st.isDirectory()) await utimes(dest, st.atime, st.mtime);
    };
    const walk = async (src: string, dest: string, st: Stats): Promise<void> => {
      if (st.isDirectory()) {
        for (const child of await readdir(src)) {
          const from = join(src, child);
          await walk(from, join(dest, child), await lstat(from));
        }
      }
      await apply(st, dest);
    };
    await walk(srcRoot, destRoot, rootStat);
  }

  // --- crash recovery --------------------------------------------------------------------------

  /**
   * Brings rows and directories back in line: leftover `.removing-*` trees are deleted, a cut-short
   * copy-up is undone, volume directories without a row are adopted (anonymous when the name is 64
   * hex) and rows whose directory is gone are dropped with their references.
   */
  async reconcile(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const dirs: string[] = [];
    for (const e of await readdir(this.root, { withFileTypes: true })) {
      const path = join(this.root, e.name);
      if (e.name.startsWith(TRASH_PREFIX)) {
        await rm(path, { recursive: true, force: true }).catch((err: Error) => this.logger.warn({ path, err: err.message }, 'cannot delete removed volume'));
      } else if (e.isDirectory() && VALID_VOLUME_NAME.test(e.name)) {
        dirs.push(e.name);
      } else {
        this.logger.warn({ path }, 'not a volume, left alone');
      }
    }
    for (const name of dirs) await this.finishInterrupted(name);

    const rows = new Map((this.meta.db.prepare('SELECT * FROM volumes').all() as VolumeRow[]).map((r) => [r.name, r]));
    const onDisk = new Set(dirs);
    const dropped = [...rows.keys()].filter((n) => !onDisk.has(n));
    const adopted: { name: string; created: string }[] = [];
    for (const name of dirs) {
      if (rows.has(name)) continue;
      const st = await lstat(join(this.root, name));
      adopted.push({ name, created: (st.birthtimeMs > 0 ? st.birthtime : st.mtime).toISOString() });
    }
    if (dropped.length === 0 && adopted.length === 0) return;
    this.meta.transaction(() => {
      const db = this.meta.db;
      for (const name of dropped) {
        db.prepare('DELETE FROM volume_refs WHERE volume = ?').run(name);
        db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
      }
      for (const { name, created } of adopted) {
        db.prepare("INSERT INTO volumes (name, driver, created, anonymous) VALUES (?, 'local', ?, ?)").run(name, created, ANONYMOUS_NAME.test(name) ? 1 : 0);
      }
    });
    for (const name of dropped) this.logger.warn({ volume: name }, 'volume directory missing, volume dropped');
    for (const { name } of adopted) this.logger.warn({ volume: name }, 'volume directory without metadata adopted');
  }

  /** `_data` exists, and a copy-up a crash interrupted is undone (the volume is empty again). */
  private async finishInterrupted(name: string): Promise<void> {
    await this.makeDirs(name);
    const marker = join(this.root, name, POPULATING);
    try {
      await lstat(marker);
    } catch {
      return;
    }
    await emptyDir(this.dataPath(name));
    await unlink(marker);
    this.logger.warn({ volume: name }, 'interrupted volume copy-up undone');
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const child of await readdir(dir)) await rm(join(dir, child), { recursive: true, force: true });
}
