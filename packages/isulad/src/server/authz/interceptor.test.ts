import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTHZ_SOCKET_ENV, createAuthz, localCredentials, PLUGIN_UNREACHABLE, type Authz } from './index';
import { FakePlugin, makeCerts, type Certs } from './test-helpers';

// A test service whose methods carry real isulad paths, with raw bytes as messages.
const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
const definition: grpc.ServiceDefinition = {
  Version: { path: '/containers.ContainerService/Version', requestStream: false, responseStream: false, ...raw },
  Create: { path: '/containers.ContainerService/Create', requestStream: false, responseStream: false, ...raw },
  Events: { path: '/containers.ContainerService/Events', requestStream: false, responseStream: true, ...raw },
  Attach: { path: '/containers.ContainerService/Attach', requestStream: true, responseStream: true, ...raw },
};
const Client = grpc.makeGenericClientConstructor(definition, 'Test');
type TestClient = InstanceType<typeof Client> & Record<string, (...args: unknown[]) => unknown>;

const SECRET_PAYLOAD = 'payload-that-must-not-leave-the-daemon';

let dir: string;
let certs: Certs;
let plugin: FakePlugin;
let authz: Authz;
let server: grpc.Server;
let unixPath: string;
let tlsPort: number; // --tlsverify: client certificates verified
let plainPort: number; // tcp without TLS
let tlsNoVerifyPort: number; // --tls without --tlsverify
const ran: string[] = [];
const warnings: { obj: object; msg: string }[] = [];
const clients: grpc.Client[] = [];
// The server certificate names 127.0.0.1 and localhost; checking the name "localhost" avoids
// Node's warning about an IP address as TLS server name.
const tlsOptions = { 'grpc.ssl_target_name_override': 'localhost' };

const defaultAnswer = (q: Record<string, unknown>) => {
  const action = (q.RequestHeaders as Record<string, string> | undefined)?.['isulad-action'];
  return q.User === 'alice' ? { json: { Allow: true } } : { json: { Allow: false, Msg: `${String(q.User)} may not ${action}` } };
};

function bind(address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

function client(who: 'alice' | 'bob' | 'carol' | 'plain' | 'unix' | 'tls-anon'): TestClient {
  let c: grpc.Client;
  if (who === 'unix') c = new Client(`unix://${unixPath}`, grpc.credentials.createInsecure());
  else if (who === 'plain') c = new Client(`127.0.0.1:${plainPort}`, grpc.credentials.createInsecure());
  else if (who === 'tls-anon') {
    const { cert, key } = certs.clients.alice!; // offered, but this listener does not ask for it
    c = new Client(`127.0.0.1:${tlsNoVerifyPort}`, grpc.credentials.createSsl(certs.ca, key, cert), tlsOptions);
  } else {
    const { cert, key } = certs.clients[who]!;
    c = new Client(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(certs.ca, key, cert), tlsOptions);
  }
  clients.push(c);
  return c as TestClient;
}

function unary(c: TestClient, method: 'Version' | 'Create', md = new grpc.Metadata(), options: grpc.CallOptions = {}) {
  return new Promise<{ err: grpc.ServiceError | null; res?: Buffer }>((resolve) => {
    c[method]!(Buffer.from(SECRET_PAYLOAD), md, options, (err: grpc.ServiceError | null, res?: Buffer) => resolve({ err, res }));
  });
}

function serverStream(c: TestClient) {
  return new Promise<{ err?: grpc.ServiceError; data: string[] }>((resolve) => {
    const data: string[] = [];
    const call = c.Events!(Buffer.from('since')) as grpc.ClientReadableStream<Buffer>;
    call.on('data', (d: Buffer) => data.push(d.toString()));
    call.on('error', (err: grpc.ServiceError) => resolve({ err, data }));
    call.on('end', () => resolve({ data }));
  });
}

/** Writes `messages` without half-closing first (as an attach client typing would), then ends. */
function bidi(c: TestClient, messages: string[]) {
  return new Promise<{ err?: grpc.ServiceError; data: string[]; status?: grpc.StatusObject }>((resolve) => {
    const data: string[] = [];
    let err: grpc.ServiceError | undefined;
    const call = c.Attach!() as grpc.ClientDuplexStream<Buffer, Buffer>;
    call.on('data', (d: Buffer) => {
      data.push(d.toString());
      if (data.length === messages.length) call.end();
    });
    call.on('error', (e: grpc.ServiceError) => (err = e));
    call.on('status', (status: grpc.StatusObject) => resolve({ err, data, status }));
    for (const m of messages) call.write(Buffer.from(m));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isulad-authz-'));
  certs = makeCerts(dir, ['alice', 'bob', 'carol']);
  plugin = new FakePlugin(join(dir, 'authz-broker.sock'));
  await plugin.start();
  authz = createAuthz('authz-broker', {
    env: { [AUTHZ_SOCKET_ENV]: plugin.socketPath },
    log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    timeoutMs: 600,
  });
  // Without channelz, grpc-js never reads a peer's address before the call starts, so a client that
  // resets right after sending shows no address at all in every run (with channelz, as in the
  // daemon, that happens only when the reset beats the accept, e.g. on a busy daemon).
  server = new grpc.Server({ interceptors: [authz.interceptor], 'grpc.enable_channelz': 0 });
  server.addService(definition, {
    Version: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      ran.push('Version');
      cb(null, Buffer.from('version ok'));
    },
    Create: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      ran.push('Create');
      cb(null, Buffer.from('created'));
    },
    Events: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      ran.push('Events');
      call.write(Buffer.from('event 1'));
      call.end();
    },
    Attach: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      ran.push('Attach');
      call.on('data', (d: Buffer) => call.write(Buffer.from(`echo ${d.toString()}`)));
      call.on('end', () => call.end());
    },
  });
  unixPath = join(dir, 'isulad.sock');
  // As bindListeners does: the unix listener tags its calls as local.
  await bind(`unix://${unixPath}`, localCredentials(grpc.ServerCredentials.createInsecure()));
  const { ca, serverCert, serverKey } = certs;
  tlsPort = await bind('127.0.0.1:0', grpc.ServerCredentials.createSsl(ca, [{ cert_chain: serverCert, private_key: serverKey }], true));
  plainPort = await bind('127.0.0.1:0', grpc.ServerCredentials.createInsecure());
  tlsNoVerifyPort = await bind('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: serverCert, private_key: serverKey }], false));
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  server?.forceShutdown();
  authz?.close();
  await plugin?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  ran.length = 0;
  warnings.length = 0;
  plugin.requests.length = 0;
  plugin.implementsAuthz = true;
  plugin.answer = defaultAnswer;
  await plugin.start(); // again, if a test stopped it
});

describe('tcp + TLS (--tlsverify): the user is the verified certificate CN', () => {
  it('alice is allowed: the handler runs and the plugin got the Docker AuthZReq', async () => {
    const { err, res } = await unary(client('alice'), 'Version');
    expect(err).toBeNull();
    expect(res?.toString()).toBe('version ok');
    expect(ran).toEqual(['Version']);
    expect(plugin.authzRequests).toEqual([
      {
        User: 'alice',
        UserAuthNMethod: 'TLS',
        RequestMethod: 'POST',
        RequestURI: '/containers.ContainerService/Version',
        RequestHeaders: { 'isulad-action': 'docker_version' },
      },
    ]);
    const req = plugin.requests.find((r) => r.path === '/AuthZPlugin.AuthZReq')!;
    expect(req.headers.accept).toBe('application/vnd.docker.plugins.v1.2+json');
    expect(req.body).not.toContain(SECRET_PAYLOAD); // the request body is not forwarded
  });

  it('bob is refused: PERMISSION_DENIED with the plugin message, the handler never runs', async () => {
    const { err } = await unary(client('bob'), 'Create');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toBe('bob may not container_create');
    expect(ran).toEqual([]);
    expect(plugin.authzRequests[0]).toMatchObject({ User: 'bob', RequestHeaders: { 'isulad-action': 'container_create' } });
  });

  it('a denial is logged at warn with user and action, and nothing of the certificate or request', async () => {
    await unary(client('bob'), 'Create');
    expect(warnings).toEqual([{ obj: { user: 'bob', action: 'container_create', rpc: '/containers.ContainerService/Create' }, msg: 'authorization denied' }]);
    const logged = JSON.stringify(warnings);
    expect(logged).not.toContain('BEGIN');
    expect(logged).not.toContain(SECRET_PAYLOAD);
  });

  it('a refusal without a message gets upstream text', async () => {
    plugin.answer = () => ({ json: { Allow: false } });
    const { err } = await unary(client('bob'), 'Version');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toBe("action 'docker_version' for user 'bob': permission denied");
  });

  it('the username/tls_mode headers a client sends are ignored', async () => {
    const md = new grpc.Metadata();
    md.set('username', 'alice');
    md.set('tls_mode', '1');
    const { err } = await unary(client('bob'), 'Version', md);
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(plugin.authzRequests.map((q) => q.User)).toEqual(['bob']);
    expect(ran).toEqual([]);
  });

  it('Plugin.Activate is asked once, not per call', async () => {
    const alice = client('alice');
    const before = plugin.activations;
    await Promise.all([unary(alice, 'Version'), unary(alice, 'Version'), unary(client('carol'), 'Version')]);
    expect(plugin.activations - before).toBeLessThanOrEqual(1);
    expect(plugin.authzRequests).toHaveLength(3);
  });
});

describe('fail closed', () => {
  it('plugin stopped → denied with upstream text; started again → activated again and allowed', async () => {
    await plugin.stop();
    const down = await unary(client('alice'), 'Version');
    expect(down.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(down.err?.details).toBe(PLUGIN_UNREACHABLE);
    expect(ran).toEqual([]);
    expect(warnings[0]?.obj).toMatchObject({ user: 'alice', action: 'docker_version' });
    expect((warnings[0]?.obj as { reason?: string }).reason).toMatch(/ENOENT|ECONNREFUSED/);

    const before = plugin.activations;
    await plugin.start();
    const up = await unary(client('alice'), 'Version');
    expect(up.err).toBeNull();
    expect(plugin.activations).toBe(before + 1);
    expect(ran).toEqual(['Version']);
  });

  it.each([
    ['an Err in the answer', { json: { Allow: true, Err: 'policy file unreadable' } }],
    ['an HTTP error', { status: 500, body: 'boom' }],
    ['a non-JSON answer', { status: 200, body: 'yes' }],
  ] as const)('%s → denied with upstream unreachable text', async (_what, answer) => {
    plugin.answer = () => answer;
    const { err } = await unary(client('alice'), 'Version');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toBe(PLUGIN_UNREACHABLE);
    expect(ran).toEqual([]);
  });

  it('a plugin that does not implement authz → denied', async () => {
    await plugin.stop(); // forget the activation
    await unary(client('alice'), 'Version');
    await plugin.start();
    plugin.implementsAuthz = false;
    const { err } = await unary(client('alice'), 'Version');
    expect(err?.details).toBe(PLUGIN_UNREACHABLE);
    expect(plugin.authzRequests).toEqual([]);
    expect(ran).toEqual([]);
  });

  it('a plugin that does not answer in time → denied', async () => {
    plugin.answer = () => 'hang';
    const started = Date.now();
    const { err } = await unary(client('alice'), 'Version');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toBe(PLUGIN_UNREACHABLE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(ran).toEqual([]);
  });
});

describe('which calls are checked', () => {
  it('a unix-socket call is local: not checked, even when the plugin is down', async () => {
    await plugin.stop();
    const { err, res } = await unary(client('unix'), 'Version');
    expect(err).toBeNull();
    expect(res?.toString()).toBe('version ok');
    expect(plugin.requests).toEqual([]);
    expect(ran).toEqual(['Version']);
  });

  it('tcp without TLS: checked, with user "" and no authentication method', async () => {
    const { err } = await unary(client('plain'), 'Version');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(plugin.authzRequests[0]).toMatchObject({ User: '', UserAuthNMethod: '' });
    expect(ran).toEqual([]);
  });

  it('TLS without --tlsverify: no verified certificate, so user ""', async () => {
    const { err } = await unary(client('tls-anon'), 'Version');
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(plugin.authzRequests[0]).toMatchObject({ User: '', UserAuthNMethod: '' });
  });

  it('a client gone before the plugin allowed the call: the handler never runs', async () => {
    plugin.answer = () => ({ json: { Allow: true }, delayMs: 300 });
    const { err } = await unary(client('alice'), 'Version', new grpc.Metadata(), { deadline: Date.now() + 100 });
    expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 500)); // the plugin has answered "allow" by now
    expect(plugin.authzRequests).toHaveLength(1);
    expect(ran).toEqual([]);
  });

  it('a tcp client that resets its connection right after sending is still checked (not mistaken for unix)', async () => {
    // grpc-js reports such a peer without any address, like a unix-socket peer: an address-based
    // "is it local?" test would let these calls through unchecked.
    plugin.answer = () => ({ json: { Allow: false, Msg: 'nobody' } });
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve) => {
        const session = http2.connect(`http://127.0.0.1:${plainPort}`);
        session.on('error', () => undefined);
        const req = session.request({ ':method': 'POST', ':path': '/containers.ContainerService/Create', 'content-type': 'application/grpc', te: 'trailers' });
        req.on('error', () => undefined);
        req.end(Buffer.from([0, 0, 0, 0, 0])); // one empty message, then half-close
        setImmediate(() => {
          session.socket.resetAndDestroy();
          setTimeout(resolve, 5);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(ran).toEqual([]);
  });
});

describe('streaming calls', () => {
  it('server stream: alice gets her events, bob is refused', async () => {
    expect(await serverStream(client('alice'))).toEqual({ data: ['event 1'] });
    const bob = await serverStream(client('bob'));
    expect(bob.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(bob.err?.details).toBe('bob may not docker_events');
    expect(bob.data).toEqual([]);
    expect(ran).toEqual(['Events']);
  });

  it('bidi: alice is echoed; bob, still sending, ends with PERMISSION_DENIED', async () => {
    const alice = await bidi(client('alice'), ['a', 'b']);
    expect(alice.data).toEqual(['echo a', 'echo b']);
    expect(alice.status?.code).toBe(grpc.status.OK);

    const bob = await bidi(client('bob'), ['x', 'y', 'z']);
    expect(bob.status?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(bob.status?.details).toBe('bob may not container_attach');
    expect(bob.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(bob.data).toEqual([]);
    expect(ran).toEqual(['Attach']);
  });
});
