import { request as httpRequest } from 'node:http';
import { createServer, connect as tcpConnect, type Server as TcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { StdioStream } from '../../container/stdio';
import type { DaemonLogger } from '../../log/logger';
import {
  sessionStdioStream,
  StreamingRequestError,
  StreamingServer,
  type AttachRequestInfo,
  type ExecRequestInfo,
  type SessionIO,
  type StreamingLogger,
  type StreamingRuntime,
  type TerminalSize,
} from './index';

// pino's logger is what the daemon will pass.
const _loggerFits: (l: DaemonLogger) => StreamingLogger = (l) => l;
void _loggerFits;

const quiet: StreamingLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface Frame {
  channel: number;
  data: Buffer;
}

interface Client {
  ws: WebSocket;
  frames: Frame[];
  closed: Promise<number>;
  /** Everything received on `channel`. */
  data(channel: number): Buffer;
  /** Everything received on `channel`, as text. */
  text(channel: number): string;
  bytes(channel: number): number;
  send(channel: number, data: string | Buffer): void;
}

function open(url: string, protocols?: string[], base64 = false): Promise<Client> {
  const ws = new WebSocket(url, protocols);
  const frames: Frame[] = [];
  const counts = new Map<number, number>();
  ws.on('message', (msg: Buffer, isBinary: boolean) => {
    let f: Frame;
    if (base64) {
      expect(isBinary).toBe(false);
      f = { channel: msg[0]! - 48, data: Buffer.from(msg.subarray(1).toString(), 'base64') };
    } else {
      expect(isBinary).toBe(true);
      f = { channel: msg[0]!, data: Buffer.from(msg.subarray(1)) };
    }
    counts.set(f.channel, (counts.get(f.channel) ?? 0) + f.data.length);
    // Large transfers are only counted.
    if (frames.length < 10_000) frames.push(f);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        closed,
        data: (ch) => Buffer.concat(frames.filter((f) => f.channel === ch).map((f) => f.data)),
        text: (ch) => Buffer.concat(frames.filter((f) => f.channel === ch).map((f) => f.data)).toString(),
        bytes: (ch) => counts.get(ch) ?? 0,
        send: (ch, data) => {
          const d = typeof data === 'string' ? Buffer.from(data) : data;
          if (base64) ws.send(String.fromCharCode(48 + ch) + d.toString('base64'));
          else ws.send(Buffer.concat([Buffer.from([ch]), d]));
        },
      }),
    );
    ws.once('error', reject);
  });
}

/** The HTTP answer to an upgrade the server refuses. */
function refused(url: string, protocols?: string[]): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, protocols);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => reject(new Error('upgrade unexpectedly accepted')));
    ws.once('error', () => undefined);
  });
}

/** vi.waitFor with room for a loaded machine. */
const until = <T>(check: () => T) => vi.waitFor(check, { timeout: 5000, interval: 20 });

const statusOf = (c: Client) => JSON.parse(c.text(3)) as Record<string, unknown>;

/** The fake daemon: behaviour picked by the command's first word. */
class FakeRuntime implements StreamingRuntime {
  resizes: TerminalSize[] = [];
  aborted = false;
  flood = { written: 0, sawFull: false, done: false };
  forwards: { pod: string; port: number }[] = [];
  sink = { buffered: -1, received: 0, release: () => undefined as void };

  async exec(req: ExecRequestInfo, io: SessionIO): Promise<number> {
    const [what, arg] = req.cmd;
    switch (what) {
      case 'upper': {
        io.stderr?.write('to stderr\n');
        for await (const chunk of io.stdin!) io.stdout!.write(String(chunk).toUpperCase());
        return Number(arg ?? 0);
      }
      case 'exit':
        io.stdout?.write('bye\n');
        return Number(arg);
      case 'fail':
        throw new Error('container abc is not running');
      case 'resize': {
        for await (const s of io.resize) {
          this.resizes.push(s);
          if (this.resizes.length === Number(arg)) break;
        }
        return 0;
      }
      case 'first-size':
        io.stdout!.write(JSON.stringify(await io.resize.first(3000)));
        return 0;
      case 'wait-abort':
        await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve()));
        this.aborted = true;
        // stdin ended too
        if (io.stdin) for await (const _ of io.stdin) void _;
        return 0;
      case 'flood': {
        const total = Number(arg);
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        while (this.flood.written < total) {
          this.flood.written += chunk.length;
          if (!io.stdout!.write(chunk)) {
            this.flood.sawFull = true;
            await new Promise((r) => io.stdout!.once('drain', r));
          }
        }
        this.flood.done = true;
        return 0;
      }
      case 'sink': {
        // Reads nothing until released: the client's input must wait in the client, not here.
        await new Promise<void>((resolve) => (this.sink.release = resolve));
        this.sink.buffered = io.stdin!.readableLength;
        for await (const chunk of io.stdin!) this.sink.received += (chunk as Buffer).length;
        return 0;
      }
      case 'adapter-flood': {
        // bridgeStream's pattern: every frame of a read sent at once, then wait for the last.
        const s = sessionStdioStream(io);
        const line = Buffer.alloc(1024, 0x63);
        for (let batch = 0; batch < 100; batch++) await Promise.all(Array.from({ length: 100 }, () => s.send('stdout', line)));
        return 0;
      }
      case 'adapter': {
        // What the daemon's bridgeStream does with a StdioStream.
        const s: StdioStream = sessionStdioStream(io);
        for await (const m of s.input) {
          if (m.data.length > 0) await s.send('stdout', Buffer.from(m.data.toString().toUpperCase()));
          if (m.finish) await s.send('stdout', Buffer.from('<eof>'));
        }
        await s.send('stderr', Buffer.from('dropped: no stderr requested'));
        return 0;
      }
      default:
        return 127;
    }
  }

  async attach(_req: AttachRequestInfo, io: SessionIO): Promise<void> {
    io.stdout!.write('attached\n');
    if (io.stdin) for await (const chunk of io.stdin) io.stdout!.write(chunk);
  }

  async portForward(pod: string, port: number, stream: Duplex): Promise<void> {
    this.forwards.push({ pod, port });
    const sock = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    await Promise.allSettled([pipeline(stream, sock), pipeline(sock, stream)]);
  }
}

let runtime: FakeRuntime;
let server: StreamingServer;
let echo: TcpServer;
let echoPort: number;
const servers: StreamingServer[] = [];

async function startServer(extra: Partial<ConstructorParameters<typeof StreamingServer>[0]> = {}): Promise<StreamingServer> {
  const s = new StreamingServer({ address: '127.0.0.1', port: 0, runtime, log: quiet, ...extra });
  await s.start();
  servers.push(s);
  return s;
}

const exec = (cmd: string[], o: Partial<ExecRequestInfo> = {}): ExecRequestInfo => ({
  containerId: 'c1',
  cmd,
  tty: false,
  stdin: false,
  stdout: true,
  stderr: true,
  ...o,
});

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((r) => echo.close(() => r()));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('URLs and tokens', () => {
  it('hands out http URLs on the configured address and port', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const { url } = server.getExec(exec(['exit', '0']));
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/cri/exec/[A-Za-z0-9_-]{22}$`));
    expect(server.getAttach({ containerId: 'c1', tty: true, stdin: true, stdout: true, stderr: false }).url).toContain('/cri/attach/');
    expect(server.getPortForward({ podSandboxId: 'p', ports: [80] }).url).toContain('/cri/portforward/');
    const v6 = new StreamingServer({ address: '::1', port: 10350, runtime, log: quiet });
    expect(v6.getExec(exec(['x'])).url).toMatch(/^http:\/\/\[::1\]:10350\/cri\/exec\//);
  });

  it('refuses requests kubelet refuses, with gRPC codes', async () => {
    runtime = new FakeRuntime();
    server = await startServer({ maxInFlight: 2 });
    const bad = (f: () => unknown, message: string, code: grpcStatus) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StreamingRequestError);
      expect((err as StreamingRequestError).message).toBe(message);
      expect((err as StreamingRequestError).code).toBe(code);
    };
    bad(() => server.getExec(exec(['sh'], { containerId: '' })), 'missing required container id!', grpcStatus.INVALID_ARGUMENT);
    bad(() => server.getExec(exec(['sh'], { tty: true })), 'tty and stderr cannot both be true!', grpcStatus.INVALID_ARGUMENT);
    bad(() => server.getExec(exec(['sh'], { stdout: false, stderr: false })), 'one of stdin, stdout, or stderr must be set!', grpcStatus.INVALID_ARGUMENT);
    bad(() => server.getAttach({ containerId: 'c', tty: false, stdin: false, stdout: false, stderr: false }), 'one of stdin, stdout, and stderr must be set', grpcStatus.INVALID_ARGUMENT);
    bad(() => server.getPortForward({ podSandboxId: '', ports: [] }), 'missing required pod_sandbox_id', grpcStatus.INVALID_ARGUMENT);
    bad(() => server.getPortForward({ podSandboxId: 'p', ports: [70000] }), 'invalid port 70000', grpcStatus.INVALID_ARGUMENT);
    server.getExec(exec(['x']));
    server.getExec(exec(['x']));
    bad(() => server.getExec(exec(['x'])), 'maximum number of in-flight requests exceeded', grpcStatus.RESOURCE_EXHAUSTED);
  });

  it('serves a token once; a second use, an unknown token or path, and another method are 404', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const { url } = server.getExec(exec(['exit', '0']));
    const c = await open(url, ['v5.channel.k8s.io']);
    await c.closed;
    expect(await refused(url, ['v5.channel.k8s.io'])).toMatchObject({ status: 404 });
    const base = `http://127.0.0.1:${server.port}`;
    expect((await refused(`${base}/cri/exec/nosuchtoken`, ['v5.channel.k8s.io'])).status).toBe(404);
    expect((await refused(`${base}/foo`)).status).toBe(404);
    const other = server.getAttach({ containerId: 'c1', tty: false, stdin: false, stdout: true, stderr: false });
    expect((await refused(other.url.replace('/attach/', '/exec/'), ['v5.channel.k8s.io'])).status).toBe(404);
    // kubelet's path without /cri/ works too
    const plain = server.getExec(exec(['exit', '0'])).url.replace('/cri/', '/');
    const c2 = await open(plain, ['v5.channel.k8s.io']);
    expect(await c2.closed).toBe(1000);
  });

  it('expires tokens after the TTL', async () => {
    runtime = new FakeRuntime();
    server = await startServer({ tokenTtlMs: 100 });
    const { url } = server.getExec(exec(['exit', '0']));
    await new Promise((r) => setTimeout(r, 200));
    expect((await refused(url, ['v5.channel.k8s.io'])).status).toBe(404);
  });

  it('answers plain HTTP and SPDY upgrades with 400 and keeps the token for a WebSocket retry', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const { url } = server.getExec(exec(['exit', '0']));
    const res = await fetch(url);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('WebSocket only');
    expect((await fetch(`http://127.0.0.1:${server.port}/cri/exec/unknown`)).status).toBe(404);
    const spdy = await new Promise<number>((resolve, reject) => {
      const r = httpRequest(url, { method: 'POST', headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' } });
      r.on('response', (resp) => {
        resp.resume();
        resolve(resp.statusCode ?? 0);
      });
      r.on('upgrade', () => reject(new Error('upgraded')));
      r.on('error', reject);
      r.end();
    });
    expect(spdy).toBe(400);
    const c = await open(url, ['v5.channel.k8s.io']);
    expect(await c.closed).toBe(1000);
  });
});

describe('exec and attach', () => {
  it('negotiates v5 first whatever the client order, and v4 when offered alone', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const a = await open(server.getExec(exec(['exit', '0'])).url, ['v4.channel.k8s.io', 'v5.channel.k8s.io', 'channel.k8s.io']);
    expect(a.ws.protocol).toBe('v5.channel.k8s.io');
    const b = await open(server.getExec(exec(['exit', '0'])).url, ['v4.channel.k8s.io']);
    expect(b.ws.protocol).toBe('v4.channel.k8s.io');
    await Promise.all([a.closed, b.closed]);
    expect((await refused(server.getExec(exec(['exit', '0'])).url, ['v3.channel.k8s.io'])).status).toBe(403);
  });

  it('v5: stdin, stdout and stderr channels, stdin closed by the CLOSE signal, success status, normal close', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['upper'], { stdin: true })).url, ['v5.channel.k8s.io']);
    c.send(0, 'hello ');
    c.send(0, 'world\n');
    await until(() => expect(c.text(1)).toBe('HELLO WORLD\n'));
    c.ws.send(Buffer.from([255, 0]));
    expect(await c.closed).toBe(1000);
    // the first message is the empty "streams are up" frame on stdout
    expect(c.frames[0]).toEqual({ channel: 1, data: Buffer.alloc(0) });
    expect(c.text(2)).toBe('to stderr\n');
    expect(c.text(3)).toBe('{"metadata":{},"status":"Success"}');
    // the status comes after every output frame
    expect(c.frames.at(-1)!.channel).toBe(3);
  });

  it('v4: a non-zero exit is a NonZeroExitCode status as kubelet sends it', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['exit', '3'])).url, ['v4.channel.k8s.io']);
    expect(await c.closed).toBe(1000);
    expect(c.text(1)).toBe('bye\n');
    expect(c.text(3)).toBe(
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
    );
  });

  it('a runtime error is an InternalError status', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['fail'])).url, ['v5.channel.k8s.io']);
    expect(await c.closed).toBe(1000);
    expect(statusOf(c)).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: error executing command in container: container abc is not running',
      reason: 'InternalError',
      details: { causes: [{ message: 'error executing command in container: container abc is not running' }] },
      code: 500,
    });
  });

  it('v1 (no protocol or channel.k8s.io): failures as text, nothing on success', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const a = await open(server.getExec(exec(['exit', '2'])).url);
    expect(a.ws.protocol).toBe('');
    expect(await a.closed).toBe(1000);
    expect(a.text(3)).toBe('command terminated with non-zero exit code: error executing command [exit 2], exit code 2');
    const b = await open(server.getExec(exec(['exit', '0'])).url, ['channel.k8s.io']);
    expect(await b.closed).toBe(1000);
    expect(b.frames.filter((f) => f.channel === 3)).toEqual([]);
  });

  it('base64 protocols: text frames with the channel as a digit', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['upper'], { stdin: true, stderr: false })).url, ['v4.base64.channel.k8s.io'], true);
    expect(c.ws.protocol).toBe('v4.base64.channel.k8s.io');
    c.send(0, 'abc');
    await until(() => expect(c.text(1)).toBe('ABC'));
    c.ws.close(); // no CLOSE signal before v5: the connection ending ends stdin
    expect(await c.closed).toBe(1005);
  });

  it('the first frame is on the lowest output channel asked for', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const a = await open(server.getExec(exec(['exit', '0'], { stdout: false })).url, ['v5.channel.k8s.io']);
    await a.closed;
    expect(a.frames[0]).toEqual({ channel: 2, data: Buffer.alloc(0) });
    const b = await open(server.getExec(exec(['wait-abort'], { stdout: false, stderr: false, stdin: true })).url, ['v5.channel.k8s.io']);
    await until(() => expect(b.frames.length).toBe(1));
    expect(b.frames[0]).toEqual({ channel: 3, data: Buffer.alloc(0) });
    b.ws.terminate();
  });

  it('resize messages reach the runtime (zero sizes skipped, message boundaries ignored)', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['resize', '3'], { tty: true, stdin: true, stderr: false })).url, ['v5.channel.k8s.io']);
    c.send(4, '{"Width":80,"Height":24}\n');
    await until(() => expect(runtime.resizes).toHaveLength(1));
    c.send(4, '{"Width":0,"Height":0}{"width":100,');
    c.send(4, '"height":30}\n');
    await until(() => expect(runtime.resizes).toHaveLength(2));
    c.send(4, '{"Width":120,"Height":40}');
    expect(await c.closed).toBe(1000);
    expect(runtime.resizes).toEqual([
      { width: 80, height: 24 },
      { width: 100, height: 30 },
      { width: 120, height: 40 },
    ]);
  });

  it('resize.first(): the size the client sends right after connecting', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['first-size'], { tty: true, stdin: true, stderr: false })).url, ['v5.channel.k8s.io']);
    c.send(4, '{"Width":132,"Height":43}');
    expect(await c.closed).toBe(1000);
    expect(c.text(1)).toBe('{"width":132,"height":43}');
  });

  it('a client that goes away aborts the session and ends its stdin', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['wait-abort'], { stdin: true })).url, ['v5.channel.k8s.io']);
    c.send(0, 'partial input');
    c.ws.terminate();
    await until(() => expect(runtime.aborted).toBe(true));
  });

  it('attach: streams until the client closes stdin', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getAttach({ containerId: 'c1', tty: false, stdin: true, stdout: true, stderr: false }).url, ['v5.channel.k8s.io']);
    c.send(0, 'echo me');
    await until(() => expect(c.text(1)).toBe('attached\necho me'));
    c.ws.send(Buffer.from([255, 0]));
    expect(await c.closed).toBe(1000);
    expect(c.text(3)).toBe('{"metadata":{},"status":"Success"}');
  });

  it('the StdioStream adapter: input with finish, send, output of unasked streams dropped', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const c = await open(server.getExec(exec(['adapter'], { stdin: true, stderr: false })).url, ['v5.channel.k8s.io']);
    c.send(0, 'x');
    await until(() => expect(c.text(1)).toBe('X'));
    c.ws.send(Buffer.from([255, 0]));
    expect(await c.closed).toBe(1000);
    expect(c.text(1)).toBe('X<eof>');
    expect(c.frames.some((f) => f.channel === 2)).toBe(false);
  });

  it('the adapter under backpressure: many sends wait together, no listener pile-up', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const c = await open(server.getExec(exec(['adapter-flood'], { stderr: false })).url, ['v5.channel.k8s.io']);
      c.ws.pause();
      await new Promise((r) => setTimeout(r, 300));
      c.ws.resume();
      expect(await c.closed).toBe(1000);
      expect(c.bytes(1)).toBe(100 * 100 * 1024);
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('backpressure: a paused client stops the runtime writer; everything arrives once it reads again', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const total = 10 * 1024 * 1024;
    const c = await open(server.getExec(exec(['flood', String(total)], { stderr: false })).url, ['v5.channel.k8s.io']);
    c.ws.pause();
    await until(() => expect(runtime.flood.sawFull).toBe(true));
    await new Promise((r) => setTimeout(r, 500));
    const stalledAt = runtime.flood.written;
    await new Promise((r) => setTimeout(r, 300));
    // Stalled: nothing more was accepted, well short of the total.
    // What waits in the daemon stays near the 1 MiB limit; the rest sits in the kernel's socket buffers.
    expect(server.stats()).toEqual({ sessions: 1, queuedBytes: expect.any(Number) });
    expect(server.stats().queuedBytes).toBeGreaterThan(0);
    expect(server.stats().queuedBytes).toBeLessThanOrEqual(1024 * 1024 + 128 * 1024);
    expect(runtime.flood.written).toBe(stalledAt);
    expect(runtime.flood.done).toBe(false);
    expect(stalledAt).toBeLessThan(total);
    c.ws.resume();
    expect(await c.closed).toBe(1000);
    expect(c.bytes(1)).toBe(total);
    expect(runtime.flood.done).toBe(true);
    expect(statusOf(c).status).toBe('Success');
  });

  it('backpressure: a runtime that does not read stdin stops the connection being read', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const total = 16 * 1024 * 1024;
    const c = await open(server.getExec(exec(['sink'], { stdin: true, stderr: false })).url, ['v5.channel.k8s.io']);
    const chunk = Buffer.alloc(32 * 1024, 0x62);
    for (let sent = 0; sent < total; sent += chunk.length) c.send(0, chunk);
    c.ws.send(Buffer.from([255, 0]));
    await new Promise((r) => setTimeout(r, 500));
    // The input is stuck in the client's queue (and the kernel), not in the daemon.
    expect(c.ws.bufferedAmount).toBeGreaterThan(0);
    runtime.sink.release();
    expect(await c.closed).toBe(1000);
    expect(runtime.sink.buffered).toBeGreaterThan(0);
    expect(runtime.sink.buffered).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
    expect(runtime.sink.received).toBe(total);
  });
});

describe('port forward', () => {
  it('opens each channel with the port (2 bytes LE) and round-trips data to the port', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const { url } = server.getPortForward({ podSandboxId: 'pod1', ports: [echoPort] });
    const c = await open(url, ['v4.channel.k8s.io']);
    expect(c.ws.protocol).toBe('v4.channel.k8s.io');
    const header = Buffer.from([echoPort & 0xff, echoPort >> 8]);
    await until(() => expect(c.frames.length).toBeGreaterThanOrEqual(2));
    expect(c.frames.slice(0, 2)).toEqual([
      { channel: 0, data: header },
      { channel: 1, data: header },
    ]);
    c.send(0, 'ping');
    c.send(0, ' pong');
    await until(() => expect(c.data(0)).toEqual(Buffer.concat([header, Buffer.from('ping pong')])));
    expect(runtime.forwards).toEqual([{ pod: 'pod1', port: echoPort }]);
    c.ws.close();
    await c.closed;
  });

  it('takes the ports from the URL when the request names none; reports a failing port on its error channel', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const { url } = server.getPortForward({ podSandboxId: 'pod2', ports: [] });
    const c = await open(`${url}?port=${deadPort}`, ['v4.channel.k8s.io']);
    expect(await c.closed).toBe(1000);
    expect(c.data(1).subarray(0, 2)).toEqual(Buffer.from([deadPort & 0xff, deadPort >> 8]));
    const err = c.data(1).subarray(2).toString();
    expect(err).toMatch(new RegExp(`^error forwarding port ${deadPort} to pod pod2, uid : connect ECONNREFUSED`));
    const { url: url2 } = server.getPortForward({ podSandboxId: 'pod2', ports: [] });
    expect(await refused(url2, ['v4.channel.k8s.io'])).toEqual({ status: 400, body: 'query parameter "port" is required\n' });
  });

  it('two ports on one connection: channels 0/1 and 2/3', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const { url } = server.getPortForward({ podSandboxId: 'pod3', ports: [echoPort, echoPort] });
    const c = await open(url, ['v4.channel.k8s.io']);
    await until(() => expect(c.frames.length).toBeGreaterThanOrEqual(4));
    expect(c.frames.slice(0, 4).map((f) => f.channel)).toEqual([0, 1, 2, 3]);
    c.send(2, 'second');
    await until(() => expect(c.data(2).subarray(2).toString()).toBe('second'));
    expect(c.data(0)).toHaveLength(2);
    c.ws.close();
    await c.closed;
  });
});

describe('lifecycle', () => {
  it('start fails with upstream text when the port is taken; close ends live sessions', async () => {
    runtime = new FakeRuntime();
    server = await startServer();
    const other = new StreamingServer({ address: '127.0.0.1', port: server.port, runtime, log: quiet });
    await expect(other.start()).rejects.toThrow(`Websocket server start failed! please check your network status(eg: port ${server.port} is occupied)`);
    const c = await open(server.getExec(exec(['wait-abort'], { stdin: true })).url, ['v5.channel.k8s.io']);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await c.closed;
    await until(() => expect(runtime.aborted).toBe(true));
  });
});
