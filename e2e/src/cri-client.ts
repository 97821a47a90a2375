import * as grpc from '@grpc/grpc-js';
import { ImageService, RuntimeService, type cri, type DeepPartial } from '@isula/cri-api';
import { toGrpcJsServiceDefinition } from '@isula/protocol';

/*
 * A CRI test client as kubelet and crictl would be: @grpc/grpc-js over the daemon's unix socket,
 * speaking runtime.v1 (the messages generated from Debian's cri-api package).
 */

type Unary<Req, Res> = (req: DeepPartial<Req>, opts?: { deadlineMs?: number }) => Promise<Res>;

export interface CriClient {
  runtime: {
    version: Unary<cri.VersionRequest, cri.VersionResponse>;
    status: Unary<cri.StatusRequest, cri.StatusResponse>;
    runtimeConfig: Unary<cri.RuntimeConfigRequest, cri.RuntimeConfigResponse>;
    runPodSandbox: Unary<cri.RunPodSandboxRequest, cri.RunPodSandboxResponse>;
    stopPodSandbox: Unary<cri.StopPodSandboxRequest, cri.StopPodSandboxResponse>;
    removePodSandbox: Unary<cri.RemovePodSandboxRequest, cri.RemovePodSandboxResponse>;
    podSandboxStatus: Unary<cri.PodSandboxStatusRequest, cri.PodSandboxStatusResponse>;
    listPodSandbox: Unary<cri.ListPodSandboxRequest, cri.ListPodSandboxResponse>;
    createContainer: Unary<cri.CreateContainerRequest, cri.CreateContainerResponse>;
    startContainer: Unary<cri.StartContainerRequest, cri.StartContainerResponse>;
    stopContainer: Unary<cri.StopContainerRequest, cri.StopContainerResponse>;
    removeContainer: Unary<cri.RemoveContainerRequest, cri.RemoveContainerResponse>;
    listContainers: Unary<cri.ListContainersRequest, cri.ListContainersResponse>;
    containerStatus: Unary<cri.ContainerStatusRequest, cri.ContainerStatusResponse>;
    execSync: Unary<cri.ExecSyncRequest, cri.ExecSyncResponse>;
    exec: Unary<cri.ExecRequest, cri.ExecResponse>;
    attach: Unary<cri.AttachRequest, cri.AttachResponse>;
    portForward: Unary<cri.PortForwardRequest, cri.PortForwardResponse>;
    containerStats: Unary<cri.ContainerStatsRequest, cri.ContainerStatsResponse>;
    checkpointContainer: Unary<cri.CheckpointContainerRequest, cri.CheckpointContainerResponse>;
  };
  images: {
    listImages: Unary<cri.ListImagesRequest, cri.ListImagesResponse>;
    imageStatus: Unary<cri.ImageStatusRequest, cri.ImageStatusResponse>;
    pullImage: Unary<cri.PullImageRequest, cri.PullImageResponse>;
    removeImage: Unary<cri.RemoveImageRequest, cri.RemoveImageResponse>;
    imageFsInfo: Unary<cri.ImageFsInfoRequest, cri.ImageFsInfoResponse>;
  };
  close(): void;
}

type Stub = Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void>;

function unary<Req, Res>(stub: Stub, name: string, methods: Record<string, { createRequest(p?: unknown): unknown }>): Unary<Req, Res> {
  return (req, opts = {}) =>
    new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + (opts.deadlineMs ?? 60_000));
      stub[name]!.call(stub, methods[name]!.createRequest(req), new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
}

export function criClient(socket: string): CriClient {
  const Runtime = grpc.makeGenericClientConstructor(toGrpcJsServiceDefinition(RuntimeService) as unknown as grpc.ServiceDefinition, 'RuntimeService');
  const Images = grpc.makeGenericClientConstructor(toGrpcJsServiceDefinition(ImageService) as unknown as grpc.ServiceDefinition, 'ImageService');
  const rt = new Runtime(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as Stub & grpc.Client;
  const im = new Images(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as Stub & grpc.Client;
  const r = RuntimeService.methods as unknown as Record<string, { createRequest(p?: unknown): unknown }>;
  const i = ImageService.methods as unknown as Record<string, { createRequest(p?: unknown): unknown }>;
  return {
    runtime: {
      version: unary(rt, 'Version', r),
      status: unary(rt, 'Status', r),
      runtimeConfig: unary(rt, 'RuntimeConfig', r),
      runPodSandbox: unary(rt, 'RunPodSandbox', r),
      stopPodSandbox: unary(rt, 'StopPodSandbox', r),
      removePodSandbox: unary(rt, 'RemovePodSandbox', r),
      podSandboxStatus: unary(rt, 'PodSandboxStatus', r),
      listPodSandbox: unary(rt, 'ListPodSandbox', r),
      createContainer: unary(rt, 'CreateContainer', r),
      startContainer: unary(rt, 'StartContainer', r),
      stopContainer: unary(rt, 'StopContainer', r),
      removeContainer: unary(rt, 'RemoveContainer', r),
      listContainers: unary(rt, 'ListContainers', r),
      containerStatus: unary(rt, 'ContainerStatus', r),
      execSync: unary(rt, 'ExecSync', r),
      exec: unary(rt, 'Exec', r),
      attach: unary(rt, 'Attach', r),
      portForward: unary(rt, 'PortForward', r),
      containerStats: unary(rt, 'ContainerStats', r),
      checkpointContainer: unary(rt, 'CheckpointContainer', r),
    },
    images: {
      listImages: unary(im, 'ListImages', i),
      imageStatus: unary(im, 'ImageStatus', i),
      pullImage: unary(im, 'PullImage', i),
      removeImage: unary(im, 'RemoveImage', i),
      imageFsInfo: unary(im, 'ImageFsInfo', i),
    },
    close: () => {
      rt.close();
      im.close();
    },
  };
}
