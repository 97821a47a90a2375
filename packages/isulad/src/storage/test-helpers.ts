// Helpers for the storage tests (not used by the daemon).
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { pack, type Header } from 'tar-stream';
import type { DaemonLogger } from '../log/logger';

export type TarEntry = Partial<Header> & { name: string; pax?: Record<string, string>; content?: string | Buffer };

/** A tar built with tar-stream's packer. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  for (const { content, ...header } of entries) {
    const h = { mtime: new Date(1_600_000_000_000), mode: header.type === 'directory' ? 0o755 : 0o644, ...header };
    if (content !== undefined) p.entry(h as Header, content);
    else p.entry(h as Header);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** A hand-made ustar header block (for raw PAX records with binary values). */
export function ustarHeader(name: string, typeflag: string, size: number, mode = 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(`${Math.floor(1_600_000_000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

export function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

/** One PAX record `len key=value\n` with a binary value. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Feeds a buffer in small chunks (exercises every boundary case of the parsers). */
export function chunked(buf: Buffer, size = 7919): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= buf.length) return void this.push(null);
      this.push(buf.subarray(off, off + size));
      off += size;
    },
  });
}

/** Every path under `dir` with its type and size, for before/after comparisons. */
export function snapshot(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (p === skip) continue;
      const st = lstatSync(p);
      out.push(`${p} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

export interface CapturedLogger {
  logger: DaemonLogger;
  lines: Array<{ level: number; msg: string }>;
}

export function captureLogger(): CapturedLogger {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = {
    write(s: string) {
      const o = JSON.parse(s) as { level: number; msg: string };
      lines.push({ level: o.level, msg: o.msg });
    },
  };
  const logger = pino({ level: 'trace', customLevels: { alert: 58, crit: 55, notice: 35 } }, stream) as unknown as DaemonLogger;
  return { logger, lines };
}
