import type { DaemonConstants } from '../config';
import { displayName, parseReference } from './reference';
import type { ImageStore } from './store';

/**
 * The stored form of a name the user typed: `busybox` → `busybox:latest`,
 * `docker.io/library/busybox:1` → `busybox:1`, `127.0.0.1:5000/x@sha256:…` kept as a digest name.
 */
export function normalizeName(name: string, constants: DaemonConstants): string {
  return displayName(parseReference(name, constants), constants);
}

/**
 * Finds an image the way Docker and iSulad do: full id (with or without `sha256:`), then a name or
 * digest name, then a unique id prefix. Undefined when nothing (or more than one prefix) matches.
 */
export function findImage(store: ImageStore, ref: string, constants: DaemonConstants): string | undefined {
  const bare = ref.startsWith('sha256:') ? ref.slice('sha256:'.length) : ref;
  if (/^[0-9a-f]{64}$/.test(bare) && store.get(bare)) return bare;
  let normalized: string | undefined;
  try {
    normalized = normalizeName(ref, constants);
  } catch {
    normalized = undefined;
  }
  if (normalized !== undefined) {
    const byName = store.byName(normalized);
    if (byName) return byName;
  }
  if (/^[0-9a-f]{3,63}$/.test(bare)) {
    const hits = store.byIdPrefix(bare);
    if (hits.length === 1) return hits[0];
  }
  return undefined;
}
