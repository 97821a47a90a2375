/** WWW-Authenticate parsing and the bearer token cache. */

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, … */
  scheme: string;
  params: Record<string, string>;
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Parses one or more WWW-Authenticate values (RFC 7235: `Scheme k=v, k="quoted, with commas"`,
 * several challenges possibly in one value).
 */
export function parseWwwAuthenticate(values: string | string[] | undefined): Challenge[] {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const out: Challenge[] = [];
  for (const value of list) {
    let i = 0;
    const s = value;
    let current: Challenge | undefined;
    const skipWs = () => {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
    };
    const token = () => {
      const start = i;
      while (i < s.length && !/[\s,=]/.test(s[i]!)) i++;
      return s.slice(start, i);
    };
    while (i < s.length) {
      skipWs();
      if (s[i] === ',') {
        i++;
        continue;
      }
      const start = i;
      const t = token();
      if (t.length === 0) {
        i++;
        continue;
      }
      skipWs();
      if (s[i] === '=' && current !== undefined && s[i + 1] !== '=') {
        i++;
        skipWs();
        let v = '';
        if (s[i] === '"') {
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++;
            v += s[i];
            i++;
          }
          i++; // closing quote
        } else {
          const vs = i;
          while (i < s.length && s[i] !== ',') i++;
          v = s.slice(vs, i).trim();
        }
        current.params[t.toLowerCase()] = v;
      } else if (s[i] === '=') {
        // token68 or stray parameter without a scheme: skip to the next comma
        i = start;
        while (i < s.length && s[i] !== ',') i++;
      } else {
        current = { scheme: t.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Minimum lifetime of a token when the server gives less or none (the distribution spec's 60 s). */
export const MIN_TOKEN_SECONDS = 60;
/** Tokens are renewed this long before they expire. */
const EXPIRY_MARGIN_MS = 5_000;

export interface TokenResponse {
  token: string;
  expiresInSeconds: number;
}

/** Parses a token endpoint's JSON (`token` or `access_token`, `expires_in`). */
export function parseTokenResponse(body: unknown): TokenResponse | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const o = body as Record<string, unknown>;
  const token = typeof o.token === 'string' && o.token.length > 0 ? o.token : o.access_token;
  if (typeof token !== 'string' || token.length === 0) return undefined;
  const exp = typeof o.expires_in === 'number' && o.expires_in > 0 ? o.expires_in : 0;
  return { token, expiresInSeconds: Math.max(exp, MIN_TOKEN_SECONDS) };
}

/** Bearer tokens per key (registry, realm, service, scope, user) until they expire; one fetch at a time per key. */
export class TokenCache {
  private readonly entries = new Map<string, { token: string; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string, fetch: () => Promise<TokenResponse>): Promise<string> {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAt > this.now()) return hit.token;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const p = (async () => {
      try {
        const r = await fetch();
        this.entries.set(key, { token: r.token, expiresAt: this.now() + r.expiresInSeconds * 1000 - EXPIRY_MARGIN_MS });
        return r.token;
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  invalidate(key: string): void {
    this.entries.delete(key);
  }

  /** Number of live entries (for tests). */
  get size(): number {
    return this.entries.size;
  }
}
