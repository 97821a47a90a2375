import { connect as http2Connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ConnectError, RpcError, GrpcStatus } from '../errors';
import type { Endpoint } from '../endpoint';

/**
 * A minimal gRPC client over Node's built-in HTTP/2: framing, metadata and status, nothing else.
 * It keeps `isula` off @grpc/grpc-js, whose load alone costs about as much as starting Node
 * (~38 ms here), while speaking the same wire protocol to isulad and to upstream's daemon.
 */
export type Metadata = Record<string, string>;

export interface UnaryResult {
  message: Buffer;
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
}

const GRPC_HEADER_BYTES = 5;

export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(GRPC_HEADER_BYTES + payload.length);
  out.writeUInt8(0, 0); // not compressed
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, GRPC_HEADER_BYTES);
  return out;
}

/** Splits a byte stream into gRPC length-prefixed messages as chunks arrive. */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.pendingBytes < GRPC_HEADER_BYTES) break;
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const compressed = buf.readUInt8(0);
      const length = buf.readUInt32BE(1);
      if (compressed !== 0) throw new RpcError(GrpcStatus.INTERNAL, 'compressed gRPC messages are not supported');
      if (buf.length < GRPC_HEADER_BYTES + length) {
        this.pending = [buf];
        break;
      }
      out.push(buf.subarray(GRPC_HEADER_BYTES, GRPC_HEADER_BYTES + length));
      const rest = buf.subarray(GRPC_HEADER_BYTES + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return out;
  }

  get leftover(): number {
    return this.pendingBytes;
  }
}

function decodeGrpcMessage(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(',') : value;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The gRPC status carried by trailers (or by headers in a trailers-only answer). */
export function statusOf(h: IncomingHttpHeaders): { code: number; message: string } | undefined {
  const raw = h['grpc-status'];
  if (raw === undefined) return undefined;
  return { code: Number(Array.isArray(raw) ? raw[0] : raw), message: decodeGrpcMessage(h['grpc-message']) };
}

export class GrpcConnection {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly endpoint: Endpoint) {}

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const ep = this.endpoint;
    let session: ClientHttp2Session;
    if (ep.kind === 'unix') {
      session = http2Connect('http://localhost', { createConnection: () => netConnect(ep.path) });
    } else if (ep.tls) {
      const opts: SecureClientSessionOptions = {
        ca: ep.tls.ca,
        cert: ep.tls.cert,
        key: ep.tls.key,
        rejectUnauthorized: ep.tls.verify,
        servername: ep.tls.serverName ?? (isIpLiteral(ep.host) ? '' : ep.host),
        ALPNProtocols: ['h2'],
      };
      session = http2Connect(`https://${hostPort(ep.host, ep.port)}`, opts);
    } else {
      session = http2Connect(`http://${hostPort(ep.host, ep.port)}`);
    }
    // A failed connect surfaces on each stream; this keeps the session error from being unhandled.
    session.on('error', () => undefined);
    this.session = session;
    return session;
  }

  private start(path: string, metadata: Metadata): ClientHttp2Stream {
    const headers: Record<string, string> = {
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'user-agent': 'isula-ts',
    };
    for (const [k, v] of Object.entries(metadata)) headers[k.toLowerCase()] = v;
    return this.open().request(headers);
  }

  /** One request, one response. Rejects with ConnectError when the daemon cannot be reached. */
  unary(path: string, request: Uint8Array, metadata: Metadata = {}): Promise<UnaryResult> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.start(path, metadata);
      } catch (err) {
        reject(new ConnectError((err as Error).message));
        return;
      }
      const decoder = new FrameDecoder();
      const messages: Buffer[] = [];
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      let answered = false;
      stream.on('response', (h) => {
        answered = true;
        headers = h;
      });
      stream.on('data', (chunk: Buffer) => {
        try {
          messages.push(...decoder.push(chunk));
        } catch (err) {
          stream.close(h2.NGHTTP2_CANCEL);
          reject(err);
        }
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('error', (err: NodeJS.ErrnoException) => {
        reject(answered ? new RpcError(GrpcStatus.UNAVAILABLE, err.message) : new ConnectError(err.message, err.code));
      });
      stream.on('close', () => {
        if (!answered) {
          reject(new ConnectError('connection closed before the daemon answered'));
          return;
        }
        const httpStatus = Number(headers[h2.HTTP2_HEADER_STATUS]);
        const status = statusOf(trailers) ?? statusOf(headers);
        if (httpStatus !== 200 && !status) {
          reject(new RpcError(GrpcStatus.UNKNOWN, `unexpected HTTP status ${httpStatus}`));
          return;
        }
        if (!status) {
          reject(new RpcError(GrpcStatus.INTERNAL, 'the daemon closed the call without a gRPC status'));
          return;
        }
        if (status.code !== GrpcStatus.OK) {
          reject(new RpcError(status.code, status.message));
          return;
        }
        if (messages.length !== 1) {
          reject(new RpcError(GrpcStatus.INTERNAL, `expected one response message, got ${messages.length}`));
          return;
        }
        resolve({ message: messages[0]!, headers, trailers });
      });
      stream.end(frame(request));
    });
  }

  /**
   * One request, a stream of responses: `onMessage` sees each message as it arrives (backpressure
   * is the stream's own); resolves with the trailers once the call ends with OK.
   */
  serverStream(path: string, request: Uint8Array, onMessage: (message: Buffer) => void, metadata: Metadata = {}): Promise<{ trailers: IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.start(path, metadata);
      } catch (err) {
        reject(new ConnectError((err as Error).message));
        return;
      }
      const decoder = new FrameDecoder();
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      let answered = false;
      let failed = false;
      stream.on('response', (h) => {
        answered = true;
        headers = h;
      });
      stream.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          for (const m of decoder.push(chunk)) onMessage(m);
        } catch (err) {
          failed = true;
          stream.close(h2.NGHTTP2_CANCEL);
          reject(err);
        }
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('error', (err: NodeJS.ErrnoException) => {
        reject(answered ? new RpcError(GrpcStatus.UNAVAILABLE, err.message) : new ConnectError(err.message, err.code));
      });
      stream.on('close', () => {
        if (failed) return;
        if (!answered) {
          reject(new ConnectError('connection closed before the daemon answered'));
          return;
        }
        const status = statusOf(trailers) ?? statusOf(headers);
        if (!status) {
          reject(new RpcError(GrpcStatus.INTERNAL, 'the daemon closed the call without a gRPC status'));
          return;
        }
        if (status.code !== GrpcStatus.OK) {
          reject(new RpcError(status.code, status.message));
          return;
        }
        resolve({ trailers });
      });
      stream.end(frame(request));
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
