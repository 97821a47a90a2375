/**
 * Reader for the container log our monitor writes (packages/monitor/src/log.c): Docker's json-file
 * format, one record per line
 *
 *   {"log":"text\n","stream":"stdout","time":"2026-11-27T07:55:01.123456789Z"}
 *
 * in `<dir>/console.log`, rotated by size to `console.log.1` (newest rotated) … `console.log.N` (oldest);
 * with max-file 1 the monitor truncates `console.log` in place instead.
 *
 * `readContainerLogs` is what the Logs RPC streams from:
 *   - order: oldest rotated file → console.log;
 *   - `tail` is found by reading the files backwards in fixed-size chunks (a 1 GB log costs a few chunks,
 *     never the whole file), then the entries are streamed forwards from that point;
 *   - `since` / `until` as Docker: entries older than `since` are skipped, the first entry newer than
 *     `until` ends the stream (and in follow mode the stream also ends when the wall clock passes `until`);
 *   - `follow` waits with fs.watch (inotify) on the log directory, survives rotation (the old descriptor is
 *     read to its end, then any rotated file we did not see yet, then the new console.log) and truncation;
 *   - `stopWhen` (the container stopped): drain what is left and end;
 *   - aborting `signal` ends the iteration quietly (no exception): the RPC was cancelled, nobody listens.
 * Malformed lines (not JSON, no string `log`, `stream` not stdout/stderr, no string `time`) are skipped,
 * also when counting `tail`.
 *
 * Limits: truncation is detected by the file becoming shorter than our read position, so a truncation
 * immediately followed by more than that many bytes before we look is read from mid-record (the cut
 * record is then skipped as malformed). Rotation races at open time are resolved by inode.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The record's `time` exactly as written in the file (RFC 3339 with nanoseconds). */
  time: string;
  /** The record's `log` text, UTF-8 encoded (it normally ends with the line's "\n"). */
  data: Buffer;
}

export interface ReadLogsOptions {
  /** Number of entries from the end; -1 (or any negative) = all. */
  tail: number;
  since?: Date;
  until?: Date;
  follow: boolean;
  signal: AbortSignal;
  /** Resolves when the container stopped: in follow mode, drain what is left then end. */
  stopWhen?: Promise<void>;
}

/** Name of the live log file inside the container's log directory. */
export const LOG_FILE_NAME = 'console.log';

/** Chunk size of the forward and backward readers. */
const CHUNK = 64 * 1024;
/**
 * Safety-net wake-up while following. fs.watch (inotify) is the real trigger; this only exists because
 * inotify can miss changes in some setups (log directory on NFS/FUSE, the directory itself replaced, the
 * kernel's inotify queue overflowing, or a watch that could not be created at all). It is never shorter
 * than one second, so an idle follower costs one stat per second at worst.
 */
const SAFETY_NET_MS = 1000;
const NL = 0x0a;

// ---------------------------------------------------------------------------------------------------
// Parsing

/** One line (without its "\n") → entry, or undefined when the line is malformed. */
export function parseLogLine(line: Buffer | string): LogEntry | undefined {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  if (text.length === 0 || text.charCodeAt(0) !== 0x7b /* { */) return undefined;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null) return undefined;
  const r = rec as Record<string, unknown>;
  if (typeof r.log !== 'string' || typeof r.time !== 'string') return undefined;
  if (r.stream !== 'stdout' && r.stream !== 'stderr') return undefined;
  return { stream: r.stream, time: r.time, data: Buffer.from(r.log, 'utf8') };
}

const TIME_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 (nano) time → nanoseconds since the epoch, undefined when it does not parse. */
export function parseLogTimeNs(time: string): bigint | undefined {
  const m = TIME_RE.exec(time);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = m[2] === undefined ? 0n : BigInt(m[2].padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + frac;
}

const dateNs = (d: Date): bigint => BigInt(d.getTime()) * 1_000_000n;

// ---------------------------------------------------------------------------------------------------
// Files

interface LogFile {
  fh: FileHandle;
  /** Bytes to read: the size when opened for rotated files, the end of the last complete line for console.log. */
  end: number;
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** `<path>` if it names the log file, `<path>/console.log` if it is the log directory. */
async function resolveLogPath(path: string): Promise<string> {
  try {
    if ((await stat(path)).isDirectory()) return join(path, LOG_FILE_NAME);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return path;
}

/** console.log.1, .2, … while they exist; newest first. */
async function openRotated(path: string): Promise<FileHandle[]> {
  const out: FileHandle[] = [];
  for (let i = 1; ; i++) {
    const fh = await openIfExists(`${path}.${i}`);
    if (!fh) return out;
    out.push(fh);
  }
}

/**
 * Lines of `fh` from `start` to `end` (forward), each with the offset just past its "\n". A last line
 * without "\n" is returned only when `partial` is set.
 */
async function* forwardLines(
  fh: FileHandle,
  start: number,
  end: number,
  partial: boolean,
): AsyncGenerator<{ line: Buffer; next: number }> {
  let pos = start;
  let carry: Buffer = Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(CHUNK);
  while (pos < end) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
    if (bytesRead === 0) break;
    const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const dataStart = pos - carry.length;
    pos += bytesRead;
    let from = 0;
    for (let nl = data.indexOf(NL, from); nl !== -1; nl = data.indexOf(NL, from)) {
      yield { line: data.subarray(from, nl), next: dataStart + nl + 1 };
      from = nl + 1;
    }
    carry = Buffer.from(data.subarray(from)); // copy: `buf` is reused
  }
  if (partial && carry.length > 0) yield { line: carry, next: pos };
}

/**
 * Lines of `fh` before `end`, last first, each with the offset where it starts. `end` must be at a line
 * boundary (or the end of the file).
 */
async function* backwardLines(fh: FileHandle, end: number): AsyncGenerator<{ line: Buffer; start: number }> {
  let pos = end;
  let first = true;
  let carry: Buffer = Buffer.alloc(0); // the beginning of a line whose start is in an earlier chunk
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const chunk = Buffer.allocUnsafe(len);
    const { bytesRead } = await fh.read(chunk, 0, len, pos);
    const data = carry.length ? Buffer.concat([chunk.subarray(0, bytesRead), carry]) : chunk.subarray(0, bytesRead);
    let stop = data.length;
    // The "\n" at the very end of the range ends the last line, it does not start an empty one.
    if (first && stop > 0 && data[stop - 1] === NL) stop--;
    first = false;
    while (stop > 0) {
      const nl = data.lastIndexOf(NL, stop - 1);
      if (nl === -1) break;
      yield { line: data.subarray(nl + 1, stop), start: pos + nl + 1 };
      stop = nl;
    }
    carry = Buffer.from(data.subarray(0, stop));
  }
  if (carry.length > 0) yield { line: carry, start: 0 };
}

/** Offset just past the last "\n" of the first `size` bytes (0 when there is none). */
async function lastLineBoundary(fh: FileHandle, size: number): Promise<number> {
  let pos = size;
  const buf = Buffer.allocUnsafe(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead } = await fh.read(buf, 0, len, pos);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(NL);
    if (nl !== -1) return pos + nl + 1;
  }
  return 0;
}

/**
 * Where reading must start so that exactly the last `tail` valid entries (and none older than `sinceNs`)
 * come out. `files` is oldest first; the answer is an index into it and an offset in that file.
 */
async function locateStart(
  files: LogFile[],
  tail: number,
  sinceNs: bigint | undefined,
): Promise<{ file: number; offset: number }> {
  if (tail < 0 && sinceNs === undefined) return { file: 0, offset: 0 };
  if (tail === 0) return { file: files.length - 1, offset: files[files.length - 1].end };
  let found = 0;
  for (let i = files.length - 1; i >= 0; i--) {
    // `since` alone: a file whose first record is recent enough is wanted whole, no need to scan it.
    if (tail < 0 && sinceNs !== undefined) {
      const t = await firstEntryNs(files[i]);
      if (t !== undefined && t >= sinceNs) continue;
    }
    for await (const { line, start } of backwardLines(files[i].fh, files[i].end)) {
      const entry = parseLogLine(line);
      if (!entry) continue;
      if (sinceNs !== undefined) {
        const t = parseLogTimeNs(entry.time);
        // Records are in time order: the first one older than `since` bounds everything before it.
        if (t !== undefined && t < sinceNs) return { file: i, offset: start + line.length + 1 };
      }
      found++;
      if (tail >= 0 && found === tail) return { file: i, offset: start };
    }
  }
  return { file: 0, offset: 0 };
}

/** Time of the first valid record of a file (undefined when it has none). */
async function firstEntryNs(f: LogFile): Promise<bigint | undefined> {
  for await (const { line } of forwardLines(f.fh, 0, f.end, true)) {
    const e = parseLogLine(line);
    const t = e && parseLogTimeNs(e.time);
    if (t !== undefined) return t;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Follow machinery

/** Wake-ups for the follower: fs.watch events, stop, abort, the until deadline and the safety net. */
class Waker {
  private dirty = true;
  private resolve: (() => void) | undefined;
  private watcher: FSWatcher | undefined;

  constructor(dir: string, signal: AbortSignal) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.wake());
      this.watcher.on('error', () => this.closeWatcher()); // e.g. the directory was removed: safety net only
    } catch {
      this.watcher = undefined; // cannot watch: rely on the safety net
    }
    signal.addEventListener('abort', () => this.wake(), { once: true });
  }

  wake(): void {
    this.dirty = true;
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  }

  /** Returns at once when something happened since the last call, else waits for the next wake-up. */
  async wait(): Promise<void> {
    if (!this.dirty) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => this.wake(), SAFETY_NET_MS);
        this.resolve = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.dirty = false;
  }

  private closeWatcher(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.closeWatcher();
    this.resolve?.();
    this.resolve = undefined;
  }
}

/** Incremental reader of one open log file: complete lines only, the partial tail is kept for later. */
class Tailer {
  private carry: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.allocUnsafe(CHUNK);

  constructor(
    readonly fh: FileHandle,
    public pos: number,
  ) {}

  /** Complete lines from the current position up to the current end of the file. */
  async *lines(): AsyncGenerator<Buffer> {
    for (;;) {
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.pos);
      if (bytesRead === 0) return;
      this.pos += bytesRead;
      const data = this.carry.length ? Buffer.concat([this.carry, this.buf.subarray(0, bytesRead)]) : this.buf.subarray(0, bytesRead);
      let from = 0;
      const lines: Buffer[] = [];
      for (let nl = data.indexOf(NL, from); nl !== -1; nl = data.indexOf(NL, from)) {
        lines.push(Buffer.from(data.subarray(from, nl)));
        from = nl + 1;
      }
      this.carry = Buffer.from(data.subarray(from));
      yield* lines;
    }
  }

  /** What is left after the last "\n" (a record cut short when the writer died). */
  takePartial(): Buffer | undefined {
    const c = this.carry;
    this.carry = Buffer.alloc(0);
    return c.length ? c : undefined;
  }

  /** The file shrank below our position: it was truncated in place, start over. */
  async checkTruncated(): Promise<boolean> {
    const { size } = await this.fh.stat();
    if (size >= this.pos) return false;
    this.pos = 0;
    this.carry = Buffer.alloc(0);
    return true;
  }

  async ino(): Promise<number> {
    return (await this.fh.stat()).ino;
  }
}

async function inoOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------

/** Reads the container log; see the module comment for the semantics. */
export function readContainerLogs(path: string, opts: ReadLogsOptions): AsyncIterable<LogEntry> {
  return { [Symbol.asyncIterator]: () => readLogs(path, opts) };
}

async function* readLogs(pathArg: string, opts: ReadLogsOptions): AsyncGenerator<LogEntry> {
  const { signal } = opts;
  if (signal.aborted) return;
  const path = await resolveLogPath(pathArg);
  const sinceNs = opts.since ? dateNs(opts.since) : undefined;
  const untilNs = opts.until ? dateNs(opts.until) : undefined;
  const tail = Number.isFinite(opts.tail) ? Math.trunc(opts.tail) : -1;

  let stopped = false;
  let untilPassed = untilNs !== undefined && untilNs < dateNs(new Date());
  const waker = opts.follow ? new Waker(dirname(path), signal) : undefined;
  let untilTimer: NodeJS.Timeout | undefined;
  if (waker && opts.stopWhen) {
    opts.stopWhen.then(
      () => {
        stopped = true;
        waker.wake();
      },
      () => {
        stopped = true;
        waker.wake();
      },
    );
  }
  if (waker && untilNs !== undefined && !untilPassed) {
    const ms = Number((untilNs - dateNs(new Date())) / 1_000_000n) + 1;
    // setTimeout takes at most 2^31-1 ms; a later deadline is simply checked on each wake-up.
    if (ms < 2 ** 31) {
      untilTimer = setTimeout(() => {
        untilPassed = true;
        waker.wake();
      }, ms);
    }
  }

  const handles: FileHandle[] = [];
  let current: Tailer | undefined;
  /** Set when an entry newer than `until` was met: the stream is over. */
  let ended = false;

  /** Filters one line; yields nothing for malformed/old lines, sets `ended` past `until`. */
  const accept = (line: Buffer): LogEntry | undefined => {
    const entry = parseLogLine(line);
    if (!entry) return undefined;
    if (sinceNs !== undefined || untilNs !== undefined) {
      const t = parseLogTimeNs(entry.time);
      if (t === undefined) return undefined;
      if (sinceNs !== undefined && t < sinceNs) return undefined;
      if (untilNs !== undefined && t > untilNs) {
        ended = true;
        return undefined;
      }
    }
    return entry;
  };

  try {
    // --- 1. What is on disk now: rotated files (oldest first) then console.log up to its last full line.
    const live = await openIfExists(path);
    if (live) handles.push(live);
    let rotated = await openRotated(path);
    handles.push(...rotated);
    if (live && rotated.length > 0) {
      // A rotation between the two opens shows our console.log again among the rotated files: keep only
      // the files older than it (newer ones, if any, are picked up by the follower's rotation handling).
      const liveIno = (await live.stat()).ino;
      const inos = await Promise.all(rotated.map(async (fh) => (await fh.stat()).ino));
      const k = inos.indexOf(liveIno);
      if (k !== -1) rotated = rotated.slice(k + 1);
    }
    const files: LogFile[] = [];
    for (const fh of rotated.reverse()) files.push({ fh, end: (await fh.stat()).size });
    if (live) {
      const size = (await live.stat()).size;
      // Following: a half-written last record is picked up later by the tailer. Not following: try it now.
      files.push({ fh: live, end: opts.follow ? await lastLineBoundary(live, size) : size });
    }

    if (files.length > 0) {
      const start = await locateStart(files, tail, sinceNs);
      for (let i = start.file; i < files.length && !ended; i++) {
        const isLive = live !== undefined && i === files.length - 1;
        const from = i === start.file ? start.offset : 0;
        for await (const { line } of forwardLines(files[i].fh, from, files[i].end, !opts.follow || !isLive)) {
          if (signal.aborted) return;
          const e = accept(line);
          if (ended) break;
          if (e) yield e;
        }
      }
    }
    if (!opts.follow || ended || signal.aborted || !waker) return;

    // --- 2. Follow.
    if (live) current = new Tailer(live, files[files.length - 1].end);
    const emitFrom = async function* (t: Tailer): AsyncGenerator<LogEntry> {
      for await (const line of t.lines()) {
        if (signal.aborted) return;
        const e = accept(line);
        if (ended) return;
        if (e) yield e;
      }
    };
    const emitWhole = async function* (fh: FileHandle): AsyncGenerator<LogEntry> {
      const t = new Tailer(fh, 0);
      yield* emitFrom(t);
      const p = t.takePartial();
      const e = p && accept(p);
      if (e && !ended) yield e;
    };

    for (;;) {
      await waker.wait();
      if (signal.aborted) return;
      const finishing = stopped || untilPassed; // read once more, then end

      if (current) {
        if (await current.checkTruncated()) {
          /* truncated in place (max-file 1): continue from offset 0 */
        }
        yield* emitFrom(current);
        if (ended || signal.aborted) return;

        // Rotation: console.log is no longer our file.
        const ourIno = await current.ino();
        const nowIno = await inoOf(path);
        if (nowIno !== ourIno) {
          yield* emitFrom(current); // the writer is done with it: read it to its very end
          if (ended || signal.aborted) return;
          const p = current.takePartial();
          const pe = p && accept(p);
          if (pe && !ended) yield pe;
          if (ended) return;
          // Files rotated after ours and before the current console.log (several rotations between two looks).
          const newer = await newerRotated(path, ourIno);
          for (const fh of newer) {
            handles.push(fh);
            yield* emitWhole(fh);
            if (ended || signal.aborted) return;
          }
          current = undefined;
        }
      }
      if (!current) {
        const fh = await openIfExists(path);
        if (fh) {
          handles.push(fh);
          current = new Tailer(fh, 0);
          yield* emitFrom(current);
          if (ended || signal.aborted) return;
        }
      }

      if (finishing) {
        if (stopped && current) {
          const p = current.takePartial();
          const e = p && accept(p);
          if (e && !ended) yield e;
        }
        return;
      }
    }
  } finally {
    if (untilTimer) clearTimeout(untilTimer);
    waker?.close();
    await Promise.all(handles.map((fh) => fh.close().catch(() => undefined)));
  }
}

/**
 * After the file with inode `ourIno` was rotated away: the rotated files newer than it, oldest first,
 * opened. Empty when ours is `.1` (the usual case) or is gone.
 */
async function newerRotated(path: string, ourIno: number): Promise<FileHandle[]> {
  const newerPaths: string[] = [];
  for (let i = 1; ; i++) {
    const p = `${path}.${i}`;
    const ino = await inoOf(p);
    if (ino === undefined) return []; // ours was deleted: we cannot tell what is newer, skip to console.log
    if (ino === ourIno) break;
    newerPaths.push(p);
  }
  const out: FileHandle[] = [];
  for (const p of newerPaths.reverse()) {
    const fh = await openIfExists(p);
    if (fh) out.push(fh);
  }
  return out;
}

/** For tests and callers that only have the directory. */
export function logFilePath(dir: string): string {
  return basename(dir) === LOG_FILE_NAME ? dir : join(dir, LOG_FILE_NAME);
}
