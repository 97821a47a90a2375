/** Parsing and checking of image manifests, manifest lists and OCI indexes; platform choice. */
import { digestProblem } from '../reference';
import { RegistryError } from './errors';
import { CONFIG_MEDIA_TYPES, layerCompression, MediaTypes } from './media-types';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PlatformDescriptor extends Descriptor {
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[]; features?: string[] };
}

export type ParsedManifest =
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'index'; mediaType: string; manifests: PlatformDescriptor[] };

const SCHEMA1_TYPES = new Set<string>([MediaTypes.DockerSchema1, MediaTypes.DockerSchema1Signed]);

function bad(what: string, why: string): RegistryError {
  return new RegistryError(`invalid ${what}: ${why}`, { code: 'MANIFEST_INVALID' });
}

function descriptor(v: unknown, what: string): Descriptor {
  if (v === null || typeof v !== 'object') throw bad(what, 'descriptor is not an object');
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType.length === 0) throw bad(what, 'descriptor without mediaType');
  if (typeof o.digest !== 'string') throw bad(what, 'descriptor without digest');
  const problem = digestProblem(o.digest);
  if (problem !== undefined) throw bad(what, `${problem} ${JSON.stringify(o.digest)}`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw bad(what, `descriptor ${o.digest} has an invalid size`);
  }
  const d: Descriptor = { mediaType: o.mediaType, digest: o.digest, size: o.size };
  if (Array.isArray(o.urls)) d.urls = o.urls.filter((u): u is string => typeof u === 'string');
  if (o.annotations !== null && typeof o.annotations === 'object') d.annotations = o.annotations as Record<string, string>;
  return d;
}

function stripParams(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses a manifest body. The media type comes from the body's `mediaType`, else from the
 * Content-Type, else from its shape. Schema1 is refused with a clear error.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  const ct = stripParams(contentType);
  if (SCHEMA1_TYPES.has(ct)) {
    throw new RegistryError(`schema1 manifests are not supported (${ct})`, { code: 'SCHEMA1' });
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw bad('manifest', `not JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad('manifest', 'not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.schemaVersion === 1) {
    throw new RegistryError('schema1 manifests are not supported', { code: 'SCHEMA1' });
  }
  if (o.schemaVersion !== 2) throw bad('manifest', `unsupported schemaVersion ${JSON.stringify(o.schemaVersion)}`);

  let mediaType = typeof o.mediaType === 'string' && o.mediaType.length > 0 ? o.mediaType : undefined;
  if (mediaType === undefined) {
    if (ct === MediaTypes.DockerManifest || ct === MediaTypes.DockerManifestList || ct === MediaTypes.OciManifest || ct === MediaTypes.OciIndex) {
      mediaType = ct;
    } else {
      mediaType = Array.isArray(o.manifests) ? MediaTypes.OciIndex : MediaTypes.OciManifest;
    }
  }

  switch (mediaType) {
    case MediaTypes.DockerManifestList:
    case MediaTypes.OciIndex: {
      if (!Array.isArray(o.manifests)) throw bad('manifest list', 'no manifests array');
      const manifests = o.manifests.map((m) => {
        const d: PlatformDescriptor = descriptor(m, 'manifest list');
        const p = (m as { platform?: unknown }).platform;
        if (p !== null && typeof p === 'object') {
          const po = p as Record<string, unknown>;
          if (typeof po.os === 'string' && typeof po.architecture === 'string') {
            d.platform = { ...(po as object), os: po.os, architecture: po.architecture } as PlatformDescriptor['platform'];
          }
        }
        return d;
      });
      return { kind: 'index', mediaType, manifests };
    }
    case MediaTypes.DockerManifest:
    case MediaTypes.OciManifest: {
      const config = descriptor(o.config, 'manifest config');
      if (!CONFIG_MEDIA_TYPES.includes(config.mediaType)) {
        throw new RegistryError(`unsupported image config media type ${JSON.stringify(config.mediaType)}`, {
          code: 'UNSUPPORTED_MEDIA_TYPE',
        });
      }
      if (!Array.isArray(o.layers)) throw bad('manifest', 'no layers array');
      const layers = o.layers.map((l) => descriptor(l, 'manifest layer'));
      for (const l of layers) {
        if (layerCompression(l.mediaType) === undefined) {
          throw new RegistryError(`unsupported layer media type ${JSON.stringify(l.mediaType)} (layer ${l.digest})`, {
            code: 'UNSUPPORTED_MEDIA_TYPE',
          });
        }
      }
      return { kind: 'image', mediaType, config, layers };
    }
    default:
      if (SCHEMA1_TYPES.has(mediaType)) throw new RegistryError('schema1 manifests are not supported', { code: 'SCHEMA1' });
      throw new RegistryError(`unsupported manifest media type ${JSON.stringify(mediaType)}`, {
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
  }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function normalizeVariant(architecture: string, variant: string | undefined): string | undefined {
  if (variant === undefined || variant === '') return architecture === 'arm64' ? 'v8' : undefined;
  return variant;
}

/**
 * Picks the entry of a manifest list / index for a platform: os and architecture must match;
 * a requested variant must match too (arm64 entries without a variant count as `v8`). Without a
 * requested variant the first os/architecture match wins. Entries whose media type is not a
 * manifest or index (attestations, artifacts) are skipped.
 */
export function selectPlatform(manifests: PlatformDescriptor[], want: Platform): PlatformDescriptor {
  const usable = manifests.filter(
    (m) =>
      m.platform !== undefined &&
      (m.mediaType === MediaTypes.DockerManifest ||
        m.mediaType === MediaTypes.OciManifest ||
        m.mediaType === MediaTypes.DockerManifestList ||
        m.mediaType === MediaTypes.OciIndex),
  );
  const wantVariant = want.variant ? normalizeVariant(want.architecture, want.variant) : undefined;
  const hit = usable.find(
    (m) =>
      m.platform!.os === want.os &&
      m.platform!.architecture === want.architecture &&
      (wantVariant === undefined || normalizeVariant(m.platform!.architecture, m.platform!.variant) === wantVariant),
  );
  if (hit !== undefined) return hit;
  const available = usable.map((m) => formatPlatform(m.platform!));
  throw new RegistryError(
    `no matching manifest for ${formatPlatform(want)} in the manifest list entries` +
      ` (available: ${available.length > 0 ? [...new Set(available)].join(', ') : 'none'})`,
    { code: 'NO_MATCHING_PLATFORM' },
  );
}
