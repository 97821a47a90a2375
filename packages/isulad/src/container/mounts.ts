import { stat } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import type { HostConfig } from '@isula/protocol';
import { ErrorCode } from '@isula/protocol';
import { ContainerError } from './errors';

/** One mount for the OCI spec. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** A volume the container needs: named (created if absent) or anonymous (name chosen by isulad). */
export interface VolumeNeed {
  name?: string;
  destination: string;
  readonly: boolean;
  /** Copy the image's content at `destination` into a new volume (Docker semantics). */
  copyUp: boolean;
}

export interface MountPlan {
  binds: OciMount[];
  volumes: VolumeNeed[];
  tmpfs: OciMount[];
}

const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

function checkDestination(dst: string): string {
  if (!isAbsolute(dst)) throw new ContainerError(`Invalid volume destination path ${dst}, it must be absolute`, ErrorCode.INPUT);
  const n = normalize(dst);
  if (n === '/') throw new ContainerError('Invalid volume destination: / can not be a mount destination', ErrorCode.INPUT);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Parses `-v` specs and `--mount`/`--tmpfs` entries, plus the image's declared volumes. */
export async function planMounts(host: HostConfig, imageVolumes: string[]): Promise<MountPlan> {
  const plan: MountPlan = { binds: [], volumes: [], tmpfs: [] };
  const taken = new Set<string>();
  const claim = (dst: string) => {
    if (taken.has(dst)) throw new ContainerError(`Duplicate mount point: ${dst}`, ErrorCode.INPUT);
    taken.add(dst);
  };
  for (const spec of host.Binds ?? []) {
    const parts = spec.split(':');
    if (parts.length === 1) {
      const dst = checkDestination(parts[0]!);
      claim(dst);
      plan.volumes.push({ destination: dst, readonly: false, copyUp: true });
      continue;
    }
    if (parts.length > 3) throw new ContainerError(`Invalid volume specification '${spec}'`, ErrorCode.INPUT);
    const [src, rawDst, mode = ''] = parts as [string, string, string?];
    const dst = checkDestination(rawDst);
    const opts = mode === '' ? [] : mode.split(',');
    let ro = false;
    let propagation = 'rprivate';
    let nocopy = false;
    for (const o of opts) {
      if (o === 'ro') ro = true;
      else if (o === 'rw') ro = false;
      else if (PROPAGATION.has(o)) propagation = o;
      else if (o === 'nocopy') nocopy = true;
      else if (o === 'z' || o === 'Z') continue; // SELinux relabel: no SELinux on this host
      else throw new ContainerError(`Invalid volume specification '${spec}': unknown option ${o}`, ErrorCode.INPUT);
    }
    claim(dst);
    if (isAbsolute(src)) {
      await stat(src).catch(() => {
        throw new ContainerError(`Invalid volume specification '${spec}': bind source path ${src} does not exist`, ErrorCode.INPUT);
      });
      plan.binds.push({ destination: dst, type: 'bind', source: normalize(src), options: ['rbind', propagation, ro ? 'ro' : 'rw'] });
    } else {
      plan.volumes.push({ name: src, destination: dst, readonly: ro, copyUp: !nocopy });
    }
  }
  for (const m of host.Mounts ?? []) {
    const dst = checkDestination(m.Target ?? '');
    claim(dst);
    const ro = m.Readonly === true;
    switch (m.Type) {
      case 'bind': {
        const src = m.Source ?? '';
        if (!isAbsolute(src)) throw new ContainerError(`Invalid mount config: bind source must be an absolute path, got ${src}`, ErrorCode.INPUT);
        await stat(src).catch(() => {
          throw new ContainerError(`Invalid mount config: bind source path does not exist: ${src}`, ErrorCode.INPUT);
        });
        const propagation = m.BindOptions?.Propagation ?? 'rprivate';
        plan.binds.push({ destination: dst, type: 'bind', source: normalize(src), options: ['rbind', propagation, ro ? 'ro' : 'rw'] });
        break;
      }
      case 'volume':
        plan.volumes.push({ name: m.Source || undefined, destination: dst, readonly: ro, copyUp: m.VolumeOptions?.NoCopy !== true });
        break;
      case 'tmpfs': {
        const opts = ['nosuid', 'nodev', 'noexec'];
        if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
        if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
        if (ro) opts.push('ro');
        plan.tmpfs.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: opts });
        break;
      }
      default:
        throw new ContainerError(`Invalid mount config: unknown mount type ${m.Type ?? ''}`, ErrorCode.INPUT);
    }
  }
  for (const [path, opts] of Object.entries(host.Tmpfs ?? {})) {
    const dst = checkDestination(path);
    claim(dst);
    const extra = opts === '' ? [] : opts.split(',');
    plan.tmpfs.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...extra] });
  }
  for (const v of imageVolumes) {
    const dst = checkDestination(v);
    if (taken.has(dst)) continue; // the user mounted something there
    taken.add(dst);
    plan.volumes.push({ destination: dst, readonly: false, copyUp: true });
  }
  return plan;
}
