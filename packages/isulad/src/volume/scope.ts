import { lstat, readlink } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';

/** Symlinks followed at most while resolving one path (as Linux's MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * The host path of `path` as seen inside `root` (a container rootfs): every symlink on the way is
 * followed as if `root` were `/`, so neither `..` nor an absolute link target can leave `root`
 * (Docker's FollowSymlinkInScope). The last component may be missing; the result is always
 * `root` or below it. Use it to find the image directory a volume is mounted over before
 * {@link Volumes.populateFrom}.
 */
export async function resolveInScope(root: string, path: string): Promise<string> {
  if (!isAbsolute(root)) throw new Error(`resolveInScope: root must be absolute, got ${root}`);
  let pending = path.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new Error(`too many levels of symbolic links resolving ${path} in ${root}`);
    const target = await readlink(candidate);
    if (posix.isAbsolute(target)) resolved.length = 0;
    pending = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
  }
  return join(root, ...resolved);
}
