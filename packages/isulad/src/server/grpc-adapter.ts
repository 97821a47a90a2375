import * as grpc from '@grpc/grpc-js';

/** The shape ts-proto's generic definitions give every message type. */
export interface MessageType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: unknown): T;
}

export interface MethodDefinition {
  name: string;
  requestType: MessageType<any>;
  responseType: MessageType<any>;
  requestStream: boolean;
  responseStream: boolean;
}

export interface ServiceDefinition {
  name: string;
  fullName: string;
  methods: Record<string, MethodDefinition>;
}

type Req<M> = M extends { requestType: MessageType<infer T> } ? T : never;
type Res<M> = M extends { responseType: MessageType<infer T> } ? T : never;

/** What a handler sees of the call besides the request: who called and with which headers. */
export interface CallContext {
  metadata: grpc.Metadata;
  peer: string;
}

/** Unary handlers return a (partial) response; in-band errors travel as `cc` + `errmsg` like upstream. */
export type UnaryImpl<D extends ServiceDefinition> = {
  [K in keyof D['methods']]?: D['methods'][K]['requestStream'] extends false
    ? D['methods'][K]['responseStream'] extends false
      ? (request: Req<D['methods'][K]>, ctx: CallContext) => Promise<Partial<Res<D['methods'][K]>>>
      : never
    : never;
};

/** Translates a ts-proto generic definition into grpc-js's service description (paths and codecs). */
export function toGrpcDefinition(def: ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(def.methods)) {
    out[key] = {
      path: `/${def.fullName}/${m.name}`,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      originalName: key,
      requestSerialize: (v: unknown) => Buffer.from(m.requestType.encode(v).finish()),
      requestDeserialize: (b: Buffer) => m.requestType.decode(b),
      responseSerialize: (v: unknown) => Buffer.from(m.responseType.encode(v).finish()),
      responseDeserialize: (b: Buffer) => m.responseType.decode(b),
    };
  }
  return out as grpc.ServiceDefinition;
}

/**
 * Binds unary implementations. An exception inside a handler becomes an INTERNAL status with the
 * message (the C client prints it); methods left out answer UNIMPLEMENTED through grpc-js.
 */
export interface CallLog {
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function bindUnary<D extends ServiceDefinition>(def: D, impl: UnaryImpl<D>, log: CallLog): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [key, handler] of Object.entries(impl) as [string, (req: unknown, ctx: CallContext) => Promise<unknown>][]) {
    const m = def.methods[key]!;
    out[key] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      log.debug({ rpc: `${def.fullName}/${m.name}`, peer: call.getPeer() }, 'rpc');
      handler(call.request, { metadata: call.metadata, peer: call.getPeer() }).then(
        (res) => callback(null, m.responseType.fromPartial(res)),
        (err: unknown) => {
          log.error({ err, rpc: `${def.fullName}/${m.name}` }, 'rpc failed');
          callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
        },
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return out;
}
