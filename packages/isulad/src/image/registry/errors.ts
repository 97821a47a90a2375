/** Errors of the registry client: one clear line, plus machine-readable details. */

export interface RegistryErrorDetails {
  /** Registry error code (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`), Node's (`ECONNREFUSED`,
   * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`) or the client's own (`DIGEST_MISMATCH`, `SCHEMA1`). */
  code?: string;
  /** HTTP status when the registry answered. */
  status?: number;
  /** Registry host concerned. */
  registry?: string;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly code?: string;
  readonly status?: number;
  readonly registry?: string;

  constructor(message: string, details: RegistryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RegistryError';
    this.code = details.code;
    this.status = details.status;
    this.registry = details.registry;
  }
}

/** An entry of distribution's error body `{"errors":[{code,message,detail}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
}

/** distribution's `errcode.Error.Error()`: `manifest unknown: manifest unknown`. */
export function formatErrorEntry(e: RegistryErrorEntry): string {
  const code = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message !== undefined && e.message.length > 0 ? `${code}: ${e.message}` : code;
}

/**
 * The registry's reason from an error response: its JSON `errors` list, a token server's
 * `details`/`error` fields, or else the status and the start of the body on one line.
 */
export function describeErrorBody(
  status: number,
  body: Buffer | undefined,
): { message: string; code?: string } {
  const text = body === undefined ? '' : body.toString('utf8');
  if (text.length > 0) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') {
        const o = parsed as Record<string, unknown>;
        if (Array.isArray(o.errors) && o.errors.length > 0) {
          const entries: RegistryErrorEntry[] = [];
          for (const e of o.errors) {
            if (e !== null && typeof e === 'object' && typeof (e as RegistryErrorEntry).code === 'string') {
              const m = (e as { message?: unknown }).message;
              entries.push({ code: (e as RegistryErrorEntry).code, message: typeof m === 'string' ? m : undefined });
            }
          }
          if (entries.length > 0) {
            return { message: entries.map(formatErrorEntry).join('; '), code: entries[0]!.code };
          }
        }
        for (const key of ['details', 'error_description', 'error', 'message']) {
          const v = o[key];
          if (typeof v === 'string' && v.length > 0) {
            return { message: status === 401 ? `unauthorized: ${v}` : v, code: status === 401 ? 'UNAUTHORIZED' : undefined };
          }
        }
      }
    } catch {
      /* not JSON */
    }
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const fallback = STATUS_TEXT[status] ?? `unexpected status ${status}`;
  return {
    message: snippet.length > 0 ? `${fallback}: ${snippet}` : fallback,
    code: status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : undefined,
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized: authentication required',
  403: 'denied: requested access to the resource is denied',
  404: 'not found',
  429: 'toomanyrequests: too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

const CERT_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/**
 * OpenSSL's `80EC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…:350:`
 * → `wrong version number`; anything else is only put on one line.
 */
function tidyOpenSslMessage(message: string): string {
  const m = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(message.trim());
  const text = m !== null ? m[1]! : message;
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * One line for a failed connection/request: `Get "https://h/v2/": x509: <node message> (CODE)`,
 * `Get "http://h/v2/": connect ECONNREFUSED 127.0.0.1:5000`.
 */
export function networkError(method: string, url: string, err: unknown, registry: string, hint?: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  // undici wraps some socket errors; the cause carries the useful code.
  const code = e?.code && e.code !== 'UND_ERR_SOCKET' ? e.code : (e?.cause?.code ?? e?.code);
  let msg = tidyOpenSslMessage(e?.message ?? String(err));
  if (e?.cause?.message && e.cause.message !== msg && /other side closed|socket/i.test(msg)) {
    msg = `${msg}: ${e.cause.message}`;
  }
  let text: string;
  if (code !== undefined && CERT_ERROR_CODES.has(code)) {
    text = `x509: ${msg} (${code})`;
  } else if (code !== undefined && /SSL|TLS|EPROTO/i.test(code)) {
    text = `tls: ${msg}${msg.includes(code) ? '' : ` (${code})`}`;
  } else {
    text = code !== undefined && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  return new RegistryError(`${verb} ${JSON.stringify(url)}: ${text}${hint ? `; ${hint}` : ''}`, {
    code,
    registry,
    cause: err,
  });
}
