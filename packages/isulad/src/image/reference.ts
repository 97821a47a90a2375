/**
 * Docker-style image references: `[registry/]path[:tag][@digest]`, with the grammar of
 * distribution's `reference` package (lower-case path components separated by `.`, `_`, `__` or
 * dashes; a registry is the first component when it holds a `.` or `:`, is `localhost`, or has
 * upper-case letters), normalised the way iSulad does (`oci_add_host`, `oci_strip_dockerio_prefix`):
 *
 * - no registry → `default-host` from daemon_constants.json (`docker.io`), and a single-component
 *   name on the default host gets `library/`;
 * - the stored/shown form strips `<default-host>/library/` or `<default-host>/` again;
 * - the host actually contacted goes through `registry-transformation`
 *   (`docker.io` → `registry-1.docker.io`);
 * - unqualified names may be pulled through `registry-mirrors`, qualified names never are.
 */
import type { DaemonConstants } from '../config/types';

export interface ImageReference {
  /** Registry host, with `:port` when one was given (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** Repository path inside the registry (`library/busybox`, `ns/img`). */
  repository: string;
  tag?: string;
  /** `algorithm:hex` (`sha256:<64 hex>`). */
  digest?: string;
  /**
   * Whether the input named a registry itself. Only unqualified references (`false`) are pulled
   * through registry mirrors. Absent on hand-built references, which count as qualified.
   */
  qualified?: boolean;
}

/** The bits of daemon_constants.json references need. */
export type ReferenceConstants = Pick<DaemonConstants, 'defaultHost'>;

export const DEFAULT_TAG = 'latest';
/** daemon_constants.json's defaults (the spec's values). */
export const DEFAULT_DAEMON_CONSTANTS: DaemonConstants = {
  defaultHost: 'docker.io',
  registryTransformation: { 'docker.io': 'registry-1.docker.io', 'index.docker.io': 'registry-1.docker.io' },
};
const LEGACY_DEFAULT_HOST = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

/** A reference that does not follow the grammar; the message names the input. */
export class InvalidReferenceError extends Error {
  constructor(
    readonly input: string,
    readonly reason?: string,
  ) {
    super(
      reason === undefined
        ? `invalid reference format: ${JSON.stringify(input)}`
        : `invalid reference format: ${reason}: ${JSON.stringify(input)}`,
    );
    this.name = 'InvalidReferenceError';
  }
}

// distribution/reference's regular expressions.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]+))?$`,
);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const ANCHORED_ID = /^[a-f0-9]{64}$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Checks `algorithm:hex`; returns the reason it is invalid, or undefined. */
export function digestProblem(digest: string): string | undefined {
  if (!DIGEST.test(digest)) return 'invalid digest format';
  const [algorithm, hex] = digest.split(':', 2) as [string, string];
  const want = DIGEST_HEX_LENGTH[algorithm];
  if (want === undefined) return `unsupported digest algorithm ${JSON.stringify(algorithm)}`;
  if (hex.length !== want || !/^[0-9a-f]+$/.test(hex)) return `invalid ${algorithm} digest`;
  return undefined;
}

export interface ParseOptions {
  /** Add `latest` when the input has neither tag nor digest (default true, as iSulad's
   * `oci_default_tag`). */
  defaultTag?: boolean;
}

/**
 * Parses a reference: registry (default host), `library/` on the default host, and `latest`
 * when neither tag nor digest is given (unless `defaultTag: false`).
 */
export function parseReference(
  input: string,
  constants: ReferenceConstants = DEFAULT_DAEMON_CONSTANTS,
  options: ParseOptions = {},
): ImageReference {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidReferenceError(String(input), 'empty reference');
  if (input !== input.trim() || /\s/.test(input)) throw new InvalidReferenceError(input);
  if (ANCHORED_ID.test(input)) {
    throw new InvalidReferenceError(input, 'cannot specify 64-byte hexadecimal strings as a repository name');
  }

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new InvalidReferenceError(input, problem);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `invalid tag ${JSON.stringify(tag)}`);
  }
  if (rest.length === 0) throw new InvalidReferenceError(input, 'missing repository name');

  let registry: string | undefined;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      path = rest.slice(slash + 1);
    }
  }

  if (registry !== undefined) {
    const m = DOMAIN.exec(registry);
    if (m === null) throw new InvalidReferenceError(input, `invalid registry ${JSON.stringify(registry)}`);
    if (m[1] !== undefined && (m[1].length > 5 || Number(m[1]) > 65535)) {
      throw new InvalidReferenceError(input, `invalid port in ${JSON.stringify(registry)}`);
    }
  }
  if (path.length === 0) throw new InvalidReferenceError(input, 'missing repository name');
  for (const component of path.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component.length > 0 && PATH_COMPONENT.test(component.toLowerCase())) {
      throw new InvalidReferenceError(input, 'repository name must be lowercase');
    }
    throw new InvalidReferenceError(input, `invalid repository name component ${JSON.stringify(component)}`);
  }

  const qualified = registry !== undefined;
  const defaultHost = constants.defaultHost;
  if (registry === undefined || (registry === LEGACY_DEFAULT_HOST && defaultHost === 'docker.io')) {
    registry = defaultHost;
  }
  if (registry === defaultHost && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  if (registry.length + 1 + path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(input, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }

  const ref: ImageReference = { registry, repository: path, qualified };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return options.defaultTag === false ? ref : withDefaultTag(ref);
}

/** Adds `:latest` when the reference has neither tag nor digest (iSulad's `oci_default_tag`). */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: DEFAULT_TAG } : ref;
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** The fully qualified form: `docker.io/library/busybox:latest`. */
export function fullName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${suffix(ref)}`;
}

/** `registry/repository` without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/**
 * The form images are stored and shown under: the default host is stripped, and so is `library/`
 * when what remains is a single component (so the result parses back to the same reference).
 * `docker.io/library/busybox:latest` → `busybox:latest`; `127.0.0.1:5000/busybox:latest` stays.
 */
export function displayName(ref: ImageReference, constants: ReferenceConstants = DEFAULT_DAEMON_CONSTANTS): string {
  return familiarRepository(ref, constants) + suffix(ref);
}

/** The repository as shown (`busybox`, `ns/img`, `127.0.0.1:5000/img`). */
export function familiarRepository(ref: ImageReference, constants: ReferenceConstants = DEFAULT_DAEMON_CONSTANTS): string {
  if (ref.registry !== constants.defaultHost) return `${ref.registry}/${ref.repository}`;
  if (ref.repository.startsWith(OFFICIAL_REPO_PREFIX)) {
    const short = ref.repository.slice(OFFICIAL_REPO_PREFIX.length);
    if (!short.includes('/')) return short;
  }
  return ref.repository;
}

/** The host actually contacted for a registry, after `registry-transformation`. */
export function registryEndpoint(registry: string, constants: Pick<DaemonConstants, 'registryTransformation'>): string {
  const mapped = constants.registryTransformation[registry];
  return typeof mapped === 'string' && mapped.length > 0 ? mapped : registry;
}

/** A `registry-mirrors` entry: the host, and whether it was written as `http://` (plain http). */
export function parseMirror(mirror: string): { host: string; plainHttp: boolean } {
  let host = mirror.trim();
  let plainHttp = false;
  if (/^http:\/\//i.test(host)) {
    plainHttp = true;
    host = host.slice('http://'.length);
  } else if (/^https:\/\//i.test(host)) {
    host = host.slice('https://'.length);
  }
  host = host.replace(/\/+$/, '');
  return { host, plainHttp };
}

/**
 * What to try, in order, for a reference: for an unqualified name (`busybox`, `ns/img`) the
 * reference on each mirror (scheme stripped; same repository, so `library/busybox`, as iSulad's
 * `oci_add_host`) and then on the default host, duplicates removed; a qualified name only as is.
 * `registries(...)` of the result is the plain list of hosts.
 */
export function withMirrors(
  ref: ImageReference,
  mirrors: readonly string[],
  constants: ReferenceConstants = DEFAULT_DAEMON_CONSTANTS,
): ImageReference[] {
  if (ref.qualified !== false) return [ref];
  const hosts: string[] = [];
  for (const m of mirrors) {
    const { host } = parseMirror(m);
    if (host.length > 0 && !hosts.includes(host)) hosts.push(host);
  }
  const own = ref.registry.length > 0 ? ref.registry : constants.defaultHost;
  if (!hosts.includes(own)) hosts.push(own);
  return hosts.map((registry) => ({ ...ref, registry }));
}

/** The registry hosts of a list of references (`withMirrors(...)` → `['mirror.example', 'docker.io']`). */
export function registries(refs: readonly ImageReference[]): string[] {
  return refs.map((r) => r.registry);
}

/** Mirrors given as `http://host`: the caller treats them as insecure registries. */
export function plainHttpMirrors(mirrors: readonly string[]): string[] {
  return mirrors.map(parseMirror).filter((m) => m.plainHttp && m.host.length > 0).map((m) => m.host);
}
