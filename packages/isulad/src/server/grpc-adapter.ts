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

/** Server-streaming handlers: `send` writes one message (awaiting backpressure); resolve to end OK. */
export type ServerStreamImpl<S extends ServiceDescriptor> = {
  [K in keyof S['methods']]?: S['methods'][K] extends MethodDescriptor<infer Req, infer Res, false, true>
    ? (request: Req, send: (message: DeepPartial<Res>) => Promise<void>, ctx: CallContext & { cancelled: () => boolean }) => Promise<void>
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

/**
 * Binds server-streaming implementations. Writes wait for the client to drain (a slow reader slows
 * the producer instead of growing the daemon); a thrown error ends the call with INTERNAL + message.
 */
export function bindServerStream<S extends ServiceDescriptor>(svc: S, impl: ServerStreamImpl<S>, log: CallLog): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  const methods = svc.methods as Record<string, MethodDescriptor<unknown, unknown>>;
  for (const [name, handler] of Object.entries(impl) as [string, (req: unknown, send: (m: unknown) => Promise<void>, ctx: CallContext & { cancelled: () => boolean }) => Promise<void>][]) {
    const m = methods[name];
    if (!m) throw new Error(`${svc.fullName} has no method ${name}`);
    out[name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      log.debug({ rpc: m.path, peer: call.getPeer() }, 'rpc stream');
      let cancelled = false;
      call.on('cancelled', () => (cancelled = true));
      const send = (msg: unknown) =>
        new Promise<void>((resolve) => {
          if (cancelled) return resolve();
          if (call.write(m.createResponse(msg as DeepPartial<unknown>))) resolve();
          else call.once('drain', () => resolve());
        });
      handler(call.request, send, { metadata: call.metadata, peer: call.getPeer(), cancelled: () => cancelled }).then(
        () => call.end(),
        (err: unknown) => {
          log.error({ err, rpc: m.path }, 'rpc stream failed');
          // Upstream's streams carry cc/errmsg in trailing metadata; the status says the call failed.
          const message = err instanceof Error ? err.message : String(err);
          const trailers = new grpc.Metadata();
          trailers.set('cc', String((err as { cc?: number }).cc ?? 5));
          trailers.set('errmsg', message);
          // grpc-js turns an 'error' event into the call's final status (destroy() would hang the client).
          call.emit('error', Object.assign(new Error(message), { code: grpc.status.UNKNOWN, details: message, metadata: trailers }));
        },
      );
    }) as grpc.handleServerStreamingCall<unknown, unknown>;
  }
  return out;
}
