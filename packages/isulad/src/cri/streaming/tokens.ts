import { randomBytes } from 'node:crypto';

/** kubelet's streaming server: a token lives one minute. */
export const DEFAULT_TOKEN_TTL_MS = 60_000;
/** kubelet's streaming server: at most 1000 requests wait for their connection. */
export const DEFAULT_MAX_IN_FLIGHT = 1000;

export class CacheFullError extends Error {}

/**
 * One-time tokens for streaming requests. A token is 16 random bytes in base64url (kubelet uses 8
 * characters; a longer one costs nothing); it is consumed by its first use and expires after
 * `ttlMs`. Entries are kept in insertion order, which with one TTL is also expiry order, so expired
 * entries are dropped from the front on every insert: the cache never holds more than `maxInFlight`.
 */
export class RequestCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs: number = DEFAULT_TOKEN_TTL_MS,
    private readonly maxInFlight: number = DEFAULT_MAX_IN_FLIGHT,
    private readonly now: () => number = () => performance.now(),
  ) {}

  insert(value: T): string {
    this.collect();
    if (this.entries.size >= this.maxInFlight) throw new CacheFullError('maximum number of in-flight requests exceeded');
    let token: string;
    do token = randomBytes(16).toString('base64url');
    while (this.entries.has(token));
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The entry behind a live token, without consuming it. */
  peek(token: string): T | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (this.now() >= e.expires) {
      this.entries.delete(token);
      return undefined;
    }
    return e.value;
  }

  /** The entry behind a live token, which is used up by this call. */
  consume(token: string): T | undefined {
    const v = this.peek(token);
    this.entries.delete(token);
    return v;
  }

  get size(): number {
    this.collect();
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private collect(): void {
    const now = this.now();
    for (const [token, e] of this.entries) {
      if (now < e.expires) break;
      this.entries.delete(token);
    }
  }
}
