import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DaemonConstants } from '../config';
import type { DaemonLogger } from '../log/logger';
import type { LayerStore } from '../storage/layer-store';
import { ImageError, noSuchImage } from './errors';
import { findImage, normalizeName } from './lookup';
import { parseCreated, type ImageRecord, type ImageStore } from './store';

/** One row of `isula images`: an image under one of its names ('' = dangling). */
export interface ImageSummary {
  name: string;
  id: string;
  size: number;
  createdSeconds: number;
  createdNanos: number;
  labels: Record<string, string>;
}

export interface ImageFilters {
  reference?: string[];
  since?: string[];
  before?: string[];
  dangling?: string[];
  label?: string[];
}

/** The parts of an OCI/Docker image config the daemon reads. */
interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  author?: string;
  config?: { Labels?: Record<string, string> | null; User?: string; Healthcheck?: unknown };
  rootfs?: { type?: string; diff_ids?: string[] };
}

export interface ImagesDeps {
  store: ImageStore;
  layers: LayerStore;
  constants: DaemonConstants;
  tmpdir: string;
  logger: DaemonLogger;
  /** Which container uses an image, if any (containers arrive in a later issue). */
  usedBy?: (imageId: string) => string | undefined;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function parseConfig(raw: string): ImageConfig {
  try {
    return JSON.parse(raw) as ImageConfig;
  } catch (err) {
    throw new ImageError(`invalid image config: ${(err as Error).message}`);
  }
}

/** Shell-style glob (`*`, `?`) as the reference filter uses it. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/**
 * The image domain: what the images RPCs call. Layers live in the layer store, images and names in
 * the image store; both in one SQLite database, so an image never exists without its layers.
 */
export class Images {
  constructor(private readonly deps: ImagesDeps) {}

  count(): number {
    return this.deps.store.count();
  }

  /**
   * `--image-layer-check`: verifies every image's layers against what was recorded when they were
   * written; an image with a damaged layer is marked broken (listed, but refused for use).
   */
  async checkLayers(): Promise<void> {
    const verdicts = new Map<string, boolean>();
    for (const img of this.deps.store.list()) {
      let ok = true;
      for (const layer of img.layers) {
        if (!verdicts.has(layer)) verdicts.set(layer, await this.deps.layers.verify(layer));
        if (!verdicts.get(layer)) ok = false;
      }
      if (ok !== !img.broken) this.deps.store.markBroken(img.id, !ok);
      if (!ok) this.deps.logger.error(`image ${img.names[0] ?? img.id} has a damaged layer and is unusable until pulled or loaded again`);
    }
  }

  /** An image a container may be created from: found and not marked broken by the layer check. */
  usable(ref: string): ImageRecord {
    const img = this.resolve(ref);
    if (img.broken) throw new ImageError(`Image ${ref} is damaged (layer check failed); pull or load it again`);
    return img;
  }

  resolve(ref: string): ImageRecord {
    const id = findImage(this.deps.store, ref, this.deps.constants);
    const rec = id !== undefined ? this.deps.store.get(id) : undefined;
    if (!rec) throw noSuchImage(ref);
    return rec;
  }

  list(filters: ImageFilters = {}): ImageSummary[] {
    const all = this.deps.store.list();
    const createdOf = (ref: string) => {
      const r = this.resolve(ref);
      return r.createdSeconds * 1e9 + r.createdNanos;
    };
    const since = (filters.since ?? []).map(createdOf);
    const before = (filters.before ?? []).map(createdOf);
    const dangling = filters.dangling?.map((v) => v === 'true' || v === '1');
    const refs = (filters.reference ?? []).map(globToRegExp);
    const rows: ImageSummary[] = [];
    for (const img of all) {
      const cfg = parseConfig(img.config);
      const labels = cfg.config?.Labels ?? {};
      const created = img.createdSeconds * 1e9 + img.createdNanos;
      if (since.some((t) => created <= t) || before.some((t) => created >= t)) continue;
      if (dangling !== undefined && dangling.some((d) => d !== (img.names.length === 0))) continue;
      const labelOk = (filters.label ?? []).every((f) => {
        const eq = f.indexOf('=');
        return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
      });
      if (!labelOk) continue;
      const names = img.names.length > 0 ? img.names : [''];
      for (const name of names) {
        if (refs.length > 0) {
          const repo = name.replace(/:[^:/]+$/, '');
          if (!refs.some((re) => re.test(name) || re.test(repo))) continue;
        }
        rows.push({ name, id: img.id, size: img.size, createdSeconds: img.createdSeconds, createdNanos: img.createdNanos, labels });
      }
    }
    return rows;
  }

  /** `isula inspect IMAGE`: upstream's `{"image": {...}}` shape with the config as `Spec`. */
  inspect(ref: string): object {
    const img = this.resolve(ref);
    const cfg = parseConfig(img.config);
    const user = cfg.config?.User ?? '';
    return {
      image: {
        id: img.id,
        repo_tags: img.names,
        repo_digests: img.digests,
        top_layer: img.layers.at(-1) ?? '',
        size: img.size,
        created: cfg.created ?? new Date(img.createdSeconds * 1000).toISOString(),
        loaded: img.loaded,
        username: user,
        Spec: cfg,
        Healthcheck: cfg.config?.Healthcheck ?? null,
      },
    };
  }

  tag(src: string, dest: string): void {
    const img = this.resolve(src);
    let name: string;
    try {
      name = normalizeName(dest, this.deps.constants);
    } catch (err) {
      throw new ImageError(`Invalid tag ${dest}: ${(err as Error).message}`, 4);
    }
    if (name.includes('@')) throw new ImageError(`Invalid tag ${dest}: a tag cannot carry a digest`, 4);
    this.deps.store.tag(img.id, name);
  }

  /**
   * `isula rmi`: a name that is one of several only loses that name; otherwise the image goes,
   * unless a container uses it. `force` also removes an image referenced by several names.
   */
  async remove(ref: string, force: boolean): Promise<void> {
    const img = this.resolve(ref);
    const { store } = this.deps;
    let asName: string | undefined;
    try {
      asName = normalizeName(ref, this.deps.constants);
    } catch {
      asName = undefined;
    }
    if (asName !== undefined && img.names.includes(asName) && img.names.length > 1) {
      store.untag(asName);
      return;
    }
    const user = this.deps.usedBy?.(img.id);
    if (user !== undefined) throw new ImageError(`Image used by ${user}`);
    if (img.names.length > 1 && !force) {
      throw new ImageError(`Unable to remove the image ${ref}: it is referenced by several names (${img.names.join(', ')}), remove them one by one or use -f`);
    }
    const removed = store.remove(img.id);
    if (removed) await this.releaseLayers(removed.layers);
  }

  private async releaseLayers(layers: string[]): Promise<void> {
    for (const id of [...layers].reverse()) await this.deps.layers.release(id);
  }

  /**
   * Registers an image whose layers are already in the layer store: one transaction, then one
   * reference per layer for a new image.
   */
  async register(configRaw: string, layerIds: string[], names: string[], digests: string[] = []): Promise<ImageRecord> {
    const id = sha256(configRaw);
    const cfg = parseConfig(configRaw);
    const created = parseCreated(cfg.created);
    let size = 0;
    for (const l of layerIds) size += this.deps.layers.get(l)?.size ?? 0;
    // The layer references are taken in the image's own transaction: a crash can never leave an
    // image whose layers the next start would prune as unreferenced.
    this.deps.store.put(
      { id, config: configRaw, layers: layerIds, size, createdSeconds: created.seconds, createdNanos: created.nanos, names, digests },
      () => {
        for (const l of layerIds) this.deps.layers.addRef(l);
      },
    );
    return this.deps.store.get(id)!;
  }

  /** Applies a config's layers from files (plain or compressed tars) in order, checking diff ids. */
  private async applyLayerFiles(cfg: ImageConfig, files: string[]): Promise<string[]> {
    const diffIds = cfg.rootfs?.diff_ids ?? [];
    if (diffIds.length !== files.length) {
      throw new ImageError(`invalid image: the config lists ${diffIds.length} layers, the archive ${files.length}`);
    }
    const ids: string[] = [];
    let parent: string | null = null;
    for (let i = 0; i < files.length; i++) {
      const info = await this.deps.layers.applyLayer(createReadStream(files[i]!), { parent, expectedDiffId: diffIds[i] });
      ids.push(info.id);
      parent = info.id;
    }
    return ids;
  }

  /** `isula load -i FILE [--tag T]`: a docker-save tarball or an OCI image layout archive. */
  async load(file: string, tag?: string): Promise<string[]> {
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new ImageError(`Load image failed: ${file} is not a readable file`);
    const work = await mkdtemp(join(this.deps.tmpdir, 'load-'));
    try {
      const { applyTar } = await import('../storage/tar-apply.js'); // loaded on first use, not at boot
      await applyTar(createReadStream(file), work);
      const has = (p: string) => stat(join(work, p)).then(() => true, () => false);
      if (await has('manifest.json')) return await this.loadDockerArchive(work, tag);
      if (await has('index.json')) return await this.loadOciLayout(work, tag);
      throw new ImageError('Load image failed: the archive holds neither manifest.json (docker save) nor index.json (OCI layout)');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private inside(root: string, rel: string): string {
    const p = join(root, rel);
    if (!p.startsWith(root + '/')) throw new ImageError(`Load image failed: archive path ${rel} escapes the archive`);
    return p;
  }

  private async loadDockerArchive(work: string, tag?: string): Promise<string[]> {
    type Entry = { Config: string; RepoTags?: string[] | null; Layers: string[] };
    let manifest: Entry[];
    try {
      manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as Entry[];
    } catch (err) {
      throw new ImageError(`Load image failed: manifest.json: ${(err as Error).message}`);
    }
    if (!Array.isArray(manifest) || manifest.length === 0) throw new ImageError('Load image failed: manifest.json lists no image');
    const tagCount = manifest.reduce((n, e) => n + (e.RepoTags?.length ?? 0), 0);
    if (tag !== undefined && (manifest.length > 1 || tagCount > 1)) {
      throw new ImageError('Can not use --tag option because more than one image found in tar archive');
    }
    const loaded: string[] = [];
    for (const entry of manifest) {
      const configRaw = await readFile(this.inside(work, entry.Config), 'utf8');
      const cfg = parseConfig(configRaw);
      const layerIds = await this.applyLayerFiles(cfg, entry.Layers.map((l) => this.inside(work, l)));
      const names = (tag !== undefined ? [tag] : (entry.RepoTags ?? [])).map((n) => normalizeName(n, this.deps.constants));
      const img = await this.register(configRaw, layerIds, names);
      loaded.push(...(names.length > 0 ? names : [img.id]));
    }
    return loaded;
  }

  private async loadOciLayout(work: string, tag?: string): Promise<string[]> {
    type Descriptor = { mediaType?: string; digest: string; annotations?: Record<string, string> };
    const blob = (d: string) => {
      const m = /^sha256:([0-9a-f]{64})$/.exec(d);
      if (!m) throw new ImageError(`Load image failed: unsupported digest ${d}`);
      return this.inside(work, `blobs/sha256/${m[1]}`);
    };
    const index = JSON.parse(await readFile(join(work, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
    const manifests = index.manifests ?? [];
    if (tag !== undefined && manifests.length > 1) throw new ImageError('Can not use --tag option because more than one image found in tar archive');
    const loaded: string[] = [];
    for (const desc of manifests) {
      const raw = await readFile(blob(desc.digest), 'utf8');
      if (sha256(raw) !== desc.digest.slice(7)) throw new ImageError(`Load image failed: manifest ${desc.digest} digest mismatch`);
      const m = JSON.parse(raw) as { config: Descriptor; layers: Descriptor[]; mediaType?: string; manifests?: unknown };
      if (m.manifests) throw new ImageError('Load image failed: nested image indexes are not supported');
      const configRaw = await readFile(blob(m.config.digest), 'utf8');
      if (sha256(configRaw) !== m.config.digest.slice(7)) throw new ImageError(`Load image failed: config ${m.config.digest} digest mismatch`);
      const layerIds = await this.applyLayerFiles(parseConfig(configRaw), m.layers.map((l) => blob(l.digest)));
      const refName = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'];
      // A bare tag (`latest`) names no repository: such an image needs --tag to get a name.
      const named = tag ?? (refName !== undefined && /[/:]/.test(refName) ? refName : undefined);
      const names = named !== undefined ? [normalizeName(named, this.deps.constants)] : [];
      const img = await this.register(configRaw, layerIds, names);
      loaded.push(...(names.length > 0 ? names : [img.id]));
    }
    return loaded;
  }

  /** `isula import FILE REPO[:TAG]`: a rootfs tarball becomes a one-layer image. */
  async importRootfs(file: string, tag: string): Promise<ImageRecord> {
    const name = normalizeName(tag, this.deps.constants);
    const layer = await this.deps.layers.applyLayer(createReadStream(file), { parent: null });
    const config = {
      created: new Date().toISOString(),
      architecture: archOf(process.arch),
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: new Date().toISOString(), comment: `Imported from ${file}` }],
    };
    return this.register(JSON.stringify(config), [layer.id], [name]);
  }
}

/** OCI architecture names for Node's `process.arch`. */
export function archOf(nodeArch: string): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[nodeArch] ?? nodeArch;
}
