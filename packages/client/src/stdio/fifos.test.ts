import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createFifos, FifoCopier, removeFifos } from './fifos';

const root = mkdtempSync(join(tmpdir(), 'isula-fifos-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const collect = (s: PassThrough) => {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
};

describe('createFifos', () => {
  it('makes the per-start directory and the FIFOs asked for, and removes them', async () => {
    const f = await createFifos('c1', { stdin: true, stdout: true, stderr: false }, 'start', root);
    expect(f.dir.startsWith(join(root, 'c1', `start-${process.pid}-`))).toBe(true);
    expect(statSync(f.stdin!).isFIFO()).toBe(true);
    expect(statSync(f.stdout!).isFIFO()).toBe(true);
    expect(statSync(f.stdin!).mode & 0o777).toBe(0o600);
    expect(f.stderr).toBeUndefined();
    removeFifos(f);
    expect(existsSync(f.dir)).toBe(false);
    expect(existsSync(join(root, 'c1'))).toBe(false);
  });
});

describe('FifoCopier', () => {
  it('copies out-fifo and err-fifo to the local streams until the writers close', async () => {
    const f = await createFifos('c2', { stdin: false, stdout: true, stderr: true }, 'start', root);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = collect(stdout);
    const err = collect(stderr);
    const copier = new FifoCopier(f, { stdout, stderr });
    // The "daemon" side: writers opened after the client's readers.
    const w1 = openSync(f.stdout!, fsc.O_WRONLY | fsc.O_NONBLOCK);
    const w2 = openSync(f.stderr!, fsc.O_WRONLY | fsc.O_NONBLOCK);
    writeSync(w1, 'hello\n');
    writeSync(w2, 'oops\n');
    writeSync(w1, 'world\n');
    closeSync(w1);
    closeSync(w2);
    expect(await copier.drain(5000)).toBe(true);
    copier.close();
    removeFifos(f);
    expect(out()).toBe('hello\nworld\n');
    expect(err()).toBe('oops\n');
  });

  it('does not see EOF before a writer came', async () => {
    const f = await createFifos('c3', { stdin: false, stdout: true, stderr: false }, 'start', root);
    const copier = new FifoCopier(f, { stdout: new PassThrough(), stderr: new PassThrough() });
    expect(await copier.drain(200)).toBe(false);
    copier.close();
    removeFifos(f);
  });

  it('copies local stdin into in-fifo and closes it at EOF', async () => {
    const f = await createFifos('c4', { stdin: true, stdout: false, stderr: false }, 'start', root);
    const stdin = new PassThrough();
    const copier = new FifoCopier(f, { stdin, stdout: new PassThrough(), stderr: new PassThrough() });
    // The "daemon" opens its read end before Start answers (the copier only starts after that).
    const { Socket } = await import('node:net');
    const reader = new Socket({ fd: openSync(f.stdin!, fsc.O_RDONLY | fsc.O_NONBLOCK), readable: true, writable: false });
    const got: Buffer[] = [];
    const ended = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    reader.on('data', (c) => got.push(c as Buffer));
    copier.startStdin();
    stdin.write('abc');
    stdin.end('def');
    await ended;
    expect(Buffer.concat(got).toString()).toBe('abcdef');
    copier.close();
    removeFifos(f);
  });
});
