import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseHostUri } from '@isula/protocol';

export const DEFAULT_HOST = 'unix:///var/run/isulad.sock';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Check the daemon's certificate against `ca` (and its name); false = encrypt only (`--tls`). */
  verify: boolean;
  /** Name to check the certificate against when it differs from the host dialled. */
  serverName?: string;
  /** Where `ca` was read from (for error messages). */
  caPath?: string;
  /** Common name of the client certificate (sent as `username`, as upstream's client does). */
  clientName?: string;
}

export type Endpoint =
  | { kind: 'unix'; uri: string; path: string }
  | { kind: 'tcp'; uri: string; host: string; port: number; tls?: TlsMaterial };

/** Where and how to reach the daemon, as the CLI's options and environment describe it. */
export interface ConnectOptions {
  host?: string;
  tls?: boolean;
  tlsVerify?: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export class InvalidHostError extends Error {
  constructor(readonly host: string) {
    super(`Invalid socket name : ${host}`);
    this.name = 'InvalidHostError';
  }
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0';

/** Fills unset options from ISULAD_HOST, ISULAD_TLS, ISULAD_TLS_VERIFY and ISULAD_CERT_PATH. */
export function optionsFromEnv(opts: ConnectOptions, env: NodeJS.ProcessEnv = process.env): Required<ConnectOptions> {
  const certDir = env.ISULAD_CERT_PATH && env.ISULAD_CERT_PATH !== '' ? env.ISULAD_CERT_PATH : join(homedir(), '.iSulad');
  const tlsVerify = opts.tlsVerify ?? truthy(env.ISULAD_TLS_VERIFY);
  return {
    host: opts.host ?? (env.ISULAD_HOST && env.ISULAD_HOST !== '' ? env.ISULAD_HOST : DEFAULT_HOST),
    tlsVerify,
    tls: (opts.tls ?? truthy(env.ISULAD_TLS)) || tlsVerify,
    tlsCaCert: opts.tlsCaCert ?? join(certDir, 'ca.pem'),
    tlsCert: opts.tlsCert ?? join(certDir, 'cert.pem'),
    tlsKey: opts.tlsKey ?? join(certDir, 'key.pem'),
  };
}

/** A TLS file the options name could not be used; says which and why, never its content. */
export class TlsFileError extends Error {
  constructor(
    readonly path: string,
    what: string,
    reason: string,
  ) {
    super(`Could not read ${what} "${path}": ${reason}`);
    this.name = 'TlsFileError';
  }
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsFileError(path, what, code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message);
  }
}

/** The client certificate's common name (upstream's client sends it as `username`). */
function commonName(cert: Buffer): string {
  try {
    const { X509Certificate } = require('node:crypto') as typeof import('node:crypto');
    const subject = new X509Certificate(cert).subject;
    return /^CN=(.*)$/m.exec(subject)?.[1] ?? '';
  } catch {
    return '';
  }
}

/**
 * Validates the host like upstream (`unix://<abs>` or `tcp://<ip|localhost>:<port>`) and loads TLS
 * files, in the spec's client modes: `--tlsverify` with CA, certificate and key (mode 1: the
 * daemon is checked against the CA, the client shows its certificate), `--tlsverify` with the CA
 * only (mode 2: no client certificate), or `--tls` alone (encrypted, the daemon not checked). With
 * --tlsverify the CA must be readable; the certificate and key are used when both exist (explicit
 * --tlscert/--tlskey must exist). TLS settings are ignored for unix hosts.
 */
export function resolveEndpoint(options: ConnectOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const o = optionsFromEnv(options, env);
  const uri = o.host;
  const parsed = parseHostUri(uri);
  if (!parsed) throw new InvalidHostError(uri);
  if (parsed.kind === 'unix') return parsed;
  const { host, port } = parsed;
  const endpoint: Endpoint = { kind: 'tcp', uri, host, port };
  if (o.tls) {
    const explicit = options.tlsCert !== undefined || options.tlsKey !== undefined;
    const withClientCert = explicit || (existsSync(o.tlsCert) && existsSync(o.tlsKey));
    const tls: TlsMaterial = { verify: o.tlsVerify };
    if (o.tlsVerify) {
      tls.ca = readTlsFile(o.tlsCaCert, 'CA certificate');
      tls.caPath = o.tlsCaCert;
    }
    if (withClientCert) {
      tls.cert = readTlsFile(o.tlsCert, 'client certificate');
      tls.key = readTlsFile(o.tlsKey, 'client key');
      tls.clientName = commonName(tls.cert);
    }
    endpoint.tls = tls;
  }
  return endpoint;
}
