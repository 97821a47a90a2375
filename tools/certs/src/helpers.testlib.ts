// Helpers shared by the tests (*.testlib.ts: not a test file for vitest, not built into dist).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { generateRecipe, type RecipeOptions } from './certs.js';
import { writeBundle } from './files.js';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real openssl with stdin closed (so a missing passphrase can never prompt). */
export function openssl(args: string[], cwd?: string): Run {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', input: '', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'isula-certs-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a recipe and writes it into `dir`. */
export async function generateInto(dir: string, o: RecipeOptions): Promise<string[]> {
  return writeBundle(dir, await generateRecipe(o));
}

/** `openssl x509 -text` of a certificate file. */
export function x509Text(file: string): string {
  const r = openssl(['x509', '-in', file, '-noout', '-text']);
  if (r.status !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`);
  return r.stdout;
}

export interface HandshakeResult {
  /** What the client received from the server (the server sends "hello <client CN>"). */
  reply: string;
  /** The server accepted the TLS connection (with rejectUnauthorized: the certificate verified). */
  serverAccepted: boolean;
  /** With rejectUnauthorized false: why the server did not authorize the client (an OpenSSL code). */
  authorizationError?: string;
  serverError?: Error;
  clientError?: Error;
}

/**
 * A mutual-TLS exchange on 127.0.0.1: a server that requires and verifies a client certificate
 * (`rejectUnauthorized` true, as isulad with tls-verify; false only to learn the reason of a
 * rejection), and a client that verifies the server, including its identity for 127.0.0.1.
 */
export async function handshake(
  server: tls.TlsOptions,
  client: tls.ConnectionOptions,
  rejectUnauthorized = true,
): Promise<HandshakeResult> {
  const result: HandshakeResult = { reply: '', serverAccepted: false };
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized }, (sock) => {
    result.serverAccepted = true;
    if (!sock.authorized) {
      result.authorizationError = String(sock.authorizationError);
      sock.end('unauthorized');
      return;
    }
    const peer = sock.getPeerCertificate();
    sock.end(`hello ${peer.subject?.CN ?? '?'}`);
  });
  srv.on('tlsClientError', (e) => (result.serverError = e));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        result.clientError ??= new Error('timeout');
        sock.destroy();
      }, 10_000);
      const sock = tls.connect({ host: '127.0.0.1', port, ...client });
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (result.reply += d));
      sock.on('error', (e) => (result.clientError = e));
      sock.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Let the server's error event (after the alert) arrive.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
  return result;
}
