import type { MetadataDb } from '../metadata/db';

/** An image as the store keeps it: the config's digest is its id. */
export interface ImageRecord {
  /** 64 hex, sha256 of the config JSON (no `sha256:` prefix). */
  id: string;
  /** The raw config JSON, byte for byte as pulled/loaded (its digest is the id). */
  config: string;
  /** Chain ids of the layers, base first; the last one is the image's top layer. */
  layers: string[];
  /** Sum of the layers' uncompressed sizes. */
  size: number;
  /** From the config's `created`, seconds and nanoseconds since the epoch. */
  createdSeconds: number;
  createdNanos: number;
  /** When this daemon stored it (ISO 8601). */
  loaded: string;
  names: string[];
  digests: string[];
  /** Set by the `--image-layer-check` pass when a layer failed verification. */
  broken: boolean;
}

const MIGRATIONS = [
  `CREATE TABLE images (
     id TEXT PRIMARY KEY,
     config TEXT NOT NULL,
     size INTEGER NOT NULL,
     created_seconds INTEGER NOT NULL,
     created_nanos INTEGER NOT NULL,
     loaded TEXT NOT NULL,
     broken INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE image_layers (
     image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
     position INTEGER NOT NULL,
     layer_id TEXT NOT NULL,
     PRIMARY KEY (image_id, position)
   );
   CREATE TABLE image_names (
     name TEXT PRIMARY KEY,
     image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
   );
   CREATE INDEX image_names_by_image ON image_names(image_id);
   CREATE TABLE image_digests (
     name TEXT PRIMARY KEY,
     image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
   );`,
];

interface ImageRow {
  id: string;
  config: string;
  size: number;
  created_seconds: number;
  created_nanos: number;
  loaded: string;
  broken: number;
}

/** What a change did to layer references, so the caller can release layers after the commit. */
export interface RemovedImage {
  id: string;
  layers: string[];
}

/** Parses RFC 3339 `created` (nanosecond precision kept) into seconds + nanos. */
export function parseCreated(created: unknown): { seconds: number; nanos: number } {
  if (typeof created !== 'string') return { seconds: 0, nanos: 0 };
  const m = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(created);
  if (!m) return { seconds: 0, nanos: 0 };
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return { seconds: 0, nanos: 0 };
  return { seconds: Math.floor(ms / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

/**
 * Images, their names (repo:tag), digests (repo@sha256:…) and layer lists in the metadata database.
 * Every change is one transaction; a tag moved onto a new image leaves the old one dangling, as
 * Docker and iSulad do.
 */
export class ImageStore {
  constructor(private readonly meta: MetadataDb) {
    meta.migrate('images', MIGRATIONS);
  }

  private row(id: string): ImageRow | undefined {
    return this.meta.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
  }

  private hydrate(r: ImageRow): ImageRecord {
    const db = this.meta.db;
    const layers = (db.prepare('SELECT layer_id FROM image_layers WHERE image_id = ? ORDER BY position').all(r.id) as { layer_id: string }[]).map((x) => x.layer_id);
    const names = (db.prepare('SELECT name FROM image_names WHERE image_id = ? ORDER BY name').all(r.id) as { name: string }[]).map((x) => x.name);
    const digests = (db.prepare('SELECT name FROM image_digests WHERE image_id = ? ORDER BY name').all(r.id) as { name: string }[]).map((x) => x.name);
    return {
      id: r.id,
      config: r.config,
      layers,
      size: r.size,
      createdSeconds: r.created_seconds,
      createdNanos: r.created_nanos,
      loaded: r.loaded,
      names,
      digests,
      broken: r.broken !== 0,
    };
  }

  get(id: string): ImageRecord | undefined {
    const r = this.row(id);
    return r ? this.hydrate(r) : undefined;
  }

  list(): ImageRecord[] {
    return (this.meta.db.prepare('SELECT * FROM images').all() as ImageRow[]).map((r) => this.hydrate(r));
  }

  count(): number {
    return (this.meta.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
  }

  /** The image a name (`repo:tag`) or digest name (`repo@sha256:…`) points at. */
  byName(name: string): string | undefined {
    const db = this.meta.db;
    const hit = (db.prepare('SELECT image_id FROM image_names WHERE name = ?').get(name) ??
      db.prepare('SELECT image_id FROM image_digests WHERE name = ?').get(name)) as { image_id: string } | undefined;
    return hit?.image_id;
  }

  /** Ids starting with `prefix` (for short-id lookups); the caller decides what ambiguity means. */
  byIdPrefix(prefix: string): string[] {
    if (!/^[0-9a-f]{1,64}$/.test(prefix)) return [];
    return (this.meta.db.prepare("SELECT id FROM images WHERE id >= ? AND id < ? || 'g'").all(prefix, prefix) as { id: string }[]).map((r) => r.id);
  }

  /**
   * Stores an image (or finds it already stored) and points `names`/`digests` at it, in one
   * transaction. Returns whether the image row is new: the caller then holds one reference on each
   * of its layers for it.
   */
  put(
    image: Omit<ImageRecord, 'names' | 'digests' | 'broken' | 'loaded'> & { names: string[]; digests: string[] },
    /** Runs inside the same transaction when the image row is new (take the layer references there). */
    onCreate: () => void = () => undefined,
  ): { created: boolean } {
    const db = this.meta.db;
    return this.meta.transaction(() => {
      let created = false;
      if (!this.row(image.id)) {
        db.prepare('INSERT INTO images (id, config, size, created_seconds, created_nanos, loaded) VALUES (?, ?, ?, ?, ?, ?)').run(
          image.id, image.config, image.size, image.createdSeconds, image.createdNanos, new Date().toISOString(),
        );
        const add = db.prepare('INSERT INTO image_layers (image_id, position, layer_id) VALUES (?, ?, ?)');
        image.layers.forEach((layer, i) => add.run(image.id, i, layer));
        onCreate();
        created = true;
      }
      for (const name of image.names) db.prepare('INSERT INTO image_names (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(name, image.id);
      for (const name of image.digests) db.prepare('INSERT INTO image_digests (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(name, image.id);
      return { created };
    });
  }

  /** Points `name` at image `id` (tag). */
  tag(id: string, name: string): void {
    this.meta.db.prepare('INSERT INTO image_names (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(name, id);
  }

  /** Removes one name; true when it existed. */
  untag(name: string): boolean {
    return this.meta.db.prepare('DELETE FROM image_names WHERE name = ?').run(name).changes > 0;
  }

  /** Deletes the image and every name pointing at it; returns its layers for the caller to release. */
  remove(id: string): RemovedImage | undefined {
    return this.meta.transaction(() => {
      const rec = this.get(id);
      if (!rec) return undefined;
      this.meta.db.prepare('DELETE FROM images WHERE id = ?').run(id);
      return { id, layers: rec.layers };
    });
  }

  markBroken(id: string, broken: boolean): void {
    this.meta.db.prepare('UPDATE images SET broken = ? WHERE id = ?').run(broken ? 1 : 0, id);
  }
}
