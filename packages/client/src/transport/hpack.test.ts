import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackError, STATIC_TABLE, encodeHeaders, type HeaderField } from './hpack';

/**
 * RFC 7541 Appendix C: each step is a header block (hex), the fields it decodes to, and the dynamic
 * table after it (newest first) with its size. One decoder per section: the steps share its state.
 */
interface Step {
  hex: string;
  fields: HeaderField[];
  table: HeaderField[];
  size: number;
}

const REQ1: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: HeaderField[] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: HeaderField[] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const REQ_TABLES: Pick<Step, 'table' | 'size'>[] = [
  { table: [[':authority', 'www.example.com']], size: 57 },
  {
    table: [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    size: 110,
  },
  {
    table: [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    size: 164,
  },
];

const C3: Step[] = [
  { hex: '828684410f7777772e6578616d706c652e636f6d', fields: REQ1, ...REQ_TABLES[0]! },
  { hex: '828684be58086e6f2d6361636865', fields: REQ2, ...REQ_TABLES[1]! },
  { hex: '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565', fields: REQ3, ...REQ_TABLES[2]! },
];
const C4: Step[] = [
  { hex: '828684418cf1e3c2e5f23a6ba0ab90f4ff', fields: REQ1, ...REQ_TABLES[0]! },
  { hex: '828684be5886a8eb10649cbf', fields: REQ2, ...REQ_TABLES[1]! },
  { hex: '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf', fields: REQ3, ...REQ_TABLES[2]! },
];

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESP1: HeaderField[] = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', DATE1],
  ['location', LOC],
];
const RESP2: HeaderField[] = [[':status', '307'], ...RESP1.slice(1)];
const RESP3: HeaderField[] = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', DATE2],
  ['location', LOC],
  ['content-encoding', 'gzip'],
  ['set-cookie', COOKIE],
];
const RESP_TABLES: Pick<Step, 'table' | 'size'>[] = [
  {
    table: [
      ['location', LOC],
      ['date', DATE1],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    size: 222,
  },
  {
    // ":status: 307" evicts ":status: 302".
    table: [
      [':status', '307'],
      ['location', LOC],
      ['date', DATE1],
      ['cache-control', 'private'],
    ],
    size: 222,
  },
  {
    // The third response evicts everything but its own three new entries.
    table: [
      ['set-cookie', COOKIE],
      ['content-encoding', 'gzip'],
      ['date', DATE2],
    ],
    size: 215,
  },
];
const C5: Step[] = [
  {
    hex: '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
    fields: RESP1,
    ...RESP_TABLES[0]!,
  },
  { hex: '4803333037c1c0bf', fields: RESP2, ...RESP_TABLES[1]! },
  {
    hex: '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
    fields: RESP3,
    ...RESP_TABLES[2]!,
  },
];
const C6: Step[] = [
  { hex: '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3', fields: RESP1, ...RESP_TABLES[0]! },
  { hex: '4883640effc1c0bf', fields: RESP2, ...RESP_TABLES[1]! },
  {
    hex: '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
    fields: RESP3,
    ...RESP_TABLES[2]!,
  },
];

function run(steps: Step[], tableSize: number): void {
  const d = new HpackDecoder(tableSize);
  steps.forEach((s, i) => {
    expect(d.decode(Buffer.from(s.hex, 'hex')), `block ${i + 1}`).toEqual(s.fields);
    expect(d.dynamicTable, `table after block ${i + 1}`).toEqual(s.table);
    expect(d.dynamicTableSize, `size after block ${i + 1}`).toBe(s.size);
  });
}

describe('HPACK decoder: RFC 7541 Appendix C', () => {
  it('C.2: single representations', () => {
    const d = new HpackDecoder();
    expect(d.decode(Buffer.from('400a637573746f6d2d6b65790d637573746f6d2d686561646572', 'hex'))).toEqual([['custom-key', 'custom-header']]);
    expect(d.dynamicTableSize).toBe(55);
    const d2 = new HpackDecoder();
    expect(d2.decode(Buffer.from('040c2f73616d706c652f70617468', 'hex'))).toEqual([[':path', '/sample/path']]);
    expect(d2.decode(Buffer.from('100870617373776f726406736563726574', 'hex'))).toEqual([['password', 'secret']]);
    expect(d2.decode(Buffer.from('82', 'hex'))).toEqual([[':method', 'GET']]);
    expect(d2.dynamicTableSize).toBe(0);
  });

  it('C.3: requests without Huffman coding', () => run(C3, 4096));
  it('C.4: requests with Huffman coding', () => run(C4, 4096));
  it('C.5: responses without Huffman coding, 256-byte table, with eviction', () => run(C5, 256));
  it('C.6: responses with Huffman coding, 256-byte table, with eviction', () => run(C6, 256));
});

describe('HPACK decoder: table size updates and errors', () => {
  it('applies a size update (evicting) and rejects one above the advertised limit', () => {
    const d = new HpackDecoder(256);
    for (const s of C5) d.decode(Buffer.from(s.hex, 'hex'));
    expect(d.dynamicTable.length).toBe(3);
    // 001xxxxx, value 100 (31 + 69): only the newest entry, set-cookie (32 + 10 + 56 = 98 bytes), still fits.
    d.decode(Buffer.from([0x3f, 100 - 31]));
    expect(d.maxDynamicTableSize).toBe(100);
    expect(d.dynamicTable).toEqual([['set-cookie', COOKIE]]);
    expect(d.dynamicTableSize).toBe(98);
    d.decode(Buffer.from([0x20])); // size 0 empties the table
    expect(d.dynamicTable).toEqual([]);
    expect(() => d.decode(Buffer.from([0x3f, 0xe2, 0x01]))).toThrow(HpackError); // 257 > 256
  });

  it('an entry larger than the table empties it and is not stored', () => {
    const d = new HpackDecoder(64);
    d.decode(encodeIncremental('a', 'b')); // 34 bytes
    expect(d.dynamicTableSize).toBe(34);
    d.decode(encodeIncremental('big', 'x'.repeat(40))); // 75 > 64
    expect(d.dynamicTable).toEqual([]);
  });

  it('rejects index 0, out-of-range indexes, truncation and size updates after a field', () => {
    expect(() => new HpackDecoder().decode(Buffer.from([0x80]))).toThrow(/index 0/);
    expect(() => new HpackDecoder().decode(Buffer.from([0xbe]))).toThrow(/out of range/);
    expect(() => new HpackDecoder().decode(Buffer.from([0x40, 0x05, 0x61]))).toThrow(/truncated/);
    expect(() => new HpackDecoder().decode(Buffer.from([0x82, 0x20]))).toThrow(/size update after/);
    expect(() => new HpackDecoder().decode(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toThrow(/overflow/);
  });

  it('decodes non-ASCII bytes as Latin-1 (one char per octet)', () => {
    const d = new HpackDecoder();
    expect(d.decode(Buffer.from([0x00, 0x01, 0x78, 0x02, 0xc3, 0xa9]))).toEqual([['x', '\u00c3\u00a9']]);
  });
});

/** A literal with incremental indexing, new name, raw strings (short strings only). */
function encodeIncremental(name: string, value: string): Buffer {
  return Buffer.from([0x40, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value)]);
}

describe('HPACK encoder', () => {
  it('uses static indexes, indexed names and new-name literals, never indexing', () => {
    const fields: HeaderField[] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/containers.ContainerService/Version'],
      [':authority', 'localhost'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ['x-long', 'v'.repeat(300)],
    ];
    const block = encodeHeaders(fields);
    expect(block[0]).toBe(0x83); // :method POST = static 3
    expect(block[1]).toBe(0x86); // :scheme http = static 6
    expect(block[2]).toBe(0x04); // literal without indexing, name = static 4 (:path)
    const d = new HpackDecoder();
    expect(d.decode(block)).toEqual(fields);
    expect(d.dynamicTableSize).toBe(0);
  });

  it('round-trips every static name with an arbitrary value', () => {
    const fields = STATIC_TABLE.map(([n], i): HeaderField => [n, `v${i}`]);
    expect(new HpackDecoder().decode(encodeHeaders(fields))).toEqual(fields);
  });
});
