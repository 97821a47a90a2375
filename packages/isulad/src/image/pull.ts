import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DaemonConstants } from '../config';
import type { DaemonLogger } from '../log/logger';
import { chainIdOf, type LayerStore } from '../storage/layer-store';
import { ImageError } from './errors';
import type { Images } from './images';
import { displayName, parseReference, withMirrors, type ImageReference } from './reference';
import type { Registry } from '../daemon/engine';
import type { ImageRecord } from './store';

/** One progress event of a pull, per layer (`id` = the layer digest's first 12 hex). */
export interface PullProgress {
  id: string;
  status: 'Waiting' | 'Downloading' | 'Download complete' | 'Extracting' | 'Pull complete' | 'Already exists';
  current?: number;
  total?: number;
}

export interface PullDeps {
  images: Images;
  layers: LayerStore;
  registry: Registry;
  constants: DaemonConstants;
  mirrors: string[];
  tmpdir: string;
  logger: DaemonLogger;
}

/** How many blobs one pull downloads at once (the next layers wait in temp files for their turn). */
const PARALLEL_DOWNLOADS = 3;

/** Passes bytes through unchanged, reporting the running count (a 'data' listener would steal them). */
function counting(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      onBytes(total);
      cb(null, chunk);
    },
  });
}

/**
 * Pulls images: resolve the manifest (mirrors first for unqualified names), then fetch layers with
 * a few downloads in flight, the first streaming straight into its extraction, the others into
 * temporary files under ISULAD_TMPDIR; extraction runs in layer order. A layer pulled by two pulls at
 * once is fetched once; nothing is registered until every layer is in place.
 */
export class Puller {
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(private readonly deps: PullDeps) {}

  async pull(name: string, onProgress: (p: PullProgress) => void = () => undefined): Promise<ImageRecord> {
    const { constants } = this.deps;
    let ref: ImageReference;
    try {
      ref = parseReference(name, constants);
    } catch (err) {
      throw new ImageError((err as Error).message, 4);
    }
    const candidates = withMirrors(ref, this.deps.mirrors, constants);
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        return await this.pullFrom(candidate, ref, onProgress);
      } catch (err) {
        lastError = err;
        if (candidates.length > 1) this.deps.logger.warn(`pull of ${name} from ${candidate.registry} failed: ${(err as Error).message}`);
      }
    }
    throw lastError instanceof Error ? lastError : new ImageError(String(lastError));
  }

  private async pullFrom(source: ImageReference, asked: ImageReference, onProgress: (p: PullProgress) => void): Promise<ImageRecord> {
    const { registry, layers } = this.deps;
    const resolved = await registry.resolve(source);
    const configRaw = resolved.config.toString('utf8');
    const config = JSON.parse(configRaw) as { rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== resolved.layers.length) {
      throw new ImageError(`invalid image: manifest lists ${resolved.layers.length} layers, config ${diffIds.length}`);
    }
    const chain: string[] = [];
    diffIds.forEach((d, i) => chain.push(chainIdOf(i === 0 ? null : chain[i - 1]!, d)));

    const work = await mkdtemp(join(this.deps.tmpdir, 'pull-'));
    // Ends the downloads still running when the pull fails half way, before `work` is removed.
    const abort = new AbortController();
    const sources = new Map<number, Promise<() => Readable>>();
    try {
      const shortOf = (i: number) => resolved.layers[i]!.digest.replace(/^sha256:/, '').slice(0, 12);
      const missing = chain.map((id) => layers.get(id) === undefined);
      missing.forEach((m, i) => onProgress({ id: shortOf(i), status: m ? 'Waiting' : 'Already exists' }));

      // Downloads: layer sources, the first missing one streamed directly, the rest via temp files.
      let running = 0;
      const queue: number[] = [];
      const startNext = () => {
        while (running < PARALLEL_DOWNLOADS && queue.length > 0) {
          const i = queue.shift()!;
          running++;
          const file = join(work, `layer-${i}`);
          const desc = resolved.layers[i]!;
          const done = (async () => {
            onProgress({ id: shortOf(i), status: 'Downloading', current: 0, total: desc.size });
            const body = await registry.fetchBlob(resolved, desc, { signal: abort.signal });
            const count = counting((current) => onProgress({ id: shortOf(i), status: 'Downloading', current, total: desc.size }));
            await pipeline(body, count, createWriteStream(file));
            onProgress({ id: shortOf(i), status: 'Download complete' });
            return () => createReadStream(file) as Readable;
          })().finally(() => {
            running--;
            startNext();
          });
          done.catch(() => undefined); // awaited below; a pull that fails first must not leave it unhandled
          sources.set(i, done);
        }
      };
      const firstMissing = missing.indexOf(true);
      missing.forEach((m, i) => {
        if (m && i !== firstMissing) queue.push(i);
      });
      startNext();

      for (let i = 0; i < chain.length; i++) {
        if (!missing[i]) continue;
        const id = chain[i]!;
        // Another pull may be bringing the same layer right now: wait for it instead of fetching again.
        const other = this.inflight.get(id);
        if (other) {
          await other.catch(() => undefined);
          if (layers.get(id)) continue; // otherwise that pull failed: fetch it here
        }
        const work1 = (async () => {
          if (layers.get(id)) return;
          const open = i === firstMissing ? await this.direct(resolved, i, shortOf(i), onProgress) : await sources.get(i)!;
          const stream = open();
          // The first layer downloads and extracts at once; the others were downloaded first.
          if (i !== firstMissing) onProgress({ id: shortOf(i), status: 'Extracting' });
          // The registry client already checked the blob digest while it streamed; the layer store checks the diff id.
          await layers.applyLayer(stream, { parent: i === 0 ? null : chain[i - 1]!, expectedDiffId: diffIds[i] });
          onProgress({ id: shortOf(i), status: 'Pull complete' });
        })();
        this.inflight.set(id, work1);
        try {
          await work1;
        } finally {
          this.inflight.delete(id);
        }
      }

      // A pull by digest names no tag; the digest name `repo@sha256:…` is recorded either way.
      const names = asked.tag !== undefined ? [displayName({ ...asked, digest: undefined }, this.deps.constants)] : [];
      const digests = [`${displayName({ ...asked, tag: undefined, digest: undefined }, this.deps.constants)}@${resolved.manifestDigest}`];
      return await this.deps.images.register(configRaw, chain, names, digests);
    } finally {
      abort.abort();
      await Promise.allSettled(sources.values()); // nothing writes into `work` once it is removed
      await rm(work, { recursive: true, force: true });
    }
  }

  /** The first missing layer: its blob streams straight into extraction, no temp file. */
  private async direct(resolved: Awaited<ReturnType<Registry['resolve']>>, i: number, short: string, onProgress: (p: PullProgress) => void): Promise<() => Readable> {
    const desc = resolved.layers[i]!;
    onProgress({ id: short, status: 'Downloading', current: 0, total: desc.size });
    const body = await this.deps.registry.fetchBlob(resolved, desc);
    const count = counting((current) => onProgress({ id: short, status: 'Downloading', current, total: desc.size }));
    body.once('error', (err) => count.destroy(err));
    return () => body.pipe(count);
  }
}
