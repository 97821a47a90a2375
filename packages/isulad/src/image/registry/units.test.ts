/** Pure parts of the registry client: challenges, tokens, manifests, platforms, certs.d, errors. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTokenResponse, parseWwwAuthenticate, TokenCache } from './auth';
import { describeErrorBody, RegistryError } from './errors';
import { parseManifest, selectPlatform, type PlatformDescriptor } from './manifest';
import { layerCompression, MANIFEST_ACCEPT, MediaTypes } from './media-types';
import { removeTempDirs, tempDir } from './testing/harness';
import { hostDirName, isInsecureRegistry, loadHostTls } from './tls';
import { DigestVerifier, digestOf } from './verify';

afterAll(() => removeTempDirs());

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('WWW-Authenticate', () => {
  it('parses bearer challenges with quoted commas', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push",error="insufficient_scope"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:a/b:pull,push', error: 'insufficient_scope' },
      },
    ]);
  });
  it('parses basic, several challenges and several headers', () => {
    expect(parseWwwAuthenticate('Basic realm="probe-realm"')).toEqual([{ scheme: 'basic', params: { realm: 'probe-realm' } }]);
    expect(parseWwwAuthenticate(['Basic realm="x", Bearer realm="https://t/token", service=svc', 'Negotiate'])).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } },
      { scheme: 'negotiate', params: {} },
    ]);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate('Bearer realm="a\\"b"')[0]!.params.realm).toBe('a"b');
  });
});

describe('TokenCache', () => {
  it('reuses a token until it expires, one fetch at a time', async () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    let fetches = 0;
    const fetch = async () => {
      fetches++;
      return { token: `t${fetches}`, expiresInSeconds: 60 };
    };
    const [a, b] = await Promise.all([cache.get('k', fetch), cache.get('k', fetch)]);
    expect([a, b, fetches]).toEqual(['t1', 't1', 1]);
    now += 50_000;
    expect(await cache.get('k', fetch)).toBe('t1');
    now += 6_000; // within the 5 s margin of expiry
    expect(await cache.get('k', fetch)).toBe('t2');
    expect(await cache.get('other', fetch)).toBe('t3');
    cache.invalidate('k');
    expect(await cache.get('k', fetch)).toBe('t4');
  });
  it('reads token responses', () => {
    expect(parseTokenResponse({ token: 'a', expires_in: 300 })).toEqual({ token: 'a', expiresInSeconds: 300 });
    expect(parseTokenResponse({ access_token: 'b' })).toEqual({ token: 'b', expiresInSeconds: 60 });
    expect(parseTokenResponse({ token: 'c', expires_in: 10 })).toEqual({ token: 'c', expiresInSeconds: 60 });
    expect(parseTokenResponse({})).toBeUndefined();
  });
});

describe('manifests', () => {
  const layer = (mediaType: string, c = '1') => ({ mediaType, digest: d(c), size: 10 });
  const image = (mediaType: string | undefined, layers: object[], configType: string = MediaTypes.OciConfig) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, ...(mediaType ? { mediaType } : {}), config: { mediaType: configType, digest: d('c'), size: 5 }, layers }));

  it('sends all four manifest types in Accept', () => {
    expect(MANIFEST_ACCEPT.split(', ').sort()).toEqual(
      [MediaTypes.DockerManifest, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.OciIndex].sort(),
    );
  });

  it('knows every layer media type', () => {
    const want: Array<[string, string]> = [
      [MediaTypes.DockerLayerGzip, 'gzip'],
      [MediaTypes.DockerLayerTar, 'none'],
      [MediaTypes.DockerForeignLayerGzip, 'gzip'],
      [MediaTypes.OciLayerTar, 'none'],
      [MediaTypes.OciLayerGzip, 'gzip'],
      [MediaTypes.OciLayerZstd, 'zstd'],
      [MediaTypes.OciForeignLayerZstd, 'zstd'],
    ];
    for (const [t, c] of want) expect(layerCompression(t)).toBe(c);
    const p = parseManifest(image(MediaTypes.DockerManifest, [{ ...layer(MediaTypes.DockerForeignLayerGzip), urls: ['https://x/y'] }], MediaTypes.DockerConfig), undefined);
    expect(p).toMatchObject({ kind: 'image', layers: [{ urls: ['https://x/y'] }] });
  });

  it('takes the media type from the body, the Content-Type, or the shape', () => {
    expect(parseManifest(image(undefined, []), 'application/json').mediaType).toBe(MediaTypes.OciManifest);
    expect(parseManifest(image(undefined, []), `${MediaTypes.DockerManifest}; charset=utf-8`).mediaType).toBe(MediaTypes.DockerManifest);
    expect(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), 'application/json')).toEqual({
      kind: 'index',
      mediaType: MediaTypes.OciIndex,
      manifests: [],
    });
  });

  it('refuses schema1, unknown layers and configs, malformed descriptors', () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'), 'application/json')).toThrow('schema1 manifests are not supported');
    expect(() => parseManifest(Buffer.from('{}'), MediaTypes.DockerSchema1)).toThrow('schema1 manifests are not supported');
    expect(() => parseManifest(image(MediaTypes.OciManifest, [layer('application/x-foo')]), undefined)).toThrow(
      'unsupported layer media type "application/x-foo"',
    );
    expect(() => parseManifest(image(MediaTypes.OciManifest, [], 'application/vnd.cncf.helm.config.v1+json'), undefined)).toThrow(
      'unsupported image config media type',
    );
    expect(() => parseManifest(image(MediaTypes.OciManifest, [{ mediaType: MediaTypes.OciLayerGzip, digest: 'sha256:zz', size: 1 }]), undefined)).toThrow(
      /invalid manifest layer: invalid digest format/,
    );
    expect(() => parseManifest(Buffer.from('not json'), undefined)).toThrow(RegistryError);
  });

  it('selects platforms', () => {
    const e = (architecture: string, variant?: string, mediaType: string = MediaTypes.OciManifest): PlatformDescriptor => ({
      mediaType,
      digest: d(architecture.length.toString(16)),
      size: 1,
      platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
    });
    const list = [e('arm', 'v6'), e('arm', 'v7'), e('arm64'), e('amd64'), { ...e('amd64'), mediaType: 'application/vnd.in-toto+json' }];
    expect(selectPlatform(list, { os: 'linux', architecture: 'amd64' })).toBe(list[3]);
    expect(selectPlatform(list, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(list[1]);
    expect(selectPlatform(list, { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(list[2]);
    expect(() => selectPlatform(list, { os: 'windows', architecture: 'amd64' })).toThrow(
      'no matching manifest for windows/amd64 in the manifest list entries (available: linux/arm/v6, linux/arm/v7, linux/arm64, linux/amd64)',
    );
  });
});

describe('certs.d and insecure-registries', () => {
  it('reads CAs and the client certificate pair', () => {
    const root = tempDir('isulad-test-certsd');
    mkdirSync(join(root, 'reg:5000'));
    writeFileSync(join(root, 'reg:5000', 'ca.crt'), 'CA-PEM');
    writeFileSync(join(root, 'reg:5000', 'client.cert'), 'CERT-PEM');
    writeFileSync(join(root, 'reg:5000', 'client.key'), 'KEY-PEM');
    const t = loadHostTls(root, 'reg:5000');
    expect(t.ca?.at(-1)).toBe('CA-PEM');
    expect(t.ca!.length).toBeGreaterThan(1); // the system roots stay
    expect([t.cert, t.key]).toEqual(['CERT-PEM', 'KEY-PEM']);
    expect(loadHostTls(root, 'other')).toEqual({ files: [] });
  });
  it('names certs.d directories like docker', () => {
    expect(hostDirName('127.0.0.1', '5000')).toBe('127.0.0.1:5000');
    expect(hostDirName('registry.example', '')).toBe('registry.example');
    expect(hostDirName('registry.example', '443')).toBe('registry.example');
  });
  it('matches insecure registries', () => {
    expect(isInsecureRegistry('127.0.0.1:5000', ['127.0.0.1:5000'])).toBe(true);
    expect(isInsecureRegistry('127.0.0.1:5000', ['http://127.0.0.1:5000/'])).toBe(true);
    expect(isInsecureRegistry('127.0.0.1:5000', ['127.0.0.1'])).toBe(true);
    expect(isInsecureRegistry('10.1.2.3:5000', ['10.0.0.0/8'])).toBe(true);
    expect(isInsecureRegistry('11.1.2.3:5000', ['10.0.0.0/8'])).toBe(false);
    expect(isInsecureRegistry('127.0.0.1:5001', ['127.0.0.1:5000'])).toBe(false);
    expect(isInsecureRegistry('rnd-dockerhub.huawei.com', ['rnd-dockerhub.huawei.com'])).toBe(true);
  });
});

describe('errors and digests', () => {
  it('formats registry error bodies', () => {
    const body = (o: unknown) => Buffer.from(JSON.stringify(o));
    expect(describeErrorBody(404, body({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } }] }))).toEqual({
      message: 'manifest unknown: manifest unknown',
      code: 'MANIFEST_UNKNOWN',
    });
    expect(describeErrorBody(401, body({ details: 'incorrect username or password' })).message).toBe('unauthorized: incorrect username or password');
    expect(describeErrorBody(401, undefined).message).toBe('unauthorized: authentication required');
    expect(describeErrorBody(502, Buffer.from('<html>\n bad gateway </html>')).message).toBe('bad gateway: <html> bad gateway </html>');
  });

  it('verifies streams', async () => {
    const data = Buffer.from('hello');
    const ok = new DigestVerifier(digestOf(data), data.length);
    Readable.from([data]).pipe(ok);
    const out: Buffer[] = [];
    for await (const b of ok) out.push(b as Buffer);
    expect(Buffer.concat(out).toString()).toBe('hello');

    const bad = new DigestVerifier(d('0'));
    Readable.from([data]).pipe(bad);
    await expect(async () => {
      for await (const _ of bad) void _;
    }).rejects.toThrow(`blob ${d('0')} digest mismatch (got ${digestOf(data)})`);

    const long = new DigestVerifier(digestOf(data), 3);
    Readable.from([data]).pipe(long);
    await expect(async () => {
      for await (const _ of long) void _;
    }).rejects.toThrow('size mismatch');
  });
});
