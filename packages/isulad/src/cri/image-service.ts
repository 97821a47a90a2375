/**
 * CRI `runtime.v1.ImageService` over the image domain: ListImages, ImageStatus, PullImage (with the
 * request's registry credentials), RemoveImage and ImageFsInfo.
 *
 * CRI rules kept here, unlike `isula`'s own image service:
 * - ImageStatus of an image that is not there answers an empty response (no `image`), not an error;
 * - RemoveImage of an image that is not there succeeds (the call is idempotent);
 * - ids are `sha256:<hex>`, PullImage answers the id as `image_ref`.
 *
 * Names: `repo_tags` / `repo_digests` are the names as the image store keeps them, which is what
 * upstream iSulad reports too (its store strips `docker.io/library/`): `busybox:latest`,
 * `busybox@sha256:…`, `127.0.0.1:5000/app:1`. containerd would show `docker.io/library/busybox:latest`;
 * kubelet only displays these and looks images up through ImageStatus, which accepts either form.
 */
import { status } from '@grpc/grpc-js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { cri, ImageService } from '@isula/cri-api';
import type { DeepPartial } from '@isula/protocol';
import type { DaemonConstants } from '../config/types';
import type { Registry } from '../daemon/engine';
import type { AuthStore } from '../image/auths';
import { ImageError, noSuchImage } from '../image/errors';
import type { Images } from '../image/images';
import type { Puller } from '../image/pull';
import { DEFAULT_DAEMON_CONSTANTS, displayName, parseReference, type ImageReference } from '../image/reference';
import type { ImageRecord } from '../image/store';
import type { UnaryImpl } from '../server/grpc-adapter';

export interface CriImageServiceDeps {
  images: Pick<Images, 'list' | 'resolve' | 'remove'>;
  puller: Pick<Puller, 'pull'>;
  /**
   * The login store the registry client asks for credentials (`credentials: (host) => auths.get(host)`
   * in the engine). PullImage's credentials reach the registry through it, for that pull only.
   */
  auths: Pick<AuthStore, 'get'>;
  /** The daemon's graph (`/var/lib/isulad`): ImageFsInfo reports `<graph>/storage`, where the layers live. */
  graph: string;
  /** Not used: accepted so the wiring can hand over the engine's image dependencies as they are. */
  registry?: Registry;
  /** daemon_constants.json (default host, registry-transformation); the spec's defaults otherwise. */
  constants?: DaemonConstants;
  /** How long an ImageFsInfo answer is reused, in ms (default 5000). */
  fsInfoCacheMs?: number;
}

/** Registry credentials in the form the registry client takes. */
export interface PullCredentials {
  username: string;
  password: string;
}

const DEFAULT_FS_INFO_CACHE_MS = 5000;
/** Directories read at once by the ImageFsInfo walk, and entries stat'ed at once per directory. */
const WALK_DIRS = 8;
const WALK_STATS = 32;
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

// ------------------------------------------------------------------ pull credentials

/** A refused request: the adapter answers its `grpcCode` (INVALID_ARGUMENT, UNIMPLEMENTED) with the message. */
function refused(message: string, grpcCode: status = status.INVALID_ARGUMENT): Error {
  return Object.assign(new Error(message), { grpcCode });
}

interface CredentialScope {
  /** Registries (as named or as contacted) the credentials are for. */
  registries: string[];
  credentials: PullCredentials;
}

const pullScope = new AsyncLocalStorage<CredentialScope>();
const SCOPED = Symbol.for('isulad.cri.pullCredentials');

/** `https://index.docker.io/v1/` → `index.docker.io`; `reg:5000` stays. */
function hostOf(address: string): string {
  return address.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
}

function sameRegistry(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || (DOCKER_HUB.has(x) && DOCKER_HUB.has(y));
}

/**
 * Makes `auths.get` answer the credentials of the CRI pull it is called from (found through
 * AsyncLocalStorage), and the stored logins otherwise. The puller has no per-call credentials; the
 * registry client asks this store for every registry it contacts, so this is the one place where a
 * request's credentials can reach it without being saved anywhere. Installed once per store.
 */
function scopeCredentials(auths: Pick<AuthStore, 'get'>): void {
  const marked = auths as { [SCOPED]?: true };
  if (marked[SCOPED]) return;
  const stored = auths.get.bind(auths);
  const get: AuthStore['get'] = async (registry) => {
    const scope = pullScope.getStore();
    if (scope && scope.registries.some((r) => sameRegistry(r, registry))) return { ...scope.credentials };
    return stored(registry);
  };
  Object.defineProperty(auths, 'get', { value: get, configurable: true, writable: true });
  Object.defineProperty(auths, SCOPED, { value: true });
}

/**
 * The credentials of a CRI AuthConfig, as containerd reads them: username/password first, then
 * `auth` (base64 `user:password`). Identity and registry tokens need an OAuth2 / bearer exchange
 * the registry client does not do: refused with a clear message rather than pulling anonymously.
 * Undefined when the config carries nothing (anonymous, or the stored `isula login`).
 */
export function credentialsOf(auth: cri.AuthConfig | undefined): PullCredentials | undefined {
  if (!auth) return undefined;
  if (auth.username !== '') return { username: auth.username, password: auth.password };
  if (auth.auth !== '') {
    const text = auth.auth.trim();
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw refused('PullImage: invalid auth: not base64');
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw refused('PullImage: invalid auth: the decoded value is not user:password');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/\0+$/, '') };
  }
  if (auth.identityToken !== '') throw refused('PullImage: identity tokens are not supported, pass a username and password', status.UNIMPLEMENTED);
  if (auth.registryToken !== '') throw refused('PullImage: registry tokens are not supported, pass a username and password', status.UNIMPLEMENTED);
  return undefined;
}

/**
 * Which registries a pull's credentials go to: the one `server_address` names, else the image's own
 * registry (as named and as contacted after registry-transformation) and never a mirror.
 */
function credentialRegistries(image: ImageReference, serverAddress: string, constants: DaemonConstants): string[] {
  if (serverAddress.trim() !== '') return [hostOf(serverAddress)];
  const contacted = constants.registryTransformation[image.registry];
  return contacted !== undefined ? [image.registry, contacted] : [image.registry];
}

// ------------------------------------------------------------------ images

interface ImageConfig {
  config?: { User?: string };
}

function parseConfig(raw: string): ImageConfig | undefined {
  try {
    return JSON.parse(raw) as ImageConfig;
  } catch {
    return undefined;
  }
}

/** containerd's rule: `uid[:gid]` numeric → uid, otherwise the user name; nothing when unset. */
export function userOf(user: string | undefined): { uid?: bigint; username: string } {
  if (user === undefined || user === '') return { username: '' };
  const name = user.split(':')[0]!;
  if (/^\d{1,19}$/.test(name) && BigInt(name) <= 0x7fffffffffffffffn) return { uid: BigInt(name), username: '' };
  return { username: name };
}

function toCriImage(rec: ImageRecord): DeepPartial<cri.Image> {
  const { uid, username } = userOf(parseConfig(rec.config)?.config?.User);
  const id = `sha256:${rec.id}`;
  return {
    id,
    repoTags: rec.names,
    repoDigests: rec.digests,
    size: BigInt(rec.size),
    ...(uid !== undefined ? { uid: { value: uid } } : {}),
    username,
    spec: { image: id },
    pinned: false,
  };
}

/** The image a CRI reference names (id, id prefix, name or digest name), or undefined. */
function lookup(images: CriImageServiceDeps['images'], ref: string): ImageRecord | undefined {
  if (ref === '') return undefined;
  try {
    return images.resolve(ref);
  } catch (err) {
    if (isNoSuchImage(err, ref)) return undefined;
    throw err;
  }
}

function isNoSuchImage(err: unknown, ref: string): boolean {
  return err instanceof ImageError && err.message === noSuchImage(ref).message;
}

// ------------------------------------------------------------------ image filesystem

interface Usage {
  bytes: bigint;
  inodes: bigint;
}

const ignorable = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * `du -x` of a directory, asynchronously: disk blocks and inodes, hard links counted once, symlinks
 * not followed, and nothing below another mount (containers' overlay `merged` mounts live inside
 * the storage directory). Entries vanishing during the walk are skipped. A missing root is empty.
 */
export async function diskUsage(root: string): Promise<Usage> {
  let top;
  try {
    top = await lstat(root, { bigint: true });
  } catch (err) {
    if (ignorable(err)) return { bytes: 0n, inodes: 0n };
    throw err;
  }
  const usage: Usage = { bytes: top.blocks * 512n, inodes: 1n };
  if (!top.isDirectory()) return usage;
  const dev = top.dev;
  const linked = new Set<bigint>();

  const visit = async (dir: string, found: string[]) => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (ignorable(err)) return;
      throw err;
    }
    for (let i = 0; i < names.length; i += WALK_STATS) {
      await Promise.all(
        names.slice(i, i + WALK_STATS).map(async (name) => {
          const path = join(dir, name);
          let st;
          try {
            st = await lstat(path, { bigint: true });
          } catch (err) {
            if (ignorable(err)) return;
            throw err;
          }
          if (st.dev !== dev) return; // a mount point: another filesystem
          if (st.isDirectory()) found.push(path);
          else if (st.nlink > 1n) {
            if (linked.has(st.ino)) return;
            linked.add(st.ino);
          }
          usage.bytes += st.blocks * 512n;
          usage.inodes += 1n;
        }),
      );
    }
  };

  // A few directories at a time, depth first, so the pending list stays small.
  const pending: string[] = [root];
  await new Promise<void>((resolve, reject) => {
    let active = 0;
    let failed = false;
    const pump = () => {
      if (failed) return;
      if (pending.length === 0 && active === 0) return resolve();
      while (active < WALK_DIRS && pending.length > 0) {
        const dir = pending.pop()!;
        const found: string[] = [];
        active++;
        visit(dir, found).then(
          () => {
            active--;
            pending.push(...found);
            pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    pump();
  });
  return usage;
}

// ------------------------------------------------------------------ the service

/** runtime.v1.ImageService for `bindUnary(ImageService, criImageService(deps), log)`. */
export function criImageService(deps: CriImageServiceDeps): UnaryImpl<typeof ImageService> {
  const { images, puller } = deps;
  const constants = deps.constants ?? DEFAULT_DAEMON_CONSTANTS;
  const storage = join(deps.graph, 'storage');
  const cacheMs = deps.fsInfoCacheMs ?? DEFAULT_FS_INFO_CACHE_MS;
  scopeCredentials(deps.auths);

  let fsInfo: { at: number; value: DeepPartial<cri.FilesystemUsage> } | undefined;
  let fsInfoRunning: Promise<DeepPartial<cri.FilesystemUsage>> | undefined;
  const imageFs = (): Promise<DeepPartial<cri.FilesystemUsage>> => {
    if (fsInfo && Date.now() - fsInfo.at < cacheMs) return Promise.resolve(fsInfo.value);
    fsInfoRunning ??= diskUsage(storage)
      .then((u) => {
        const at = Date.now();
        const value = { timestamp: BigInt(at) * 1_000_000n, fsId: { mountpoint: storage }, usedBytes: { value: u.bytes }, inodesUsed: { value: u.inodes } };
        fsInfo = { at, value };
        return value;
      })
      .finally(() => (fsInfoRunning = undefined));
    return fsInfoRunning;
  };

  /** Every image once (a row of `images.list` is one name), in the store's order. */
  const records = (ids: Iterable<string>): ImageRecord[] => {
    const out: ImageRecord[] = [];
    for (const id of new Set(ids)) {
      const rec = lookup(images, id); // gone since it was listed: skipped
      if (rec) out.push(rec);
    }
    return out;
  };

  return {
    ListImages: async (req) => {
      const ref = req.filter?.image?.image ?? '';
      if (ref === '') return { images: records(images.list().map((r) => r.id)).map(toCriImage) };
      // The image the reference names, and every image of a repository named without tag
      // (`busybox` lists every busybox tag, as the `reference` filter of `isula images` does).
      let pattern = ref;
      try {
        pattern = displayName(parseReference(ref, constants, { defaultTag: false }), constants);
      } catch {
        /* not a reference (an id, a glob): matched as given */
      }
      const exact = lookup(images, ref);
      const ids = [...(exact ? [exact.id] : []), ...images.list({ reference: [pattern] }).map((r) => r.id)];
      return { images: records(ids).map(toCriImage) };
    },

    ImageStatus: async (req) => {
      const rec = lookup(images, req.image?.image ?? '');
      if (!rec) return {}; // CRI: a missing image is an empty answer, not an error
      const image = toCriImage(rec);
      if (!req.verbose) return { image };
      const info = {
        id: image.id,
        repoTags: rec.names,
        repoDigests: rec.digests,
        size: rec.size,
        chainID: rec.layers.at(-1) ?? '',
        layers: rec.layers,
        loaded: rec.loaded,
        broken: rec.broken,
        imageSpec: parseConfig(rec.config) ?? rec.config,
      };
      return { image, info: { info: JSON.stringify(info) } };
    },

    PullImage: async (req) => {
      const name = req.image?.image ?? '';
      if (name === '') throw refused('PullImage: the image reference is empty');
      let ref: ImageReference;
      try {
        ref = parseReference(name, constants);
      } catch (err) {
        throw refused((err as Error).message);
      }
      const credentials = credentialsOf(req.auth);
      const pull = () => puller.pull(name);
      const img = credentials === undefined ? await pull() : await pullScope.run({ registries: credentialRegistries(ref, req.auth?.serverAddress ?? '', constants), credentials }, pull);
      return { imageRef: `sha256:${img.id}` };
    },

    RemoveImage: async (req) => {
      const rec = lookup(images, req.image?.image ?? '');
      if (!rec) return {}; // already gone: CRI's RemoveImage is idempotent
      // The image the reference resolves to goes with all its names, as containerd does (kubelet
      // removes by id; `isula rmi NAME` would only drop that name from a multi-named image).
      try {
        await images.remove(rec.id, true);
      } catch (err) {
        if (!isNoSuchImage(err, rec.id)) throw err;
      }
      return {};
    },

    ImageFsInfo: async () => ({ imageFilesystems: [await imageFs()] }),
  };
}
