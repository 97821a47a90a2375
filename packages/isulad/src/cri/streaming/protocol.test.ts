import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  encodeFrame,
  negotiate,
  parsePortQuery,
  parseProtocolHeader,
  PORT_FORWARD_PROTOCOLS,
  portHeader,
  REMOTE_COMMAND_PROTOCOLS,
  ResizeDecoder,
  statusPayload,
  successStatus,
  nonZeroExitStatus,
} from './protocol';
import { SizeQueue } from './resize';
import { RequestCache } from './tokens';

describe('protocol negotiation', () => {
  it('parses the offer header and prefers the best version, binary first', () => {
    expect(parseProtocolHeader(' v4.channel.k8s.io ,v5.channel.k8s.io,,')).toEqual(['v4.channel.k8s.io', 'v5.channel.k8s.io']);
    expect(parseProtocolHeader(['a, b', 'c'])).toEqual(['a', 'b', 'c']);
    const pick = (offers: string[]) => negotiate(offers, REMOTE_COMMAND_PROTOCOLS)?.name;
    expect(pick(['channel.k8s.io', 'v4.channel.k8s.io', 'v5.channel.k8s.io'])).toBe('v5.channel.k8s.io');
    expect(pick(['v4.base64.channel.k8s.io', 'v4.channel.k8s.io'])).toBe('v4.channel.k8s.io');
    expect(pick(['base64.channel.k8s.io'])).toBe('base64.channel.k8s.io');
    expect(pick([])).toBe('');
    expect(pick(['v3.channel.k8s.io', 'SPDY/3.1+portforward.k8s.io'])).toBeUndefined();
    expect(pick(['V5.channel.K8S.io'])).toBeUndefined();
    expect(negotiate(['v5.channel.k8s.io'], PORT_FORWARD_PROTOCOLS)).toBeUndefined();
    expect(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io'], PORT_FORWARD_PROTOCOLS)?.name).toBe('v4.channel.k8s.io');
  });
});

describe('frames', () => {
  it('binary: a channel byte then the data', () => {
    expect(encodeFrame(1, Buffer.from('hi'), false)).toEqual(Buffer.from([1, 104, 105]));
    expect(encodeFrame(3, Buffer.alloc(0), false)).toEqual(Buffer.from([3]));
    expect(decodeFrame(Buffer.from([0, 1, 2]), false)).toEqual({ channel: 0, data: Buffer.from([1, 2]) });
    expect(decodeFrame(Buffer.alloc(0), false)).toBeUndefined();
  });

  it('base64: the channel as a digit then base64 (kubelet doc example)', () => {
    expect(encodeFrame(1, Buffer.from('\n'), true)).toBe('1Cg==');
    expect(decodeFrame(Buffer.from('0Zm9vCg=='), true)).toEqual({ channel: 0, data: Buffer.from('foo\n') });
    expect(decodeFrame(Buffer.from('0Zm9v\r\nCg=='), true)).toEqual({ channel: 0, data: Buffer.from('foo\n') });
    expect(decodeFrame(Buffer.from('0not base64!'), true)).toBeUndefined();
  });
});

describe('status', () => {
  it('v4 JSON, v1 text only for failures', () => {
    expect(statusPayload(successStatus(), true)?.toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(statusPayload(successStatus(), false)).toBeUndefined();
    expect(statusPayload(nonZeroExitStatus(['sh', '-c', 'exit 3'], 3), false)?.toString()).toBe(
      'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
    );
  });
});

describe('ResizeDecoder', () => {
  it('splits objects across and within messages; skips junk; bounds its buffer', () => {
    const d = new ResizeDecoder();
    expect(d.push(Buffer.from('{"Width":80,"Height":24}\n'))).toEqual([{ width: 80, height: 24 }]);
    expect(d.push(Buffer.from('{"Width":1,"Hei'))).toEqual([]);
    expect(d.push(Buffer.from('ght":2} {"HEIGHT":3,"width":4,"x":"}{"}'))).toEqual([
      { width: 1, height: 2 },
      { width: 4, height: 3 },
    ]);
    expect(d.push(Buffer.from('garbage{"Width":-1,"Height":2}{"Width":70000,"Height":1}[1]{"Width":5,"Height":6}'))).toEqual([{ width: 5, height: 6 }]);
    expect(d.push(Buffer.from('{"Width":' + ' '.repeat(5000)))).toEqual([]);
    expect(d.push(Buffer.from('{"Width":7,"Height":8}'))).toEqual([{ width: 7, height: 8 }]);
  });
});

describe('port query', () => {
  it('reads port (and ports), repeated or comma-separated, with kubelet texts for bad values', () => {
    expect(parsePortQuery(new URLSearchParams('port=80&port=443,8080'))).toEqual([80, 443, 8080]);
    expect(parsePortQuery(new URLSearchParams('ports=22'))).toEqual([22]);
    expect(parsePortQuery(new URLSearchParams(''))).toEqual([]);
    expect(() => parsePortQuery(new URLSearchParams('port='))).toThrow('query parameter "port" cannot be empty');
    expect(() => parsePortQuery(new URLSearchParams('port=http'))).toThrow('unable to parse "http" as a port');
    expect(() => parsePortQuery(new URLSearchParams('port=65536'))).toThrow('unable to parse "65536" as a port');
    expect(() => parsePortQuery(new URLSearchParams('port=0'))).toThrow('port "0" must be > 0');
    expect(portHeader(8080)).toEqual(Buffer.from([0x90, 0x1f]));
  });
});

describe('RequestCache', () => {
  it('single use, expiry, bounded size', () => {
    let now = 0;
    const c = new RequestCache<string>(1000, 2, () => now);
    const a = c.insert('a');
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(c.peek(a)).toBe('a');
    expect(c.consume(a)).toBe('a');
    expect(c.consume(a)).toBeUndefined();
    const b = c.insert('b');
    c.insert('c');
    expect(() => c.insert('d')).toThrow('maximum number of in-flight requests exceeded');
    now = 1000;
    expect(c.consume(b)).toBeUndefined();
    expect(c.size).toBe(0);
    c.insert('e');
    c.insert('f');
    expect(c.size).toBe(2);
  });
});

describe('SizeQueue', () => {
  it('hands sizes to a waiting consumer, keeps only the latest otherwise, drains then ends', async () => {
    const q = new SizeQueue();
    const first = q.next();
    q.push({ width: 1, height: 1 });
    expect(await first).toEqual({ value: { width: 1, height: 1 }, done: false });
    q.push({ width: 2, height: 2 });
    q.push({ width: 3, height: 3 });
    expect(q.current).toEqual({ width: 3, height: 3 });
    q.end();
    q.push({ width: 4, height: 4 });
    const seen = [];
    for await (const s of q) seen.push(s);
    expect(seen).toEqual([{ width: 3, height: 3 }]);
  });

  it('first(): the current size, the next one within the timeout, or undefined', async () => {
    const q = new SizeQueue();
    expect(await q.first(10)).toBeUndefined();
    const waiting = q.first(1000);
    q.push({ width: 5, height: 6 });
    expect(await waiting).toEqual({ width: 5, height: 6 });
    expect(await q.first(0)).toEqual({ width: 5, height: 6 });
    // nothing was taken from the iterator
    expect(await q.next()).toEqual({ value: { width: 5, height: 6 }, done: false });
  });
});
