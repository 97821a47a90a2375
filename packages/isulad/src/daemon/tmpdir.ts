import { lstat, mkdir, realpath, rm, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config';

export const TMPDIR_NAME = 'isulad_tmpdir';

/** The base directory ISULAD_TMPDIR selects; unset, empty or exactly /tmp fall back to the graph root. */
export function tmpdirBase(env: NodeJS.ProcessEnv, graph: string): { base: string; custom: boolean } {
  const v = env.ISULAD_TMPDIR;
  if (v === undefined || v === '' || v === '/tmp') return { base: graph, custom: false };
  return { base: v, custom: true };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `<base>/isulad_tmpdir` a fresh root-only directory: the base is created when missing and
 * resolved through symlinks when present (a dangling one is fatal); the directory itself is wiped at
 * every start so nothing from an earlier run (half pulls, half loads) survives.
 */
export async function prepareTmpdir(base: string): Promise<string> {
  let realBase: string;
  try {
    if (!(await exists(base))) await mkdir(base, { recursive: true, mode: 0o700 });
    realBase = await realpath(base);
  } catch (err) {
    throw new ConfigError(`Failed to ensure the ${base} directory is a safe directory: ${(err as Error).message}`);
  }
  const dir = join(realBase, TMPDIR_NAME);
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700); // mkdir's mode is filtered by the umask
  } catch (err) {
    throw new ConfigError(`Failed to ensure the ${dir} directory is a safe directory: ${(err as Error).message}`);
  }
  return dir;
}
