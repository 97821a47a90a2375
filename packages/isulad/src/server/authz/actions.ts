/**
 * The action name the authorization plugin is asked about for each RPC, keyed by gRPC path.
 *
 * Upstream iSulad calls `GrpcServerTlsAuth::auth(context, "<action>")` at the top of its handlers
 * with Docker's authz-broker action names; "upstream" below means the name appears in upstream's
 * grpc_*_service.cc. The others are ours, chosen as `<object>_<verb>` in the same style (upstream
 * either has no check there — RemoteStart, PullImage — or we found no source for the name).
 */
export const RPC_ACTIONS: Readonly<Record<string, string>> = {
  // containers.ContainerService
  '/containers.ContainerService/Create': 'container_create', // upstream
  '/containers.ContainerService/Start': 'container_start', // upstream
  '/containers.ContainerService/RemoteStart': 'container_start', // ours (upstream does not check it)
  '/containers.ContainerService/Top': 'container_top', // upstream
  '/containers.ContainerService/Stop': 'container_stop', // upstream
  '/containers.ContainerService/Kill': 'container_kill', // upstream
  '/containers.ContainerService/Delete': 'container_delete', // upstream
  '/containers.ContainerService/Pause': 'container_pause', // upstream
  '/containers.ContainerService/Resume': 'container_unpause', // upstream
  '/containers.ContainerService/Inspect': 'container_inspect', // upstream
  '/containers.ContainerService/List': 'container_list', // upstream
  '/containers.ContainerService/Stats': 'container_stats', // upstream
  '/containers.ContainerService/Wait': 'container_wait', // upstream
  '/containers.ContainerService/Events': 'docker_events', // upstream
  '/containers.ContainerService/Exec': 'container_exec_create', // upstream
  '/containers.ContainerService/RemoteExec': 'container_exec_create', // upstream
  '/containers.ContainerService/Version': 'docker_version', // upstream
  '/containers.ContainerService/Info': 'docker_info', // upstream
  '/containers.ContainerService/Update': 'container_update', // upstream
  '/containers.ContainerService/Attach': 'container_attach', // upstream
  '/containers.ContainerService/Restart': 'container_restart', // upstream
  '/containers.ContainerService/Export': 'container_export', // upstream
  '/containers.ContainerService/CopyFromContainer': 'container_archive', // upstream
  '/containers.ContainerService/CopyToContainer': 'container_archive', // upstream
  '/containers.ContainerService/Rename': 'container_rename', // upstream
  '/containers.ContainerService/Logs': 'container_logs', // upstream
  '/containers.ContainerService/Resize': 'container_resize', // upstream

  // images.ImagesService
  '/images.ImagesService/List': 'image_list', // upstream
  '/images.ImagesService/Delete': 'image_delete', // upstream
  '/images.ImagesService/Load': 'image_load', // upstream
  '/images.ImagesService/Inspect': 'image_inspect', // upstream
  '/images.ImagesService/Login': 'login', // upstream
  '/images.ImagesService/Logout': 'logout', // upstream
  '/images.ImagesService/Tag': 'image_tag', // upstream
  '/images.ImagesService/Import': 'image_import', // upstream
  '/images.ImagesService/Search': 'image_search', // ours
  '/images.ImagesService/PullImage': 'pull', // ours, after isulad-notes §1.6 ("pull")

  // volume.VolumeService
  '/volume.VolumeService/List': 'volume_list', // upstream
  '/volume.VolumeService/Remove': 'volume_remove', // ours
  '/volume.VolumeService/Prune': 'volume_prune', // ours

  // network.NetworkService
  '/network.NetworkService/Create': 'network_create', // upstream
  '/network.NetworkService/Inspect': 'network_inspect', // ours
  '/network.NetworkService/List': 'network_list', // ours
  '/network.NetworkService/Remove': 'network_remove', // ours
};

const snake = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();

/**
 * The action for a gRPC path. A path missing from {@link RPC_ACTIONS} (a service added later, CRI)
 * is still checked, under `<service without "Service">_<method>` in snake case:
 * `/runtime.v1.RuntimeService/RunPodSandbox` → `runtime_run_pod_sandbox`.
 */
export function actionFor(path: string): string {
  const known = RPC_ACTIONS[path];
  if (known !== undefined) return known;
  const m = /^\/(?:.*\.)?([^./]+)\/([^/]+)$/.exec(path);
  if (!m) return 'unknown';
  const service = m[1]!.replace(/Service$/, '') || m[1]!;
  return `${snake(service)}_${snake(m[2]!)}`;
}
