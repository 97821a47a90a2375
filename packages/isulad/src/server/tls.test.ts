import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config';
import { defaultConfig } from '../config/defaults';
import type { DaemonLogger } from '../log/logger';
import { PASSPHRASE_FILE_ENV, serverCredentials } from './tls';

let dir: string;
const f = (n: string) => join(dir, n);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isulad-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test CA');
  openssl('genrsa', '-out', 'server-key.pem', '2048');
  openssl('req', '-new', '-key', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=iSulad');
  writeFileSync(f('ext.cnf'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-days', '2', '-extfile', 'ext.cnf');
  openssl('rsa', '-aes256', '-in', 'server-key.pem', '-out', 'server-key.enc.pem', '-passout', 'pass:s3cret-pass');
  openssl('genrsa', '-out', 'other-key.pem', '2048');
  writeFileSync(f('pass'), 's3cret-pass\n');
  writeFileSync(f('wrong-pass'), 'not-it\n');
  writeFileSync(f('garbage.pem'), 'not a certificate');
  for (const n of ['server-key.pem', 'server-key.enc.pem', 'other-key.pem', 'pass', 'wrong-pass']) chmodSync(f(n), 0o600);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A logger that keeps what it was told. */
function recorder() {
  const lines: string[] = [];
  const log = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), info: () => undefined } as unknown as DaemonLogger;
  return { log, lines };
}

function config(o: { verify?: boolean; ca?: string; cert?: string; key?: string; decrypted?: boolean }) {
  const c = defaultConfig({});
  c.tls = true;
  c.tlsVerify = o.verify ?? true;
  c.tlsConfig = { caFile: o.ca ?? f('ca.pem'), certFile: o.cert ?? f('server-cert.pem'), keyFile: o.key ?? f('server-key.pem') };
  c.useDecryptedKey = o.decrypted ?? true;
  return c;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('serverCredentials', () => {
  it('mode 1 (--tlsverify) and mode 2 (--tls) build TLS credentials from plain files', async () => {
    const { log, lines } = recorder();
    expect((await serverCredentials(config({}), log, {})).constructor.name).toMatch(/Secure/);
    expect((await serverCredentials(config({ verify: false, ca: f('missing-ca.pem') }), log, {})).constructor.name).toMatch(/Secure/);
    expect(lines).toEqual([]);
  });

  it('reports bad files with upstream texts (the key under CertFile), details only in the log', async () => {
    const { log, lines } = recorder();
    expect(await refusal(serverCredentials(config({ ca: f('missing-ca.pem') }), log, {}))).toBe(`Invalid CaFile(${f('missing-ca.pem')})`);
    expect(await refusal(serverCredentials(config({ cert: f('garbage.pem') }), log, {}))).toBe(`Invalid CertFile(${f('garbage.pem')})`);
    expect(await refusal(serverCredentials(config({ key: f('nokey.pem') }), log, {}))).toBe(`Invalid CertFile(${f('nokey.pem')})`);
    // A key of another certificate.
    expect(await refusal(serverCredentials(config({ key: f('other-key.pem') }), log, {}))).toBe(`Invalid CertFile(${f('other-key.pem')})`);
    expect(lines.some((l) => l.includes('does not belong to the certificate'))).toBe(true);
  });

  it('use-decrypted-key true refuses an encrypted key; false decrypts it with the passphrase file', async () => {
    const { log, lines } = recorder();
    const enc = f('server-key.enc.pem');
    expect(await refusal(serverCredentials(config({ key: enc }), log, {}))).toBe(`Invalid CertFile(${enc})`);
    expect(lines.join('\n')).toMatch(/an encrypted key needs use-decrypted-key: false/);
    expect((await serverCredentials(config({ key: enc, decrypted: false }), log, { [PASSPHRASE_FILE_ENV]: f('pass') })).constructor.name).toMatch(/Secure/);
    // The systemd credential is the fallback source.
    writeFileSync(f('tls-key-passphrase'), 's3cret-pass');
    chmodSync(f('tls-key-passphrase'), 0o600);
    expect((await serverCredentials(config({ key: enc, decrypted: false }), log, { CREDENTIALS_DIRECTORY: dir })).constructor.name).toMatch(/Secure/);
  });

  it('a wrong or missing passphrase is refused without the passphrase ever being logged', async () => {
    const { log, lines } = recorder();
    const enc = f('server-key.enc.pem');
    expect(await refusal(serverCredentials(config({ key: enc, decrypted: false }), log, { [PASSPHRASE_FILE_ENV]: f('wrong-pass') }))).toBe(`Invalid CertFile(${enc})`);
    expect(await refusal(serverCredentials(config({ key: enc, decrypted: false }), log, {}))).toBe(`Invalid CertFile(${enc})`);
    const text = lines.join('\n');
    expect(text).toMatch(/cannot be decrypted with the configured passphrase/);
    expect(text).toMatch(new RegExp(PASSPHRASE_FILE_ENV));
    expect(text).not.toMatch(/s3cret-pass|not-it/);
    expect(text).not.toContain(readFileSync(enc, 'utf8').split('\n')[3]!);
  });

  it('warns when the key or the passphrase file can be read by group or others', async () => {
    const { log, lines } = recorder();
    chmodSync(f('server-key.pem'), 0o644);
    try {
      await serverCredentials(config({}), log, {});
    } finally {
      chmodSync(f('server-key.pem'), 0o600);
    }
    expect(lines).toEqual([`warn TLS key file ${f('server-key.pem')} can be read by group or others (mode 0644); restrict it to its owner (chmod 0600)`]);
  });

  it('without --tls the tcp listeners are plain', async () => {
    const c = defaultConfig({});
    expect((await serverCredentials(c, recorder().log, {})).constructor.name).toMatch(/Insecure/);
  });
});
