import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigError, type DaemonConfig } from '../config';
import type { DaemonLogger } from '../log/logger';

/*
 * Server credentials of the tcp listeners, in the spec's two server modes:
 * - mode 1, `--tlsverify`: CA + certificate + key; clients must present a certificate the CA signed;
 * - mode 2, `--tls`: certificate + key; clients are not verified.
 * Files are checked at start with upstream's texts (`Invalid CaFile(<p>)`, `Invalid CertFile(<p>)`,
 * the key reported under CertFile as upstream does); the reason goes to the log, never key material.
 *
 * `use-decrypted-key: false` takes an encrypted private key (the spec's second recipe). Its
 * passphrase is read from the file named by ISULAD_TLS_KEY_PASSPHRASE_FILE, else from the systemd
 * credential `tls-key-passphrase` ($CREDENTIALS_DIRECTORY), so it never sits on a command line,
 * in daemon.json or in the environment itself.
 */

export const PASSPHRASE_FILE_ENV = 'ISULAD_TLS_KEY_PASSPHRASE_FILE';
const SYSTEMD_CREDENTIAL = 'tls-key-passphrase';

async function readOr(path: string, message: string, log: DaemonLogger, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    log.error(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    throw new ConfigError(message);
  }
}

/** Where the key's passphrase comes from (undefined: nowhere configured). */
export function passphraseSource(env: NodeJS.ProcessEnv): string | undefined {
  if (env[PASSPHRASE_FILE_ENV]) return env[PASSPHRASE_FILE_ENV];
  if (env.CREDENTIALS_DIRECTORY) return join(env.CREDENTIALS_DIRECTORY, SYSTEMD_CREDENTIAL);
  return undefined;
}

/** A key or passphrase file others may read draws a warning (the daemon still starts). */
async function warnIfShared(path: string, what: string, log: DaemonLogger): Promise<void> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      log.warn(`${what} ${path} can be read by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); restrict it to its owner (chmod 0600)`);
    }
  } catch {
    /* reported when it is read */
  }
}

/** The private key as grpc-js wants it (unencrypted PEM, in memory only). */
async function loadKey(config: DaemonConfig, log: DaemonLogger, env: NodeJS.ProcessEnv): Promise<KeyObject> {
  const path = config.tlsConfig.keyFile;
  const invalid = `Invalid CertFile(${path})`; // upstream reports a bad key under the same label
  await warnIfShared(path, 'TLS key file', log);
  const pem = await readOr(path, invalid, log, 'cannot read the TLS key');
  let passphrase: string | undefined;
  if (!config.useDecryptedKey) {
    const source = passphraseSource(env);
    if (!source) {
      log.error(`use-decrypted-key is false but no passphrase is configured: set ${PASSPHRASE_FILE_ENV} to a file holding it`);
      throw new ConfigError(invalid);
    }
    await warnIfShared(source, 'TLS key passphrase file', log);
    passphrase = (await readOr(source, invalid, log, 'cannot read the TLS key passphrase from')).toString('utf8').replace(/\r?\n$/, '');
  }
  try {
    // An encrypted key without a passphrase fails here too: use-decrypted-key true wants a plain key.
    return createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase ?? '' });
  } catch {
    log.error(
      config.useDecryptedKey
        ? `the TLS key ${path} is not a plain PEM private key (an encrypted key needs use-decrypted-key: false)`
        : `the TLS key ${path} cannot be decrypted with the configured passphrase`,
    );
    throw new ConfigError(invalid);
  }
}

function parseCertificate(pem: Buffer, message: string, log: DaemonLogger, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    log.error(`${path} is not a PEM certificate`);
    throw new ConfigError(message);
  }
}

/** grpc-js credentials for the tcp listeners (insecure without --tls / --tlsverify). */
export async function serverCredentials(config: DaemonConfig, log: DaemonLogger, env: NodeJS.ProcessEnv = process.env): Promise<grpc.ServerCredentials> {
  if (!config.tls) return grpc.ServerCredentials.createInsecure();
  const { caFile, certFile } = config.tlsConfig;
  let ca: Buffer | null = null;
  if (config.tlsVerify) {
    ca = await readOr(caFile, `Invalid CaFile(${caFile})`, log, 'cannot read the TLS CA');
    parseCertificate(ca, `Invalid CaFile(${caFile})`, log, caFile);
  }
  const certPem = await readOr(certFile, `Invalid CertFile(${certFile})`, log, 'cannot read the TLS certificate');
  const cert = parseCertificate(certPem, `Invalid CertFile(${certFile})`, log, certFile);
  const key = await loadKey(config, log, env);
  if (!cert.checkPrivateKey(key)) {
    log.error(`the TLS key ${config.tlsConfig.keyFile} does not belong to the certificate ${certFile}`);
    throw new ConfigError(`Invalid CertFile(${config.tlsConfig.keyFile})`);
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) log.warn(`the TLS certificate ${certFile} expired on ${cert.validTo}: clients will refuse it`);
  if (Date.parse(cert.validFrom) > now) log.warn(`the TLS certificate ${certFile} is not valid before ${cert.validFrom}`);
  const privateKey = Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }) as string);
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: certPem, private_key: privateKey }], config.tlsVerify);
}
