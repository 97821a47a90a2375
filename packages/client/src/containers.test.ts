import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerService, toGrpcJsServiceDefinition } from '@isula/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsulaClient } from './client';
import { containerEvents, containerLogs, createContainer, isValidSignal, listContainers, parseSignal, unescapeErrmsg, waitContainer, WaitCondition, type LogEntry } from './containers';
import { DaemonError } from './errors';

describe('parseSignal', () => {
  it('takes numbers and names with or without SIG, any case', () => {
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('SIGTERM')).toBe(15);
    expect(parseSignal('sigusr1')).toBe(10);
    expect(parseSignal('hup')).toBe(1);
    expect(parseSignal('SIGRTMIN+3')).toBe(37);
    expect(parseSignal('RTMAX')).toBe(64);
  });
  it('refuses the rest', () => {
    expect(parseSignal('FOO')).toBeUndefined();
    expect(parseSignal('9x')).toBeUndefined();
    expect(parseSignal('')).toBeUndefined();
    expect(parseSignal('SIG')).toBeUndefined();
  });
  it('knows which numbers a daemon can deliver', () => {
    expect(isValidSignal(1)).toBe(true);
    expect(isValidSignal(64)).toBe(true);
    expect(isValidSignal(0)).toBe(false);
    expect(isValidSignal(65)).toBe(false);
  });
});

describe('unescapeErrmsg', () => {
  it('undoes JSON string escaping, quoted or not', () => {
    expect(unescapeErrmsg('"No such container:x"')).toBe('No such container:x');
    expect(unescapeErrmsg('a \\"b\\"\\nc')).toBe('a "b"\nc');
    expect(unescapeErrmsg('plain \\q')).toBe('plain \\q');
  });
});

// ---- against a grpc-js server -----------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'isula-sdk-'));
const sock = join(dir, 'd.sock');
const seen: Record<string, unknown> = {};
let server: grpc.Server;

function wrap(impl: Record<string, (...a: any[]) => void>) {
  const out: Record<string, unknown> = {};
  const methods = ContainerService.methods as unknown as Record<string, { responseStream: boolean; createResponse(p: unknown): unknown }>;
  for (const [k, f] of Object.entries(impl)) {
    const m = methods[k]!;
    if (m.responseStream) {
      out[k] = (call: any) => {
        const w = call.write.bind(call);
        call.write = (v: unknown) => w(m.createResponse(v));
        f(call);
      };
    } else out[k] = (call: any, cb: any) => f(call, (e: unknown, v: unknown) => cb(e, v && m.createResponse(v)));
  }
  return out;
}

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(
    toGrpcJsServiceDefinition(ContainerService) as unknown as grpc.ServiceDefinition,
    wrap({
      Create: (call, cb) => {
        seen.create = call.request;
        if (call.request.image === 'nope') cb(null, { cc: 6, errmsg: 'No such image:nope' });
        else cb(null, { id: 'c'.repeat(64) });
      },
      Wait: (call, cb) => {
        seen.wait = call.request;
        setTimeout(() => cb(null, { exitCode: 42 }), 100);
      },
      List: (_call, cb) => cb(null, { containers: [{ id: 'x', name: 'n', status: 3 }] }),
      Logs: (call) => {
        if (call.request.id === 'bad') {
          const md = new grpc.Metadata();
          md.set('cc', '1');
          md.set('errmsg', '"No such container:bad"');
          call.end(md);
          return;
        }
        call.write({ data: Buffer.from('a\n'), stream: 'stdout', time: 't1' });
        call.write({ data: Buffer.from('b\n'), stream: 'stderr', time: 't2' });
        if (!call.request.follow) call.end();
      },
      Events: (call) => {
        seen.events = call.request;
        call.write({ timestamp: { seconds: 5n, nanos: 6 }, opt: 'container start', id: 'x', annotations: { k: 'v' } });
      },
    }) as unknown as grpc.UntypedServiceImplementation,
  );
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

afterAll(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

const client = () => new IsulaClient({ host: `unix://${sock}` }, {});

describe('unary calls', () => {
  it('create sends the configs as JSON and answers the id', async () => {
    const c = client();
    const id = await createContainer(c, { name: 'web', image: 'busybox', hostConfig: { AutoRemove: true }, config: { Cmd: ['sh'] } });
    expect(id).toBe('c'.repeat(64));
    expect(seen.create).toMatchObject({ id: 'web', image: 'busybox', hostconfig: '{"AutoRemove":true}', customconfig: '{"Cmd":["sh"]}' });
    await expect(createContainer(c, { image: 'nope', hostConfig: {}, config: {} })).rejects.toEqual(new DaemonError(6, 'No such image:nope'));
    c.close();
  });

  it('wait sends the condition and answers the exit code', async () => {
    const c = client();
    expect(await waitContainer(c, 'x', WaitCondition.REMOVED)).toBe(42);
    expect(seen.wait).toMatchObject({ id: 'x', condition: 1 });
    expect((await listContainers(c, { all: true }))[0]).toMatchObject({ id: 'x', name: 'n', status: 3 });
    c.close();
  });
});

describe('streams', () => {
  it('logs: entries in order, then the end of the stream', async () => {
    const got: LogEntry[] = [];
    await containerLogs(client(), { id: 'x' }, (e) => got.push(e));
    expect(got.map((e) => [e.stream, e.data.toString(), e.time])).toEqual([
      ['stdout', 'a\n', 't1'],
      ['stderr', 'b\n', 't2'],
    ]);
  });

  it('logs: an in-band error in the trailers rejects with DaemonError', async () => {
    await expect(containerLogs(client(), { id: 'bad' }, () => undefined)).rejects.toEqual(new DaemonError(1, 'No such container:bad'));
  });

  it('logs -f and events run until aborted', async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const p = containerLogs(client(), { id: 'x', follow: true }, (e) => {
      lines.push(e.data.toString());
      if (lines.length === 2) ac.abort();
    }, ac.signal);
    await expect(p).resolves.toBeUndefined();

    const ac2 = new AbortController();
    const events: unknown[] = [];
    await containerEvents(client(), { id: 'x', since: { seconds: 1n, nanos: 0 } }, (e) => {
      events.push(e);
      ac2.abort();
    }, ac2.signal);
    expect(events).toEqual([{ timestamp: { seconds: 5n, nanos: 6 }, opt: 'container start', id: 'x', annotations: { k: 'v' } }]);
    expect(seen.events).toMatchObject({ id: 'x', since: { seconds: 1n, nanos: 0 } });
  });
});
