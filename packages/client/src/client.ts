import { methodPath, type DeepPartial, type MethodDescriptor } from '@isula/protocol';
import * as containers from '@isula/protocol/containers';
import * as images from '@isula/protocol/images';
import { resolveEndpoint, type ConnectOptions, type Endpoint } from './endpoint';
import { DaemonError } from './errors';
import { GrpcConnection, type Metadata } from './transport/h2-lite';

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
const IMAGES = 'images.ImagesService';

function rpc<Req, Res>(service: string, method: string, request: Unary<Req, Res>['request'], response: Unary<Req, Res>['response']): Unary<Req, Res> {
  return { path: methodPath(service, method), request, response };
}

const IMAGE_LIST = rpc(IMAGES, 'List', images.ListImagesRequest, images.ListImagesResponse);
const IMAGE_DELETE = rpc(IMAGES, 'Delete', images.DeleteImageRequest, images.DeleteImageResponse);
const IMAGE_TAG = rpc(IMAGES, 'Tag', images.TagImageRequest, images.TagImageResponse);
const IMAGE_INSPECT = rpc(IMAGES, 'Inspect', images.InspectImageRequest, images.InspectImageResponse);
const IMAGE_LOAD = rpc(IMAGES, 'Load', images.LoadImageRequest, images.LoadImageResponse);
const IMAGE_IMPORT = rpc(IMAGES, 'Import', images.ImportRequest, images.ImportResponse);
const IMAGE_LOGIN = rpc(IMAGES, 'Login', images.LoginRequest, images.LoginResponse);
const IMAGE_LOGOUT = rpc(IMAGES, 'Logout', images.LogoutRequest, images.LogoutResponse);
const IMAGE_PULL_PATH = methodPath(IMAGES, 'PullImage');
const CONTAINER_INSPECT = rpc(CONTAINERS, 'Inspect', containers.InspectContainerRequest, containers.InspectContainerResponse);
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

  /** Images, one entry per name (a dangling image has one entry with an empty name). */
  listImages(filters: Record<string, string> = {}): Promise<images.Image[]> {
    return this.unary(IMAGE_LIST, { filters }).then(checkInBand).then((r) => r.images);
  }

  removeImage(name: string, force = false): Promise<void> {
    return this.unary(IMAGE_DELETE, { name, force }).then(checkInBand).then(() => undefined);
  }

  tagImage(source: string, target: string): Promise<void> {
    return this.unary(IMAGE_TAG, { srcName: source, destName: target }).then(checkInBand).then(() => undefined);
  }

  /** The image's inspect JSON text (`{"image": {...}}`). */
  inspectImage(id: string, timeoutSeconds = 120): Promise<string> {
    return this.unary(IMAGE_INSPECT, { id, bformat: false, timeout: timeoutSeconds }).then(checkInBand).then((r) => r.ImageJSON);
  }

  /** Loads a docker-save or OCI archive the daemon can read at `file` (an absolute path on its host). */
  loadImage(file: string, tag = ''): Promise<void> {
    return this.unary(IMAGE_LOAD, { file, type: 'oci', tag }).then(checkInBand).then(() => undefined);
  }

  importImage(file: string, tag: string): Promise<string> {
    return this.unary(IMAGE_IMPORT, { file, tag }).then(checkInBand).then((r) => r.id);
  }

  /**
   * Pulls an image; `onProgress` receives each progress message (JSON decoded) the daemon streams.
   * Resolves with the image reference the daemon stored.
   */
  async pullImage(name: string, onProgress?: (progress: unknown) => void): Promise<string> {
    const req = images.PullImageRequest.encode(images.PullImageRequest.fromPartial({ image: { image: name }, isProgressVisible: onProgress !== undefined })).finish();
    let ref = '';
    await this.conn.serverStream(IMAGE_PULL_PATH, req, (msg) => {
      const m = images.PullImageResponse.decode(msg);
      if (m.imageRef) ref = m.imageRef;
      if (onProgress && m.progressData.length > 0) {
        try {
          onProgress(JSON.parse(m.progressData.toString('utf8')));
        } catch {
          /* not ours to render */
        }
      }
    });
    return ref;
  }

  login(server: string, username: string, password: string): Promise<void> {
    return this.unary(IMAGE_LOGIN, { server, username, password, type: 'oci' }).then(checkInBand).then(() => undefined);
  }

  logout(server: string): Promise<void> {
    return this.unary(IMAGE_LOGOUT, { server, type: 'oci' }).then(checkInBand).then(() => undefined);
  }

  /** The container's inspect JSON text. */
  inspectContainer(id: string, timeoutSeconds = 120): Promise<string> {
    return this.unary(CONTAINER_INSPECT, { id, bformat: false, timeout: timeoutSeconds }).then(checkInBand).then((r) => r.ContainerJSON);
  }

  close(): void {
    this.conn.close();
  }
}
