import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  mountPoint: string;
  /** Per-mount options (rw, nosuid, relatime...). */
  options: string;
  fsType: string;
  source: string;
  /** Per-superblock options (where ext4's prjquota and xfs's prjquota/pquota show up). */
  superOptions: string;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 3) continue;
    out.push({ mountPoint: unescape(f[4]!), options: f[5]!, fsType: f[dash + 1]!, source: unescape(f[dash + 2]!), superOptions: f[dash + 3] ?? '' });
  }
  return out;
}

export async function readMounts(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Synchronous variant, for start-up checks only. */
export function readMountsSync(): MountInfo[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The mount that holds `path` (an absolute, symlink-free path): the longest mount point prefix, last one wins. */
export function mountOf(mounts: MountInfo[], path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of visibleMounts(mounts)) {
    const mp = m.mountPoint;
    const inside = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/**
 * The mounts one can see: a mount on a directory hides every earlier mount at or below it (a new
 * namespace inherits the host's mounts, and a tmpfs put over /var/lib hides the host's mounts
 * under it while /proc/self/mountinfo still lists them). mountinfo lists mounts in mount order.
 */
export function visibleMounts(mounts: MountInfo[]): MountInfo[] {
  const visible: MountInfo[] = [];
  for (const m of mounts) {
    const mp = m.mountPoint;
    for (let i = visible.length - 1; i >= 0; i--) {
      const v = visible[i]!.mountPoint;
      if (mp !== '/' && (v === mp || v.startsWith(`${mp}/`))) visible.splice(i, 1);
    }
    visible.push(m);
  }
  return visible;
}

export function isMountPoint(mounts: MountInfo[], path: string): boolean {
  return visibleMounts(mounts).some((m) => m.mountPoint === path);
}

/** Runs mount(8)/umount(8) (Node has no mount(2)); rejects with the tool's own message. */
export function runTool(cmd: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const msg = String(stderr).trim() || err.message;
      reject(new Error(`${cmd} ${args.join(' ')}: ${msg}`));
    });
  });
}
