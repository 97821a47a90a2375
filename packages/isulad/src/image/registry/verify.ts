/** Digest checks: a pass-through stream that verifies a blob at its end, and one-shot digests. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { digestProblem } from '../reference';
import { RegistryError } from './errors';

export function digestAlgorithm(digest: string): string {
  return digest.slice(0, digest.indexOf(':'));
}

/** `algorithm:hex` of a buffer (sha256 unless told). */
export function digestOf(data: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function assertDigest(digest: string, what = 'digest'): void {
  const problem = digestProblem(digest);
  if (problem !== undefined) {
    throw new RegistryError(`invalid ${what} ${JSON.stringify(digest)}: ${problem}`, { code: 'DIGEST_INVALID' });
  }
}

/**
 * Passes bytes through unchanged while hashing them. Errors as soon as more bytes than the
 * expected size arrive, and at the end when the size or the digest does not match
 * (`blob <digest> digest mismatch`). Never holds more than the stream buffers.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash;
  private bytes = 0;

  constructor(
    readonly digest: string,
    readonly expectedSize?: number,
    highWaterMark = 1 << 20,
  ) {
    super({ highWaterMark });
    assertDigest(digest, 'blob digest');
    this.hash = createHash(digestAlgorithm(digest));
  }

  /** Bytes seen so far. */
  get received(): number {
    return this.bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      cb(
        new RegistryError(`blob ${this.digest} size mismatch: more than the expected ${this.expectedSize} bytes`, {
          code: 'SIZE_MISMATCH',
        }),
      );
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      cb(
        new RegistryError(`blob ${this.digest} size mismatch: got ${this.bytes} bytes, expected ${this.expectedSize}`, {
          code: 'SIZE_MISMATCH',
        }),
      );
      return;
    }
    const got = `${digestAlgorithm(this.digest)}:${this.hash.digest('hex')}`;
    if (got !== this.digest) {
      cb(new RegistryError(`blob ${this.digest} digest mismatch (got ${got})`, { code: 'DIGEST_MISMATCH' }));
      return;
    }
    cb();
  }
}
