import { containers } from '@isula/protocol';
import { resolveEndpoint, type ConnectOptions, type Endpoint } from './endpoint';
import { DaemonError } from './errors';
import { GrpcConnection, type Metadata } from './transport/grpc-http2';

interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: any): T;
}
interface UnaryMethod<Req, Res> {
  name: string;
  requestType: MessageCodec<Req>;
  responseType: MessageCodec<Res>;
  requestStream: false;
  responseStream: false;
}
interface ServiceDef {
  fullName: string;
  methods: Record<string, { name: string; requestStream: boolean; responseStream: boolean }>;
}
type UnaryKeys<D extends ServiceDef> = {
  [K in keyof D['methods']]: D['methods'][K] extends { requestStream: false; responseStream: false } ? K : never;
}[keyof D['methods']];
type ReqOf<M> = M extends UnaryMethod<infer Req, any> ? Req : never;
type ResOf<M> = M extends UnaryMethod<any, infer Res> ? Res : never;
/** ts-proto's DeepPartial is not exported per message; a shallow partial is what callers pass. */
type PartialReq<M> = Partial<ReqOf<M>>;

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

  /** Any unary RPC of any service, by its generated definition; the answer is returned as is. */
  async call<D extends ServiceDef, K extends UnaryKeys<D>>(
    service: D,
    method: K,
    request: PartialReq<D['methods'][K]> = {},
    metadata: Metadata = {},
  ): Promise<ResOf<D['methods'][K]>> {
    const m = service.methods[method as string] as unknown as UnaryMethod<ReqOf<D['methods'][K]>, ResOf<D['methods'][K]>>;
    const bytes = m.requestType.encode(m.requestType.fromPartial(request)).finish();
    const { message } = await this.conn.unary(`/${service.fullName}/${m.name}`, bytes, metadata);
    return m.responseType.decode(message);
  }

  version(): Promise<VersionInfo> {
    return this.call(containers.ContainerServiceDefinition, 'version').then(checkInBand);
  }

  info(): Promise<DaemonInfo> {
    return this.call(containers.ContainerServiceDefinition, 'info').then(checkInBand);
  }

  close(): void {
    this.conn.close();
  }
}
