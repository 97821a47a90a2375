import { Transform, type TransformCallback } from 'node:stream';

/**
 * tar-stream decodes PAX values as UTF-8, which mangles binary extended attributes
 * (`SCHILY.xattr.security.capability` with a byte ≥ 0x80, for instance). This pass-through Transform
 * sits in front of the extractor, walks the tar's 512-byte headers (it never looks at file content
 * beyond counting it) and records, for every real entry in order, the raw bytes of its xattr PAX
 * records. The applier pairs the n-th record with tar-stream's n-th entry and cross-checks it against
 * tar-stream's own decoding; on any disagreement it falls back to tar-stream's values.
 */
export class PaxXattrTap extends Transform {
  /** One element per real entry (not PAX/GNU meta headers): its raw xattrs, or null. */
  private readonly records: Array<Map<string, Buffer> | null> = [];
  private readonly header = Buffer.alloc(512);
  private headerFill = 0;
  private skip = 0;
  private collect = 0;
  private collectPad = 0;
  private paxChunks: Buffer[] = [];
  private pendingXattrs: Map<string, Buffer> | null = null;
  private pendingSize: number | null = null;
  private broken = false;

  /** The raw xattrs of the next entry, or undefined when the tap lost track (use the decoded ones). */
  next(): Map<string, Buffer> | null | undefined {
    if (this.broken && this.records.length === 0) return undefined;
    return this.records.shift();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.broken) {
      try {
        this.scan(chunk);
      } catch {
        this.broken = true;
      }
    }
    cb(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      if (this.collect > 0) {
        const n = Math.min(this.collect, chunk.length - off);
        this.paxChunks.push(Buffer.from(chunk.subarray(off, off + n)));
        this.collect -= n;
        off += n;
        if (this.collect === 0) this.endPax();
        continue;
      }
      const n = Math.min(512 - this.headerFill, chunk.length - off);
      chunk.copy(this.header, this.headerFill, off, off + n);
      this.headerFill += n;
      off += n;
      if (this.headerFill === 512) {
        this.headerFill = 0;
        this.onHeader(this.header);
      }
    }
  }

  private onHeader(h: Buffer): void {
    let sum = 8 * 32;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += h[i]!;
    if (sum === 8 * 32) return; // a zero block: end-of-archive padding, not an entry
    const flag = h[156] === 0 ? 0 : h[156]! - 48;
    const size = decodeSize(h.subarray(124, 136));
    if (size === null || size < 0) throw new Error('bad size');
    const pad = overflow(size);
    switch (flag) {
      case 72: // 'x' PAX header for the next entry
        if (size > 4 * 1024 * 1024) throw new Error('pax header too large');
        this.paxChunks = [];
        this.collect = size;
        this.collectPad = pad;
        if (size === 0) this.endPax();
        return;
      case 55: // 'g' PAX global header
      case 28: // 'L' GNU long name
      case 27: // 'K' GNU long link name
        this.skip = size + pad;
        return;
    }
    const dataSize = this.pendingSize ?? size;
    const isDir = flag === 5 || (flag === 0 && endsWithSlash(h));
    this.records.push(this.pendingXattrs);
    this.pendingXattrs = null;
    this.pendingSize = null;
    this.skip = isDir || dataSize === 0 ? 0 : dataSize + overflow(dataSize);
  }

  private endPax(): void {
    const buf = Buffer.concat(this.paxChunks);
    this.paxChunks = [];
    this.skip = this.collectPad;
    const xattrs = new Map<string, Buffer>();
    let rest = buf;
    while (rest.length > 0) {
      const sp = rest.indexOf(0x20);
      if (sp <= 0) break;
      const len = Number.parseInt(rest.subarray(0, sp).toString('latin1'), 10);
      if (!(len > sp + 1) || len > rest.length) break;
      const record = rest.subarray(sp + 1, len - 1); // without the trailing newline
      const eq = record.indexOf(0x3d);
      if (eq > 0) {
        const key = record.subarray(0, eq).toString('utf8');
        const value = record.subarray(eq + 1);
        if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
        else if (key === 'size') this.pendingSize = Number.parseInt(value.toString('latin1'), 10);
      }
      rest = rest.subarray(len);
    }
    this.pendingXattrs = xattrs.size > 0 ? xattrs : null;
  }
}

function overflow(size: number): number {
  const r = size % 512;
  return r === 0 ? 0 : 512 - r;
}

function decodeSize(field: Buffer): number | null {
  if (field[0]! & 0x80) {
    if (field[0] !== 0x80) return null; // negative sizes do not exist
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  return Number.parseInt(text, 8);
}

function endsWithSlash(h: Buffer): boolean {
  const end = h.indexOf(0, 0);
  const nameEnd = end < 0 || end > 100 ? 100 : end;
  if (nameEnd === 0) return false;
  return h[nameEnd - 1] === 0x2f;
}
