import { spawn } from 'node:child_process';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { findIsulaCommand } from '@isula/argv';
import {
  cleanPath,
  ConnectError,
  copyFromContainer,
  CopyPathError,
  copyToContainer,
  prepareArchiveCopy,
  preserveTrailingDotOrSeparator,
  splitCopyOperand,
  splitPathDirEntry,
  type CopyInfo,
} from '@isula/client';
import { IsulaCommand, type CommandContext } from '../command-base';
import { CANNOT_CONNECT, describeFailure, UsageError } from '../render/errors';

/*
 * `isula cp CONTAINER:SRC_PATH DEST_PATH|-` and `isula cp SRC_PATH|- CONTAINER:DEST_PATH`, as
 * upstream's src/cmd/isula/stream/cp.c: the host side resolves its path, packs or unpacks with GNU
 * tar (renaming the archive's top entry as the path rules say), and the daemon does the container
 * side. `-` (a tar on stdin / to stdout) is docker's extension; upstream has no such operand.
 */

const strerrorOf = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'No such file or directory',
    ENOTDIR: 'Not a directory',
    EACCES: 'Permission denied',
    ELOOP: 'Too many levels of symbolic links',
  };
  return (code && known[code]) || (err as Error).message;
};

/** A host-side failure, printed as is. */
class HostCopyError extends Error {}

/** Upstream's resolve_local_path: cleaned, absolute, the trailing `/` or `/.` kept. */
export function resolveLocalPath(path: string, cwd = process.cwd()): string {
  return preserveTrailingDotOrSeparator(cleanPath(resolvePath(cwd, path)), path);
}

/** Upstream's copy_info_source_path without following a final symlink. */
export async function hostSourceInfo(path: string): Promise<CopyInfo> {
  // filepath_split: the directory part is resolved (realpath), the last entry kept as written.
  const cut = path.lastIndexOf('/');
  const dir = cut <= 0 ? '/' : path.slice(0, cut);
  const base = path.slice(cut + 1);
  let real: string;
  try {
    real = await realpath(dir);
  } catch (err) {
    throw new HostCopyError(`Can not get real path of ${dir}: ${strerrorOf(err)}`);
  }
  const resolved = real === '/' ? `/${base}` : `${real}/${base}`;
  let rebaseName: string | undefined;
  const pathBase = splitPathDirEntry(path).base;
  if (path.endsWith('/') && pathBase !== splitPathDirEntry(resolved).base) rebaseName = pathBase;
  let st;
  try {
    st = await lstat(resolved);
  } catch (err) {
    throw new HostCopyError(`lstat ${resolved}: ${strerrorOf(err)}`);
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** Upstream's copy_info_destination_path: symlinks followed (at most 10); a missing path needs its parent. */
export async function hostDestinationInfo(path: string): Promise<CopyInfo> {
  let current = path;
  for (let i = 0; i <= 10; i++) {
    let st;
    try {
      st = await lstat(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostCopyError(`Can not stat ${current}: ${strerrorOf(err)}`);
      const parent = splitPathDirEntry(current).dir;
      const pst = await lstat(parent).catch(() => undefined);
      if (!pst || !pst.isDirectory()) throw new HostCopyError(`Path ${parent} is not exists or not a directory`);
      return { path: current, exists: false, isDir: false };
    }
    if (!st.isSymbolicLink()) return { path: current, exists: true, isDir: st.isDirectory() };
    const target = await readlink(current);
    current = target.startsWith('/') ? target : resolvePath(dirname(current), target);
  }
  throw new HostCopyError(`Too many symlinks in: ${path}`);
}

/** Escapes for a GNU tar --transform (basic RE, and its replacement). */
const reEscape = (s: string) => s.replace(/[\\/.*[\]^$]/g, (ch) => `\\${ch}`);
const replEscape = (s: string) => s.replace(/[\\/&]/g, (ch) => `\\${ch}`);

/** A --transform renaming the archive's top entry (names and hard-link targets, not symlink targets). */
export function tarTransform(rename?: { from: string; to: string }): string[] {
  if (!rename || rename.from === rename.to) return [];
  return [`--transform=s/^${reEscape(rename.from)}/${replEscape(rename.to)}/S`];
}

/** Runs GNU tar; resolves when it exits 0 with nothing on stderr, else rejects with upstream's wording. */
function runTar(args: string[], stdin?: Readable, captureStdout = false): { out?: Readable; done: Promise<void> } {
  const tar = spawn('tar', args, { stdio: [stdin ? 'pipe' : 'ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  if (stdin) {
    tar.stdin!.on('error', () => undefined); // tar exited early: its status says why
    stdin.on('error', () => tar.kill());
    stdin.pipe(tar.stdin!);
  }
  const done = new Promise<void>((resolve, reject) => {
    tar.on('error', (err) => reject(new HostCopyError(`tar exited with status 1: ${JSON.stringify(err.message)}`)));
    tar.on('close', (code, signal) => {
      if (code === 0 && stderr === '') resolve();
      else reject(new HostCopyError(`tar exited with status ${code ?? signal}: ${JSON.stringify(stderr)}`));
    });
  });
  return { out: tar.stdout ?? undefined, done };
}

export default class CpCommand extends IsulaCommand {
  static override paths = [['cp']];
  static override spec = findIsulaCommand('cp')!;

  protected async run(ctx: CommandContext) {
    this.requireArgs(ctx, (n) => n === 2, `"isula cp" requires exactly 2 arguments.`);
    const src = splitCopyOperand(ctx.args[0]!);
    const dst = splitCopyOperand(ctx.args[1]!);
    if (src.container !== undefined && dst.container !== undefined) {
      ctx.stderr.write('copying between containers is not supported\n');
      return 0; // upstream prints the error and still exits 0
    }
    if (src.container !== undefined) return this.fromContainer(ctx, src.container, src.path, dst.path);
    if (dst.container !== undefined) return this.toContainer(ctx, dst.container, src.path, dst.path);
    ctx.stderr.write('must specify at least one container source\n');
    return 0;
  }

  private async fromContainer(ctx: CommandContext, id: string, srcPath: string, destPath: string): Promise<number> {
    let copy;
    try {
      copy = await copyFromContainer(ctx.client(), id, srcPath);
    } catch (err) {
      ctx.stderr.write(`${err instanceof ConnectError ? CANNOT_CONNECT : describeFailure(err).message}\n`);
      return 1;
    }
    const { stat, archive } = copy;
    try {
      if (destPath === '-') {
        // The raw tar to stdout.
        await new Promise<void>((resolve, reject) => {
          archive.on('error', reject);
          archive.on('end', resolve);
          archive.pipe(ctx.stdout as NodeJS.WritableStream, { end: false });
        });
        await copy.done;
        return 0;
      }
      const resolved = resolveLocalPath(destPath);
      const dstInfo = await hostDestinationInfo(resolved);
      const plan = prepareArchiveCopy({ path: srcPath, exists: true, isDir: stat.isDir }, dstInfo);
      const tar = runTar(['-x', '-C', plan.dstDir, ...tarTransform(plan.rename)], archive);
      const [t, d] = await Promise.allSettled([tar.done, copy.done]);
      if (d.status === 'rejected') throw d.reason;
      if (t.status === 'rejected') throw t.reason;
      return 0;
    } catch (err) {
      copy.cancel();
      if (err instanceof HostCopyError || err instanceof CopyPathError) ctx.stderr.write(`Failed exact archive: ${err.message}\n`);
      else ctx.stderr.write(`${err instanceof ConnectError ? CANNOT_CONNECT : describeFailure(err).message}\n`);
      return 1;
    }
  }

  private async toContainer(ctx: CommandContext, id: string, srcPath: string, destPath: string): Promise<number> {
    let tar: { out?: Readable; done: Promise<void> } | undefined;
    let info: CopyInfo;
    let archive: AsyncIterable<Buffer>;
    try {
      if (srcPath === '-') {
        // A tar on stdin, extracted into the destination directory as is.
        info = { path: '/', exists: true, isDir: true };
        archive = process.stdin;
      } else {
        info = await hostSourceInfo(resolveLocalPath(srcPath));
        const { dir, base } = splitPathDirEntry(info.path);
        const rename = info.rebaseName ? { from: base, to: info.rebaseName } : undefined;
        tar = runTar(['-c', '-f', '-', '-C', dir, ...tarTransform(rename), '--', base], undefined, true);
        archive = tar.out as AsyncIterable<Buffer>;
      }
    } catch (err) {
      ctx.stderr.write(`Failed to archive: ${(err as Error).message}\n`);
      return 1;
    }
    const request = { id, srcPath: info.path, srcIsDir: info.isDir, srcRebaseName: info.rebaseName, dstPath: destPath };
    const sent = copyToContainer(ctx.client(), request, archive);
    const [s, t] = await Promise.allSettled([sent, tar?.done ?? Promise.resolve()]);
    if (s.status === 'rejected') {
      const err = s.reason as unknown;
      if (err instanceof UsageError) throw err;
      ctx.stderr.write(`${err instanceof ConnectError ? CANNOT_CONNECT : describeFailure(err).message}\n`);
      return 1;
    }
    if (t.status === 'rejected') {
      ctx.stderr.write(`Failed to archive: ${(t.reason as Error).message}\n`);
      return 1;
    }
    return 0;
  }
}
