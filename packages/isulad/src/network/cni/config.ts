/**
 * Network configuration discovery and parsing, as libcni (`ConfFiles`, `ConfFromBytes`,
 * `ConfListFromBytes`, `ConfListFromConf`) and containerd's go-cni (`loadFromConfDir`) do it:
 * the files of the conf dir ending in .conf, .conflist or .json, sorted by name, the first one wins;
 * a .conf/.json holds one plugin and is wrapped into a list of one, a .conflist holds a list.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { CniError } from './errors';
import type { NetworkConfigList, PluginConf } from './types';

export const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];

/** `cni-bin-dir` may name several directories separated by ':' (',' is accepted too). Empty parts are dropped. */
export function parseBinDirs(value: string): string[] {
  return value
    .split(/[:,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Files of `dir` a network configuration may come from, sorted by name (byte order, as Go's sort.Strings). */
export async function confFiles(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return [];
    throw new CniError(`failed to read CNI config directory ${dir}: ${err.message}`);
  }
  return entries
    .filter((d) => !d.isDirectory() && CONF_EXTENSIONS.includes(path.extname(d.name)))
    .map((d) => d.name)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((n) => path.join(dir, n));
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Compares two CNI versions ("" means 0.1.0, as the spec's decoders treat a missing cniVersion). */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function parseVersion(v: string): [number, number, number] {
  if (v === '') return [0, 1, 0];
  const m = SEMVER.exec(v);
  if (!m) throw new CniError(`invalid CNI version ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export const versionAtLeast = (v: string, min: string) => compareVersions(v, min) >= 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkVersion(v: unknown, file: string): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new CniError(`invalid CNI config ${file}: cniVersion must be a string, not ${JSON.stringify(v)}`);
  if (v !== '' && !SEMVER.test(v)) throw new CniError(`invalid CNI config ${file}: invalid cniVersion ${JSON.stringify(v)}`);
  return v;
}

function checkPlugin(p: unknown, file: string, index: number): PluginConf {
  const where = index < 0 ? file : `${file} (plugin ${index})`;
  if (!isObject(p)) throw new CniError(`invalid CNI config ${where}: a plugin configuration must be a JSON object`);
  if (typeof p.type !== 'string' || p.type === '') throw new CniError(`invalid CNI config ${where}: missing 'type'`);
  if (p.type.includes('/') || p.type === '.' || p.type === '..') {
    throw new CniError(`invalid CNI config ${where}: invalid plugin type ${JSON.stringify(p.type)}`);
  }
  return p as PluginConf;
}

/** Parses the bytes of one file into a list (libcni ConfListFromBytes / ConfFromBytes + ConfListFromConf). */
export function parseNetworkConfig(bytes: Buffer | string, file: string, asList = false): NetworkConfigList {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString());
  } catch (e) {
    throw new CniError(`invalid CNI config ${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new CniError(`invalid CNI config ${file}: the configuration must be a JSON object`);
  // A .conflist always holds a list; a .conf/.json holding "plugins" is taken as a list too (common mistake,
  // containerd rejects it with "network type not found"; accepting it is harmless).
  const isList = asList || path.extname(file) === '.conflist' || (raw.type === undefined && Array.isArray(raw.plugins));
  let list: Record<string, unknown>;
  if (isList) {
    if (raw.plugins === undefined) throw new CniError(`invalid CNI config ${file}: no 'plugins' key`);
    if (!Array.isArray(raw.plugins)) throw new CniError(`invalid CNI config ${file}: 'plugins' must be an array`);
    if (raw.plugins.length === 0) throw new CniError(`invalid CNI config ${file}: no plugins in list`);
    list = raw;
  } else {
    checkPlugin(raw, file, -1);
    list = { cniVersion: raw.cniVersion, name: raw.name, plugins: [raw] };
    if (list.cniVersion === undefined) delete list.cniVersion;
  }
  if (typeof list.name !== 'string' || list.name === '') throw new CniError(`invalid CNI config ${file}: no network name`);
  if (list.name.includes('/')) throw new CniError(`invalid CNI config ${file}: invalid network name ${JSON.stringify(list.name)}`);
  const cniVersion = checkVersion(list.cniVersion, file);
  const plugins = (list.plugins as unknown[]).map((p, i) => checkPlugin(p, file, isList ? i : -1));
  let disableCheck = false;
  const dc = list.disableCheck;
  if (dc !== undefined) {
    if (typeof dc === 'boolean') disableCheck = dc;
    else if (typeof dc === 'string' && /^(true|false)$/i.test(dc)) disableCheck = dc.toLowerCase() === 'true';
    else throw new CniError(`invalid CNI config ${file}: invalid disableCheck value ${JSON.stringify(dc)}`);
  }
  return { name: list.name, cniVersion, disableCheck, plugins, raw: list, file };
}

/** Re-creates a list from the JSON stored in the cache (already validated once). */
export function listFromRaw(raw: Record<string, unknown>, file: string): NetworkConfigList {
  return parseNetworkConfig(JSON.stringify(raw), file, true);
}

/**
 * Loads the network configuration in use: the first file of `confDir` by name. Throws a `CniError`
 * naming the directory when there is none, or naming the file when it is invalid.
 */
export async function loadNetworkConfig(confDir: string): Promise<NetworkConfigList> {
  const files = await confFiles(confDir);
  if (files.length === 0) {
    throw new CniError(`no network config found in ${confDir} (looked for *.conf, *.conflist, *.json)`);
  }
  const file = files[0];
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (e) {
    throw new CniError(`failed to read CNI config ${file}: ${(e as Error).message}`);
  }
  return parseNetworkConfig(bytes, file);
}
