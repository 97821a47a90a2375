import { closeSync, ftruncateSync, openSync, unlinkSync, writeSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../config';
import { native } from '../os/native';

/** The pidfile, locked for the daemon's lifetime so a second daemon on the same file is refused. */
export class PidFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  static async acquire(path: string): Promise<PidFile> {
    await mkdir(dirname(path), { recursive: true });
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o640);
    if (!native().lockFile(fd)) {
      closeSync(fd);
      throw new ConfigError(
        `Pid file found, ensure isulad is not running or delete pid file ${path} or please specify another pid file`,
      );
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return new PidFile(path, fd);
  }

  /** Removes the file and drops the lock (the lock goes with the descriptor). */
  release(): void {
    if (this.fd === undefined) return;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
    closeSync(this.fd);
    this.fd = undefined;
  }
}
