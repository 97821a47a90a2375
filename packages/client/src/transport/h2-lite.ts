import type { IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { ConnectError, RpcError, GrpcStatus } from '../errors';
import type { Endpoint } from '../endpoint';
import { frame, FrameDecoder, statusOf, hostPort, isIpLiteral, type Metadata, type UnaryResult } from './grpc-framing';
import { HpackDecoder, encodeHeaders, type HeaderField } from './hpack';
import { tlsFailureReason } from './tls-errors';

export type { Metadata, UnaryResult };

/*
 * A small HTTP/2 client (RFC 7540) on node:net — just what a gRPC client needs — and the gRPC calls
 * on top of it: unary, server-streaming, client-streaming and bidirectional calls with gRPC's status
 * and error semantics.
 *
 * Why: `require('node:http2')` loads ~76 built-ins (tls, crypto, http, ...) and the first call
 * through Node's http2 core costs more again; together that more than doubled the start of
 * `isula version`. node:net is already part of every Node start; node:tls is required only for a
 * TLS endpoint. Loading this module runs nothing.
 *
 * Covered: client preface, SETTINGS (+ACK), HEADERS with CONTINUATION on receive (split into
 * CONTINUATION on send when the block exceeds the peer's frame size), DATA with padding, flow
 * control both ways (receive windows replenished as data is consumed; sends held to the peer's
 * connection and stream windows and frame size), PING -> ACK, RST_STREAM, GOAWAY, concurrent
 * streams (honouring SETTINGS_MAX_CONCURRENT_STREAMS by queueing), trailers-only responses, 1xx
 * headers skipped. Not covered: server push (refused with SETTINGS_ENABLE_PUSH = 0; a PUSH_PROMISE is
 * a connection error), PRIORITY (ignored), HTTP/1.1 upgrade and prior-knowledge over TLS without
 * ALPN, timeouts and keep-alive pings. Request bodies are either given whole (`request(fields, body)`)
 * or written over time (`request(fields)` then `write`/`end`: half-close), with backpressure.
 */

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

// Frame types (RFC 7540 §6).
const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;

// Flags.
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

// SETTINGS identifiers (§6.5.2).
const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

// Error codes (§7), named as nghttp2 (and so Node's messages) name them.
const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const FRAME_SIZE_ERROR = 0x6;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;
const ENHANCE_YOUR_CALM = 0xb;
const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];
const errorName = (code: number) => `NGHTTP2_${ERROR_NAMES[code] ?? `UNKNOWN_${code}`}`;

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 0x7fff_ffff;
const DEFAULT_MAX_FRAME = 16_384;
/** The largest frame we accept: the default, since we do not raise SETTINGS_MAX_FRAME_SIZE. */
const LOCAL_MAX_FRAME = DEFAULT_MAX_FRAME;
/** Our HPACK decoder's table size: the default, since we do not change SETTINGS_HEADER_TABLE_SIZE. */
const LOCAL_HEADER_TABLE = 4096;
/** Receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE) and of the connection. */
const STREAM_WINDOW = 4 << 20;
const CONNECTION_WINDOW = 8 << 20;
/** Ceiling of one header block (HEADERS + CONTINUATIONs) we are willing to buffer. */
const MAX_HEADER_BLOCK = 1 << 20;

/** Why a stream ended abnormally: the transport failed, or the peer reset it. */
export interface StreamFailure {
  message: string;
  code?: string;
  /** The TLS handshake failed: why, in a user's words. */
  tlsReason?: string;
}

/** Bytes a streaming request may hold unsent before `write` asks the writer to wait for `onDrain`. */
const SEND_HIGH_WATER = 1 << 20;

/** One HTTP/2 request/response exchange. Callbacks are set by the caller right after `request`. */
export class H2Stream {
  id = 0;
  /** Response headers (first non-1xx HEADERS); set = the daemon answered. */
  headers: IncomingHttpHeaders | undefined;
  /** Trailers (a second HEADERS, with END_STREAM). */
  trailers: IncomingHttpHeaders | undefined;
  onResponse: ((headers: IncomingHttpHeaders) => void) | undefined;
  onData: ((chunk: Buffer) => void) | undefined;
  /** Called once: without argument when the stream ended cleanly (END_STREAM or RST NO_ERROR). */
  onClose: ((failure?: StreamFailure) => void) | undefined;
  /** Called when a `write` that returned false has been sent far enough to write again. */
  onDrain: (() => void) | undefined;

  /** @internal */ sendWindow = 0;
  /** @internal */ recvWindow = STREAM_WINDOW;
  /** @internal */ recvUnacked = 0;
  /** @internal Request bytes not sent yet, in order. */ pending: Buffer[] = [];
  /** @internal */ pendingBytes = 0;
  /** @internal The request end was asked (`end()`, or a whole body given). */ endRequested: boolean;
  /** @internal END_STREAM went out. */ localEnded = false;
  /** @internal */ needDrain = false;
  /** @internal */ remoteEnded = false;
  /** @internal */ done = false;

  constructor(
    private readonly session: H2Session,
    /** @internal */ readonly fields: HeaderField[],
    body: Buffer | undefined,
  ) {
    this.endRequested = body !== undefined;
    if (body !== undefined && body.length > 0) {
      this.pending.push(body);
      this.pendingBytes = body.length;
    }
  }

  /** Bytes written and not yet sent (held by flow control or by the peer's stream limit). */
  get bufferedAmount(): number {
    return this.pendingBytes;
  }

  /**
   * Queues request bytes (a stream opened without a body). Returns false once more than
   * SEND_HIGH_WATER bytes wait: write again after `onDrain`. Ignored once the stream is over.
   */
  write(chunk: Buffer): boolean {
    if (this.endRequested) throw new Error('write after end of the request');
    if (this.done) return true;
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.session.pump(this);
    }
    if (this.pendingBytes > SEND_HIGH_WATER) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Ends the request (half-close: END_STREAM after the bytes written); the response goes on. */
  end(): void {
    if (this.endRequested) return;
    this.endRequested = true;
    if (!this.done) this.session.pump(this);
  }

  /** Abandons the stream (RST_STREAM CANCEL); `onClose` is not called. */
  cancel(): void {
    this.session.reset(this, CANCEL, undefined);
  }

  /** @internal Response data is not handed back to the peer's window while paused. */ receivePaused = false;

  /**
   * Stops returning flow-control credit for response data: the daemon stops sending once the
   * stream window (4 MiB) is used up. For a consumer that cannot keep up (a slow stdout).
   */
  pauseReceive(): void {
    this.receivePaused = true;
  }

  /** Hands the credit held back by `pauseReceive` to the daemon again. */
  resumeReceive(): void {
    if (!this.receivePaused) return;
    this.receivePaused = false;
    if (!this.done) this.session.ackReceived(this);
  }
}

/** One HTTP/2 connection (client side). */
export class H2Session {
  private readonly socket: Socket;
  private readonly tls: boolean;
  /** False until the transport can carry our bytes (TLS: after the handshake and ALPN check). */
  private ready: boolean;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private inbuf: Buffer | undefined;

  private readonly streams = new Map<number, H2Stream>();
  private readonly waiting: H2Stream[] = [];
  private nextId = 1;

  private peerMaxConcurrent = Infinity;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow = CONNECTION_WINDOW;
  private connRecvUnacked = 0;

  private readonly hpack = new HpackDecoder(LOCAL_HEADER_TABLE);
  private gotPeerSettings = false;
  private continuation: { id: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;

  /** New streams may be opened (no GOAWAY received, no close() asked, not failed). */
  accepting = true;
  closed = false;

  constructor(endpoint: Endpoint) {
    this.tls = endpoint.kind === 'tcp' && endpoint.tls !== undefined;
    if (endpoint.kind === 'unix') {
      this.socket = netConnect(endpoint.path);
      this.ready = true;
    } else if (endpoint.tls) {
      const tls = require('node:tls') as typeof import('node:tls');
      const t = endpoint.tls;
      const opts: ConnectionOptions = {
        host: endpoint.host,
        port: endpoint.port,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        rejectUnauthorized: t.verify,
        servername: t.serverName ?? (isIpLiteral(endpoint.host) ? '' : endpoint.host),
        ALPNProtocols: ['h2'],
      };
      const socket: TLSSocket = tls.connect(opts);
      this.socket = socket;
      this.ready = false;
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          this.fail({ message: `the daemon did not negotiate HTTP/2 over TLS (ALPN: ${socket.alpnProtocol || 'none'})`, code: 'ERR_HTTP2_ALPN' });
          return;
        }
        this.ready = true;
        this.flush();
      });
    } else {
      this.socket = netConnect({ host: endpoint.host, port: endpoint.port });
      this.ready = true;
    }
    if (endpoint.kind === 'tcp') this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    const caPath = endpoint.kind === 'tcp' ? endpoint.tls?.caPath : undefined;
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail({ message: err.message, code: err.code, tlsReason: this.tls ? tlsFailureReason(err.code, err.message, caPath) : undefined }),
    );
    this.socket.on('close', () => {
      // A TLS daemon that checks client certificates in software (grpc-js, Node) refuses one by
      // closing right after the handshake, without an alert: nothing of HTTP/2 has come yet.
      const refusedCert = this.tls && this.ready && !this.gotPeerSettings && endpoint.kind === 'tcp' && endpoint.tls?.cert !== undefined;
      this.fail({
        message: 'the daemon closed the connection',
        tlsReason: refusedCert ? 'the daemon closed the connection after the TLS handshake: it did not accept the client certificate (not signed by its CA, or expired)' : undefined,
      });
    });

    // Client connection preface (§3.5): the magic, our SETTINGS, and a larger connection window.
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 12);
    settings.writeUInt32BE(LOCAL_HEADER_TABLE, 14);
    this.queue(PREFACE);
    this.sendFrame(SETTINGS, 0, 0, settings);
    this.sendWindowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW);
  }

  /**
   * Opens a stream sending `fields` then `body` (with END_STREAM); queued if the peer's stream limit
   * is reached. Without `body` the request stays open: the caller writes it with `write` and `end`.
   */
  request(fields: HeaderField[], body?: Buffer): H2Stream {
    if (!this.accepting) throw new Error('the HTTP/2 session is closing');
    if (this.nextId > MAX_WINDOW) {
      this.accepting = false; // stream ids exhausted: the next call opens a new connection
      throw new Error('HTTP/2 stream ids exhausted on this connection');
    }
    const stream = new H2Stream(this, fields, body);
    this.socket.ref();
    if (this.streams.size < this.peerMaxConcurrent) this.start(stream);
    else this.waiting.push(stream);
    return stream;
  }

  /** Graceful close: no new streams; the connection ends once the open ones are done. */
  close(): void {
    this.accepting = false;
    this.maybeShutdown();
  }

  /** Ends a stream locally with RST_STREAM `code`, reporting `failure` (or nothing) to its owner. */
  reset(stream: H2Stream, code: number, failure: StreamFailure | undefined, notify = false): void {
    if (stream.done) return;
    const queued = this.waiting.indexOf(stream);
    if (queued >= 0) this.waiting.splice(queued, 1);
    else if (!this.closed) this.sendRst(stream.id, code);
    this.finish(stream, notify ? failure ?? { message: 'stream reset' } : undefined, notify);
  }

  // ---- sending ------------------------------------------------------------------------------

  private start(stream: H2Stream): void {
    if (this.nextId > MAX_WINDOW) {
      // Stream ids exhausted: this connection takes no more streams.
      this.accepting = false;
      this.finish(stream, { message: 'HTTP/2 stream ids exhausted; retry on a new connection' }, true);
      return;
    }
    stream.id = this.nextId;
    this.nextId += 2;
    stream.sendWindow = this.peerInitialWindow;
    this.streams.set(stream.id, stream);
    const block = encodeHeaders(stream.fields);
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      this.sendFrame(HEADERS, END_HEADERS, stream.id, block);
    } else {
      this.sendFrame(HEADERS, 0, stream.id, block.subarray(0, max));
      for (let off = max; off < block.length; off += max) {
        const end = Math.min(off + max, block.length);
        this.sendFrame(CONTINUATION, end === block.length ? END_HEADERS : 0, stream.id, block.subarray(off, end));
      }
    }
    this.pumpStream(stream);
  }

  /** @internal Sends what a started stream has pending (from H2Stream.write/end). */
  pump(s: H2Stream): void {
    if (s.id !== 0 && this.streams.get(s.id) === s) this.pumpStream(s);
  }

  /**
   * Sends as much of the stream's pending bytes as the windows and the frame size allow, and
   * END_STREAM once its end was asked and everything before it went out.
   */
  private pumpStream(s: H2Stream): void {
    if (s.done || s.localEnded) return;
    while (s.pending.length > 0) {
      const budget = Math.min(this.peerMaxFrame, this.connSendWindow, s.sendWindow);
      if (budget <= 0) break;
      // Small writes (gRPC messages) are coalesced into one frame up to the budget.
      let n = 0;
      const parts: Buffer[] = [];
      while (s.pending.length > 0 && n < budget) {
        const head = s.pending[0]!;
        const take = Math.min(head.length, budget - n);
        parts.push(take === head.length ? head : head.subarray(0, take));
        if (take === head.length) s.pending.shift();
        else s.pending[0] = head.subarray(take);
        n += take;
      }
      s.pendingBytes -= n;
      this.connSendWindow -= n;
      s.sendWindow -= n;
      const last = s.pending.length === 0 && s.endRequested;
      this.sendFrame(DATA, last ? END_STREAM : 0, s.id, parts.length === 1 ? parts[0]! : Buffer.concat(parts, n));
      if (last) s.localEnded = true;
    }
    if (s.pending.length === 0 && s.endRequested && !s.localEnded) {
      this.sendFrame(DATA, END_STREAM, s.id, Buffer.alloc(0));
      s.localEnded = true;
    }
    if (s.needDrain && s.pendingBytes <= SEND_HIGH_WATER / 2) {
      s.needDrain = false;
      s.onDrain?.();
    }
  }

  private pumpAll(): void {
    for (const s of this.streams.values()) {
      if (this.connSendWindow <= 0) return;
      this.pumpStream(s);
    }
  }

  private sendFrame(type: number, flags: number, id: number, payload: Buffer): void {
    const head = Buffer.allocUnsafe(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(id, 5);
    this.queue(head);
    if (payload.length > 0) this.queue(payload);
  }

  private sendWindowUpdate(id: number, increment: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(increment, 0);
    this.sendFrame(WINDOW_UPDATE, 0, id, p);
  }

  private sendRst(id: number, code: number): void {
    const p = Buffer.allocUnsafe(4);
    p.writeUInt32BE(code, 0);
    this.sendFrame(RST_STREAM, 0, id, p);
  }

  private sendGoaway(code: number): void {
    const p = Buffer.allocUnsafe(8);
    p.writeUInt32BE(0, 0); // we never accept streams from the server
    p.writeUInt32BE(code, 4);
    this.sendFrame(GOAWAY, 0, 0, p);
  }

  /** Frames go out together at the end of the tick (one writev), and only once the transport is ready. */
  private queue(buf: Buffer): void {
    this.out.push(buf);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.ready || this.out.length === 0 || this.socket.destroyed) return;
    const out = this.out;
    this.out = [];
    this.socket.cork();
    for (const b of out) this.socket.write(b);
    this.socket.uncork();
  }

  // ---- receiving ----------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let buf = this.inbuf ? Buffer.concat([this.inbuf, chunk]) : chunk;
    let pos = 0;
    while (!this.closed && buf.length - pos >= 9) {
      const length = buf.readUIntBE(pos, 3);
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const id = buf.readUInt32BE(pos + 5) & MAX_WINDOW;
      if (length > LOCAL_MAX_FRAME) {
        const http1 = pos === 0 && !this.gotPeerSettings && buf.subarray(0, 5).toString('latin1') === 'HTTP/';
        this.connectionError(FRAME_SIZE_ERROR, http1 ? 'the daemon answered with HTTP/1, not HTTP/2' : `frame of ${length} bytes exceeds the maximum frame size`);
        return;
      }
      if (buf.length - pos - 9 < length) break;
      const payload = buf.subarray(pos + 9, pos + 9 + length);
      pos += 9 + length;
      this.onFrame(type, flags, id, payload);
    }
    if (this.closed) return;
    buf = buf.subarray(pos);
    this.inbuf = buf.length > 0 ? buf : undefined;
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (!this.gotPeerSettings && (type !== SETTINGS || flags & ACK)) {
      this.connectionError(PROTOCOL_ERROR, 'the daemon did not start with an HTTP/2 SETTINGS frame');
      return;
    }
    if (this.continuation && (type !== CONTINUATION || id !== this.continuation.id)) {
      this.connectionError(PROTOCOL_ERROR, 'expected a CONTINUATION frame');
      return;
    }
    switch (type) {
      case DATA:
        return this.onData(flags, id, payload);
      case HEADERS:
        return this.onHeaders(flags, id, payload);
      case PRIORITY:
        return; // advisory; nothing to prioritise on our side
      case RST_STREAM:
        return this.onRstStream(id, payload);
      case SETTINGS:
        return this.onSettings(flags, id, payload);
      case PUSH_PROMISE:
        return this.connectionError(PROTOCOL_ERROR, 'PUSH_PROMISE received although push is disabled');
      case PING:
        return this.onPing(flags, id, payload);
      case GOAWAY:
        return this.onGoaway(id, payload);
      case WINDOW_UPDATE:
        return this.onWindowUpdate(id, payload);
      case CONTINUATION:
        return this.onContinuation(flags, id, payload);
      default:
        return; // unknown frame types are ignored (§4.1)
    }
  }

  /** Strips the padding of a PADDED frame; undefined (after a connection error) when malformed. */
  private unpad(flags: number, payload: Buffer): Buffer | undefined {
    if (!(flags & PADDED)) return payload;
    if (payload.length < 1 || payload[0]! >= payload.length) {
      this.connectionError(PROTOCOL_ERROR, 'bad padding');
      return undefined;
    }
    return payload.subarray(1, payload.length - payload[0]!);
  }

  private onData(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.connectionError(PROTOCOL_ERROR, 'DATA on stream 0');
    // Flow control counts the whole payload, padding included, whatever becomes of it (§6.9).
    this.connRecvWindow -= payload.length;
    if (this.connRecvWindow < 0) return this.connectionError(FLOW_CONTROL_ERROR, 'the daemon overran the connection window');
    this.connRecvUnacked += payload.length;
    if (this.connRecvUnacked >= CONNECTION_WINDOW / 2) {
      this.sendWindowUpdate(0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
    const data = this.unpad(flags, payload);
    if (!data) return;
    const s = this.streams.get(id);
    if (!s) {
      if (id >= this.nextId || id % 2 === 0) this.connectionError(PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      return; // a stream we reset or finished: drop
    }
    if (!s.headers) return this.reset(s, PROTOCOL_ERROR, { message: 'DATA before response headers', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
    s.recvWindow -= payload.length;
    if (s.recvWindow < 0) return this.reset(s, FLOW_CONTROL_ERROR, { message: 'the daemon overran the stream window', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
    const endStream = (flags & END_STREAM) !== 0;
    if (data.length > 0) s.onData?.(data);
    if (s.done) return; // the owner cancelled it from onData
    if (endStream) return this.endRemote(s);
    // Consumed (onData has run): hand the window back once half of it is used.
    s.recvUnacked += payload.length;
    this.ackReceived(s);
  }

  /** @internal Returns a stream's consumed window to the peer (not while its owner paused receiving). */
  ackReceived(s: H2Stream): void {
    if (s.receivePaused || s.recvUnacked < STREAM_WINDOW / 2) return;
    this.sendWindowUpdate(s.id, s.recvUnacked);
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    if (id === 0) return this.connectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
    let block = this.unpad(flags, payload);
    if (!block) return;
    if (flags & PRIORITY_FLAG) {
      if (block.length < 5) return this.connectionError(FRAME_SIZE_ERROR, 'HEADERS priority fields truncated');
      block = block.subarray(5);
    }
    const endStream = (flags & END_STREAM) !== 0;
    if (flags & END_HEADERS) return this.onHeaderBlock(id, endStream, block);
    this.continuation = { id, endStream, parts: [block], bytes: block.length };
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    const c = this.continuation;
    if (!c) return this.connectionError(PROTOCOL_ERROR, `unexpected CONTINUATION on stream ${id}`);
    c.parts.push(payload);
    c.bytes += payload.length;
    if (c.bytes > MAX_HEADER_BLOCK) return this.connectionError(ENHANCE_YOUR_CALM, 'header block too large');
    if (!(flags & END_HEADERS)) return;
    this.continuation = undefined;
    this.onHeaderBlock(c.id, c.endStream, Buffer.concat(c.parts, c.bytes));
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Buffer): void {
    let fields: HeaderField[];
    try {
      // Decoded even for a stream we dropped: the dynamic table must stay in step with the peer.
      fields = this.hpack.decode(block);
    } catch (err) {
      return this.connectionError(COMPRESSION_ERROR, `bad header block: ${(err as Error).message}`);
    }
    const s = this.streams.get(id);
    if (!s) {
      if (id >= this.nextId || id % 2 === 0) this.connectionError(PROTOCOL_ERROR, `HEADERS on idle stream ${id}`);
      return;
    }
    const headers = toHeaders(fields);
    if (!s.headers) {
      const status = headers[':status'] as unknown as number | undefined;
      if (status !== undefined && status >= 100 && status < 200) {
        if (endStream) this.reset(s, PROTOCOL_ERROR, { message: 'informational response ended the stream', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
        return; // 1xx: the real response follows
      }
      s.headers = headers;
      s.onResponse?.(headers);
      if (s.done) return;
    } else {
      if (!endStream) return this.reset(s, PROTOCOL_ERROR, { message: 'trailers without END_STREAM', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
      s.trailers = headers;
    }
    if (endStream) this.endRemote(s);
  }

  private onRstStream(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.connectionError(FRAME_SIZE_ERROR, 'RST_STREAM of bad length');
    if (id === 0) return this.connectionError(PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    const s = this.streams.get(id);
    if (!s) return;
    const code = payload.readUInt32BE(0);
    this.finish(s, code === NO_ERROR ? undefined : { message: `Stream closed with error code ${errorName(code)}`, code: 'ERR_HTTP2_STREAM_ERROR' }, true);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) return this.connectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & ACK) {
      if (payload.length !== 0) this.connectionError(FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0) return this.connectionError(FRAME_SIZE_ERROR, 'SETTINGS of bad length');
    this.gotPeerSettings = true;
    for (let off = 0; off < payload.length; off += 6) {
      const key = payload.readUInt16BE(off);
      const value = payload.readUInt32BE(off + 2);
      switch (key) {
        case SETTINGS_MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = value;
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) return this.connectionError(FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) return this.connectionError(FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 0xff_ffff) return this.connectionError(PROTOCOL_ERROR, 'bad SETTINGS_MAX_FRAME_SIZE');
          this.peerMaxFrame = value;
          break;
        // SETTINGS_HEADER_TABLE_SIZE limits the peer's decoder: our encoder never indexes, so any
        // size suits it. ENABLE_PUSH and MAX_HEADER_LIST_SIZE need nothing; unknown ones are ignored.
        default:
          break;
      }
    }
    this.sendFrame(SETTINGS, ACK, 0, Buffer.alloc(0));
    this.startWaiting();
    this.pumpAll();
  }

  private onPing(flags: number, id: number, payload: Buffer): void {
    if (payload.length !== 8) return this.connectionError(FRAME_SIZE_ERROR, 'PING of bad length');
    if (id !== 0) return this.connectionError(PROTOCOL_ERROR, 'PING on a stream');
    if (!(flags & ACK)) this.sendFrame(PING, ACK, 0, Buffer.from(payload));
  }

  private onGoaway(id: number, payload: Buffer): void {
    if (id !== 0) return this.connectionError(PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) return this.connectionError(FRAME_SIZE_ERROR, 'GOAWAY too short');
    const lastId = payload.readUInt32BE(0) & MAX_WINDOW;
    const code = payload.readUInt32BE(4);
    this.accepting = false;
    // Streams above lastId were never processed; the rest may still complete.
    const failure: StreamFailure = { message: `the daemon closed the connection (GOAWAY ${errorName(code)})`, code: 'ERR_HTTP2_GOAWAY_SESSION' };
    for (const s of [...this.streams.values()]) if (s.id > lastId) this.finish(s, failure, true);
    for (const s of this.waiting.splice(0)) this.finish(s, failure, true);
    this.maybeShutdown();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) return this.connectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE of bad length');
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (id === 0) {
      if (increment === 0) return this.connectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW) return this.connectionError(FLOW_CONTROL_ERROR, 'connection window overflow');
      this.pumpAll();
      return;
    }
    const s = this.streams.get(id);
    if (!s) return;
    if (increment === 0) return this.reset(s, PROTOCOL_ERROR, { message: 'WINDOW_UPDATE of 0', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) return this.reset(s, FLOW_CONTROL_ERROR, { message: 'stream window overflow', code: 'ERR_HTTP2_STREAM_ERROR' }, true);
    this.pumpStream(s);
  }

  // ---- stream and connection ends -----------------------------------------------------------

  /** The peer sent END_STREAM: the response is complete. */
  private endRemote(s: H2Stream): void {
    s.remoteEnded = true;
    // A response may complete before the request did (§8.1): stop sending; RST tells the peer.
    if (!s.localEnded) this.sendRst(s.id, NO_ERROR);
    this.finish(s, undefined, true);
  }

  private finish(s: H2Stream, failure: StreamFailure | undefined, notify: boolean): void {
    if (s.done) return;
    s.done = true;
    if (s.id !== 0) this.streams.delete(s.id);
    if (notify) s.onClose?.(failure);
    if (!this.closed) {
      this.startWaiting();
      this.maybeShutdown();
    }
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxConcurrent && !this.closed) this.start(this.waiting.shift()!);
  }

  /** Unrefs an idle connection (it must not keep the process alive) and ends a closing one. */
  private maybeShutdown(): void {
    if (this.streams.size > 0 || this.waiting.length > 0 || this.closed) return;
    this.socket.unref();
    if (this.accepting) return;
    this.closed = true;
    this.sendGoaway(NO_ERROR);
    this.flush();
    // Closed from an unref'd immediate: a process with nothing else to do exits without waiting for
    // it (the kernel closes the socket; destroying it first cost the CLI ~2 ms more), one that lives
    // on closes it a loop turn later.
    setImmediate(() => {
      if (this.tls) this.socket.end();
      else this.socket.destroy();
    }).unref();
  }

  /** A protocol violation by the peer: GOAWAY with `code`, then every stream fails. */
  private connectionError(code: number, message: string): void {
    if (this.closed) return;
    this.sendGoaway(code);
    this.flush();
    this.fail({ message: `HTTP/2 protocol error: ${message}`, code: `ERR_HTTP2_${ERROR_NAMES[code] ?? 'ERROR'}` }, true);
  }

  /** The transport is gone (or given up): every open or queued stream ends with `failure`. */
  private fail(failure: StreamFailure, graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    this.accepting = false;
    const victims = [...this.streams.values(), ...this.waiting];
    this.streams.clear();
    this.waiting.length = 0;
    for (const s of victims) this.finish(s, failure, true);
    // After a protocol error our GOAWAY is already written: end() lets it reach the peer.
    if (graceful && this.ready) this.socket.end();
    else this.socket.destroy();
    this.socket.unref();
  }
}

/** Header fields as Node's http2 presents them: `:status` a number, repeated names joined. */
function toHeaders(fields: HeaderField[]): IncomingHttpHeaders {
  const h: Record<string, string | string[] | number> = {};
  for (const [name, value] of fields) {
    if (name === ':status') {
      h[name] = Number(value);
      continue;
    }
    const prev = h[name];
    if (prev === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else h[name] = `${prev}, ${value}`;
  }
  return h as IncomingHttpHeaders;
}

/** What a finished call resolves with: the response headers (initial metadata) and trailers. */
export interface CallEnd {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
}

export interface CallOptions {
  metadata?: Metadata;
  /** Each response message as it arrives; an exception cancels the call and rejects `done` with it. */
  onMessage?: (message: Buffer) => void;
  /** The response headers (initial metadata), before any message. */
  onHeaders?: (headers: IncomingHttpHeaders) => void;
}

/**
 * A call whose requests are written over time (client-streaming or bidirectional): `write` each
 * request message, `end` to half-close; responses go to `onMessage`; `done` settles like the
 * other calls (trailers on OK; RpcError, ConnectError or the onMessage exception otherwise).
 */
export interface GrpcCall {
  /** Frames and queues one request message. False: wait for `drained()` before writing more. */
  write(message: Uint8Array): boolean;
  /** Resolves when written messages have mostly been sent (or the call is over). */
  drained(): Promise<void>;
  /** Half-close: no more request messages; the responses go on. */
  end(): void;
  /** Abandons the call (RST_STREAM CANCEL); `done` rejects with RpcError CANCELLED. */
  cancel(): void;
  /** Stops taking response data from the daemon (flow control) until `resume`: for a slow consumer. */
  pause(): void;
  resume(): void;
  /** Resolves with the response headers once the daemon answers (rejects as `done` if it never does). */
  readonly headers: Promise<IncomingHttpHeaders>;
  readonly done: Promise<CallEnd>;
}

/**
 * The request headers of a gRPC call to `ep`. On tcp hosts they also carry `tls_mode` ("1" with a
 * verified daemon and a client certificate) and `username` (the certificate's CN), as upstream's
 * client sends them: upstream's daemon reads them; ours takes the user from the verified certificate.
 */
export function requestFields(ep: Endpoint, path: string, metadata: Metadata = {}): HeaderField[] {
  const headers: Record<string, string> = {
    ':method': 'POST',
    ':scheme': ep.kind === 'tcp' && ep.tls ? 'https' : 'http',
    ':path': path,
    ':authority': ep.kind === 'unix' ? 'localhost' : hostPort(ep.host, ep.port),
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-accept-encoding': 'identity',
    'user-agent': 'isula-ts',
  };
  if (ep.kind === 'tcp') {
    headers.tls_mode = ep.tls?.verify && ep.tls.cert ? '1' : '0';
    headers.username = ep.tls?.clientName ?? '';
  }
  for (const [k, v] of Object.entries(metadata)) headers[k.toLowerCase()] = v;
  // Pseudo-headers first (§8.1.2.1), whatever the metadata overrode.
  const entries = Object.entries(headers);
  return [...entries.filter(([k]) => k.startsWith(':')), ...entries.filter(([k]) => !k.startsWith(':'))];
}

/**
 * gRPC over H2Session: unary, server-streaming, client-streaming and bidi calls, results and errors
 * (ConnectError when the daemon cannot be reached or never answered; RpcError for a non-OK status,
 * a non-200 HTTP status without gRPC status (UNKNOWN), or a connection lost mid-call (UNAVAILABLE)).
 */
export class GrpcConnection {
  private session: H2Session | undefined;

  constructor(private readonly endpoint: Endpoint) {}

  private open(): H2Session {
    if (this.session && this.session.accepting) return this.session;
    this.session = new H2Session(this.endpoint);
    return this.session;
  }

  private start(path: string, metadata: Metadata, body: Buffer | undefined): H2Stream {
    return this.open().request(requestFields(this.endpoint, path, metadata), body);
  }

  /** One request, one response. Rejects with ConnectError when the daemon cannot be reached. */
  async unary(path: string, request: Uint8Array, metadata: Metadata = {}): Promise<UnaryResult> {
    const messages: Buffer[] = [];
    const { headers, trailers } = await this.serverStream(path, request, (m) => messages.push(m), metadata);
    if (messages.length !== 1) throw new RpcError(GrpcStatus.INTERNAL, `expected one response message, got ${messages.length}`);
    return { message: messages[0]!, headers, trailers };
  }

  /**
   * One request, a stream of responses: `onMessage` sees each message as it arrives; resolves with
   * the trailers once the call ends with OK. An exception from `onMessage` cancels the call and
   * rejects with it.
   */
  serverStream(
    path: string,
    request: Uint8Array,
    onMessage: (message: Buffer) => void,
    metadata: Metadata = {},
    onHeaders?: (headers: IncomingHttpHeaders) => void,
  ): Promise<CallEnd> {
    return new Promise((resolve, reject) => {
      let stream: H2Stream;
      try {
        stream = this.start(path, metadata, frame(request));
      } catch (err) {
        reject(new ConnectError((err as Error).message));
        return;
      }
      if (onHeaders) {
        stream.onResponse = (headers) => {
          try {
            onHeaders(headers);
          } catch (err) {
            stream.cancel();
            reject(err);
          }
        };
      }
      const decoder = new FrameDecoder();
      stream.onData = (chunk) => {
        try {
          for (const m of decoder.push(chunk)) onMessage(m);
        } catch (err) {
          stream.cancel();
          reject(err);
        }
      };
      stream.onClose = (failure) => {
        const end = outcome(stream, failure);
        if (end) reject(end);
        else resolve({ headers: stream.headers ?? {}, trailers: stream.trailers ?? {} });
      };
    });
  }

  /**
   * Opens a call whose request messages are written over time (client-streaming or bidi). The
   * request headers go out at once; see GrpcCall. Throws nothing: a daemon that cannot be reached
   * rejects `done` (and `headers`) with ConnectError.
   */
  stream(path: string, options: CallOptions = {}): GrpcCall {
    let resolveDone!: (end: CallEnd) => void;
    let rejectDone!: (err: unknown) => void;
    const done = new Promise<CallEnd>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    let resolveHeaders!: (h: IncomingHttpHeaders) => void;
    let rejectHeaders!: (err: unknown) => void;
    const headers = new Promise<IncomingHttpHeaders>((res, rej) => {
      resolveHeaders = res;
      rejectHeaders = rej;
    });
    headers.catch(() => undefined); // its failure is `done`'s, which the caller awaits
    let settled = false;
    let drainWaiters: Array<() => void> = [];
    const wakeWriters = () => {
      const w = drainWaiters;
      drainWaiters = [];
      for (const f of w) f();
    };
    const settle = (err: unknown, end?: CallEnd) => {
      if (settled) return;
      settled = true;
      wakeWriters();
      if (err) {
        rejectHeaders(err);
        rejectDone(err);
      } else {
        resolveHeaders(end!.headers);
        resolveDone(end!);
      }
    };

    let stream: H2Stream | undefined;
    try {
      stream = this.start(path, options.metadata ?? {}, undefined);
    } catch (err) {
      settle(new ConnectError((err as Error).message));
    }
    if (stream) {
      const s = stream;
      s.onResponse = (h) => {
        resolveHeaders(h);
        try {
          options.onHeaders?.(h);
        } catch (err) {
          s.cancel();
          settle(err);
        }
      };
      const decoder = new FrameDecoder();
      s.onData = (chunk) => {
        try {
          for (const m of decoder.push(chunk)) options.onMessage?.(m);
        } catch (err) {
          s.cancel();
          settle(err);
        }
      };
      s.onDrain = wakeWriters;
      s.onClose = (failure) => {
        const end = outcome(s, failure);
        settle(end, end ? undefined : { headers: s.headers ?? {}, trailers: s.trailers ?? {} });
      };
    }

    return {
      write: (message) => {
        if (settled || !stream) return true;
        return stream.write(frame(message));
      },
      drained: () =>
        settled || !stream || !stream.needDrain ? Promise.resolve() : new Promise<void>((resolve) => drainWaiters.push(resolve)),
      end: () => {
        if (!settled) stream?.end();
      },
      cancel: () => {
        if (settled || !stream) return;
        stream.cancel();
        settle(new RpcError(GrpcStatus.CANCELLED, 'Cancelled on client'));
      },
      pause: () => stream?.pauseReceive(),
      resume: () => stream?.resumeReceive(),
      headers,
      done,
    };
  }

  /**
   * A client-streaming (or bidi) call fed from `messages`: each is written with backpressure, then
   * the request is half-closed; resolves like `serverStream` once the call ends. Writing stops
   * early when the call ends first (the daemon answered or failed), and `done`'s outcome is kept.
   */
  async clientStream(path: string, messages: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: CallOptions = {}): Promise<CallEnd> {
    const call = this.stream(path, options);
    let over = false;
    const watched = call.done.finally(() => (over = true));
    watched.catch(() => undefined);
    try {
      for await (const m of messages) {
        if (over) break;
        if (!call.write(m)) await call.drained();
      }
    } catch (err) {
      call.cancel();
      await call.done.catch(() => undefined);
      throw err;
    }
    call.end();
    return call.done;
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/** The error a finished call ends with, or undefined for gRPC OK. */
export function outcome(stream: H2Stream, failure: StreamFailure | undefined): Error | undefined {
  const headers = stream.headers;
  if (failure) return headers ? new RpcError(GrpcStatus.UNAVAILABLE, failure.message) : new ConnectError(failure.message, failure.code, failure.tlsReason);
  if (!headers) return new ConnectError('connection closed before the daemon answered');
  const status = statusOf(stream.trailers ?? {}) ?? statusOf(headers);
  const httpStatus = Number(headers[':status']);
  if (httpStatus !== 200 && !status) return new RpcError(GrpcStatus.UNKNOWN, `unexpected HTTP status ${httpStatus}`);
  if (!status) return new RpcError(GrpcStatus.INTERNAL, 'the daemon closed the call without a gRPC status');
  if (status.code !== GrpcStatus.OK) return new RpcError(status.code, status.message);
  return undefined;
}
