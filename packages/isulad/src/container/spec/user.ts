import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SpecError } from './types';

const MAX_SYMLINKS = 255;

/**
 * Resolves `unsafe` (a path inside the container) against `root` the way the container would see
 * it: every symlink is read and re-resolved inside `root`, `..` never climbs above `root`.
 * Returns a host path that is always under `root` (the last component may not exist).
 */
export async function secureJoin(root: string, unsafe: string): Promise<string> {
  let pending = posix.normalize(`/${unsafe}`).split('/').filter((p) => p !== '');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    let st;
    try {
      st = await lstat(candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        resolved.push(part, ...pending);
        return join(root, ...resolved);
      }
      throw err;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new SpecError(`Too many symlinks resolving ${unsafe} in the container rootfs`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/').filter((p) => p !== ''), ...pending];
  }
  return join(root, ...resolved);
}

async function readInRootfs(rootfs: string, file: string): Promise<string | undefined> {
  const path = await secureJoin(rootfs, file);
  try {
    const st = await lstat(path);
    if (!st.isFile()) return undefined;
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SpecError(`Failed to read ${file} in the container: ${(err as Error).message}`);
  }
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const DIGITS = /^\d+$/;

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 4 || !DIGITS.test(f[2]!) || !DIGITS.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const f = l.split(':');
    if (f.length < 3 || !DIGITS.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '') });
  }
  return out;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The passwd name when the user was found there. */
  username?: string;
}

const MAX_ID = 2 ** 31 - 1;

function numericId(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw new SpecError(`Invalid ${what} id: ${text}`);
  return n;
}

/**
 * Resolves `user[:group]` (names or numbers) against `/etc/passwd` and `/etc/group` of the rootfs
 * (read without following symlinks out of it), plus `GroupAdd` entries. Names that are not found
 * are errors; numbers not found are used as they are (gid 0 when the uid has no passwd entry).
 * The supplementary groups are the user's memberships in /etc/group (unless a group is named)
 * plus `groupAdd`.
 */
export async function resolveUser(rootfs: string, userSpec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const spec = userSpec.trim();
  const colon = spec.indexOf(':');
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? '' : spec.slice(colon + 1);
  if (colon !== -1 && groupPart === '') throw new SpecError(`Invalid user format: ${userSpec}`);

  let passwd: PasswdEntry[] | undefined;
  let groups: GroupEntry[] | undefined;
  const loadPasswd = async () => (passwd ??= parsePasswd((await readInRootfs(rootfs, '/etc/passwd')) ?? ''));
  const loadGroups = async () => (groups ??= parseGroup((await readInRootfs(rootfs, '/etc/group')) ?? ''));

  let uid = 0;
  let gid = 0;
  let username: string | undefined;
  if (userPart === '') {
    uid = 0;
  } else if (DIGITS.test(userPart)) {
    uid = numericId(userPart, 'user');
    const entry = (await loadPasswd()).find((e) => e.uid === uid);
    if (entry) {
      gid = entry.gid;
      username = entry.name;
    }
  } else {
    const entry = (await loadPasswd()).find((e) => e.name === userPart);
    if (!entry) throw new SpecError(`Unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    username = entry.name;
  }
  if (userPart === '' && colon === -1) {
    const entry = (await loadPasswd()).find((e) => e.uid === 0);
    if (entry) {
      gid = entry.gid;
      username = entry.name;
    }
  }

  const lookupGroup = async (g: string): Promise<number> => {
    if (DIGITS.test(g)) return numericId(g, 'group');
    const entry = (await loadGroups()).find((e) => e.name === g);
    if (!entry) throw new SpecError(`Unable to find group ${g}: no matching entries in group file`);
    return entry.gid;
  };
  if (groupPart !== '') gid = await lookupGroup(groupPart);

  const additional: number[] = [];
  // like runc: memberships count only when no group was named explicitly
  if (username !== undefined && groupPart === '') {
    for (const g of await loadGroups()) {
      if (g.members.includes(username) && g.gid !== gid && !additional.includes(g.gid)) additional.push(g.gid);
    }
  }
  for (const g of groupAdd) {
    const n = await lookupGroup(g.trim());
    if (!additional.includes(n)) additional.push(n);
  }
  const result: ResolvedUser = { uid, gid, additionalGids: additional };
  if (username !== undefined) result.username = username;
  return result;
}
