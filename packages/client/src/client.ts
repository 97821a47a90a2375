import { methodPath, type DeepPartial, type MethodDescriptor } from '@isula/protocol';
import * as containers from '@isula/protocol/containers';
import { resolveEndpoint, type ConnectOptions, type Endpoint } from './endpoint';
import { DaemonError } from './errors';
import { GrpcConnection, type Metadata } from './transport/grpc-http2';

type MethodLike = Pick<MethodDescriptor<any, any>, 'path' | 'encode' | 'decode' | 'createRequest'> & {
  requestStream: boolean;
  responseStream: boolean;
};
type ReqOf<M> = M extends MethodDescriptor<infer Req, any> ? Req : never;
type ResOf<M> = M extends MethodDescriptor<any, infer Res> ? Res : never;

/** Codecs of one unary RPC, named by path: tree-shakes to just the messages a caller uses. */
interface Unary<Req, Res> {
  path: string;
  request: { encode(m: Req): { finish(): Uint8Array }; fromPartial(o: any): Req };
  response: { decode(b: Uint8Array): Res };
}

const CONTAINERS = 'containers.ContainerService';
const VERSION: Unary<containers.VersionRequest, containers.VersionResponse> = {
  path: methodPath(CONTAINERS, 'Version'),
  request: containers.VersionRequest,
  response: containers.VersionResponse,
};
const INFO: Unary<containers.InfoRequest, containers.InfoResponse> = {
  path: methodPath(CONTAINERS, 'Info'),
  request: containers.InfoRequest,
  response: containers.InfoResponse,
};

export type VersionInfo = containers.VersionResponse;
export type DaemonInfo = containers.InfoResponse;

/** Throws DaemonError for a non-zero in-band `cc`, the way upstream reports daemon-side failures. */
export function checkInBand<T>(res: T): T {
  const r = res as { cc?: number; errmsg?: string };
  if (typeof r.cc === 'number' && r.cc !== 0) throw new DaemonError(r.cc, r.errmsg ?? '');
  return res;
}

/**
 * The typed client API of isulad (and of upstream iSulad): one connection, promise-returning calls.
 * The CLI is built on it; scripts import it directly.
 */
export class IsulaClient {
  readonly endpoint: Endpoint;
  private readonly conn: GrpcConnection;

  constructor(options: ConnectOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.endpoint = resolveEndpoint(options, env);
    this.conn = new GrpcConnection(this.endpoint);
  }

  /**
   * Any unary RPC by its descriptor from @isula/protocol (e.g. `ImagesService.methods.List`); the
   * answer is returned as is, in-band `cc` included.
   */
  async call<M extends MethodLike>(method: M, request: DeepPartial<ReqOf<M>> = {} as DeepPartial<ReqOf<M>>, metadata: Metadata = {}): Promise<ResOf<M>> {
    if (method.requestStream || method.responseStream) throw new TypeError(`${method.path} is a streaming RPC`);
    const { message } = await this.conn.unary(method.path, method.encode(method.createRequest(request)), metadata);
    return method.decode(message) as ResOf<M>;
  }

  private async unary<Req, Res>(rpc: Unary<Req, Res>, request: DeepPartial<Req>, metadata: Metadata = {}): Promise<Res> {
    const bytes = rpc.request.encode(rpc.request.fromPartial(request)).finish();
    const { message } = await this.conn.unary(rpc.path, bytes, metadata);
    return rpc.response.decode(message);
  }

  version(): Promise<VersionInfo> {
    return this.unary(VERSION, {}).then(checkInBand);
  }

  info(): Promise<DaemonInfo> {
    return this.unary(INFO, {}).then(checkInBand);
  }

  close(): void {
    this.conn.close();
  }
}
