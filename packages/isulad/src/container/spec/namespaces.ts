import { SpecError, type OciIdMapping, type OciNamespace, type OciNamespaceType, type ResolveContainerPid } from './types';

export type NamespaceMode =
  | { kind: 'private' }
  | { kind: 'host' }
  | { kind: 'none' }
  | { kind: 'container'; target: string }
  | { kind: 'path'; path: string };

/** `host` / `none` / `container:<id|name>` / `/proc/<pid>/ns/<type>` (a path) / anything else = own namespace. */
export function parseNamespaceMode(mode: string | undefined): NamespaceMode {
  const m = (mode ?? '').trim();
  if (m === 'host') return { kind: 'host' };
  if (m === 'none') return { kind: 'none' };
  if (m.startsWith('container:')) {
    const target = m.slice('container:'.length);
    if (target === '') throw new SpecError(`Invalid container name or id in mode: ${m}`);
    return { kind: 'container', target };
  }
  if (m.startsWith('/')) return { kind: 'path', path: m };
  return { kind: 'private' };
}

/** OCI namespace type → /proc/<pid>/ns/<file> name. */
const NS_FILE: Record<OciNamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
};

export interface NamespaceModes {
  network?: string;
  ipc?: string;
  pid?: string;
  uts?: string;
  userns?: string;
}

export interface NamespaceOptions {
  resolvePid?: ResolveContainerPid;
  /** User namespace remap `uid:gid:range` ('' = none). */
  userRemap?: string;
}

export interface NamespaceResult {
  namespaces: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
}

/** `uid:gid:range` → mappings of container root onto the host range. */
export function parseUserRemap(text: string): { uid: number; gid: number; size: number } {
  const parts = text.split(':');
  if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) {
    throw new SpecError(`Invalid user remap specification: ${text}, should be uid:gid:range`);
  }
  const [uid, gid, size] = parts.map(Number) as [number, number, number];
  const max = 2 ** 32 - 1;
  if (size === 0 || uid > max || gid > max || uid + size > max || gid + size > max) {
    throw new SpecError(`Invalid user remap specification: ${text}, should be uid:gid:range`);
  }
  return { uid, gid, size };
}

async function pidOf(target: string, resolvePid: ResolveContainerPid | undefined): Promise<number> {
  if (!resolvePid) throw new SpecError(`Container ${target} is not running`);
  let pid: number | undefined;
  try {
    pid = await resolvePid(target);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError((err as Error).message || `Container ${target} is not running`);
  }
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) throw new SpecError(`Container ${target} is not running`);
  return pid;
}

/**
 * Applies the namespace modes to the template's namespaces: `host` removes the namespace,
 * `none` keeps a private one (network: only lo), `container:<x>` joins `/proc/<pid>/ns/<type>` of
 * that running container, a path joins that namespace file. A user remap adds a user namespace
 * (unless `--userns=host`) with the container-root → host-range mappings; the rootfs must be
 * owned by the remapped ids for the container to work.
 */
export async function applyNamespaces(template: OciNamespace[] | undefined, modes: NamespaceModes, opts: NamespaceOptions): Promise<NamespaceResult> {
  const byType = new Map<OciNamespaceType, OciNamespace>();
  for (const ns of template ?? []) byType.set(ns.type, { ...ns });
  const order: OciNamespaceType[] = (template ?? []).map((n) => n.type);
  const ensure = (type: OciNamespaceType): OciNamespace => {
    let ns = byType.get(type);
    if (!ns) {
      ns = { type };
      byType.set(type, ns);
      order.push(type);
    }
    return ns;
  };
  const apply = async (type: OciNamespaceType, mode: string | undefined) => {
    const parsed = parseNamespaceMode(mode);
    switch (parsed.kind) {
      case 'host':
        byType.delete(type);
        return;
      case 'private':
      case 'none':
        ensure(type);
        return;
      case 'container': {
        const pid = await pidOf(parsed.target, opts.resolvePid);
        ensure(type).path = `/proc/${pid}/ns/${NS_FILE[type]}`;
        return;
      }
      case 'path':
        ensure(type).path = parsed.path;
        return;
    }
  };
  await apply('network', modes.network);
  await apply('ipc', modes.ipc);
  await apply('pid', modes.pid);
  await apply('uts', modes.uts);
  ensure('mount');

  const result: NamespaceResult = { namespaces: [] };
  const userns = parseNamespaceMode(modes.userns);
  if (userns.kind === 'host') {
    byType.delete('user');
  } else if (userns.kind === 'container' || userns.kind === 'path') {
    await apply('user', modes.userns);
  } else if (opts.userRemap) {
    const r = parseUserRemap(opts.userRemap);
    ensure('user');
    result.uidMappings = [{ containerID: 0, hostID: r.uid, size: r.size }];
    result.gidMappings = [{ containerID: 0, hostID: r.gid, size: r.size }];
  }
  result.namespaces = order.filter((t, i) => byType.has(t) && order.indexOf(t) === i).map((t) => byType.get(t)!);
  return result;
}

// ---------------------------------------------------------------------------------------------
// sysctl
// ---------------------------------------------------------------------------------------------

const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * Only namespaced sysctls are allowed (Docker's rules): IPC ones (`kernel.msg*`, `kernel.sem`,
 * `kernel.shm*`, `fs.mqueue.*`) unless the IPC namespace is the host's, and `net.*` unless the
 * network namespace is the host's.
 */
export function validateSysctls(sysctls: Record<string, string> | undefined, modes: { network?: string; ipc?: string }): Record<string, string> {
  const out: Record<string, string> = {};
  const netHost = parseNamespaceMode(modes.network).kind === 'host';
  const ipcHost = parseNamespaceMode(modes.ipc).kind === 'host';
  for (const [key, value] of Object.entries(sysctls ?? {})) {
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ipcHost) throw new SpecError(`sysctl "${key}" is not allowed in host ipc namespace`);
    } else if (key.startsWith('net.')) {
      if (netHost) throw new SpecError(`sysctl "${key}" not allowed in host network namespace`);
    } else {
      throw new SpecError(`sysctl "${key}" is not allowed`);
    }
    out[key] = String(value);
  }
  return out;
}
