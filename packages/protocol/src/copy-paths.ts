/**
 * The path rules of `isula cp` (Docker's archive package, as iSulad ports it), shared by the client
 * and the daemon: both sides decide where an archive lands and how its top entry is renamed.
 */

/** Upstream's ARCHIVE_BLOCK_SIZE: the largest `data` message either side accepts. */
export const ARCHIVE_BLOCK_SIZE = 32 * 1024;

/** JSON safe for an HTTP/2 header value: non-ASCII escaped as \uXXXX (the same JSON once parsed). */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const hasTrailingSeparator = (p: string) => p.endsWith('/');
const specifiesCurrentDir = (p: string) => p === '.' || p.endsWith('/.');

/** Lexically cleaned path (Go's filepath.Clean). */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const abs = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined || '.';
}

/** `cleaned` with the trailing `/` or `/.` of `original` put back (they carry meaning for cp). */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (specifiesCurrentDir(original) && !specifiesCurrentDir(out)) out = out.endsWith('/') ? `${out}.` : `${out}/.`;
  if (hasTrailingSeparator(original) && !hasTrailingSeparator(out)) out += '/';
  return out;
}

/** Directory and last entry of `path`, a trailing `/.` kept as the entry `.` (SplitPathDirEntry). */
export function splitPathDirEntry(path: string): { dir: string; base: string } {
  let cleaned = cleanPath(path);
  if (specifiesCurrentDir(path)) cleaned = cleaned === '/' ? '/.' : `${cleaned}/.`;
  const cut = cleaned.lastIndexOf('/');
  if (cut < 0) return { dir: '.', base: cleaned };
  if (cleaned === '/') return { dir: '/', base: '/' };
  return { dir: cut === 0 ? '/' : cleaned.slice(0, cut), base: cleaned.slice(cut + 1) };
}

/** One side of a copy. */
export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName?: string;
}

/** Where to extract an archive and how to rename its top entry. */
export interface ArchivePlan {
  dstDir: string;
  rename?: { from: string; to: string };
}

/** A cp the path rules refuse (upstream's texts). */
export class CopyPathError extends Error {}

/** `/` as an archive's top entry is `.` (a leading `/` never goes into an archive). */
export const escapeRoot = (base: string) => (base === '/' ? '.' : base);

/** Upstream's prepare_archive_copy: extraction directory and renaming, or its refusal. */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): ArchivePlan {
  const { dir: dstDir, base: dstBase } = splitPathDirEntry(dst.path);
  const srcBase = src.rebaseName || splitPathDirEntry(src.path).base;
  const rename = { from: escapeRoot(srcBase), to: escapeRoot(dstBase) };
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new CopyPathError('cannot copy directory to file');
  if (dst.exists || src.isDir) return { dstDir, rename };
  if (hasTrailingSeparator(dst.path) || specifiesCurrentDir(dst.path)) throw new CopyPathError('no such directory, can not copy file');
  return { dstDir, rename };
}
