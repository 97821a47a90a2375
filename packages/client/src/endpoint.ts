import { readFileSync } from 'node:fs';
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

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Validates the host like upstream (`unix://<abs>` or `tcp://<ip|localhost>:<port>`) and loads TLS files. */
export function resolveEndpoint(options: ConnectOptions, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const o = optionsFromEnv(options, env);
  const uri = o.host;
  const parsed = parseHostUri(uri);
  if (!parsed) throw new InvalidHostError(uri);
  if (parsed.kind === 'unix') return parsed;
  const { host, port } = parsed;
  const endpoint: Endpoint = { kind: 'tcp', uri, host, port };
  if (o.tls) {
    endpoint.tls = {
      verify: o.tlsVerify,
      ca: o.tlsVerify ? readIfPresent(o.tlsCaCert) : undefined,
      cert: readIfPresent(o.tlsCert),
      key: readIfPresent(o.tlsKey),
    };
  }
  return endpoint;
}
