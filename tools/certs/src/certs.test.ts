import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkServerIdentity } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalIp,
  checkRecipeOptions,
  generateRecipe,
  generateRsaKey,
  ipBytes,
  isHostName,
  privateKeyFromPem,
  privateKeyToPem,
  randomSerial,
  STEPS,
} from './certs.js';
import { prepareDir, writeBundle } from './files.js';
import { generateInto, handshake, openssl, tempDir, x509Text } from './helpers.testlib.js';

const PASS = 'Pa55 phrase-for-tests';
const SMALL = 1024; // internal key size for speed; the real sizes are tested below
const ALL_FILES = ['ca-key.pem', 'ca.pem', 'cert.pem', 'key.pem', 'server-cert.pem', 'server-key.pem'];
const CA_SUBJECT_TEXT = 'C = CN, ST = zhejiang, L = hangzhou, O = Huawei, OU = iSulad, CN = iSulad@huawei.com';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const freshDir = () => path.join(tmp.dir, `d${n++}`);
const read = (dir: string, f: string) => readFileSync(path.join(dir, f), 'utf8');
const modeOf = (file: string) => statSync(file).mode & 0o777;

describe('input checks', () => {
  it('parses IPv4 and IPv6 addresses to network-order bytes', () => {
    expect(ipBytes('192.168.1.10')?.toString('hex')).toBe('c0a8010a');
    expect(ipBytes('::1')?.toString('hex')).toBe('0'.repeat(31) + '1');
    expect(ipBytes('2001:db8::8:1')?.toString('hex')).toBe('20010db8000000000000000000080001');
    expect(ipBytes('::ffff:10.0.0.1')?.toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(ipBytes('fe80::1%eth0')?.toString('hex')).toBe('fe800000000000000000000000000001');
    for (const bad of ['', '256.1.1.1', '1.2.3', '1.2.3.4.5', 'abc', '1::2::3', 'localhost', '01.2.3.4']) {
      expect(ipBytes(bad), bad).toBeNull();
    }
  });

  it('prints IPs canonically and rejects non-IPs', () => {
    expect(canonicalIp('2001:0db8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('1:0:1:0:1:0:1:0')).toBe('1:0:1:0:1:0:1:0');
    expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    expect(() => canonicalIp('10.0.0.256')).toThrow(/invalid IP address '10.0.0.256'/);
  });

  it('accepts DNS host names only', () => {
    for (const ok of ['iSulad', 'my-host.example.com', 'a', 'node1.', 'x'.repeat(63)]) expect(isHostName(ok), ok).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a..b', 'a b', 'a_b', 'x'.repeat(64), 'h/1', `${'a.'.repeat(127)}a`]) {
      expect(isHostName(bad), bad).toBe(false);
    }
  });

  it('checks recipe options and orders the IPs with 127.0.0.1 last, without duplicates', () => {
    expect(checkRecipeOptions({ recipe: 'plain', passphrase: 'p', ips: ['127.0.0.1', '10.0.0.2', '10.0.0.2', '::1'], host: 'h' })).toEqual({
      host: 'h',
      ips: ['10.0.0.2', '::1', '127.0.0.1'],
      days: 365,
    });
    expect(checkRecipeOptions({ recipe: 'encrypted', passphrase: 'p', ips: ['1.2.3.4'] }).host).toBe('iSulad');
    const bad: [object, RegExp][] = [
      [{ recipe: 'plain', passphrase: '', ips: ['1.2.3.4'], host: 'h' }, /empty passphrase/],
      [{ recipe: 'plain', passphrase: 'p', ips: [], host: 'h' }, /at least one public network IP/],
      [{ recipe: 'plain', passphrase: 'p', ips: ['1.2.3'], host: 'h' }, /invalid IP address '1.2.3'/],
      [{ recipe: 'plain', passphrase: 'p', ips: ['1.2.3.4'] }, /host name is required/],
      [{ recipe: 'plain', passphrase: 'p', ips: ['1.2.3.4'], host: 'bad host' }, /invalid host name/],
      [{ recipe: 'plain', passphrase: 'p', ips: ['1.2.3.4'], host: 'h', days: 0 }, /invalid number of days/],
      [{ recipe: 'other', passphrase: 'p', ips: ['1.2.3.4'], host: 'h' }, /unknown recipe/],
    ];
    for (const [o, re] of bad) expect(() => checkRecipeOptions(o as never)).toThrow(re);
  });

  it('makes random positive serial numbers in minimal DER', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const s = randomSerial();
      expect(s).toMatch(/^[0-9a-f]{32}$/);
      const first = parseInt(s.slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(1);
      expect(first).toBeLessThanOrEqual(0x7f);
      seen.add(s);
    }
    expect(seen.size).toBe(500);
  });
});

describe('private keys', () => {
  let dir: string;
  let encPem: string;
  let plainPem: string;
  beforeAll(async () => {
    dir = freshDir();
    await prepareDir(dir);
    const k = await generateRsaKey(SMALL);
    encPem = privateKeyToPem(k.privateKey, PASS);
    plainPem = privateKeyToPem(k.privateKey);
    writeFileSync(path.join(dir, 'enc.pem'), encPem);
    writeFileSync(path.join(dir, 'plain.pem'), plainPem);
  });

  it('writes PKCS#8, encrypted with PBES2 / AES-256-CBC / HMAC-SHA256 as openssl genrsa -aes256 does', () => {
    expect(plainPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(plainPem + encPem).not.toContain('\r'); // LF line ends, as openssl writes
    expect(encPem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const asn = openssl(['asn1parse', '-in', path.join(dir, 'enc.pem')]);
    expect(asn.status).toBe(0);
    expect(asn.stdout).toMatch(/:PBES2/);
    expect(asn.stdout).toMatch(/:aes-256-cbc/);
    expect(asn.stdout).toMatch(/:hmacWithSHA256/);
  });

  it('openssl reads the encrypted key with the passphrase only', () => {
    expect(openssl(['rsa', '-in', path.join(dir, 'enc.pem'), '-passin', `pass:${PASS}`, '-check', '-noout']).stdout).toMatch(/RSA key ok/);
    expect(openssl(['rsa', '-in', path.join(dir, 'enc.pem'), '-passin', 'pass:wrong', '-noout']).status).not.toBe(0);
    expect(openssl(['rsa', '-in', path.join(dir, 'enc.pem'), '-passin', 'pass:', '-noout']).status).not.toBe(0);
    expect(openssl(['rsa', '-in', path.join(dir, 'plain.pem'), '-passin', 'pass:', '-check', '-noout']).status).toBe(0);
  });

  it('node:crypto reads the encrypted key with the passphrase only, and it is the same key', () => {
    const k = createPrivateKey({ key: encPem, passphrase: PASS });
    expect(k.asymmetricKeyDetails?.modulusLength).toBe(SMALL);
    expect(k.export({ type: 'pkcs8', format: 'pem' })).toBe(plainPem.replace(/\r\n/g, '\n'));
    expect(() => createPrivateKey({ key: encPem, passphrase: 'wrong' })).toThrow();
    expect(() => createPrivateKey({ key: encPem })).toThrow();
  });

  it('reads back with privateKeyFromPem, and its errors never contain the passphrase', () => {
    const k = privateKeyFromPem(encPem, PASS);
    expect(privateKeyToPem(k)).toBe(plainPem);
    let msg = '';
    try {
      privateKeyFromPem(encPem, `${PASS}x`);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/cannot read private key/);
    expect(msg).not.toContain(PASS);
    expect(() => privateKeyToPem(k, '')).toThrow(/empty passphrase/);
  });
});

describe('recipe 1 (plain keys)', () => {
  let dir: string;
  const steps: string[] = [];
  beforeAll(async () => {
    dir = freshDir();
    await prepareDir(dir);
    await generateInto(dir, {
      recipe: 'plain',
      passphrase: PASS,
      ips: ['192.168.10.20', '2001:db8::7'],
      host: 'isulad.example.com',
      keyBits: SMALL,
      onStep: (s) => steps.push(s),
    });
  });

  it('reports the steps of the script in order', () => {
    expect(steps).toEqual([
      'Generating CA key',
      'Generating CA certificate',
      'Generating server key',
      'Generating server CSR',
      'Signing server CSR with CA',
      'Generating client key',
      'Generating client CSR',
      'Creating extended key usage',
      'Signing client CSR with CA',
    ]);
    expect(steps).toEqual(Object.values(STEPS));
  });

  it('writes the six files with modes 0400 (keys) and 0444 (certificates)', () => {
    expect(readdirSync(dir).sort()).toEqual(ALL_FILES);
    for (const f of ['ca-key.pem', 'server-key.pem', 'key.pem']) expect(modeOf(path.join(dir, f)), f).toBe(0o400);
    for (const f of ['ca.pem', 'server-cert.pem', 'cert.pem']) expect(modeOf(path.join(dir, f)), f).toBe(0o444);
  });

  it('openssl verifies both certificates against the CA, each for its own purpose only', () => {
    const v = (purpose: string, f: string) => openssl(['verify', '-purpose', purpose, '-CAfile', 'ca.pem', f], dir);
    expect(v('sslserver', 'server-cert.pem').stdout).toMatch(/server-cert.pem: OK/);
    expect(v('sslclient', 'cert.pem').stdout).toMatch(/cert.pem: OK/);
    expect(v('sslclient', 'server-cert.pem').status).not.toBe(0);
    expect(v('sslserver', 'cert.pem').status).not.toBe(0);
    // And not against another CA.
    expect(openssl(['verify', '-CAfile', 'server-cert.pem', 'cert.pem'], dir).status).not.toBe(0);
  });

  it('makes a self-signed CA with the spec subject, CA:TRUE, sha256, 365 days', () => {
    const t = x509Text(path.join(dir, 'ca.pem'));
    expect(t).toContain(`Subject: ${CA_SUBJECT_TEXT}`);
    expect(t).toContain(`Issuer: ${CA_SUBJECT_TEXT}`);
    expect(t).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(t).toMatch(/Certificate Sign, CRL Sign/);
    expect(t).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    const c = new X509Certificate(read(dir, 'ca.pem'));
    const days = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000;
    expect(days).toBeGreaterThan(365);
    expect(days).toBeLessThan(365.01); // 365 days + the minute of skew
    expect(Date.parse(c.validFrom)).toBeLessThanOrEqual(Date.now());
    expect(c.ca).toBe(true);
    expect(c.checkIssued(c)).toBe(true);
  });

  it('makes the server certificate: CN=<host>, DNS and IP SANs plus 127.0.0.1, serverAuth', () => {
    const t = x509Text(path.join(dir, 'server-cert.pem'));
    expect(t).toMatch(/Subject: CN = isulad\.example\.com\n/);
    expect(t).toContain(`Issuer: ${CA_SUBJECT_TEXT}`);
    expect(t).toMatch(/Subject Alternative Name:\s*\n\s*DNS:isulad\.example\.com, IP Address:192\.168\.10\.20, IP Address:2001:DB8:0:0:0:0:0:7, IP Address:127\.0\.0\.1\n/);
    expect(t).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Server Authentication\n/);
    expect(t).toMatch(/Basic Constraints:\s*\n\s*CA:FALSE/);
    expect(t).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
  });

  it('makes the client certificate: CN=client, clientAuth, no SAN', () => {
    const t = x509Text(path.join(dir, 'cert.pem'));
    expect(t).toMatch(/Subject: CN = client\n/);
    expect(t).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Client Authentication\n/);
    expect(t).not.toMatch(/Subject Alternative Name/);
  });

  it('server identity holds for the host, each IP and 127.0.0.1, not for other names', () => {
    const peer = new X509Certificate(read(dir, 'server-cert.pem')).toLegacyObject();
    for (const name of ['isulad.example.com', '192.168.10.20', '2001:db8::7', '127.0.0.1']) {
      expect(checkServerIdentity(name, peer), name).toBeUndefined();
    }
    for (const name of ['other.example.com', '192.168.10.21', 'localhost']) expect(checkServerIdentity(name, peer), name).toBeInstanceOf(Error);
    expect(openssl(['verify', '-CAfile', 'ca.pem', '-verify_ip', '192.168.10.20', 'server-cert.pem'], dir).status).toBe(0);
    expect(openssl(['verify', '-CAfile', 'ca.pem', '-verify_hostname', 'isulad.example.com', 'server-cert.pem'], dir).status).toBe(0);
    expect(openssl(['verify', '-CAfile', 'ca.pem', '-verify_ip', '10.9.9.9', 'server-cert.pem'], dir).status).not.toBe(0);
  });

  it('encrypts ca-key.pem with the passphrase; server-key.pem and key.pem are plain', () => {
    const rsa = (f: string, pass: string) => openssl(['rsa', '-in', f, '-passin', pass, '-noout', '-modulus'], dir);
    expect(read(dir, 'ca-key.pem')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(rsa('ca-key.pem', `pass:${PASS}`).status).toBe(0);
    expect(rsa('ca-key.pem', 'pass:wrong').status).not.toBe(0);
    expect(rsa('ca-key.pem', 'pass:').status).not.toBe(0);
    for (const f of ['server-key.pem', 'key.pem']) {
      expect(read(dir, f), f).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(rsa(f, 'pass:').status, f).toBe(0);
    }
  });

  it('each key matches its certificate', () => {
    const keyMod = (f: string, pass = 'pass:') => openssl(['rsa', '-in', f, '-passin', pass, '-noout', '-modulus'], dir).stdout;
    const certMod = (f: string) => openssl(['x509', '-in', f, '-noout', '-modulus'], dir).stdout;
    expect(keyMod('ca-key.pem', `pass:${PASS}`)).toBe(certMod('ca.pem'));
    expect(keyMod('server-key.pem')).toBe(certMod('server-cert.pem'));
    expect(keyMod('key.pem')).toBe(certMod('cert.pem'));
    expect(keyMod('key.pem')).not.toBe(certMod('server-cert.pem'));
  });

  it('node:tls sets up mutual TLS with these files (client identity seen by the server)', async () => {
    const r = await handshake(
      { ca: read(dir, 'ca.pem'), cert: read(dir, 'server-cert.pem'), key: read(dir, 'server-key.pem') },
      { ca: read(dir, 'ca.pem'), cert: read(dir, 'cert.pem'), key: read(dir, 'key.pem') },
    );
    expect(r.clientError).toBeUndefined();
    expect(r.serverError).toBeUndefined();
    expect(r.serverAccepted).toBe(true);
    expect(r.reply).toBe('hello client');
  });

  describe('rejections', () => {
    let other: string;
    beforeAll(async () => {
      other = freshDir();
      await prepareDir(other);
      await generateInto(other, { recipe: 'plain', passphrase: PASS, ips: ['192.168.10.20'], host: 'isulad.example.com', keyBits: SMALL });
    });
    const server = () => ({ ca: read(dir, 'ca.pem'), cert: read(dir, 'server-cert.pem'), key: read(dir, 'server-key.pem') });

    it('the server rejects a client certificate from another CA', async () => {
      const client = { ca: read(dir, 'ca.pem'), cert: read(other, 'cert.pem'), key: read(other, 'key.pem') };
      const r = await handshake(server(), client);
      expect(r.serverAccepted).toBe(false);
      expect(r.reply).toBe('');
      // Why: the issuer is unknown to the server.
      const why = await handshake(server(), client, false);
      expect(why.authorizationError).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    });

    it('the server rejects a client without a certificate', async () => {
      const r = await handshake(server(), { ca: read(dir, 'ca.pem') });
      expect(r.serverAccepted).toBe(false);
      expect(r.reply).toBe('');
    });

    it('the server rejects its own CA-signed server certificate used as a client certificate (EKU)', async () => {
      const client = { ca: read(dir, 'ca.pem'), cert: read(dir, 'server-cert.pem'), key: read(dir, 'server-key.pem') };
      const r = await handshake(server(), client);
      expect(r.serverAccepted).toBe(false);
      expect(r.reply).toBe('');
      const why = await handshake(server(), client, false);
      expect(why.authorizationError).toBe('INVALID_PURPOSE');
    });

    it('the client rejects a server certificate from another CA', async () => {
      const r = await handshake(
        { ca: read(dir, 'ca.pem'), cert: read(other, 'server-cert.pem'), key: read(other, 'server-key.pem') },
        { ca: read(dir, 'ca.pem'), cert: read(dir, 'cert.pem'), key: read(dir, 'key.pem') },
      );
      expect(r.reply).toBe('');
      expect((r.clientError as NodeJS.ErrnoException | undefined)?.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/);
    });
  });
});

describe('recipe 2 (encrypted keys), real 2048-bit size', () => {
  let dir: string;
  let ms = 0;
  beforeAll(async () => {
    dir = freshDir();
    await prepareDir(dir);
    const t = Date.now();
    await generateInto(dir, { recipe: 'encrypted', passphrase: PASS, ips: ['10.1.2.3'] });
    ms = Date.now() - t;
    console.log(`recipe 2 with 2048-bit keys: ${ms} ms`);
  }, 120_000);

  it('writes 2048-bit keys, no ca-key.pem (the script deletes it), modes 0400/0444', () => {
    expect(readdirSync(dir).sort()).toEqual(ALL_FILES.filter((f) => f !== 'ca-key.pem'));
    for (const f of ['ca.pem', 'server-cert.pem', 'cert.pem']) {
      expect(x509Text(path.join(dir, f)), f).toMatch(/Public-Key: \(2048 bit\)/);
      expect(modeOf(path.join(dir, f)), f).toBe(0o444);
    }
    for (const f of ['server-key.pem', 'key.pem']) expect(modeOf(path.join(dir, f)), f).toBe(0o400);
    expect(ms).toBeLessThan(60_000);
  });

  it('leaves server-key.pem and key.pem encrypted: they need the passphrase (openssl and node:crypto)', () => {
    for (const f of ['server-key.pem', 'key.pem']) {
      expect(read(dir, f), f).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      expect(openssl(['rsa', '-in', f, '-passin', `pass:${PASS}`, '-check', '-noout'], dir).stdout, f).toMatch(/RSA key ok/);
      expect(openssl(['rsa', '-in', f, '-passin', 'pass:wrong', '-noout'], dir).status, f).not.toBe(0);
      expect(openssl(['rsa', '-in', f, '-passin', 'pass:', '-noout'], dir).status, f).not.toBe(0);
      expect(createPrivateKey({ key: read(dir, f), passphrase: PASS }).asymmetricKeyDetails?.modulusLength, f).toBe(2048);
      expect(() => createPrivateKey({ key: read(dir, f), passphrase: 'wrong' }), f).toThrow();
    }
  });

  it('names the server iSulad: CN, DNS SAN, the IP and 127.0.0.1, serverAuth; client CN=client, clientAuth', () => {
    const s = x509Text(path.join(dir, 'server-cert.pem'));
    expect(s).toMatch(/Subject: CN = iSulad\n/);
    expect(s).toMatch(/DNS:iSulad, IP Address:10\.1\.2\.3, IP Address:127\.0\.0\.1\n/);
    expect(s).toMatch(/TLS Web Server Authentication/);
    const c = x509Text(path.join(dir, 'cert.pem'));
    expect(c).toMatch(/Subject: CN = client\n/);
    expect(c).toMatch(/TLS Web Client Authentication/);
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', 'ca.pem', 'server-cert.pem'], dir).status).toBe(0);
    expect(openssl(['verify', '-purpose', 'sslclient', '-CAfile', 'ca.pem', 'cert.pem'], dir).status).toBe(0);
  });

  it('node:tls does mutual TLS with the encrypted keys and the passphrase, and not without it', async () => {
    const r = await handshake(
      { ca: read(dir, 'ca.pem'), cert: read(dir, 'server-cert.pem'), key: read(dir, 'server-key.pem'), passphrase: PASS },
      { ca: read(dir, 'ca.pem'), cert: read(dir, 'cert.pem'), key: read(dir, 'key.pem'), passphrase: PASS, servername: 'iSulad' },
    );
    expect(r.clientError).toBeUndefined();
    expect(r.reply).toBe('hello client');
    await expect(
      handshake(
        { ca: read(dir, 'ca.pem'), cert: read(dir, 'server-cert.pem'), key: read(dir, 'server-key.pem'), passphrase: 'wrong' },
        { ca: read(dir, 'ca.pem') },
      ),
    ).rejects.toThrow();
  });

  it('keeps an encrypted ca-key.pem with keepCaKey, which signs for the same CA', async () => {
    const d = freshDir();
    await prepareDir(d);
    await generateInto(d, { recipe: 'encrypted', passphrase: PASS, ips: ['10.1.2.3'], keepCaKey: true, keyBits: SMALL });
    expect(readdirSync(d).sort()).toEqual(ALL_FILES);
    expect(modeOf(path.join(d, 'ca-key.pem'))).toBe(0o400);
    expect(openssl(['rsa', '-in', 'ca-key.pem', '-passin', 'pass:wrong', '-noout'], d).status).not.toBe(0);
    // Sign one more certificate with it, the way the script's openssl would.
    const csr = openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'extra-key.pem', '-subj', '/CN=extra', '-out', 'extra.csr'], d);
    expect(csr.status).toBe(0);
    const sig = openssl(['x509', '-req', '-in', 'extra.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-passin', `pass:${PASS}`, '-CAcreateserial', '-days', '1', '-out', 'extra.pem'], d);
    expect(sig.status).toBe(0);
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'extra.pem'], d).status).toBe(0);
  });
});

describe('recipe 1 with the real 4096-bit keys', () => {
  it('generates 4096-bit CA, server and client keys', async () => {
    const d = freshDir();
    await prepareDir(d);
    const t = Date.now();
    await generateInto(d, { recipe: 'plain', passphrase: PASS, ips: ['10.0.0.1'], host: 'h4096' });
    console.log(`recipe 1 with 4096-bit keys: ${Date.now() - t} ms`);
    for (const f of ['ca.pem', 'server-cert.pem', 'cert.pem']) expect(x509Text(path.join(d, f)), f).toMatch(/Public-Key: \(4096 bit\)/);
    expect(openssl(['rsa', '-in', 'server-key.pem', '-passin', 'pass:', '-check', '-noout'], d).stdout).toMatch(/RSA key ok/);
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'server-cert.pem', 'cert.pem'], d).status).toBe(0);
  }, 180_000);
});

describe('writing files', () => {
  it('replaces read-only files of a previous run, keeps other files, removes the obsolete ca-key.pem', async () => {
    const d = freshDir();
    await prepareDir(d);
    await generateInto(d, { recipe: 'plain', passphrase: PASS, ips: ['10.0.0.1'], host: 'old', keyBits: SMALL });
    writeFileSync(path.join(d, 'daemon.json'), '{}');
    const oldCa = read(d, 'ca.pem');
    await generateInto(d, { recipe: 'encrypted', passphrase: PASS, ips: ['10.0.0.2'], keyBits: SMALL });
    expect(readdirSync(d).sort()).toEqual([...ALL_FILES.filter((f) => f !== 'ca-key.pem'), 'daemon.json'].sort());
    expect(read(d, 'ca.pem')).not.toBe(oldCa);
    expect(read(d, 'daemon.json')).toBe('{}');
    expect(x509Text(path.join(d, 'server-cert.pem'))).toMatch(/Subject: CN = iSulad\n/);
    expect(modeOf(path.join(d, 'ca.pem'))).toBe(0o444);
  });

  it('fails clearly, before generating, when the directory cannot be created or written', async () => {
    const d = freshDir();
    await prepareDir(d);
    writeFileSync(path.join(d, 'file'), 'x');
    await expect(prepareDir(path.join(d, 'file', 'sub'))).rejects.toThrow(/cannot create directory .*file\/sub: a path component is not a directory \(ENOTDIR\)/);
    await expect(prepareDir(path.join(d, 'file'))).rejects.toThrow(/is not a directory/);
  });

  it('leaves the previous files intact, and no temporary file, when writing fails', async () => {
    const d = freshDir();
    await prepareDir(d);
    await generateInto(d, { recipe: 'plain', passphrase: PASS, ips: ['10.0.0.1'], host: 'old', keyBits: SMALL });
    const before = ALL_FILES.map((f) => read(d, f));
    const bundle = await generateRecipe({ recipe: 'plain', passphrase: PASS, ips: ['10.0.0.1'], host: 'new', keyBits: SMALL });
    // The last file cannot be staged (its directory does not exist), after the six others were.
    bundle.files.push({ name: path.join('missing-dir', 'x.pem'), mode: 0o444, contents: 'x' });
    await expect(writeBundle(d, bundle)).rejects.toThrow(/cannot write the certificates into .*: no such file or directory \(ENOENT\)/);
    expect(readdirSync(d).sort()).toEqual(ALL_FILES);
    expect(ALL_FILES.map((f) => read(d, f))).toEqual(before);
  });
});
