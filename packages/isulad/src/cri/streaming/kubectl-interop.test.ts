import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttachRequestInfo, type ExecRequestInfo, type SessionIO, StreamingServer, type StreamingRuntime } from './index';

/**
 * A real client-go WebSocket (v5) client against the streaming server: kubectl talks to a fake API
 * server that answers the pod lookups and hands the exec/attach upgrade, byte for byte, to the
 * URL the streaming server issued (as kubelet's proxy would). Skipped without kubectl.
 */
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const haveKubectl = kubectl.status === 0;

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const runtime: StreamingRuntime = {
  async exec(req: ExecRequestInfo, io: SessionIO): Promise<number> {
    const [what, arg] = req.cmd;
    if (what === 'upper') {
      io.stderr?.write('note on stderr\n');
      if (io.stdin) for await (const chunk of io.stdin) io.stdout?.write(String(chunk).toUpperCase());
      return Number(arg ?? 0);
    }
    io.stdout?.write(`ran ${req.cmd.join(' ')}\n`);
    return Number(arg ?? 0);
  },
  async attach(_req: AttachRequestInfo, io: SessionIO): Promise<void> {
    // Output is written once the client sends: what a container prints before kubectl attach is
    // reading may not be shown (kubectl says as much: "If you don't see a command prompt...").
    let first = true;
    if (io.stdin) {
      for await (const chunk of io.stdin) {
        if (first) io.stdout?.write('attached\n');
        first = false;
        io.stdout?.write(chunk);
      }
    }
  },
  portForward: () => Promise.reject(new Error('not used')),
};

const pod = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name: 'p', namespace: 'default', uid: '1' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: true, state: { running: {} } }] },
};

const apiResources = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  ],
};

let streaming: StreamingServer;
let api: Server;
let dir: string;
const upgrades: string[] = [];

function proxyUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
  const u = new URL(req.url ?? '/', 'http://api');
  const flag = (name: string) => u.searchParams.get(name) === 'true';
  upgrades.push(`${req.method} ${u.pathname} ${req.headers.upgrade} ${req.headers['sec-websocket-protocol'] ?? ''}`);
  let target: string;
  try {
    target = u.pathname.endsWith('/exec')
      ? streaming.getExec({ containerId: 'c', cmd: u.searchParams.getAll('command'), tty: flag('tty'), stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr') }).url
      : streaming.getAttach({ containerId: 'c', tty: flag('tty'), stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr') }).url;
  } catch (err) {
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${(err as Error).message.length}\r\n\r\n${(err as Error).message}`);
    return;
  }
  const t = new URL(target);
  const upstream = connect(Number(t.port), t.hostname, () => {
    const lines = [`${req.method} ${t.pathname} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() !== 'host') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    lines.push(`Host: ${t.host}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  upstream.on('error', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
}

function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('kubectl', ['--kubeconfig', join(dir, 'config'), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

describe.skipIf(!haveKubectl)('kubectl (client-go WebSocket executor) against the streaming server', () => {
  beforeAll(async () => {
    streaming = new StreamingServer({ address: '127.0.0.1', port: 0, runtime, log: quiet });
    await streaming.start();
    api = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://api').pathname;
      const body =
        path === '/api'
          ? { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }
          : path === '/apis'
            ? { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }
            : path === '/api/v1'
              ? apiResources
              : path === '/api/v1/namespaces/default/pods/p'
                ? pod
                : undefined;
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    });
    api.on('upgrade', proxyUpgrade);
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const port = (api.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'kubectl-interop-'));
    writeFileSync(
      join(dir, 'config'),
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]
users: [{name: u, user: {}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`,
    );
  });

  afterAll(async () => {
    await streaming?.close();
    await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exec: output, stderr, stdin closed with the v5 CLOSE signal, exit code 0', async () => {
    const r = await run(['exec', '-i', 'p', '--', 'upper'], 'hello from kubectl\n');
    expect(r).toMatchObject({ code: 0, stdout: 'HELLO FROM KUBECTL\n', stderr: 'note on stderr\n' });
    expect(upgrades.at(-1)).toBe('GET /api/v1/namespaces/default/pods/p/exec websocket v5.channel.k8s.io');
  });

  it('exec: a non-zero exit code reaches kubectl', async () => {
    const r = await run(['exec', 'p', '--', 'exit', '3']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('ran exit 3\n');
    expect(r.stderr).toContain('command terminated with exit code 3');
  });

  it('attach: streams until stdin closes', async () => {
    const r = await run(['attach', '-i', 'p', '-c', 'c'], 'typed\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('attached\ntyped\n');
    expect(upgrades.at(-1)).toBe('GET /api/v1/namespaces/default/pods/p/attach websocket v5.channel.k8s.io');
  });
});
