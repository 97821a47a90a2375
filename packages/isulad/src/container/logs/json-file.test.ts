import { appendFile, link, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLogLine, parseLogTimeNs, readContainerLogs, type LogEntry, type ReadLogsOptions } from './json-file';

const BASE = Date.UTC(2026, 10, 27, 7, 55, 1);

/** Record n: time BASE + n seconds (+ n nanoseconds so the fraction is exercised), text "line n\n". */
function rec(n: number, stream: 'stdout' | 'stderr' = n % 3 === 0 ? 'stderr' : 'stdout'): string {
  const iso = new Date(BASE + n * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const frac = String(n % 1_000_000_000).padStart(9, '0');
  return `${JSON.stringify({ log: `line ${n}\n`, stream, time: `${iso}.${frac}Z` })}\n`;
}
const recs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => rec(from + i)).join('');
const timeOf = (n: number) => new Date(BASE + n * 1000);
const texts = (es: LogEntry[]) => es.map((e) => e.data.toString());
const nums = (es: LogEntry[]) => es.map((e) => Number(/line (\d+)/.exec(e.data.toString())![1]));

let dir: string;
let log: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'isulad-logs-'));
  log = join(dir, 'console.log');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(path: string, o: Partial<ReadLogsOptions> = {}): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const ac = new AbortController();
  for await (const e of readContainerLogs(path, { tail: -1, follow: false, signal: ac.signal, ...o })) out.push(e);
  return out;
}

/** Pulls entries from a live iterator one by one. */
function puller(it: AsyncIterator<LogEntry>) {
  return {
    async take(n: number, timeoutMs = 5000): Promise<LogEntry[]> {
      const out: LogEntry[] = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < n) {
        const r = await Promise.race([
          it.next(),
          new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), Math.max(1, deadline - Date.now()))),
        ]);
        if (r === 'timeout') throw new Error(`timed out after ${out.length}/${n} entries`);
        if (r.done) throw new Error(`ended after ${out.length}/${n} entries`);
        out.push(r.value);
      }
      return out;
    },
  };
}

describe('parseLogLine / parseLogTimeNs', () => {
  it('parses a record', () => {
    const e = parseLogLine(rec(4).trimEnd());
    expect(e).toEqual({ stream: 'stdout', time: '2026-11-27T07:55:05.000000004Z', data: Buffer.from('line 4\n') });
  });
  it.each([
    '',
    'garbage',
    '{"log":"x","stream":"stdin","time":"2026-11-27T07:55:01Z"}',
    '{"log":1,"stream":"stdout","time":"2026-11-27T07:55:01Z"}',
    '{"log":"x","stream":"stdout"}',
    '{"log":"x","stream":"stdout","time":"2026-11-27T07:55:01Z"',
    'null',
    '[1]',
  ])('%j is malformed', (line) => {
    expect(parseLogLine(line)).toBeUndefined();
  });
  it('keeps non-ASCII text byte-exact', () => {
    const e = parseLogLine(JSON.stringify({ log: 'héllo ✓\n', stream: 'stderr', time: 't' }));
    expect(e?.data.equals(Buffer.from('héllo ✓\n'))).toBe(true);
  });
  it('times with nanoseconds and offsets', () => {
    expect(parseLogTimeNs('2026-11-27T07:55:01.123456789Z')).toBe(BigInt(BASE) * 1_000_000n + 123456789n);
    expect(parseLogTimeNs('2026-11-27T07:55:01Z')).toBe(BigInt(BASE) * 1_000_000n);
    expect(parseLogTimeNs('2026-11-27T15:55:01.5+08:00')).toBe(BigInt(BASE) * 1_000_000n + 500_000_000n);
    expect(parseLogTimeNs('yesterday')).toBeUndefined();
  });
});

describe('readContainerLogs (not following)', () => {
  it('missing log → nothing', async () => {
    expect(await collect(log)).toEqual([]);
  });

  it('reads oldest rotated file → console.log, skipping malformed lines; accepts the directory', async () => {
    await writeFile(`${log}.2`, recs(1, 3));
    await writeFile(`${log}.1`, rec(4) + 'not json\n' + '\n' + rec(5));
    await writeFile(log, recs(6, 7) + '{"log":"cut');
    const all = await collect(log);
    expect(nums(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all[2]).toMatchObject({ stream: 'stderr', time: '2026-11-27T07:55:04.000000003Z' });
    expect(nums(await collect(dir))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('a rotation between opening console.log and the rotated files does not duplicate records', async () => {
    // Simulated with a hard link: console.log.1 is the very file we opened as console.log.
    await writeFile(`${log}.2`, recs(1, 2));
    await writeFile(log, recs(3, 4));
    await link(log, `${log}.1`);
    expect(nums(await collect(log))).toEqual([1, 2, 3, 4]);
  });

  it('tail counts valid lines from the end across files', async () => {
    await writeFile(`${log}.2`, recs(1, 3));
    await writeFile(`${log}.1`, rec(4) + 'junk\n' + rec(5));
    await writeFile(log, recs(6, 7));
    expect(nums(await collect(log, { tail: 0 }))).toEqual([]);
    expect(nums(await collect(log, { tail: 1 }))).toEqual([7]);
    expect(nums(await collect(log, { tail: 2 }))).toEqual([6, 7]);
    expect(nums(await collect(log, { tail: 3 }))).toEqual([5, 6, 7]);
    expect(nums(await collect(log, { tail: 4 }))).toEqual([4, 5, 6, 7]);
    expect(nums(await collect(log, { tail: 6 }))).toEqual([2, 3, 4, 5, 6, 7]);
    expect(nums(await collect(log, { tail: 100 }))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('tail works on a file much larger than the read chunk (no trailing newline, too)', async () => {
    const big = recs(1, 20000); // ~1.6 MB
    await writeFile(log, big.slice(0, -1));
    expect(nums(await collect(log, { tail: 3 }))).toEqual([19998, 19999, 20000]);
    const last5000 = await collect(log, { tail: 5000 });
    expect(last5000).toHaveLength(5000);
    expect(nums(last5000)[0]).toBe(15001);
    expect(nums(last5000).at(-1)).toBe(20000);
  });

  it('since / until, alone and with tail', async () => {
    await writeFile(`${log}.1`, recs(1, 5));
    await writeFile(log, recs(6, 10));
    expect(nums(await collect(log, { since: timeOf(4) }))).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(nums(await collect(log, { since: timeOf(7) }))).toEqual([7, 8, 9, 10]);
    expect(nums(await collect(log, { since: timeOf(0) }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(nums(await collect(log, { until: timeOf(3) }))).toEqual([1, 2]); // 3 is 3 ns after timeOf(3)
    expect(nums(await collect(log, { since: timeOf(3), until: timeOf(8) }))).toEqual([3, 4, 5, 6, 7]);
    expect(nums(await collect(log, { since: timeOf(3), tail: 2 }))).toEqual([9, 10]);
    expect(nums(await collect(log, { since: timeOf(8), tail: 5 }))).toEqual([8, 9, 10]);
  });

  it('ends at once when already aborted', async () => {
    await writeFile(log, recs(1, 3));
    const ac = new AbortController();
    ac.abort();
    const out: LogEntry[] = [];
    for await (const e of readContainerLogs(log, { tail: -1, follow: false, signal: ac.signal })) out.push(e);
    expect(out).toEqual([]);
  });
});

describe('readContainerLogs (following)', () => {
  it('streams appended records, waits for a half-written one, ends on abort', async () => {
    await writeFile(log, recs(1, 2));
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: 1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const p = puller(it);
    expect(nums(await p.take(1))).toEqual([2]);
    await appendFile(log, rec(3));
    expect(nums(await p.take(1))).toEqual([3]);
    const r4 = rec(4);
    await appendFile(log, r4.slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(log, r4.slice(10) + rec(5));
    expect(nums(await p.take(2))).toEqual([4, 5]);
    ac.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('tail 0 + follow: only new records', async () => {
    await writeFile(log, recs(1, 5));
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: 0, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const next = it.next();
    await new Promise((r) => setTimeout(r, 30));
    await appendFile(log, rec(6));
    const r = await next;
    expect(nums([r.value as LogEntry])).toEqual([6]);
    ac.abort();
    await it.return?.();
  });

  it('follows rotation: finishes the old file then switches to the new console.log', async () => {
    await writeFile(log, recs(1, 2));
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const p = puller(it);
    expect(nums(await p.take(2))).toEqual([1, 2]);
    // The writer appends, then rotates before we had a chance to read: nothing may be lost.
    await appendFile(log, rec(3));
    await rename(log, `${log}.1`);
    await writeFile(log, rec(4));
    expect(nums(await p.take(2))).toEqual([3, 4]);
    await appendFile(log, rec(5));
    expect(nums(await p.take(1))).toEqual([5]);
    ac.abort();
    await it.return?.();
  });

  it('two rotations between two looks: the intermediate file is read too', async () => {
    await writeFile(log, rec(1));
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const p = puller(it);
    expect(nums(await p.take(1))).toEqual([1]);
    // Done synchronously-ish in one go: console.log -> .1 -> .2 and a second generation in between.
    await appendFile(log, rec(2));
    await rename(log, `${log}.1`);
    await writeFile(log, rec(3));
    await rename(`${log}.1`, `${log}.2`);
    await rename(log, `${log}.1`);
    await writeFile(log, rec(4));
    expect(nums(await p.take(3))).toEqual([2, 3, 4]);
    ac.abort();
    await it.return?.();
  });

  it('follows truncation in place (max-file 1)', async () => {
    await writeFile(log, recs(1, 3));
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const p = puller(it);
    expect(nums(await p.take(3))).toEqual([1, 2, 3]);
    await truncate(log, 0);
    await appendFile(log, rec(4));
    expect(nums(await p.take(1))).toEqual([4]);
    ac.abort();
    await it.return?.();
  });

  it('waits for console.log to appear', async () => {
    const ac = new AbortController();
    const it = readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    const p = puller(it);
    await new Promise((r) => setTimeout(r, 30));
    await writeFile(log, recs(1, 2));
    expect(nums(await p.take(2))).toEqual([1, 2]);
    ac.abort();
    await it.return?.();
  });

  it('stopWhen: drains what is left, then ends', async () => {
    await writeFile(log, rec(1));
    let stop!: () => void;
    const stopWhen = new Promise<void>((r) => (stop = r));
    const ac = new AbortController();
    const out: LogEntry[] = [];
    const done = (async () => {
      for await (const e of readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal, stopWhen })) out.push(e);
    })();
    await new Promise((r) => setTimeout(r, 30));
    await appendFile(log, recs(2, 4));
    stop();
    await done;
    expect(nums(out)).toEqual([1, 2, 3, 4]);
  });

  it('until in the future ends the follow when it passes', async () => {
    const now = new Date().toISOString().replace('Z', '000000Z');
    await writeFile(log, `${JSON.stringify({ log: 'now\n', stream: 'stdout', time: now })}\n`);
    const ac = new AbortController();
    const until = new Date(Date.now() + 150);
    const t0 = Date.now();
    const got: string[] = [];
    for await (const e of readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal, until })) got.push(e.data.toString());
    expect(got).toEqual(['now\n']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('abort while waiting ends the iteration quietly', async () => {
    await writeFile(log, rec(1));
    const ac = new AbortController();
    const got: LogEntry[] = [];
    setTimeout(() => ac.abort(), 50);
    for await (const e of readContainerLogs(log, { tail: -1, follow: true, signal: ac.signal })) got.push(e);
    expect(texts(got)).toEqual(['line 1\n']);
  });
});
