import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { ConfigError } from './types';

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}
export interface OciHooks {
  prestart?: OciHook[];
  createRuntime?: OciHook[];
  createContainer?: OciHook[];
  startContainer?: OciHook[];
  poststart?: OciHook[];
  poststop?: OciHook[];
}

const STAGES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

/**
 * Loads the daemon-wide `hook-spec` (OCI hooks JSON applied to every container) with upstream's
 * checks: absolute path, a regular file, valid hooks (absolute hook paths, positive timeouts).
 */
export async function loadHookSpec(file: string): Promise<OciHooks> {
  if (!isAbsolute(file)) throw new ConfigError(`Hook path "${file}" must be an absolute path`);
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new ConfigError(`Stat hook spec file failed: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new ConfigError('Hook spec file must be a regular text file');
  const invalid = (why: string) => new ConfigError(`Invalid hook-spec file(${file}) in server conf: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const hooks = doc as Record<string, unknown>;
  for (const [stage, list] of Object.entries(hooks)) {
    if (!(STAGES as readonly string[]).includes(stage)) throw invalid(`unknown hook stage "${stage}"`);
    if (!Array.isArray(list)) throw invalid(`"${stage}" must be an array`);
    for (const h of list as unknown[]) {
      const hook = h as Partial<OciHook> | null;
      if (typeof hook !== 'object' || hook === null || typeof hook.path !== 'string') throw invalid(`a ${stage} hook has no path`);
      if (!isAbsolute(hook.path)) throw invalid(`hook path "${hook.path}" must be absolute`);
      if (hook.timeout !== undefined && (!Number.isInteger(hook.timeout) || hook.timeout <= 0)) {
        throw invalid(`hook timeout of "${hook.path}" must be a positive integer`);
      }
      for (const key of ['args', 'env'] as const) {
        const v = hook[key];
        if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) throw invalid(`"${key}" of "${hook.path}" must be an array of strings`);
      }
    }
  }
  return hooks as OciHooks;
}
