/**
 * Remote access across network namespaces: the daemon in its own namespace, the client in another,
 * joined by a veth pair (remote-fixtures.ts). Certificates come from the project's own tool
 * (tools/certs, the spec's recipes); a few odd ones (another CA, users alice and bob, a server
 * certificate without the daemon's address) are signed with openssl. The authorization plugin is
 * tools/authz-test-plugin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, run, startDaemon, type TestDaemon } from './harness';
import { containerSuite } from './containers-fixtures';
import { remoteClient, remoteNet, type RemoteClient, type RemoteNet } from './remote-fixtures';

const CERTS_CLI = join(REPO, 'tools/certs/dist/cli.js');
const PLUGIN = join(REPO, 'tools/authz-test-plugin/plugin.mjs');
const PASSPHRASE = 'e2e-secret-passphrase';
const TLS_PORT = 2376;
const PLAIN_PORT = 2375;

const suite = containerSuite('remote');
const clients: RemoteClient[] = [];
const daemons: TestDaemon[] = [];
const plugins: ChildProcess[] = [];

let dir: string;
/** The plain recipe's files for `main` (CA, server certificate naming mainNet.daemonIp, client CN=client). */
let main: string;
let mainNet: RemoteNet;

const p = (...parts: string[]) => join(dir, ...parts);

async function must(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run('bash', ['-c', `cd "${opts.cwd ?? dir}" && "$0" "$@"`, cmd, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A client certificate for `cn` signed by the CA in `caDir` (whose ca-key.pem is encrypted with PASSPHRASE). */
async function clientCert(caDir: string, cn: string, out: string): Promise<void> {
  await must('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${out}-key.pem`, '-out', `${out}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(p(`${out}.ext`), 'extendedKeyUsage = clientAuth\n');
  await must('openssl', ['x509', '-req', '-in', `${out}.csr`, '-CA', join(caDir, 'ca.pem'), '-CAkey', join(caDir, 'ca-key.pem'), '-passin', `file:${p('pass')}`, '-CAcreateserial', '-out', `${out}-cert.pem`, '-days', '2', '-extfile', `${out}.ext`]);
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/ie2e-remote-');
  writeFileSync(p('pass'), `${PASSPHRASE}\n`);
  chmodSync(p('pass'), 0o600);
  mainNet = remoteNet();
  main = p('main');
  const out = await must('node', [CERTS_CLI, 'plain', '--dir', main, '--ip', mainNet.daemonIp, '--host', 'isulad.test', '--passphrase-file', p('pass')]);
  expect(out).toContain(`=> Using hostname: ${mainNet.daemonIp}, You MUST connect to iSulad using this host!`);
  await clientCert(main, 'alice', 'alice');
  await clientCert(main, 'bob', 'bob');
  // Another CA altogether, with a client certificate of its own.
  await must('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other-ca-key.pem', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=other CA']);
  writeFileSync(p('client.ext'), 'extendedKeyUsage = clientAuth\n');
  await must('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger-key.pem', '-out', 'stranger.csr', '-subj', '/CN=alice']);
  await must('openssl', ['x509', '-req', '-in', 'stranger.csr', '-CA', 'other-ca.pem', '-CAkey', 'other-ca-key.pem', '-CAcreateserial', '-out', 'stranger-cert.pem', '-days', '2', '-extfile', 'client.ext']);
}, 180_000);

afterEach(async () => {
  for (const pl of plugins.splice(0)) pl.kill('SIGTERM');
  await Promise.all(clients.splice(0).map((c) => c.cleanup()));
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
  await suite.stopDaemons();
});

afterAll(() => {
  suite.finish();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A daemon listening on tcp (and its private unix socket), plus a client namespace wired to it. */
async function remotePair(args: string[], opts: { busybox?: boolean; env?: NodeJS.ProcessEnv; daemonJson?: object; net?: RemoteNet } = {}) {
  const net = opts.net ?? remoteNet();
  const dopts = { args, env: opts.env, daemonJson: opts.daemonJson };
  const d = opts.busybox ? await suite.daemonWithBusybox(dopts) : await startDaemon(dopts);
  if (!opts.busybox) daemons.push(d);
  const c = await remoteClient(d, net);
  clients.push(c);
  return { d, c, tcp: (port: number) => `tcp://${net.daemonIp}:${port}` };
}

const mode1Server = (files: string) => ['-H', `tcp://0.0.0.0:${TLS_PORT}`, '--tlsverify', '--tlscacert', join(files, 'ca.pem'), '--tlscert', join(files, 'server-cert.pem'), '--tlskey', join(files, 'server-key.pem')];
const mode1Client = (ca: string, cert: string, key: string) => ['--tlsverify', '--tlscacert', ca, '--tlscert', cert, '--tlskey', key];

describe('remote access over tcp between network namespaces', () => {
  it('mode 1 <-> mode 1: version, run and exec work; no client certificate, a foreign one, or plain tcp are refused', async () => {
    const { c, tcp } = await remotePair(mode1Server(main), { busybox: true, net: mainNet });
    const H = ['-H', tcp(TLS_PORT)];
    const mutual = mode1Client(join(main, 'ca.pem'), join(main, 'cert.pem'), join(main, 'key.pem'));

    const v = await c.isula(['version', ...H, ...mutual]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/Server:/);

    const hi = await c.isula(['run', '--rm', ...H, ...mutual, 'busybox', 'echo', 'over mode 1'], { timeoutMs: 60_000 });
    expect({ code: hi.code, out: hi.stdout }, hi.stderr).toEqual({ code: 0, out: 'over mode 1\n' });
    const id = await c.isula(['run', '-d', '--name', 'remote', ...H, ...mutual, 'busybox', 'sleep', '1000']);
    expect(id.code, id.stderr).toBe(0);
    const ex = await c.isula(['exec', ...H, ...mutual, 'remote', 'sh', '-c', 'echo in $(hostname); exit 6']);
    expect({ code: ex.code, out: ex.stdout }, ex.stderr).toEqual({ code: 6, out: `in ${id.stdout.trim().slice(0, 12)}\n` });

    // Mode 2 client (CA only) against a mode 1 daemon: it wants a certificate.
    const noCert = await c.isula(['version', ...H, '--tlsverify', '--tlscacert', join(main, 'ca.pem')], { env: { ISULAD_CERT_PATH: p('nowhere') } });
    expect(noCert.code).toBe(1);
    expect(noCert.stderr).toMatch(/Cannot connect to the iSulad daemon over TLS: the daemon (requires a client certificate|closed the connection after the TLS handshake)/);
    // A certificate from another CA.
    const stranger = await c.isula(['version', ...H, ...mutual.slice(0, 3), '--tlscert', p('stranger-cert.pem'), '--tlskey', p('stranger-key.pem')]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/did not accept the client certificate|refused the client certificate/);
    // A client trusting another CA does not trust the daemon.
    const wrongCa = await c.isula(['version', ...H, ...mode1Client(p('other-ca.pem'), join(main, 'cert.pem'), join(main, 'key.pem'))]);
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toContain(`the daemon's certificate is not signed by the CA in ${p('other-ca.pem')}`);
    // Plain tcp is not served on a TLS port.
    const plain = await c.isula(['version', ...H]);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe('');
  }, 180_000);

  it("SAN mismatch: a server certificate that does not name the daemon's address is refused", async () => {
    const wrong = p('wrong-san');
    await must('mkdir', ['-p', wrong]);
    // Same CA as `main`, but the server certificate names only isulad.test and 127.0.0.1.
    await must('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(wrong, 'server-key.pem'), '-out', join(wrong, 'server.csr'), '-subj', '/CN=isulad.test']);
    writeFileSync(join(wrong, 'ext'), 'subjectAltName = DNS:isulad.test,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
    await must('openssl', ['x509', '-req', '-in', join(wrong, 'server.csr'), '-CA', join(main, 'ca.pem'), '-CAkey', join(main, 'ca-key.pem'), '-passin', `file:${p('pass')}`, '-CAcreateserial', '-out', join(wrong, 'server-cert.pem'), '-days', '2', '-extfile', join(wrong, 'ext')]);
    await must('cp', [join(main, 'ca.pem'), join(wrong, 'ca.pem')]);
    const { c, tcp } = await remotePair(mode1Server(wrong));
    const r = await c.isula(['version', '-H', tcp(TLS_PORT), ...mode1Client(join(main, 'ca.pem'), join(main, 'cert.pem'), join(main, 'key.pem'))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the daemon's certificate does not name this host/);
  }, 120_000);

  it('mode 2 <-> mode 2 with the encrypted recipe (use-decrypted-key false): works, and the passphrase is never logged', async () => {
    const enc = p('enc');
    const net = remoteNet();
    await must('node', [CERTS_CLI, 'encrypted', '--dir', enc, '--ip', net.daemonIp, '--passphrase-file', p('pass')]);
    // The daemon's key is encrypted: without the passphrase it is refused with upstream's text.
    const refused = await startDaemon({ args: ['-H', `tcp://0.0.0.0:${TLS_PORT}`, '--tls', '--tlscert', join(enc, 'server-cert.pem'), '--tlskey', join(enc, 'server-key.pem')], waitReady: false });
    daemons.push(refused);
    await refused.exited;
    expect(refused.stderr + refused.stdout).toContain(`Invalid CertFile(${join(enc, 'server-key.pem')})`);

    const { d, c, tcp } = await remotePair(['-H', `tcp://0.0.0.0:${TLS_PORT}`, '--tls', '--tlscert', join(enc, 'server-cert.pem'), '--tlskey', join(enc, 'server-key.pem'), '--log-level', 'DEBUG'], {
      net,
      daemonJson: { 'use-decrypted-key': false },
      env: { ISULAD_TLS_KEY_PASSPHRASE_FILE: p('pass') },
    });
    const r = await c.isula(['version', '-H', tcp(TLS_PORT), '--tlsverify', '--tlscacert', join(enc, 'ca.pem')], { env: { ISULAD_CERT_PATH: p('nowhere') } });
    expect(r.code, r.stderr).toBe(0);
    // --tls alone encrypts without checking the daemon.
    expect((await c.isula(['version', '-H', tcp(TLS_PORT), '--tls'], { env: { ISULAD_CERT_PATH: p('nowhere') } })).code).toBe(0);
    const logs = d.stdout + d.stderr + readFileSync(d.path('graph', 'isulad.log'), { encoding: 'utf8', flag: 'a+' });
    expect(logs).not.toContain(PASSPHRASE);
  }, 120_000);

  it('plain tcp works only where configured; a TLS client against it says so', async () => {
    const { c, tcp } = await remotePair(['-H', `tcp://0.0.0.0:${PLAIN_PORT}`]);
    const r = await c.isula(['version', '-H', tcp(PLAIN_PORT)]);
    expect(r.code, r.stderr).toBe(0);
    const tls = await c.isula(['version', '-H', tcp(PLAIN_PORT), '--tlsverify', '--tlscacert', join(main, 'ca.pem')], { env: { ISULAD_CERT_PATH: p('nowhere') } });
    expect(tls.code).toBe(1);
    expect(tls.stderr).toContain('the daemon does not speak TLS on this port');
    // Nothing listens where nothing was configured.
    const other = await c.isula(['version', '-H', tcp(TLS_PORT)]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('Can not connect with server.Is the iSulad daemon running on the host?');
  }, 120_000);

  it('authz-broker: alice is allowed, bob gets the plugin\'s message, a stopped plugin denies; the unix socket is not checked', async () => {
    const socket = p('authz.sock');
    const log = p('authz.log');
    const plugin = spawn('node', [PLUGIN, '--socket', socket, '--allow', 'alice', '--log', log], { stdio: ['ignore', 'pipe', 'pipe'] });
    plugins.push(plugin);
    await new Promise<void>((resolve, reject) => {
      plugin.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      plugin.once('exit', (code) => reject(new Error(`plugin exited ${code}`)));
    });
    const { d, c, tcp } = await remotePair([...mode1Server(main), '--authorization-plugin', 'authz-broker'], { net: mainNet, env: { ISULAD_AUTHZ_PLUGIN_SOCKET: socket } });
    const H = ['-H', tcp(TLS_PORT)];
    const as = (who: string) => mode1Client(join(main, 'ca.pem'), p(`${who}-cert.pem`), p(`${who}-key.pem`));

    const alice = await c.isula(['ps', '-a', ...H, ...as('alice')]);
    expect(alice.code, alice.stderr).toBe(0);
    const bob = await c.isula(['ps', '-a', ...H, ...as('bob')]);
    expect(bob.code).toBe(1);
    expect(bob.stderr).toBe('Error response from daemon: user bob is not allowed to container_list\n');
    // The plugin was asked with the verified CN, not with anything the client claims.
    const asked = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { User: string; action: string });
    expect(asked.map((a) => `${a.User}:${a.action}`)).toEqual(['alice:container_list', 'bob:container_list']);

    // Local calls are not the plugin's business.
    expect((await d.isula(['ps', '-a'])).code).toBe(0);

    plugin.kill('SIGTERM');
    await new Promise((r) => plugin.once('exit', r));
    const closed = await c.isula(['version', ...H, ...as('alice')]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toBe('Error response from daemon: Failed to request authz plugin. Is server running ?\n');
  }, 120_000);
});
