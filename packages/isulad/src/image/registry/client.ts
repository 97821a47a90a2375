/**
 * Registry v2 client (distribution API) on undici.
 *
 * - One Agent, bounded connections per origin, composed with undici's redirect interceptor so
 *   blob redirects to a CDN are followed; the interceptor drops `Authorization` when the origin
 *   changes, so credentials never leave the registry's origin.
 * - TLS per host from `certs.d/<host[:port]>/` (extra CA, client certificate); insecure
 *   registries are tried over https without verification, then plain http (iSulad's
 *   `registry_ping`); `insecure-skip-verify-enforce` skips the hostname check everywhere.
 * - Auth from the `/v2/` ping and every 401: Bearer (token endpoint, with basic credentials when
 *   known, tokens cached per registry/scope/user until they expire) or Basic.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { Agent, buildConnector, interceptors, type Dispatcher } from 'undici';
import type { DaemonConstants } from '../../config/types';
import type { DaemonLogger } from '../../log/logger';
import { DEFAULT_DAEMON_CONSTANTS, type ImageReference, registryEndpoint } from '../reference';
import { basicAuthorization, type Challenge, type Credentials, parseTokenResponse, parseWwwAuthenticate, TokenCache } from './auth';
import { describeErrorBody, networkError, RegistryError } from './errors';
import { type Descriptor, formatPlatform, type ParsedManifest, parseManifest, type Platform, selectPlatform } from './manifest';
import { layerCompression, type LayerCompression, MANIFEST_ACCEPT } from './media-types';
import { DEFAULT_CERTS_DIR, hostDirName, isInsecureRegistry, loadHostTls } from './tls';
import { assertDigest, digestAlgorithm, digestOf, DigestVerifier } from './verify';

export type { Credentials } from './auth';

export type RegistryLogger = Pick<DaemonLogger, 'debug' | 'info' | 'warn'>;

export interface RegistryClientOptions {
  /** `insecure-registries`: `host[:port]`, bare hosts, or IPv4 CIDRs. */
  insecureRegistries: string[];
  /** `insecure-skip-verify-enforce`: skip the certificate hostname check for every registry. */
  skipVerifyEnforce: boolean;
  /** Default `/etc/isulad/certs.d`. */
  certsDir?: string;
  /** Login credentials for a registry (as the user named it), if any. */
  credentials: (registry: string) => Promise<Credentials | undefined>;
  logger: RegistryLogger;
  userAgent: string;
  /** daemon_constants.json; `registry-transformation` picks the host contacted (default: the
   * spec's `docker.io`/`index.docker.io` → `registry-1.docker.io`). */
  constants?: DaemonConstants;
  /** Connections per origin (default 8). */
  connectionsPerOrigin?: number;
  /** TCP+TLS connect timeout in ms (default 30 s). */
  connectTimeoutMs?: number;
  /** Time to wait for response headers, and between body chunks, in ms (default 120 s). */
  responseTimeoutMs?: number;
}

export interface LayerDescriptor {
  digest: string;
  mediaType: string;
  size: number;
  compression: LayerCompression;
  /** Foreign/non-distributable layers may only exist at these URLs. */
  urls?: string[];
}

export interface ResolvedImage {
  /** Registry used, as named (a mirror when one answered). */
  registry: string;
  /** Host contacted after `registry-transformation`, and how. */
  endpoint: string;
  scheme: 'https' | 'http';
  repository: string;
  /** The tag or digest asked for. */
  reference: string;
  /** Digest of the image manifest (the platform's one when a list/index was resolved). */
  manifestDigest: string;
  manifestMediaType: string;
  /** Raw image manifest bytes (digest-verified when pulled by digest). */
  manifest: Buffer;
  /** The manifest list / OCI index the manifest was chosen from, if any. */
  index?: { digest: string; mediaType: string; platform: Platform };
  /** Raw config JSON, verified against configDigest. */
  config: Buffer;
  configDigest: string;
  configMediaType: string;
  layers: LayerDescriptor[];
}

/** What `fetchBlob` needs to know of where the blob lives. */
export type BlobSource = Pick<ResolvedImage, 'registry' | 'repository'>;

export interface BlobDescriptor {
  digest: string;
  size?: number;
  urls?: string[];
}

interface Endpoint {
  /** Registry as named (credentials and insecure-registries look-ups). */
  registry: string;
  /** Host contacted. */
  host: string;
  scheme: 'https' | 'http';
  origin: string;
  challenges: Challenge[];
}

interface Resp {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
}

interface RequestOptions {
  headers?: Record<string, string>;
  /** Token scope (`repository:<repo>:pull`). */
  scope?: string;
  /** Explicit credentials (login check); otherwise the credentials callback is asked. */
  credentials?: Credentials;
  signal?: AbortSignal;
}

export const MAX_MANIFEST_BYTES = 4 << 20;
export const MAX_CONFIG_BYTES = 64 << 20;
const MAX_ERROR_BODY_BYTES = 64 << 10;
const MAX_TOKEN_BODY_BYTES = 1 << 20;
const MAX_INDEX_DEPTH = 2;

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Aborts a body that will not be read (its abort error is swallowed). */
function abandon(res: Resp): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** Discards a body so the connection can be reused. */
async function drain(res: Resp): Promise<void> {
  await res.body.dump({ limit: 1 << 20 }).catch(() => undefined);
}

/** Reads a body up to `limit` bytes; more is an error (the body is destroyed). */
export async function readLimited(body: Readable, limit: number, what = 'response'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += b.length;
    if (size > limit) {
      body.destroy();
      throw new RegistryError(`${what} is larger than ${limit} bytes`, { code: 'TOO_LARGE' });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

export class RegistryClient {
  private readonly agent: Agent;
  private readonly dispatcher: Dispatcher;
  private readonly certsDir: string;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private readonly connectors = new Map<string, buildConnector.connector>();
  private readonly plainConnector: buildConnector.connector;
  /** Hosts (certs.d dir form) whose certificates are not verified. */
  private readonly unverifiedHosts = new Set<string>();
  private readonly tokens = new TokenCache();
  private readonly log: RegistryLogger;

  constructor(private readonly opts: RegistryClientOptions) {
    this.certsDir = opts.certsDir ?? DEFAULT_CERTS_DIR;
    this.log = opts.logger;
    const timeout = opts.connectTimeoutMs ?? 30_000;
    this.plainConnector = buildConnector({ timeout });
    const responseTimeout = opts.responseTimeoutMs ?? 120_000;
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 8,
      pipelining: 1,
      headersTimeout: responseTimeout,
      bodyTimeout: responseTimeout,
      connect: (o, cb) => {
        let c: buildConnector.connector;
        try {
          c = this.connectorFor(o);
        } catch (e) {
          cb(e as Error, null);
          return;
        }
        c(o, cb);
      },
    });
    this.dispatcher = this.agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  // ---------------------------------------------------------------- TLS

  private connectorFor(o: buildConnector.Options): buildConnector.connector {
    if (o.protocol !== 'https:') return this.plainConnector;
    const dir = hostDirName(o.hostname, o.port, o.protocol);
    // certs.d is read again for every new connection (rare: connections are pooled), so a CA or a
    // client certificate added while the daemon runs is used without a restart, as Docker does.
    const material = loadHostTls(this.certsDir, dir);
    const fingerprint = createHash('sha256');
    for (const part of [material.ca, material.cert, material.key]) fingerprint.update(part === undefined ? '-' : String(part));
    const key = `${dir}\0${fingerprint.digest('hex')}`;
    let c = this.connectors.get(key);
    if (c !== undefined) return c;
    const insecure = this.unverifiedHosts.has(dir) || isInsecureRegistry(dir, this.opts.insecureRegistries);
    const build: buildConnector.BuildOptions = {
      timeout: this.opts.connectTimeoutMs ?? 30_000,
      rejectUnauthorized: !insecure,
    };
    if (material.ca !== undefined) build.ca = material.ca;
    if (material.cert !== undefined) {
      build.cert = material.cert;
      build.key = material.key;
    }
    if (this.opts.skipVerifyEnforce) build.checkServerIdentity = () => undefined;
    this.log.debug(
      { host: dir, files: material.files, verify: !insecure, verifyHostname: !this.opts.skipVerifyEnforce },
      'registry TLS settings',
    );
    c = buildConnector(build);
    this.connectors.set(key, c);
    return c;
  }

  // ---------------------------------------------------------------- transport

  private async send(
    method: string,
    origin: string,
    path: string,
    headers: Record<string, string>,
    registry: string,
    signal?: AbortSignal,
  ): Promise<Resp> {
    const url = origin + path;
    try {
      const res = await this.dispatcher.request({
        origin,
        path,
        method: method as Dispatcher.HttpMethod,
        headers: { 'user-agent': this.opts.userAgent, 'docker-distribution-api-version': 'registry/2.0', ...headers },
        signal,
      });
      this.log.debug({ method, url, status: res.statusCode }, 'registry request');
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (e) {
      if (signal?.aborted) throw e;
      throw networkError(method, url, e, registry);
    }
  }

  private async failure(res: Resp, registry: string, context?: string): Promise<RegistryError> {
    const body = await readLimited(res.body, MAX_ERROR_BODY_BYTES).catch(() => undefined);
    const { message, code } = describeErrorBody(res.status, body);
    return new RegistryError(context !== undefined ? `${context}: ${message}` : message, {
      status: res.status,
      code,
      registry,
    });
  }

  // ---------------------------------------------------------------- ping / endpoints

  /** The endpoint of a registry: scheme found by pinging `/v2/` once, auth challenges. */
  private endpoint(registry: string): Promise<Endpoint> {
    let p = this.endpoints.get(registry);
    if (p === undefined) {
      p = this.ping(registry);
      this.endpoints.set(registry, p);
      p.catch(() => this.endpoints.delete(registry));
    }
    return p;
  }

  private isInsecure(registry: string, host: string): boolean {
    return (
      isInsecureRegistry(registry, this.opts.insecureRegistries) || isInsecureRegistry(host, this.opts.insecureRegistries)
    );
  }

  private async ping(registry: string): Promise<Endpoint> {
    const host = registryEndpoint(registry, this.opts.constants ?? DEFAULT_DAEMON_CONSTANTS);
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(host)) {
      throw new RegistryError(`invalid registry host ${JSON.stringify(host)}`, { registry, code: 'INVALID_REGISTRY' });
    }
    const insecure = this.isInsecure(registry, host);
    if (insecure) {
      const u = new URL(`https://${host}/`);
      this.unverifiedHosts.add(hostDirName(u.hostname, u.port));
    }
    try {
      return await this.pingScheme(registry, host, 'https');
    } catch (httpsErr) {
      if (!insecure) {
        const code = (httpsErr as RegistryError).code ?? '';
        if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|EPROTO/i.test(code)) {
          throw new RegistryError(
            `${(httpsErr as Error).message}; the registry may speak plain http: list ${registry} in insecure-registries to use http`,
            { code, registry, cause: httpsErr },
          );
        }
        throw httpsErr;
      }
      this.log.info({ registry, err: (httpsErr as Error).message }, 'https ping of insecure registry failed, trying http');
      try {
        return await this.pingScheme(registry, host, 'http');
      } catch (httpErr) {
        const a = httpsErr as RegistryError;
        const b = httpErr as RegistryError;
        if (a.code !== undefined && a.code === b.code) throw b;
        throw new RegistryError(`${a.message}; over http: ${b.message}`, { code: a.code, status: b.status, registry, cause: b });
      }
    }
  }

  private async pingScheme(registry: string, host: string, scheme: 'https' | 'http'): Promise<Endpoint> {
    const origin = `${scheme}://${host}`;
    const res = await this.send('GET', origin, '/v2/', {}, registry);
    if (res.status === 200 || res.status === 401) {
      await drain(res);
      const challenges = res.status === 401 ? parseWwwAuthenticate(res.headers['www-authenticate']) : [];
      this.log.debug({ registry, origin, auth: challenges.map((c) => c.scheme) }, 'registry ping');
      return { registry, host, scheme, origin, challenges };
    }
    throw await this.failure(res, registry, `${origin}/v2/ does not look like a v2 registry (status ${res.status})`);
  }

  // ---------------------------------------------------------------- auth

  private async lookupCredentials(ep: Endpoint): Promise<Credentials | undefined> {
    const c = await this.opts.credentials(ep.registry);
    if (c !== undefined || ep.host === ep.registry) return c;
    return this.opts.credentials(ep.host);
  }

  private async fetchToken(
    ep: Endpoint,
    challenge: Challenge,
    scope: string | undefined,
    creds: Credentials | undefined,
  ): Promise<{ token: string; expiresInSeconds: number }> {
    let url: URL;
    try {
      url = new URL(challenge.params.realm!);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new RegistryError(`invalid token realm ${JSON.stringify(challenge.params.realm)} from ${ep.registry}`, {
        registry: ep.registry,
        code: 'INVALID_REALM',
      });
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    if (scope !== undefined) for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds !== undefined) {
      url.searchParams.set('account', creds.username);
      headers.authorization = basicAuthorization(creds);
    }
    const res = await this.send('GET', url.origin, url.pathname + url.search, headers, ep.registry);
    if (res.status !== 200) {
      throw await this.failure(res, ep.registry, res.status === 401 || res.status === 403 ? undefined : `token request to ${url.origin}${url.pathname}`);
    }
    const body = await readLimited(res.body, MAX_TOKEN_BODY_BYTES, 'token response');
    let parsed: ReturnType<typeof parseTokenResponse>;
    try {
      parsed = parseTokenResponse(JSON.parse(body.toString('utf8')));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) {
      throw new RegistryError(`token server ${url.origin}${url.pathname} returned no token`, {
        registry: ep.registry,
        code: 'TOKEN_INVALID',
      });
    }
    return parsed;
  }

  private tokenKey(ep: Endpoint, challenge: Challenge, scope: string | undefined, username: string | undefined): string {
    return JSON.stringify([ep.host, challenge.params.realm, challenge.params.service ?? '', scope ?? '', username ?? '']);
  }

  private async authorization(
    ep: Endpoint,
    scope: string | undefined,
    creds: () => Promise<Credentials | undefined>,
  ): Promise<{ header?: string; tokenKey?: string }> {
    const bearer = ep.challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer !== undefined) {
      const c = await creds();
      const key = this.tokenKey(ep, bearer, scope, c?.username);
      const token = await this.tokens.get(key, () => this.fetchToken(ep, bearer, scope, c));
      return { header: `Bearer ${token}`, tokenKey: key };
    }
    if (ep.challenges.some((c) => c.scheme === 'basic')) {
      const c = await creds();
      if (c !== undefined) return { header: basicAuthorization(c) };
    }
    return {};
  }

  /** A request with auth; on 401 the challenge is re-read and the request retried once. */
  private async request(ep: Endpoint, method: string, path: string, o: RequestOptions = {}): Promise<Resp> {
    let credsPromise: Promise<Credentials | undefined> | undefined;
    const creds = () => (credsPromise ??= o.credentials !== undefined ? Promise.resolve(o.credentials) : this.lookupCredentials(ep));
    let scope = o.scope;
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorization(ep, scope, creds);
      const headers = { ...o.headers };
      if (auth.header !== undefined) headers.authorization = auth.header;
      const res = await this.send(method, ep.origin, path, headers, ep.registry, o.signal);
      if (res.status !== 401 || attempt > 0) return res;
      const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
      const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
      const basic = challenges.find((c) => c.scheme === 'basic');
      let retry = false;
      if (bearer !== undefined) {
        if (auth.tokenKey !== undefined) this.tokens.invalidate(auth.tokenKey);
        if (bearer.params.scope) scope = bearer.params.scope;
        retry = true;
      } else if (basic !== undefined && !auth.header?.startsWith('Basic ') && (await creds()) !== undefined) {
        retry = true;
      }
      if (challenges.length > 0) ep.challenges = challenges;
      if (!retry) return res;
      await drain(res);
    }
  }

  /**
   * Checks credentials the way `isula login` does: `GET /v2/` with them (after the token
   * exchange on a Bearer registry). Resolves, or rejects with the registry's reason.
   */
  async checkLogin(registry: string, username: string, password: string): Promise<void> {
    const ep = await this.endpoint(registry);
    const creds: Credentials = { username, password };
    // Fresh challenge: the registry's ping answer decides, nothing cached is reused.
    const probe = await this.send('GET', ep.origin, '/v2/', {}, registry);
    if (probe.status === 200) {
      await drain(probe);
      return;
    }
    if (probe.status !== 401) throw await this.failure(probe, registry, `login to ${registry}`);
    await drain(probe);
    const challenges = parseWwwAuthenticate(probe.headers['www-authenticate']);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    let authHeader: string;
    if (bearer !== undefined) {
      const { token } = await this.fetchToken(ep, bearer, undefined, creds);
      authHeader = `Bearer ${token}`;
    } else if (challenges.some((c) => c.scheme === 'basic')) {
      authHeader = basicAuthorization(creds);
    } else {
      throw new RegistryError(`login to ${registry}: unsupported authentication scheme ${challenges.map((c) => c.scheme).join(', ') || '(none)'}`, {
        registry,
        code: 'UNSUPPORTED_AUTH',
      });
    }
    const res = await this.send('GET', ep.origin, '/v2/', { authorization: authHeader }, registry);
    if (res.status !== 200) throw await this.failure(res, registry);
    await drain(res);
  }

  // ---------------------------------------------------------------- manifests

  private async fetchManifest(
    ep: Endpoint,
    repository: string,
    reference: string,
    expectedDigest: string | undefined,
    name: string,
    signal?: AbortSignal,
  ): Promise<{ body: Buffer; digest: string; parsed: ParsedManifest }> {
    const res = await this.request(ep, 'GET', `/v2/${repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      scope: `repository:${repository}:pull`,
      signal,
    });
    if (res.status !== 200) {
      throw await this.failure(res, ep.registry, res.status === 404 ? `manifest for ${name} not found` : undefined);
    }
    const length = Number(header(res.headers, 'content-length'));
    if (Number.isFinite(length) && length > MAX_MANIFEST_BYTES) {
      abandon(res);
      throw new RegistryError(`manifest for ${name} is too large (${length} bytes)`, { registry: ep.registry, code: 'TOO_LARGE' });
    }
    const body = await readLimited(res.body, MAX_MANIFEST_BYTES, `manifest for ${name}`);
    const headerDigest = header(res.headers, 'docker-content-digest');
    const algorithm = expectedDigest !== undefined ? digestAlgorithm(expectedDigest) : 'sha256';
    const digest = digestOf(body, algorithm);
    if (expectedDigest !== undefined && digest !== expectedDigest) {
      throw new RegistryError(`manifest ${expectedDigest} digest mismatch (got ${digest})`, {
        registry: ep.registry,
        code: 'DIGEST_MISMATCH',
      });
    }
    if (expectedDigest === undefined && headerDigest !== undefined && headerDigest.startsWith(`${algorithm}:`) && headerDigest !== digest) {
      throw new RegistryError(
        `manifest for ${name} digest mismatch: Docker-Content-Digest says ${headerDigest}, the body is ${digest}`,
        { registry: ep.registry, code: 'DIGEST_MISMATCH' },
      );
    }
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(body, header(res.headers, 'content-type'));
    } catch (e) {
      if (e instanceof RegistryError) {
        throw new RegistryError(`${name}: ${e.message}`, { code: e.code, registry: ep.registry, cause: e });
      }
      throw e;
    }
    return { body, digest, parsed };
  }

  /**
   * Resolves a reference to one image manifest for `platform`, with its config (verified) and
   * layer list. Manifest lists and OCI indexes are followed to the platform's entry.
   */
  async resolve(ref: ImageReference, platform: Platform = DEFAULT_PLATFORM, o: { signal?: AbortSignal } = {}): Promise<ResolvedImage> {
    if (ref.digest !== undefined) assertDigest(ref.digest, 'manifest digest');
    const ep = await this.endpoint(ref.registry);
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const name = `${ref.registry}/${ref.repository}${ref.digest !== undefined ? `@${ref.digest}` : `:${reference}`}`;
    let m = await this.fetchManifest(ep, ref.repository, reference, ref.digest, name, o.signal);
    let index: ResolvedImage['index'];
    for (let depth = 0; m.parsed.kind === 'index'; depth++) {
      if (depth >= MAX_INDEX_DEPTH) {
        throw new RegistryError(`${name}: manifest lists nested too deeply`, { registry: ep.registry, code: 'MANIFEST_INVALID' });
      }
      let entry;
      try {
        entry = selectPlatform(m.parsed.manifests, platform);
      } catch (e) {
        const err = e as RegistryError;
        throw new RegistryError(`${name}: ${err.message}`, { code: err.code, registry: ep.registry });
      }
      if (index === undefined) index = { digest: m.digest, mediaType: m.parsed.mediaType, platform: entry.platform! };
      this.log.debug({ name, platform: formatPlatform(entry.platform!), digest: entry.digest }, 'manifest list entry chosen');
      m = await this.fetchManifest(ep, ref.repository, entry.digest, entry.digest, `${ref.registry}/${ref.repository}@${entry.digest}`, o.signal);
    }
    const image = m.parsed;
    const source: BlobSource = { registry: ref.registry, repository: ref.repository };
    if (image.config.size > MAX_CONFIG_BYTES) {
      throw new RegistryError(`${name}: image config is too large (${image.config.size} bytes)`, {
        registry: ep.registry,
        code: 'TOO_LARGE',
      });
    }
    const configStream = await this.fetchBlob(source, image.config, o);
    const config = await readLimited(configStream, MAX_CONFIG_BYTES, `config of ${name}`);
    try {
      JSON.parse(config.toString('utf8'));
    } catch (e) {
      throw new RegistryError(`${name}: image config ${image.config.digest} is not JSON: ${(e as Error).message}`, {
        registry: ep.registry,
        code: 'CONFIG_INVALID',
      });
    }
    return {
      registry: ref.registry,
      endpoint: ep.host,
      scheme: ep.scheme,
      repository: ref.repository,
      reference,
      manifestDigest: m.digest,
      manifestMediaType: image.mediaType,
      manifest: m.body,
      ...(index !== undefined ? { index } : {}),
      config,
      configDigest: image.config.digest,
      configMediaType: image.config.mediaType,
      layers: image.layers.map((l: Descriptor) => ({
        digest: l.digest,
        mediaType: l.mediaType,
        size: l.size,
        compression: layerCompression(l.mediaType)!,
        ...(l.urls !== undefined && l.urls.length > 0 ? { urls: l.urls } : {}),
      })),
    };
  }

  /**
   * Tries the candidates of `withMirrors(ref, mirrors)` in order and returns the first that
   * resolves. When every one fails, the last error (the default registry's) is thrown.
   */
  async resolveFirst(
    candidates: readonly ImageReference[],
    platform: Platform = DEFAULT_PLATFORM,
    o: { signal?: AbortSignal } = {},
  ): Promise<ResolvedImage> {
    let last: unknown = new RegistryError('no registry to pull from', { code: 'NO_REGISTRY' });
    for (const ref of candidates) {
      try {
        return await this.resolve(ref, platform, o);
      } catch (e) {
        if (o.signal?.aborted) throw e;
        this.log.warn({ registry: ref.registry, err: (e as Error).message }, 'pull from registry failed');
        last = e;
      }
    }
    throw last;
  }

  // ---------------------------------------------------------------- blobs

  /**
   * Streams a blob. The stream errors at its end with `blob <digest> digest mismatch` when the
   * bytes do not hash to the digest (or early when there are more bytes than `size`). Foreign
   * layers the registry does not have are fetched from their URLs (without credentials).
   */
  async fetchBlob(source: BlobSource, descriptor: BlobDescriptor, o: { signal?: AbortSignal } = {}): Promise<Readable> {
    assertDigest(descriptor.digest, 'blob digest');
    const ep = await this.endpoint(source.registry);
    let res = await this.request(ep, 'GET', `/v2/${source.repository}/blobs/${descriptor.digest}`, {
      scope: `repository:${source.repository}:pull`,
      signal: o.signal,
    });
    if (res.status === 404 && descriptor.urls !== undefined && descriptor.urls.length > 0) {
      for (const raw of descriptor.urls) {
        let u: URL;
        try {
          u = new URL(raw);
        } catch {
          continue;
        }
        if (u.protocol !== 'https:' && u.protocol !== 'http:') continue;
        await drain(res);
        res = await this.send('GET', u.origin, u.pathname + u.search, {}, source.registry, o.signal);
        if (res.status === 200) break;
      }
    }
    if (res.status !== 200) {
      throw await this.failure(res, ep.registry, res.status === 404 ? `blob ${descriptor.digest} not found in ${source.registry}/${source.repository}` : `blob ${descriptor.digest}`);
    }
    const length = Number(header(res.headers, 'content-length'));
    if (descriptor.size !== undefined && Number.isFinite(length) && length !== descriptor.size) {
      abandon(res);
      throw new RegistryError(
        `blob ${descriptor.digest} size mismatch: the registry sends ${length} bytes, expected ${descriptor.size}`,
        { registry: ep.registry, code: 'SIZE_MISMATCH' },
      );
    }
    const verifier = new DigestVerifier(descriptor.digest, descriptor.size);
    pipeline(res.body, verifier, () => {
      /* errors reach the consumer through the verifier */
    });
    return verifier;
  }
}
