import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One schema step of one domain; applied once, in order, inside a transaction. */
export type Migration = string | ((db: Database.Database) => void);

/**
 * The daemon's metadata database (`<graph>/isulad.db`): one SQLite file in WAL mode shared by the
 * domains (layers, images, containers...), each owning its tables and its own migration list.
 * better-sqlite3 is synchronous by design: every statement here is a short, indexed, local write
 * inside a transaction, which costs microseconds and keeps state consistent after a kill -9.
 */
export class MetadataDb {
  private constructor(readonly db: Database.Database) {}

  static open(path: string): MetadataDb {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // WAL + NORMAL: durable across process crashes, fast commits
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (domain TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    return new MetadataDb(db);
  }

  /** Brings `domain`'s tables to the latest version; each step and its version bump commit together. */
  migrate(domain: string, migrations: Migration[]): void {
    const row = this.db.prepare('SELECT version FROM schema_versions WHERE domain = ?').get(domain) as { version: number } | undefined;
    let version = row?.version ?? 0;
    if (version > migrations.length) {
      throw new Error(`metadata for ${domain} is at schema ${version}, newer than this isulad knows (${migrations.length})`);
    }
    for (; version < migrations.length; version++) {
      const step = migrations[version]!;
      this.db.transaction(() => {
        if (typeof step === 'string') this.db.exec(step);
        else step(this.db);
        this.db.prepare('INSERT INTO schema_versions (domain, version) VALUES (?, ?) ON CONFLICT(domain) DO UPDATE SET version = excluded.version').run(domain, version + 1);
      })();
    }
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}
