import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface AuthFile {
  auths: Record<string, { auth: string }>;
}

const KEY_BYTES = 32;

/**
 * Registry credentials from `isula login`, kept encrypted (AES-256-GCM) in `<dir>/auths.json` with
 * the key in `<dir>/aeskey` (0600), as upstream keeps `auths.json` + `aeskey`. Passwords never
 * reach a log line: callers only ever see them in memory.
 */
export class AuthStore {
  private key: Buffer | undefined;

  constructor(private readonly dir: string) {}

  private async loadKey(): Promise<Buffer> {
    if (this.key) return this.key;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, 'aeskey');
    try {
      const k = await readFile(file);
      if (k.length === KEY_BYTES) return (this.key = k);
    } catch {
      /* first login */
    }
    const k = randomBytes(KEY_BYTES);
    await writeFile(file, k, { mode: 0o600 });
    await chmod(file, 0o600);
    return (this.key = k);
  }

  private async read(): Promise<AuthFile> {
    try {
      const doc = JSON.parse(await readFile(join(this.dir, 'auths.json'), 'utf8')) as AuthFile;
      return { auths: doc.auths ?? {} };
    } catch {
      return { auths: {} };
    }
  }

  private async write(doc: AuthFile): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, 'auths.json');
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify(doc, null, 2), { mode: 0o600 });
    await rename(tmp, file); // never a half-written credentials file
  }

  async save(registry: string, username: string, password: string): Promise<void> {
    const key = await this.loadKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(`${username}:${password}`, 'utf8'), cipher.final()]);
    const doc = await this.read();
    doc.auths[registry] = { auth: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
    await this.write(doc);
  }

  async remove(registry: string): Promise<boolean> {
    const doc = await this.read();
    if (!(registry in doc.auths)) return false;
    delete doc.auths[registry];
    await this.write(doc);
    return true;
  }

  async get(registry: string): Promise<{ username: string; password: string } | undefined> {
    const entry = (await this.read()).auths[registry];
    if (!entry) return undefined;
    try {
      const raw = Buffer.from(entry.auth, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', await this.loadKey(), raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      const colon = text.indexOf(':');
      return { username: text.slice(0, colon), password: text.slice(colon + 1) };
    } catch {
      return undefined; // a key that no longer matches: as if never logged in
    }
  }
}
