import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTHZ_PLUGIN_SOCKET, AUTHZ_SOCKET_ENV, authzSocketPath } from './index';
import { AuthzPluginClient, PLUGIN_UNREACHABLE } from './plugin-client';

const TEST_PLUGIN = resolve(__dirname, '../../../../../tools/authz-test-plugin/plugin.mjs');

describe('the plugin socket', () => {
  it('is upstream path unless ISULAD_AUTHZ_PLUGIN_SOCKET names another', () => {
    expect(authzSocketPath({})).toBe('/run/isulad/plugins/authz-broker.sock');
    expect(AUTHZ_PLUGIN_SOCKET).toBe('/run/isulad/plugins/authz-broker.sock');
    expect(authzSocketPath({ [AUTHZ_SOCKET_ENV]: '/tmp/x.sock' })).toBe('/tmp/x.sock');
  });
});

describe('tools/authz-test-plugin/plugin.mjs with AuthzPluginClient', () => {
  let dir: string;
  let socket: string;
  let log: string;
  let child: ChildProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'isulad-authz-plugin-'));
    socket = join(dir, 'authz-broker.sock');
    log = join(dir, 'requests.jsonl');
    child = spawn(process.execPath, [TEST_PLUGIN, '--socket', socket, '--allow', 'alice,carol', '--log', log], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ready, fail) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && ready());
      child.once('exit', (code) => fail(new Error(`plugin exited with ${code}`)));
    });
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('allows the listed users and refuses the others with its message', async () => {
    const client = new AuthzPluginClient({ socketPath: socket });
    const ask = (user: string) => client.authorize({ user, authMethod: 'TLS', uri: '/containers.ContainerService/Create', action: 'container_create' });
    expect(await ask('alice')).toEqual({ allow: true });
    expect(await ask('carol')).toEqual({ allow: true });
    expect(await ask('bob')).toEqual({ allow: false, message: 'user bob is not allowed to container_create' });
    expect(await ask('')).toEqual({ allow: false, message: 'user  is not allowed to container_create' });
    client.close();
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines.map((l) => l.User)).toEqual(['alice', 'carol', 'bob', '']);
    expect(lines[0]).toEqual({ User: 'alice', UserAuthNMethod: 'TLS', RequestURI: '/containers.ContainerService/Create', action: 'container_create' });
  });

  it('exits 0 on SIGTERM and removes its socket; then the client fails closed', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
    const client = new AuthzPluginClient({ socketPath: socket });
    const d = await client.authorize({ user: 'alice', authMethod: 'TLS', uri: '/x.Y/Z', action: 'y_z' });
    expect(d).toMatchObject({ allow: false, message: PLUGIN_UNREACHABLE });
    client.close();
  });
});
