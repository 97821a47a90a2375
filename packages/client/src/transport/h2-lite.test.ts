import * as grpc from '@grpc/grpc-js';
import { buildSync } from 'esbuild';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '../endpoint';
import { ConnectError, GrpcStatus, RpcError } from '../errors';
import { frame, FrameDecoder } from './grpc-framing';
import { GrpcConnection } from './h2-lite';

/*
 * End to end against real servers: @grpc/grpc-js (what isulad serves with) over a unix socket, TCP,
 * TLS and mutual TLS; node:http2 (nghttp2) for what grpc-js never sends (non-200 status, padding,
 * CONTINUATION, PING, a tiny flow-control window); raw sockets for a connection dropped mid-call.
 */

const dir = mkdtempSync(join(tmpdir(), 'h2lite-'));
const sockPath = (name: string) => join(dir, name);
const unixEp = (path: string): Endpoint => ({ kind: 'unix', uri: `unix://${path}`, path });
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

// ---- the grpc-js test service: raw bytes in and out, no protobuf ---------------------------------

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const method = (name: string, responseStream: boolean) => ({ path: `/test.Test/${name}`, requestStream: false, responseStream, ...raw });
const SERVICE = {
  Echo: method('Echo', false),
  Fail: method('Fail', false),
  Count: method('Count', true),
  Big: method('Big', true),
  Forever: method('Forever', true),
};
const FAIL_DETAILS = 'container "web 1" is not running: état arrêté, 東京 100% done';

let inFlight = 0;
let maxInFlight = 0;

const handlers: grpc.UntypedServiceImplementation = {
  Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    const echoed = call.metadata.get('x-echo');
    const md = new grpc.Metadata();
    if (echoed.length > 0) md.set('x-echo', String(echoed[0]));
    md.set('x-authority', String(call.metadata.get(':authority')[0] ?? ''));
    call.sendMetadata(md);
    const delay = call.request.subarray(0, 5).toString() === 'slow:' ? 100 : 0;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      cb(null, call.request);
    }, delay);
  },
  Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    cb({ code: grpc.status.FAILED_PRECONDITION, details: FAIL_DETAILS });
  },
  Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const n = call.request.readUInt32BE(0);
    for (let i = 0; i < n; i++) call.write(Buffer.from(`message ${i}`));
    call.end();
  },
  Big: async (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const count = call.request.readUInt32BE(0);
    const size = call.request.readUInt32BE(4);
    for (let i = 0; i < count; i++) {
      const m = Buffer.alloc(size, i & 0xff);
      m.writeUInt32BE(i, 0);
      if (!call.write(m)) await once(call, 'drain');
    }
    call.end();
  },
  Forever: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    let i = 0;
    const timer = setInterval(() => call.write(Buffer.alloc(512, i++ & 0xff)), 2);
    call.on('cancelled', () => clearInterval(timer));
    call.on('close', () => clearInterval(timer));
  },
};

function startGrpc(address: string, creds: grpc.ServerCredentials): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(SERVICE, handlers);
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve({ server, port }))));
}

/** A unix-socket relay to `target` that counts its connections and can drop them. */
function relay(path: string, target: string, opts: { dropAfterServerBytes?: number } = {}) {
  const state = { connections: 0, server: undefined as unknown as net.Server };
  state.server = net.createServer((client) => {
    state.connections++;
    const up = net.connect(target);
    let fromServer = 0;
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      fromServer += d.length;
      client.write(d);
      if (opts.dropAfterServerBytes !== undefined && fromServer > opts.dropAfterServerBytes) {
        client.destroy();
        up.destroy();
      }
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  return new Promise<typeof state>((resolve) => state.server.listen(path, () => resolve(state)));
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** CA, server certificate (SAN IP:127.0.0.1, DNS:localhost), client certificate; EC keys. */
function makeCerts() {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=h2-lite test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=isula client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2', '-extfile', 'client.ext');
  // A server certificate from the same CA that expired in 2020 (`openssl ca` takes explicit dates).
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n[ext]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', 'server.csr', '-out', 'expired.pem', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'ext');
  // A second, unrelated CA: verification against it must fail.
  openssl('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA');
  const f = (n: string) => readFileSync(join(dir, n));
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherCa: f('other.pem'), otherCert: f('other.pem'), otherKey: f('other.key'), expiredCert: f('expired.pem') };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const servers: grpc.Server[] = [];
const netServers: net.Server[] = [];
const h2Servers: http2.Http2Server[] = [];
let unixSock: string;
let tcpPort: number;
let tlsPort: number;
let mtlsPort: number;
let certs: ReturnType<typeof makeCerts>;

beforeAll(async () => {
  certs = makeCerts();
  unixSock = sockPath('grpc.sock');
  servers.push((await startGrpc(`unix://${unixSock}`, grpc.ServerCredentials.createInsecure())).server);
  const tcp = await startGrpc('127.0.0.1:0', grpc.ServerCredentials.createInsecure());
  servers.push(tcp.server);
  tcpPort = tcp.port;
  const keyPair = [{ private_key: certs.serverKey, cert_chain: certs.serverCert }];
  const tls = await startGrpc('127.0.0.1:0', grpc.ServerCredentials.createSsl(certs.ca, keyPair, false));
  servers.push(tls.server);
  tlsPort = tls.port;
  const mtls = await startGrpc('127.0.0.1:0', grpc.ServerCredentials.createSsl(certs.ca, keyPair, true));
  servers.push(mtls.server);
  mtlsPort = mtls.port;
}, 30_000);

afterAll(() => {
  for (const s of servers) s.forceShutdown();
  for (const s of netServers) s.close();
  for (const s of h2Servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const tlsEp = (port: number, tls: Partial<NonNullable<Extract<Endpoint, { kind: 'tcp' }>['tls']>>, host = '127.0.0.1'): Endpoint => ({
  kind: 'tcp',
  uri: `tcp://${host}:${port}`,
  host,
  port,
  tls: { verify: true, ...tls },
});

// ---- the calls, run against each transport flavour -----------------------------------------------

function suite(name: string, endpoint: () => Endpoint) {
  describe(`grpc-js over ${name}`, () => {
    let conn: GrpcConnection;
    beforeAll(() => {
      conn = new GrpcConnection(endpoint());
    });
    afterAll(() => conn.close());

    it('unary echo, with metadata both ways', async () => {
      const { message, headers, trailers } = await conn.unary('/test.Test/Echo', Buffer.from('hello, daemon'), { 'X-Echo': 'ping 1' });
      expect(message.toString()).toBe('hello, daemon');
      expect(headers[':status']).toBe(200);
      expect(headers['content-type']).toBe('application/grpc+proto');
      expect(headers['x-echo']).toBe('ping 1');
      expect(trailers['grpc-status']).toBe('0');
    });

    it('unary error: status and percent-decoded message (spaces, non-ASCII) from a trailers-only answer', async () => {
      const err = await rejection(conn.unary('/test.Test/Fail', Buffer.alloc(0)));
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).status).toBe(grpc.status.FAILED_PRECONDITION);
      expect((err as RpcError).details).toBe(FAIL_DETAILS);
    });

    it('unknown method: UNIMPLEMENTED', async () => {
      const err = await rejection(conn.unary('/test.Test/Nope', Buffer.alloc(0)));
      expect((err as RpcError).status).toBe(GrpcStatus.UNIMPLEMENTED);
    });

    it('server stream of 100 messages, in order', async () => {
      const got: string[] = [];
      const { trailers } = await conn.serverStream('/test.Test/Count', u32(100), (m) => got.push(m.toString()));
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `message ${i}`));
      expect(trailers['grpc-status']).toBe('0');
    });

    it('a 3 MiB request body, sent within the server’s flow-control windows', async () => {
      const body = Buffer.alloc(3 << 20);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
      const { message } = await conn.unary('/test.Test/Echo', body);
      expect(message.equals(body)).toBe(true);
    });
  });
}

suite('a unix socket', () => unixEp(unixSock));
suite('TCP', () => ({ kind: 'tcp', uri: `tcp://127.0.0.1:${tcpPort}`, host: '127.0.0.1', port: tcpPort }));
suite('TLS (verified, IP SAN)', () => tlsEp(tlsPort, { ca: certs.ca }));
suite('TLS (verified, DNS SAN "localhost")', () => tlsEp(tlsPort, { ca: certs.ca }, 'localhost'));
suite('TLS (encrypt only, no verification)', () => tlsEp(tlsPort, { verify: false }));
suite('mutual TLS', () => tlsEp(mtlsPort, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }));

describe('flow control and concurrency (unix socket)', () => {
  it('a ~50 MB server stream arrives whole and in order', async () => {
    const conn = new GrpcConnection(unixEp(unixSock));
    const COUNT = 50;
    const SIZE = 1 << 20;
    let bytes = 0;
    let next = 0;
    let bad = 0;
    await conn.serverStream('/test.Test/Big', Buffer.concat([u32(COUNT), u32(SIZE)]), (m) => {
      bytes += m.length;
      if (m.length !== SIZE || m.readUInt32BE(0) !== next || m[4] !== (next & 0xff) || m[SIZE - 1] !== (next & 0xff)) bad++;
      next++;
    });
    conn.close();
    expect(bad).toBe(0);
    expect(next).toBe(COUNT);
    expect(bytes).toBe(COUNT * SIZE);
  }, 120_000);

  it('20 concurrent unary calls share one connection', async () => {
    const r = await relay(sockPath('count.sock'), unixSock);
    netServers.push(r.server);
    const conn = new GrpcConnection(unixEp(sockPath('count.sock')));
    maxInFlight = 0;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.unary('/test.Test/Echo', Buffer.from(`slow:${i}`))));
    expect(results.map((x) => x.message.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `slow:${i}`));
    expect(r.connections).toBe(1);
    expect(maxInFlight).toBe(20);
    // Streams keep working on the same connection afterwards.
    await conn.unary('/test.Test/Echo', Buffer.from('after'));
    expect(r.connections).toBe(1);
    conn.close();
  });

  it('an exception from onMessage cancels that call only; the connection stays usable', async () => {
    const conn = new GrpcConnection(unixEp(unixSock));
    const boom = new Error('stop here');
    let seen = 0;
    const err = await rejection(
      conn.serverStream('/test.Test/Forever', Buffer.alloc(0), () => {
        if (++seen === 3) throw boom;
      }),
    );
    expect(err).toBe(boom);
    expect((await conn.unary('/test.Test/Echo', Buffer.from('still here'))).message.toString()).toBe('still here');
    conn.close();
  });

  it('close() lets calls in flight finish; the next call opens a new connection', async () => {
    const r = await relay(sockPath('close.sock'), unixSock);
    netServers.push(r.server);
    const conn = new GrpcConnection(unixEp(sockPath('close.sock')));
    const pending = conn.unary('/test.Test/Echo', Buffer.from('slow:closing'));
    await new Promise((res) => setTimeout(res, 10));
    conn.close();
    expect((await pending).message.toString()).toBe('slow:closing');
    expect((await conn.unary('/test.Test/Echo', Buffer.from('again'))).message.toString()).toBe('again');
    expect(r.connections).toBe(2);
    conn.close();
  });
});

describe('failures', () => {
  it('daemon not listening (unix socket missing) -> ConnectError', async () => {
    const conn = new GrpcConnection(unixEp(sockPath('nobody.sock')));
    const err = await rejection(conn.unary('/test.Test/Echo', Buffer.alloc(0)));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe('ENOENT');
  });

  it('daemon not listening (TCP port closed) -> ConnectError, for a server stream too', async () => {
    const port = await freePort();
    const conn = new GrpcConnection({ kind: 'tcp', uri: `tcp://127.0.0.1:${port}`, host: '127.0.0.1', port });
    const err = await rejection(conn.serverStream('/test.Test/Count', u32(1), () => undefined));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe('ECONNREFUSED');
  });

  it('TLS: a certificate from another CA, a missing or foreign client certificate, a name mismatch -> ConnectError with the reason', async () => {
    const fail = async (ep: Endpoint) => {
      const err = await rejection(new GrpcConnection(ep).unary('/test.Test/Echo', Buffer.alloc(0)));
      expect(err).toBeInstanceOf(ConnectError);
      return (err as ConnectError).tlsReason ?? `(no reason; code ${(err as ConnectError).code}: ${(err as ConnectError).detail})`;
    };
    expect(await fail(tlsEp(tlsPort, { ca: certs.otherCa, caPath: '/x/ca.pem' }))).toMatch(/^the daemon's certificate is not signed by the CA in \/x\/ca.pem/);
    expect(await fail(tlsEp(mtlsPort, { ca: certs.ca }))).toBe('the daemon requires a client certificate (--tlscert and --tlskey, or ISULAD_CERT_PATH)');
    expect(await fail(tlsEp(mtlsPort, { ca: certs.ca, cert: certs.otherCert, key: certs.otherKey }))).toMatch(/^the daemon (refused|closed the connection after the TLS handshake: it did not accept) the client certificate/);
    const expired = await startGrpc('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: certs.expiredCert, private_key: certs.serverKey }], false));
    servers.push(expired.server);
    expect(await fail(tlsEp(expired.port, { ca: certs.ca }))).toBe("the daemon's certificate has expired");
    // The server certificate names IP:127.0.0.1 and DNS:localhost only.
    expect(await fail(tlsEp(tlsPort, { ca: certs.ca, serverName: 'isulad.example' }))).toMatch(/^the daemon's certificate does not name this host: .*isulad\.example/);
  });

  it('plain tcp against a TLS port says TLS is missing on one side; TLS against a plain port too', async () => {
    const plain = new GrpcConnection({ kind: 'tcp', uri: `tcp://127.0.0.1:${tlsPort}`, host: '127.0.0.1', port: tlsPort });
    expect(await rejection(plain.unary('/test.Test/Echo', Buffer.alloc(0)))).toBeInstanceOf(Error);
    const port = await freePort();
    const s = net.createServer((c) => {
      c.on('error', () => undefined);
      c.once('data', () => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    netServers.push(s);
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
    const err = await rejection(new GrpcConnection(tlsEp(port, { ca: certs.ca })).unary('/test.Test/Echo', Buffer.alloc(0)));
    expect((err as ConnectError).tlsReason).toBe('the daemon does not speak TLS on this port (is it started with --tls?)');
  });

  it('not an HTTP/2 server at all -> ConnectError', async () => {
    const path = sockPath('http1.sock');
    const s = net.createServer((c) => {
      c.on('error', () => undefined);
      c.once('data', () => c.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    });
    netServers.push(s);
    await new Promise<void>((r) => s.listen(path, r));
    const err = await rejection(new GrpcConnection(unixEp(path)).unary('/test.Test/Echo', Buffer.alloc(0)));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).detail).toMatch(/HTTP\/1/);
  });

  it('connection dropped mid-stream -> RpcError after the messages that made it', async () => {
    const r = await relay(sockPath('drop.sock'), unixSock, { dropAfterServerBytes: 8192 });
    netServers.push(r.server);
    const conn = new GrpcConnection(unixEp(sockPath('drop.sock')));
    let seen = 0;
    const err = await rejection(conn.serverStream('/test.Test/Forever', Buffer.alloc(0), () => seen++));
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).status).toBe(GrpcStatus.UNAVAILABLE);
    expect(seen).toBeGreaterThan(0);
    // A new call reconnects.
    const again = new GrpcConnection(unixEp(unixSock));
    expect((await again.unary('/test.Test/Echo', Buffer.from('x'))).message.toString()).toBe('x');
    again.close();
  });

  it('grpc-js server shut down mid-stream -> RpcError', async () => {
    const path = sockPath('shutdown.sock');
    const { server } = await startGrpc(`unix://${path}`, grpc.ServerCredentials.createInsecure());
    const conn = new GrpcConnection(unixEp(path));
    let seen = 0;
    const call = conn.serverStream('/test.Test/Forever', Buffer.alloc(0), () => {
      if (++seen === 5) server.forceShutdown();
    });
    const err = await rejection(call);
    expect(err).toBeInstanceOf(RpcError);
    expect(seen).toBeGreaterThanOrEqual(5);
  });
});

// ---- protocol corners, against node:http2 (nghttp2) -----------------------------------------------

function startH2(path: string, options: http2.ServerOptions, onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void) {
  const server = http2.createServer(options);
  server.on('stream', onStream);
  h2Servers.push(server);
  return new Promise<void>((r) => server.listen(path, r));
}

async function readBody(stream: http2.ServerHttp2Stream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('HTTP/2 corners (node:http2 server)', () => {
  it('non-200 :status without grpc-status -> RpcError UNKNOWN', async () => {
    const path = sockPath('h2-404.sock');
    await startH2(path, {}, (stream) => {
      stream.respond({ ':status': 404 }, { endStream: true });
    });
    const conn = new GrpcConnection(unixEp(path));
    const err = await rejection(conn.unary('/x/y', Buffer.alloc(0)));
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).status).toBe(GrpcStatus.UNKNOWN);
    expect((err as RpcError).details).toMatch(/404/);
    conn.close();
  });

  it('padding, CONTINUATION, PING, a 1000-byte peer window and the request headers as sent', async () => {
    const path = sockPath('h2-corners.sock');
    let seenHeaders: http2.IncomingHttpHeaders = {};
    let pinged: Promise<boolean> | undefined;
    await startH2(path, { settings: { initialWindowSize: 1000 }, paddingStrategy: http2.constants.PADDING_STRATEGY_MAX }, async (stream, headers) => {
      seenHeaders = headers;
      pinged = new Promise((res) => stream.session!.ping((err) => res(!err)));
      const body = await readBody(stream);
      const [message] = new FrameDecoder().push(body);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-big': 'y'.repeat(40_000) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'all%20good' }));
      stream.end(frame(Buffer.from(message!).reverse()));
    });
    const conn = new GrpcConnection(unixEp(path));
    const request = Buffer.alloc(200_000);
    for (let i = 0; i < request.length; i++) request[i] = (i * 7) & 0xff;
    const { message, headers, trailers } = await conn.unary('/svc.S/M', request, { 'x-meta': 'v 1' });
    expect(message.equals(Buffer.from(request).reverse())).toBe(true);
    expect(headers['x-big']).toBe('y'.repeat(40_000));
    expect(trailers['grpc-message']).toBe('all%20good');
    expect(await pinged).toBe(true);
    expect(seenHeaders).toMatchObject({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': '/svc.S/M',
      ':authority': 'localhost',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'x-meta': 'v 1',
    });
    conn.close();
  });

  it('GOAWAY from the server: calls in flight below last-stream-id complete, later calls reconnect', async () => {
    const path = sockPath('h2-goaway.sock');
    await startH2(path, {}, (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.session!.goaway(0, stream.id); // processed up to this stream, no more
      setTimeout(() => stream.end(frame(Buffer.from('ok'))), 20);
    });
    const conn = new GrpcConnection(unixEp(path));
    expect((await conn.unary('/a', Buffer.alloc(0))).message.toString()).toBe('ok');
    expect((await conn.unary('/b', Buffer.alloc(0))).message.toString()).toBe('ok');
    conn.close();
  });
});

// ---- protocol corners, against a scripted raw HTTP/2 server ----------------------------------------

/** Frame bytes: 9-byte header + payload. */
function h2frame(type: number, flags: number, id: number, payload: Buffer | number[] = []): Buffer {
  const p = Buffer.from(payload);
  const head = Buffer.alloc(9);
  head.writeUIntBE(p.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, p]);
}
const STATUS_200 = [0x88]; // HPACK: static index 8, ":status: 200"
/** HPACK literal without indexing, new name, raw strings (< 127 bytes each). */
const literal = (name: string, value: string) => [0x00, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value)];
const rstPayload = (code: number) => u32(code);

/**
 * A server that speaks just enough HTTP/2 to run a script: it answers the preface with an empty
 * SETTINGS, and calls `onStream(id, path, send)` for each request HEADERS the client opens.
 */
async function rawH2(path: string, onStream: (id: number, send: (...frames: Buffer[]) => void, sock: net.Socket) => void) {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
        sock.write(h2frame(4, 0, 0));
      }
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const type = buf[3]!;
        const flags = buf[4]!;
        const id = buf.readUInt32BE(5);
        buf = buf.subarray(9 + len);
        if (type === 4 && !(flags & 1)) sock.write(h2frame(4, 1, 0));
        if (type === 1) onStream(id, (...frames) => sock.write(Buffer.concat(frames)), sock);
      }
    });
  });
  netServers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
}

describe('HTTP/2 corners (scripted raw server)', () => {
  it('RST_STREAM before any answer -> ConnectError; after headers -> RpcError', async () => {
    const path = sockPath('raw-rst.sock');
    await rawH2(path, (id, send) => {
      if (id === 1) send(h2frame(3, 0, id, rstPayload(7))); // REFUSED_STREAM
      else send(h2frame(1, 4, id, [...STATUS_200, ...literal('content-type', 'application/grpc')]), h2frame(0, 0, id, frame(Buffer.from('part'))), h2frame(3, 0, id, rstPayload(2)));
    });
    const conn = new GrpcConnection(unixEp(path));
    const before = await rejection(conn.unary('/before', Buffer.alloc(0)));
    expect(before).toBeInstanceOf(ConnectError);
    expect((before as ConnectError).detail).toMatch(/REFUSED_STREAM/);
    const got: string[] = [];
    const after = await rejection(conn.serverStream('/after', Buffer.alloc(0), (m) => got.push(m.toString())));
    expect(after).toBeInstanceOf(RpcError);
    expect((after as RpcError).status).toBe(GrpcStatus.UNAVAILABLE);
    expect((after as RpcError).details).toMatch(/INTERNAL_ERROR/);
    expect(got).toEqual(['part']);
    conn.close();
  });

  it('trailers-only answers: split over HEADERS + CONTINUATION, padded, priority fields, the dynamic table shared by streams', async () => {
    const path = sockPath('raw-cont.sock');
    const message = 'not%20found%3A%20%C3%A9';
    await rawH2(path, (id, send) => {
      if (id === 1) {
        // grpc-message as a literal with incremental indexing (0x40, new name): dynamic entry 62.
        const block = Buffer.from([...STATUS_200, ...literal('grpc-status', '5'), 0x40, 12, ...Buffer.from('grpc-message'), message.length, ...Buffer.from(message)]);
        const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0x80, 0, 0, 0, 16]), block.subarray(0, 4), Buffer.alloc(3)]);
        // HEADERS with END_STREAM | PADDED | PRIORITY but no END_HEADERS, then two CONTINUATIONs.
        send(h2frame(1, 0x1 | 0x8 | 0x20, id, padded), h2frame(9, 0, id, block.subarray(4, 10)), h2frame(9, 4, id, block.subarray(10)));
      } else {
        send(h2frame(1, 0x1 | 0x4, id, [...STATUS_200, ...literal('grpc-status', '5'), 0xbe])); // 0xbe: index 62
      }
    });
    const conn = new GrpcConnection(unixEp(path));
    for (const call of ['/first', '/second']) {
      const err = await rejection(conn.unary(call, Buffer.alloc(0)));
      expect(err, call).toBeInstanceOf(RpcError);
      expect((err as RpcError).status, call).toBe(GrpcStatus.NOT_FOUND);
      expect((err as RpcError).details, call).toBe('not found: é');
    }
    conn.close();
  });

  it('PUSH_PROMISE (push was disabled) is a connection error: ConnectError, and GOAWAY PROTOCOL_ERROR is sent', async () => {
    const path = sockPath('raw-push.sock');
    let goaway: Buffer | undefined;
    await rawH2(path, (id, send, sock) => {
      sock.on('data', (d) => {
        const i = d.indexOf(Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x00]));
        if (i >= 3) goaway = d.subarray(i - 3, i + 14);
      });
      send(h2frame(5, 4, id, [0, 0, 0, 2, 0x82, 0x84, 0x86]));
    });
    const conn = new GrpcConnection(unixEp(path));
    const err = await rejection(conn.unary('/x', Buffer.alloc(0)));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).detail).toMatch(/PUSH_PROMISE/);
    await new Promise((r) => setTimeout(r, 50));
    expect(goaway?.readUInt32BE(13)).toBe(1); // PROTOCOL_ERROR
  });
});

// ---- what loading and using the module costs ------------------------------------------------------

describe('module weight', () => {
  it('loads no built-in beyond what node:net needs, runs nothing at load, and never loads http2 or tls for a unix call', async () => {
    const bundle = join(dir, 'h2-lite.bundle.js');
    buildSync({ entryPoints: [join(__dirname, 'h2-lite.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'silent' });
    const script = `
      const before = new Set(process.moduleLoadList);
      const m = require(${JSON.stringify(bundle)});
      const atLoad = process.moduleLoadList.filter((x) => !before.has(x) && x.startsWith('NativeModule '));
      const handles = process.getActiveResourcesInfo();
      new m.GrpcConnection({ kind: 'unix', path: ${JSON.stringify(unixSock)} })
        .unary('/test.Test/Echo', Buffer.from('from a child'))
        .then((r) => {
          const all = process.moduleLoadList.filter((x) => x.startsWith('NativeModule '));
          console.log(JSON.stringify({ atLoad, handles, reply: r.message.toString(), all }));
          // No close(): an idle connection must not keep the process alive.
        });
    `;
    // Asynchronously: the server it calls lives in this process.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const res = JSON.parse(out) as { atLoad: string[]; handles: string[]; reply: string; all: string[] };
    expect(res.reply).toBe('from a child');
    expect(res.handles).toEqual([]);
    for (const heavy of ['http2', 'tls', '_tls_wrap', 'crypto', 'http', 'https', 'zlib']) {
      expect(res.all, heavy).not.toContain(`NativeModule ${heavy}`);
    }
    expect(res.atLoad.filter((x) => !/^NativeModule (net|stream|internal\/|diagnostics_channel|timers|events|buffer|string_decoder|util)/.test(x))).toEqual([]);
  }, 30_000);
});
