/**
 * Behaviours a real distribution cannot be made to show, against a fake registry in Node:
 * schema1 answers, blob redirects to another origin (a CDN that refuses Authorization), manifest
 * digest mismatches.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, readLimited } from './client';
import { RegistryError } from './errors';
import { MediaTypes } from './media-types';
import { imageConfig, sha256, tarLayer, removeTempDirs, tempDir } from './testing/harness';

const logger = pino({ level: 'silent' });
const USER = { username: 'u', password: 'p' };
const BASIC = `Basic ${Buffer.from('u:p').toString('base64')}`;

const layer = tarLayer({ 'a.txt': 'A\n' });
const config = imageConfig('amd64', [layer.diffId]);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.DockerManifest,
    config: { mediaType: MediaTypes.DockerConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaTypes.DockerLayerGzip, digest: layer.digest, size: layer.size }],
  }),
);
const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'r', tag: 'old', fsLayers: [], history: [], signatures: [] }));
const blobs = new Map<string, Buffer>([
  [sha256(config), config],
  [layer.digest, layer.data],
]);
const forged = `sha256:${'ab'.repeat(32)}`;

let registry: Server;
let cdn: Server;
let host: string;
const cdnSeen: IncomingHttpHeaders[] = [];
let client: RegistryClient;

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
}

beforeAll(async () => {
  cdn = createServer((req, res) => {
    cdnSeen.push(req.headers);
    if (req.headers.authorization !== undefined) {
      res.writeHead(400).end('authorization forwarded to the CDN');
      return;
    }
    const digest = decodeURIComponent(new URL(req.url!, 'http://x').pathname.split('/').pop()!);
    const b = blobs.get(digest);
    if (b === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': b.length }).end(b);
  });
  const cdnPort = await listen(cdn);
  registry = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }));
      return;
    }
    if (path === '/v2/') {
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    const m = /^\/v2\/r\/(manifests|blobs)\/(.+)$/.exec(path);
    if (m?.[1] === 'blobs') {
      res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/cdn/${encodeURIComponent(m[2]!)}?sig=x` }).end();
      return;
    }
    const send = (body: Buffer, type: string, digest = sha256(body)) =>
      res.writeHead(200, { 'content-type': type, 'docker-content-digest': digest, 'content-length': body.length }).end(body);
    switch (m?.[2]) {
      case 'v2':
      case sha256(manifest):
        return send(manifest, MediaTypes.DockerManifest);
      case 'old':
        return send(schema1, MediaTypes.DockerSchema1Signed);
      case 'old-json':
        return send(schema1, 'application/json');
      case 'lying':
        return send(manifest, MediaTypes.DockerManifest, forged);
      case forged:
        return send(manifest, MediaTypes.DockerManifest, forged);
      default:
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    }
  });
  host = `127.0.0.1:${await listen(registry)}`;
  client = new RegistryClient({
    insecureRegistries: [host],
    skipVerifyEnforce: false,
    certsDir: tempDir('isulad-test-certsd-empty'),
    credentials: async (r) => (r === host ? USER : undefined),
    logger,
    userAgent: 'isulad-test/0',
  });
});

afterAll(() => removeTempDirs());

afterAll(async () => {
  await client?.close();
  for (const s of [registry, cdn]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a rejection');
}

describe('fake registry', () => {
  it('follows blob redirects to another origin without sending Authorization there', async () => {
    const r = await client.resolve({ registry: host, repository: 'r', tag: 'v2' });
    expect(r.config.equals(config)).toBe(true);
    const s = await client.fetchBlob(r, r.layers[0]!);
    expect((await readLimited(s, 1 << 20)).equals(layer.data)).toBe(true);
    expect(cdnSeen.length).toBe(2);
    expect(cdnSeen.every((h) => h.authorization === undefined)).toBe(true);
  });

  it('refuses schema1 manifests clearly', async () => {
    const e = await rejection(client.resolve({ registry: host, repository: 'r', tag: 'old' }));
    expect(e.message).toBe(`${host}/r:old: schema1 manifests are not supported (${MediaTypes.DockerSchema1Signed})`);
    expect(e.code).toBe('SCHEMA1');
    const j = await rejection(client.resolve({ registry: host, repository: 'r', tag: 'old-json' }));
    expect(j.message).toContain('schema1 manifests are not supported');
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const e = await rejection(client.resolve({ registry: host, repository: 'r', digest: forged }));
    expect(e.message).toBe(`manifest ${forged} digest mismatch (got ${sha256(manifest)})`);
    expect(e.code).toBe('DIGEST_MISMATCH');
    const ok = await client.resolve({ registry: host, repository: 'r', digest: sha256(manifest) });
    expect(ok.manifestDigest).toBe(sha256(manifest));
  });

  it('refuses a tag whose Docker-Content-Digest does not match the body', async () => {
    const e = await rejection(client.resolve({ registry: host, repository: 'r', tag: 'lying' }));
    expect(e.message).toContain('Docker-Content-Digest says');
  });
});
