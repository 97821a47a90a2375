import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeCgroup } from './cgroups';
import { planMounts } from './mounts';
import { checkName, lookup, newContainerId } from './names';
import { shouldRestart } from './restart';
import { newState, type ContainerRecord } from './types';
import { listItem, matchesFilters } from './views';

const rec = (over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  id: 'a'.repeat(64),
  name: 'web',
  image: 'busybox',
  imageId: 'b'.repeat(64),
  runtime: 'runc',
  created: '2026-11-27T08:00:00.000Z',
  config: { Labels: { app: 'x', tier: 'front' } },
  hostConfig: {},
  path: 'sh',
  args: ['-c', 'echo hi'],
  bundle: '/g/engines/runc/x',
  cgroupPath: '/isulad/x',
  volumes: [],
  mounts: [],
  log: { driver: 'json-file', path: '/x/console.log', maxSize: 0, maxFile: 1, disabled: false },
  state: newState(),
  ...over,
});

describe('names and lookup', () => {
  it('makes 64-hex ids that never collide with taken ones', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const id = newContainerId((x) => taken.has(x));
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(/^[0-9]{12}/.test(id)).toBe(false);
      taken.add(id);
    }
  });

  it('applies upstream name rule', () => {
    expect(() => checkName('web-1.a_b')).not.toThrow();
    for (const bad of ['a', '-web', 'we b', 'we/b', '']) expect(() => checkName(bad)).toThrow(/Invalid container name/);
  });

  it('finds by full id, then name, then unique prefix', () => {
    const a = rec({ id: 'abc1' + '0'.repeat(60), name: 'one' });
    const b = rec({ id: 'abc2' + '0'.repeat(60), name: 'abc1' });
    expect(lookup([a, b], a.id)).toBe(a);
    expect(lookup([a, b], 'abc1')).toBe(b); // a name wins over an id prefix
    expect(lookup([a, b], '/one')).toBe(a);
    expect(lookup([a, b], 'abc2')).toBe(b);
    expect(() => lookup([a, b], 'abc')).toThrow('Multiple IDs found with provided prefix: abc');
    expect(() => lookup([a, b], 'nope')).toThrow('No such container:nope');
  });
});

describe('restart policies', () => {
  const exited = (name: string, code: number, extra: Partial<ContainerRecord['state']> = {}, max?: number) =>
    rec({ hostConfig: { RestartPolicy: { Name: name, MaximumRetryCount: max } }, state: { ...newState(), status: 'exited', exitCode: code, ...extra } });
  it('follows no / always / on-failure[:N] and respects a manual stop', () => {
    expect(shouldRestart(exited('no', 1))).toBe(false);
    expect(shouldRestart(exited('always', 0))).toBe(true);
    expect(shouldRestart(exited('always', 0, { manuallyStopped: true }))).toBe(false);
    expect(shouldRestart(exited('on-failure', 0))).toBe(false);
    expect(shouldRestart(exited('on-failure', 2))).toBe(true);
    expect(shouldRestart(exited('on-failure', 2, { restartCount: 3 }, 3))).toBe(false);
    expect(shouldRestart(exited('on-failure', 2, { restartCount: 2 }, 3))).toBe(true);
  });
});

describe('list view and filters', () => {
  it('reports upstream status enum values and a quoted command', () => {
    const item = listItem(rec({ state: { ...newState(), status: 'running', pid: 42 } }));
    expect(item.status).toBe(3);
    expect(item.command).toBe('sh -c "echo hi"');
    expect(item.created).toBe(BigInt(Date.parse("2026-11-27T08:00:00.000Z")) * 1_000_000n);
  });
  it('filters by id prefix, name, label and status', () => {
    const r = rec();
    expect(matchesFilters(r, { id: 'aaa' })).toBe(true);
    expect(matchesFilters(r, { id: 'b' })).toBe(false);
    expect(matchesFilters(r, { name: 'we' })).toBe(true);
    expect(matchesFilters(r, { label: 'app' })).toBe(true);
    expect(matchesFilters(r, { label: 'tier=back' })).toBe(false);
    expect(matchesFilters(r, { status: 'created' })).toBe(true);
    expect(matchesFilters(r, { status: 'running' })).toBe(false);
  });
});

describe('mount planning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mounts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('splits binds, named and anonymous volumes, tmpfs and image volumes', async () => {
    const plan = await planMounts(
      { Binds: [`${dir}:/host:ro`, 'data:/data', '/anon'], Tmpfs: { '/run': 'size=1m' }, Mounts: [{ Type: 'tmpfs', Target: '/t2' }] },
      ['/data', '/var/lib/x'],
    );
    expect(plan.binds).toEqual([{ destination: '/host', type: 'bind', source: dir, options: ['rbind', 'rprivate', 'ro'] }]);
    expect(plan.volumes.map((v) => [v.name, v.destination])).toEqual([
      ['data', '/data'],
      [undefined, '/anon'],
      [undefined, '/var/lib/x'],
    ]);
    expect(plan.tmpfs.map((t) => t.destination)).toEqual(['/t2', '/run']);
  });
  it('refuses relative destinations, missing bind sources, duplicates and unknown options', async () => {
    await expect(planMounts({ Binds: ['x:rel'] }, [])).rejects.toThrow(/must be absolute/);
    await expect(planMounts({ Binds: ['/nonexistent-src-xyz:/a'] }, [])).rejects.toThrow(/does not exist/);
    await expect(planMounts({ Binds: ['v:/a', 'w:/a'] }, [])).rejects.toThrow('Duplicate mount point: /a');
    await expect(planMounts({ Binds: ['v:/a:bogus'] }, [])).rejects.toThrow(/unknown option bogus/);
  });
});

describe('cgroup removal', () => {
  it('removes the container directory in every hierarchy and refuses paths that climb out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cg-'));
    try {
      for (const h of ['memory', 'pids', 'unified']) mkdirSync(join(root, h, 'isulad', 'c1'), { recursive: true });
      mkdirSync(join(root, 'memory', 'keep'), { recursive: true });
      await removeCgroup('/isulad/c1', root);
      for (const h of ['memory', 'pids', 'unified']) {
        expect(existsSync(join(root, h, 'isulad', 'c1'))).toBe(false);
        expect(existsSync(join(root, h, 'isulad'))).toBe(true);
      }
      await removeCgroup('/isulad/../keep', root);
      expect(existsSync(join(root, 'memory', 'keep'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
