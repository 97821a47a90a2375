import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The daemon's small native addon (native/isulad_native.c): calls Node does not offer. */
export interface NativeAddon {
  /** fcntl(F_SETLK, F_WRLCK) over the whole file; false when another process holds the lock. */
  lockFile(fd: number): boolean;
  /** Sends one datagram to a unix datagram socket (systemd's NOTIFY_SOCKET; '@' = abstract). */
  notify(socketPath: string, message: string): void;
  mkfifo(path: string, mode: number): void;
  /** mknod(2); overlay whiteouts are character devices 0:0. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2), e.g. trusted.overlay.opaque=y on an opaque directory. */
  lsetxattr(path: string, name: string, value: Buffer | string): void;
  /** lgetxattr(2); null when the attribute is not set (ENODATA). */
  lgetxattr(path: string, name: string): Buffer | null;
  /** Whether readdir(3) reports d_type for every entry of `dir` (overlay2 needs it; Node hides DT_UNKNOWN). */
  direntTypes(dir: string): boolean;
  /** mount(2) on a worker thread. */
  mount(source: string, target: string, fstype: string, flags: number, data: string, cb: (err: NodeJS.ErrnoException | null) => void): void;
  /** umount2(2) on a worker thread. */
  umount(target: string, flags: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

/** mount(2) without spawning mount(8). */
export function mountFs(source: string, target: string, fstype: string, data: string, flags = 0): Promise<void> {
  return new Promise((resolve, reject) => native().mount(source, target, fstype, flags, data, (err) => (err ? reject(err) : resolve())));
}

/** umount2(2); flags 2 = MNT_DETACH. */
export function umountFs(target: string, flags = 0): Promise<void> {
  return new Promise((resolve, reject) => native().umount(target, flags, (err) => (err ? reject(err) : resolve())));
}

let addon: NativeAddon | undefined;

const ADDON = 'native/build/Release/isulad_native.node';

export function native(): NativeAddon {
  // The bundle runs from dist/, the compiled files from dist/os/: the addon sits at the package root.
  if (!addon) {
    const dir = [join(__dirname, '..'), join(__dirname, '..', '..')].find((d) => existsSync(join(d, ADDON)));
    if (!dir) throw new Error(`the isulad native addon (${ADDON}) is not built`);
    addon = require(join(dir, ADDON)) as NativeAddon;
  }
  return addon;
}
