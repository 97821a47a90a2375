import { spawn } from 'node:child_process';
import { constants as FS, type Stats } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract, type Header as Headers } from 'tar-stream';
import { ARCHIVE_BLOCK_SIZE, ErrorCode, escapeRoot, headerJson, MD_CONTAINER_PATH_STAT, MD_COPY_TO_CONTAINER, prepareArchiveCopy, preserveTrailingDotOrSeparator, splitPathDirEntry, type ContainerService, type CopyInfo } from '@isula/protocol';
import type { Containers } from '../../container/containers';
import { ContainerError } from '../../container/errors';
import type { ContainerRecord } from '../../container/types';
import { native } from '../../os/native';
import { resolveInScope } from '../../volume/scope';
import type { BidiImpl, StreamCall } from '../grpc-adapter';

/*
 * `isula cp` on the daemon side (containers.ContainerService CopyFromContainer / CopyToContainer),
 * wire-compatible with upstream iSulad:
 *
 * - CopyFromContainer: the path's stat goes first as initial metadata `isulad-container-path-stat`
 *   (JSON {Name, Size, Mode, Mtime:{seconds,nanos}, LinkTarget}) with an empty first message (the C
 *   client drops its first read), then the tar of the path in `data` messages of at most 32 KiB
 *   (upstream's ARCHIVE_BLOCK_SIZE: the C client refuses larger ones).
 * - CopyToContainer: the request JSON {id, runtime, srcPath, srcIsdir, srcRebaseName, dstPath}
 *   arrives as request metadata `isulad-copy-to-container`, the tar in `data` messages; the answer
 *   is one `finish: true` message, then the status (UNKNOWN + message on failure).
 *
 * Safety: paths are resolved inside the rootfs as if it were `/` (resolveInScope), the container is
 * paused while its rootfs is read or written (as upstream does), and the archive is extracted
 * entry by entry by our own code: every parent directory is resolved in scope, the last component
 * is never followed (replaced if it is in the way, files opened O_NOFOLLOW), and a name or hard-link
 * target climbing out of the extraction directory refuses the archive. So nothing outside the
 * rootfs is created, written or linked, whatever symlinks the container holds.
 */


/** `isulad-container-path-stat` as upstream's container_path_stat schema names the fields. */
export interface ContainerPathStat {
  Name: string;
  Size: number;
  Mode: number;
  Mtime: { seconds: number; nanos: number };
  LinkTarget?: string;
}

/** `isulad-copy-to-container` as upstream's container_copy_to_request schema names the fields. */
export interface CopyToRequest {
  id?: string;
  runtime?: string;
  srcPath?: string;
  srcIsdir?: boolean;
  srcRebaseName?: string;
  dstPath?: string;
}

// ---- path semantics (docker's archive package, as iSulad ports it) ------------------------------

/** The absolute in-container form of `path`: joined to `/`, cleaned, trailing `/` or `/.` kept. */
export function containerAbsPath(path: string): string {
  return preserveTrailingDotOrSeparator(posix.resolve('/', path), path);
}

/**
 * Where `path` (as the container sees it) is on the host, below `root`: every directory on the way
 * is resolved in scope; the last component is not followed (a symlink stays the symlink), unless the
 * path ends with `/` or `/.`. Returns the host path and the in-container absolute path.
 */
export async function resolveContainerPath(root: string, path: string): Promise<{ resolved: string; abs: string }> {
  const abs = containerAbsPath(path);
  const cut = abs.lastIndexOf('/');
  const dir = abs.slice(0, cut + 1);
  const base = abs.slice(cut + 1);
  const resolvedDir = await resolveInScope(root, dir);
  return { resolved: base === '' ? `${resolvedDir}/` : join(resolvedDir, base) + (base === '.' ? '/.' : ''), abs };
}

// ---- errors ---------------------------------------------------------------------------------------

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ELOOP: 'Too many levels of symbolic links',
  EEXIST: 'File exists',
  EISDIR: 'Is a directory',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
};
const strerror = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return (e.code && STRERROR[e.code]) || e.message;
};

// ---- stat ----------------------------------------------------------------------------------------

/** The path stat upstream sends: lstat of `resolved`; a symlink's target resolved in scope. */
export async function statContainerPath(root: string, resolved: string, abs: string): Promise<ContainerPathStat> {
  let st: Stats;
  try {
    st = await lstat(resolved, { bigint: false });
  } catch (err) {
    throw new ContainerError(`lstat ${resolved}: ${strerror(err)}`);
  }
  const ns = (await lstat(resolved, { bigint: true }).catch(() => undefined))?.mtimeNs;
  const stat: ContainerPathStat = {
    Name: splitPathDirEntry(abs).base === '.' ? '.' : posix.basename(abs) || '/',
    Size: st.size,
    Mode: modeBits(st),
    Mtime: { seconds: Math.floor(st.mtimeMs / 1000), nanos: ns !== undefined ? Number(ns % 1_000_000_000n) : 0 },
  };
  if (st.isSymbolicLink()) {
    const host = await resolveInScope(root, abs);
    stat.LinkTarget = posix.join('/', relative(root, host));
  }
  return stat;
}

/** st_mode as C has it (file type bits included): Node's Stats.mode already is. */
const modeBits = (st: Stats) => st.mode >>> 0;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
export const isDirMode = (mode: number) => (mode & S_IFMT) === S_IFDIR;
export const isLinkMode = (mode: number) => (mode & S_IFMT) === S_IFLNK;

// ---- tar out (GNU tar, as upstream) ---------------------------------------------------------------

/** Escapes `s` for a GNU tar --transform regex (basic RE) or replacement. */
const reEscape = (s: string) => s.replace(/[\\/.*[\]^$]/g, (c) => `\\${c}`);
const replEscape = (s: string) => s.replace(/[\\/&]/g, (c) => `\\${c}`);

/** A --transform renaming the archive's top entry `from` to `to` (member names and hard-link targets, not symlink targets). */
export function tarTransform(from: string, to: string): string[] {
  if (from === to) return [];
  return [`--transform=s/^${reEscape(from)}/${replEscape(to)}/S`];
}

/** Streams the tar of `base` (inside `dir`) renamed to `rename`, in chunks of at most 32 KiB. */
async function* tarOut(dir: string, base: string, rename: string): AsyncGenerator<Buffer> {
  const tar = spawn('tar', ['--numeric-owner', '-C', dir, '-c', '-f', '-', ...tarTransform(base, rename), '--', base], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    tar.on('error', (error) => resolve({ code: null, signal: null, error }));
    tar.on('close', (code, signal) => resolve({ code, signal }));
  });
  let complete = false;
  try {
    for await (const chunk of tar.stdout as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += ARCHIVE_BLOCK_SIZE) yield chunk.subarray(off, off + ARCHIVE_BLOCK_SIZE);
    }
    complete = true;
  } finally {
    if (!complete) tar.kill('SIGKILL');
  }
  const { code, signal, error } = await exit;
  if (error) throw new ContainerError(`tar exited with status 1: ${error.message}`);
  if (code !== 0 || stderr.trim() !== '') throw new ContainerError(`tar exited with status ${code ?? signal}: ${JSON.stringify(stderr)}`);
}

// ---- safe extraction -------------------------------------------------------------------------------

export class CopyExtractError extends Error {}

/**
 * The clean components of an archive name, its top entry renamed (`rename`): `.` and empty ones
 * dropped, `..` resolved lexically; climbing above the top refuses the archive.
 */
export function entryComponents(name: string, rename?: { from: string; to: string }): string[] {
  if (name.includes('\0')) throw new CopyExtractError(`archive entry "${name}" has a NUL byte in its name`);
  const raw = name.split('/').filter((c) => c !== '');
  if (rename && raw.length > 0 && raw[0] === rename.from) raw.splice(0, 1, ...rename.to.split('/').filter((c) => c !== ''));
  const out: string[] = [];
  for (const c of raw) {
    if (c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw new CopyExtractError(`archive entry "${name}" escapes the destination directory`);
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

const isErrno = (err: unknown, code: string) => (err as NodeJS.ErrnoException | undefined)?.code === code;

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

export interface ExtractOptions {
  rename?: { from: string; to: string };
  /** Apply owners from the archive (default: when running as root). */
  chown?: boolean;
}

/**
 * Extracts the tar `source` into `dir`, a directory inside `root` (the container rootfs), as if
 * `root` were `/`: see the file comment for the guarantees. Regular files, directories, symlinks,
 * hard links (to entries inside the rootfs), fifos and devices (as root); modes, owners, mtimes.
 */
export async function extractInScope(source: AsyncIterable<Buffer> | Readable, root: string, dir: string, opts: ExtractOptions = {}): Promise<void> {
  const rel = relative(root, dir);
  if (rel.startsWith('..') || posix.isAbsolute(rel)) throw new CopyExtractError(`extraction directory ${dir} is not inside ${root}`);
  const base = rel === '' ? [] : rel.split('/');
  const chown = opts.chown ?? process.getuid?.() === 0;
  const dirTimes: Array<{ path: string; mtime: Date }> = [];

  /**
   * The host path of an entry: parents resolved in scope, the last component as is. Missing parents
   * are created (as tar does): past the first missing component nothing exists to follow.
   */
  const place = async (comps: string[], createParents = true): Promise<string> => {
    const full = [...base, ...comps];
    const parent = await resolveInScope(root, `/${full.slice(0, -1).join('/')}`);
    if (createParents) await mkdir(parent, { recursive: true, mode: 0o755 });
    return join(parent, full[full.length - 1]!);
  };
  /** Clears the way for a new entry: anything there but a directory kept for a directory entry. */
  const clear = async (path: string, keepDir: boolean): Promise<Stats | null> => {
    const st = await lstatOrNull(path);
    if (!st) return null;
    if (keepDir && st.isDirectory()) return st;
    await rm(path, { recursive: true, force: true });
    return null;
  };
  const owner = async (path: string, h: Headers) => {
    if (!chown) return;
    await lchown(path, h.uid ?? 0, h.gid ?? 0).catch(() => undefined);
  };

  const apply = async (h: Headers, body: Readable): Promise<void> => {
    const comps = entryComponents(h.name, opts.rename);
    if (comps.length === 0) return; // the extraction directory itself
    const path = await place(comps);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date();
    switch (h.type) {
      case 'directory': {
        const existing = await clear(path, true);
        if (!existing) await mkdir(path, { mode: 0o700 });
        await owner(path, h);
        await chmod(path, mode);
        dirTimes.push({ path, mtime });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await clear(path, false);
        const fh = await open(path, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body) await fh.write(chunk as Buffer);
          if (chown) await fh.chown(h.uid ?? 0, h.gid ?? 0).catch(() => undefined);
          await fh.chmod(mode);
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        return;
      }
      case 'symlink': {
        await clear(path, false);
        await symlink(h.linkname ?? '', path);
        await owner(path, h);
        await lutimes(path, mtime, mtime).catch(() => undefined);
        return;
      }
      case 'link': {
        const targetComps = entryComponents(h.linkname ?? '', opts.rename);
        if (targetComps.length === 0) throw new CopyExtractError(`archive entry "${h.name}" links to a directory`);
        const target = await place(targetComps, false);
        const st = await lstatOrNull(target);
        if (!st) throw new CopyExtractError(`archive entry "${h.name}" links to missing "${h.linkname}"`);
        if (st.isDirectory()) throw new CopyExtractError(`archive entry "${h.name}" links to a directory`);
        if (target === path) return;
        await clear(path, false);
        await link(target, path);
        return;
      }
      case 'fifo':
      case 'character-device':
      case 'block-device': {
        await clear(path, false);
        try {
          if (h.type === 'fifo') native().mkfifo(path, mode);
          else native().mknod(path, (h.type === 'character-device' ? 0o020000 : 0o060000) | mode, h.devmajor ?? 0, h.devminor ?? 0);
        } catch {
          return; // not root, or no addon: skipped, as an unprivileged tar would
        }
        await owner(path, h);
        await chmod(path, mode);
        await utimes(path, mtime, mtime).catch(() => undefined);
        return;
      }
      default:
        return; // pax/gnu metadata records and unknown types carry nothing to create
    }
  };

  const extractor = tarExtract();
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => {
      failure ??= err;
      input.unpipe(extractor);
      input.destroy();
      extractor.destroy();
      reject(failure);
    };
    input.on('error', fail);
    extractor.on('error', fail);
    extractor.on('entry', (header, body, next) => {
      body.on('error', () => undefined);
      apply(header, body as unknown as Readable)
        .then(() => {
          body.resume(); // whatever the entry's handler did not read
          next();
        })
        .catch(fail);
    });
    extractor.on('finish', resolve);
    extractor.on('close', () => (failure ? undefined : resolve()));
  });
  input.pipe(extractor);
  await done;
  // Directories last: their entries changed their mtimes.
  for (const d of dirTimes.reverse()) await utimes(d.path, d.mtime, d.mtime).catch(() => undefined);
}

// ---- the service ---------------------------------------------------------------------------------

type Method<K extends keyof (typeof ContainerService)['methods']> = (typeof ContainerService)['methods'][K];
type CallOf<M> = M extends { requestType: { decode(b: Uint8Array): infer Req }; responseType: { decode(b: Uint8Array): infer Res } } ? StreamCall<Req, Res> : never;
type CopyFrom = CallOf<Method<'CopyFromContainer'>>;
type CopyTo = CallOf<Method<'CopyToContainer'>>;

export interface CopyDeps {
  box: Containers;
  /** Pause a running container while its rootfs is copied (upstream does); default true. */
  pauseRunning?: boolean;
}

/** Upstream's container_archive checks: a container, not being removed. */
function target(box: Containers, id: string, path: string | undefined, verb: 'from' | 'to'): ContainerRecord {
  if (!path) throw new ContainerError('bad parameter: path cannot be empty', ErrorCode.INPUT);
  const rec = box.find(id);
  if (rec.state.status === 'removing') {
    throw new ContainerError(verb === 'from' ? "can't copy file from a container which is dead or marked for removal" : "can't copy to a container which is dead or marked for removal");
  }
  return rec;
}

/** Runs `fn` with the container paused if it runs (and resumes it after), as upstream does. */
async function whilePaused<T>(deps: CopyDeps, rec: ContainerRecord, fn: () => Promise<T>): Promise<T> {
  const pause = (deps.pauseRunning ?? true) && rec.state.status === 'running';
  if (pause) {
    try {
      await deps.box.pause(rec.id);
    } catch {
      throw new ContainerError("can't copy to a container which is cannot be paused");
    }
  }
  try {
    return await fn();
  } finally {
    if (pause) await deps.box.resume(rec.id).catch(() => undefined);
  }
}

/** The bytes of the `data` messages of a CopyToContainer call. */
async function* dataOf(messages: AsyncIterable<{ data: Buffer }>): AsyncGenerator<Buffer> {
  for await (const m of messages) if (m.data.length > 0) yield Buffer.from(m.data);
}

/** containers.ContainerService CopyFromContainer and CopyToContainer. */
export function containerCopy(box: Containers, opts: { pauseRunning?: boolean } = {}): BidiImpl<typeof ContainerService> {
  const deps: CopyDeps = { box, ...opts };
  return {
    CopyFromContainer: async (call: CopyFrom) => {
      let req = { id: '', srcpath: '' };
      for await (const m of call.messages) req = m;
      const rec = target(box, req.id, req.srcpath, 'from');
      await whilePaused(deps, rec, () =>
        box.withRootfs(rec.id, async (root) => {
          const { resolved, abs } = await resolveContainerPath(root, req.srcpath);
          const stat = await statContainerPath(root, resolved, abs);
          call.sendMetadata({ [MD_CONTAINER_PATH_STAT]: headerJson(stat) });
          await call.send({ data: Buffer.alloc(0) }); // the C client ignores its first read
          // The archive of the entry itself (a trailing `/` or `/.` walks into a directory).
          let cleaned = posix.normalize(resolved);
          if (cleaned.length > 1 && cleaned.endsWith('/')) cleaned = cleaned.slice(0, -1);
          if (cleaned.endsWith('/.')) cleaned = cleaned.slice(0, -2) || '/';
          const absBase = escapeRoot(splitPathDirEntry(abs).base);
          for await (const chunk of tarOut(posix.dirname(cleaned), posix.basename(cleaned), absBase)) {
            if (call.cancelled()) break;
            await call.send({ data: chunk });
          }
        }),
      );
    },
    CopyToContainer: async (call: CopyTo) => {
      try {
        const raw = call.metadata.get(MD_COPY_TO_CONTAINER)[0];
        if (raw === undefined) throw new ContainerError("No metadata 'isulad-copy-to-container' received");
        let req: CopyToRequest;
        try {
          req = JSON.parse(String(raw)) as CopyToRequest;
          if (typeof req !== 'object' || req === null) throw new Error('not an object');
        } catch (err) {
          throw new ContainerError(`Invalid copy to container json: ${(err as Error).message}`);
        }
        const rec = target(box, req.id ?? '', req.srcPath, 'to');
        await whilePaused(deps, rec, () =>
          box.withRootfs(rec.id, async (root) => {
            const dstPath = req.dstPath ?? '';
            const dst: CopyInfo = { path: dstPath, exists: false, isDir: false };
            // Stat once, and through a symlink once more (upstream's copy_to_container_get_dstdir).
            try {
              let r = await resolveContainerPath(root, dst.path);
              let st = await statContainerPath(root, r.resolved, r.abs);
              if (isLinkMode(st.Mode) && st.LinkTarget) {
                dst.path = st.LinkTarget;
                r = await resolveContainerPath(root, dst.path);
                st = await statContainerPath(root, r.resolved, r.abs);
              }
              dst.exists = true;
              dst.isDir = isDirMode(st.Mode);
            } catch {
              /* missing: created by the extraction */
            }
            const plan = prepareArchiveCopy({ path: req.srcPath!, exists: true, isDir: req.srcIsdir === true, rebaseName: req.srcRebaseName }, dst);
            const abs = containerAbsPath(plan.dstDir);
            const resolved = await resolveInScope(root, abs);
            if (rec.hostConfig.ReadonlyRootfs) throw new ContainerError('container rootfs is marked read-only');
            let st: Stats;
            try {
              st = await lstat(resolved);
            } catch (err) {
              throw new ContainerError(`lstat ${resolved}: ${strerror(err)}`);
            }
            if (!st.isDirectory()) throw new ContainerError('extraction point is not a directory');
            try {
              await extractInScope(dataOf(call.messages), root, resolved, { rename: plan.rename });
            } catch (err) {
              throw new ContainerError(`Can not untar to container: ${(err as Error).message}`);
            }
          }),
        );
      } finally {
        await call.send({ finish: true });
      }
    },
  };
}
