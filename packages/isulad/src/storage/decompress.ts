import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';

/** How a layer blob is compressed, from its first bytes. */
export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function sniffCompression(head: Uint8Array): Compression {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * Zstandard decompression as a Transform around fzstd's streaming decoder (Node 20 has no zlib zstd).
 * fzstd hands out a fresh Uint8Array per decoded block, so the chunks are wrapped, not copied.
 */
export class ZstdDecompress extends Transform {
  private readonly decoder = new Decompress((data) => {
    if (data.length > 0) this.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(zstdError(err));
    }
  }
}

function zstdError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  return new Error(`zstd: ${e.message}`);
}

/**
 * A Transform that looks at the first bytes of its input and passes the rest through gunzip, the zstd
 * decoder or nothing. Backpressure holds end to end: a chunk is acknowledged only once the inner
 * decoder accepted it.
 */
class Sniffer extends Transform {
  private head: Buffer[] = [];
  private headLen = 0;
  private inner: Transform | null | undefined; // undefined: not decided yet; null: plain
  private innerDone: Promise<void> | undefined;
  compression: Compression | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.inner === undefined) {
      this.head.push(chunk);
      this.headLen += chunk.length;
      if (this.headLen < ZSTD_MAGIC.length) return cb();
      const all = Buffer.concat(this.head);
      this.head = [];
      this.decide(all);
      return this.feed(all, cb);
    }
    this.feed(chunk, cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.inner === undefined) {
      const all = Buffer.concat(this.head);
      this.head = [];
      this.decide(all);
      if (all.length > 0) {
        this.feed(all, (err) => (err ? cb(err) : this.finishInner(cb)));
        return;
      }
    }
    this.finishInner(cb);
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.inner?.destroy();
    cb(err);
  }

  private decide(head: Buffer): void {
    this.compression = sniffCompression(head);
    if (this.compression === 'none') {
      this.inner = null;
      return;
    }
    // 128 KiB output chunks instead of zlib's 16 KiB: fewer hops through the hashing, tar and write stages.
    const inner: Transform = this.compression === 'gzip' ? createGunzip({ chunkSize: 128 * 1024 }) : new ZstdDecompress();
    this.inner = inner;
    inner.on('data', (out: Buffer) => {
      if (!this.push(out)) inner.pause();
    });
    this.innerDone = new Promise<void>((resolve, reject) => {
      inner.once('end', resolve);
      inner.once('error', reject);
    });
    this.innerDone.catch((err: Error) => this.destroy(this.compression === 'gzip' ? new Error(`gzip: ${err.message}`) : err));
  }

  override _read(size: number): void {
    if (this.inner?.isPaused()) this.inner.resume();
    super._read(size);
  }

  private feed(chunk: Buffer, cb: TransformCallback): void {
    const inner = this.inner;
    if (!inner) {
      cb(null, chunk);
      return;
    }
    if (inner.write(chunk)) cb();
    else inner.once('drain', () => cb());
  }

  private finishInner(cb: TransformCallback): void {
    const inner = this.inner;
    if (!inner) return cb();
    inner.end();
    this.innerDone!.then(
      () => cb(),
      () => cb(), // the error already destroyed this stream
    );
  }
}

/** The sniffing decompressor as a Transform, for use in a pipeline. */
export function createDecompressor(): Transform & { readonly compression: Compression | undefined } {
  return new Sniffer();
}

/**
 * Decompresses a layer blob: gzip (1f 8b), zstd (28 b5 2f fd) or plain tar, decided from the first
 * bytes. Errors of `input` are forwarded to the returned stream, and destroying the returned stream
 * destroys `input`.
 */
export function decompressStream(input: Readable): Readable {
  const out = createDecompressor();
  input.on('error', (err) => out.destroy(err));
  out.on('close', () => {
    if (!input.destroyed && !input.readableEnded) input.destroy();
  });
  input.pipe(out);
  return out;
}
