import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { release as kernelRelease } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../config/types';
import { parseByteSize } from '../../config/units';
import type { DaemonLogger } from '../../log/logger';
import { native } from '../../os/native';
import type { DriverOptions, GraphDriver } from '../driver';
import { mountFs, umountFs } from '../../os/native';
import { isMountPoint, mountOf, readMountsSync, runTool } from '../mounts';

/** mount(2) takes at most one page of options. */
const MAX_MOUNT_DATA = 4000;
const MNT_DETACH = 2;
import { KeyedMutex } from '../mutex';

/** Upstream's limit on the number of lower layers of one layer. */
export const MAX_DEPTH = 128;
const LINK_DIR = 'l';
const SHORT_ID_LEN = 26;
const SHORT_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** The smallest quota upstream accepts. */
const MIN_QUOTA = 4096;

export const QUOTA_FS_ERROR = 'Storage option overlay.size only supported for backingFS XFS or ext4.';
export const QUOTA_PRJ_ERROR = 'Storage option overlay.size not supported. Filesystem does not support Project Quota';
export const illegalQuotaError = (n: number) => `Illegal storage quota size ${n}, 4096 at least`;
export const dTypeError = (fs: string) =>
  `The backing ${fs} filesystem is formatted without d_type support, which leads to incorrect behavior. ` +
  'Reformat the filesystem with ftype=1 to enable d_type support. Running without d_type is not supported.';

/** statfs f_type magics → the names upstream prints ("extfs" for ext2/3/4, as docker does). */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x61756673: 'aufs',
  0x2fc12fc1: 'zfs',
  0xf15f: 'ecryptfs',
  0x6969: 'nfs',
  0x858458f6: 'ramfs',
  0x73717368: 'squashfs',
  0xf2f52010: 'f2fs',
  0x4d44: 'vfat',
  0x65735546: 'fuse',
};
/** Backing filesystems overlay cannot sit on (upstream and docker refuse the same ones). */
const UNSUPPORTED_BACKING = new Set(['aufs', 'zfs', 'overlayfs', 'ecryptfs']);

export interface Overlay2Options {
  overrideKernelCheck: boolean;
  mountOpt: string;
  skipMountHome: boolean;
  /** Default quota of read-write layers, bytes. */
  size?: number;
  baseSize?: number;
}

function parseBool(key: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 't', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'f', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`overlay2: invalid value "${value}" for ${key}, a boolean is expected`);
}

/** Parses `overlay2.*` storage options (`overlay.*` is accepted as an alias, as docker does). */
export function parseOverlayOptions(options: string[]): Overlay2Options {
  const out: Overlay2Options = { overrideKernelCheck: false, mountOpt: '', skipMountHome: false };
  for (const opt of options) {
    const eq = opt.indexOf('=');
    if (eq <= 0) throw new ConfigError(`overlay2: invalid storage option "${opt}", expected key=value`);
    const rawKey = opt.slice(0, eq).trim();
    const value = opt.slice(eq + 1).trim();
    const key = rawKey.toLowerCase().replace(/^overlay2?\./, '');
    if (!/^overlay2?\./i.test(rawKey)) throw new ConfigError(`overlay2: unknown option ${rawKey}`);
    switch (key) {
      case 'override_kernel_check':
        out.overrideKernelCheck = parseBool(rawKey, value);
        break;
      case 'skip_mount_home':
        out.skipMountHome = parseBool(rawKey, value);
        break;
      case 'mountopt':
        out.mountOpt = value;
        break;
      case 'size':
      case 'basesize': {
        const n = parseByteSize(value);
        if (Number.isNaN(n)) throw new ConfigError(`overlay2: invalid size "${value}" for ${rawKey}`);
        if (n < MIN_QUOTA) throw new ConfigError(illegalQuotaError(n));
        if (key === 'size') out.size = n;
        else out.baseSize = n;
        break;
      }
      default:
        throw new ConfigError(`overlay2: unknown option ${rawKey}`);
    }
  }
  return out;
}

export function backingFsName(path: string): string {
  const type = statfsSync(path).type >>> 0;
  return FS_MAGIC[type] ?? `unknown(0x${type.toString(16)})`;
}

/** d_type check as upstream does it: a scratch directory with one file must list with a type. */
export function supportsDType(home: string): boolean {
  const dir = mkdtempSync(join(home, '.dtype-check-'));
  try {
    writeFileSync(join(dir, 'file'), '');
    mkdirSync(join(dir, 'dir'));
    return native().direntTypes(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seams for tests: what the host reports, replaceable to reach the refusal paths. */
export interface Overlay2Probes {
  backingFs?: (home: string) => string;
  dType?: (home: string) => boolean;
  kernelRelease?: () => string;
  filesystems?: () => string;
}

interface MountRecord {
  path: string;
  count: number;
}

const randomShortId = () => Array.from({ length: SHORT_ID_LEN }, () => SHORT_ID_CHARS[randomInt(SHORT_ID_CHARS.length)]).join('');

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

function validId(id: string): void {
  if (id === '' || id === LINK_DIR || id.includes('/') || id.startsWith('.') || id.includes(':') || id.includes(',')) {
    throw new Error(`overlay2: invalid layer id "${id}"`);
  }
}

/**
 * overlay2 as upstream lays it out under `<graph>/storage/overlay`:
 *   <id>/diff     the layer's own content         <id>/link   its 26-char short id
 *   <id>/lower    `l/<short>:l/<short>…`, nearest parent first (absent for a base layer)
 *   <id>/work     overlay's workdir (absent for read-only layers)
 *   <id>/merged   mount point                      <id>/empty  an empty lowerdir for base layers
 *   l/<short> → ../<id>/diff                       short links keep mount option strings small
 * Mounts run `mount -t overlay` from the home directory with relative `l/…` lowerdirs. Mount
 * reference counts live in `<state>/storage/overlay-layers/<id>.json` ({"path", "count"}), so a
 * restarted daemon knows what is mounted.
 */
export class Overlay2Driver implements GraphDriver {
  readonly name = 'overlay2';
  private readonly locks = new KeyedMutex();
  private readonly mounts = new Map<string, MountRecord>();

  private constructor(
    readonly home: string,
    private readonly mountDir: string,
    private readonly backingFs: string,
    private readonly opts: Overlay2Options,
    private homeMounted: boolean,
    private readonly logger: Pick<DaemonLogger, 'warn' | 'info' | 'debug'>,
  ) {}

  /** Start-up checks and home preparation (synchronous file checks: this runs once, at boot). */
  static async init(dopts: DriverOptions, probes: Overlay2Probes = {}): Promise<Overlay2Driver> {
    const opts = parseOverlayOptions(dopts.options);

    const releaseText = (probes.kernelRelease ?? kernelRelease)();
    const major = Number.parseInt(releaseText, 10);
    if (!opts.overrideKernelCheck && (major < 4 || Number.isNaN(major))) {
      throw new ConfigError(`Kernel version ${releaseText} is too old for overlay2 (4.0 or newer needed); set overlay2.override_kernel_check=true to try anyway`);
    }
    const filesystems = (probes.filesystems ?? (() => readFileSync('/proc/filesystems', 'utf8')))();
    if (!/\toverlay$/m.test(filesystems)) {
      throw new ConfigError("'overlay' not found as a supported filesystem on this host. Please ensure kernel is new enough and has overlay support loaded.");
    }

    const home = join(dopts.graph, 'storage', 'overlay');
    mkdirSync(join(home, LINK_DIR), { recursive: true, mode: 0o700 });
    const realHome = realpathSync(home);
    for (const name of readdirSync(realHome)) {
      if (name.startsWith('.dtype-check-')) rmSync(join(realHome, name), { recursive: true, force: true }); // a crashed probe
    }

    const backingFs = (probes.backingFs ?? backingFsName)(realHome);
    if (UNSUPPORTED_BACKING.has(backingFs)) throw new ConfigError(`'overlay' is not supported over ${backingFs}`);
    if (!(probes.dType ?? supportsDType)(realHome)) throw new ConfigError(dTypeError(backingFs));

    const mounts = readMountsSync();
    if (opts.size !== undefined || opts.baseSize !== undefined) {
      if (backingFs !== 'extfs' && backingFs !== 'xfs') throw new ConfigError(QUOTA_FS_ERROR);
      const fsMount = mountOf(mounts, realHome);
      const optsText = `${fsMount?.options ?? ''},${fsMount?.superOptions ?? ''}`.split(',');
      if (!optsText.some((o) => o === 'prjquota' || o === 'pquota' || o === 'pqnoenforce')) {
        throw new ConfigError(QUOTA_PRJ_ERROR);
      }
      // TODO(quota): FS_IOC_FSSETXATTR project ids + quotactl limits; no kernel here has project quota
      // (CONFIG_XFS_QUOTA / CONFIG_QFMT_V2 unset), so this path cannot be built or tested yet.
      throw new ConfigError('Storage option overlay.size: project quota is supported by this filesystem but not implemented by this isulad yet');
    }

    let homeMounted = false;
    if (!opts.skipMountHome) {
      if (!isMountPoint(mounts, realHome)) await runTool('mount', ['--bind', realHome, realHome]);
      await runTool('mount', ['--make-private', realHome]);
      homeMounted = true;
    }

    // Short links left dangling by a crash between creating a layer's link and its directory.
    for (const name of readdirSync(join(realHome, LINK_DIR))) {
      if (!existsSync(join(realHome, LINK_DIR, name))) unlinkSync(join(realHome, LINK_DIR, name));
    }

    const mountDir = join(dopts.runDir, 'storage', 'overlay-layers');
    mkdirSync(mountDir, { recursive: true, mode: 0o700 });
    const driver = new Overlay2Driver(realHome, mountDir, backingFs, opts, homeMounted, dopts.logger);
    driver.loadMountRecords(readMountsSync());
    return driver;
  }

  /** Mount counts survive a daemon restart, unless what they describe is no longer mounted. */
  private loadMountRecords(mounts: ReturnType<typeof readMountsSync>): void {
    for (const file of readdirSync(this.mountDir)) {
      if (!file.endsWith('.json')) continue;
      const id = file.slice(0, -5);
      const path = join(this.mountDir, file);
      try {
        const rec = JSON.parse(readFileSync(path, 'utf8')) as Partial<MountRecord>;
        if (typeof rec.path === 'string' && isMountPoint(mounts, rec.path)) {
          this.mounts.set(id, { path: rec.path, count: typeof rec.count === 'number' && rec.count > 0 ? rec.count : 1 });
          continue;
        }
      } catch {
        /* unreadable: dropped below */
      }
      unlinkSync(path);
    }
  }

  status(): Array<[string, string]> {
    return [
      ['Backing Filesystem', this.backingFs],
      ['Supports d_type', 'true'],
    ];
  }

  private dir(id: string): string {
    validId(id);
    return join(this.home, id);
  }

  diffPath(id: string): string {
    return join(this.dir(id), 'diff');
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await lstat(this.dir(id))).isDirectory();
    } catch {
      return false;
    }
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.home);
    return names.filter((n) => n !== LINK_DIR && !n.startsWith('.'));
  }

  private async readLower(id: string): Promise<string[]> {
    try {
      const text = (await readFile(join(this.dir(id), 'lower'), 'utf8')).trim();
      return text === '' ? [] : text.split(':');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }

  async create(id: string, parent: string | null, opts: { readOnly?: boolean } = {}): Promise<void> {
    const dir = this.dir(id);
    let lower: string[] = [];
    if (parent !== null) {
      const parentShort = (await readFile(join(this.dir(parent), 'link'), 'utf8')).trim();
      lower = [`${LINK_DIR}/${parentShort}`, ...(await this.readLower(parent))];
      if (lower.length > MAX_DEPTH) throw new Error(`overlay2: max depth exceeded: layer ${id} would have ${lower.length} lower layers (${MAX_DEPTH} at most)`);
    }
    await mkdir(dir, { mode: 0o700 });
    let short: string | undefined;
    try {
      await mkdir(join(dir, 'diff'), { mode: 0o755 });
      for (;;) {
        short = randomShortId();
        try {
          await symlink(`../${id}/diff`, join(this.home, LINK_DIR, short));
          break;
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
        }
      }
      await writeFile(join(dir, 'link'), short, { mode: 0o644 });
      if (lower.length > 0) await writeFile(join(dir, 'lower'), lower.join(':'), { mode: 0o644 });
      else await mkdir(join(dir, 'empty'), { mode: 0o700 });
      if (!opts.readOnly) await mkdir(join(dir, 'work'), { mode: 0o700 });
      await mkdir(join(dir, 'merged'), { mode: 0o700 });
    } catch (err) {
      if (short !== undefined) await unlink(join(this.home, LINK_DIR, short)).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async setParent(id: string, parent: string): Promise<void> {
    const dir = this.dir(id);
    const parentShort = (await readFile(join(this.dir(parent), 'link'), 'utf8')).trim();
    const lower = [`${LINK_DIR}/${parentShort}`, ...(await this.readLower(parent))];
    if (lower.length > MAX_DEPTH) throw new Error(`overlay2: max depth exceeded: layer ${id} would have ${lower.length} lower layers (${MAX_DEPTH} at most)`);
    await writeFile(join(dir, 'lower'), lower.join(':'), { mode: 0o644 });
    await rm(join(dir, 'empty'), { recursive: true, force: true });
  }

  mount(id: string): Promise<string> {
    return this.locks.run(id, async () => {
      const dir = this.dir(id);
      const merged = join(dir, 'merged');
      const rec = this.mounts.get(id);
      if (rec && rec.count > 0) {
        rec.count++;
        await this.saveMount(id, rec);
        return rec.path;
      }
      const lowers = await this.readLower(id);
      const writable = await lstat(join(dir, 'work')).then(
        (s) => s.isDirectory(),
        () => false,
      );
      const extra = this.opts.mountOpt ? `,${this.opts.mountOpt}` : '';
      if (writable) {
        const lowerdir = lowers.length > 0 ? lowers.join(':') : `${id}/empty`;
        // mount(2) straight from the addon when the absolute option string fits in a page; deep
        // stacks fall back to mount(8) run inside the home with short relative paths.
        const abs = (p: string) => join(this.home, p);
        const data = `lowerdir=${lowerdir.split(':').map(abs).join(':')},upperdir=${abs(`${id}/diff`)},workdir=${abs(`${id}/work`)}${extra}`;
        // overlay2.mountopt may name mount(8) flags (nodev...), which mount(2) takes apart: mount(8) then.
        if (data.length < MAX_MOUNT_DATA && extra === '') await mountFs('overlay', merged, 'overlay', data);
        else await runTool('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir},upperdir=${id}/diff,workdir=${id}/work${extra}`, `${id}/merged`], this.home);
      } else if (lowers.length > 0) {
        // Read-only view: overlay without upper needs two lowers at least, which a child layer has.
        await runTool('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${id}/diff:${lowers.join(':')}${extra}`, `${id}/merged`], this.home);
      } else {
        await runTool('mount', ['--bind', join(dir, 'diff'), merged]);
        await runTool('mount', ['-o', 'remount,bind,ro', merged]);
      }
      const fresh = { path: merged, count: 1 };
      this.mounts.set(id, fresh);
      await this.saveMount(id, fresh);
      return merged;
    });
  }

  unmount(id: string): Promise<void> {
    return this.locks.run(id, async () => {
      const rec = this.mounts.get(id);
      if (!rec) return;
      rec.count--;
      if (rec.count > 0) {
        await this.saveMount(id, rec);
        return;
      }
      await this.forceUnmount(id, rec.path);
    });
  }

  private async forceUnmount(id: string, path: string): Promise<void> {
    try {
      await umountFs(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EINVAL: not a mount point (already gone); ENOENT: no such directory.
      if (code !== 'EINVAL' && code !== 'ENOENT') {
        this.logger.warn(`overlay2: ${(err as Error).message}; detaching it lazily`);
        await umountFs(path, MNT_DETACH).catch(() => undefined);
      }
    }
    this.mounts.delete(id);
    await unlink(join(this.mountDir, `${id}.json`)).catch(() => undefined);
  }

  private async saveMount(id: string, rec: MountRecord): Promise<void> {
    const file = join(this.mountDir, `${id}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify({ path: rec.path, count: rec.count }), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  remove(id: string): Promise<void> {
    return this.locks.run(id, async () => {
      const dir = this.dir(id);
      const rec = this.mounts.get(id);
      await this.forceUnmount(id, rec?.path ?? join(dir, 'merged'));
      try {
        const short = (await readFile(join(dir, 'link'), 'utf8')).trim();
        if (short !== '' && !short.includes('/')) await unlink(join(this.home, LINK_DIR, short)).catch(() => undefined);
      } catch {
        /* no link file: a half-created layer */
      }
      await rm(dir, { recursive: true, force: true });
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.locks.run(from, async () => {
      if (this.mounts.get(from)) throw new Error(`overlay2: cannot rename mounted layer ${from}`);
      const src = this.dir(from);
      const dst = this.dir(to);
      await rename(src, dst);
      const short = (await readFile(join(dst, 'link'), 'utf8')).trim();
      const linkPath = join(this.home, LINK_DIR, short);
      await symlink(`../${to}/diff`, `${linkPath}.tmp`);
      await rename(`${linkPath}.tmp`, linkPath);
    });
  }

  async cleanup(keep: (id: string) => boolean = () => false): Promise<void> {
    let kept = 0;
    for (const [id, rec] of [...this.mounts]) {
      if (keep(id)) {
        kept++;
        continue;
      }
      try {
        await this.forceUnmount(id, rec.path);
      } catch (err) {
        this.logger.warn(`overlay2: cannot unmount layer ${id}: ${(err as Error).message}`);
      }
    }
    if (this.homeMounted && kept === 0) {
      this.homeMounted = false;
      try {
        await runTool('umount', [this.home]);
      } catch (err) {
        this.logger.warn(`overlay2: ${(err as Error).message}; detaching it lazily`);
        await runTool('umount', ['-l', this.home]).catch(() => undefined);
      }
    }
  }
}
