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

/**
 * The gRPC status of a thrown error: its numeric `grpcCode` when it carries one (CRI answers
 * NOT_FOUND, UNIMPLEMENTED, DEADLINE_EXCEEDED...), else `fallback`.
 */
export function grpcStatusOf(err: unknown, fallback: grpc.status): grpc.status {
  const code = (err as { grpcCode?: unknown } | null)?.grpcCode;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? (code as grpc.status) : fallback;
}

export interface CallLog {
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The grpc-js service description of one of our services. */
export function grpcDefinition(svc: ServiceDescriptor): grpc.ServiceDefinition {
  return toGrpcJsServiceDefinition(svc) as unknown as grpc.ServiceDefinition;
}

/**
 * Binds unary implementations. An exception inside a handler becomes an INTERNAL status (or its
 * `grpcCode`, see grpcStatusOf) with the message (the C client prints it); methods left out answer
 * UNIMPLEMENTED through grpc-js.
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
          const code = grpcStatusOf(err, grpc.status.INTERNAL);
          // A refusal with its own status (CRI NOT_FOUND for a removed container...) is routine.
          if (code === grpc.status.INTERNAL) log.error({ err, rpc: m.path }, 'rpc failed');
          else log.debug({ err, rpc: m.path, code }, 'rpc refused');
          callback({ code, details: err instanceof Error ? err.message : String(err) });
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
          call.emit('error', Object.assign(new Error(message), { code: grpcStatusOf(err, grpc.status.UNKNOWN), details: message, metadata: trailers }));
        },
      );
    }) as grpc.handleServerStreamingCall<unknown, unknown>;
  }
  return out;
}

/**
 * What a streaming handler (client-streaming, server-streaming or bidi) works with: the request
 * messages as they arrive, a backpressured `send`, and the initial metadata to send first.
 */
export interface StreamCall<Req, Res> extends CallContext {
  /**
   * Request messages until the client half-closes (a server-streaming RPC: its one request). Ends
   * with an error when the client cancels the call. Iterate it once.
   */
  messages: AsyncIterable<Req>;
  /** Writes one response message (bidi, server stream), awaiting backpressure; a no-op once cancelled. */
  send(message: DeepPartial<Res>): Promise<void>;
  /** Sends the initial metadata now, before any response message; only the first call counts. */
  sendMetadata(metadata: Record<string, string>): void;
  /** Trailing metadata for a call that ends OK (upstream's streams put `cc`/`errmsg`/`exit_code` there). */
  setTrailers(metadata: Record<string, string>): void;
  cancelled(): boolean;
  /** Settles when the client cancels the call (or the connection is lost). */
  whenCancelled: Promise<void>;
}

/**
 * Streaming handlers with access to the request metadata and a way to send initial metadata. For a
 * client-streaming RPC the resolved value is the one response; for response streams it is ignored
 * (use `send`). A thrown error ends the call with UNKNOWN + message (cc/errmsg in the trailers), as
 * upstream's streams report failures.
 */
export type BidiImpl<S extends ServiceDescriptor> = {
  [K in keyof S['methods']]?: S['methods'][K] extends MethodDescriptor<infer Req, infer Res, infer RQ, infer RS>
    ? [RQ, RS] extends [false, false]
      ? never
      : (call: StreamCall<Req, Res>) => Promise<DeepPartial<Res> | void>
    : never;
};

type AnyStreamHandler = (call: StreamCall<unknown, unknown>) => Promise<unknown>;
type GrpcStream = grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>;

/** The request messages of a readable call as an async iterable that honours backpressure and cancellation. */
function incoming(call: grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>, isCancelled: () => boolean): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]() {
      const queue: unknown[] = [];
      let ended = false;
      let failure: Error | undefined;
      let wake: (() => void) | undefined;
      const notify = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      call.on('data', (m: unknown) => {
        queue.push(m);
        if (queue.length >= 16) call.pause();
        notify();
      });
      call.on('end', () => {
        ended = true;
        notify();
      });
      call.on('cancelled', () => {
        failure ??= new Error('the client cancelled the call');
        notify();
      });
      call.on('close', () => {
        if (!ended) failure ??= new Error('the call closed before the client finished sending');
        notify();
      });
      return {
        async next(): Promise<IteratorResult<unknown>> {
          for (;;) {
            if (queue.length > 0) {
              const value = queue.shift();
              if (queue.length < 4 && call.isPaused()) call.resume();
              return { value, done: false };
            }
            if (ended) return { value: undefined, done: true };
            if (failure || isCancelled()) throw failure ?? new Error('the client cancelled the call');
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<unknown>> {
          ended = true;
          queue.length = 0;
          if (call.isPaused()) call.resume(); // drain what the client still sends
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/** grpc-js error carrying upstream's stream failure: UNKNOWN + message, cc/errmsg trailers. */
function streamFailure(err: unknown): grpc.ServiceError {
  const message = err instanceof Error ? err.message : String(err);
  const trailers = new grpc.Metadata();
  trailers.set('cc', String((err as { cc?: number }).cc ?? 5));
  trailers.set('errmsg', message);
  return Object.assign(new Error(message), { code: grpc.status.UNKNOWN, details: message, metadata: trailers });
}

/**
 * Binds streaming implementations of any kind (client, server, bidi), with request metadata in
 * `ctx.metadata`, `sendMetadata` for the initial metadata, and writes that wait for the client to drain.
 */
export function bindBidi<S extends ServiceDescriptor>(svc: S, impl: BidiImpl<S>, log: CallLog): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  const methods = svc.methods as Record<string, MethodDescriptor<unknown, unknown>>;
  for (const [name, handler] of Object.entries(impl) as [string, AnyStreamHandler][]) {
    const m = methods[name];
    if (!m) throw new Error(`${svc.fullName} has no method ${name}`);
    if (!m.requestStream && !m.responseStream) throw new Error(`${m.path} is a unary RPC: bind it with bindUnary`);
    const serve = (call: GrpcStream, respond?: grpc.sendUnaryData<unknown>) => {
      log.debug({ rpc: m.path, peer: call.getPeer() }, 'rpc stream');
      let cancelled = false;
      const whenCancelled = new Promise<void>((resolve) =>
        call.on('cancelled', () => {
          cancelled = true;
          resolve();
        }),
      );
      let metadataSent = false;
      const sendMetadata = (md: Record<string, string>) => {
        if (metadataSent || cancelled) return;
        metadataSent = true;
        const meta = new grpc.Metadata();
        for (const [k, v] of Object.entries(md)) meta.set(k, v);
        call.sendMetadata(meta);
      };
      const send = (msg: unknown): Promise<void> => {
        if (!m.responseStream) return Promise.reject(new Error(`${m.path} answers once: return the response instead of sending it`));
        const w = call as grpc.ServerWritableStream<unknown, unknown>;
        return new Promise<void>((resolve) => {
          if (cancelled) return resolve();
          if (w.write(m.createResponse(msg as DeepPartial<unknown>))) resolve();
          else w.once('drain', () => resolve());
        });
      };
      let trailers: grpc.Metadata | undefined;
      const setTrailers = (md: Record<string, string>) => {
        trailers = new grpc.Metadata();
        for (const [k, v] of Object.entries(md)) trailers.set(k, v);
      };
      const messages: AsyncIterable<unknown> = m.requestStream
        ? incoming(call as grpc.ServerDuplexStream<unknown, unknown>, () => cancelled)
        : (async function* one() {
            yield (call as grpc.ServerWritableStream<unknown, unknown>).request;
          })();
      handler({ messages, send, sendMetadata, setTrailers, whenCancelled, metadata: call.metadata, peer: call.getPeer(), cancelled: () => cancelled }).then(
        (res) => {
          if (respond) respond(null, m.createResponse((res ?? {}) as DeepPartial<unknown>), trailers);
          else (call as grpc.ServerWritableStream<unknown, unknown>).end(trailers);
        },
        (err: unknown) => {
          log.error({ err, rpc: m.path }, 'rpc stream failed');
          const failure = streamFailure(err);
          if (respond) respond(failure, null, failure.metadata);
          // grpc-js turns an 'error' event into the call's final status (destroy() would hang the client).
          else call.emit('error', failure);
        },
      );
    };
    if (m.requestStream && !m.responseStream) {
      out[name] = ((call: grpc.ServerReadableStream<unknown, unknown>, respond: grpc.sendUnaryData<unknown>) => serve(call, respond)) as grpc.handleClientStreamingCall<unknown, unknown>;
    } else {
      out[name] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => serve(call)) as grpc.handleBidiStreamingCall<unknown, unknown>;
    }
  }
  return out;
}
