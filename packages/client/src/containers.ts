import type { IncomingHttpHeaders } from 'node:http2';
import { methodPath, type ContainerConfig, type HostConfig, type Timestamp } from '@isula/protocol';
import * as c from '@isula/protocol/containers';
import { checkInBand, type IsulaClient } from './client';
import { ConnectError, DaemonError } from './errors';
import { frame, FrameDecoder } from './transport/grpc-framing';
import { H2Session, outcome, requestFields, type H2Stream, type StreamFailure } from './transport/h2-lite';

/*
 * The container half of the isulad API (`containers.ContainerService`), as plain functions over an
 * IsulaClient: each takes the client first, sends one request and resolves with the useful part of
 * the answer, or rejects with DaemonError (in-band `cc` != 0), RpcError or ConnectError, like the
 * client's own methods.
 *
 * Unary calls go through `client.call` with codecs picked one by one from
 * `@isula/protocol/containers` (a bundle keeps only the messages it uses). The transport sets no
 * deadline on any call, so long calls (Wait, Stop with a long timeout, Restart) run to their end.
 * Server streams (Logs, Events) open a connection of their own so that they can be cancelled
 * (AbortSignal) without touching the client's connection.
 */

const SERVICE = 'containers.ContainerService';

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: any): T;
}

interface Unary<Req, Res> {
  path: string;
  requestStream: false;
  responseStream: false;
  encode(m: Req): Uint8Array;
  decode(b: Uint8Array): Res;
  createRequest(p?: unknown): Req;
}

/** A unary method in the shape `IsulaClient.call` takes. */
function unary<Req, Res>(name: string, request: Codec<Req>, response: Codec<Res>): Unary<Req, Res> {
  return {
    path: methodPath(SERVICE, name),
    requestStream: false,
    responseStream: false,
    encode: (m: Req) => request.encode(m).finish(),
    decode: (b: Uint8Array) => response.decode(b),
    createRequest: (p?: unknown) => request.fromPartial(p ?? {}),
  };
}

/** `client.call` with the request and answer types of `method`; in-band errors become DaemonError. */
async function invoke<Req, Res>(client: IsulaClient, method: Unary<Req, Res>, request: Partial<Req>): Promise<Res> {
  const call = client.call as unknown as (m: Unary<Req, Res>, r: Partial<Req>) => Promise<Res>;
  return checkInBand(await call.call(client, method, request));
}

const CREATE = unary('Create', c.CreateRequest, c.CreateResponse);
const START = unary('Start', c.StartRequest, c.StartResponse);
const STOP = unary('Stop', c.StopRequest, c.StopResponse);
const RESTART = unary('Restart', c.RestartRequest, c.RestartResponse);
const KILL = unary('Kill', c.KillRequest, c.KillResponse);
const DELETE = unary('Delete', c.DeleteRequest, c.DeleteResponse);
const PAUSE = unary('Pause', c.PauseRequest, c.PauseResponse);
const RESUME = unary('Resume', c.ResumeRequest, c.ResumeResponse);
const INSPECT = unary('Inspect', c.InspectContainerRequest, c.InspectContainerResponse);
const LIST = unary('List', c.ListRequest, c.ListResponse);
const STATS = unary('Stats', c.StatsRequest, c.StatsResponse);
const WAIT = unary('Wait', c.WaitRequest, c.WaitResponse);
const TOP = unary('Top', c.TopRequest, c.TopResponse);
const UPDATE = unary('Update', c.UpdateRequest, c.UpdateResponse);
const EXPORT = unary('Export', c.ExportRequest, c.ExportResponse);
const RENAME = unary('Rename', c.RenameRequest, c.RenameResponse);
const LOGS_PATH = methodPath(SERVICE, 'Logs');
const EVENTS_PATH = methodPath(SERVICE, 'Events');

export type Container = c.Container;
export type ContainerStats = c.ContainerInfo;
export { ContainerStatus } from '@isula/protocol/containers';

// ---- create / start / lifecycle ---------------------------------------------------------------

export interface CreateContainerOptions {
  /** Container name; empty or absent lets the daemon name it after its id. */
  name?: string;
  /** Image reference (or the rootfs description when `rootfs` is set). */
  image: string;
  /** Absolute path of an external rootfs (`--external-rootfs`). */
  rootfs?: string;
  runtime?: string;
  hostConfig: HostConfig;
  config: ContainerConfig;
}

/** Creates a container; resolves with its 64-hex id. `hostConfig`/`config` travel as JSON strings. */
export async function createContainer(client: IsulaClient, o: CreateContainerOptions): Promise<string> {
  const res = await invoke(client, CREATE, {
    id: o.name ?? '',
    rootfs: o.rootfs ?? '',
    image: o.image,
    runtime: o.runtime ?? '',
    hostconfig: JSON.stringify(o.hostConfig),
    customconfig: JSON.stringify(o.config),
  });
  return res.id;
}

/** FIFO paths (daemon-visible) the container's standard streams are connected to on start. */
export interface StartStdio {
  stdin?: string;
  stdout?: string;
  stderr?: string;
  attachStdin?: boolean;
  attachStdout?: boolean;
  attachStderr?: boolean;
}

export async function startContainer(client: IsulaClient, id: string, stdio: StartStdio = {}): Promise<void> {
  await invoke(client, START, {
    id,
    stdin: stdio.stdin ?? '',
    attachStdin: stdio.attachStdin ?? false,
    stdout: stdio.stdout ?? '',
    attachStdout: stdio.attachStdout ?? false,
    stderr: stdio.stderr ?? '',
    attachStderr: stdio.attachStderr ?? false,
  });
}

/** Stops a container: its stop signal, then SIGKILL after `timeout` seconds (default 10); `force` kills at once. */
export async function stopContainer(client: IsulaClient, id: string, o: { force?: boolean; timeout?: number } = {}): Promise<void> {
  await invoke(client, STOP, { id, force: o.force ?? false, timeout: o.timeout ?? 10 });
}

export async function restartContainer(client: IsulaClient, id: string, timeout = 10): Promise<void> {
  await invoke(client, RESTART, { id, timeout });
}

/** Sends signal number `signal` (see {@link parseSignal}) to the container's init process. */
export async function killContainer(client: IsulaClient, id: string, signal: number): Promise<void> {
  await invoke(client, KILL, { id, signal });
}

/** Deletes a container (`force`: even a running one; `volumes`: its anonymous volumes too). */
export async function removeContainer(client: IsulaClient, id: string, o: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  await invoke(client, DELETE, { id, force: o.force ?? false, volumes: o.volumes ?? false });
}

export async function pauseContainer(client: IsulaClient, id: string): Promise<void> {
  await invoke(client, PAUSE, { id });
}

export async function resumeContainer(client: IsulaClient, id: string): Promise<void> {
  await invoke(client, RESUME, { id });
}

export async function renameContainer(client: IsulaClient, oldName: string, newName: string): Promise<void> {
  await invoke(client, RENAME, { oldname: oldName, newname: newName });
}

/** What `waitContainer` waits for: the container to stop (0) or to be removed (1, `run --rm`). */
export enum WaitCondition {
  STOPPED = 0,
  REMOVED = 1,
}

/** Blocks until the condition holds; resolves with the container's exit code. No deadline. */
export async function waitContainer(client: IsulaClient, id: string, condition: WaitCondition = WaitCondition.STOPPED): Promise<number> {
  const res = await invoke(client, WAIT, { id, condition });
  return res.exitCode;
}

// ---- queries ------------------------------------------------------------------------------------

/** Containers (running ones only unless `all`), filters keyed `id`, `label`, `name`, `status`, `last_n`. */
export async function listContainers(client: IsulaClient, o: { all?: boolean; filters?: Record<string, string> } = {}): Promise<Container[]> {
  const res = await invoke(client, LIST, { all: o.all ?? false, filters: o.filters ?? {} });
  return res.containers;
}

/** The container's inspect JSON text (`{"Id": ..., "State": {...}, ...}`). */
export async function inspectContainerJson(client: IsulaClient, id: string, timeoutSeconds = 120): Promise<string> {
  const res = await invoke(client, INSPECT, { id, bformat: false, timeout: timeoutSeconds });
  return res.ContainerJSON;
}

/** Resource usage of the named containers (none named: all running ones, or every one with `all`). */
export async function containerStats(client: IsulaClient, o: { containers?: string[]; all?: boolean } = {}): Promise<ContainerStats[]> {
  const res = await invoke(client, STATS, { containers: o.containers ?? [], all: o.all ?? false });
  return res.containers;
}

/** `ps` run in the container's namespace: the title line and one line per process, as text. */
export async function containerTop(client: IsulaClient, id: string, psArgs: string[] = []): Promise<{ titles: string; processes: string[] }> {
  const res = await invoke(client, TOP, { id, args: psArgs });
  return { titles: Buffer.from(res.titles).toString('utf8'), processes: res.processes.map((p) => Buffer.from(p).toString('utf8')) };
}

/** Changes resources / restart policy; `hostConfig` holds only the keys to change. */
export async function updateContainer(client: IsulaClient, id: string, hostConfig: HostConfig): Promise<void> {
  await invoke(client, UPDATE, { id, hostconfig: JSON.stringify(hostConfig) });
}

/** Has the daemon write the container's filesystem as a tar archive to `file` (a path on the daemon's host). */
export async function exportContainer(client: IsulaClient, id: string, file: string): Promise<void> {
  await invoke(client, EXPORT, { id, file });
}

// ---- signals ----------------------------------------------------------------------------------

export { SIGNALS, parseSignal, isValidSignal } from '@isula/protocol';

// ---- server streams -----------------------------------------------------------------------------

/** The in-band error of a stream, carried in its trailers (`cc`, `errmsg`, JSON-string-escaped upstream). */
function trailerError(trailers: IncomingHttpHeaders): DaemonError | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const cc = Number(one(trailers.cc) ?? '0');
  if (!Number.isFinite(cc) || cc === 0) return undefined;
  return new DaemonError(cc, unescapeErrmsg(one(trailers.errmsg) ?? ''));
}

/** Undoes upstream's `util_marshal_string` (a JSON string, with or without its quotes). */
export function unescapeErrmsg(raw: string): string {
  const quoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw : `"${raw}"`;
  try {
    const v: unknown = JSON.parse(quoted);
    return typeof v === 'string' ? v : raw;
  } catch {
    return raw;
  }
}

function streamOutcome(stream: H2Stream, failure: StreamFailure | undefined): Error | undefined {
  // The transport's verdict first; a gRPC OK stream may still carry upstream's cc/errmsg trailers.
  return outcome(stream, failure) ?? trailerError(stream.trailers ?? stream.headers ?? {});
}

/**
 * One server-streaming call on a connection of its own. Resolves when the daemon ends the stream
 * with OK (and `cc` 0 in its trailers) or when `signal` aborts it (the stream is cancelled, the
 * connection closed); rejects with ConnectError / RpcError / DaemonError, or with what `onMessage`
 * threw.
 */
function serverStream(client: IsulaClient, path: string, request: Uint8Array, onMessage: (m: Buffer) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const ep = client.endpoint;
    let session: H2Session;
    let stream: H2Stream;
    try {
      session = new H2Session(ep);
      stream = session.request(requestFields(ep, path), frame(request));
    } catch (err) {
      reject(new ConnectError((err as Error).message));
      return;
    }
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      session.close();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => {
      stream.cancel();
      settle();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const decoder = new FrameDecoder();
    stream.onData = (chunk) => {
      try {
        for (const m of decoder.push(chunk)) onMessage(m);
      } catch (err) {
        stream.cancel();
        settle(err);
      }
    };
    stream.onClose = (failure) => settle(streamOutcome(stream, failure));
  });
}

export interface LogsOptions {
  id: string;
  runtime?: string;
  since?: string;
  until?: string;
  /** Ask the daemon for each entry's time (the CLI prints `entry.time` itself). */
  timestamps?: boolean;
  /** Keep streaming new output until the container stops (or `signal` aborts). */
  follow?: boolean;
  /** Only the last N lines; -1 (default) = all. */
  tail?: number;
  details?: boolean;
}

export interface LogEntry {
  /** `stdout` or `stderr`. */
  stream: string;
  data: Buffer;
  /** RFC 3339 (nano) time the daemon recorded. */
  time: string;
  attrs: Buffer;
}

/** Streams a container's log; `onEntry` sees each entry in order. No deadline (`follow` may run for ever). */
export function containerLogs(client: IsulaClient, o: LogsOptions, onEntry: (e: LogEntry) => void, signal?: AbortSignal): Promise<void> {
  const req = c.LogsRequest.encode(
    c.LogsRequest.fromPartial({
      id: o.id,
      runtime: o.runtime ?? '',
      since: o.since ?? '',
      until: o.until ?? '',
      timestamps: o.timestamps ?? false,
      follow: o.follow ?? false,
      tail: o.tail ?? -1,
      details: o.details ?? false,
    }),
  ).finish();
  return serverStream(
    client,
    LOGS_PATH,
    req,
    (m) => {
      const r = c.LogsResponse.decode(m);
      onEntry({ stream: r.stream, data: Buffer.from(r.data), time: r.time, attrs: Buffer.from(r.attrs) });
    },
    signal,
  );
}

export interface EventsOptions {
  /** Only events of this container (name or id). */
  id?: string;
  since?: Timestamp;
  until?: Timestamp;
  /** Stored events only: end instead of waiting for new ones. */
  storeOnly?: boolean;
}

export interface ContainerEvent {
  timestamp: Timestamp | undefined;
  /** e.g. `container start`. */
  opt: string;
  id: string;
  annotations: Record<string, string>;
}

/**
 * Streams daemon events until the daemon ends the stream (`until` passed, `storeOnly`) or `signal`
 * aborts it. No deadline.
 */
export function containerEvents(client: IsulaClient, o: EventsOptions, onEvent: (e: ContainerEvent) => void, signal?: AbortSignal): Promise<void> {
  const req = c.EventsRequest.encode(
    c.EventsRequest.fromPartial({ id: o.id ?? '', since: o.since, until: o.until, storeOnly: o.storeOnly ?? false }),
  ).finish();
  return serverStream(
    client,
    EVENTS_PATH,
    req,
    (m) => {
      const e = c.Event.decode(m);
      onEvent({ timestamp: e.timestamp, opt: e.opt, id: e.id, annotations: e.annotations });
    },
    signal,
  );
}
