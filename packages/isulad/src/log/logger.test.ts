import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogOptions } from '../config';
import { createLogger, DAEMON_LOG_FILE, RotatingFile } from './logger';

const root = mkdtempSync(join(tmpdir(), 'isulad-logger-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const freshDir = () => mkdtempSync(join(root, `d${seq++}-`));

const LINE = 100; // bytes per line, newline included
const line = (i: number) => `${String(i).padStart(8, '0')} ${'x'.repeat(LINE - 10)}\n`;

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Lets the retired streams drain (they end on their own), then flushes the live one in order. */
async function settle(file: RotatingFile): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
  await file.flush();
}

function opts(logPath: string, o: Partial<LogOptions>): LogOptions {
  return { logPath, logFileMode: 0o600, maxFile: 7, maxSize: 1024 * 1024, ...o };
}

const numbers = (text: string) => text.split('\n').filter(Boolean).map((l) => Number(l.slice(0, 8)));

describe('RotatingFile', () => {
  it('max-file 3, max-size 4096: ~20 KB leave isulad.log, .1 and .2 only, each about max-size', async () => {
    const dir = freshDir();
    const path = join(dir, DAEMON_LOG_FILE);
    const f = new RotatingFile(path, opts(dir, { maxFile: 3, maxSize: 4096, logFileMode: 0o640 }));
    const total = 200; // 20 000 bytes written in one synchronous burst
    for (let i = 0; i < total; i++) f.write(line(i));
    await settle(f);

    expect(readdirSync(dir).sort()).toEqual([DAEMON_LOG_FILE, `${DAEMON_LOG_FILE}.1`, `${DAEMON_LOG_FILE}.2`]);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const name of [`${DAEMON_LOG_FILE}.1`, `${DAEMON_LOG_FILE}.2`]) {
      const size = statSync(join(dir, name)).size;
      expect(size).toBeGreaterThanOrEqual(4096);
      expect(size).toBeLessThanOrEqual(4096 + LINE);
    }
    expect(statSync(path).size).toBeLessThanOrEqual(4096 + LINE);

    // oldest → newest: .2, .1, live; one contiguous run of lines ending with the last one written
    const kept = [`${path}.2`, `${path}.1`, path].flatMap((p) => numbers(readFileSync(p, 'utf8')));
    expect(kept.at(-1)).toBe(total - 1);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => kept[0]! + i));
  });

  it('files are created with log-file-mode', async () => {
    const dir = freshDir();
    const path = join(dir, DAEMON_LOG_FILE);
    const f = new RotatingFile(path, opts(dir, { maxFile: 3, maxSize: 4096, logFileMode: 0o640 }));
    for (let i = 0; i < 100; i++) f.write(line(i));
    await settle(f);
    for (const p of [path, `${path}.1`, `${path}.2`]) expect(statSync(p).mode & 0o777).toBe(0o640);

    const dir2 = freshDir();
    const g = new RotatingFile(join(dir2, DAEMON_LOG_FILE), opts(dir2, { logFileMode: 0o600 }));
    g.write(line(0));
    await settle(g);
    expect(statSync(join(dir2, DAEMON_LOG_FILE)).mode & 0o777).toBe(0o600);
  });

  it('max-file 1 never rotates (the spec: max-size does not apply then)', async () => {
    const dir = freshDir();
    const path = join(dir, DAEMON_LOG_FILE);
    const f = new RotatingFile(path, opts(dir, { maxFile: 1, maxSize: 4096 }));
    for (let i = 0; i < 200; i++) f.write(line(i));
    await settle(f);
    expect(readdirSync(dir)).toEqual([DAEMON_LOG_FILE]);
    expect(statSync(path).size).toBe(200 * LINE);
    expect(numbers(readFileSync(path, 'utf8'))).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('max-file 2 keeps only isulad.log and isulad.log.1', async () => {
    const dir = freshDir();
    const f = new RotatingFile(join(dir, DAEMON_LOG_FILE), opts(dir, { maxFile: 2, maxSize: 4096 }));
    for (let i = 0; i < 200; i++) f.write(line(i));
    await settle(f);
    expect(readdirSync(dir).sort()).toEqual([DAEMON_LOG_FILE, `${DAEMON_LOG_FILE}.1`]);
  });

  it('appends to an existing isulad.log and counts its size toward the first rotation', async () => {
    const dir = freshDir();
    const path = join(dir, DAEMON_LOG_FILE);
    writeFileSync(path, 'previous run\n');
    const f = new RotatingFile(path, opts(dir, { maxFile: 3, maxSize: 4096 }), 4000);
    f.write(line(0)); // 4000 + 100 ≥ 4096: rotates right away
    f.write(line(1));
    await settle(f);
    expect(readFileSync(`${path}.1`, 'utf8')).toBe(`previous run\n${line(0)}`);
    expect(readFileSync(path, 'utf8')).toBe(line(1));
  });

  it('slow writes (each one landing before the next) rotate the same way', async () => {
    const dir = freshDir();
    const path = join(dir, DAEMON_LOG_FILE);
    const f = new RotatingFile(path, opts(dir, { maxFile: 3, maxSize: 1024 }));
    for (let i = 0; i < 40; i++) {
      f.write(line(i));
      await new Promise((r) => setImmediate(r));
    }
    await settle(f);
    expect(readdirSync(dir).sort()).toEqual([DAEMON_LOG_FILE, `${DAEMON_LOG_FILE}.1`, `${DAEMON_LOG_FILE}.2`]);
    const kept = [`${path}.2`, `${path}.1`, path].flatMap((p) => numbers(readFileSync(p, 'utf8')));
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 40 - kept.length + i));
  });

  it('creates a missing log directory', async () => {
    const dir = join(freshDir(), 'a', 'b');
    const f = new RotatingFile(join(dir, DAEMON_LOG_FILE), opts(dir, {}));
    f.write(line(0));
    await settle(f);
    expect(readFileSync(join(dir, DAEMON_LOG_FILE), 'utf8')).toBe(line(0));
  });
});

describe('createLogger', () => {
  it('file driver: JSON lines in <log-path>/isulad.log at the chosen level', async () => {
    const dir = freshDir();
    const setup = createLogger('file', 'NOTICE', opts(dir, {}));
    expect(setup.file).toBe(join(dir, DAEMON_LOG_FILE));
    setup.logger.info('not at NOTICE');
    setup.logger.notice('a notice');
    setup.logger.crit('a crit');
    setup.logger.alert('an alert');
    setup.logger.error('an error');
    await setup.flush();
    const lines = readFileSync(setup.file!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; pid: number });
    expect(lines.map((l) => l.msg)).toEqual(['a notice', 'a crit', 'an alert', 'an error']);
    expect(lines.map((l) => l.level)).toEqual([35, 55, 58, 50]);
    expect(lines[0]!.pid).toBe(process.pid);
  });

  it('stdout driver has no file', async () => {
    const setup = createLogger('stdout', 'ERROR', opts(freshDir(), {}));
    expect(setup.file).toBeUndefined();
    await expect(setup.flush()).resolves.toBeUndefined();
  });
});
