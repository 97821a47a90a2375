/**
 * Registry client against a real plain-http docker-registry (distribution 2.8) on loopback:
 * docker schema2, OCI, manifest list, OCI index, mixed layer media types, digests, blob
 * verification, insecure-registries, mirrors and throughput.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference, withMirrors, displayName, type ImageReference } from '../reference';
import { readLimited } from './client';
import { MediaTypes } from './media-types';
import { blobDataPath, freePort, Pusher, type RegistryProcess, sha256, startRegistry, removeTempDirs } from './testing/harness';
import { rejection, testClients } from './testing/clients';
import { type Fixtures, pushTestImage } from './testing/fixtures';

const REPO = 'test/img';

let reg: RegistryProcess;
let pusher: Pusher;
let fx: Fixtures;

const { client, closeAll } = testClients(() => ({ insecureRegistries: [reg.host] }));

const ref = (tagOrDigest: string, repository = REPO): ImageReference =>
  tagOrDigest.startsWith('sha256:')
    ? { registry: reg.host, repository, digest: tagOrDigest }
    : { registry: reg.host, repository, tag: tagOrDigest };


beforeAll(async () => {
  reg = await startRegistry();
  pusher = new Pusher(`http://${reg.host}`);
  fx = await pushTestImage(pusher, REPO);
}, 60_000);

afterAll(() => removeTempDirs());

afterAll(async () => {
  await closeAll();
  await pusher?.close();
  await reg?.stop();
});

describe('resolve', () => {
  it('resolves a docker schema2 manifest', async () => {
    const r = await client().resolve(ref('v2'));
    expect(r.scheme).toBe('http');
    expect(r.registry).toBe(reg.host);
    expect(r.endpoint).toBe(reg.host);
    expect(r.repository).toBe(REPO);
    expect(r.manifestMediaType).toBe(MediaTypes.DockerManifest);
    expect(r.manifestDigest).toBe(fx.v2.digest);
    expect(r.manifest.equals(fx.v2.body)).toBe(true);
    expect(r.index).toBeUndefined();
    expect(r.configDigest).toBe(sha256(fx.configAmd64));
    expect(r.configMediaType).toBe(MediaTypes.DockerConfig);
    expect(r.config.equals(fx.configAmd64)).toBe(true);
    expect(r.layers).toEqual(
      fx.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: MediaTypes.DockerLayerGzip, compression: 'gzip' })),
    );
  });

  it('resolves an OCI manifest (distribution 404s it without the OCI Accept type)', async () => {
    const r = await client().resolve(ref('oci'));
    expect(r.manifestMediaType).toBe(MediaTypes.OciManifest);
    expect(r.manifestDigest).toBe(fx.oci.digest);
    expect(r.configMediaType).toBe(MediaTypes.OciConfig);
    expect(r.layers.map((l) => l.mediaType)).toEqual([MediaTypes.OciLayerGzip, MediaTypes.OciLayerGzip]);
  });

  it('picks linux/amd64 from a docker manifest list, and other platforms on request', async () => {
    const c = client();
    const amd = await c.resolve(ref('list'));
    expect(amd.manifestDigest).toBe(fx.v2.digest);
    expect(amd.manifestMediaType).toBe(MediaTypes.DockerManifest);
    expect(amd.index).toEqual({
      digest: fx.list.digest,
      mediaType: MediaTypes.DockerManifestList,
      platform: { os: 'linux', architecture: 'amd64' },
    });
    expect(JSON.parse(amd.config.toString()).architecture).toBe('amd64');
    const arm = await c.resolve(ref('list'), { os: 'linux', architecture: 'arm64' });
    expect(arm.manifestDigest).toBe(fx.v2Arm64.digest);
    expect(JSON.parse(arm.config.toString()).architecture).toBe('arm64');
    const armV8 = await c.resolve(ref('list'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(armV8.manifestDigest).toBe(fx.v2Arm64.digest);
  });

  it('picks the platform from an OCI index', async () => {
    const c = client();
    const amd = await c.resolve(ref('index'));
    expect(amd.manifestDigest).toBe(fx.oci.digest);
    expect(amd.manifestMediaType).toBe(MediaTypes.OciManifest);
    expect(amd.index?.mediaType).toBe(MediaTypes.OciIndex);
    expect(amd.index?.digest).toBe(fx.index.digest);
    const arm = await c.resolve(ref('index'), { os: 'linux', architecture: 'arm64' });
    expect(arm.manifestDigest).toBe(fx.ociArm64.digest);
  });

  it('names the available platforms when none matches', async () => {
    const e = await rejection(client().resolve(ref('index'), { os: 'linux', architecture: 's390x' }));
    expect(e.message).toBe(
      `${reg.host}/${REPO}:index: no matching manifest for linux/s390x in the manifest list entries (available: linux/amd64, linux/arm64/v8)`,
    );
    const v = await rejection(client().resolve(ref('list'), { os: 'linux', architecture: 'arm64', variant: 'v7' }));
    expect(v.message).toContain('no matching manifest for linux/arm64/v7');
  });

  it('accepts tar, tar+zstd and tar+gzip OCI layers', async () => {
    const r = await client().resolve(ref('mixed'));
    expect(r.layers.map((l) => [l.mediaType, l.compression])).toEqual([
      [MediaTypes.OciLayerTar, 'none'],
      [MediaTypes.OciLayerZstd, 'zstd'],
      [MediaTypes.OciLayerGzip, 'gzip'],
    ]);
    expect(r.config.equals(fx.mixedConfig)).toBe(true);
  });

  it('fails on an unknown tag or repository with the registry reason', async () => {
    const e = await rejection(client().resolve(ref('nope')));
    expect(e.message).toBe(`manifest for ${reg.host}/${REPO}:nope not found: manifest unknown: manifest unknown`);
    expect(e.status).toBe(404);
    expect(e.code).toBe('MANIFEST_UNKNOWN');
    const r = await rejection(client().resolve(ref('latest', 'no/such/repo')));
    expect(r.message).toContain('manifest unknown');
  });

  it('pulls by digest, verifying the manifest digest', async () => {
    const c = client();
    const r = await c.resolve(ref(fx.v2.digest));
    expect(r.reference).toBe(fx.v2.digest);
    expect(r.manifestDigest).toBe(fx.v2.digest);
    // a list by digest still resolves to the platform's manifest
    const l = await c.resolve(ref(fx.list.digest));
    expect(l.index?.digest).toBe(fx.list.digest);
    expect(l.manifestDigest).toBe(fx.v2.digest);
    // name:tag@digest: the digest decides
    const both = await c.resolve({ ...ref('oci'), digest: fx.v2.digest });
    expect(both.manifestDigest).toBe(fx.v2.digest);
    const missing = await rejection(c.resolve(ref(`sha256:${'0'.repeat(64)}`)));
    expect(missing.message).toContain('manifest unknown');
  });

  it('resolves references parsed from strings', async () => {
    const parsed = parseReference(`${reg.host}/${REPO}:index`);
    expect(parsed).toMatchObject({ registry: reg.host, repository: REPO, tag: 'index' });
    const r = await client().resolve(parsed);
    expect(r.manifestDigest).toBe(fx.oci.digest);
  });
});

describe('fetchBlob', () => {
  it('streams a layer and verifies it', async () => {
    const c = client();
    const r = await c.resolve(ref('v2'));
    for (const [i, l] of r.layers.entries()) {
      const s = await c.fetchBlob(r, l);
      const data = await readLimited(s, 1 << 20);
      expect(data.equals(fx.layers[i]!.data)).toBe(true);
    }
  });

  it('errors at the end of a blob whose bytes do not match its digest', async () => {
    const repo = 'test/corrupt';
    const good = randomBytes(64 * 1024);
    const digest = await pusher.blob(repo, good);
    writeFileSync(blobDataPath(reg.dataDir, digest), randomBytes(good.length)); // same size, other bytes
    const c = client();
    const s = await c.fetchBlob({ registry: reg.host, repository: repo }, { digest, size: good.length });
    let ended = false;
    s.on('end', () => (ended = true));
    const e = await rejection(readLimited(s, 1 << 20));
    expect(e.message).toMatch(new RegExp(`^blob ${digest} digest mismatch`));
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(ended).toBe(false); // the stream errors instead of ending
  });

  it('refuses a blob whose size is not the descriptor size', async () => {
    const l = fx.layers[0]!;
    const e = await rejection(client().fetchBlob({ registry: reg.host, repository: REPO }, { digest: l.digest, size: l.size + 1 }));
    expect(e.code).toBe('SIZE_MISMATCH');
  });

  it('reports an unknown blob with the registry reason', async () => {
    const e = await rejection(client().fetchBlob({ registry: reg.host, repository: REPO }, { digest: `sha256:${'1'.repeat(64)}` }));
    expect(e.message).toContain('blob unknown');
    expect(e.status).toBe(404);
  });

  it('pulls a ~100 MB blob at a measured rate', async () => {
    const repo = 'test/big';
    const size = 100 * 1024 * 1024;
    const data = randomBytes(size);
    const digest = await pusher.blob(repo, data);
    const c = client();
    const t0 = process.hrtime.bigint();
    const s = await c.fetchBlob({ registry: reg.host, repository: repo }, { digest, size });
    await pipeline(s, createWriteStream('/dev/null'));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const rss = process.memoryUsage().rss;
    // eslint-disable-next-line no-console
    console.log(`fetchBlob 100 MiB → /dev/null: ${secs.toFixed(2)} s, ${(100 / secs).toFixed(0)} MiB/s (rss ${(rss / 1048576).toFixed(0)} MiB)`);
    expect(secs).toBeLessThan(60);
  }, 120_000);
});

describe('insecure registries and connection errors', () => {
  it('reaches a plain http registry only when it is listed as insecure', async () => {
    const e = await rejection(client({ insecureRegistries: [] }).resolve(ref('v2')));
    expect(e.message).toContain(`https://${reg.host}/v2/`);
    expect(e.message).toContain(`list ${reg.host} in insecure-registries`);
    const ok = await client({ insecureRegistries: ['127.0.0.0/8'] }).resolve(ref('v2'));
    expect(ok.scheme).toBe('http');
  });

  it('reports connection refused', async () => {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const e = await rejection(client({ insecureRegistries: [host] }).resolve({ registry: host, repository: 'x', tag: 'latest' }));
    expect(e.message).toBe(`Get "http://${host}/v2/": connect ECONNREFUSED ${host}`);
    expect(e.code).toBe('ECONNREFUSED');
  });

  it('tries mirrors first for unqualified names, then the default host', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const constants = { defaultHost: reg.host, registryTransformation: {} };
    const parsed = parseReference('test/img:v2', constants);
    expect(parsed.qualified).toBe(false);
    const candidates = withMirrors(parsed, [`http://${dead}`], constants);
    expect(candidates.map((c) => c.registry)).toEqual([dead, reg.host]);
    const r = await client({ insecureRegistries: [reg.host, dead], constants }).resolveFirst(candidates);
    expect(r.registry).toBe(reg.host);
    expect(r.manifestDigest).toBe(fx.v2.digest);
    expect(displayName(parsed, constants)).toBe('test/img:v2');
  });
});
