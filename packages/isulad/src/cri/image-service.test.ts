/**
 * CRI ImageService over a real image store (SQLite in a temp dir; layers faked by their sizes), a
 * real Puller + RegistryClient against a registry in Node that wants Basic auth, and the RPCs
 * served through grpc-adapter's bindUnary to a gRPC client, so what kubelet reads is what is tested.
 */
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ImageService, type cri } from '@isula/cri-api';
import type { DeepPartial, MethodDescriptor } from '@isula/protocol';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DaemonLogger } from '../log/logger';
import { MetadataDb } from '../metadata/db';
import { AuthStore } from '../image/auths';
import { Images } from '../image/images';
import { Puller } from '../image/pull';
import { DEFAULT_DAEMON_CONSTANTS } from '../image/reference';
import { RegistryClient } from '../image/registry/client';
import { ImageStore, type ImageRecord } from '../image/store';
import { bindUnary, grpcDefinition } from '../server/grpc-adapter';
import type { LayerStore } from '../storage/layer-store';
import { chainIdOf } from '../storage/layer-store';
import { credentialsOf, criImageService, diskUsage, userOf, type CriImageServiceDeps } from './image-service';

const logger = pino({ level: 'silent' }) as unknown as DaemonLogger;
const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const dirs: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), `${prefix}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Just what Images and Puller ask of the layer store: layers known by chain id, with sizes. */
class FakeLayers {
  readonly layers = new Map<string, { size: number; refs: number }>();
  add(id: string, size: number): string {
    this.layers.set(id, { size, refs: 0 });
    return id;
  }
  get(id: string) {
    const l = this.layers.get(id);
    return l ? { id, size: l.size } : undefined;
  }
  addRef(id: string) {
    return ++this.layers.get(id)!.refs;
  }
  async release(id: string) {
    const l = this.layers.get(id)!;
    if (--l.refs === 0) this.layers.delete(id);
  }
  async applyLayer(stream: Readable, opts: { parent: string | null; expectedDiffId?: string }) {
    let size = 0;
    for await (const chunk of stream) size += (chunk as Buffer).length;
    const id = chainIdOf(opts.parent, opts.expectedDiffId!);
    this.add(id, size);
    return { id, size };
  }
}

function newImages(): { images: Images; layers: FakeLayers } {
  const dir = temp('cri-images');
  const meta = MetadataDb.open(join(dir, 'isulad.db'));
  const layers = new FakeLayers();
  const images = new Images({ store: new ImageStore(meta), layers: layers as unknown as LayerStore, constants: DEFAULT_DAEMON_CONSTANTS, tmpdir: dir, logger });
  return { images, layers };
}

const config = (user: string | undefined, diffIds: string[], extra: object = {}) =>
  JSON.stringify({ created: '2024-01-01T00:00:00Z', architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], ...(user !== undefined ? { User: user } : {}) }, rootfs: { type: 'layers', diff_ids: diffIds }, ...extra });

async function addImage(images: Images, layers: FakeLayers, names: string[], user?: string, digests: string[] = [], salt = names.join()): Promise<ImageRecord> {
  const diffId = sha256(`layer ${salt}`);
  layers.add(chainIdOf(null, diffId), 1000 + salt.length);
  return images.register(config(user, [diffId], { comment: salt }), [chainIdOf(null, diffId)], names, digests);
}

// ------------------------------------------------------------------ gRPC round trip

type Impl = ReturnType<typeof criImageService>;
let server: grpc.Server | undefined;
let client: grpc.Client | undefined;
let current: Impl = {};

beforeAll(async () => {
  const sock = join(temp('cri-sock'), 'cri.sock');
  server = new grpc.Server();
  // Handlers forward to `current`, so each test can serve its own deps.
  const forward = Object.fromEntries(
    Object.keys(ImageService.methods).map((name) => [name, (req: unknown, ctx: unknown) => (current as Record<string, (r: unknown, c: unknown) => Promise<unknown>>)[name]!(req, ctx)]),
  ) as Impl;
  server.addService(grpcDefinition(ImageService), bindUnary(ImageService, forward, { debug: () => undefined, error: () => undefined }));
  await new Promise<void>((resolve, reject) => server!.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  client = new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
});

async function call<Req, Res>(m: MethodDescriptor<Req, Res, false, false>, req: DeepPartial<Req>): Promise<Res> {
  return new Promise((resolve, reject) =>
    client!.makeUnaryRequest(
      m.path,
      (r: Req) => Buffer.from(m.encode(r)),
      (b: Buffer) => m.decode(b),
      m.createRequest(req),
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}
const rpc = ImageService.methods;

function serve(deps: Partial<CriImageServiceDeps> & Pick<CriImageServiceDeps, 'images'>): Impl {
  current = criImageService({
    puller: { pull: async () => Promise.reject(new Error('no puller')) },
    auths: { get: async () => undefined },
    graph: temp('cri-graph'),
    ...deps,
  });
  return current;
}

// ------------------------------------------------------------------ list / status / remove

describe('ListImages and ImageStatus', () => {
  let images: Images;
  let layers: FakeLayers;
  let busybox: ImageRecord;
  let busyboxOld: ImageRecord;
  let app: ImageRecord;
  let dangling: ImageRecord;
  const digest = `sha256:${'d'.repeat(64)}`;

  beforeAll(async () => {
    ({ images, layers } = newImages());
    busybox = await addImage(images, layers, ['busybox:latest', 'busybox:1.36'], undefined, [`busybox@${digest}`]);
    busyboxOld = await addImage(images, layers, ['busybox:1.35'], '1000:1000');
    app = await addImage(images, layers, ['127.0.0.1:5000/team/app:v1'], 'nginx');
    dangling = await addImage(images, layers, [], '0', [], 'dangling');
  });
  beforeEach(() => serve({ images }));

  it('lists every image once, with CRI ids, names as stored, bigint sizes and the user', async () => {
    const res = await call(rpc.ListImages, {});
    expect(res.images).toHaveLength(4);
    const byId = new Map(res.images.map((i) => [i.id, i]));
    expect(byId.get(`sha256:${busybox.id}`)).toEqual({
      id: `sha256:${busybox.id}`,
      repoTags: ['busybox:1.36', 'busybox:latest'],
      repoDigests: [`busybox@${digest}`],
      size: BigInt(busybox.size),
      uid: undefined,
      username: '',
      spec: { image: `sha256:${busybox.id}`, annotations: {}, userSpecifiedImage: '', runtimeHandler: '' },
      pinned: false,
    });
    expect(busybox.size).toBeGreaterThan(0);
    expect(byId.get(`sha256:${busyboxOld.id}`)?.uid).toEqual({ value: 1000n });
    expect(byId.get(`sha256:${app.id}`)).toMatchObject({ repoTags: ['127.0.0.1:5000/team/app:v1'], uid: undefined, username: 'nginx' });
    expect(byId.get(`sha256:${dangling.id}`)).toMatchObject({ repoTags: [], uid: { value: 0n }, username: '' });
  });

  it('filters by reference: a repository lists its tags, a tag, id, prefix or digest one image', async () => {
    const ids = async (image: string) => (await call(rpc.ListImages, { filter: { image: { image } } })).images.map((i) => i.id).sort();
    const bb = [`sha256:${busybox.id}`, `sha256:${busyboxOld.id}`].sort();
    expect(await ids('busybox')).toEqual(bb);
    expect(await ids('docker.io/library/busybox')).toEqual(bb);
    expect(await ids('busybox:1.35')).toEqual([`sha256:${busyboxOld.id}`]);
    expect(await ids('docker.io/library/busybox:latest')).toEqual([`sha256:${busybox.id}`]);
    expect(await ids(`sha256:${app.id}`)).toEqual([`sha256:${app.id}`]);
    expect(await ids(app.id.slice(0, 12))).toEqual([`sha256:${app.id}`]);
    expect(await ids(`busybox@${digest}`)).toEqual([`sha256:${busybox.id}`]);
    expect(await ids('127.0.0.1:5000/team/app')).toEqual([`sha256:${app.id}`]);
    expect(await ids('nginx')).toEqual([]);
    expect(await ids('Not A Reference')).toEqual([]);
  });

  it('answers the status of an image by any of its references', async () => {
    for (const ref of ['busybox', 'busybox:1.36', 'docker.io/library/busybox:latest', `sha256:${busybox.id}`, busybox.id, `busybox@${digest}`]) {
      const res = await call(rpc.ImageStatus, { image: { image: ref } });
      expect(res.image?.id, ref).toBe(`sha256:${busybox.id}`);
      expect(res.info).toEqual({});
    }
  });

  it('adds the config as JSON in info when verbose', async () => {
    const res = await call(rpc.ImageStatus, { image: { image: 'busybox:1.35' }, verbose: true });
    const info = JSON.parse(res.info.info!) as Record<string, unknown>;
    expect(info).toMatchObject({ id: `sha256:${busyboxOld.id}`, repoTags: ['busybox:1.35'], chainID: busyboxOld.layers[0], layers: busyboxOld.layers, size: busyboxOld.size });
    expect(info.imageSpec).toEqual(JSON.parse(busyboxOld.config));
    expect((info.imageSpec as { config: { User: string } }).config.User).toBe('1000:1000');
  });

  it('answers an empty status for a missing image (CRI), not an error', async () => {
    for (const ref of ['nginx:latest', `sha256:${'e'.repeat(64)}`, 'Not A Reference', '']) {
      const res = await call(rpc.ImageStatus, { image: { image: ref }, verbose: true });
      expect(res.image, ref).toBeUndefined();
      expect(res.info).toEqual({});
    }
  });
});

describe('RemoveImage', () => {
  it('removes the image a tag, digest or id names, with all its names and layers', async () => {
    const { images, layers } = newImages();
    const a = await addImage(images, layers, ['busybox:latest', 'busybox:1.36'], undefined, [`busybox@sha256:${'d'.repeat(64)}`]);
    const b = await addImage(images, layers, ['alpine:3'], undefined, [`alpine@sha256:${'a'.repeat(64)}`]);
    const c = await addImage(images, layers, ['nginx:1']);
    serve({ images });
    expect(await call(rpc.RemoveImage, { image: { image: 'busybox:1.36' } })).toEqual({});
    expect((await call(rpc.ImageStatus, { image: { image: 'busybox:latest' } })).image).toBeUndefined();
    expect(layers.get(a.layers[0]!)).toBeUndefined();
    await call(rpc.RemoveImage, { image: { image: `alpine@sha256:${'a'.repeat(64)}` } });
    await call(rpc.RemoveImage, { image: { image: `sha256:${c.id}` } });
    expect((await call(rpc.ListImages, {})).images).toEqual([]);
    expect(b.id).not.toBe(c.id);
  });

  it('succeeds for an image that is not there (idempotent)', async () => {
    const { images } = newImages();
    serve({ images });
    for (const ref of ['busybox:latest', `sha256:${'e'.repeat(64)}`, 'Not A Reference', '']) {
      expect(await call(rpc.RemoveImage, { image: { image: ref } })).toEqual({});
    }
  });

  it('tolerates the image vanishing between lookup and removal', async () => {
    const { images, layers } = newImages();
    const a = await addImage(images, layers, ['busybox:latest']);
    serve({ images: { list: (f) => images.list(f), resolve: (r) => images.resolve(r), remove: async (r, f) => (await images.remove(r, f), images.remove(r, f)) } });
    await expect(call(rpc.RemoveImage, { image: { image: `sha256:${a.id}` } })).resolves.toEqual({});
  });

  it('reports a real failure (image in use) as an error', async () => {
    const dir = temp('cri-images');
    const layers = new FakeLayers();
    const images = new Images({ store: new ImageStore(MetadataDb.open(join(dir, 'db'))), layers: layers as unknown as LayerStore, constants: DEFAULT_DAEMON_CONSTANTS, tmpdir: dir, logger, usedBy: () => 'web' });
    await addImage(images, layers, ['busybox:latest']);
    serve({ images });
    await expect(call(rpc.RemoveImage, { image: { image: 'busybox' } })).rejects.toMatchObject({ code: grpc.status.INTERNAL, details: 'Image used by web' });
    expect((await call(rpc.ImageStatus, { image: { image: 'busybox' } })).image).toBeDefined();
  });
});

// ------------------------------------------------------------------ pull

describe('credentials of an AuthConfig', () => {
  const auth = (a: Partial<cri.AuthConfig>): cri.AuthConfig => ({ username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '', ...a });
  it('takes username/password first, then base64 auth, nothing for an empty config', () => {
    expect(credentialsOf(undefined)).toBeUndefined();
    expect(credentialsOf(auth({}))).toBeUndefined();
    expect(credentialsOf(auth({ username: 'u', password: 'p', auth: Buffer.from('x:y').toString('base64') }))).toEqual({ username: 'u', password: 'p' });
    expect(credentialsOf(auth({ auth: Buffer.from('user:pa:ss\0').toString('base64') }))).toEqual({ username: 'user', password: 'pa:ss' });
  });
  it('refuses malformed auth and token kinds the registry client cannot use, without echoing secrets', () => {
    expect(() => credentialsOf(auth({ auth: 'not base64!' }))).toThrow('invalid auth: not base64');
    expect(() => credentialsOf(auth({ auth: Buffer.from('secretnocolon').toString('base64') }))).toThrow(/^PullImage: invalid auth: the decoded value is not user:password$/);
    expect(() => credentialsOf(auth({ identityToken: 'tok' }))).toThrow('identity tokens are not supported');
    expect(() => credentialsOf(auth({ registryToken: 'tok' }))).toThrow('registry tokens are not supported');
  });
  it('reads the user the way containerd does', () => {
    expect(userOf(undefined)).toEqual({ username: '' });
    expect(userOf('')).toEqual({ username: '' });
    expect(userOf('0')).toEqual({ uid: 0n, username: '' });
    expect(userOf('1000:1000')).toEqual({ uid: 1000n, username: '' });
    expect(userOf('nobody:nogroup')).toEqual({ username: 'nobody' });
    expect(userOf('99999999999999999999')).toEqual({ username: '99999999999999999999' });
  });
});

describe('PullImage', () => {
  it('passes the request credentials to the pull, for the image registry only and that pull only', async () => {
    const { images, layers } = newImages();
    const auths = { get: async (r: string) => (r === 'stored.example' ? { username: 'saved', password: 's' } : undefined) };
    const seen: Array<Record<string, unknown>> = [];
    // A puller that asks the login store as the registry client does (registry as named, then host).
    const puller = {
      pull: async (name: string) => {
        seen.push({
          name,
          'docker.io': await auths.get('docker.io'),
          'registry-1.docker.io': await auths.get('registry-1.docker.io'),
          'mirror.example': await auths.get('mirror.example'),
          'reg.example:5000': await auths.get('reg.example:5000'),
          'stored.example': await auths.get('stored.example'),
        });
        return addImage(images, layers, [name], undefined, [], `${name}${seen.length}`);
      },
    };
    serve({ images, puller, auths });
    const res = await call(rpc.PullImage, { image: { image: 'busybox' }, auth: { username: 'u', password: 'p' } });
    expect(res.imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await call(rpc.ImageStatus, { image: { image: res.imageRef } })).image?.repoTags).toEqual(['busybox']);
    expect(seen[0]).toEqual({
      name: 'busybox',
      'docker.io': { username: 'u', password: 'p' },
      'registry-1.docker.io': { username: 'u', password: 'p' },
      'mirror.example': undefined,
      'reg.example:5000': undefined,
      'stored.example': { username: 'saved', password: 's' },
    });
    // base64 `auth` with a server address: only that registry gets them.
    await call(rpc.PullImage, { image: { image: 'reg.example:5000/app:1' }, auth: { auth: Buffer.from('v:w').toString('base64'), serverAddress: 'https://reg.example:5000/v2/' } });
    expect(seen[1]).toMatchObject({ 'docker.io': undefined, 'reg.example:5000': { username: 'v', password: 'w' } });
    // Docker Hub's index address covers docker.io.
    await call(rpc.PullImage, { image: { image: 'library/alpine:3' }, auth: { username: 'x', password: 'y', serverAddress: 'https://index.docker.io/v1/' } });
    expect(seen[2]).toMatchObject({ 'docker.io': { username: 'x', password: 'y' }, 'registry-1.docker.io': { username: 'x', password: 'y' } });
    // No auth: stored logins only; and nothing of the earlier requests is left behind.
    await call(rpc.PullImage, { image: { image: 'busybox:1' } });
    expect(seen[3]).toMatchObject({ 'docker.io': undefined, 'reg.example:5000': undefined, 'stored.example': { username: 'saved', password: 's' } });
    expect(await auths.get('docker.io')).toBeUndefined();
  });

  it('keeps concurrent pulls credentials apart', async () => {
    const { images, layers } = newImages();
    const auths = { get: async (_r: string): Promise<{ username: string; password: string } | undefined> => undefined };
    const seen = new Map<string, unknown>();
    const puller = {
      pull: async (name: string) => {
        await new Promise((r) => setTimeout(r, name.endsWith('a') ? 30 : 5));
        seen.set(name, await auths.get('docker.io'));
        return addImage(images, layers, [name]);
      },
    };
    serve({ images, puller, auths });
    await Promise.all([
      call(rpc.PullImage, { image: { image: 'a' }, auth: { username: 'ua', password: 'pa' } }),
      call(rpc.PullImage, { image: { image: 'b' }, auth: { username: 'ub', password: 'pb' } }),
      call(rpc.PullImage, { image: { image: 'c' } }),
    ]);
    expect(Object.fromEntries(seen)).toEqual({ a: { username: 'ua', password: 'pa' }, b: { username: 'ub', password: 'pb' }, c: undefined });
  });

  it('fails clearly: bad requests as INVALID_ARGUMENT, token auth as UNIMPLEMENTED, a failed pull as INTERNAL', async () => {
    const { images } = newImages();
    const asked: string[] = [];
    serve({ images, puller: { pull: async (name) => (asked.push(name), Promise.reject(new Error('manifest unknown'))) } });
    const { INVALID_ARGUMENT, UNIMPLEMENTED, INTERNAL } = grpc.status;
    await expect(call(rpc.PullImage, { image: { image: '' } })).rejects.toMatchObject({ code: INVALID_ARGUMENT, details: 'PullImage: the image reference is empty' });
    await expect(call(rpc.PullImage, { image: { image: 'Busy Box' } })).rejects.toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining('invalid reference format') });
    await expect(call(rpc.PullImage, { image: { image: 'busybox' }, auth: { auth: '%%' } })).rejects.toMatchObject({ code: INVALID_ARGUMENT, details: 'PullImage: invalid auth: not base64' });
    await expect(call(rpc.PullImage, { image: { image: 'busybox' }, auth: { identityToken: 't' } })).rejects.toMatchObject({ code: UNIMPLEMENTED, details: expect.stringContaining('identity tokens') });
    expect(asked).toEqual([]);
    await expect(call(rpc.PullImage, { image: { image: 'busybox' } })).rejects.toMatchObject({ code: INTERNAL, details: 'manifest unknown' });
  });

  describe('through the real Puller and RegistryClient', () => {
    const USER = 'kube';
    const PASS = 's3cret';
    const layerData = Buffer.from('layer bytes, not checked by the fake layer store');
    const diffId = sha256('uncompressed layer');
    const configRaw = Buffer.from(config('1000', [diffId]));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(configRaw), size: configRaw.length },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: sha256(layerData), size: layerData.length }],
      }),
    );
    const blobs = new Map([
      [sha256(configRaw), configRaw],
      [sha256(layerData), layerData],
    ]);
    const authorizations: Array<string | undefined> = [];
    let registry: Server;
    let host: string;
    let registryClient: RegistryClient;
    let authStore: AuthStore;
    let images: Images;

    beforeAll(async () => {
      registry = createServer((req, res) => {
        authorizations.push(req.headers.authorization);
        if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
          return;
        }
        const path = new URL(req.url!, 'http://x').pathname;
        if (path === '/v2/') return void res.writeHead(200).end('{}');
        if (path === '/v2/team/app/manifests/v1') {
          return void res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json', 'docker-content-digest': sha256(manifest), 'content-length': manifest.length }).end(manifest);
        }
        const blob = /^\/v2\/team\/app\/blobs\/(.+)$/.exec(path);
        const body = blob ? blobs.get(decodeURIComponent(blob[1]!)) : undefined;
        if (body) return void res.writeHead(200, { 'content-length': body.length }).end(body);
        res.writeHead(404).end();
      });
      await new Promise<void>((r) => registry.listen(0, '127.0.0.1', () => r()));
      host = `127.0.0.1:${(registry.address() as { port: number }).port}`;
      authStore = new AuthStore(temp('cri-auths'));
      // Wired as the engine does: the client asks the login store at call time.
      registryClient = new RegistryClient({
        insecureRegistries: [host],
        skipVerifyEnforce: false,
        certsDir: temp('cri-certs'),
        credentials: (h) => authStore.get(h),
        logger,
        userAgent: 'isulad-test/0',
      });
      const made = newImages();
      images = made.images;
      const puller = new Puller({ images, layers: made.layers as unknown as LayerStore, registry: registryClient, constants: DEFAULT_DAEMON_CONSTANTS, mirrors: [], logger });
      current = criImageService({ images, puller, auths: authStore, registry: registryClient, graph: temp('cri-graph') });
    });
    afterAll(async () => {
      await registryClient?.close();
      registry?.closeAllConnections();
      await new Promise((r) => registry?.close(r));
    });

    it('is refused without credentials, pulls with them, and keeps none', async () => {
      const ref = `${host}/team/app:v1`;
      await expect(call(rpc.PullImage, { image: { image: ref } })).rejects.toMatchObject({ details: expect.stringMatching(/authentication required|unauthorized/i) });
      await expect(call(rpc.PullImage, { image: { image: ref }, auth: { username: USER, password: 'wrong' } })).rejects.toMatchObject({ code: grpc.status.INTERNAL });

      const res = await call(rpc.PullImage, { image: { image: ref }, auth: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64'), serverAddress: host } });
      expect(res.imageRef).toBe(sha256(configRaw));
      const status = await call(rpc.ImageStatus, { image: { image: ref } });
      expect(status.image).toMatchObject({ id: sha256(configRaw), repoTags: [ref], repoDigests: [`${host}/team/app@${sha256(manifest)}`], uid: { value: 1000n } });
      expect(status.image!.size).toBe(BigInt(layerData.length));

      // Nothing was saved: the next pull without auth is refused again.
      expect(await authStore.get(host)).toBeUndefined();
      await call(rpc.RemoveImage, { image: { image: res.imageRef } });
      await expect(call(rpc.PullImage, { image: { image: ref } })).rejects.toMatchObject({ code: grpc.status.INTERNAL });
      expect(authorizations).toContain(`Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`);

      // An `isula login` still serves pulls without auth.
      await authStore.save(host, USER, PASS);
      expect((await call(rpc.PullImage, { image: { image: ref } })).imageRef).toBe(sha256(configRaw));
    });
  });
});

// ------------------------------------------------------------------ image filesystem

describe('ImageFsInfo', () => {
  it('reports <graph>/storage: du-like bytes and inodes, links once, cached for a while', async () => {
    const graph = temp('cri-fs');
    const storage = join(graph, 'storage');
    mkdirSync(join(storage, 'overlay', 'l1', 'diff', 'etc'), { recursive: true });
    writeFileSync(join(storage, 'overlay', 'l1', 'diff', 'etc', 'a'), Buffer.alloc(64 * 1024, 1));
    linkSync(join(storage, 'overlay', 'l1', 'diff', 'etc', 'a'), join(storage, 'overlay', 'l1', 'diff', 'b'));
    writeFileSync(join(storage, 'overlay', 'x'), 'x');
    const { images } = newImages();
    const impl = criImageService({ images, puller: { pull: async () => Promise.reject(new Error('x')) }, auths: { get: async () => undefined }, graph, fsInfoCacheMs: 60_000 });
    current = impl;
    const before = BigInt(Date.now()) * 1_000_000n;
    const res = await call(rpc.ImageFsInfo, {});
    expect(res.imageFilesystems).toHaveLength(1);
    const fs = res.imageFilesystems[0]!;
    expect(fs.fsId).toEqual({ mountpoint: storage });
    expect(fs.timestamp).toBeGreaterThanOrEqual(before);
    // storage, overlay, l1, diff, etc, a (=b), x
    expect(fs.inodesUsed).toEqual({ value: 7n });
    expect(fs.usedBytes!.value).toBeGreaterThanOrEqual(64n * 1024n);
    expect(fs.usedBytes!.value).toBeLessThan(2n * 64n * 1024n + 6n * 64n * 1024n);
    expect(fs).toEqual(await impl.ImageFsInfo!({}, { metadata: new grpc.Metadata(), peer: 'test' }).then((r) => ImageService.methods.ImageFsInfo.createResponse(r).imageFilesystems[0]));

    // Cached: a new file shows only once the cache has expired.
    writeFileSync(join(storage, 'y'), 'y');
    expect((await call(rpc.ImageFsInfo, {})).imageFilesystems[0]!.inodesUsed).toEqual({ value: 7n });
    const fresh = criImageService({ images, puller: { pull: async () => Promise.reject(new Error('x')) }, auths: { get: async () => undefined }, graph, fsInfoCacheMs: 0 });
    expect((await fresh.ImageFsInfo!({}, { metadata: new grpc.Metadata(), peer: 'test' })).imageFilesystems![0]!.inodesUsed).toEqual({ value: 8n });
  });

  it('walks once for concurrent callers and reports an empty storage as zero', async () => {
    const graph = temp('cri-fs');
    const { images } = newImages();
    const impl = criImageService({ images, puller: { pull: async () => Promise.reject(new Error('x')) }, auths: { get: async () => undefined }, graph });
    const ctx = { metadata: new grpc.Metadata(), peer: 'test' };
    const [a, b] = await Promise.all([impl.ImageFsInfo!({}, ctx), impl.ImageFsInfo!({}, ctx)]);
    expect(a.imageFilesystems![0]).toBe(b.imageFilesystems![0]); // one walk, one answer
    expect(a.imageFilesystems![0]).toMatchObject({ fsId: { mountpoint: join(graph, 'storage') }, usedBytes: { value: 0n }, inodesUsed: { value: 0n } });
  });

  it('does not descend into other filesystems (overlay merged mounts)', async (t) => {
    const root = temp('cri-du');
    writeFileSync(join(root, 'f'), 'data');
    mkdirSync(join(root, 'merged'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(root, 'merged')], { stdio: 'ignore' });
    } catch {
      t.skip(); // mounting needs root
    }
    try {
      for (let i = 0; i < 20; i++) writeFileSync(join(root, 'merged', `m${i}`), Buffer.alloc(8192, 1));
      // root and f; the mount point is another filesystem, counted as nothing.
      expect(await diskUsage(root)).toEqual({ bytes: expect.any(BigInt), inodes: 2n });
    } finally {
      execFileSync('umount', [join(root, 'merged')]);
    }
  });
});
