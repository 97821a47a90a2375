import { posix } from 'node:path';
import type { ContainerConfig } from '@isula/protocol';
import { capabilitySets, DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities';
import {
  DEFAULT_PATH_ENV,
  DEFAULT_SECCOMP_PATH,
  DEFAULT_SHM_SIZE,
  DEFAULT_TEMPLATE_PATH,
  loadTemplate,
} from './default-spec';
import { mergeHooks, readHookSpec } from './hooks';
import { resolveLogConfig } from './log';
import { applyNamespaces, parseNamespaceMode, validateSysctls } from './namespaces';
import { buildDevices, buildResources, buildRlimits, parseDeviceCgroupRule, statDevice as defaultStatDevice } from './resources';
import { compileSeccomp, loadDefaultSeccompProfile, loadSeccompOption } from './seccomp';
import { parseSignal, SIGTERM } from './signals';
import { resolveUser } from './user';
import { SpecError, type BuildSpecInput, type ImageConfigJson, type OciMount, type OciSpec } from './types';

export const UMASK_ANNOTATION = 'native.umask';
export const UMASK_VALUES: Readonly<Record<string, number>> = { normal: 0o022, secure: 0o027 };
export const DEFAULT_CGROUP_PARENT = '/isulad';

/** `native.umask` annotation over the daemon default ('' / unset → secure); returns the name and mask. */
export function resolveUmask(annotations: Record<string, string> | undefined, daemonDefault: string | undefined): { value: string; umask: number } {
  const given = annotations?.[UMASK_ANNOTATION];
  if (given !== undefined) {
    const umask = UMASK_VALUES[given];
    if (umask === undefined) throw new SpecError(`native.umask option ${given} not supported`);
    return { value: given, umask };
  }
  const value = daemonDefault || 'secure';
  const umask = UMASK_VALUES[value];
  if (umask === undefined) throw new SpecError(`native.umask option ${value} not supported`);
  return { value, umask };
}

/** StopSignal of the container, else of the image, else SIGTERM; names with/without SIG, numbers. */
export function resolveStopSignal(config: Pick<ContainerConfig, 'StopSignal'> | undefined, imageConfig?: ImageConfigJson | null): number {
  const s = config?.StopSignal || imageConfig?.config?.StopSignal;
  return s ? parseSignal(s) : SIGTERM;
}

/** `<parent>/<id>`: container CgroupParent, else the daemon's `cgroup-parent`, else `/isulad`. */
export function cgroupsPath(id: string, containerParent: string | undefined, daemonParent: string | undefined): string {
  const parent = containerParent || daemonParent || DEFAULT_CGROUP_PARENT;
  const cleaned = posix.normalize(parent).replace(/\/+$/, '') || '/';
  return cleaned === '/' ? `/${id}` : `${cleaned}/${id}`;
}

const envKey = (e: string): string => {
  const i = e.indexOf('=');
  return i === -1 ? e : e.slice(0, i);
};

/** Later entries win by key; order of first appearance is kept. */
export function mergeEnv(...lists: (readonly string[] | null | undefined)[]): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  for (const list of lists) {
    for (const e of list ?? []) {
      const key = envKey(e);
      const at = index.get(key);
      if (at === undefined) {
        index.set(key, out.length);
        out.push(e);
      } else {
        out[at] = e;
      }
    }
  }
  return out;
}

/**
 * Entrypoint + Cmd: the container's Entrypoint overrides the image's (`[""]` = none) and then the
 * image Cmd is dropped unless the container gives a Cmd.
 */
export function resolveArgs(config: Pick<ContainerConfig, 'Entrypoint' | 'Cmd'>, image: ImageConfigJson['config']): string[] {
  const given = (a: readonly string[] | null | undefined): a is string[] => Array.isArray(a) && a.length > 0;
  let entrypoint: string[];
  let cmd: string[];
  if (given(config.Entrypoint)) {
    entrypoint = config.Entrypoint.length === 1 && config.Entrypoint[0] === '' ? [] : [...config.Entrypoint];
    cmd = given(config.Cmd) ? [...config.Cmd] : [];
  } else {
    entrypoint = given(image?.Entrypoint) ? [...image!.Entrypoint!] : [];
    cmd = given(config.Cmd) ? [...config.Cmd] : given(image?.Cmd) ? [...image!.Cmd!] : [];
  }
  return [...entrypoint, ...cmd];
}

interface SecurityOpts {
  noNewPrivileges: boolean;
  seccomp?: string;
  labels: string[];
}

/** `--security-opt`: `no-new-privileges[=bool]`, `seccomp=unconfined|<profile>`, `label=...` (ignored). */
export function parseSecurityOpts(list: readonly string[] | undefined): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, labels: [] };
  for (const opt of list ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      out.labels.push('disable');
      continue;
    }
    let sep = opt.indexOf('=');
    if (sep === -1) sep = opt.indexOf(':');
    if (sep <= 0) throw new SpecError(`invalid --security-opt: ${opt}`);
    const key = opt.slice(0, sep);
    const value = opt.slice(sep + 1);
    if (key === 'label') out.labels.push(value);
    else if (key === 'seccomp') out.seccomp = value;
    else if (key === 'no-new-privileges' && (value === 'true' || value === 'false')) out.noNewPrivileges = value === 'true';
    else throw new SpecError(`invalid --security-opt: ${opt}`);
  }
  return out;
}

function depth(p: string): number {
  return posix.normalize(p).split('/').filter((s) => s !== '').length;
}

function replaceSizeOption(options: string[] | undefined, size: number): string[] {
  const rest = (options ?? []).filter((o) => !o.startsWith('size='));
  return [...rest, `size=${size}`];
}

/**
 * Builds the OCI runtime spec (config.json) of a container: the template
 * (`/etc/default/isulad/config.json` or the built-in default) merged with the image config, the
 * container config, the host config and the daemon defaults, as upstream iSulad / Docker do.
 * Throws {@link SpecError} on invalid input.
 */
export async function buildSpec(input: BuildSpecInput): Promise<OciSpec> {
  const hc = input.hostConfig ?? {};
  const cc = input.config ?? {};
  const image = input.imageConfig?.config ?? {};
  const statDev = input.statDevice ?? defaultStatDevice;
  const spec = await loadTemplate(input.paths?.template ?? DEFAULT_TEMPLATE_PATH);
  const privileged = hc.Privileged === true;

  // ---- process
  const proc = (spec.process ??= { user: { uid: 0, gid: 0 }, cwd: '/' });
  const args = resolveArgs(cc, image);
  if (args.length > 0) proc.args = args;
  else if (!proc.args || proc.args.length === 0) throw new SpecError('No command specified');

  const utsHost = parseNamespaceMode(hc.UTSMode).kind === 'host';
  const netHost = parseNamespaceMode(hc.NetworkMode).kind === 'host';
  const hostname = cc.Hostname || (netHost && input.host?.hostname ? input.host?.hostname : '') || input.id.slice(0, 12);
  const tty = cc.Tty === true;
  proc.terminal = tty;
  proc.env = mergeEnv(
    proc.env,
    [`HOSTNAME=${hostname}`],
    tty ? ['TERM=xterm'] : [],
    image.Env,
    cc.Env,
  );
  if (!proc.env.some((e) => envKey(e) === 'PATH')) proc.env.unshift(DEFAULT_PATH_ENV);

  const wd = cc.WorkingDir || image.WorkingDir || proc.cwd || '/';
  proc.cwd = posix.normalize(posix.join('/', wd));

  const user = await resolveUser(input.rootfs, cc.User || image.User || '', hc.GroupAdd ?? []);
  const umask = resolveUmask(cc.Annotations ?? undefined, input.daemon.nativeUmask);
  proc.user = { uid: user.uid, gid: user.gid, umask: umask.umask };
  if (user.additionalGids.length > 0) proc.user.additionalGids = user.additionalGids;

  // capabilities
  const templateCaps = proc.capabilities?.bounding ?? [...DEFAULT_CAPABILITIES];
  const caps = tweakCapabilities(templateCaps, hc.CapAdd ?? [], hc.CapDrop ?? [], privileged, input.host?.capabilities);
  proc.capabilities = capabilitySets(caps);

  const sec = parseSecurityOpts(hc.SecurityOpt);
  if (sec.noNewPrivileges) proc.noNewPrivileges = true;

  const rlimits = buildRlimits(hc.Ulimits, input.daemon.defaultUlimits, input.hostLimits);
  const existing = (proc.rlimits ?? []).filter((r) => !rlimits.some((n) => n.type === r.type));
  const allRlimits = [
    ...existing.map((r) => {
      const name = r.type.replace(/^RLIMIT_/, '').toLowerCase();
      const max = input.hostLimits[name];
      if (typeof max !== 'number') return r;
      const hard = Math.min(r.hard, max);
      return { type: r.type, hard, soft: Math.min(r.soft, hard) };
    }),
    ...rlimits,
  ];
  if (allRlimits.length > 0) proc.rlimits = allRlimits;
  else delete proc.rlimits;

  if (hc.OomScoreAdj !== undefined && hc.OomScoreAdj !== 0) {
    if (!Number.isInteger(hc.OomScoreAdj) || hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000) {
      throw new SpecError(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
    }
    proc.oomScoreAdj = hc.OomScoreAdj;
  }

  // ---- root, hostname
  spec.root = { path: input.rootfs, readonly: hc.ReadonlyRootfs === true };
  if (utsHost) delete spec.hostname;
  else spec.hostname = hostname;

  // ---- mounts
  const userMounts: OciMount[] = [];
  const writableSys = !hc.ReadonlyRootfs;
  const sysFile = (source: string | undefined, destination: string) => {
    if (!source) return;
    userMounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', writableSys ? 'rw' : 'ro'] });
  };
  sysFile(input.hostnamePath, '/etc/hostname');
  sysFile(input.hostsPath, '/etc/hosts');
  sysFile(input.resolvConfPath, '/etc/resolv.conf');
  for (const [dest, opts] of Object.entries(hc.Tmpfs ?? {})) {
    const options = opts ? opts.split(',').map((o) => o.trim()).filter((o) => o !== '') : [];
    userMounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...options] });
  }
  for (const m of input.mounts ?? []) {
    if (!m.destination.startsWith('/')) throw new SpecError(`Invalid mount destination: ${m.destination}, must be an absolute path`);
    userMounts.push({ destination: m.destination, type: m.type, source: m.source, options: [...(m.options ?? [])] });
  }
  // a later user mount on the same destination wins
  const dedup = new Map<string, OciMount>();
  for (const m of userMounts) dedup.set(posix.normalize(m.destination), m);
  const finalUser = [...dedup.values()].sort((a, b) => depth(a.destination) - depth(b.destination));
  const userDests = new Set(finalUser.map((m) => posix.normalize(m.destination)));

  const ipcMode = parseNamespaceMode(hc.IpcMode);
  let mounts = (spec.mounts ?? []).filter((m) => !userDests.has(posix.normalize(m.destination)));
  if (!userDests.has('/dev/shm')) {
    const shmSize = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : DEFAULT_SHM_SIZE;
    let shm: OciMount | undefined;
    if (ipcMode.kind === 'host') {
      shm = { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] };
    } else if (input.shmPath) {
      shm = { destination: '/dev/shm', type: 'bind', source: input.shmPath, options: ['rbind', 'rprivate'] };
    } else if (ipcMode.kind !== 'none') {
      const tmpl = mounts.find((m) => m.destination === '/dev/shm' && m.type === 'tmpfs');
      shm = {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: replaceSizeOption(tmpl?.options ?? ['nosuid', 'noexec', 'nodev', 'mode=1777'], shmSize),
      };
    }
    const at = mounts.findIndex((m) => m.destination === '/dev/shm');
    if (shm && at !== -1) mounts[at] = shm;
    else if (shm) {
      const after = mounts.findIndex((m) => m.destination === '/dev/pts');
      mounts.splice(after === -1 ? mounts.length : after + 1, 0, shm);
    } else if (at !== -1) mounts.splice(at, 1);
  }
  if (privileged) {
    mounts = mounts.map((m) =>
      m.type === 'sysfs' || m.type === 'cgroup' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro').concat('rw') } : m,
    );
  }
  spec.mounts = [...mounts, ...finalUser];

  // ---- hooks
  let hooks = spec.hooks ?? {};
  if (hc.HookSpec) hooks = mergeHooks(hooks, await readHookSpec(hc.HookSpec));
  if (input.daemon.hookSpec) hooks = mergeHooks(hooks, await readHookSpec(input.daemon.hookSpec));
  if (Object.keys(hooks).length > 0) spec.hooks = hooks;
  else delete spec.hooks;

  // ---- linux
  const linux = (spec.linux ??= {});
  const ns = await applyNamespaces(
    linux.namespaces,
    { network: hc.NetworkMode, ipc: hc.IpcMode, pid: hc.PidMode, uts: hc.UTSMode, userns: hc.UsernsMode },
    { resolvePid: input.resolvePid, userRemap: hc.UserRemap || input.daemon.usernsRemap || '' },
  );
  linux.namespaces = ns.namespaces;
  if (ns.uidMappings) linux.uidMappings = ns.uidMappings;
  if (ns.gidMappings) linux.gidMappings = ns.gidMappings;

  const sysctl = validateSysctls(hc.Sysctls, { network: hc.NetworkMode, ipc: hc.IpcMode });
  if (Object.keys(sysctl).length > 0) linux.sysctl = { ...(linux.sysctl ?? {}), ...sysctl };

  const resources = await buildResources(hc, { statDevice: statDev, swapAccounting: input.host?.swapAccounting });
  const userDevices = await buildDevices(hc.Devices, statDev);
  const cgroupRules = (hc.DeviceCgroupRules ?? []).map(parseDeviceCgroupRule);
  const templateRules = linux.resources?.devices ?? [];
  resources.devices = privileged ? [{ allow: true, access: 'rwm' }] : [...templateRules, ...userDevices.rules, ...cgroupRules];
  linux.resources = { ...(linux.resources ?? {}), ...resources };

  const devices = [...(linux.devices ?? [])];
  const addDevice = (d: (typeof devices)[number]) => {
    const at = devices.findIndex((x) => x.path === d.path);
    if (at === -1) devices.push(d);
    else devices[at] = d;
  };
  if (privileged) for (const d of input.host?.devices ?? []) addDevice({ ...d });
  for (const d of userDevices.devices) addDevice(d);
  if (devices.length > 0) linux.devices = devices;

  linux.cgroupsPath = cgroupsPath(input.id, hc.CgroupParent, input.daemon.cgroupParent);

  if (privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }

  if (privileged || sec.seccomp === 'unconfined') {
    delete linux.seccomp;
  } else {
    const profile = sec.seccomp
      ? await loadSeccompOption(sec.seccomp)
      : await loadDefaultSeccompProfile(input.paths?.seccompDefault ?? DEFAULT_SECCOMP_PATH);
    linux.seccomp = compileSeccomp(profile, { capabilities: caps, arch: input.host?.arch ?? process.arch });
  }

  // ---- annotations
  const log = resolveLogConfig(cc, hc, input.daemon.log, input.bundle, {
    id: input.id,
    name: input.name,
    imageId: input.imageId,
    imageName: input.imageName,
  });
  const annotations: Record<string, string> = { ...(spec.annotations ?? {}), ...(cc.Annotations ?? {}) };
  if (hc.NetworkMode) annotations['host.network.mode'] = hc.NetworkMode;
  annotations['cgroup.dir'] = posix.dirname(linux.cgroupsPath);
  if (hc.OomScoreAdj) annotations['proc.oom_score_adj'] = String(hc.OomScoreAdj);
  if (hc.FilesLimit) annotations['files.limit'] = String(hc.FilesLimit);
  Object.assign(annotations, log.annotations);
  annotations[UMASK_ANNOTATION] = umask.value;
  spec.annotations = annotations;

  return spec;
}
