import { Readable } from 'node:stream';
import { ARCHIVE_BLOCK_SIZE, headerJson, methodPath, MD_CONTAINER_PATH_STAT, MD_COPY_TO_CONTAINER } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import type { IsulaClient } from './client';
import { GrpcConnection } from './transport/h2-lite';

/*
 * `isula cp` as SDK functions (containers.ContainerService CopyFromContainer / CopyToContainer),
 * wire-compatible with upstream iSulad, plus the path rules both ends of a copy share (docker's
 * archive package as iSulad ports it). Each copy runs on a connection of its own, closed at its end.
 *
 * Wire: CopyFromContainer answers with the path stat as initial metadata
 * `isulad-container-path-stat` (JSON {Name, Size, Mode, Mtime:{seconds,nanos}, LinkTarget}), an
 * empty first message, then the tar in `data` messages. CopyToContainer takes its request as JSON
 * in the request metadata `isulad-copy-to-container` ({id, runtime, srcPath, srcIsdir,
 * srcRebaseName, dstPath}), the tar in `data` messages of at most 32 KiB (upstream's daemon refuses
 * larger ones), and answers `finish`, then the status.
 */

const SERVICE = 'containers.ContainerService';
const COPY_FROM_PATH = methodPath(SERVICE, 'CopyFromContainer');
const COPY_TO_PATH = methodPath(SERVICE, 'CopyToContainer');


/** The stat of a container path, as the daemon sends it (upstream's container_path_stat). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** st_mode, file type bits included. */
  mode: number;
  mtime: Date;
  /** A symlink's target, resolved inside the container; '' otherwise. */
  linkTarget: string;
  isDir: boolean;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** Parses `isulad-container-path-stat`; undefined when it is not upstream's JSON. */
export function parsePathStat(json: string): ContainerPathStat | undefined {
  let raw: { Name?: unknown; Size?: unknown; Mode?: unknown; Mtime?: { seconds?: unknown; nanos?: unknown }; LinkTarget?: unknown };
  try {
    raw = JSON.parse(json) as typeof raw;
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const mode = Number(raw.Mode ?? 0) >>> 0;
  const seconds = Number(raw.Mtime?.seconds ?? 0);
  const nanos = Number(raw.Mtime?.nanos ?? 0);
  return {
    name: typeof raw.Name === 'string' ? raw.Name : '',
    size: Number(raw.Size ?? 0),
    mode,
    mtime: new Date(seconds * 1000 + Math.floor(nanos / 1e6)),
    linkTarget: typeof raw.LinkTarget === 'string' ? raw.LinkTarget : '',
    isDir: (mode & S_IFMT) === S_IFDIR,
  };
}

/** What copyFromContainer resolves with once the daemon has sent the path stat. */
export interface ContainerArchive {
  stat: ContainerPathStat;
  /** The tar of the path; errors of the call (after the stat) destroy it with the error. */
  archive: Readable;
  /** Settles when the call ended: OK, or the error the archive was destroyed with. */
  done: Promise<void>;
  /** Abandons the copy. */
  cancel(): void;
}

/**
 * Starts copying `srcPath` out of container `id`. Resolves with the path stat and the tar as a
 * stream; rejects (RpcError UNKNOWN with the daemon's message, ConnectError...) when the daemon
 * refuses before sending the stat ("No such container:...", "lstat ...: No such file or directory").
 */
export function copyFromContainer(client: IsulaClient, id: string, srcPath: string, runtime = ''): Promise<ContainerArchive> {
  const conn = new GrpcConnection(client.endpoint);
  const request = c.CopyFromContainerRequest.encode(c.CopyFromContainerRequest.fromPartial({ id, runtime, srcpath: srcPath })).finish();
  const archive = new Readable({ read() {} });
  return new Promise<ContainerArchive>((resolve, reject) => {
    let answered = false;
    const call = conn.stream(COPY_FROM_PATH, {
      onMessage: (msg) => {
        const m = c.CopyFromContainerResponse.decode(msg);
        if (answered && m.data.length > 0) archive.push(Buffer.from(m.data));
      },
      onHeaders: (headers) => {
        const raw = headers[MD_CONTAINER_PATH_STAT];
        if (raw === undefined) return; // a refusal (trailers-only answer): see the end
        const stat = parsePathStat(Array.isArray(raw) ? raw[0]! : raw);
        if (!stat) throw new Error(`Invalid json: ${String(raw)}`);
        answered = true;
        resolve({ stat, archive, done, cancel: () => call.cancel() });
      },
    });
    call.write(request);
    call.end();
    const done = call.done.then(
      () => {
        conn.close();
        if (!answered) throw new Error('the daemon sent no path stat');
        archive.push(null);
      },
      (err: unknown) => {
        conn.close();
        if (answered) archive.destroy(err as Error);
        throw err;
      },
    );
    done.catch((err: unknown) => {
      if (!answered) reject(err);
    });
  });
}

/** The request of copyToContainer (upstream's container_copy_to_request). */
export interface CopyToContainerRequest {
  id: string;
  runtime?: string;
  /** The source path as the client resolved it (only its last entry matters to the daemon). */
  srcPath: string;
  srcIsDir: boolean;
  /** The name the archive's top entry carries when it differs from srcPath's (a symlink source). */
  srcRebaseName?: string;
  dstPath: string;
}

/** Splits a byte stream into messages of at most ARCHIVE_BLOCK_SIZE bytes. */
async function* blocks(source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let off = 0; off < b.length; off += ARCHIVE_BLOCK_SIZE) {
      yield c.CopyToContainerRequest.encode({ data: b.subarray(off, off + ARCHIVE_BLOCK_SIZE) }).finish();
    }
  }
}

/**
 * Copies the tar `archive` into container `id` at `dstPath` (the daemon extracts it). Rejects with
 * RpcError UNKNOWN and the daemon's message on failure ("cannot copy directory to file",
 * "Can not untar to container: ..."), or the archive stream's own error.
 */
export async function copyToContainer(client: IsulaClient, request: CopyToContainerRequest, archive: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>): Promise<void> {
  const json = headerJson({
    id: request.id,
    runtime: request.runtime ?? '',
    srcPath: request.srcPath,
    srcIsdir: request.srcIsDir,
    srcRebaseName: request.srcRebaseName ?? '',
    dstPath: request.dstPath,
  });
  const conn = new GrpcConnection(client.endpoint);
  try {
    await conn.clientStream(COPY_TO_PATH, blocks(archive), {
      metadata: { [MD_COPY_TO_CONTAINER]: json },
      onMessage: (m) => void c.CopyToContainerResponse.decode(m), // `finish`: the status follows
    });
  } finally {
    conn.close();
  }
}

// ---- the path rules of cp: shared with the daemon in @isula/protocol --------------------------------

export { ARCHIVE_BLOCK_SIZE, headerJson, cleanPath, preserveTrailingDotOrSeparator, splitPathDirEntry, prepareArchiveCopy, CopyPathError, type CopyInfo, type ArchivePlan } from '@isula/protocol';

/**
 * Splits `isula cp` operands the way upstream does: `CONTAINER:PATH` when there is a colon (the
 * first one) with a non-empty container part.
 */
export function splitCopyOperand(arg: string): { container?: string; path: string } {
  const colon = arg.indexOf(':');
  if (colon < 0) return { path: arg };
  const container = arg.slice(0, colon);
  const path = arg.slice(colon + 1);
  return container === '' ? { path } : { container, path };
}
