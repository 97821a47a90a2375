import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Removes a container's (empty) cgroup directories from every v1 hierarchy and the unified one.
 * The runtime's `delete` normally does this; a create killed half way (start-timeout) leaves them.
 */
export async function removeCgroup(cgroupsPath: string, root = '/sys/fs/cgroup'): Promise<void> {
  const rel = cgroupsPath.replace(/^\/+/, '');
  if (rel === '' || rel.split('/').includes('..')) return;
  const hierarchies = await readdir(root).catch(() => [] as string[]);
  await Promise.all(hierarchies.map((h) => rmdir(join(root, h, rel)).catch(() => undefined)));
}
