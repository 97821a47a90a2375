/**
 * Bearer token auth against a real docker-registry configured with `auth.token` and a small token
 * server written for the test (RS256 JWTs with the signing certificate in x5c).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLimited } from './client';
import { rejection, testClients } from './testing/clients';
import { type Fixtures, pushTestImage } from './testing/fixtures';
import { Pusher, type RegistryProcess, startRegistry, startTokenServer, removeTempDirs, tempDir, type TokenServer } from './testing/harness';

const REPO = 'tok/img';
const USER = { username: 'tokuser', password: 'tokpass' };

let dir: string;
let tokens: TokenServer;
let reg: RegistryProcess;
let fx: Fixtures;

const { client, closeAll } = testClients(() => ({ insecureRegistries: [reg.host], credentials: async () => USER }));


beforeAll(async () => {
  dir = tempDir('isulad-test-token');
  tokens = await startTokenServer({ dir, issuer: 'isulad-test-issuer', users: { [USER.username]: USER.password } });
  reg = await startRegistry({
    token: { realm: tokens.url, service: 'isulad-test-registry', issuer: 'isulad-test-issuer', rootCertBundle: tokens.certFile },
  });
  const p = new Pusher(`http://${reg.host}`, { auth: USER });
  fx = await pushTestImage(p, REPO);
  await p.close();
}, 60_000);

afterAll(() => removeTempDirs());

afterAll(async () => {
  await closeAll();
  await reg?.stop();
  await tokens?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bearer token auth', () => {
  it('gets a scoped token with basic credentials, and caches it per scope', async () => {
    const c = client();
    const before = tokens.requests.length;
    const r = await c.resolve({ registry: reg.host, repository: REPO, tag: 'list' });
    expect(r.manifestDigest).toBe(fx.v2.digest);
    const mine = tokens.requests.slice(before);
    expect(mine).toEqual([
      { scopes: [`repository:${REPO}:pull`], user: USER.username, service: 'isulad-test-registry', account: USER.username },
    ]);
    // blobs and a second resolve reuse the cached token
    const blob = await c.fetchBlob(r, r.layers[1]!);
    expect((await readLimited(blob, 1 << 20)).equals(fx.layers[1]!.data)).toBe(true);
    await c.resolve({ registry: reg.host, repository: REPO, tag: 'oci' });
    expect(tokens.requests.length).toBe(before + 1);
  });

  it('fails with the token server reason on a wrong password', async () => {
    const e = await rejection(
      client({ credentials: async () => ({ username: USER.username, password: 'wrong' }) }).resolve({ registry: reg.host, repository: REPO, tag: 'v2' }),
    );
    expect(e.message).toBe('unauthorized: incorrect username or password');
    expect(e.status).toBe(401);
  });

  it('fails clearly without credentials when the token server wants them', async () => {
    const e = await rejection(client({ credentials: async () => undefined }).resolve({ registry: reg.host, repository: REPO, tag: 'v2' }));
    expect(e.message).toBe('unauthorized: authentication required');
  });

  it('checkLogin does the token exchange', async () => {
    const c = client({ credentials: async () => undefined });
    const before = tokens.requests.length;
    await expect(c.checkLogin(reg.host, USER.username, USER.password)).resolves.toBeUndefined();
    expect(tokens.requests[before]).toMatchObject({ scopes: [], user: USER.username });
    const e = await rejection(c.checkLogin(reg.host, USER.username, 'bad'));
    expect(e.message).toBe('unauthorized: incorrect username or password');
  });

  it('a token for one repository does not open another (insufficient scope → new token)', async () => {
    const c = client();
    const before = tokens.requests.length;
    await c.resolve({ registry: reg.host, repository: REPO, tag: 'v2' });
    const e = await rejection(c.resolve({ registry: reg.host, repository: 'tok/other', tag: 'v2' }));
    expect(e.message).toContain('manifest unknown');
    expect(tokens.requests.slice(before).map((r) => r.scopes)).toEqual([[`repository:${REPO}:pull`], ['repository:tok/other:pull']]);
  });
});
