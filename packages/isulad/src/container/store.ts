import type { MetadataDb } from '../metadata/db';
import type { ContainerRecord } from './types';

const MIGRATIONS = [
  `CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     image_id TEXT NOT NULL,
     record TEXT NOT NULL
   );
   CREATE INDEX containers_by_image ON containers(image_id);`,
];

/**
 * Container metadata: one row per container, the record as JSON. Every state change rewrites the
 * row in one statement, so a kill -9 at any moment leaves either the old or the new state.
 */
export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();

  constructor(private readonly meta: MetadataDb) {
    meta.migrate('containers', MIGRATIONS);
    const rows = meta.db.prepare('SELECT record FROM containers').all() as Array<{ record: string }>;
    for (const r of rows) {
      const rec = JSON.parse(r.record) as ContainerRecord;
      this.byId.set(rec.id, rec);
    }
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  byName(name: string): ContainerRecord | undefined {
    for (const c of this.byId.values()) if (c.name === name) return c;
    return undefined;
  }

  /** Inserts a new record; a taken name fails here, atomically, even under concurrent creates. */
  insert(rec: ContainerRecord): void {
    this.meta.db.prepare('INSERT INTO containers (id, name, image_id, record) VALUES (?, ?, ?, ?)').run(rec.id, rec.name, rec.imageId, JSON.stringify(rec));
    this.byId.set(rec.id, rec);
  }

  save(rec: ContainerRecord): void {
    this.meta.db.prepare('UPDATE containers SET name = ?, record = ? WHERE id = ?').run(rec.name, JSON.stringify(rec), rec.id);
    this.byId.set(rec.id, rec);
  }

  delete(id: string): void {
    this.meta.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    this.byId.delete(id);
  }

  usingImage(imageId: string): ContainerRecord | undefined {
    for (const c of this.byId.values()) if (c.imageId === imageId) return c;
    return undefined;
  }
}
