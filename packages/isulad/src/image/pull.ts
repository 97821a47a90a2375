import { Transform } from 'node:stream';
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
  logger: DaemonLogger;
}

/** How many layers one pull downloads and extracts at once. */
const PARALLEL_LAYERS = 3;

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
 * Pulls images: resolve the manifest (mirrors first for unqualified names), then stream every missing
 * layer from the registry straight into its extraction, a few layers at once, each stacked on its
 * parent once that is registered. A layer two pulls need at once is fetched once; nothing is
 * registered until every layer is in place.
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

    // Ends the downloads still running when the pull fails half way.
    const abort = new AbortController();
    const jobs: Promise<void>[] = [];
    try {
      const shortOf = (i: number) => resolved.layers[i]!.digest.replace(/^sha256:/, '').slice(0, 12);
      const missing = chain.map((id) => layers.get(id) === undefined);
      missing.forEach((m, i) => onProgress({ id: shortOf(i), status: m ? 'Waiting' : 'Already exists' }));

      // Every missing layer streams from the registry straight into its own extraction, a few at a
      // time; each is stacked on its parent once that one is registered. Jobs start in layer order,
      // so the lowest running layer never waits on a later one.
      const slots = new Semaphore(PARALLEL_LAYERS);
      const ready: Promise<void>[] = [];
      for (let i = 0; i < chain.length; i++) {
        const id = chain[i]!;
        const parentReady = i === 0 ? Promise.resolve() : ready[i - 1]!;
        if (!missing[i]) {
          ready.push(Promise.resolve());
          continue;
        }
        // Another pull may be bringing the same layer right now: wait for it instead of fetching again.
        const other = this.inflight.get(id);
        const job = (async () => {
          if (other) {
            await other.catch(() => undefined);
            if (layers.get(id)) return; // otherwise that pull failed: fetch it here
          }
          await slots.run(async () => {
            if (layers.get(id)) return;
            const desc = resolved.layers[i]!;
            onProgress({ id: shortOf(i), status: 'Downloading', current: 0, total: desc.size });
            const body = await this.deps.registry.fetchBlob(resolved, desc, { signal: abort.signal });
            const count = counting((current) => onProgress({ id: shortOf(i), status: 'Downloading', current, total: desc.size }));
            body.once('error', (err) => count.destroy(err));
            // The registry client checks the blob digest as it streams; the layer store, the diff id.
            await layers.applyLayer(body.pipe(count), { parent: i === 0 ? null : chain[i - 1]!, expectedDiffId: diffIds[i], parentReady });
            onProgress({ id: shortOf(i), status: 'Pull complete' });
          });
        })();
        if (!other) {
          this.inflight.set(id, job);
          void job.catch(() => undefined).finally(() => this.inflight.delete(id));
        }
        job.catch(() => undefined); // awaited below; an earlier failure must not leave it unhandled
        jobs.push(job);
        ready.push(job);
      }
      await Promise.all(jobs);

      // A pull by digest names no tag; the digest name `repo@sha256:…` is recorded either way.
      const names = asked.tag !== undefined ? [displayName({ ...asked, digest: undefined }, this.deps.constants)] : [];
      const digests = [`${displayName({ ...asked, tag: undefined, digest: undefined }, this.deps.constants)}@${resolved.manifestDigest}`];
      return await this.deps.images.register(configRaw, chain, names, digests);
    } finally {
      abort.abort();
      await Promise.allSettled(jobs); // no extraction still running once the pull has answered
    }
  }
}

/** At most `n` tasks at once, started in call order. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly n: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
