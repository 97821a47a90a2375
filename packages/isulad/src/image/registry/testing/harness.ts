/**
 * Test support (used by the registry tests, usable by e2e): real `docker-registry`
 * (distribution 2.8) processes on loopback, openssl-made certificates, a push helper speaking the
 * v2 upload protocol, a tiny image built with `tar`, and a bearer token server for distribution's
 * `auth.token`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const tempDirs: string[] = [];

/** A fresh directory under the system temp dir; `removeTempDirs` deletes every one made. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface KeyPair {
  crt: string;
  key: string;
}

/** A self-signed CA (`<name>.crt`, `<name>.key`) in dir. */
export function makeCa(dir: string, name: string): KeyPair {
  const kp = { crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', kp.key, '-out', kp.crt], dir);
  return kp;
}

/** A certificate signed by ca; `sans` like `IP:127.0.0.1,DNS:localhost`; usage server or client. */
export function makeCert(dir: string, ca: KeyPair, name: string, sans: string | undefined, usage: 'serverAuth' | 'clientAuth'): KeyPair {
  const kp = { crt: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', kp.key, '-out', csr], dir);
  writeFileSync(ext, `${sans ? `subjectAltName=${sans}\n` : ''}extendedKeyUsage=${usage}\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', kp.crt], dir);
  return kp;
}

export interface RegistryOptions {
  tls?: { cert: string; key: string; clientCas?: string[] };
  /** htpasswd file path (bcrypt entries). */
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface RegistryProcess {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  pid: number;
  dir: string;
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

async function waitPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not listen on ${port}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
}

/** Starts `docker-registry serve` on a free loopback port with a temp storage dir (a port taken
 * between the probe and the registry's bind is retried). */
export async function startRegistry(o: RegistryOptions = {}): Promise<RegistryProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRegistryOnce(o);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
    }
  }
}

async function startRegistryOnce(o: RegistryOptions): Promise<RegistryProcess> {
  const dir = tempDir('isulad-test-registry');
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: {level: info, accesslog: {disabled: false}}',
    'storage:',
    `  filesystem: {rootdirectory: ${JSON.stringify(dataDir)}}`,
    '  delete: {enabled: true}',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (o.tls) {
    lines.push('  tls:', `    certificate: ${JSON.stringify(o.tls.cert)}`, `    key: ${JSON.stringify(o.tls.key)}`);
    if (o.tls.clientCas) lines.push(`    clientcas: [${o.tls.clientCas.map((c) => JSON.stringify(c)).join(', ')}]`);
  }
  if (o.htpasswd) lines.push('auth:', '  htpasswd:', '    realm: test-realm', `    path: ${JSON.stringify(o.htpasswd)}`);
  if (o.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(o.token.realm)}`,
      `    service: ${JSON.stringify(o.token.service)}`,
      `    issuer: ${JSON.stringify(o.token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(o.token.rootCertBundle)}`,
    );
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const logFile = join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitPort(port, child, logFile);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host: `127.0.0.1:${port}`, port, pid: child.pid!, dir, dataDir, logFile, stop };
}

/** Where distribution's filesystem driver keeps a blob. */
export function blobDataPath(dataDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

export interface PusherOptions {
  ca?: string;
  cert?: string;
  key?: string;
  skipHostnameCheck?: boolean;
  auth?: { username: string; password: string };
}

/**
 * Pushes blobs and manifests with the v2 upload protocol (HEAD, POST, PUT ?digest=, PUT
 * manifest), with Basic auth, or Bearer tokens fetched from the challenge's realm.
 */
export class Pusher {
  private readonly agent: Agent;
  private bearer: string | undefined;

  constructor(
    readonly base: string,
    private readonly o: PusherOptions = {},
  ) {
    this.agent = new Agent({
      connect: {
        ...(o.ca ? { ca: readFileSync(o.ca, 'utf8') } : {}),
        ...(o.cert && o.key ? { cert: readFileSync(o.cert, 'utf8'), key: readFileSync(o.key, 'utf8') } : {}),
        ...(o.skipHostnameCheck ? { checkServerIdentity: () => undefined } : {}),
      },
    });
  }

  private basic(): string | undefined {
    return this.o.auth ? `Basic ${Buffer.from(`${this.o.auth.username}:${this.o.auth.password}`).toString('base64')}` : undefined;
  }

  private async req(method: Dispatcher.HttpMethod, url: string, body?: Buffer, headers: Record<string, string> = {}, retry = true): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const u = new URL(url, this.base);
    const auth = this.bearer ?? this.basic();
    const res = await this.agent.request({
      origin: u.origin,
      path: u.pathname + u.search,
      method,
      body,
      headers: { ...headers, ...(auth ? { authorization: auth } : {}) },
    });
    const text = await res.body.text();
    const challenge = res.headers['www-authenticate'];
    if (res.statusCode === 401 && retry && typeof challenge === 'string' && /^bearer /i.test(challenge)) {
      const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      const t = new URL(params.realm!);
      if (params.service) t.searchParams.set('service', params.service);
      const repo = /^\/v2\/(.+)\/(?:blobs|manifests)\//.exec(u.pathname)?.[1];
      if (repo) t.searchParams.set('scope', `repository:${repo}:pull,push`);
      const tr = await this.agent.request({ origin: t.origin, path: t.pathname + t.search, method: 'GET', headers: this.basic() ? { authorization: this.basic()! } : {} });
      const tj = (await tr.body.json()) as { token?: string };
      if (tr.statusCode !== 200 || !tj.token) throw new Error(`token request failed: ${tr.statusCode}`);
      this.bearer = `Bearer ${tj.token}`;
      return this.req(method, url, body, headers, false);
    }
    return { status: res.statusCode, headers: res.headers, text };
  }

  async blob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const head = await this.req('HEAD', `/v2/${repo}/blobs/${digest}`);
    if (head.status === 200) return digest;
    const post = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    if (post.status !== 202) throw new Error(`POST upload ${repo}: ${post.status} ${post.text}`);
    const loc = new URL(String(post.headers.location), this.base);
    loc.searchParams.set('digest', digest);
    const put = await this.req('PUT', loc.toString(), data, { 'content-type': 'application/octet-stream' });
    if (put.status !== 201) throw new Error(`PUT blob ${digest}: ${put.status} ${put.text}`);
    return digest;
  }

  async manifest(repo: string, reference: string, body: Buffer | object, mediaType: string): Promise<string> {
    const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const put = await this.req('PUT', `/v2/${repo}/manifests/${reference}`, data, { 'content-type': mediaType });
    if (put.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: ${put.status} ${put.text}`);
    return sha256(data);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export interface TestLayer {
  data: Buffer;
  digest: string;
  size: number;
  diffId: string;
}

/** A gzip layer made by `tar -czf` from a temp directory holding `files`. */
export function tarLayer(files: Record<string, string>): TestLayer {
  const dir = tempDir('isulad-test-layer');
  try {
    const root = join(dir, 'root');
    for (const [name, content] of Object.entries(files)) {
      const path = join(root, name);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content);
    }
    const out = join(dir, 'layer.tar.gz');
    execFileSync('tar', ['--sort=name', '--mtime=2024-01-01 00:00:00Z', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-czf', out, '.']);
    const data = readFileSync(out);
    return { data, digest: sha256(data), size: data.length, diffId: sha256(gunzipSync(data)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function imageConfig(architecture: string, diffIds: string[], variant?: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture,
      ...(variant ? { variant } : {}),
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
    }),
  );
}

export interface TokenServer {
  url: string;
  port: number;
  /** Token requests seen: scope list and the user that authenticated (undefined = anonymous). */
  requests: Array<{ scopes: string[]; user?: string; service?: string; account?: string }>;
  /** PEM of the signing certificate, for distribution's rootcertbundle. */
  certFile: string;
  stop(): Promise<void>;
}

/**
 * A bearer token server for distribution's `auth.token`: RS256 JWTs with the signing
 * certificate in `x5c`; basic credentials are checked against `users` (wrong → 401 with a
 * docker-hub-like body), anonymous requests get tokens only when `anonymous` is set.
 */
export async function startTokenServer(o: {
  dir: string;
  issuer: string;
  users: Record<string, string>;
  anonymous?: boolean;
  expiresIn?: number;
}): Promise<TokenServer> {
  const signer = makeCa(o.dir, 'token-signer');
  const key = readFileSync(signer.key);
  const der = Buffer.from(
    readFileSync(signer.crt, 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  );
  const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  const requests: TokenServer['requests'] = [];
  const server: Server = createHttpServer((req: IncomingMessage, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (o.users[name!] === undefined || o.users[name!] !== rest.join(':')) {
        requests.push({ scopes, service: u.searchParams.get('service') ?? undefined, account: u.searchParams.get('account') ?? undefined });
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      user = name;
    } else if (!o.anonymous) {
      requests.push({ scopes, service: u.searchParams.get('service') ?? undefined });
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ details: 'authentication required' }));
      return;
    }
    requests.push({ scopes, user, service: u.searchParams.get('service') ?? undefined, account: u.searchParams.get('account') ?? undefined });
    const access = scopes.flatMap((s) => s.split(' ')).map((s) => {
      const parts = s.split(':');
      return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: parts[parts.length - 1]!.split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = {
      iss: o.issuer,
      sub: user ?? '',
      aud: u.searchParams.get('service'),
      exp: now + (o.expiresIn ?? 300),
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    const token = `${input}.${b64u(sign('RSA-SHA256', Buffer.from(input), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: o.expiresIn ?? 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/token`,
    port,
    requests,
    certFile: signer.crt,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `htpasswd -Bbn user pass` into a file. */
export function htpasswdFile(path: string, users: Record<string, string>): string {
  const lines = Object.entries(users).map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim());
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
