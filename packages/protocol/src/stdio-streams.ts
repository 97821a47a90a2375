/*
 * Wire rules shared by the client and the daemon for the stdio streams of tcp hosts (RemoteStart,
 * RemoteExec, Attach): the RemoteExec request carried as JSON in the `isulad-remote-exec` header
 * (upstream's `container_exec_request` keys), the trailing `cc`/`errmsg`/`exit_code` metadata, and
 * the detach keys the daemon also watches for on a tty stream.
 */

/** The RemoteExec request, as upstream's client writes it into `isulad-remote-exec`. */
export interface RemoteExecRequest {
  container_id: string;
  tty: boolean;
  open_stdin: boolean;
  attach_stdin: boolean;
  attach_stdout: boolean;
  attach_stderr: boolean;
  timeout: number;
  argv: string[];
  env: string[];
  user: string;
  workdir: string;
  suffix: string;
}

/**
 * The JSON of a RemoteExec request; empty strings, false flags and empty lists are left out like
 * upstream's generator does. Non-ASCII characters are \u-escaped: a header value is ASCII.
 */
export function encodeRemoteExec(r: Partial<RemoteExecRequest>): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === undefined || v === '' || v === false || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return asciiJson(JSON.stringify(out));
}

function asciiJson(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses `isulad-remote-exec`; throws with the reason (the daemon prefixes upstream's text). */
export function decodeRemoteExec(json: string): RemoteExecRequest {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new Error((err as Error).message);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    const x = o[k];
    if (x === undefined || x === null) return '';
    if (typeof x !== 'string') throw new Error(`${k}: expected a string`);
    return x;
  };
  const bool = (k: string): boolean => {
    const x = o[k];
    if (x === undefined || x === null) return false;
    if (typeof x !== 'boolean') throw new Error(`${k}: expected a boolean`);
    return x;
  };
  const list = (k: string): string[] => {
    const x = o[k];
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x) || x.some((e) => typeof e !== 'string')) throw new Error(`${k}: expected an array of strings`);
    return x as string[];
  };
  const timeout = o.timeout ?? 0;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout)) throw new Error('timeout: expected an integer');
  return {
    container_id: str('container_id'),
    tty: bool('tty'),
    open_stdin: bool('open_stdin'),
    attach_stdin: bool('attach_stdin'),
    attach_stdout: bool('attach_stdout'),
    attach_stderr: bool('attach_stderr'),
    timeout,
    argv: list('argv'),
    env: list('env'),
    user: str('user'),
    workdir: str('workdir'),
    suffix: str('suffix'),
  };
}

/**
 * Metadata values must be printable ASCII: the error message travels JSON-escaped (without the
 * quotes), as upstream marshals it; non-ASCII characters become \uXXXX.
 */
export function escapeMetadataText(s: string): string {
  return asciiJson(JSON.stringify(s).slice(1, -1));
}

/** The inverse of {@link escapeMetadataText}; text that is not a valid escape comes back as it is. */
export function unescapeMetadataText(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

/** Trailing metadata of a stdio stream: `cc`, `errmsg` and (RemoteExec) `exit_code`. */
export function streamTrailers(cc: number, errmsg: string, exitCode?: number): Record<string, string> {
  const t: Record<string, string> = { cc: String(cc), errmsg: escapeMetadataText(errmsg) };
  if (exitCode !== undefined) t.exit_code = String(exitCode);
  return t;
}

/** Reads `cc`, `errmsg`, `exit_code` from trailers (absent cc = success, as upstream's client assumes). */
export function readStreamTrailers(t: Record<string, string | string[] | undefined>): { cc: number; errmsg: string; exitCode: number | undefined } {
  const one = (k: string) => {
    const v = t[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const cc = Number.parseInt(one('cc') ?? '0', 10);
  const code = one('exit_code');
  return { cc: Number.isNaN(cc) ? 0 : cc, errmsg: unescapeMetadataText(one('errmsg') ?? ''), exitCode: code === undefined ? undefined : Number.parseInt(code, 10) };
}

/** ctrl-p ctrl-q, upstream's (and Docker's) default detach keys. */
export const DETACH_KEYS = Buffer.from([0x10, 0x11]);

/**
 * Text the daemon sends on stdout when it saw the detach keys on a tty stream; a client that left
 * the keys to the daemon (upstream's) recognises it and leaves.
 */
export const DETACH_NOTICE = 'read escape sequence';

/**
 * Spots the detach sequence in a byte stream. `push` returns the bytes to forward (a prefix of the
 * sequence is held back until the next byte shows whether it is one) and whether the sequence was
 * completed (bytes after it are dropped, as the client is leaving).
 */
export class DetachKeyDetector {
  private matched = 0;

  constructor(private readonly keys: Buffer = DETACH_KEYS) {}

  push(chunk: Uint8Array): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.matched = 0;
          return { forward: Buffer.from(out), detach: true };
        }
        continue;
      }
      // Not the sequence after all: the held-back prefix goes out, then this byte is looked at afresh.
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (byte === this.keys[0]) this.matched = 1;
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
