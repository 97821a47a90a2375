import { huffmanDecode } from './huffman';

/**
 * HPACK (RFC 7541) for a gRPC client: a full decoder (static table, dynamic table with size updates
 * and eviction, Huffman strings) and an encoder that never touches the peer's dynamic table (static
 * table indexes, otherwise literals without indexing, no Huffman). Names and values are Latin-1
 * strings, so a string's length is its size in bytes.
 */

export type HeaderField = [name: string, value: string];

/** RFC 7541 Appendix A; index i + 1 is entry i. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Size an entry counts for in a dynamic table (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** Decodes header blocks of one connection; the dynamic table persists from block to block. */
export class HpackDecoder {
  /** Newest entry first, so dynamic index i (62-based) is entries[i - 62]. */
  private entries: HeaderField[] = [];
  private size = 0;
  /** Current maximum, as last set by a dynamic table size update. */
  private max: number;

  /** @param limit SETTINGS_HEADER_TABLE_SIZE we advertised: the ceiling for size updates. */
  constructor(private readonly limit = 4096) {
    this.max = limit;
  }

  /** The dynamic table, newest first (for tests). */
  get dynamicTable(): readonly HeaderField[] {
    return this.entries;
  }

  get dynamicTableSize(): number {
    return this.size;
  }

  get maxDynamicTableSize(): number {
    return this.max;
  }

  decode(block: Uint8Array): HeaderField[] {
    const out: HeaderField[] = [];
    let pos = 0;
    let fieldsSeen = false;
    const int = (prefixBits: number): number => {
      if (pos >= block.length) throw new HpackError('header block truncated');
      const mask = (1 << prefixBits) - 1;
      let value = block[pos++]! & mask;
      if (value < mask) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new HpackError('integer truncated');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 0x7fffffff) throw new HpackError('integer overflow');
        if ((b & 0x80) === 0) return value;
      }
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('header block truncated');
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) throw new HpackError('string literal truncated');
      const raw = block.subarray(pos, pos + len);
      pos += len;
      const bytes = huffman ? huffmanDecode(raw) : raw;
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        // Indexed header field (§6.1).
        const index = int(7);
        const [name, value] = this.lookup(index);
        out.push([name, value]);
        fieldsSeen = true;
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = int(6);
        const name = index === 0 ? str() : this.lookup(index)[0];
        const value = str();
        out.push([name, value]);
        this.insert(name, value);
        fieldsSeen = true;
      } else if (b & 0x20) {
        // Dynamic table size update (§6.3): only at the start of a block (§4.2).
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        const max = int(5);
        if (max > this.limit) throw new HpackError(`dynamic table size update ${max} above the limit ${this.limit}`);
        this.max = max;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
        const index = int(4);
        const name = index === 0 ? str() : this.lookup(index)[0];
        const value = str();
        out.push([name, value]);
        fieldsSeen = true;
      }
    }
    return out;
  }

  private lookup(index: number): HeaderField {
    if (index === 0) throw new HpackError('header index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.entries[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`header index ${index} out of range`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.max) {
      // Too large for the table: it empties the table and is not stored (§4.4).
      this.entries = [];
      this.size = 0;
      return;
    }
    this.evict(entrySize);
    this.entries.unshift([name, value]);
    this.size += entrySize;
  }

  /** Drops the oldest entries until `room` more bytes fit under the maximum (§4.3, §4.4). */
  private evict(room: number): void {
    while (this.size + room > this.max && this.entries.length > 0) {
      const [name, value] = this.entries.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

function pushInt(out: number[], value: number, prefixBits: number, firstByte: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByte | value);
    return;
  }
  out.push(firstByte | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function pushString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  pushInt(out, bytes.length, 7, 0x00); // H = 0: raw octets
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
}

let staticIndex: Map<string, { name: number; values: Map<string, number> }> | undefined;

function staticLookup(name: string): { name: number; values: Map<string, number> } | undefined {
  if (!staticIndex) {
    staticIndex = new Map();
    STATIC_TABLE.forEach(([n, v], i) => {
      let e = staticIndex!.get(n);
      if (!e) staticIndex!.set(n, (e = { name: i + 1, values: new Map() }));
      if (v !== '') e.values.set(v, i + 1);
    });
  }
  return staticIndex.get(name);
}

/**
 * Encodes a header list without ever adding to the peer's dynamic table: a field equal to a static
 * entry is sent as that index, any other as a literal without indexing (static name index when
 * there is one), strings raw. Stateless, so one encoder serves every stream of a connection.
 */
export function encodeHeaders(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const s = staticLookup(name);
    const full = s?.values.get(value);
    if (full !== undefined) {
      pushInt(out, full, 7, 0x80);
    } else if (s) {
      pushInt(out, s.name, 4, 0x00);
      pushString(out, value);
    } else {
      out.push(0x00);
      pushString(out, name);
      pushString(out, value);
    }
  }
  return Buffer.from(out);
}
