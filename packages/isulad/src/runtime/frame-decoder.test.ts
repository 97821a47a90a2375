import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { frame, FrameDecoder } from './monitor';

/** A stream of frames, cut at the given sizes, decoded back. */
function roundTrip(frames: Array<[number, Buffer]>, cuts: (remaining: number) => number): Array<[number, string]> {
  const bytes = Buffer.concat(frames.map(([t, p]) => frame(t, p)));
  const d = new FrameDecoder();
  const out: Array<[number, string]> = [];
  for (let pos = 0; pos < bytes.length; ) {
    const n = Math.max(1, Math.min(cuts(bytes.length - pos), bytes.length - pos));
    d.push(bytes.subarray(pos, pos + n), (t, p) => out.push([t, p.toString('hex')]));
    pos += n;
  }
  return out;
}

describe('FrameDecoder', () => {
  const frames: Array<[number, Buffer]> = Array.from({ length: 60 }, (_, i) => [i % 5, randomBytes(i * 97 % 20000)]);
  const want = frames.map(([t, p]) => [t, p.toString('hex')]);

  it('gives back every frame, in order, whole or cut anywhere (headers split too)', () => {
    expect(roundTrip(frames, (r) => r)).toEqual(want);
    expect(roundTrip(frames, () => 1)).toEqual(want);
    expect(roundTrip(frames, () => 3)).toEqual(want);
    expect(roundTrip(frames, () => 65536)).toEqual(want);
    let seed = 7;
    expect(roundTrip(frames, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 30000)).toEqual(want);
  });

  it('handles empty frames (stdin EOF) and waits for the rest of a frame', () => {
    const d = new FrameDecoder();
    const seen: number[] = [];
    const bytes = Buffer.concat([frame(0), frame(1, Buffer.from('abc'))]);
    d.push(bytes.subarray(0, 7), (t) => seen.push(t));
    expect(seen).toEqual([0]);
    d.push(bytes.subarray(7), (t) => seen.push(t));
    expect(seen).toEqual([0, 1]);
  });
});
