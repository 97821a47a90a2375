import { describe, expect, it } from 'vitest';
import { cri, type DeepPartial } from '@isula/cri-api';
import { newState, ZERO_TIME, type ContainerRecord, type ContainerState } from '../container/types';
import { matchesSelector, type ContainerMeta, type SandboxMeta } from './labels';
import { containerMatches, containerState, containerStatus, exitReason, sandboxMatches, sandboxState, sandboxStatus, toNanos } from './status';

const { ContainerState: CS, PodSandboxState: PS } = cri;

const rec = (state: Partial<ContainerState> = {}, over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  id: 'a'.repeat(64),
  name: 'k8s_app_web_default_u_0',
  image: 'busybox',
  imageId: 'b'.repeat(64),
  runtime: 'runc',
  created: '2026-11-27T08:00:00.123Z',
  config: {},
  hostConfig: { Memory: 1024, CPUShares: 2 },
  path: 'sh',
  args: [],
  bundle: '/b',
  cgroupPath: '/isulad/a',
  volumes: [],
  mounts: [],
  log: { driver: 'kubernetes', path: '/l', maxSize: 0, maxFile: 1, disabled: false },
  state: { ...newState(), ...state },
  ...over,
});

const cmeta: ContainerMeta = {
  sandboxId: 's'.repeat(64),
  metadata: { name: 'app', attempt: 0 },
  image: 'busybox',
  userSpecifiedImage: '',
  labels: { role: 'app', tier: 'x' },
  annotations: { a: 'b' },
  logPath: '/var/log/pods/x/app.log',
  mounts: [{ containerPath: '/d', hostPath: '/h', readonly: true, selinuxRelabel: false, propagation: 0 }],
  tty: false,
  stdin: false,
  stdinOnce: false,
};

const smeta: SandboxMeta = {
  metadata: { name: 'web', uid: 'u', namespace: 'default', attempt: 0 },
  hostname: 'web',
  logDirectory: '/var/log/pods/x',
  dns: null,
  portMappings: [],
  labels: { app: 'web' },
  annotations: { n: 'v' },
  namespaces: { network: 0, pid: 1, ipc: 0, targetId: '' },
  cgroupParent: '',
  privileged: false,
  runtimeHandler: '',
};

describe('timestamps', () => {
  it('keep nanoseconds from RFC3339Nano, milliseconds from ISO, and 0 for unset', () => {
    expect(toNanos('2026-11-27T07:55:01.123456789Z')).toBe(BigInt(Date.parse('2026-11-27T07:55:01Z')) * 1_000_000n + 123456789n);
    expect(toNanos('2026-11-27T08:00:00.123Z')).toBe(BigInt(Date.parse('2026-11-27T08:00:00.123Z')) * 1_000_000n);
    expect(toNanos('2026-11-27T08:00:00Z')).toBe(BigInt(Date.parse('2026-11-27T08:00:00Z')) * 1_000_000n);
    expect(toNanos('2026-11-27T09:00:00.5+01:00')).toBe(BigInt(Date.parse('2026-11-27T08:00:00Z')) * 1_000_000n + 500_000_000n);
    expect(toNanos(ZERO_TIME)).toBe(0n);
    expect(toNanos('')).toBe(0n);
    expect(toNanos('yesterday')).toBe(0n);
  });
});

describe('states and reasons', () => {
  it('maps the container states', () => {
    expect(containerState(rec({ status: 'inited' }))).toBe(CS.CONTAINER_CREATED);
    for (const s of ['running', 'paused', 'starting', 'restarting'] as const) expect(containerState(rec({ status: s }))).toBe(CS.CONTAINER_RUNNING);
    expect(containerState(rec({ status: 'exited' }))).toBe(CS.CONTAINER_EXITED);
    expect(containerState(rec({ status: 'removing' }))).toBe(CS.CONTAINER_EXITED);
  });

  it('gives kubelet its reasons', () => {
    expect(exitReason(rec({ status: 'running' }))).toBe('');
    expect(exitReason(rec({ status: 'exited', exitCode: 0 }))).toBe('Completed');
    expect(exitReason(rec({ status: 'exited', exitCode: 137 }))).toBe('Error');
    expect(exitReason(rec({ status: 'exited', exitCode: 137, oomKilled: true }))).toBe('OOMKilled');
  });

  it('a sandbox is ready while its pause container runs', () => {
    expect(sandboxState(rec({ status: 'running', pid: 5 }))).toBe(PS.SANDBOX_READY);
    expect(sandboxState(rec({ status: 'exited' }))).toBe(PS.SANDBOX_NOTREADY);
    expect(sandboxState(rec({ status: 'inited' }))).toBe(PS.SANDBOX_NOTREADY);
  });
});

describe('ContainerStatus', () => {
  it('of a created container: no start or finish time', () => {
    const st = containerStatus(rec({ status: 'inited' }), cmeta);
    expect(st).toMatchObject({ state: CS.CONTAINER_CREATED, startedAt: 0n, finishedAt: 0n, exitCode: 0, reason: '' });
    expect(st.createdAt).toBe(BigInt(Date.parse('2026-11-27T08:00:00.123Z')) * 1_000_000n);
  });

  it('of an exited container: times, code, reason, message; what was given comes back', () => {
    const st = containerStatus(
      rec({ status: 'exited', exitCode: 3, error: 'boom', startedAt: '2026-11-27T08:00:01.000Z', finishedAt: '2026-11-27T08:00:02.000000005Z' }),
      cmeta,
    );
    expect(st).toMatchObject({
      id: 'a'.repeat(64),
      metadata: { name: 'app', attempt: 0 },
      state: CS.CONTAINER_EXITED,
      exitCode: 3,
      reason: 'Error',
      message: 'boom',
      image: { image: 'busybox' },
      imageRef: `sha256:${'b'.repeat(64)}`,
      labels: { role: 'app', tier: 'x' },
      annotations: { a: 'b' },
      logPath: '/var/log/pods/x/app.log',
      mounts: [{ containerPath: '/d', hostPath: '/h', readonly: true, propagation: 0 }],
      resources: { linux: { memoryLimitInBytes: 1024n, cpuShares: 2n } },
    });
    expect(st.finishedAt).toBe(BigInt(Date.parse('2026-11-27T08:00:02Z')) * 1_000_000n + 5n);
    expect(st.finishedAt! > st.startedAt!).toBe(true);
  });
});

describe('PodSandboxStatus', () => {
  it('reports the IP only while ready with a set-up network, and the namespace options', () => {
    const ready = rec({ status: 'running', pid: 9 });
    const st = sandboxStatus(ready, smeta, { state: 'ready', ip: '10.1.0.5', ips: ['10.1.0.5', 'fd00::5'] });
    expect(st).toMatchObject({
      state: PS.SANDBOX_READY,
      metadata: smeta.metadata,
      labels: { app: 'web' },
      annotations: { n: 'v' },
      network: { ip: '10.1.0.5', additionalIps: [{ ip: 'fd00::5' }] },
      linux: { namespaces: { options: { network: 0, pid: 1, ipc: 0, targetId: '' } } },
    });
    expect(sandboxStatus(rec({ status: 'exited' }), smeta, { state: 'ready', ip: '10.1.0.5', ips: ['10.1.0.5'] }).network).toEqual({ ip: '', additionalIps: [] });
    expect(sandboxStatus(ready, smeta, { state: 'none', ip: '', ips: [] }).network?.ip).toBe('');
  });
});

describe('filters', () => {
  it('label selectors AND every pair', () => {
    expect(matchesSelector({ a: '1', b: '2' }, {})).toBe(true);
    expect(matchesSelector({ a: '1', b: '2' }, undefined)).toBe(true);
    expect(matchesSelector({ a: '1', b: '2' }, { a: '1' })).toBe(true);
    expect(matchesSelector({ a: '1', b: '2' }, { a: '1', b: '3' })).toBe(false);
    expect(matchesSelector({ a: '1' }, { c: '' })).toBe(false);
  });

  it('sandbox filter: id prefix, state, labels', () => {
    const r = rec({ status: 'running', pid: 3 });
    const f = (p: DeepPartial<cri.PodSandboxFilter>) => cri.PodSandboxFilter.fromPartial(p);
    expect(sandboxMatches(r, smeta, undefined)).toBe(true);
    expect(sandboxMatches(r, smeta, f({ id: 'aaa' }))).toBe(true);
    expect(sandboxMatches(r, smeta, f({ id: 'ab' }))).toBe(false);
    expect(sandboxMatches(r, smeta, f({ state: { state: PS.SANDBOX_READY } }))).toBe(true);
    expect(sandboxMatches(r, smeta, f({ state: { state: PS.SANDBOX_NOTREADY } }))).toBe(false);
    expect(sandboxMatches(r, smeta, f({ labelSelector: { app: 'web' } }))).toBe(true);
    expect(sandboxMatches(r, smeta, f({ labelSelector: { app: 'db' } }))).toBe(false);
  });

  it('container filter: id, pod, state, labels', () => {
    const r = rec({ status: 'exited' });
    const f = (p: DeepPartial<cri.ContainerFilter>) => cri.ContainerFilter.fromPartial(p);
    expect(containerMatches(r, cmeta, f({}))).toBe(true);
    expect(containerMatches(r, cmeta, f({ podSandboxId: 's'.repeat(64) }))).toBe(true);
    expect(containerMatches(r, cmeta, f({ podSandboxId: 'x' }))).toBe(false);
    expect(containerMatches(r, cmeta, f({ state: { state: CS.CONTAINER_EXITED } }))).toBe(true);
    expect(containerMatches(r, cmeta, f({ state: { state: CS.CONTAINER_RUNNING } }))).toBe(false);
    expect(containerMatches(r, cmeta, f({ labelSelector: { role: 'app' } }))).toBe(true);
    expect(containerMatches(r, cmeta, f({ id: 'b' }))).toBe(false);
  });
});
