import { readFile } from 'node:fs/promises';

/** Looks a group up in /etc/group (Node has no getgrnam). Undefined when it does not exist. */
export async function lookupGroupId(name: string, groupFile = '/etc/group'): Promise<number | undefined> {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = await readFile(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
