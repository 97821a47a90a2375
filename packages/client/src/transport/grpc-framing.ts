import type { IncomingHttpHeaders } from 'node:http2';
import { RpcError, GrpcStatus } from '../errors';

/**
 * gRPC over HTTP/2, the transport-independent part: length-prefixed message framing, metadata and
 * status. Shared by both transports (grpc-http2.ts on node:http2, h2-lite.ts on node:net); it loads
 * nothing but the error classes (the node:http2 import is a type, erased at compile time).
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

  /** Bytes the message at the head needs in all, once its header is known (no concat before). */
  private need = GRPC_HEADER_BYTES;

  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.pendingBytes < Math.max(GRPC_HEADER_BYTES, this.need)) break;
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const compressed = buf.readUInt8(0);
      const length = buf.readUInt32BE(1);
      if (compressed !== 0) throw new RpcError(GrpcStatus.INTERNAL, 'compressed gRPC messages are not supported');
      if (buf.length < GRPC_HEADER_BYTES + length) {
        this.pending = [buf];
        this.need = GRPC_HEADER_BYTES + length;
        break;
      }
      out.push(buf.subarray(GRPC_HEADER_BYTES, GRPC_HEADER_BYTES + length));
      const rest = buf.subarray(GRPC_HEADER_BYTES + length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.need = GRPC_HEADER_BYTES;
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

export function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
