// Writing a recipe's files. Unlike the scripts (`rm -rf $HOME/.iSulad/*`, `rm -f *.pem ...`), only
// the files of the recipe are replaced; other files in the directory are left alone.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CertsError, type CertBundle } from './certs.js';

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // Only the errno code and a fixed text: never file contents.
  if (err && typeof err.code === 'string') {
    const texts: Record<string, string> = {
      EACCES: 'permission denied',
      EPERM: 'operation not permitted',
      EROFS: 'read-only file system',
      ENOTDIR: 'a path component is not a directory',
      ENOENT: 'no such file or directory',
      ENOSPC: 'no space left on device',
      EEXIST: 'file exists',
      EISDIR: 'is a directory',
    };
    return `${texts[err.code] ?? 'error'} (${err.code})`;
  }
  return 'unexpected error';
}

/**
 * Creates `dir` if needed (mode 0700) and checks that files can be created in it, before any key is
 * generated.
 */
export async function prepareDir(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  try {
    await fsp.mkdir(abs, { recursive: true, mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CertsError(`cannot create directory ${abs}: ${reason(e)}`);
  }
  const st = await fsp.stat(abs).catch(() => null);
  if (!st?.isDirectory()) throw new CertsError(`${abs} is not a directory`);
  const probe = path.join(abs, `.isula-certs-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await fsp.open(probe, 'wx', 0o600);
    await fh.close();
    await fsp.unlink(probe);
  } catch (e) {
    throw new CertsError(`cannot write in directory ${abs}: ${reason(e)}`);
  }
  return abs;
}

/**
 * Writes the bundle's files into `dir` with their modes (0400 keys, 0444 certificates, whatever the
 * umask), replacing files of the same names, and removes the bundle's obsolete names. All files
 * are first written (and synced) under temporary names, then renamed over the old ones: an error
 * while writing (disk full, permissions...) leaves the previous files untouched.
 */
export async function writeBundle(dir: string, bundle: CertBundle): Promise<string[]> {
  const abs = path.resolve(dir);
  const temps: { tmp: string; final: string }[] = [];
  try {
    for (const f of bundle.files) {
      const final = path.join(abs, f.name);
      const tmp = path.join(abs, `.${f.name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      temps.push({ tmp, final });
      const fh = await fsp.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(f.contents);
        await fh.sync();
        await fh.chmod(f.mode);
      } finally {
        await fh.close();
      }
    }
    for (const { tmp, final } of temps) await fsp.rename(tmp, final);
  } catch (e) {
    await Promise.all(temps.map(({ tmp }) => fsp.rm(tmp, { force: true }).catch(() => {})));
    throw new CertsError(`cannot write the certificates into ${abs}: ${reason(e)}`);
  }
  for (const name of bundle.obsolete) {
    await fsp.rm(path.join(abs, name), { force: true }).catch((e) => {
      throw new CertsError(`cannot remove ${path.join(abs, name)}: ${reason(e)}`);
    });
  }
  return temps.map((t) => t.final);
}
