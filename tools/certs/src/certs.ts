// The two certificate recipes of the spec (isulad-install-config, "配置TLS认证与开启远程访问"),
// done with node-forge instead of the openssl command line.
//
// Key pairs come from node:crypto (native, fast: a 4096-bit key in pure JS takes far too long), and
// so does the RSA private-key operation of the signatures (forge's pure-JS one takes ~0.3 s per
// 4096-bit signature); everything else (CSRs, certificates, extensions, the to-be-signed encodings,
// PKCS#8 PEM, PBES2/AES-256 encryption of the keys) is node-forge. Nothing in this file prints anything: the passphrase and the keys only ever
// leave it as the PEM texts of the files to write.
import { constants, createPrivateKey, generateKeyPair, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);
const { pki } = forge;

export type Recipe = 'plain' | 'encrypted';
export const RECIPES: readonly Recipe[] = ['plain', 'encrypted'];

/** The CA subject of both spec scripts: /C=CN/ST=zhejiang/L=hangzhou/O=Huawei/OU=iSulad/CN=iSulad@huawei.com */
export const CA_SUBJECT: ReadonlyArray<readonly [string, string]> = [
  ['C', 'CN'],
  ['ST', 'zhejiang'],
  ['L', 'hangzhou'],
  ['O', 'Huawei'],
  ['OU', 'iSulad'],
  ['CN', 'iSulad@huawei.com'],
];
/** Always in the server certificate's subjectAltName, as in both scripts. */
export const LOOPBACK_IP = '127.0.0.1';
/** Recipe 2 names the server "iSulad" (CN and DNS SAN). */
export const ENCRYPTED_RECIPE_HOST = 'iSulad';
export const CLIENT_CN = 'client';
export const DEFAULT_DAYS = 365;
export const DEFAULT_KEY_BITS: Record<Recipe, number> = { plain: 4096, encrypted: 2048 };

/** The file names of the scripts (the daemon's tls-config and `isula --tlscacert ...` use them). */
export const FILES = {
  caKey: 'ca-key.pem',
  caCert: 'ca.pem',
  serverKey: 'server-key.pem',
  serverCert: 'server-cert.pem',
  clientKey: 'key.pem',
  clientCert: 'cert.pem',
} as const;
/** chmod 0400 for keys, 0444 for certificates (end of recipe 1; applied to both recipes). */
export const KEY_MODE = 0o400;
export const CERT_MODE = 0o444;

/** The progress lines of recipe 1 (` => ...`), in order. */
export const STEPS = {
  caKey: 'Generating CA key',
  caCert: 'Generating CA certificate',
  serverKey: 'Generating server key',
  serverCsr: 'Generating server CSR',
  serverSign: 'Signing server CSR with CA',
  clientKey: 'Generating client key',
  clientCsr: 'Generating client CSR',
  clientExt: 'Creating extended key usage',
  clientSign: 'Signing client CSR with CA',
} as const;

export class CertsError extends Error {
  override name = 'CertsError';
}

// ---------------------------------------------------------------------------------------------
// Input checks

/** The 4 or 16 network-order bytes of an IPv4/IPv6 address, or null if `ip` is not one. */
export function ipBytes(ip: string): Buffer | null {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map((p) => Number(p)));
  if (!isIPv6(ip)) return null;
  let text = ip.replace(/%.*$/, ''); // zone id: not part of the address
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipBytes(v4[1]!)!;
    text = text.slice(0, v4.index) + b.readUInt16BE(0).toString(16) + ':' + b.readUInt16BE(2).toString(16);
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8) return null;
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Canonical text of an IP address (for messages and de-duplication). */
export function canonicalIp(ip: string): string {
  const b = ipBytes(ip);
  if (!b) throw new CertsError(`invalid IP address '${ip}'`);
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** A DNS host name (RFC 1123 labels), as `Enter host:` expects. */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name
    .replace(/\.$/, '')
    .split('.')
    .every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

// ---------------------------------------------------------------------------------------------
// Keys

export type KeyPair = forge.pki.rsa.KeyPair;

/** A fresh RSA key pair (e = 65537), generated natively, as a node-forge key pair. */
export async function generateRsaKey(bits: number): Promise<KeyPair> {
  if (!Number.isInteger(bits) || bits < 1024) throw new CertsError(`RSA key size ${bits} is too small`);
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const key = pki.privateKeyFromPem(privateKey);
  return { privateKey: key, publicKey: pki.setRsaPublicKey(key.n, key.e) };
}

/**
 * PKCS#8 PEM of a private key, as OpenSSL 3 writes it: `BEGIN PRIVATE KEY`, or with a passphrase
 * `BEGIN ENCRYPTED PRIVATE KEY` (PBES2: PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC), which is
 * what `openssl genrsa -aes256` produces and what `openssl rsa -passin` and node:crypto
 * `createPrivateKey({ key, passphrase })` read.
 */
export function privateKeyToPem(key: forge.pki.rsa.PrivateKey, passphrase?: string): string {
  const info = pki.wrapRsaPrivateKey(pki.privateKeyToAsn1(key));
  if (passphrase === undefined) return lf(pki.privateKeyInfoToPem(info));
  if (passphrase.length === 0) throw new CertsError('empty passphrase');
  const encrypted = pki.encryptPrivateKeyInfo(info, passphrase, {
    algorithm: 'aes256',
    prfAlgorithm: 'sha256',
    count: 2048,
    saltSize: 16,
  });
  return lf(pki.encryptedPrivateKeyToPem(encrypted));
}

/** forge writes PEM with CRLF line ends; openssl writes LF. */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

/** Reads a key written by privateKeyToPem (errors never carry the passphrase or the key). */
export function privateKeyFromPem(pem: string, passphrase?: string): forge.pki.rsa.PrivateKey {
  try {
    if (pem.includes('ENCRYPTED PRIVATE KEY')) {
      if (passphrase === undefined) throw new Error('key is encrypted');
      const info = pki.decryptPrivateKeyInfo(pki.encryptedPrivateKeyFromPem(pem), passphrase);
      if (!info) throw new Error('wrong passphrase');
      return pki.privateKeyFromAsn1(info) as forge.pki.rsa.PrivateKey;
    }
    return pki.privateKeyFromPem(pem);
  } catch (e) {
    throw new CertsError(`cannot read private key: ${e instanceof Error && /passphrase|encrypted/.test(e.message) ? e.message : 'malformed key or wrong passphrase'}`);
  }
}

/** The native form of a forge private key, for signing. */
const nativeKeys = new WeakMap<forge.pki.rsa.PrivateKey, KeyObject>();
function nativeKey(key: forge.pki.rsa.PrivateKey): KeyObject {
  let k = nativeKeys.get(key);
  if (!k) {
    k = createPrivateKey(pki.privateKeyToPem(key));
    nativeKeys.set(key, k);
  }
  return k;
}

/** DER prefix of the PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017, 9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A stand-in for a forge private key in `cert.sign(key, md)` / `csr.sign(key, md)`: forge builds
 * and hashes the to-be-signed DER, this does RSASSA-PKCS1-v1_5 over the SHA-256 digest natively
 * (EMSA-PKCS1-v1_5 encoding = private-key operation with PKCS#1 type-1 padding on the DigestInfo).
 */
function signer(key: forge.pki.rsa.PrivateKey): forge.pki.rsa.PrivateKey {
  const native = nativeKey(key);
  const sign = (md: forge.md.MessageDigest): string => {
    if (md.algorithm !== 'sha256') throw new CertsError(`unsupported digest ${md.algorithm}`);
    const digest = Buffer.from(md.digest().getBytes(), 'binary');
    const info = Buffer.concat([SHA256_DIGEST_INFO, digest]);
    return privateEncrypt({ key: native, padding: constants.RSA_PKCS1_PADDING }, info).toString('binary');
  };
  return { ...key, sign } as unknown as forge.pki.rsa.PrivateKey;
}

// ---------------------------------------------------------------------------------------------
// Certificates

const UTF8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class;
const PRINTABLE = forge.asn1.Type.PRINTABLESTRING as unknown as forge.asn1.Class;

/** Subject attributes; encoded as `openssl req -subj` does (C PrintableString, the rest UTF8String). */
function subject(attrs: ReadonlyArray<readonly [string, string]>): forge.pki.CertificateField[] {
  return attrs.map(([shortName, value]) => ({
    shortName,
    value,
    valueTagClass: shortName === 'C' ? PRINTABLE : UTF8,
  }));
}

/** A random positive serial number (16 bytes, first byte 0x01..0x7f: minimal DER, never negative). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! % 0x7f) + 1;
  return b.toString('hex');
}

export interface Validity {
  days: number;
  /** The issuing time; notBefore is one minute earlier (clock skew). */
  now?: Date;
}

function setValidity(cert: forge.pki.Certificate, { days, now = new Date() }: Validity): void {
  if (!Number.isInteger(days) || days < 1) throw new CertsError(`invalid validity '${days}' days`);
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

/** `openssl req -new -x509 -sha256 -subj <CA_SUBJECT>`: a self-signed CA (basicConstraints CA:TRUE). */
export function createCaCertificate(keys: KeyPair, validity: Validity): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  setValidity(cert, validity);
  const name = subject(CA_SUBJECT);
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
  ]);
  cert.sign(signer(keys.privateKey), forge.md.sha256.create());
  return cert;
}

/** `openssl req -new -sha256 -key <key> -subj /CN=<cn>` */
export function createCsr(keys: KeyPair, commonName: string): forge.pki.CertificateSigningRequest {
  const csr = pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject(subject([['CN', commonName]]));
  csr.sign(signer(keys.privateKey), forge.md.sha256.create());
  return csr;
}

export interface ServerNames {
  /** DNS name (or, if it is an IP address, an extra IP) of the server. */
  host: string;
  /** The public IPs; 127.0.0.1 is always added. */
  ips: readonly string[];
}

/**
 * The extfile of the server: `subjectAltName = DNS:<host>,IP:<ip>...,IP:127.0.0.1` and
 * `extendedKeyUsage = serverAuth`.
 */
export function serverExtensions({ host, ips }: ServerNames): object[] {
  const altNames: { type: number; value: string }[] = [];
  const seen = new Set<string>();
  const addIp = (ip: string) => {
    const bytes = ipBytes(ip);
    if (!bytes) throw new CertsError(`invalid IP address '${ip}'`);
    const key = bytes.toString('hex');
    if (seen.has(key)) return;
    seen.add(key);
    altNames.push({ type: 7, value: bytes.toString('binary') });
  };
  if (ipBytes(host)) addIp(host);
  else if (isHostName(host)) altNames.push({ type: 2, value: host });
  else throw new CertsError(`invalid host name '${host}'`);
  for (const ip of ips) addIp(ip);
  addIp(LOOPBACK_IP);
  return [{ name: 'subjectAltName', altNames }, { name: 'extKeyUsage', serverAuth: true }];
}

/** The client extfile: `extendedKeyUsage = clientAuth`. */
export function clientExtensions(): object[] {
  return [{ name: 'extKeyUsage', clientAuth: true }];
}

/** `openssl x509 -req -sha256 -CA ca.pem -CAkey ca-key.pem -extfile <ext>` */
export function signCsr(
  csr: forge.pki.CertificateSigningRequest,
  ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey },
  extensions: object[],
  validity: Validity,
): forge.pki.Certificate {
  if (!csr.verify()) throw new CertsError('the certificate signing request has a bad signature');
  const cert = pki.createCertificate();
  cert.publicKey = csr.publicKey!;
  cert.serialNumber = randomSerial();
  setValidity(cert, validity);
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(signer(ca.key), forge.md.sha256.create());
  return cert;
}

// ---------------------------------------------------------------------------------------------
// The recipes

export interface RecipeOptions {
  recipe: Recipe;
  /** Encrypts ca-key.pem (both recipes) and server-key.pem, key.pem (recipe 2). Never logged. */
  passphrase: string;
  /** The public network IPs (at least one); each becomes an IP SAN, plus 127.0.0.1. */
  ips: readonly string[];
  /** The server name (CN and DNS SAN): asked by recipe 1; recipe 2 uses "iSulad". */
  host?: string;
  days?: number;
  /**
   * Recipe 2 deletes ca-key.pem at the end, as the spec's script does; true keeps it (encrypted)
   * so that more certificates can be signed later. Recipe 1 always keeps it.
   */
  keepCaKey?: boolean;
  /** Internal (tests): RSA key size instead of the recipe's (4096 / 2048). */
  keyBits?: number;
  /** Internal (tests): issuing time. */
  now?: Date;
  /** Called with each progress step (STEPS values) as it starts. */
  onStep?: (step: string) => void;
}

export interface CertFile {
  name: string;
  mode: number;
  contents: string;
}

export interface CertBundle {
  recipe: Recipe;
  host: string;
  /** Canonical IPs in the server certificate, 127.0.0.1 last. */
  ips: string[];
  /** The files to write, in the scripts' order. */
  files: CertFile[];
  /** Names a previous run may have left that this bundle does not contain (recipe 2's ca-key.pem). */
  obsolete: string[];
}

/** Checks the options the way the CLI reports them; returns the host and canonical IP list. */
export function checkRecipeOptions(o: RecipeOptions): { host: string; ips: string[]; days: number } {
  if (!RECIPES.includes(o.recipe)) throw new CertsError(`unknown recipe (expected ${RECIPES.join(' or ')})`);
  if (typeof o.passphrase !== 'string' || o.passphrase.length === 0) throw new CertsError('empty passphrase');
  if (o.ips.length === 0) throw new CertsError('at least one public network IP is required');
  const ips = [...new Set([...o.ips.map(canonicalIp), LOOPBACK_IP])];
  ips.push(...ips.splice(ips.indexOf(LOOPBACK_IP), 1)); // 127.0.0.1 last, as in the scripts
  const host = o.host ?? (o.recipe === 'encrypted' ? ENCRYPTED_RECIPE_HOST : '');
  if (host === '') throw new CertsError('a host name is required');
  if (!ipBytes(host) && !isHostName(host)) throw new CertsError(`invalid host name '${host}'`);
  const days = o.days ?? DEFAULT_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new CertsError(`invalid number of days '${days}'`);
  return { host, ips, days };
}

/**
 * Runs a recipe in memory: CA key + certificate, server key + CSR + certificate, client key + CSR
 * + certificate. The three key pairs are generated in parallel (libuv thread pool); the steps are
 * reported in the scripts' order.
 */
export async function generateRecipe(o: RecipeOptions): Promise<CertBundle> {
  const { host, ips, days } = checkRecipeOptions(o);
  const bits = o.keyBits ?? DEFAULT_KEY_BITS[o.recipe];
  const validity: Validity = { days, now: o.now ?? new Date() };
  const step = o.onStep ?? (() => {});
  const encrypted = o.recipe === 'encrypted';

  // Start all three; await each at its step. A failing one must not leave unhandled rejections.
  const pending = [generateRsaKey(bits), generateRsaKey(bits), generateRsaKey(bits)] as const;
  pending.forEach((p) => p.catch(() => {}));
  const [caKeyP, serverKeyP, clientKeyP] = pending;

  step(STEPS.caKey);
  const caKeys = await caKeyP;
  step(STEPS.caCert);
  const caCert = createCaCertificate(caKeys, validity);
  const ca = { cert: caCert, key: caKeys.privateKey };

  step(STEPS.serverKey);
  const serverKeys = await serverKeyP;
  step(STEPS.serverCsr);
  const serverCsr = createCsr(serverKeys, host);
  step(STEPS.serverSign);
  const serverCert = signCsr(serverCsr, ca, serverExtensions({ host, ips }), validity);

  step(STEPS.clientKey);
  const clientKeys = await clientKeyP;
  step(STEPS.clientCsr);
  const clientCsr = createCsr(clientKeys, CLIENT_CN);
  step(STEPS.clientExt);
  const clientExt = clientExtensions();
  step(STEPS.clientSign);
  const clientCert = signCsr(clientCsr, ca, clientExt, validity);

  const keepCaKey = !encrypted || o.keepCaKey === true;
  const leafPass = encrypted ? o.passphrase : undefined;
  const files: CertFile[] = [];
  if (keepCaKey) files.push({ name: FILES.caKey, mode: KEY_MODE, contents: privateKeyToPem(caKeys.privateKey, o.passphrase) });
  files.push(
    { name: FILES.caCert, mode: CERT_MODE, contents: lf(pki.certificateToPem(caCert)) },
    { name: FILES.serverKey, mode: KEY_MODE, contents: privateKeyToPem(serverKeys.privateKey, leafPass) },
    { name: FILES.serverCert, mode: CERT_MODE, contents: lf(pki.certificateToPem(serverCert)) },
    { name: FILES.clientKey, mode: KEY_MODE, contents: privateKeyToPem(clientKeys.privateKey, leafPass) },
    { name: FILES.clientCert, mode: CERT_MODE, contents: lf(pki.certificateToPem(clientCert)) },
  );
  return { recipe: o.recipe, host, ips, files, obsolete: keepCaKey ? [] : [FILES.caKey] };
}
