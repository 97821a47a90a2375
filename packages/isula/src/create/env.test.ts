import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addAnnotation, buildLabels, parseEnvFileContent, parseEnvList, readEnvFiles } from './env';
import { usageErrorOf } from './test-util';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isula-create-env-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('-e/--env', () => {
  const env = { HOME: '/root', EMPTY: '' };
  it('keeps K=V, takes bare K from the client env, drops unset K', () => {
    expect(parseEnvList(['A=1', 'B=', 'C=x=y', 'HOME', 'EMPTY', 'UNSET'], env)).toEqual([
      'A=1',
      'B=',
      'C=x=y',
      'HOME=/root',
      'EMPTY=',
    ]);
  });
  it('rejects an empty name', () => {
    expect(usageErrorOf(() => parseEnvList(['=x'], env))).toBe('Invalid environment =x');
  });
});

describe('--env-file', () => {
  it('skips comments and blank lines', () => {
    expect(parseEnvFileContent('# comment\nA=1\n\n   \nB=2\r\nHOME\n  # indented comment\n', { HOME: '/h' })).toEqual([
      'A=1',
      'B=2',
      'HOME=/h',
    ]);
  });
  it('invalid line → null', () => {
    expect(parseEnvFileContent('=bad\n', {})).toBeNull();
  });
  it('reads files in order, with upstream errors', () => {
    const f = path.join(dir, 'env1');
    fs.writeFileSync(f, 'X=1\nY=2\n');
    expect(readEnvFiles([f], {})).toEqual(['X=1', 'Y=2']);
    expect(usageErrorOf(() => readEnvFiles([path.join(dir, 'missing')], {}))).toBe(
      `env file not exists: ${path.join(dir, 'missing')}`,
    );
    const bad = path.join(dir, 'bad');
    fs.writeFileSync(bad, '=1\n');
    expect(usageErrorOf(() => readEnvFiles([bad], {}))).toBe(`failed to read env from file: ${bad}`);
  });
});

describe('labels and annotations', () => {
  it('label-file first, then --label (later wins); missing value is ""', () => {
    const f = path.join(dir, 'labels');
    fs.writeFileSync(f, '  a=file \n\n# c\nb\n');
    expect(buildLabels([f], ['a=cli', 'c=3'])).toEqual({ a: 'cli', b: '', c: '3' });
  });
  it('no labels → undefined', () => {
    expect(buildLabels([], [])).toBeUndefined();
  });
  it('empty label name', () => {
    expect(usageErrorOf(() => buildLabels([], ['=v']))).toBe("Invalid label '=v': empty name");
  });
  it('annotations', () => {
    const a: Record<string, string> = {};
    addAnnotation(a, 'k=v');
    addAnnotation(a, 'flag');
    expect(a).toEqual({ k: 'v', flag: '' });
    expect(usageErrorOf(() => addAnnotation(a, '=v'))).toBe("Invalid option: '=v'");
  });
});
