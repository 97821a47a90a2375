import { randomBytes } from 'node:crypto';
import { ContainerError } from './errors';
import type { ContainerRecord } from './types';

/** Upstream's container name rule. */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A fresh 64-hex id; never all digits (it could then be read as a number by tools), as Docker does. */
export function newContainerId(taken: (id: string) => boolean): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (/^[0-9]+$/.test(id.slice(0, 12)) || taken(id)) continue;
    return id;
  }
}

export function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) throw new ContainerError(`Invalid container name (${name}), only ${NAME_PATTERN.source} are allowed.`);
}

/**
 * Finds a container as upstream does: full id, then name, then a unique id prefix. A leading `/`
 * on the name is accepted (Docker habit).
 */
export function lookup(all: Iterable<ContainerRecord>, ref: string): ContainerRecord {
  const list = [...all];
  if (ref === '') throw new ContainerError('No such container: ');
  const name = ref.startsWith('/') ? ref.slice(1) : ref;
  const exact = list.find((c) => c.id === ref) ?? list.find((c) => c.name === name);
  if (exact) return exact;
  if (/^[a-f0-9]+$/.test(ref)) {
    const hits = list.filter((c) => c.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new ContainerError(`Multiple IDs found with provided prefix: ${ref}`);
  }
  throw new ContainerError(`No such container:${ref}`);
}
