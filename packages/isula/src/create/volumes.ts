import * as path from 'node:path';
import type { MountSpec } from '@isula/protocol';
import { invalidArg } from './errors';
import { parseByteSize } from './units';

const RW_MODES = new Set(['rw', 'ro']);
const PROPAGATION_MODES = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);

/** `util_valid_mount_mode`: comma list with at most one of each class (rw/ro, propagation, z/Z, nocopy). */
export function isValidMountMode(mode: string): boolean {
  const counts = [0, 0, 0, 0];
  const parts = mode.split(',').filter((p) => p !== '');
  if (parts.length === 0) return false;
  for (const m of parts) {
    if (RW_MODES.has(m)) counts[0]!++;
    else if (PROPAGATION_MODES.has(m)) counts[1]!++;
    else if (LABEL_MODES.has(m)) counts[2]!++;
    else if (COPY_MODES.has(m)) counts[3]!++;
    else return false;
  }
  return counts.every((c) => c <= 1);
}

/**
 * Validate one `-v/--volume` spec (`[src:]dst[:mode]`, anonymous `dst` allowed) with upstream's
 * texts. The spec itself goes to `HostConfig.Binds` unchanged.
 */
export function validateVolumeSpec(volume: string): void {
  if (volume === '') return invalidArg("Volume can't be empty");
  if (volume.startsWith(':') || volume.endsWith(':')) {
    return invalidArg("Delimiter ':' can't be the first or the last character");
  }
  const parts = volume.split(':').filter((p) => p !== '');
  switch (parts.length) {
    case 1:
      return; // anonymous volume
    case 2:
      if (isValidMountMode(parts[1]!)) {
        return invalidArg(`Invalid volume specification '${volume}',Invalid mode:${parts[1]}`);
      }
      break;
    case 3:
      if (!isValidMountMode(parts[2]!)) {
        return invalidArg(`Invalid volume specification '${volume}'.Invalid mode:${parts[2]}`);
      }
      break;
    default:
      return invalidArg(`Invalid volume specification '${volume}'`);
  }
  const dst = parts[1]!;
  if (!dst.startsWith('/') || dst === '/') {
    return invalidArg("Invalid volume: path must be absolute, and destination can't be '/'");
  }
}

/** Upstream VALID_VOLUME_NAME. */
export const VALID_VOLUME_NAME = '[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}';
const VOLUME_NAME_RE = new RegExp(`^${VALID_VOLUME_NAME}$`);

const TRUE_WORDS = new Set(['1', 'true']);
const FALSE_WORDS = new Set(['0', 'false']);

function cleanPath(p: string): string {
  const c = path.posix.normalize(p);
  return c.length > 1 && c.endsWith('/') ? c.slice(0, -1) : c;
}

/**
 * Parse one `--mount` spec (`type=bind|volume|tmpfs,src=,dst=,ro,...`) into a {@link MountSpec}.
 * Keys: type; src|source; dst|destination|target; ro|readonly[=bool]; bind-propagation;
 * bind-selinux-opts|selinux-opts; volume-nocopy[=bool]; tmpfs-size; tmpfs-mode. Default type `volume`.
 */
export function parseMountSpec(spec: string): MountSpec {
  const bad = (why: string): never => invalidArg(`Invalid mount specification '${spec}'.${why}`);
  if (spec === '') return invalidArg("Invalid mount specification: can't be empty");
  const m: MountSpec = {};
  for (const item of spec.split(',').filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    switch (key) {
      case 'type':
        if (m.Type !== undefined) bad('More than one type found');
        if (value !== 'bind' && value !== 'volume' && value !== 'tmpfs' && value !== 'squashfs') {
          bad('Type must be one of squashfs/bind/volume/tmpfs');
        }
        m.Type = value;
        break;
      case 'src':
      case 'source':
        if (value === undefined) break;
        if (m.Source !== undefined) bad('More than one source found');
        m.Source = value.startsWith('/') ? cleanPath(value) : value;
        break;
      case 'dst':
      case 'destination':
      case 'target':
        if (value === undefined) break;
        if (m.Target !== undefined) bad('More than one destination found');
        if (!value.startsWith('/')) bad('Destination must be absolute path');
        m.Target = cleanPath(value);
        if (m.Target === '/') bad("Destination can't be '/'");
        break;
      case 'ro':
      case 'readonly':
        if (value === undefined || TRUE_WORDS.has(value)) m.Readonly = true;
        else if (FALSE_WORDS.has(value)) m.Readonly = false;
        else bad(`Invalid readonly mode:${value}`);
        break;
      case 'bind-propagation':
        if (value === undefined) break;
        if (m.BindOptions?.Propagation !== undefined) bad('More than one bind-propagation found');
        if (!PROPAGATION_MODES.has(value)) bad(`Invalid propagation mode:${value}`);
        m.BindOptions = { ...m.BindOptions, Propagation: value };
        break;
      case 'bind-selinux-opts':
      case 'selinux-opts':
        if (value === undefined) break;
        if (m.BindOptions?.['selinux-opts'] !== undefined) bad('More than one bind-selinux-opts found');
        if (!LABEL_MODES.has(value)) bad(`Invalid bind selinux opts:${value}`);
        m.BindOptions = { ...m.BindOptions, 'selinux-opts': value };
        break;
      case 'volume-nocopy':
        if (value === undefined) break;
        if (m.VolumeOptions !== undefined) bad('More than one volume-nocopy found');
        if (!TRUE_WORDS.has(value) && !FALSE_WORDS.has(value)) bad(`Invalid volume nocopy:${value}`);
        m.VolumeOptions = { NoCopy: TRUE_WORDS.has(value) };
        break;
      case 'tmpfs-size': {
        const r = value === undefined ? undefined : parseByteSize(value);
        if (r === undefined || !r.ok) return bad(`Invalid tmpfs size:${value ?? ''}`);
        m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: r.value };
        break;
      }
      case 'tmpfs-mode': {
        if (value === undefined || !/^[0-7]+$/.test(value)) return bad(`Invalid tmpfs mode:${value ?? ''}`);
        m.TmpfsOptions = { ...m.TmpfsOptions, Mode: parseInt(value, 8) };
        break;
      }
      default:
        bad(`Unsupported item:${key}`);
    }
  }
  m.Type ??= 'volume';
  if (m.Type === 'bind' || m.Type === 'squashfs') {
    if (m.Source === undefined) bad('Missing source');
    if (!m.Source!.startsWith('/')) invalidArg(`source ${m.Source} should be absolute path for type ${m.Type}`);
  }
  if (m.Type === 'volume' && m.Source !== undefined && !VOLUME_NAME_RE.test(m.Source)) {
    invalidArg(`Invalid volume name ${m.Source}, only "${VALID_VOLUME_NAME}" are allowed`);
  }
  if (m.Target === undefined) bad('Missing destination');
  if (m.Type === 'volume') {
    if (m.BindOptions?.Propagation !== undefined) bad(`Propagation must not be specified for type ${m.Type}`);
    if (m.Source === undefined && m.Readonly !== undefined) {
      bad('Readonly mode must not be specified for anonymous volume');
    }
  }
  if (m.Type === 'bind' && m.VolumeOptions !== undefined) bad(`nocopy must not be specified for type ${m.Type}`);
  if (m.Type !== 'tmpfs' && m.TmpfsOptions !== undefined) bad(`tmpfs options must not be specified for type ${m.Type}`);
  return m;
}

/**
 * `--tmpfs <path>[:<options>]` entries → `HostConfig.Tmpfs` (container path → mount options, "" for
 * defaults). Throws for a non-absolute path.
 */
export function parseTmpfs(entries: readonly string[]): Record<string, string> | undefined {
  if (entries.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const colon = e.indexOf(':');
    const dst = colon < 0 ? e : e.slice(0, colon);
    const opts = colon < 0 ? '' : e.slice(colon + 1);
    if (!dst.startsWith('/') || cleanPath(dst) === '/') {
      return invalidArg(`Invalid value "${e}" for flag --tmpfs: path must be absolute, and destination can't be '/'`);
    }
    out[cleanPath(dst)] = opts;
  }
  return out;
}
