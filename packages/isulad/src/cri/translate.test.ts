import { describe, expect, it } from 'vitest';
import { cri, type DeepPartial } from '@isula/cri-api';
import {
  CONTAINER_META,
  CONTAINER_TYPE,
  SANDBOX_ID,
  SANDBOX_META,
  type ContainerMeta,
  type SandboxMeta,
} from './labels';
import {
  containerCreateSpec,
  criLogConfig,
  hostConfigToResources,
  mountsToHostConfig,
  namespaceModes,
  resourcesToHostConfig,
  sandboxCreateSpec,
  seccompOptions,
  userOf,
} from './translate';

const { NamespaceMode, MountPropagation } = cri;
const POD = 'p'.repeat(64);

function podConfig(over: DeepPartial<cri.PodSandboxConfig> = {}): cri.PodSandboxConfig {
  const base: DeepPartial<cri.PodSandboxConfig> = {
    metadata: { name: 'web', namespace: 'default', uid: 'u-1', attempt: 2 },
    hostname: 'web-0',
    logDirectory: '/var/log/pods/web',
    dnsConfig: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
    portMappings: [{ protocol: cri.Protocol.TCP, containerPort: 80, hostPort: 8080, hostIp: '' }],
    labels: { app: 'web' },
    annotations: { note: 'x', 'log.console.driver': 'syslog' },
    linux: { cgroupParent: '/kubepods/podu-1', sysctls: { 'net.ipv4.ip_forward': '1' }, securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
    ...over,
  };
  return cri.PodSandboxConfig.fromPartial(base);
}

function sandboxRef(over: Partial<SandboxMeta> = {}) {
  const meta = sandboxCreateSpec(podConfig(), { image: 'pause-amd64:3.0', runtimeHandler: '' }).meta;
  return { id: POD, meta: { ...meta, ...over } };
}

function ctrConfig(over: DeepPartial<cri.ContainerConfig> = {}): cri.ContainerConfig {
  const base: DeepPartial<cri.ContainerConfig> = {
    metadata: { name: 'app', attempt: 1 },
    image: { image: 'busybox:latest', userSpecifiedImage: 'busybox' },
    command: ['/bin/sh', '-c'],
    args: ['sleep 100'],
    workingDir: '/tmp',
    envs: [{ key: 'A', value: '1' }, { key: 'B', value: 'x=y' }],
    labels: { role: 'app' },
    annotations: { 'io.k/note': 'n' },
    logPath: 'app/1.log',
    ...over,
  };
  return cri.ContainerConfig.fromPartial(base);
}

describe('sandbox config → pause container', () => {
  it('keeps its own namespaces, writes hostname and DNS, cgroup parent, sysctls, labels and the CRI view', () => {
    const s = sandboxCreateSpec(podConfig(), { image: 'pause-amd64:3.0', runtimeHandler: 'kata' });
    expect(s.name).toBe('k8s_POD_web_default_u-1_2');
    expect(s.image).toBe('pause-amd64:3.0');
    expect(s.hostConfig).toMatchObject({
      NetworkMode: 'none',
      UTSMode: '',
      IpcMode: '',
      PidMode: '',
      Dns: ['10.96.0.10'],
      DnsSearch: ['default.svc.cluster.local'],
      DnsOptions: ['ndots:5'],
      CgroupParent: '/kubepods/podu-1',
      Sysctls: { 'net.ipv4.ip_forward': '1' },
      OomScoreAdj: -998,
      CPUShares: 2,
      SecurityOpt: ['seccomp=unconfined'],
      RestartPolicy: { Name: 'no' },
    });
    expect(s.config.Hostname).toBe('web-0');
    expect(s.config.Labels).toEqual({ app: 'web', [CONTAINER_TYPE]: 'sandbox' });
    // log.console.* would reconfigure the daemon's logging of the pause container: not passed on.
    expect(s.config.Annotations).not.toHaveProperty('log.console.driver');
    expect(s.config.Annotations).toMatchObject({ note: 'x', [CONTAINER_TYPE]: 'sandbox', 'io.kubernetes.cri.sandbox-name': 'web', 'io.kubernetes.cri.sandbox-uid': 'u-1' });
    const meta = JSON.parse(s.config.Annotations![SANDBOX_META]!) as SandboxMeta;
    expect(meta).toEqual(s.meta);
    // ...while the CRI view keeps every annotation as given.
    expect(meta.annotations).toEqual({ note: 'x', 'log.console.driver': 'syslog' });
    expect(meta).toMatchObject({
      metadata: { name: 'web', namespace: 'default', uid: 'u-1', attempt: 2 },
      logDirectory: '/var/log/pods/web',
      runtimeHandler: 'kata',
      namespaces: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD, targetId: '' },
      portMappings: [{ protocol: 0, containerPort: 80, hostPort: 8080, hostIp: '' }],
    });
  });

  it('uses the host namespaces for NODE', () => {
    const s = sandboxCreateSpec(
      podConfig({ linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.NODE, ipc: NamespaceMode.NODE } } } }),
      { image: 'p', runtimeHandler: '' },
    );
    expect(s.hostConfig).toMatchObject({ NetworkMode: 'host', UTSMode: 'host', PidMode: 'host', IpcMode: 'host' });
  });

  it('without DNS config leaves resolv.conf to the host, and needs a name', () => {
    const s = sandboxCreateSpec(podConfig({ dnsConfig: undefined }), { image: 'p', runtimeHandler: '' });
    expect(s.hostConfig.Dns).toBeUndefined();
    expect(s.meta.dns).toBeNull();
    expect(() => sandboxCreateSpec(podConfig({ metadata: { name: '' } }), { image: 'p', runtimeHandler: '' })).toThrow(/metadata.name is required/);
  });

  it('protects the pause container from the OOM killer as far as the daemon may', () => {
    expect(sandboxCreateSpec(podConfig(), { image: 'p', runtimeHandler: '', oomScoreAdjFloor: -1000 }).hostConfig.OomScoreAdj).toBe(-998);
    expect(sandboxCreateSpec(podConfig(), { image: 'p', runtimeHandler: '', oomScoreAdjFloor: -500 }).hostConfig.OomScoreAdj).toBe(-500);
    expect(sandboxCreateSpec(podConfig(), { image: 'p', runtimeHandler: '', oomScoreAdjFloor: 0 }).hostConfig.OomScoreAdj).toBeUndefined();
  });

  it('runs the pause process as run_as_user/run_as_group', () => {
    const s = sandboxCreateSpec(podConfig({ linux: { securityContext: { runAsUser: { value: 1000n }, runAsGroup: { value: 3000n } } } }), { image: 'p', runtimeHandler: '' });
    expect(s.config.User).toBe('1000:3000');
  });
});

describe('container config → container in the pod', () => {
  it('joins the pause container, shares its cgroup parent, and maps the process', () => {
    const s = containerCreateSpec(ctrConfig(), sandboxRef(), { logPath: '/var/log/pods/web/app/1.log' });
    expect(s.name).toBe('k8s_app_web_default_u-1_1');
    expect(s.image).toBe('busybox:latest');
    expect(s.hostConfig).toMatchObject({
      NetworkMode: `container:${POD}`,
      UTSMode: `container:${POD}`,
      IpcMode: `container:${POD}`,
      PidMode: `container:${POD}`, // POD is the CRI default of the container's own options
      CgroupParent: '/kubepods/podu-1',
      Privileged: false,
      ReadonlyRootfs: false,
      RestartPolicy: { Name: 'no' },
    });
    expect(s.config).toMatchObject({
      Hostname: 'web-0',
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['sleep 100'],
      WorkingDir: '/tmp',
      Env: ['A=1', 'B=x=y'],
      Tty: false,
      OpenStdin: false,
    });
    expect(s.config.Labels).toEqual({ role: 'app', [CONTAINER_TYPE]: 'container', [SANDBOX_ID]: POD });
    const meta = JSON.parse(s.config.Annotations![CONTAINER_META]!) as ContainerMeta;
    expect(meta).toMatchObject({ sandboxId: POD, metadata: { name: 'app', attempt: 1 }, image: 'busybox:latest', userSpecifiedImage: 'busybox', logPath: '/var/log/pods/web/app/1.log', labels: { role: 'app' }, annotations: { 'io.k/note': 'n' } });
  });

  it('maps the pid namespace option: CONTAINER own, NODE host, TARGET another container', () => {
    const pid = (mode: number, targetId = '') =>
      containerCreateSpec(ctrConfig({ linux: { securityContext: { namespaceOptions: { pid: mode, targetId } } } }), sandboxRef(), { logPath: '' }).hostConfig.PidMode;
    expect(pid(NamespaceMode.CONTAINER)).toBe('');
    expect(pid(NamespaceMode.NODE)).toBe('host');
    expect(pid(NamespaceMode.TARGET, 'c'.repeat(64))).toBe(`container:${'c'.repeat(64)}`);
    expect(() => pid(NamespaceMode.TARGET)).toThrow(/target_id/);
    // A pod with the host's pid namespace: POD means the host's.
    const hostPid = sandboxRef({ namespaces: { network: 0, pid: NamespaceMode.NODE, ipc: 0, targetId: '' } });
    expect(containerCreateSpec(ctrConfig(), hostPid, { logPath: '' }).hostConfig.PidMode).toBe('host');
  });

  it('uses the host network and UTS for a NODE network container', () => {
    const s = containerCreateSpec(ctrConfig({ linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, ipc: NamespaceMode.NODE } } } }), sandboxRef(), { logPath: '' });
    expect(s.hostConfig).toMatchObject({ NetworkMode: 'host', UTSMode: 'host', IpcMode: 'host' });
  });

  it('keeps the image defaults when command and args are empty', () => {
    const s = containerCreateSpec(ctrConfig({ command: [], args: [] }), sandboxRef(), { logPath: '' });
    expect(s.config.Entrypoint).toBeUndefined();
    expect(s.config.Cmd).toBeUndefined();
    const onlyArgs = containerCreateSpec(ctrConfig({ command: [], args: ['a'] }), sandboxRef(), { logPath: '' });
    expect(onlyArgs.config.Entrypoint).toBeUndefined();
    expect(onlyArgs.config.Cmd).toEqual(['a']);
  });

  it('maps the security context', () => {
    const s = containerCreateSpec(
      ctrConfig({
        linux: {
          securityContext: {
            privileged: true,
            readonlyRootfs: true,
            runAsUsername: 'nobody',
            runAsGroup: { value: 65534n },
            noNewPrivs: true,
            capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['CAP_CHOWN'] },
            supplementalGroups: [10n, 20n],
            seccomp: { profileType: cri.SecurityProfile_ProfileType.RuntimeDefault },
          },
        },
      }),
      sandboxRef({ privileged: true }),
      { logPath: '' },
    );
    expect(s.hostConfig).toMatchObject({ Privileged: true, ReadonlyRootfs: true, CapAdd: ['NET_ADMIN'], CapDrop: ['CAP_CHOWN'], GroupAdd: ['10', '20'], SecurityOpt: ['no-new-privileges'] });
    expect(s.config.User).toBe('nobody:65534');
  });

  it('refuses a privileged container in an unprivileged pod', () => {
    expect(() => containerCreateSpec(ctrConfig({ linux: { securityContext: { privileged: true } } }), sandboxRef(), { logPath: '' })).toThrow(/no privileged container allowed/);
  });

  it('maps mounts, devices and resources', () => {
    const s = containerCreateSpec(
      ctrConfig({
        mounts: [
          { containerPath: '/data', hostPath: '/srv/data', readonly: true },
          { containerPath: '/shared', hostPath: '/srv/shared', propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL },
        ],
        devices: [{ containerPath: '/dev/xnull', hostPath: '/dev/null', permissions: 'rw' }],
        linux: { resources: { cpuPeriod: 100000n, cpuQuota: 50000n, cpuShares: 512n, memoryLimitInBytes: 64n << 20n, cpusetCpus: '0', oomScoreAdj: 500n, hugepageLimits: [{ pageSize: '2MB', limit: 0n }] } },
      }),
      sandboxRef(),
      { logPath: '' },
    );
    expect(s.hostConfig.Mounts).toEqual([
      { Type: 'bind', Source: '/srv/data', Target: '/data', Readonly: true, BindOptions: { Propagation: 'rprivate' } },
      { Type: 'bind', Source: '/srv/shared', Target: '/shared', Readonly: false, BindOptions: { Propagation: 'rshared' } },
    ]);
    expect(s.hostConfig.Devices).toEqual([{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rw' }]);
    // Without CAP_SYS_RESOURCE the daemon cannot go below its own score: a lower one is raised to it.
    const guaranteed = ctrConfig({ linux: { resources: { oomScoreAdj: -997n } } });
    expect(containerCreateSpec(guaranteed, sandboxRef(), { logPath: '', oomScoreAdjFloor: 0 }).hostConfig.OomScoreAdj).toBeUndefined();
    expect(containerCreateSpec(guaranteed, sandboxRef(), { logPath: '' }).hostConfig.OomScoreAdj).toBe(-997);
    expect(s.hostConfig).toMatchObject({ CPUPeriod: 100000, CPUQuota: 50000, CPUShares: 512, Memory: 64 << 20, CpusetCpus: '0', OomScoreAdj: 500, Hugetlbs: [{ PageSize: '2MB', Limit: 0 }] });
  });

  it('needs a name and an image', () => {
    expect(() => containerCreateSpec(ctrConfig({ metadata: { name: '' } }), sandboxRef(), { logPath: '' })).toThrow(/metadata.name/);
    expect(() => containerCreateSpec(ctrConfig({ image: { image: '' } }), sandboxRef(), { logPath: '' })).toThrow(/image.image/);
  });
});

describe('pieces', () => {
  it('namespace modes default to POD', () => {
    expect(namespaceModes(undefined)).toEqual({ network: 0, pid: 0, ipc: 0, targetId: '' });
  });

  it('seccomp profiles and the deprecated paths', () => {
    const P = cri.SecurityProfile_ProfileType;
    expect(seccompOptions({ profileType: P.RuntimeDefault, localhostRef: '' }, '')).toEqual([]);
    expect(seccompOptions({ profileType: P.Unconfined, localhostRef: '' }, '')).toEqual(['seccomp=unconfined']);
    expect(seccompOptions({ profileType: P.Localhost, localhostRef: '/p.json' }, '')).toEqual(['seccomp=/p.json']);
    expect(() => seccompOptions({ profileType: P.Localhost, localhostRef: '' }, '')).toThrow(/localhost_ref/);
    expect(seccompOptions(undefined, '')).toEqual(['seccomp=unconfined']);
    expect(seccompOptions(undefined, 'runtime/default')).toEqual([]);
    expect(seccompOptions(undefined, 'localhost//etc/p.json')).toEqual(['seccomp=/etc/p.json']);
    expect(() => seccompOptions(undefined, 'weird')).toThrow(/unsupported/);
  });

  it('users', () => {
    expect(userOf(undefined)).toBe('');
    expect(userOf({ runAsUser: { value: 0n } })).toBe('0');
    expect(userOf({ runAsUsername: 'www', runAsUser: { value: 5n } })).toBe('www');
    expect(() => userOf({ runAsGroup: { value: 5n } })).toThrow(/without user/);
  });

  it('resources both ways; unset (0) stays unset', () => {
    expect(resourcesToHostConfig(undefined)).toEqual({});
    expect(resourcesToHostConfig(cri.LinuxContainerResources.fromPartial({}))).toEqual({});
    const hc = resourcesToHostConfig(cri.LinuxContainerResources.fromPartial({ memoryLimitInBytes: 1000n, memorySwapLimitInBytes: 2000n, cpusetMems: '0' }));
    expect(hc).toEqual({ Memory: 1000, MemorySwap: 2000, CpusetMems: '0' });
    expect(hostConfigToResources(hc)).toMatchObject({ memoryLimitInBytes: 1000n, memorySwapLimitInBytes: 2000n, cpusetMems: '0', cpuShares: 0n });
  });

  it('refuses mounts it cannot do', () => {
    expect(() => mountsToHostConfig([cri.Mount.fromPartial({ containerPath: '/x', image: { image: 'busybox' } })])).toThrow(/image volume/);
    expect(() => mountsToHostConfig([cri.Mount.fromPartial({ containerPath: '/x' })])).toThrow(/host_path/);
    expect(() => mountsToHostConfig([cri.Mount.fromPartial({ containerPath: '/x', hostPath: '/y', uidMappings: [{ hostId: 1, containerId: 0, length: 1 }] })])).toThrow(/id-mapped/);
  });

  it('the CRI log is the Kubernetes format at the pod log path, none without one', () => {
    expect(criLogConfig('/l/a.log')).toEqual({ driver: 'kubernetes', path: '/l/a.log', maxSize: 0, maxFile: 1, disabled: false });
    expect(criLogConfig('').disabled).toBe(true);
  });
});
