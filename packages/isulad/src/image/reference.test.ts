import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DAEMON_CONSTANTS,
  displayName,
  fullName,
  InvalidReferenceError,
  parseMirror,
  parseReference,
  plainHttpMirrors,
  registries,
  registryEndpoint,
  withDefaultTag,
  withMirrors,
} from './reference';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  const table: Array<[string, { registry: string; repository: string; tag?: string; digest?: string; qualified: boolean }, string]> = [
    ['busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', qualified: false }, 'busybox:latest'],
    ['busybox:1.36', { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', qualified: false }, 'busybox:1.36'],
    ['library/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', qualified: false }, 'busybox:latest'],
    ['docker.io/library/busybox:latest', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', qualified: true }, 'busybox:latest'],
    ['docker.io/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', qualified: true }, 'busybox:latest'],
    ['index.docker.io/busybox', { registry: 'docker.io', repository: 'library/busybox', tag: 'latest', qualified: true }, 'busybox:latest'],
    ['isulad/hello-world', { registry: 'docker.io', repository: 'isulad/hello-world', tag: 'latest', qualified: false }, 'isulad/hello-world:latest'],
    ['docker.io/library/a/b:1', { registry: 'docker.io', repository: 'library/a/b', tag: '1', qualified: true }, 'library/a/b:1'],
    [
      '127.0.0.1:5000/ns/img:tag',
      { registry: '127.0.0.1:5000', repository: 'ns/img', tag: 'tag', qualified: true },
      '127.0.0.1:5000/ns/img:tag',
    ],
    ['127.0.0.1:5000/busybox', { registry: '127.0.0.1:5000', repository: 'busybox', tag: 'latest', qualified: true }, '127.0.0.1:5000/busybox:latest'],
    ['localhost/img', { registry: 'localhost', repository: 'img', tag: 'latest', qualified: true }, 'localhost/img:latest'],
    ['localhost:5000/a/b/c', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'latest', qualified: true }, 'localhost:5000/a/b/c:latest'],
    [`host:5000/img@${D}`, { registry: 'host:5000', repository: 'img', digest: D, qualified: true }, `host:5000/img@${D}`],
    [`busybox:1.36@${D}`, { registry: 'docker.io', repository: 'library/busybox', tag: '1.36', digest: D, qualified: false }, `busybox:1.36@${D}`],
    ['hub.oepkgs.net/openeuler/openeuler:21.03', { registry: 'hub.oepkgs.net', repository: 'openeuler/openeuler', tag: '21.03', qualified: true }, 'hub.oepkgs.net/openeuler/openeuler:21.03'],
    ['Registry/img', { registry: 'Registry', repository: 'img', tag: 'latest', qualified: true }, 'Registry/img:latest'],
    ['a__b/c.d-e--f:T_1.x-y', { registry: 'docker.io', repository: 'a__b/c.d-e--f', tag: 'T_1.x-y', qualified: false }, 'a__b/c.d-e--f:T_1.x-y'],
    ['[::1]:5000/img', { registry: '[::1]:5000', repository: 'img', tag: 'latest', qualified: true }, '[::1]:5000/img:latest'],
  ];
  for (const [input, want, shown] of table) {
    it(`${input} → ${shown}`, () => {
      const ref = parseReference(input);
      expect(ref).toEqual(want);
      expect(displayName(ref)).toBe(shown);
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty reference/],
    ['Busybox', /repository name must be lowercase: "Busybox"/],
    ['library/BusyBox:1', /repository name must be lowercase/],
    ['busybox:', /invalid tag ""/],
    ['busybox:bad tag', /invalid reference format: "busybox:bad tag"/],
    [`busybox:${'x'.repeat(129)}`, /invalid tag/],
    ['busybox@sha256:abc', /invalid digest format/],
    [`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
    [`busybox@sha256:${'A'.repeat(64)}`, /invalid sha256 digest/],
    ['a'.repeat(64).replace(/a/g, 'f'), /cannot specify 64-byte hexadecimal strings/],
    ['-busybox', /invalid repository name component "-busybox"/],
    ['busy..box', /invalid repository name component/],
    ['host:5000/', /missing repository name/],
    ['host:99999/img', /invalid port/],
    ['ho_st.com/img', /invalid registry "ho_st.com"/],
    ['a//b', /invalid repository name component ""/],
    [`x/${'a'.repeat(260)}`, /must not be more than 255 characters/],
  ];
  for (const [input, re] of bad) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidReferenceError);
      expect((err as Error).message).toMatch(/^invalid reference format/);
      expect((err as Error).message).toMatch(re);
      if (input.length > 0) expect((err as Error).message).toContain(JSON.stringify(input));
    });
  }

  it('can leave the tag out', () => {
    expect(parseReference('busybox', undefined, { defaultTag: false })).toEqual({ registry: 'docker.io', repository: 'library/busybox', qualified: false });
    expect(withDefaultTag({ registry: 'r', repository: 'x' }).tag).toBe('latest');
    expect(withDefaultTag({ registry: 'r', repository: 'x', digest: D }).tag).toBeUndefined();
  });

  it('uses the configured default host', () => {
    const c = { defaultHost: 'hub.example.com' };
    const ref = parseReference('busybox', c);
    expect(ref).toMatchObject({ registry: 'hub.example.com', repository: 'library/busybox' });
    expect(displayName(ref, c)).toBe('busybox:latest');
    expect(displayName(parseReference('docker.io/library/busybox', c), c)).toBe('docker.io/library/busybox:latest');
    expect(fullName(ref)).toBe('hub.example.com/library/busybox:latest');
  });
});

describe('registryEndpoint', () => {
  it('applies registry-transformation', () => {
    expect(registryEndpoint('docker.io', DEFAULT_DAEMON_CONSTANTS)).toBe('registry-1.docker.io');
    expect(registryEndpoint('index.docker.io', DEFAULT_DAEMON_CONSTANTS)).toBe('registry-1.docker.io');
    expect(registryEndpoint('127.0.0.1:5000', DEFAULT_DAEMON_CONSTANTS)).toBe('127.0.0.1:5000');
    expect(registryEndpoint('a.example', { registryTransformation: { 'a.example': 'b.example:443' } })).toBe('b.example:443');
  });
});

describe('withMirrors', () => {
  const mirrors = ['https://mirror.one/', 'http://10.0.0.5:5000', 'docker.io'];
  it('puts mirrors first for unqualified names, then the default host', () => {
    const refs = withMirrors(parseReference('busybox'), mirrors);
    expect(registries(refs)).toEqual(['mirror.one', '10.0.0.5:5000', 'docker.io']);
    expect(refs.every((r) => r.repository === 'library/busybox' && r.tag === 'latest')).toBe(true);
    expect(registries(withMirrors(parseReference('ns/img:1'), []))).toEqual(['docker.io']);
  });
  it('never mirrors qualified names', () => {
    expect(registries(withMirrors(parseReference('docker.io/library/busybox'), mirrors))).toEqual(['docker.io']);
    expect(registries(withMirrors(parseReference('127.0.0.1:5000/busybox'), mirrors))).toEqual(['127.0.0.1:5000']);
    expect(registries(withMirrors({ registry: 'docker.io', repository: 'library/x' }, mirrors))).toEqual(['docker.io']);
  });
  it('reads mirror entries', () => {
    expect(parseMirror('http://10.0.0.5:5000/')).toEqual({ host: '10.0.0.5:5000', plainHttp: true });
    expect(parseMirror('https://m.example')).toEqual({ host: 'm.example', plainHttp: false });
    expect(plainHttpMirrors(mirrors)).toEqual(['10.0.0.5:5000']);
  });
});
