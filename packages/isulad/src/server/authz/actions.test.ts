import { services } from '@isula/protocol';
import { describe, expect, it } from 'vitest';
import { RPC_ACTIONS, actionFor } from './actions';

describe('action names', () => {
  const paths = Object.values(services).flatMap((svc) => Object.values(svc.methods as Record<string, { path: string }>).map((m) => m.path));

  it('every RPC of every isulad service has its own entry (a new RPC must be named here)', () => {
    expect(paths.filter((p) => !(p in RPC_ACTIONS))).toEqual([]);
    expect(Object.keys(RPC_ACTIONS).filter((p) => !paths.includes(p))).toEqual([]);
  });

  it.each([
    ['/containers.ContainerService/Create', 'container_create'],
    ['/containers.ContainerService/Start', 'container_start'],
    ['/containers.ContainerService/RemoteStart', 'container_start'],
    ['/containers.ContainerService/Resume', 'container_unpause'],
    ['/containers.ContainerService/Exec', 'container_exec_create'],
    ['/containers.ContainerService/RemoteExec', 'container_exec_create'],
    ['/containers.ContainerService/Attach', 'container_attach'],
    ['/containers.ContainerService/Events', 'docker_events'],
    ['/containers.ContainerService/Version', 'docker_version'],
    ['/containers.ContainerService/Info', 'docker_info'],
    ['/containers.ContainerService/CopyFromContainer', 'container_archive'],
    ['/containers.ContainerService/CopyToContainer', 'container_archive'],
    ['/images.ImagesService/PullImage', 'pull'],
    ['/images.ImagesService/Login', 'login'],
    ['/images.ImagesService/Logout', 'logout'],
    ['/images.ImagesService/List', 'image_list'],
    ['/volume.VolumeService/Prune', 'volume_prune'],
    ['/network.NetworkService/Create', 'network_create'],
  ])('%s → %s', (path, action) => {
    expect(actionFor(path)).toBe(action);
  });

  it.each([
    ['/runtime.v1.RuntimeService/RunPodSandbox', 'runtime_run_pod_sandbox'],
    ['/runtime.v1.ImageService/PullImage', 'image_pull_image'],
    ['/runtime.v1.RuntimeService/ListPodSandboxStats', 'runtime_list_pod_sandbox_stats'],
    ['/grpc.health.v1.Health/Check', 'health_check'],
    ['/Weird', 'unknown'],
  ])('a path without an entry is still named: %s → %s', (path, action) => {
    expect(actionFor(path)).toBe(action);
  });
});
