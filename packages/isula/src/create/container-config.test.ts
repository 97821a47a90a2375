import { describe, expect, it } from 'vitest';
import { parseContainerConfig, parseHostConfig } from '@isula/protocol';
import { buildCreateRequest } from './index';

describe('@isula/protocol container-config parsing', () => {
  it('round-trips what buildCreateRequest produces', () => {
    const r = buildCreateRequest({ memory: '1g', env: ['A=1'] }, ['busybox', 'true'], {});
    expect(parseHostConfig(JSON.stringify(r.hostConfig))).toEqual(r.hostConfig);
    expect(parseContainerConfig(JSON.stringify(r.config))).toEqual(r.config);
  });
  it('empty string → {}', () => {
    expect(parseHostConfig('')).toEqual({});
    expect(parseContainerConfig('  ')).toEqual({});
  });
  it('rejects non-objects and bad JSON', () => {
    expect(() => parseHostConfig('[]')).toThrow('Invalid host config JSON: expected an object, got array');
    expect(() => parseContainerConfig('null')).toThrow('Invalid container config JSON: expected an object, got null');
    expect(() => parseHostConfig('{')).toThrow(/^Invalid host config JSON: /);
  });
});
