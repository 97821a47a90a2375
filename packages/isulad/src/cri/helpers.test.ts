import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cri } from '@isula/cri-api';
import { newState, type ContainerRecord } from '../container/types';
import type { BusEvent } from '../container/events/bus';
import type { CriIndex } from './context';
import { CappedBuffer, processTree } from './containers';
import { CriError, notFound, unimplemented } from './errors';
import { criEvent, PodOf } from './events';
import { CONTAINER_META, CONTAINER_TYPE, isCriContainer, isSandbox, networkState, passedAnnotations, SANDBOX_ID, SANDBOX_META, setNetworkState } from './labels';
import { containerName, sandboxName } from './naming';
import { cniPortMappings, runtimeForHandler, sandboxImage } from './sandboxes';
import { memoryUsage, nanoCores, parseNetDev, sumSamples } from './stats';
import { sandboxCreateSpec } from './translate';
import { grpcStatusOf } from '../server/grpc-adapter';

describe('names', () => {
  it('follow dockershim/iSulad and stay valid isulad names', () => {
    const pod = { name: 'web', namespace: 'default', uid: '6f1c-22', attempt: 1 };
    expect(sandboxName(pod)).toBe('k8s_POD_web_default_6f1c-22_1');
    expect(containerName({ name: 'nginx', attempt: 0 }, pod)).toBe('k8s_nginx_web_default_6f1c-22_0');
    expect(sandboxName({ ...pod, uid: 'a/b c' })).toBe('k8s_POD_web_default_a-b-c_1');
  });
});

describe('errors', () => {
  it('carry their gRPC status to the adapter', () => {
    expect(grpcStatusOf(notFound('x'), 13)).toBe(5);
    expect(grpcStatusOf(unimplemented('x'), 13)).toBe(12);
    expect(grpcStatusOf(new Error('x'), 13)).toBe(13);
    expect(grpcStatusOf(Object.assign(new Error('x'), { code: 'ENOENT' }), 2)).toBe(2);
    expect(new CriError('m', 4).message).toBe('m');
  });
});

const record = (config: ContainerRecord['config'], id = 'a'.repeat(64)): ContainerRecord => ({
  id,
  name: `n${id.slice(0, 4)}`,
  image: 'busybox',
  imageId: 'b'.repeat(64),
  runtime: 'runc',
  created: '2026-11-27T08:00:00.000Z',
  config,
  hostConfig: {},
  path: 'sh',
  args: [],
  bundle: '/b',
  cgroupPath: '',
  volumes: [],
  mounts: [],
  log: { driver: 'none', path: '', maxSize: 0, maxFile: 1, disabled: true },
  state: { ...newState(), status: 'running', pid: 42 },
});

describe('labels', () => {
  it('tell sandboxes and CRI containers from other containers', () => {
    const spec = sandboxCreateSpec(cri.PodSandboxConfig.fromPartial({ metadata: { name: 'p' } }), { image: 'i', runtimeHandler: '' });
    expect(isSandbox(record(spec.config))).toBe(true);
    expect(isCriContainer(record(spec.config))).toBe(false);
    expect(isSandbox(record({ Labels: { [CONTAINER_TYPE]: 'sandbox' } }))).toBe(false);
    expect(isSandbox(record({}))).toBe(false);
  });

  it('keep the network state in the record', () => {
    const r = record({ Annotations: { x: 'y' } });
    expect(networkState(r)).toEqual({ state: 'none', ip: '', ips: [] });
    setNetworkState(r, { state: 'ready', ip: '10.0.0.2', ips: ['10.0.0.2'] });
    expect(networkState(r).ip).toBe('10.0.0.2');
    expect(r.config.Annotations?.x).toBe('y');
  });

  it('pass annotations on except the log.console.* keys', () => {
    expect(passedAnnotations({ a: '1', 'log.console.file': 'none', 'x/log.console': '2' })).toEqual({ a: '1', 'x/log.console': '2' });
  });
});

describe('sandbox helpers', () => {
  it('default sandbox image is pause-<OCI arch>:3.0', () => {
    expect(sandboxImage('', 'x64')).toBe('pause-amd64:3.0');
    expect(sandboxImage('', 'arm64')).toBe('pause-arm64:3.0');
    expect(sandboxImage('my/pause:1', 'x64')).toBe('my/pause:1');
  });

  it('maps runtime handlers through cri-runtimes', () => {
    expect(runtimeForHandler('', { kata: 'kata-runtime' }, {})).toBe('');
    expect(runtimeForHandler('kata', { kata: 'kata-runtime' }, {})).toBe('kata-runtime');
    expect(runtimeForHandler('runc', {}, {})).toBe('runc');
    expect(runtimeForHandler('crun', {}, { crun: {} })).toBe('crun');
    expect(() => runtimeForHandler('gvisor', {}, {})).toThrow(/no runtime for "gvisor"/);
  });

  it('gives CNI the port mappings with a host port', () => {
    const meta = sandboxCreateSpec(
      cri.PodSandboxConfig.fromPartial({
        metadata: { name: 'p' },
        portMappings: [
          { protocol: cri.Protocol.TCP, containerPort: 80, hostPort: 8080 },
          { protocol: cri.Protocol.UDP, containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' },
          { protocol: cri.Protocol.TCP, containerPort: 81, hostPort: 0 },
        ],
      }),
      { image: 'i', runtimeHandler: '' },
    ).meta;
    expect(cniPortMappings(meta)).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1' },
    ]);
  });
});

describe('ExecSync output', () => {
  it('is copied and capped', () => {
    const b = new CappedBuffer(5);
    const src = Buffer.from('abc');
    b.push(src);
    src[0] = 0x7a; // the bridge reuses its buffers: ours is a copy
    b.push(Buffer.from('defgh'));
    expect(b.value().toString()).toBe('abcde');
    expect(b.truncated).toBe(true);
  });

  it('finds a process tree through /proc', async () => {
    const child = spawn('sh', ['-c', 'sleep 5 & sleep 5 & wait'], { stdio: 'ignore' });
    try {
      let tree: number[] = [];
      for (let i = 0; i < 50 && tree.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        tree = await processTree(child.pid!);
      }
      expect(tree[0]).toBe(child.pid);
      expect(tree.length).toBe(3);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('stats helpers', () => {
  it('computes nano-cores between samples', () => {
    expect(nanoCores(undefined, { atNanos: 10n, usage: 5n })).toBe(0n);
    expect(nanoCores({ atNanos: 0n, usage: 0n }, { atNanos: 1_000_000_000n, usage: 500_000_000n })).toBe(500_000_000n);
    expect(nanoCores({ atNanos: 5n, usage: 10n }, { atNanos: 5n, usage: 20n })).toBe(0n);
  });

  it('reports available memory only under a real limit', () => {
    const s = sumSamples([]);
    expect(memoryUsage({ ...s, memLimit: 9223372036854771712n }, 1n).availableBytes).toBeUndefined();
    expect(memoryUsage({ ...s, memLimit: 100n, avaliableBytes: 60n }, 1n).availableBytes).toEqual({ value: 60n });
  });

  it('sums samples', () => {
    const one = { ...sumSamples([]), cpuUseNanos: 5n, memUsed: 10n, pidsCurrent: 1n, onlineCpus: 2, memLimit: 7n };
    const total = sumSamples([one, one]);
    expect(total).toMatchObject({ cpuUseNanos: 10n, memUsed: 20n, pidsCurrent: 2n, onlineCpus: 2, memLimit: 0n });
  });

  it('parses /proc/net/dev without lo', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0',
      '  eth0:    2000      10    3    0    0     0          0         0     4000      20    4    0    0     0       0          0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual([{ name: 'eth0', rxBytes: { value: 2000n }, rxErrors: { value: 3n }, txBytes: { value: 4000n }, txErrors: { value: 4n } }]);
  });
});

describe('container events', () => {
  const sbSpec = sandboxCreateSpec(cri.PodSandboxConfig.fromPartial({ metadata: { name: 'p', namespace: 'n', uid: 'u' } }), { image: 'i', runtimeHandler: '' });
  const sb = record(sbSpec.config, 's'.repeat(64));
  const ctr = record(
    {
      Annotations: {
        [CONTAINER_TYPE]: 'container',
        [SANDBOX_ID]: sb.id,
        [CONTAINER_META]: JSON.stringify({ sandboxId: sb.id, metadata: { name: 'c', attempt: 0 }, image: 'busybox', userSpecifiedImage: '', labels: {}, annotations: {}, logPath: '', mounts: [], tty: false, stdin: false, stdinOnce: false }),
      },
    },
    'c'.repeat(64),
  );
  let present = [sb, ctr];
  const index = {
    sandbox: (id: string) => present.find((r) => r.id === id && r.config.Annotations?.[SANDBOX_META] !== undefined),
    container: (id: string) => present.find((r) => r.id === id && r.config.Annotations?.[CONTAINER_META] !== undefined),
    containersOf: (id: string) => present.filter((r) => r.config.Annotations?.[SANDBOX_ID] === id),
  } as unknown as CriIndex;
  const ev = (id: string, opt: string): BusEvent => ({ seq: 1, id, opt, type: 'container', time: new Date(1000), annotations: {} });

  it('maps create/start/die/destroy of CRI objects, with the pod status', () => {
    const pods = new PodOf(index);
    const e = criEvent(ev(ctr.id, 'start'), index, pods)!;
    expect(e).toMatchObject({ containerId: ctr.id, containerEventType: cri.ContainerEventType.CONTAINER_STARTED_EVENT, createdAt: 1_000_000_000n });
    expect(e.podSandboxStatus?.id).toBe(sb.id);
    expect(e.containersStatuses?.map((s) => s?.id)).toEqual([ctr.id]);
    expect(criEvent(ev(sb.id, 'create'), index, pods)?.containerEventType).toBe(cri.ContainerEventType.CONTAINER_CREATED_EVENT);
    expect(criEvent(ev(ctr.id, 'die'), index, pods)?.containerEventType).toBe(cri.ContainerEventType.CONTAINER_STOPPED_EVENT);
    // Removed: the record is gone, the pod it belonged to is remembered.
    present = [sb];
    const del = criEvent(ev(ctr.id, 'destroy'), index, pods)!;
    expect(del).toMatchObject({ containerId: ctr.id, containerEventType: cri.ContainerEventType.CONTAINER_DELETED_EVENT });
    expect(del.podSandboxStatus?.id).toBe(sb.id);
  });

  it('ignores other events and other containers', () => {
    const pods = new PodOf(index);
    expect(criEvent(ev(sb.id, 'pause'), index, pods)).toBeUndefined();
    expect(criEvent(ev('d'.repeat(64), 'start'), index, pods)).toBeUndefined();
    expect(criEvent({ ...ev(sb.id, 'start'), type: 'image' }, index, pods)).toBeUndefined();
  });
});
