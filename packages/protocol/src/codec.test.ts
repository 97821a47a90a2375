import { describe, expect, it } from 'vitest';

import {
  ContainerService,
  ContainerServiceDefinition,
  ErrorCode,
  ImagesService,
  NetworkService,
  VolumeService,
  containers,
  images,
  methodPath,
  network,
  services,
  timestampFromNanos,
  timestampToNanos,
  toGrpcJsServiceDefinition,
  volume,
} from './index';

const hex = (u8: Uint8Array): string => Buffer.from(u8).toString('hex');
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('exact wire bytes', () => {
  it('containers.VersionResponse{version:"2.1.5", cc:0}', () => {
    const msg = containers.VersionResponse.create({ version: '2.1.5', cc: 0 });
    const buf = containers.VersionResponse.encode(msg).finish();
    // field 1 (LEN) "2.1.5"; cc=0 is the proto3 default and is not emitted
    expect(hex(buf)).toBe('0a05322e312e35');
    expect(containers.VersionResponse.decode(buf)).toEqual(msg);
  });

  it('containers.StatsRequest{containers:["a"]} uses field 2', () => {
    const buf = containers.StatsRequest.encode(containers.StatsRequest.create({ containers: ['a'] })).finish();
    expect(hex(buf)).toBe('120161'); // tag (2<<3)|2 = 0x12
    expect(containers.StatsRequest.decode(bytes('120161')).containers).toEqual(['a']);
    // a field-1 string must NOT be read as a container name
    expect(containers.StatsRequest.decode(bytes('0a0161')).containers).toEqual([]);
  });

  it('containers.InfoResponse total_mem is field 19, driver_status is field 24', () => {
    const msg = containers.InfoResponse.create({ cc: ErrorCode.SUCCESS, totalMem: 16, driverStatus: 'ok' });
    const buf = containers.InfoResponse.encode(msg).finish();
    // 0x98 0x01 = (19<<3)|0 varint; 0xc2 0x01 = (24<<3)|2 length-delimited
    expect(hex(buf)).toBe('9801' + '10' + 'c201' + '02' + '6f6b');
    const back = containers.InfoResponse.decode(buf);
    expect(back.totalMem).toBe(16);
    expect(back.driverStatus).toBe('ok');
  });

  it('containers.Container with status RUNNING', () => {
    const msg = containers.Container.create({
      id: 'abc',
      status: containers.ContainerStatus.RUNNING,
      created: 1_700_000_000n,
      ports: '80',
    });
    const buf = containers.Container.encode(msg).finish();
    expect(hex(buf)).toBe(
      '0a03616263' + // id = "abc"
        '1803' + // status (field 3, varint) = RUNNING (3)
        '9001' + '80e2cfaa06' + // created (field 18, int64) = 1700000000
        '9a01' + '023830', // ports (field 19, string) = "80"
    );
    const back = containers.Container.decode(buf);
    expect(back.status).toBe(containers.ContainerStatus.RUNNING);
    expect(back.created).toBe(1_700_000_000n);
    expect(back).toEqual(msg);
  });

  it('containers.Container_info (ts: ContainerInfo) keeps 64-bit counters exact (bigint)', () => {
    const unlimited = 9223372036854771712n; // typical cgroup "no limit" value, > 2^53
    const msg = containers.ContainerInfo.create({ id: 'x', memLimit: unlimited, rssBytes: 4096n });
    const buf = containers.ContainerInfo.encode(msg).finish();
    expect(hex(buf)).toBe('0a0178' + '58' + '80e0ffffffffffff7f' + 'a801' + '8020');
    const back = containers.ContainerInfo.decode(buf);
    expect(back.memLimit).toBe(unlimited);
    expect(back.rssBytes).toBe(4096n);
  });

  it('containers.Event keeps nanosecond timestamps', () => {
    const ts = timestampFromNanos(1_700_000_000_123_456_789n);
    const msg = containers.Event.create({ timestamp: ts, opt: 'start', id: 'abc', annotations: { image: 'busybox' } });
    const back = containers.Event.decode(containers.Event.encode(msg).finish());
    expect(back.timestamp).toEqual({ seconds: 1_700_000_000n, nanos: 123_456_789 });
    expect(timestampToNanos(back.timestamp!)).toBe(1_700_000_000_123_456_789n);
    expect(back.annotations).toEqual({ image: 'busybox' });
  });

  it('volume.PruneVolumeResponse uses fields 2/3/4', () => {
    const buf = volume.PruneVolumeResponse.encode(
      volume.PruneVolumeResponse.create({ volumes: ['v'], cc: ErrorCode.EXEC, errmsg: 'e' }),
    ).finish();
    expect(hex(buf)).toBe('120176' + '1805' + '220165');
  });

  it('unknown fields are skipped when decoding', () => {
    // images.AuthConfig{username:"u"} followed by an unknown field 3 (string "z")
    const back = images.AuthConfig.decode(bytes('0a0175 1a017a'));
    expect(back).toEqual({ username: 'u', password: '' });
  });
});

describe('method descriptors', () => {
  it('builds gRPC paths', () => {
    expect(ContainerService.methods.Version.path).toBe('/containers.ContainerService/Version');
    expect(VolumeService.methods.List.path).toBe('/volume.VolumeService/List');
    expect(ImagesService.methods.PullImage.path).toBe('/images.ImagesService/PullImage');
    expect(NetworkService.methods.Remove.path).toBe('/network.NetworkService/Remove');
    expect(methodPath(ContainerServiceDefinition.fullName, 'Version')).toBe('/containers.ContainerService/Version');
    expect(methodPath(volume.VolumeServiceDefinition.fullName, 'List')).toBe('/volume.VolumeService/List');
  });

  it('lists every upstream RPC with the right streaming flags', () => {
    expect(Object.keys(ContainerService.methods)).toEqual([
      'Create', 'Start', 'RemoteStart', 'Top', 'Stop', 'Kill', 'Delete', 'Pause', 'Resume', 'Inspect',
      'List', 'Stats', 'Wait', 'Events', 'Exec', 'RemoteExec', 'Version', 'Info', 'Update', 'Attach',
      'Restart', 'Export', 'CopyFromContainer', 'CopyToContainer', 'Rename', 'Logs', 'Resize',
    ]);
    expect(Object.keys(ImagesService.methods).sort()).toEqual(
      ['Delete', 'Import', 'Inspect', 'List', 'Load', 'Login', 'Logout', 'PullImage', 'Search', 'Tag'],
    );
    expect(Object.keys(VolumeService.methods)).toEqual(['List', 'Remove', 'Prune']);
    expect(Object.keys(NetworkService.methods)).toEqual(['Create', 'Inspect', 'List', 'Remove']);
    const flags = (m: { requestStream: boolean; responseStream: boolean }) => [m.requestStream, m.responseStream];
    const c = ContainerService.methods;
    expect(flags(c.RemoteStart)).toEqual([true, true]);
    expect(flags(c.RemoteExec)).toEqual([true, true]);
    expect(flags(c.Attach)).toEqual([true, true]);
    expect(flags(c.CopyToContainer)).toEqual([true, true]);
    expect(flags(c.Events)).toEqual([false, true]);
    expect(flags(c.Logs)).toEqual([false, true]);
    expect(flags(c.CopyFromContainer)).toEqual([false, true]);
    expect(flags(c.Version)).toEqual([false, false]);
    expect(flags(ImagesService.methods.PullImage)).toEqual([false, true]);
    expect(services.volume.fullName).toBe('volume.VolumeService');
  });

  it('encodes a request and decodes a response by method', () => {
    const m = ContainerService.methods.Version;
    expect(m.encode(m.createRequest())).toEqual(new Uint8Array(0));
    const res = m.decode(bytes('0a05322e312e35 2805'));
    expect(res.version).toBe('2.1.5');
    expect(res.cc).toBe(ErrorCode.EXEC);
    // server direction
    expect(hex(m.encodeResponse(m.createResponse({ version: '2.1.5' })))).toBe('0a05322e312e35');
    const stats = ContainerService.methods.Stats;
    expect(stats.decodeRequest(stats.encode(stats.createRequest({ containers: ['a'], all: true })))).toEqual({
      containers: ['a'],
      all: true,
    });
  });

  it('produces a grpc-js shaped service definition without grpc-js', () => {
    const def = toGrpcJsServiceDefinition(VolumeService);
    expect(Object.keys(def)).toEqual(['List', 'Remove', 'Prune']);
    expect(def.List.path).toBe('/volume.VolumeService/List');
    expect(def.List.originalName).toBe('list');
    const wire = def.Remove.requestSerialize(volume.RemoveVolumeRequest.create({ name: 'v1' }));
    expect(Buffer.isBuffer(wire)).toBe(true);
    expect(def.Remove.requestDeserialize(wire).name).toBe('v1');
    const resp = def.List.responseSerialize(
      volume.ListVolumeResponse.create({ volumes: [{ driver: 'local', name: 'v1' }] }),
    );
    expect(def.List.responseDeserialize(resp).volumes[0]!.driver).toBe('local');
    expect(network.NetworkServiceDefinition.fullName).toBe('network.NetworkService');
  });
});
