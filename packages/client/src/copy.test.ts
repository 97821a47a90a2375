import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as c from '@isula/protocol/containers';
import { IsulaClient } from './client';
import {
  ARCHIVE_BLOCK_SIZE,
  cleanPath,
  copyFromContainer,
  copyToContainer,
  headerJson,
  parsePathStat,
  prepareArchiveCopy,
  preserveTrailingDotOrSeparator,
  splitCopyOperand,
  splitPathDirEntry,
} from './copy';
import { GrpcStatus, RpcError } from './errors';

/*
 * The copy SDK against a grpc-js server that speaks as upstream iSulad does: path stat in the
 * initial metadata and an empty first message for CopyFromContainer; request JSON in the request
 * metadata and `finish` then the status for CopyToContainer.
 */

const dir = mkdtempSync(join(tmpdir(), 'copy-sdk-'));
const sock = join(dir, 'isulad.sock');

const codec = <T>(m: { encode(v: T): { finish(): Uint8Array }; decode(b: Uint8Array): T }) => ({
  serialize: (v: T) => Buffer.from(m.encode(v).finish()),
  deserialize: (b: Buffer) => m.decode(b),
});
const from = codec(c.CopyFromContainerRequest);
const fromRes = codec(c.CopyFromContainerResponse);
const to = codec(c.CopyToContainerRequest);
const toRes = codec(c.CopyToContainerResponse);
const SERVICE = {
  CopyFromContainer: {
    path: '/containers.ContainerService/CopyFromContainer',
    requestStream: false,
    responseStream: true,
    requestSerialize: from.serialize,
    requestDeserialize: from.deserialize,
    responseSerialize: fromRes.serialize,
    responseDeserialize: fromRes.deserialize,
  },
  CopyToContainer: {
    path: '/containers.ContainerService/CopyToContainer',
    requestStream: true,
    responseStream: true,
    requestSerialize: to.serialize,
    requestDeserialize: to.deserialize,
    responseSerialize: toRes.serialize,
    responseDeserialize: toRes.deserialize,
  },
};

const received: { request?: unknown; bytes: number; maxMessage: number } = { bytes: 0, maxMessage: 0 };
const PAYLOAD = Buffer.alloc(200_000, 9);

let server: grpc.Server;
let client: IsulaClient;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(SERVICE as unknown as grpc.ServiceDefinition, {
    CopyFromContainer: (call: grpc.ServerWritableStream<c.CopyFromContainerRequest, c.CopyFromContainerResponse>) => {
      if (call.request.id !== 'web') {
        call.emit('error', Object.assign(new Error(`No such container:${call.request.id}`), { code: grpc.status.UNKNOWN, details: `No such container:${call.request.id}` }));
        return;
      }
      const md = new grpc.Metadata();
      md.set('isulad-container-path-stat', '{"Name":"data","Size":4096,"Mode":16877,"Mtime":{"seconds":1700000000,"nanos":5000000}}');
      call.sendMetadata(md);
      call.write({ data: Buffer.alloc(0) });
      for (let off = 0; off < PAYLOAD.length; off += ARCHIVE_BLOCK_SIZE) call.write({ data: PAYLOAD.subarray(off, off + ARCHIVE_BLOCK_SIZE) });
      if (call.request.srcpath === '/fail-midway') {
        call.emit('error', Object.assign(new Error('tar exited with status 2: "boom"'), { code: grpc.status.UNKNOWN, details: 'tar exited with status 2: "boom"' }));
        return;
      }
      call.end();
    },
    CopyToContainer: (call: grpc.ServerDuplexStream<c.CopyToContainerRequest, c.CopyToContainerResponse>) => {
      const raw = call.metadata.get('isulad-copy-to-container')[0];
      received.request = raw === undefined ? undefined : JSON.parse(String(raw));
      received.bytes = 0;
      received.maxMessage = 0;
      call.on('data', (m: c.CopyToContainerRequest) => {
        received.bytes += m.data.length;
        received.maxMessage = Math.max(received.maxMessage, m.data.length);
      });
      call.on('end', () => {
        call.write({ finish: true });
        const req = received.request as { dstPath?: string } | undefined;
        if (req?.dstPath === '/readonly') {
          call.emit('error', Object.assign(new Error('container rootfs is marked read-only'), { code: grpc.status.UNKNOWN, details: 'container rootfs is marked read-only' }));
        } else call.end();
      });
    },
  });
  await new Promise<number>((res, rej) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  client = new IsulaClient({ host: `unix://${sock}` }, {});
});

afterAll(() => {
  client.close();
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(r: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const ch of r) chunks.push(ch as Buffer);
  return Buffer.concat(chunks);
}

describe('copy SDK over the wire', () => {
  it('copyFromContainer: the stat from the initial metadata, then the archive bytes (the empty first message dropped)', async () => {
    const { stat, archive, done } = await copyFromContainer(client, 'web', '/data');
    expect(stat).toEqual({ name: 'data', size: 4096, mode: 0o40755, mtime: new Date(1_700_000_000_005), linkTarget: '', isDir: true });
    expect((await collect(archive)).equals(PAYLOAD)).toBe(true);
    await done;
  });

  it('copyFromContainer: a refusal before the stat rejects with the daemon message', async () => {
    const err = (await copyFromContainer(client, 'nope', '/data').catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.status).toBe(GrpcStatus.UNKNOWN);
    expect(err.details).toBe('No such container:nope');
  });

  it('copyFromContainer: a failure after the stat destroys the archive with it', async () => {
    const { archive, done } = await copyFromContainer(client, 'web', '/fail-midway');
    const err = (await collect(archive).catch((e: unknown) => e)) as RpcError;
    expect(err.details).toBe('tar exited with status 2: "boom"');
    await expect(done).rejects.toThrow('tar exited with status 2');
  });

  it('copyToContainer: request JSON (upstream field names, ASCII-safe) in metadata, data in ≤32 KiB messages', async () => {
    async function* gen() {
      yield Buffer.alloc(100_000, 1);
      yield Buffer.alloc(10, 2);
    }
    await copyToContainer(client, { id: 'web', srcPath: '/home/été/d', srcIsDir: true, dstPath: '/tmp/x' }, gen());
    expect(received.request).toEqual({ id: 'web', runtime: '', srcPath: '/home/été/d', srcIsdir: true, srcRebaseName: '', dstPath: '/tmp/x' });
    expect(received.bytes).toBe(100_010);
    expect(received.maxMessage).toBe(ARCHIVE_BLOCK_SIZE);
  });

  it('copyToContainer: finish, then a failure status -> RpcError with the message', async () => {
    const err = (await copyToContainer(client, { id: 'web', srcPath: '/f', srcIsDir: false, dstPath: '/readonly' }, [Buffer.from('x')]).catch((e: unknown) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.details).toBe('container rootfs is marked read-only');
  });
});

describe('cp path rules', () => {
  it('cleanPath and the trailing / or /. kept', () => {
    expect(cleanPath('/a//b/../c/.')).toBe('/a/c');
    expect(cleanPath('../x/./y/')).toBe('../x/y');
    expect(cleanPath('/../..')).toBe('/');
    expect(preserveTrailingDotOrSeparator('/a/c', 'a/c/.')).toBe('/a/c/.');
    expect(preserveTrailingDotOrSeparator('/a/c', 'a/c/')).toBe('/a/c/');
  });

  it('splitPathDirEntry', () => {
    expect(splitPathDirEntry('/a/b')).toEqual({ dir: '/a', base: 'b' });
    expect(splitPathDirEntry('/a/b/')).toEqual({ dir: '/a', base: 'b' });
    expect(splitPathDirEntry('/a/b/.')).toEqual({ dir: '/a/b', base: '.' });
    expect(splitPathDirEntry('/b')).toEqual({ dir: '/', base: 'b' });
    expect(splitPathDirEntry('/')).toEqual({ dir: '/', base: '/' });
  });

  it('prepareArchiveCopy with upstream texts', () => {
    expect(prepareArchiveCopy({ path: '/etc/hosts', exists: true, isDir: false }, { path: '/tmp', exists: true, isDir: true })).toEqual({ dstDir: '/tmp' });
    expect(prepareArchiveCopy({ path: '/etc/hosts', exists: true, isDir: false }, { path: '/tmp/h', exists: false, isDir: false })).toEqual({ dstDir: '/tmp', rename: { from: 'hosts', to: 'h' } });
    expect(() => prepareArchiveCopy({ path: '/etc', exists: true, isDir: true }, { path: '/tmp/f', exists: true, isDir: false })).toThrow('cannot copy directory to file');
    expect(() => prepareArchiveCopy({ path: '/etc/hosts', exists: true, isDir: false }, { path: '/tmp/nodir/', exists: false, isDir: false })).toThrow('no such directory, can not copy file');
  });

  it('operands: the first colon splits off a non-empty container', () => {
    expect(splitCopyOperand('web:/etc/hosts')).toEqual({ container: 'web', path: '/etc/hosts' });
    expect(splitCopyOperand('web:/a:b')).toEqual({ container: 'web', path: '/a:b' });
    expect(splitCopyOperand(':/x')).toEqual({ path: '/x' });
    expect(splitCopyOperand('./local')).toEqual({ path: './local' });
    expect(splitCopyOperand('-')).toEqual({ path: '-' });
  });

  it('path stat parsing and header JSON', () => {
    expect(parsePathStat('{"Name":"l","Size":3,"Mode":41471,"Mtime":{"seconds":1,"nanos":0},"LinkTarget":"/etc/x"}')).toMatchObject({ linkTarget: '/etc/x', isDir: false });
    expect(parsePathStat('nope')).toBeUndefined();
    expect(headerJson({ a: 'é' })).toBe('{"a":"\\u00e9"}');
  });
});
