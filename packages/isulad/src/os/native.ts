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
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  // Resolved from dist/os/ (compiled) to the package's native/build output.
  addon ??= require('../../native/build/Release/isulad_native.node') as NativeAddon;
  return addon;
}
