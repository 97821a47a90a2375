import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '../endpoint';
import { ConnectError, GrpcStatus, RpcError } from '../errors';
import { GrpcConnection } from './h2-lite';

/*
 * Client-streaming and bidirectional calls over h2-lite against a real @grpc/grpc-js server (what
 * isulad serves with): request messages written over time, half-close, backpressure, initial and
 * trailing metadata, early answers and failures.
 */

const dir = mkdtempSync(join(tmpdir(), 'h2lite-stream-'));
const sock = join(dir, 'grpc.sock');
const endpoint: Endpoint = { kind: 'unix', uri: `unix://${sock}`, path: sock };

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({ path: `/test.Stream/${name}`, requestStream, responseStream, ...raw });
const SERVICE = {
  Sum: method('Sum', true, false),
  Echo: method('Echo', true, true),
  FailAfter: method('FailAfter', true, true),
  EarlyAnswer: method('EarlyAnswer', true, false),
  Watch: method('Watch', true, true),
  Single: method('Single', false, true),
  Flood: method('Flood', false, true),
};

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

let cancelledSeen = 0;
/** Bytes the Flood handler managed to hand to grpc-js without being told to wait. */
let floodWritten = 0;

const handlers: grpc.UntypedServiceImplementation = {
  /** Counts messages and bytes; answers `count,bytes` after the client half-closes; echoes x-echo as initial metadata. */
  Sum: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    const md = new grpc.Metadata();
    md.set('x-echo', String(call.metadata.get('x-echo')[0] ?? ''));
    call.sendMetadata(md);
    let count = 0;
    let bytes = 0;
    let check = 0;
    call.on('data', (m: Buffer) => {
      count++;
      bytes += m.length;
      if (m.length >= 4) check = (check + m.readUInt32BE(0)) >>> 0;
    });
    call.on('end', () => {
      const trailers = new grpc.Metadata();
      trailers.set('x-check', String(check));
      cb(null, Buffer.from(`${count},${bytes}`), trailers);
    });
  },
  /** Initial metadata first, then every message back upper-cased; ends after the client does. */
  Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    const md = new grpc.Metadata();
    md.set('x-stat', JSON.stringify({ name: 'f', size: 3 }));
    call.sendMetadata(md);
    call.on('data', (m: Buffer) => call.write(Buffer.from(m.toString().toUpperCase())));
    call.on('end', () => call.end());
  },
  /** Answers two messages, then fails with UNKNOWN and a message, without waiting for the client's end. */
  FailAfter: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    let n = 0;
    call.on('data', (m: Buffer) => {
      n++;
      call.write(m);
      if (n === 2) call.emit('error', Object.assign(new Error('Can not untar to container: boom'), { code: grpc.status.UNKNOWN, details: 'Can not untar to container: boom' }));
    });
  },
  /** Answers after the first message, without reading the rest. */
  EarlyAnswer: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    call.once('data', (m: Buffer) => cb(null, Buffer.from(`first:${m.length}`)));
  },
  /** Never ends by itself; counts cancellations. */
  Watch: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', (m: Buffer) => call.write(m));
    call.on('cancelled', () => cancelledSeen++);
  },
  /** Server stream with initial metadata and an empty first message (as iSulad's CopyFromContainer). */
  Single: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const md = new grpc.Metadata();
    md.set('isulad-container-path-stat', '{"Name":"x"}');
    call.sendMetadata(md);
    call.write(Buffer.alloc(0));
    call.write(call.request);
    call.end();
  },
};

/** Writes 64 KiB messages (32 MiB in all) honouring backpressure, counting what went out. */
handlers.Flood = (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
  floodWritten = 0;
  const chunk = Buffer.alloc(64 << 10, 7);
  const pump = () => {
    while (floodWritten < 32 << 20) {
      floodWritten += chunk.length;
      if (!call.write(chunk)) return void call.once('drain', pump);
    }
    call.end();
  };
  pump();
};

let server: grpc.Server;
let conn: GrpcConnection;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(SERVICE, handlers);
  await new Promise<number>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  conn = new GrpcConnection(endpoint);
});

afterAll(() => {
  conn.close();
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('h2-lite client-streaming and bidi calls', () => {
  it('client stream: messages written over time, half-close, one answer, initial and trailing metadata', async () => {
    const answers: string[] = [];
    let initial: string | undefined;
    const call = conn.stream('/test.Stream/Sum', {
      metadata: { 'x-echo': 'hello' },
      onHeaders: (h) => (initial = String(h['x-echo'])),
      onMessage: (m) => answers.push(m.toString()),
    });
    for (let i = 1; i <= 5; i++) {
      call.write(Buffer.concat([u32(i), Buffer.alloc(10)]));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await call.headers).toMatchObject({ 'x-echo': 'hello' });
    call.end();
    const end = await call.done;
    expect(initial).toBe('hello');
    expect(answers).toEqual(['5,70']);
    expect(end.trailers['x-check']).toBe('15');
    expect(end.trailers['grpc-status']).toBe('0');
  });

  it('clientStream(): a 24 MiB upload in 64 KiB messages, held to the flow-control windows with bounded buffering', async () => {
    const count = 384;
    const size = 64 * 1024;
    const answers: string[] = [];
    let waits = 0;
    const call = conn.stream('/test.Stream/Sum', { onMessage: (m) => answers.push(m.toString()) });
    for (let i = 0; i < count; i++) {
      const m = Buffer.alloc(size, i & 0xff);
      m.writeUInt32BE(i, 0);
      if (!call.write(m)) {
        waits++;
        await call.drained();
      }
    }
    call.end();
    const end = await call.done;
    expect(answers).toEqual([`${count},${count * size}`]);
    expect(end.trailers['x-check']).toBe(String(((count - 1) * count) / 2));
    expect(waits).toBeGreaterThan(0); // 24 MiB cannot all be in flight: the writer was held back
  });

  it('clientStream() from an async generator', async () => {
    async function* gen() {
      for (let i = 0; i < 50; i++) {
        yield Buffer.concat([u32(2), Buffer.alloc(100)]);
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    }
    const answers: string[] = [];
    const end = await conn.clientStream('/test.Stream/Sum', gen(), { onMessage: (m) => answers.push(m.toString()) });
    expect(answers).toEqual(['50,5200']);
    expect(end.trailers['x-check']).toBe('100');
  });

  it('bidi: responses arrive while the client still writes; initial metadata before them', async () => {
    const got: string[] = [];
    let statAtFirstMessage: string | undefined;
    let stat: string | undefined;
    const call = conn.stream('/test.Stream/Echo', {
      onHeaders: (h) => (stat = String(h['x-stat'])),
      onMessage: (m) => {
        statAtFirstMessage ??= stat;
        got.push(m.toString());
      },
    });
    call.write(Buffer.from('one'));
    while (got.length < 1) await new Promise((r) => setTimeout(r, 2));
    call.write(Buffer.from('two'));
    while (got.length < 2) await new Promise((r) => setTimeout(r, 2));
    call.end();
    await call.done;
    expect(got).toEqual(['ONE', 'TWO']);
    expect(JSON.parse(statAtFirstMessage!)).toEqual({ name: 'f', size: 3 });
  });

  it('bidi: a failure status ends the call with RpcError while the client is still writing; writes after it are ignored', async () => {
    const got: string[] = [];
    const call = conn.stream('/test.Stream/FailAfter', { onMessage: (m) => got.push(m.toString()) });
    call.write(Buffer.from('a'));
    call.write(Buffer.from('b'));
    const err = await rejection(call.done);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).status).toBe(GrpcStatus.UNKNOWN);
    expect(err.message).toBe('Can not untar to container: boom');
    expect(call.write(Buffer.from('c'))).toBe(true);
    call.end();
  });

  it('clientStream(): the daemon answers early; writing stops and the answer is kept', async () => {
    let produced = 0;
    function* many() {
      for (let i = 0; i < 100_000; i++) {
        produced++;
        yield Buffer.alloc(1024);
      }
    }
    const answers: string[] = [];
    await conn.clientStream('/test.Stream/EarlyAnswer', many(), { onMessage: (m) => answers.push(m.toString()) });
    expect(answers).toEqual(['first:1024']);
    expect(produced).toBeLessThan(100_000);
  });

  it('cancel(): RpcError CANCELLED locally, the server sees the cancellation, the connection stays usable', async () => {
    const call = conn.stream('/test.Stream/Watch', { onMessage: () => undefined });
    call.write(Buffer.from('x'));
    await call.headers;
    call.cancel();
    const err = await rejection(call.done);
    expect((err as RpcError).status).toBe(GrpcStatus.CANCELLED);
    for (let i = 0; i < 50 && cancelledSeen === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cancelledSeen).toBe(1);
    const answers: string[] = [];
    await conn.clientStream('/test.Stream/Sum', [u32(1)], { onMessage: (m) => answers.push(m.toString()) });
    expect(answers).toEqual(['1,4']);
  });

  it('an exception from onMessage cancels the call and rejects with it', async () => {
    const call = conn.stream('/test.Stream/Echo', {
      onMessage: () => {
        throw new Error('bad message');
      },
    });
    call.write(Buffer.from('x'));
    const err = await rejection(call.done);
    expect(err.message).toBe('bad message');
  });

  it('serverStream() reports the initial metadata before the messages (an empty first message included)', async () => {
    const seen: string[] = [];
    await conn.serverStream(
      '/test.Stream/Single',
      Buffer.from('payload'),
      (m) => seen.push(`msg:${m.toString()}`),
      {},
      (h) => seen.push(`headers:${String(h['isulad-container-path-stat'])}`),
    );
    expect(seen).toEqual(['headers:{"Name":"x"}', 'msg:', 'msg:payload']);
  });

  it('daemon not listening -> ConnectError from done and headers', async () => {
    const gone = new GrpcConnection({ kind: 'unix', uri: 'unix:///nonexistent/isulad.sock', path: '/nonexistent/isulad.sock' });
    const call = gone.stream('/test.Stream/Sum', {});
    call.write(Buffer.from('x'));
    call.end();
    expect(await rejection(call.done)).toBeInstanceOf(ConnectError);
    expect(await rejection(call.headers)).toBeInstanceOf(ConnectError);
    gone.close();
  });

  it('pause() holds the flow-control credit back: the server stalls until resume()', async () => {
    let received = 0;
    const call = conn.stream('/test.Stream/Flood', { onMessage: (m) => (received += m.length) });
    call.write(Buffer.alloc(0));
    call.end();
    call.pause();
    await new Promise((r) => setTimeout(r, 500));
    // Stream window (4 MiB) plus what grpc-js buffers before saying "wait": far below 32 MiB.
    expect(floodWritten).toBeLessThan(12 << 20);
    const stalledAt = received;
    expect(stalledAt).toBeLessThanOrEqual(4 << 20);
    call.resume();
    await call.done;
    expect(received).toBe(32 << 20);
  });

  it('many concurrent bidi calls on one connection', async () => {
    const runs = Array.from({ length: 20 }, async (_, i) => {
      const got: string[] = [];
      const call = conn.stream('/test.Stream/Echo', { onMessage: (m) => got.push(m.toString()) });
      call.write(Buffer.from(`m${i}a`));
      call.write(Buffer.from(`m${i}b`));
      call.end();
      await call.done;
      return got;
    });
    const results = await Promise.all(runs);
    results.forEach((got, i) => expect(got).toEqual([`M${i}A`, `M${i}B`]));
  });
});
