import { closeSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
 * A size-rotated log file: `isulad.log`, `isulad.log.1` … `isulad.log.<max-file - 1>`. Each line is
 * one write(2) to the page cache (microseconds, never waiting on the disk): a kill -9 loses no
 * line, lines never reorder across a rotation, and rotation is a rename plus a fresh descriptor.
 * With max-file 1 the size limit does not apply (the spec says so).
 */
export class RotatingFile {
  private size = 0;
  private fd: number;

  constructor(
    readonly path: string,
    private readonly opts: LogOptions,
    existingSize = 0,
  ) {
    this.size = existingSize;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(this.path, 'a', this.opts.logFileMode);
  }

  write(chunk: string): boolean {
    try {
      writeSync(this.fd, chunk);
    } catch {
      return false; // a full disk must not take the daemon down with it
    }
    this.size += Buffer.byteLength(chunk);
    if (this.opts.maxFile > 1 && this.size >= this.opts.maxSize) this.rotate();
    return true;
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
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a', this.opts.logFileMode);
    this.size = 0;
  }

  /** Every line is already written; kept so both drivers share one shutdown path. */
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

function flushBoom(boom: ReturnType<typeof pino.destination>): Promise<void> {
  return new Promise((resolve) => {
    try {
      boom.flush(() => resolve());
    } catch {
      resolve(); // destination already closed
    }
  });
}

export interface LoggerSetup {
  logger: DaemonLogger;
  /** Writes out what is buffered, in order; awaited on the way out. */
  flush(): Promise<void>;
  file?: string;
}

export function createLogger(driver: 'stdout' | 'file', level: LogLevel, opts: LogOptions, existingSize = 0): LoggerSetup {
  const options = { level: PINO_LEVEL[level], customLevels: CUSTOM_LEVELS, base: { pid: process.pid } };
  if (driver === 'file') {
    const file = new RotatingFile(join(opts.logPath, DAEMON_LOG_FILE), opts, existingSize);
    const logger = pino(options, file) as DaemonLogger;
    return { logger, flush: () => file.flush(), file: file.path };
  }
  const dest = pino.destination({ dest: 1, sync: false });
  const logger = pino(options, dest) as DaemonLogger;
  return { logger, flush: () => flushBoom(dest) };
}
