import { describe, expect, it } from 'vitest';
import { EOS, HUFFMAN_TABLE, HuffmanError, huffmanDecode, huffmanEncode, huffmanLength } from './huffman';

const code = (sym: number) => HUFFMAN_TABLE[2 * sym]!;
const len = (sym: number) => HUFFMAN_TABLE[2 * sym + 1]!;

/** The bits of one code, most significant first, as a string of '0'/'1'. */
const bits = (sym: number) => code(sym).toString(2).padStart(len(sym), '0');

/** Packs a bit string into bytes, padding with 1s (EOS prefix) to a byte boundary. */
function pack(bitString: string): Buffer {
  const padded = bitString + '1'.repeat((8 - (bitString.length % 8)) % 8);
  const out = Buffer.alloc(padded.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(padded.slice(8 * i, 8 * i + 8), 2);
  return out;
}

describe('Huffman table (RFC 7541 Appendix B)', () => {
  it('has 257 codes of 5..30 bits, each fitting its length', () => {
    expect(HUFFMAN_TABLE.length).toBe(2 * 257);
    for (let s = 0; s <= EOS; s++) {
      expect(len(s)).toBeGreaterThanOrEqual(5);
      expect(len(s)).toBeLessThanOrEqual(30);
      expect(code(s)).toBeLessThan(2 ** len(s));
    }
    expect([code(EOS), len(EOS)]).toEqual([0x3fffffff, 30]); // EOS: thirty 1s
  });

  it('is canonical: by (length, symbol), each code is the previous + 1, shifted by the length growth', () => {
    const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => len(a) - len(b) || a - b);
    expect(code(order[0]!)).toBe(0);
    for (let k = 1; k < order.length; k++) {
      const p = order[k - 1]!;
      const q = order[k]!;
      expect(code(q), `symbol ${q}`).toBe((code(p) + 1) * 2 ** (len(q) - len(p)));
    }
  });

  it('is a complete prefix code (Kraft sum exactly 1, no code a prefix of another)', () => {
    let kraft = 0;
    for (let s = 0; s <= EOS; s++) kraft += 2 ** -len(s);
    expect(kraft).toBe(1);
    const all = Array.from({ length: 257 }, (_, s) => bits(s)).sort();
    for (let i = 1; i < all.length; i++) expect(all[i]!.startsWith(all[i - 1]!)).toBe(false);
  });

  it('decodes every one of the 256 symbol codes back to its byte', () => {
    for (let s = 0; s < 256; s++) expect([...huffmanDecode(pack(bits(s)))], `symbol ${s}`).toEqual([s]);
  });

  it('rejects EOS inside a string, padding over 7 bits, and padding that is not all 1s', () => {
    expect(() => huffmanDecode(pack(bits(EOS)))).toThrow(HuffmanError);
    expect(() => huffmanDecode(Buffer.from([0xff]))).toThrow(/padding longer/); // 8 bits of EOS prefix
    expect(() => huffmanDecode(pack(bits(97) + '0'))).toThrow(/not a prefix of EOS/); // 'a' then 0 + 1s
    expect(huffmanDecode(Buffer.alloc(0)).length).toBe(0);
  });
});

describe('Huffman round trip', () => {
  it('every byte value alone, and all 256 together in several orders', () => {
    for (let b = 0; b < 256; b++) {
      const enc = huffmanEncode(Buffer.from([b]));
      expect(enc.length).toBe(Math.ceil(len(b) / 8));
      expect([...huffmanDecode(enc)]).toEqual([b]);
    }
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reversed = Buffer.from(all).reverse();
    const shuffled = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256));
    for (const input of [all, reversed, shuffled]) {
      const enc = huffmanEncode(input);
      expect(enc.length).toBe(huffmanLength(input));
      expect(huffmanDecode(enc).equals(input)).toBe(true);
    }
  });

  it('matches the RFC 7541 C.4.1 string "www.example.com"', () => {
    expect(huffmanEncode(Buffer.from('www.example.com')).toString('hex')).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    expect(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex')).toString()).toBe('www.example.com');
  });
});
