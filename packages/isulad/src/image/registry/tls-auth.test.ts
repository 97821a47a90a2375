/**
 * Registry client against real docker-registry processes over TLS (openssl-made CA and server
 * certificate): htpasswd basic auth, certs.d CA and client certificates, insecure-registries,
 * insecure-skip-verify-enforce.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection, testClients } from './testing/clients';
import { type Fixtures, pushTestImage } from './testing/fixtures';
import { htpasswdFile, type KeyPair, makeCa, makeCert, Pusher, type RegistryProcess, startRegistry, removeTempDirs, tempDir } from './testing/harness';
import { rmSync } from 'node:fs';

const REPO = 'secure/img';
const USER = { username: 'testuser', password: 'testpass' };

let dir: string;
let ca: KeyPair;
let clientCert: KeyPair;
/** TLS (SAN IP:127.0.0.1, DNS:localhost) + htpasswd. */
let authReg: RegistryProcess;
/** TLS with a certificate for another name only (DNS:wrong.example), client certificates required. */
let mtlsReg: RegistryProcess;
let fx: Fixtures;

const { client, closeAll } = testClients(() => ({}));

/** A certs.d tree with `<host>/` holding the given files (name → source path). */
function certsD(host: string, files: Record<string, string>): string {
  const root = tempDir('isulad-test-certsd');
  mkdirSync(join(root, host));
  for (const [name, src] of Object.entries(files)) copyFileSync(src, join(root, host, name));
  return root;
}

const creds =
  (c: { username: string; password: string } | undefined, forHost?: () => string) =>
  async (registry: string) =>
    forHost === undefined || registry === forHost() ? c : undefined;


beforeAll(async () => {
  dir = tempDir('isulad-test-tls');
  ca = makeCa(dir, 'test-ca');
  const server = makeCert(dir, ca, 'server', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const wrongName = makeCert(dir, ca, 'wrongname', 'DNS:wrong.example', 'serverAuth');
  const clientCa = makeCa(dir, 'client-ca');
  clientCert = makeCert(dir, clientCa, 'client', undefined, 'clientAuth');
  authReg = await startRegistry({ tls: { cert: server.crt, key: server.key }, htpasswd: htpasswdFile(join(dir, 'htpasswd'), { testuser: 'testpass' }) });
  mtlsReg = await startRegistry({ tls: { cert: wrongName.crt, key: wrongName.key, clientCas: [clientCa.crt] } });
  const p1 = new Pusher(`https://${authReg.host}`, { ca: ca.crt, auth: USER });
  fx = await pushTestImage(p1, REPO);
  await p1.close();
  const p2 = new Pusher(`https://${mtlsReg.host}`, { ca: ca.crt, cert: clientCert.crt, key: clientCert.key, skipHostnameCheck: true });
  await pushTestImage(p2, REPO);
  await p2.close();
}, 90_000);

afterAll(() => removeTempDirs());

afterAll(async () => {
  await closeAll();
  await authReg?.stop();
  await mtlsReg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TLS + htpasswd registry', () => {
  it('fails clearly without the CA', async () => {
    const e = await rejection(client({ credentials: creds(USER) }).resolve({ registry: authReg.host, repository: REPO, tag: 'v2' }));
    expect(e.message).toMatch(new RegExp(`^Get "https://${authReg.host}/v2/": x509: `));
    expect(e.message).toMatch(/unable to verify the first certificate|self[- ]signed|local issuer/);
    expect(e.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it('works with certs.d/<host:port>/ca.crt and the right password', async () => {
    const c = client({ certsDir: certsD(authReg.host, { 'ca.crt': ca.crt }), credentials: creds(USER, () => authReg.host) });
    const r = await c.resolve({ registry: authReg.host, repository: REPO, tag: 'list' });
    expect(r.scheme).toBe('https');
    expect(r.manifestDigest).toBe(fx.v2.digest);
    const blob = await c.fetchBlob(r, r.layers[0]!);
    const chunks: Buffer[] = [];
    for await (const b of blob) chunks.push(b as Buffer);
    expect(Buffer.concat(chunks).equals(fx.layers[0]!.data)).toBe(true);
  });

  it('reaches the registry as localhost:<port> too (DNS SAN)', async () => {
    const host = `localhost:${authReg.port}`;
    const c = client({ certsDir: certsD(host, { 'ca.crt': ca.crt }), credentials: creds(USER) });
    const r = await c.resolve({ registry: host, repository: REPO, tag: 'oci' });
    expect(r.manifestDigest).toBe(fx.oci.digest);
  });

  it('fails with the registry reason on a wrong password, or none', async () => {
    const certsDir = certsD(authReg.host, { 'ca.crt': ca.crt });
    const wrong = await rejection(
      client({ certsDir, credentials: creds({ username: 'testuser', password: 'nope' }) }).resolve({ registry: authReg.host, repository: REPO, tag: 'v2' }),
    );
    expect(wrong.message).toBe('unauthorized: authentication required');
    expect(wrong.status).toBe(401);
    expect(wrong.code).toBe('UNAUTHORIZED');
    const none = await rejection(client({ certsDir }).resolve({ registry: authReg.host, repository: REPO, tag: 'v2' }));
    expect(none.message).toBe('unauthorized: authentication required');
  });

  it('checkLogin accepts the right password and rejects a wrong one', async () => {
    const c = client({ certsDir: certsD(authReg.host, { 'ca.crt': ca.crt }) });
    await expect(c.checkLogin(authReg.host, 'testuser', 'testpass')).resolves.toBeUndefined();
    const e = await rejection(c.checkLogin(authReg.host, 'testuser', 'bad'));
    expect(e.message).toBe('unauthorized: authentication required');
    const noCa = await rejection(client().checkLogin(authReg.host, 'testuser', 'testpass'));
    expect(noCa.message).toContain('x509: ');
  });

  it('an insecure registry is reached over https without verification', async () => {
    const c = client({ insecureRegistries: [authReg.host], credentials: creds(USER) });
    const r = await c.resolve({ registry: authReg.host, repository: REPO, tag: 'index' });
    expect(r.scheme).toBe('https');
    expect(r.manifestDigest).toBe(fx.oci.digest);
  });
});

describe('certificate for another name, client certificates required', () => {
  const ref = () => ({ registry: mtlsReg.host, repository: REPO, tag: 'v2' });

  it('fails the hostname check by default', async () => {
    const c = client({ certsDir: certsD(mtlsReg.host, { 'ca.crt': ca.crt, 'client.cert': clientCert.crt, 'client.key': clientCert.key }) });
    const e = await rejection(c.resolve(ref()));
    expect(e.message).toContain('x509: ');
    expect(e.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('insecure-skip-verify-enforce skips the hostname check, the client certificate gets in', async () => {
    const c = client({
      skipVerifyEnforce: true,
      certsDir: certsD(mtlsReg.host, { 'ca.crt': ca.crt, 'client.cert': clientCert.crt, 'client.key': clientCert.key }),
    });
    const r = await c.resolve(ref());
    expect(r.manifestDigest).toBe(fx.v2.digest);
  });

  it('skipping the hostname check still verifies the chain', async () => {
    const c = client({ skipVerifyEnforce: true, certsDir: certsD(mtlsReg.host, { 'client.cert': clientCert.crt, 'client.key': clientCert.key }) });
    const e = await rejection(c.resolve(ref()));
    expect(e.message).toContain('x509: ');
  });

  it('without a client certificate the handshake is refused', async () => {
    const c = client({ skipVerifyEnforce: true, certsDir: certsD(mtlsReg.host, { 'ca.crt': ca.crt }) });
    const e = await rejection(c.resolve(ref()));
    expect(e.message).toMatch(new RegExp(`^Get "https://${mtlsReg.host}/v2/": `));
    expect(e.message).toMatch(/certificate|socket|closed|reset/i);
  });

  it('a client certificate without its key is a clear error', async () => {
    const root = tempDir('isulad-test-certsd');
    mkdirSync(join(root, mtlsReg.host));
    copyFileSync(ca.crt, join(root, mtlsReg.host, 'ca.crt'));
    writeFileSync(join(root, mtlsReg.host, 'client.cert'), '');
    const e = await rejection(client({ skipVerifyEnforce: true, certsDir: root }).resolve(ref()));
    expect(e.message).toContain('missing key client.key for client certificate client.cert');
  });
});
