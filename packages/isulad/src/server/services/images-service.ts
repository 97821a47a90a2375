import { ErrorCode, type ImagesService } from '@isula/protocol';
import { ImageError } from '../../image/errors';
import type { Images, ImageFilters } from '../../image/images';
import type { AuthStore } from '../../image/auths';
import type { Puller, PullProgress } from '../../image/pull';
import type { Registry } from '../../daemon/engine';
import type { ServerStreamImpl, UnaryImpl } from '../grpc-adapter';
import { inBand } from './in-band';

const FILTER_KEYS = ['reference', 'since', 'before', 'dangling', 'label'] as const;

export interface ImagesServiceDeps {
  images: Images;
  puller: Puller;
  registry: Registry;
  auths: AuthStore;
}

/** Progress messages at most this often per layer while bytes flow (status changes always go). */
const PROGRESS_INTERVAL_MS = 100;

/** images.ImagesService PullImage: progress as JSON in `progress_data`, the stored name at the end. */
export function imagesStreams(deps: ImagesServiceDeps): ServerStreamImpl<typeof ImagesService> {
  return {
    PullImage: async (req, send, ctx) => {
      const name = req.image?.image ?? '';
      if (name === '') throw new ImageError('Invalid image name: empty', ErrorCode.INPUT);
      const last = new Map<string, { status: string; at: number }>();
      let pending = Promise.resolve();
      const onProgress = (p: PullProgress) => {
        if (!req.isProgressVisible || ctx.cancelled()) return;
        const prev = last.get(p.id);
        const now = Date.now();
        if (prev && prev.status === p.status && now - prev.at < PROGRESS_INTERVAL_MS) return;
        last.set(p.id, { status: p.status, at: now });
        pending = pending.then(() => send({ progressData: Buffer.from(JSON.stringify(p)) }));
      };
      const img = await deps.puller.pull(name, onProgress);
      await pending;
      await send({ imageRef: img.names[0] ?? img.id });
    },
  };
}

/** images.ImagesService: wire messages in, the image domain's calls out. */
export function imagesService(deps: ImagesServiceDeps): UnaryImpl<typeof ImagesService> {
  const { images } = deps;
  return {
    List: (req) =>
      inBand(() => {
        const filters: ImageFilters = {};
        for (const [k, v] of Object.entries(req.filters)) {
          if (!(FILTER_KEYS as readonly string[]).includes(k)) throw new ImageError(`Invalid filter '${k}'`, ErrorCode.INPUT);
          filters[k as keyof ImageFilters] = [v];
        }
        return {
          images: images.list(filters).map((r) => ({
            name: r.name,
            labels: r.labels,
            target: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${r.id}`, size: r.size },
            createdAt: { seconds: BigInt(r.createdSeconds), nanos: r.createdNanos },
          })),
        };
      }),
    Delete: (req) =>
      inBand(async () => {
        await images.remove(req.name, req.force);
        return { name: req.name };
      }),
    Tag: (req) => inBand(() => (images.tag(req.srcName, req.destName), {})),
    Inspect: (req) => inBand(() => ({ ImageJSON: JSON.stringify(images.inspect(req.id)) })),
    Load: (req) =>
      inBand(async () => {
        if (req.type !== '' && req.type !== 'oci' && req.type !== 'docker') {
          throw new ImageError(`Invalid image type: image type must be embedded or docker, got ${req.type}`, ErrorCode.INPUT);
        }
        await images.load(req.file, req.tag === '' ? undefined : req.tag);
        return {};
      }),
    Import: (req) => inBand(async () => ({ id: (await images.importRootfs(req.file, req.tag)).id })),
    Login: (req) =>
      inBand(async () => {
        if (req.server === '' || req.username === '' || req.password === '') {
          throw new ImageError('Missing server, username or password', ErrorCode.INPUT);
        }
        await deps.registry.checkLogin(req.server, req.username, req.password);
        await deps.auths.save(req.server, req.username, req.password);
        return {};
      }),
    Logout: (req) =>
      inBand(async () => {
        if (req.server === '') throw new ImageError('Missing server', ErrorCode.INPUT);
        await deps.auths.remove(req.server);
        return {};
      }),
  };
}
