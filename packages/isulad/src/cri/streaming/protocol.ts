/**
 * The Kubernetes channel protocols over WebSocket (remotecommand and port-forward), as kubelet's
 * CRI streaming library and the API server speak them: each message is one channel byte and the
 * channel's data (binary protocols) or the channel as an ASCII digit and the data in base64 (the
 * `base64.` protocols). `v5.channel.k8s.io` adds the CLOSE signal `[255, <channel>]`.
 */

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
/** v5: a client message `[255, <channel>]` half-closes that channel. */
export const STREAM_CLOSE = 255;

export const V5_CHANNEL = 'v5.channel.k8s.io';
export const V4_CHANNEL = 'v4.channel.k8s.io';
export const V4_BASE64_CHANNEL = 'v4.base64.channel.k8s.io';
export const V1_CHANNEL = 'channel.k8s.io';
export const V1_BASE64_CHANNEL = 'base64.channel.k8s.io';

export interface ProtocolInfo {
  /** The name answered in Sec-WebSocket-Protocol; '' when the client asked for none. */
  name: string;
  base64: boolean;
  /** Errors on channel 3 as a JSON metav1.Status (v4, v5) rather than plain text (v1). */
  statusJson: boolean;
  /** Understands the `[255, channel]` close signal. */
  streamClose: boolean;
}

/** Exec and attach, best first: at equal version binary before base64. */
export const REMOTE_COMMAND_PROTOCOLS: readonly ProtocolInfo[] = [
  { name: V5_CHANNEL, base64: false, statusJson: true, streamClose: true },
  { name: V4_CHANNEL, base64: false, statusJson: true, streamClose: false },
  { name: V4_BASE64_CHANNEL, base64: true, statusJson: true, streamClose: false },
  { name: V1_CHANNEL, base64: false, statusJson: false, streamClose: false },
  { name: V1_BASE64_CHANNEL, base64: true, statusJson: false, streamClose: false },
];

/** Port forwarding over WebSocket (kubelet offers the v4 names and none). */
export const PORT_FORWARD_PROTOCOLS: readonly ProtocolInfo[] = [
  { name: V4_CHANNEL, base64: false, statusJson: false, streamClose: false },
  { name: V4_BASE64_CHANNEL, base64: true, statusJson: false, streamClose: false },
];

const NO_PROTOCOL: ProtocolInfo = { name: '', base64: false, statusJson: false, streamClose: false };

/** The `Sec-WebSocket-Protocol` offers, in the client's order. */
export function parseProtocolHeader(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/**
 * The protocol to answer: the best one we support among the offers; with no offer at all the
 * binary channel protocol without a name (as kubelet). `undefined`: offers, none supported.
 */
export function negotiate(offers: readonly string[], supported: readonly ProtocolInfo[]): ProtocolInfo | undefined {
  if (offers.length === 0) return NO_PROTOCOL;
  return supported.find((p) => offers.includes(p.name));
}

/** One outgoing message: binary `[channel, ...data]` or text `'<digit>' + base64(data)`. */
export function encodeFrame(channel: number, data: Uint8Array, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const out = Buffer.allocUnsafe(data.byteLength + 1);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

/** One incoming message as channel and data; `undefined` for an empty or undecodable message. */
export function decodeFrame(msg: Buffer, base64: boolean): { channel: number; data: Buffer } | undefined {
  if (msg.length === 0) return undefined;
  if (!base64) return { channel: msg[0]!, data: msg.subarray(1) };
  const channel = msg[0]! - 48;
  if (channel < 0) return undefined;
  const text = msg.subarray(1).toString('latin1').replace(/[\r\n]/g, ''); // Go's decoder skips line breaks
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return { channel, data: Buffer.from(text, 'base64') };
}

/** A metav1.Status as the API machinery serializes it (field order and omitempty kept). */
export interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message?: string }[] };
  code?: number;
}

export function successStatus(): Status {
  return { metadata: {}, status: 'Success' };
}

/** Go's `%v` of a []string. */
function goStringSlice(cmd: readonly string[]): string {
  return `[${cmd.join(' ')}]`;
}

/** What kubelet sends when the command exited non-zero (with the CRI exec error text of containerd and CRI-O). */
export function nonZeroExitStatus(cmd: readonly string[], exitCode: number): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command ${goStringSlice(cmd)}, exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** apierrors.NewInternalError(err). */
export function internalErrorStatus(message: string): Status {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/**
 * The bytes for channel 3, or `undefined` when nothing is sent: v4/v5 send the JSON status; v1
 * sends only failures, as the status message.
 */
export function statusPayload(status: Status, json: boolean): Buffer | undefined {
  if (json) return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return undefined;
  return Buffer.from(status.message ?? '');
}

export interface TerminalSize {
  width: number;
  height: number;
}

const MAX_RESIZE_BUFFER = 4096;

/**
 * The resize channel's bytes as a stream of JSON objects `{"Width":W,"Height":H}` (Go decodes the
 * field names case-insensitively; message boundaries carry no meaning, as with kubelet's decoder).
 */
export class ResizeDecoder {
  private buf = '';

  push(data: Buffer): TerminalSize[] {
    this.buf += data.toString('utf8');
    const out: TerminalSize[] = [];
    for (;;) {
      const start = this.buf.search(/\S/);
      if (start < 0) {
        this.buf = '';
        break;
      }
      const end = objectEnd(this.buf, start);
      if (end < 0) {
        this.buf = this.buf.slice(start);
        // A peer that never completes an object must not grow the buffer.
        if (this.buf.length > MAX_RESIZE_BUFFER) this.buf = '';
        break;
      }
      const text = this.buf.slice(start, end);
      this.buf = this.buf.slice(end);
      const size = parseSize(text);
      if (size) out.push(size);
    }
    return out;
  }
}

/** The index after the JSON value starting at `start` when it is a complete object; -1 while incomplete. */
function objectEnd(s: string, start: number): number {
  if (s[start] !== '{') {
    // Not an object: skip to the next one.
    const next = s.indexOf('{', start + 1);
    return next < 0 ? s.length : next;
  }
  let depth = 0;
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

function parseSize(text: string): TerminalSize | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  let width: unknown;
  let height: unknown;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const key = k.toLowerCase();
    if (key === 'width') width = val;
    else if (key === 'height') height = val;
  }
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (!ok(width) || !ok(height)) return undefined;
  return { width, height };
}

/**
 * The ports of a port-forward URL: `port` (kubelet's query parameter; `ports` is accepted too),
 * repeated or comma-separated. Throws kubelet's texts on bad input.
 */
export function parsePortQuery(params: URLSearchParams): number[] {
  const values = [...params.getAll('port'), ...params.getAll('ports')];
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') throw new Error('query parameter "port" cannot be empty');
    for (const p of value.split(',')) {
      const n = /^[0-9]+$/.test(p) ? Number(p) : NaN;
      if (!Number.isInteger(n) || n > 0xffff) throw new Error(`unable to parse "${value}" as a port`);
      if (n < 1) throw new Error(`port "${value}" must be > 0`);
      ports.push(n);
    }
  }
  return ports;
}

/** The first frame of each port-forward channel: the port, 16-bit little-endian. */
export function portHeader(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port, 0);
  return b;
}
