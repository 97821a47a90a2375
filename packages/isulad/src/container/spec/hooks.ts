import { loadHookSpec } from '../../config/hook-spec';
import { SpecError, type OciHooks } from './types';

const STAGES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

/** Reads a hook-spec JSON file (`{prestart:[], poststart:[], poststop:[]}`) with upstream's checks. */
export async function readHookSpec(path: string): Promise<OciHooks> {
  try {
    return (await loadHookSpec(path)) as OciHooks;
  } catch (err) {
    throw new SpecError((err as Error).message);
  }
}

/** Appends every stage of `add` to `base` (a new object; `base` is not changed). */
export function mergeHooks(base: OciHooks | undefined, add: OciHooks): OciHooks {
  const out: OciHooks = {};
  for (const stage of STAGES) {
    const list = [...(base?.[stage] ?? []), ...(add[stage] ?? [])];
    if (list.length > 0) out[stage] = list.map((h) => ({ ...h }));
  }
  return out;
}
