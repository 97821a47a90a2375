import { readFile } from 'node:fs/promises';
import { applyDaemonJson, parseConstantsJson } from './daemon-json';
import { DAEMON_CONSTANTS_PATH, DAEMON_JSON_PATH, defaultConfig, defaultConstants } from './defaults';
import { applyFlags, type FlagValues } from './flags';
import type { HostAddress } from './hosts';
import { loadHookSpec, type OciHooks } from './hook-spec';
import { mergeExclusive, validateConfig } from './validate';
import { ConfigError, type DaemonConfig, type DaemonConstants } from './types';

export * from './types';
export type { OciHooks, OciHook } from './hook-spec';
export { parseHost, type HostAddress } from './hosts';
export { DAEMON_JSON_PATH, DAEMON_CONSTANTS_PATH, DEFAULT_UNIX_HOST } from './defaults';

export interface LoadedConfig {
  config: DaemonConfig;
  /** The parsed `hook-spec` file, applied to every container (empty when none is configured). */
  hooks: OciHooks;
  constants: DaemonConstants;
  listeners: HostAddress[];
  /** daemon.json keys that were not understood: logged as a warning once logging runs. */
  unknownKeys: string[];
}

export interface LoadOptions {
  flags: FlagValues;
  env?: NodeJS.ProcessEnv;
  daemonJsonPath?: string;
  constantsPath?: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * defaults → daemon.json (mandatory, as upstream) → flags → validation. Reads only; creates nothing,
 * so a bad configuration never leaves a half-started daemon behind.
 */
export async function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  const jsonPath = opts.daemonJsonPath ?? DAEMON_JSON_PATH;
  const config = defaultConfig(opts.env);
  let text: string | undefined;
  try {
    text = await readText(jsonPath);
  } catch (err) {
    throw new ConfigError(`Load isulad json config failed: ${jsonPath}: ${(err as Error).message}`);
  }
  if (text === undefined) throw new ConfigError(`Load isulad json config failed: ${jsonPath}: No such file or directory`);
  const file = applyDaemonJson(config, text, jsonPath);
  const flags = applyFlags(config, opts.flags);
  const listeners = mergeExclusive(config, flags, file);
  validateConfig(config);
  const hooks = config.hookSpec !== '' ? await loadHookSpec(config.hookSpec) : {};

  const constants = defaultConstants();
  const constantsPath = opts.constantsPath ?? DAEMON_CONSTANTS_PATH;
  const constantsText = await readText(constantsPath).catch((err: Error) => {
    throw new ConfigError(`Load isulad daemon constants failed: ${constantsPath}: ${err.message}`);
  });
  if (constantsText !== undefined) {
    const parsed = parseConstantsJson(constantsText, constantsPath);
    if (parsed.defaultHost !== undefined) constants.defaultHost = parsed.defaultHost;
    if (parsed.registryTransformation !== undefined) constants.registryTransformation = parsed.registryTransformation;
  }
  return { config, hooks, constants, listeners, unknownKeys: file.unknownKeys };
}
