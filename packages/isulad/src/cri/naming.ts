/**
 * Container names of CRI objects, as dockershim and upstream iSulad build them:
 *   sandbox    k8s_POD_<pod name>_<pod namespace>_<pod uid>_<sandbox attempt>
 *   container  k8s_<container name>_<pod name>_<pod namespace>_<pod uid>_<container attempt>
 * A second RunPodSandbox/CreateContainer with the same metadata is refused as a name conflict, as
 * CRI wants. Characters isulad's names do not allow (`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) become `-`.
 */
const PREFIX = 'k8s';
const SANDBOX_TAG = 'POD';

function clean(part: string): string {
  return part.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

export interface PodMeta {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

export function sandboxName(m: PodMeta): string {
  return [PREFIX, SANDBOX_TAG, m.name, m.namespace, m.uid, String(m.attempt)].map(clean).join('_');
}

export function containerName(c: { name: string; attempt: number }, pod: PodMeta): string {
  return [PREFIX, c.name, pod.name, pod.namespace, pod.uid, String(c.attempt)].map(clean).join('_');
}
