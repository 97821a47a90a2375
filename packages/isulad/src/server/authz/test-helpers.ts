import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';

export interface Certs {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clients: Record<string, { cert: Buffer; key: Buffer }>;
}

/** Throwaway CA, server certificate (SAN IP:127.0.0.1, DNS:localhost) and one client certificate per CN. */
export function makeCerts(dir: string, clientCNs: string[]): Certs {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=authz test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => readFileSync(join(dir, n));
  const clients: Certs['clients'] = {};
  for (const cn of clientCNs) {
    openssl('req', ...ec, '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/O=isula/CN=${cn}`);
    openssl('x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${cn}.pem`, '-days', '2', '-extfile', 'client.ext');
    clients[cn] = { cert: f(`${cn}.pem`), key: f(`${cn}.key`) };
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clients };
}

export interface PluginRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
}

/** What the fake plugin answers to one AuthZReq: a JSON body (status 200) or a raw reply. */
export type PluginAnswer = { json: unknown; delayMs?: number } | { status: number; body: string } | 'hang';

/** A Docker authorization plugin on a unix socket whose AuthZReq answers the test decides. */
export class FakePlugin {
  readonly requests: PluginRequest[] = [];
  activations = 0;
  implementsAuthz = true;
  answer: (req: Record<string, unknown>) => PluginAnswer = () => ({ json: { Allow: true } });
  private server: http.Server | undefined;
  private readonly hanging = new Set<http.ServerResponse>();

  constructor(readonly socketPath: string) {}

  get authzRequests(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.path === '/AuthZPlugin.AuthZReq').map((r) => r.json ?? {});
  }

  /** Starts listening (a no-op when it already does). */
  async start(): Promise<void> {
    if (this.server) return;
    rmSync(this.socketPath, { force: true });
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try {
          json = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        this.requests.push({ path: req.url ?? '', headers: req.headers, body, json });
        const send = (status: number, text: string) => {
          res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
          res.end(text);
        };
        if (req.url === '/Plugin.Activate') {
          this.activations++;
          return send(200, JSON.stringify({ Implements: this.implementsAuthz ? ['authz'] : ['NetworkDriver'] }));
        }
        if (req.url !== '/AuthZPlugin.AuthZReq') return send(404, '404 page not found');
        const a = this.answer(json ?? {});
        if (a === 'hang') {
          this.hanging.add(res);
          return;
        }
        if ('json' in a) {
          if (a.delayMs) setTimeout(() => send(200, JSON.stringify(a.json)), a.delayMs);
          else send(200, JSON.stringify(a.json));
        }
        else send(a.status, a.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.socketPath, resolve));
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
