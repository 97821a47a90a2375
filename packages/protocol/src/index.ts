/**
 * @isula/protocol — the isulad gRPC wire protocol (messages + service descriptions).
 *
 * Generated message code (ts-proto, into src/gen at build time) depends only on
 * `@bufbuild/protobuf/wire`; nothing here imports `@grpc/grpc-js`.
 *
 * ## What is exported
 *
 * - Namespaces `containers`, `images`, `volume`, `network`: the generated modules
 *   (message interfaces + codecs with `encode/decode/create/fromPartial`, enums,
 *   and the ts-proto generic service definitions).
 * - `ContainerServiceDefinition`, `ImagesServiceDefinition`, `VolumeServiceDefinition`,
 *   `NetworkServiceDefinition`: ts-proto generic definitions
 *   (`{ name, fullName, methods: { camelCaseName: { name, requestType, requestStream,
 *   responseType, responseStream, options } } }`).
 * - `ContainerService`, `ImagesService`, `VolumeService`, `NetworkService`: transport-neutral
 *   descriptors built from those definitions, keyed by the upstream RPC name:
 *   `{ name, fullName, definition, methods: { Version: { path, requestStream, responseStream,
 *   encode(req), decode(buf), decodeRequest(buf), encodeResponse(res), createRequest(p),
 *   createResponse(p), ... } } }`. `services` groups the four.
 * - `toGrpcJsServiceDefinition(descriptor)`: the same methods in the exact object shape that
 *   grpc-js `Server#addService` / `makeGenericClientConstructor` accept (Buffer (de)serializers),
 *   built without importing grpc-js.
 * - Constants (`ErrorCode`, default paths, metadata keys, `CANNOT_CONNECT_MSG`, `methodPath`)
 *   and Timestamp helpers.
 *
 * ## Usage
 *
 * Client (hand-written HTTP/2 or anything else that moves bytes):
 * ```ts
 * import { ContainerService } from '@isula/protocol';
 * const m = ContainerService.methods.Version;
 * const body = m.encode(m.createRequest({}));        // Uint8Array, frame it with the 5-byte gRPC prefix
 * // POST m.path ('/containers.ContainerService/Version') ...
 * const res = m.decode(responsePayload);              // containers.VersionResponse
 * if (res.cc !== ErrorCode.SUCCESS) console.error(`Error response from daemon: ${res.errmsg}`);
 * ```
 *
 * Daemon with grpc-js:
 * ```ts
 * import * as grpc from '@grpc/grpc-js';
 * import { ContainerService, toGrpcJsServiceDefinition } from '@isula/protocol';
 * server.addService(toGrpcJsServiceDefinition(ContainerService), {
 *   Version: (call, cb) => cb(null, ContainerService.methods.Version.createResponse({ version: '2.1.5' })),
 *   ...
 * });
 * ```
 */
import type { BinaryWriter } from '@bufbuild/protobuf/wire';

import * as containers from './gen/containers/container';
import * as images from './gen/images/images';
import * as volume from './gen/volumes/volumes';
import * as network from './gen/network/network';
import { methodPath } from './constants';

export { containers, images, volume, network };
export { ContainerServiceDefinition } from './gen/containers/container';
export { ImagesServiceDefinition } from './gen/images/images';
export { VolumeServiceDefinition } from './gen/volumes/volumes';
export { NetworkServiceDefinition } from './gen/network/network';
export type { Timestamp } from './gen/google/protobuf/timestamp';
export type { DeepPartial } from './gen/containers/container';
export * from './constants';
export * from './hosts';
export * from './timestamp';
export * from './container-config';
export * from './signals';
export * from './copy-paths';
export * from './stdio-streams';

// ---------------------------------------------------------------------------
// Transport-neutral method/service descriptors
// ---------------------------------------------------------------------------

/** Structural view of a ts-proto message codec (`MessageFns<T>`). */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array, length?: number): T;
  fromPartial(object: any): T;
}

/** Structural view of one method of a ts-proto generic service definition. */
export interface GenericMethodDefinition {
  readonly name: string;
  readonly requestType: MessageCodec<any>;
  readonly requestStream: boolean;
  readonly responseType: MessageCodec<any>;
  readonly responseStream: boolean;
  readonly options: object;
}

/** Structural view of a ts-proto generic service definition. */
export interface GenericServiceDefinition {
  readonly name: string;
  readonly fullName: string;
  readonly methods: { readonly [key: string]: GenericMethodDefinition };
}

type MessageOf<C> = C extends { decode(input: Uint8Array, length?: number): infer T } ? T : never;
type Partialish<T> = containers.DeepPartial<T>;

/** Everything needed to call or serve one RPC, independent of the transport. */
export interface MethodDescriptor<
  Req,
  Res,
  ReqStream extends boolean = boolean,
  ResStream extends boolean = boolean,
> {
  /** Upstream RPC name, e.g. `Version`. */
  readonly name: string;
  /** Full service name, e.g. `containers.ContainerService`. */
  readonly service: string;
  /** gRPC path, e.g. `/containers.ContainerService/Version`. */
  readonly path: string;
  readonly requestStream: ReqStream;
  readonly responseStream: ResStream;
  readonly requestType: MessageCodec<Req>;
  readonly responseType: MessageCodec<Res>;
  /** Client side: request message -> protobuf bytes (no gRPC framing). */
  encode(req: Req): Uint8Array;
  /** Client side: protobuf bytes -> response message. */
  decode(buf: Uint8Array): Res;
  /** Alias of {@link encode}. */
  encodeRequest(req: Req): Uint8Array;
  /** Alias of {@link decode}. */
  decodeResponse(buf: Uint8Array): Res;
  /** Server side: protobuf bytes -> request message. */
  decodeRequest(buf: Uint8Array): Req;
  /** Server side: response message -> protobuf bytes. */
  encodeResponse(res: Res): Uint8Array;
  /** Fill defaults for a partial request (use before `encode`). */
  createRequest(partial?: Partialish<Req>): Req;
  /** Fill defaults for a partial response (use before `encodeResponse`). */
  createResponse(partial?: Partialish<Res>): Res;
}

/** Method descriptors of a service keyed by upstream RPC name (`Version`, `RemoteStart`, ...). */
export type MethodsOf<D extends GenericServiceDefinition> = {
  -readonly [K in keyof D['methods'] as D['methods'][K]['name']]: MethodDescriptor<
    MessageOf<D['methods'][K]['requestType']>,
    MessageOf<D['methods'][K]['responseType']>,
    D['methods'][K]['requestStream'],
    D['methods'][K]['responseStream']
  >;
};

export interface ServiceDescriptor<D extends GenericServiceDefinition = GenericServiceDefinition> {
  /** Short service name, e.g. `ContainerService`. */
  readonly name: D['name'];
  /** Full service name, e.g. `containers.ContainerService`. */
  readonly fullName: D['fullName'];
  /** The underlying ts-proto generic definition. */
  readonly definition: D;
  readonly methods: MethodsOf<D>;
}

function describeMethod(fullName: string, m: GenericMethodDefinition): MethodDescriptor<any, any> {
  const req = m.requestType;
  const res = m.responseType;
  const encode = (msg: unknown): Uint8Array => req.encode(msg).finish();
  const decode = (buf: Uint8Array): unknown => res.decode(buf);
  return {
    name: m.name,
    service: fullName,
    path: methodPath(fullName, m.name),
    requestStream: m.requestStream,
    responseStream: m.responseStream,
    requestType: req,
    responseType: res,
    encode,
    decode,
    encodeRequest: encode,
    decodeResponse: decode,
    decodeRequest: (buf: Uint8Array) => req.decode(buf),
    encodeResponse: (msg: unknown) => res.encode(msg).finish(),
    createRequest: (partial?: unknown) => req.fromPartial(partial ?? {}),
    createResponse: (partial?: unknown) => res.fromPartial(partial ?? {}),
  };
}

/** Build a {@link ServiceDescriptor} from a ts-proto generic service definition. */
export function describeService<D extends GenericServiceDefinition>(def: D): ServiceDescriptor<D> {
  const methods: Record<string, MethodDescriptor<any, any>> = {};
  for (const key of Object.keys(def.methods)) {
    const m = def.methods[key]!;
    methods[m.name] = describeMethod(def.fullName, m);
  }
  return { name: def.name, fullName: def.fullName, definition: def, methods: methods as MethodsOf<D> };
}

export const ContainerService: ServiceDescriptor<typeof containers.ContainerServiceDefinition> = /* @__PURE__ */ describeService(
  containers.ContainerServiceDefinition,
);
export const ImagesService: ServiceDescriptor<typeof images.ImagesServiceDefinition> = /* @__PURE__ */ describeService(
  images.ImagesServiceDefinition,
);
export const VolumeService: ServiceDescriptor<typeof volume.VolumeServiceDefinition> = /* @__PURE__ */ describeService(
  volume.VolumeServiceDefinition,
);
export const NetworkService: ServiceDescriptor<typeof network.NetworkServiceDefinition> = /* @__PURE__ */ describeService(
  network.NetworkServiceDefinition,
);

/** All isulad services served on the daemon socket (CRI services are not part of this package). */
export const services = {
  containers: ContainerService,
  images: ImagesService,
  volume: VolumeService,
  network: NetworkService,
} as const;

// ---------------------------------------------------------------------------
// grpc-js adapter shape (no grpc-js import)
// ---------------------------------------------------------------------------

/** Structurally identical to grpc-js `MethodDefinition<Req, Res>`. */
export interface GrpcJsMethodDefinition<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: Req) => Buffer;
  requestDeserialize: (bytes: Buffer) => Req;
  responseSerialize: (value: Res) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
  originalName?: string;
}

/** Structurally identical to grpc-js `ServiceDefinition`, keyed by upstream RPC name. */
export type GrpcJsServiceDefinition<D extends GenericServiceDefinition> = {
  [K in keyof MethodsOf<D>]: MethodsOf<D>[K] extends MethodDescriptor<infer Req, infer Res, any, any>
    ? GrpcJsMethodDefinition<Req, Res>
    : never;
};

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * Convert a descriptor into the object shape grpc-js expects for
 * `server.addService(def, impl)` (impl keys = upstream RPC names, e.g. `Version`)
 * and `makeGenericClientConstructor(def, serviceName)`.
 */
export function toGrpcJsServiceDefinition<D extends GenericServiceDefinition>(
  svc: ServiceDescriptor<D>,
): GrpcJsServiceDefinition<D> {
  const out: Record<string, GrpcJsMethodDefinition<any, any>> = {};
  for (const [name, m] of Object.entries(svc.methods as Record<string, MethodDescriptor<any, any>>)) {
    out[name] = {
      path: m.path,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: (v) => toBuffer(m.encodeRequest(v)),
      requestDeserialize: (b) => m.decodeRequest(b),
      responseSerialize: (v) => toBuffer(m.encodeResponse(v)),
      responseDeserialize: (b) => m.decodeResponse(b),
      originalName: name.charAt(0).toLowerCase() + name.slice(1),
    };
  }
  return out as GrpcJsServiceDefinition<D>;
}
