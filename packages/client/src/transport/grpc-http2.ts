import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, SecureClientSessionOptions } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ConnectError, RpcError, GrpcStatus } from '../errors';
import { frame, FrameDecoder, statusOf, hostPort, isIpLiteral, type Metadata, type UnaryResult } from './grpc-framing';
import type { Endpoint } from '../endpoint';

export { frame, FrameDecoder, statusOf, type Metadata, type UnaryResult } from './grpc-framing';

/** RST_STREAM code CANCEL (RFC 7540 §7), what `constants.NGHTTP2_CANCEL` holds. */
const NGHTTP2_CANCEL = 8;

/** node:http2, required on first connect (see below). */
function http2(): typeof import('node:http2') {
  return require('node:http2') as typeof import('node:http2');
}

/**
 * A minimal gRPC client over Node's built-in HTTP/2: framing, metadata and status, nothing else.
 * It keeps `isula` off @grpc/grpc-js, whose load alone costs about as much as starting Node
 * (~38 ms here), while speaking the same wire protocol to isulad and to upstream's daemon.
 *
 * The CLI now uses h2-lite.ts (a small HTTP/2 client on node:net); this one stays as the fallback.
 * node:http2 is required on first connect, not at load: its load drags in ~76 built-ins (~15 ms).
 */
export class GrpcConnection {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly endpoint: Endpoint) {}

  private open(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const ep = this.endpoint;
    let session: ClientHttp2Session;
    if (ep.kind === 'unix') {
      session = http2().connect('http://localhost', { createConnection: () => netConnect(ep.path) });
    } else if (ep.tls) {
      const opts: SecureClientSessionOptions = {
        ca: ep.tls.ca,
        cert: ep.tls.cert,
        key: ep.tls.key,
        rejectUnauthorized: ep.tls.verify,
        servername: ep.tls.serverName ?? (isIpLiteral(ep.host) ? '' : ep.host),
        ALPNProtocols: ['h2'],
      };
      session = http2().connect(`https://${hostPort(ep.host, ep.port)}`, opts);
    } else {
      session = http2().connect(`http://${hostPort(ep.host, ep.port)}`);
    }
    // A failed connect surfaces on each stream; this keeps the session error from being unhandled.
    session.on('error', () => undefined);
    this.session = session;
    return session;
  }

  private start(path: string, metadata: Metadata): ClientHttp2Stream {
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
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
          stream.close(NGHTTP2_CANCEL);
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
        const httpStatus = Number(headers[':status']);
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
          stream.close(NGHTTP2_CANCEL);
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
