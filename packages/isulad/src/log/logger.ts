import { mkdirSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { LogLevel, LogOptions } from '../config';

export type DaemonLogger = Logger<'alert' | 'crit' | 'notice'>;

/** Upstream's nine levels on pino's numeric scale (pino's own six plus alert, crit and notice). */
const CUSTOM_LEVELS = { alert: 58, crit: 55, notice: 35 };
const PINO_LEVEL: Record<LogLevel, string> = {
  FATAL: 'fatal',
  ALERT: 'alert',
  CRIT: 'crit',
  ERROR: 'error',
  WARN: 'warn',
  NOTICE: 'notice',
  INFO: 'info',
  DEBUG: 'debug',
  TRACE: 'trace',
};

export const DAEMON_LOG_FILE = 'isulad.log';

/**
 * A size-rotated log file: `isulad.log`, `isulad.log.1` … `isulad.log.<max-file - 1>`. Writes go
 * through pino's asynchronous SonicBoom; only the rare rotation renames synchronously, so the
 * order of files stays exact. With max-file 1 the size limit does not apply (the spec says so).
 * The live file is opened synchronously (so it always exists when a rotation renames it) and each
 * rotation hands the old stream its own fd: what it still buffers drains into the renamed file.
 */
export class RotatingFile {
  private size = 0;
  private boom: ReturnType<typeof pino.destination>;

  constructor(
    readonly path: string,
    private readonly opts: LogOptions,
    existingSize = 0,
  ) {
    this.size = existingSize;
    mkdirSync(dirname(path), { recursive: true });
    this.boom = this.open();
  }

  private open(): ReturnType<typeof pino.destination> {
    const fd = openSync(this.path, 'a', this.opts.logFileMode);
    return pino.destination({ dest: fd, sync: false });
  }

  write(chunk: string): boolean {
    const ok = this.boom.write(chunk);
    this.size += Buffer.byteLength(chunk);
    if (this.opts.maxFile > 1 && this.size >= this.opts.maxSize) this.rotate();
    return ok;
  }

  private rotate(): void {
    const last = this.opts.maxFile - 1;
    try {
      unlinkSync(`${this.path}.${last}`);
    } catch {
      /* not there yet */
    }
    for (let i = last - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch {
        /* gap in the sequence */
      }
    }
    renameSync(this.path, `${this.path}.1`);
    const old = this.boom;
    this.boom = this.open(); // new lines go to a fresh file
    old.end(); // buffered lines drain into .1 (the fd follows the rename), then it closes
    this.size = 0;
  }

  flushSync(): void {
    try {
      this.boom.flushSync();
    } catch {
      /* nothing buffered */
    }
  }
}

export interface LoggerSetup {
  logger: DaemonLogger;
  /** Flushes what is buffered; called on the way out. */
  flush(): void;
  file?: string;
}

export function createLogger(driver: 'stdout' | 'file', level: LogLevel, opts: LogOptions, existingSize = 0): LoggerSetup {
  const options = { level: PINO_LEVEL[level], customLevels: CUSTOM_LEVELS, base: { pid: process.pid } };
  if (driver === 'file') {
    const file = new RotatingFile(join(opts.logPath, DAEMON_LOG_FILE), opts, existingSize);
    const logger = pino(options, file) as DaemonLogger;
    return { logger, flush: () => file.flushSync(), file: file.path };
  }
  const dest = pino.destination({ dest: 1, sync: false });
  const logger = pino(options, dest) as DaemonLogger;
  return {
    logger,
    flush: () => {
      try {
        dest.flushSync();
      } catch {
        /* stdout closed */
      }
    },
  };
}
