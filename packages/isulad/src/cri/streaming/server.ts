import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex, Readable } from 'node:stream';
import { status as grpcStatus } from '@grpc/grpc-js';
import { WebSocketServer } from 'ws';
import { ChannelConn, ChannelWriter } from './connection';
import {
  ERROR,
  internalErrorStatus,
  negotiate,
  nonZeroExitStatus,
  parsePortQuery,
  parseProtocolHeader,
  PORT_FORWARD_PROTOCOLS,
  portHeader,
  type ProtocolInfo,
  REMOTE_COMMAND_PROTOCOLS,
  RESIZE,
  ResizeDecoder,
  type Status,
  statusPayload,
  STDERR,
  STDIN,
  STDOUT,
  STREAM_CLOSE,
  successStatus,
} from './protocol';
import { SizeQueue } from './resize';
import { CacheFullError, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TOKEN_TTL_MS, RequestCache } from './tokens';
import type { AttachRequestInfo, ExecRequestInfo, PortForwardRequestInfo, SessionIO, StreamingLogger, StreamingRuntime } from './types';

/** The daemon.json default of `websocket-server-listening-port`. */
export const DEFAULT_STREAMING_PORT = 10350;
/** kubelet's default `--streaming-connection-idle-timeout`. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const STDIN_HIGH_WATER_MARK = 64 * 1024;
const MAX_PAYLOAD = 8 * 1024 * 1024;

/** A request the streaming server refuses; `code` is the gRPC status the CRI call should answer. */
export class StreamingRequestError extends Error {
  constructor(
    message: string,
    readonly code: grpcStatus,
  ) {
    super(message);
  }
}

export interface StreamingServerOptions {
  /** The host to listen on and to put in the URLs. */
  address: string;
  /** 0 picks a free port (tests). */
  port: number;
  runtime: StreamingRuntime;
  log: StreamingLogger;
  /** How long a URL stays valid (default one minute, as kubelet). */
  tokenTtlMs?: number;
  /** Tokens waiting for their connection at most (default 1000, as kubelet). */
  maxInFlight?: number;
  /** Close a session idle both ways for this long (default 4 h, as kubelet; 0: never). */
  streamIdleTimeoutMs?: number;
  /** Output queued on one connection before writers must wait (default 1 MiB). */
  maxBufferedBytes?: number;
}

type Cached =
  | { kind: 'exec'; req: ExecRequestInfo }
  | { kind: 'attach'; req: AttachRequestInfo }
  | { kind: 'portforward'; req: PortForwardRequestInfo };

const ROUTE = /^\/(?:cri\/)?(exec|attach|portforward)\/([A-Za-z0-9_-]+)\/?$/;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  const connection = req.headers.connection ?? '';
  return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*(,|$)/i.test(connection);
}

/** Ends a writable the runtime left open and waits until what it holds went out (or was dropped). */
function finishWritable(w: ChannelWriter | undefined): Promise<void> {
  if (!w || w.writableFinished || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    w.once('finish', resolve);
    w.once('close', resolve);
    if (!w.writableEnded) w.end();
  });
}

/**
 * The CRI streaming server: `getExec`/`getAttach`/`getPortForward` hand out one-time URLs
 * (`http://<address>:<port>/cri/<method>/<token>`, the path upstream iSulad uses; `/<method>/<token>`
 * is served too), and a WebSocket connection to such a URL runs the session with the Kubernetes
 * channel protocols. WebSocket only: SPDY upgrades are refused with 400.
 */
export class StreamingServer {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly cache: RequestCache<Cached>;
  private readonly sessions = new Set<ChannelConn>();
  private readonly chosen = new WeakMap<IncomingMessage, string>();
  private boundPort: number | undefined;
  private closing = false;

  constructor(private readonly opts: StreamingServerOptions) {
    this.cache = new RequestCache<Cached>(opts.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_PAYLOAD,
      clientTracking: false,
      handleProtocols: (_offers, req) => this.chosen.get(req) || false,
    });
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on `address:port`; the error text is upstream's when the port is taken. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.http.off('listening', onListening);
        reject(
          err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES'
            ? new Error(`Websocket server start failed! please check your network status(eg: port ${this.opts.port} is occupied)`, { cause: err })
            : err,
        );
      };
      const onListening = () => {
        this.http.off('error', onError);
        const a = this.http.address();
        this.boundPort = a !== null && typeof a === 'object' ? a.port : this.opts.port;
        this.opts.log.info({ address: this.opts.address, port: this.boundPort }, 'CRI streaming server listening');
        resolve();
      };
      this.http.once('error', onError);
      this.http.once('listening', onListening);
      this.http.listen(this.opts.port, this.opts.address);
    });
  }

  /** Stops listening, forgets every token and ends every session. */
  async close(): Promise<void> {
    this.closing = true;
    this.cache.clear();
    for (const s of this.sessions) s.terminate();
    if (this.http.listening) {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeAllConnections();
      await closed;
    }
    this.wss.close();
  }

  /** The port listened on (the configured one before `start`). */
  get port(): number {
    return this.boundPort ?? this.opts.port;
  }

  /** Live sessions and the output they hold in the daemon, waiting for slow clients (diagnostics). */
  stats(): { sessions: number; queuedBytes: number } {
    let queuedBytes = 0;
    for (const s of this.sessions) queuedBytes += s.bufferedBytes;
    return { sessions: this.sessions.size, queuedBytes };
  }

  getExec(req: ExecRequestInfo): { url: string } {
    validateStdio(req, 'one of stdin, stdout, or stderr must be set!');
    return { url: this.issue({ kind: 'exec', req: { ...req, cmd: [...req.cmd] } }) };
  }

  getAttach(req: AttachRequestInfo): { url: string } {
    validateStdio(req, 'one of stdin, stdout, and stderr must be set');
    return { url: this.issue({ kind: 'attach', req: { ...req } }) };
  }

  getPortForward(req: PortForwardRequestInfo): { url: string } {
    if (!req.podSandboxId) throw new StreamingRequestError('missing required pod_sandbox_id', grpcStatus.INVALID_ARGUMENT);
    for (const p of req.ports) {
      if (!Number.isInteger(p) || p < 1 || p > 0xffff) throw new StreamingRequestError(`invalid port ${p}`, grpcStatus.INVALID_ARGUMENT);
    }
    return { url: this.issue({ kind: 'portforward', req: { podSandboxId: req.podSandboxId, ports: [...req.ports] } }) };
  }

  private issue(entry: Cached): string {
    let token: string;
    try {
      token = this.cache.insert(entry);
    } catch (err) {
      if (err instanceof CacheFullError) throw new StreamingRequestError(err.message, grpcStatus.RESOURCE_EXHAUSTED);
      throw err;
    }
    const host = this.opts.address.includes(':') ? `[${this.opts.address}]` : this.opts.address;
    return `http://${host}:${this.port}/cri/${entry.kind}/${token}`;
  }

  /** The cached request a path names, if its token is live and of that method. */
  private lookup(url: string | undefined): { token: string; entry: Cached; query: URLSearchParams } | undefined {
    let u: URL;
    try {
      u = new URL(url ?? '/', 'http://streaming.invalid');
    } catch {
      return undefined;
    }
    const m = ROUTE.exec(u.pathname);
    if (!m) return undefined;
    const entry = this.cache.peek(m[2]!);
    if (!entry || entry.kind !== m[1]) return undefined;
    return { token: m[2]!, entry, query: u.searchParams };
  }

  /** A plain HTTP request: nothing is served without the WebSocket upgrade. */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const found = this.closing ? undefined : this.lookup(req.url);
    const [code, body] = found ? [400, notWebSocketText()] : [404, '404 page not found\n'];
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', Connection: 'close' });
    res.end(body);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined);
    const found = this.closing ? undefined : this.lookup(req.url);
    if (!found) return rejectUpgrade(socket, 404, '404 page not found\n');
    if (!isWebSocketUpgrade(req)) {
      // The token stays usable: the client may retry with WebSocket.
      this.opts.log.debug({ upgrade: req.headers.upgrade }, 'streaming: refused a non-WebSocket upgrade');
      return rejectUpgrade(socket, 400, notWebSocketText());
    }
    this.cache.consume(found.token);
    const { entry } = found;
    let ports: number[] = [];
    if (entry.kind === 'portforward') {
      try {
        ports = entry.req.ports.length > 0 ? entry.req.ports : parsePortQuery(found.query);
        if (ports.length === 0) throw new Error('query parameter "port" is required');
      } catch (err) {
        return rejectUpgrade(socket, 400, `${errorText(err)}\n`);
      }
    }
    const supported = entry.kind === 'portforward' ? PORT_FORWARD_PROTOCOLS : REMOTE_COMMAND_PROTOCOLS;
    const offers = parseProtocolHeader(req.headers['sec-websocket-protocol']);
    const proto = negotiate(offers, supported);
    if (!proto) {
      const text = `requested protocol(s) are not supported: [${offers.join(' ')}]; supports [${supported.map((p) => p.name).join(' ')}]`;
      this.opts.log.debug({ offers }, `streaming: ${text}`);
      return rejectUpgrade(socket, 403, `${text}\n`);
    }
    this.chosen.set(req, proto.name);
    // A client that vanished without a FIN is noticed even when the session is quiet.
    socket.setKeepAlive(true, 30_000);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new ChannelConn(ws, {
        base64: proto.base64,
        maxBufferedBytes: this.opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
        idleTimeoutMs: this.opts.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
      });
      if (this.closing) {
        conn.terminate();
        return;
      }
      this.sessions.add(conn);
      void conn.closed.then(() => this.sessions.delete(conn));
      const run = entry.kind === 'portforward' ? this.servePortForward(conn, entry.req.podSandboxId, ports) : this.serveRemoteCommand(conn, proto, entry);
      run.catch((err: unknown) => {
        this.opts.log.error({ err: errorText(err) }, 'streaming: session failed');
        conn.terminate();
      });
    });
  }

  /** Exec and attach: channels 0-4, the exit status on channel 3, then a normal close. */
  private async serveRemoteCommand(conn: ChannelConn, proto: ProtocolInfo, entry: Extract<Cached, { kind: 'exec' | 'attach' }>): Promise<void> {
    const req = entry.req;
    const log = this.opts.log;
    const abort = new AbortController();
    const resize = new SizeQueue();
    const decoder = new ResizeDecoder();
    let stdinOpen = req.stdin;
    const stdin = req.stdin
      ? new Readable({
          highWaterMark: STDIN_HIGH_WATER_MARK,
          read: () => conn.release(stdin!),
        })
      : undefined;
    stdin?.on('error', () => undefined);
    const endStdin = () => {
      if (!stdinOpen) return;
      stdinOpen = false;
      conn.release(stdin!);
      stdin!.push(null);
    };
    const stdout = req.stdout ? new ChannelWriter(conn, STDOUT) : undefined;
    const stderr = req.stderr ? new ChannelWriter(conn, STDERR) : undefined;

    conn.onFrame((channel, data) => {
      if (channel === STREAM_CLOSE && proto.streamClose) {
        if (data.length !== 1) return log.debug({ length: data.length }, 'streaming: malformed close signal ignored');
        if (data[0] === STDIN) endStdin();
        else if (data[0] === RESIZE) resize.end();
        return;
      }
      if (channel === STDIN) {
        if (stdinOpen && data.length > 0 && !stdin!.push(data)) conn.hold(stdin!);
      } else if (channel === RESIZE) {
        for (const size of decoder.push(data)) if (size.width > 0 && size.height > 0) resize.push(size);
      }
    });
    // An empty message on the lowest output channel tells the client the streams are up (kubelet).
    conn.send(req.stdout ? STDOUT : req.stderr ? STDERR : ERROR);
    void conn.closed.then(() => {
      endStdin();
      resize.end();
      abort.abort();
    });

    const io: SessionIO = { stdin, stdout, stderr, tty: req.tty, resize, signal: abort.signal };
    const started = Date.now();
    log.debug({ kind: entry.kind, containerId: req.containerId, protocol: proto.name }, 'streaming: session started');
    let st: Status;
    if (entry.kind === 'exec') {
      try {
        const code = await this.opts.runtime.exec(entry.req, io);
        st = code === 0 ? successStatus() : nonZeroExitStatus(entry.req.cmd, code);
      } catch (err) {
        log.warn({ containerId: req.containerId, err: errorText(err) }, 'streaming: exec failed');
        st = internalErrorStatus(`error executing command in container: ${errorText(err)}`);
      }
    } else {
      try {
        await this.opts.runtime.attach(entry.req, io);
        st = successStatus();
      } catch (err) {
        log.warn({ containerId: req.containerId, err: errorText(err) }, 'streaming: attach failed');
        st = internalErrorStatus(`error attaching to container: ${errorText(err)}`);
      }
    }
    // Input is over (and the connection no longer held for it); output goes out, then the status.
    endStdin();
    resize.end();
    await Promise.all([finishWritable(stdout), finishWritable(stderr)]);
    const payload = statusPayload(st, proto.statusJson);
    if (payload) conn.send(ERROR, payload);
    conn.close(1000);
    log.debug({ kind: entry.kind, containerId: req.containerId, status: st.status, ms: Date.now() - started }, 'streaming: session ended');
  }

  /** Port forwarding: per port a data channel (2i) and an error channel (2i+1), each opened by the port in 2 bytes LE. */
  private async servePortForward(conn: ChannelConn, podSandboxId: string, ports: number[]): Promise<void> {
    const log = this.opts.log;
    const pairs = ports.map((port, i) => {
      const pair = { port, data: 2 * i, error: 2 * i + 1, open: true, stream: undefined as unknown as Duplex };
      const stream: Duplex = new Duplex({
        highWaterMark: STDIN_HIGH_WATER_MARK,
        read: () => conn.release(stream),
        write: (chunk: Buffer, _enc, cb) => conn.send(pair.data, chunk, () => cb()),
        final: (cb) => cb(),
      });
      stream.on('error', () => undefined);
      pair.stream = stream;
      return pair;
    });
    for (const p of pairs) {
      conn.send(p.data, portHeader(p.port));
      conn.send(p.error, portHeader(p.port));
    }
    conn.onFrame((channel, data) => {
      const p = pairs[channel >> 1];
      if (!p || channel % 2 === 1 || !p.open || data.length === 0) return;
      if (!p.stream.push(data)) conn.hold(p.stream);
    });
    void conn.closed.then(() => {
      for (const p of pairs) {
        if (!p.open) continue;
        p.open = false;
        p.stream.push(null);
        p.stream.destroy();
      }
    });
    log.debug({ podSandboxId, ports }, 'streaming: port forward started');
    await Promise.all(
      pairs.map(async (p) => {
        try {
          await this.opts.runtime.portForward(podSandboxId, p.port, p.stream);
        } catch (err) {
          const msg = `error forwarding port ${p.port} to pod ${podSandboxId}, uid : ${errorText(err)}`;
          log.warn({ podSandboxId, port: p.port }, msg);
          conn.send(p.error, Buffer.from(msg));
        } finally {
          p.open = false;
          conn.release(p.stream);
        }
      }),
    );
    conn.close(1000);
    log.debug({ podSandboxId, ports }, 'streaming: port forward ended');
  }
}

function validateStdio(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, noStream: string): void {
  if (!req.containerId) throw new StreamingRequestError('missing required container id!', grpcStatus.INVALID_ARGUMENT);
  // With a terminal there is one output stream: stderr cannot be told apart.
  if (req.tty && req.stderr) throw new StreamingRequestError('tty and stderr cannot both be true!', grpcStatus.INVALID_ARGUMENT);
  if (!req.stdin && !req.stdout && !req.stderr) throw new StreamingRequestError(noStream, grpcStatus.INVALID_ARGUMENT);
}

function notWebSocketText(): string {
  return 'isulad streams exec, attach and port-forward over WebSocket only (SPDY is not supported); use a WebSocket client (crictl --transport websocket)\n';
}

function rejectUpgrade(socket: Socket, code: number, body: string): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
