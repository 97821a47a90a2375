import * as grpc from '@grpc/grpc-js';
import { toGrpcJsServiceDefinition, type DeepPartial, type MethodDescriptor, type ServiceDescriptor } from '@isula/protocol';

/** What a handler sees of the call besides the request: who called and with which headers. */
export interface CallContext {
  metadata: grpc.Metadata;
  peer: string;
}

/** Unary handlers keyed by upstream RPC name; in-band errors travel as `cc` + `errmsg` like upstream. */
export type UnaryImpl<S extends ServiceDescriptor> = {
  [K in keyof S['methods']]?: S['methods'][K] extends MethodDescriptor<infer Req, infer Res, false, false>
    ? (request: Req, ctx: CallContext) => Promise<DeepPartial<Res>>
    : never;
};

export interface CallLog {
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The grpc-js service description of one of our services. */
export function grpcDefinition(svc: ServiceDescriptor): grpc.ServiceDefinition {
  return toGrpcJsServiceDefinition(svc) as unknown as grpc.ServiceDefinition;
}

/**
 * Binds unary implementations. An exception inside a handler becomes an INTERNAL status with the
 * message (the C client prints it); methods left out answer UNIMPLEMENTED through grpc-js.
 */
export function bindUnary<S extends ServiceDescriptor>(svc: S, impl: UnaryImpl<S>, log: CallLog): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  const methods = svc.methods as Record<string, MethodDescriptor<unknown, unknown>>;
  for (const [name, handler] of Object.entries(impl) as [string, (req: unknown, ctx: CallContext) => Promise<unknown>][]) {
    const m = methods[name];
    if (!m) throw new Error(`${svc.fullName} has no method ${name}`);
    out[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      log.debug({ rpc: m.path, peer: call.getPeer() }, 'rpc');
      handler(call.request, { metadata: call.metadata, peer: call.getPeer() }).then(
        (res) => callback(null, m.createResponse(res as DeepPartial<unknown>)),
        (err: unknown) => {
          log.error({ err, rpc: m.path }, 'rpc failed');
          callback({ code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
        },
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return out;
}
