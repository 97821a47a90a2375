import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSpec, mergeEnv, resolveArgs, resolveStopSignal } from './build';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from './capabilities';
import { baseInput, ID, makeRootfs } from './test-helpers';
import { SpecError, type BuildSpecInput, type OciSpec } from './types';

const fx = makeRootfs();
afterAll(fx.cleanup);
const input = (over: Partial<BuildSpecInput> = {}) => baseInput(fx.rootfs, fx.dir, over);
const build = (over: Partial<BuildSpecInput> = {}) => buildSpec(input(over));

async function refused(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpecError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

const nsTypes = (s: OciSpec) => s.linux!.namespaces!.map((n) => n.type).sort();

describe('built-in template', () => {
  it('has the defaults: version, mounts, namespaces, device rules, masked paths, 14 caps, no rlimits', async () => {
    const s = await build();
    expect(s.ociVersion).toBe('1.0.2');
    expect(s.mounts!.map((m) => m.destination)).toEqual(
      expect.arrayContaining(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']),
    );
    expect(nsTypes(s)).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(s.linux!.resources!.devices![0]).toEqual({ allow: false, access: 'rwm' });
    expect(s.linux!.resources!.devices).toContainEqual({ allow: true, type: 'c', major: 136, access: 'rwm' });
    expect(s.linux!.maskedPaths).toContain('/proc/kcore');
    expect(s.linux!.readonlyPaths).toContain('/proc/sys');
    expect(s.process!.capabilities!.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(s.process!.rlimits).toBeUndefined();
    expect(s.root).toEqual({ path: fx.rootfs, readonly: false });
    expect(s.hostname).toBe(ID.slice(0, 12));
    expect(s.linux!.cgroupsPath).toBe(`/isulad/${ID}`);
    expect(s.linux!.seccomp!.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.linux!.seccomp!.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const shm = s.mounts!.find((m) => m.destination === '/dev/shm')!;
    expect(shm.type).toBe('tmpfs');
    expect(shm.options).toContain(`size=${64 * 1024 * 1024}`);
  });

  it('uses the template file when it exists', async () => {
    const template = join(fx.dir, 'config.json');
    writeFileSync(
      template,
      JSON.stringify({
        ociVersion: '1.0.1',
        process: { user: { uid: 0, gid: 0 }, args: ['/bin/bash'], env: ['PATH=/tpl/bin', 'TERM=xterm'], cwd: '/' },
        mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
        linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], maskedPaths: ['/proc/only-this'] },
        annotations: { 'from.template': 'yes' },
      }),
    );
    const s = await build({ paths: { template }, config: {} });
    expect(s.ociVersion).toBe('1.0.1');
    expect(s.process!.args).toEqual(['/bin/bash']); // no command anywhere: the template's args
    expect(s.process!.env).toContain('PATH=/tpl/bin');
    expect(s.linux!.maskedPaths).toEqual(['/proc/only-this']);
    expect(s.annotations!['from.template']).toBe('yes');
    // namespaces the modes need are added (network, ipc, uts private by default)
    expect(nsTypes(s)).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('an unparsable template is an error naming the file', async () => {
    const template = join(fx.dir, 'bad.json');
    writeFileSync(template, '{not json');
    await refused(build({ paths: { template } }), /^Can not read the default .*bad\.json file/);
  });

  it('no command at all → "No command specified"', async () => {
    await refused(build({ config: {} }), 'No command specified');
  });
});

describe('entrypoint / cmd merge', () => {
  const img = { Entrypoint: ['/entry'], Cmd: ['img-cmd'] };
  it.each<[string, { Entrypoint?: string[]; Cmd?: string[] }, string[]]>([
    ['image only', {}, ['/entry', 'img-cmd']],
    ['container Cmd replaces image Cmd', { Cmd: ['c'] }, ['/entry', 'c']],
    ['container Entrypoint drops image Cmd', { Entrypoint: ['/e2'] }, ['/e2']],
    ['container Entrypoint + Cmd', { Entrypoint: ['/e2'], Cmd: ['x'] }, ['/e2', 'x']],
    ['Entrypoint [""] resets the entrypoint', { Entrypoint: [''], Cmd: ['ls'] }, ['ls']],
    ['empty arrays count as not given', { Entrypoint: [], Cmd: [] }, ['/entry', 'img-cmd']],
  ])('%s', (_t, cfg, want) => {
    expect(resolveArgs(cfg, img)).toEqual(want);
  });

  it('goes into process.args', async () => {
    const s = await build({ config: { Cmd: ['-l'] }, imageConfig: { config: { Entrypoint: ['ls'], Cmd: ['-a'] } } });
    expect(s.process!.args).toEqual(['ls', '-l']);
  });
});

describe('env, cwd, terminal', () => {
  it('image env then container env, later wins by key, PATH default, HOSTNAME, TERM with tty', async () => {
    const s = await build({
      config: { Cmd: ['sh'], Env: ['B=container', 'C=3'], Tty: true, Hostname: 'box' },
      imageConfig: { config: { Env: ['A=1', 'B=image'] } },
    });
    const env = s.process!.env!;
    expect(env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env).toContain('HOSTNAME=box');
    expect(env).toContain('TERM=xterm');
    expect(env).toContain('A=1');
    expect(env).toContain('B=container');
    expect(env).not.toContain('B=image');
    expect(s.process!.terminal).toBe(true);
    expect(s.hostname).toBe('box');
  });

  it('image PATH replaces the default, no TERM without tty', async () => {
    const s = await build({ imageConfig: { config: { Env: ['PATH=/opt/bin'] } } });
    expect(s.process!.env!.filter((e) => e.startsWith('PATH='))).toEqual(['PATH=/opt/bin']);
    expect(s.process!.env!.some((e) => e.startsWith('TERM='))).toBe(false);
    expect(s.process!.terminal).toBe(false);
  });

  it('mergeEnv keeps first position', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['A=3'])).toEqual(['A=3', 'B=2']);
  });

  it('WorkingDir: container, else image, else /', async () => {
    expect((await build()).process!.cwd).toBe('/');
    expect((await build({ imageConfig: { config: { WorkingDir: '/srv' } } })).process!.cwd).toBe('/srv');
    expect((await build({ config: { Cmd: ['sh'], WorkingDir: '/app' }, imageConfig: { config: { WorkingDir: '/srv' } } })).process!.cwd).toBe('/app');
  });
});

describe('user', () => {
  it('default root with gid from passwd', async () => {
    const s = await build();
    expect(s.process!.user).toMatchObject({ uid: 0, gid: 0 });
  });

  it('a name from the rootfs passwd, its groups, GroupAdd', async () => {
    const s = await build({ config: { Cmd: ['sh'], User: 'app' }, hostConfig: { GroupAdd: ['video', '4242'] } });
    expect(s.process!.user).toEqual({ uid: 1000, gid: 1000, umask: 0o027, additionalGids: [10, 29, 44, 4242] });
  });

  it('the image user when the container gives none', async () => {
    const s = await build({ imageConfig: { config: { User: 'daemon' } } });
    expect(s.process!.user).toMatchObject({ uid: 1, gid: 1 });
  });

  it('numeric uid:gid needs no passwd entry', async () => {
    const s = await build({ config: { Cmd: ['sh'], User: '5000:6000' } });
    expect(s.process!.user).toMatchObject({ uid: 5000, gid: 6000 });
    expect(s.process!.user.additionalGids).toBeUndefined();
  });

  it('unknown names are errors', async () => {
    await refused(build({ config: { Cmd: ['sh'], User: 'nobody2' } }), 'Unable to find user nobody2: no matching entries in passwd file');
    await refused(build({ config: { Cmd: ['sh'], User: 'app:nogroup' } }), 'Unable to find group nogroup: no matching entries in group file');
    await refused(build({ hostConfig: { GroupAdd: ['nogroup'] } }), 'Unable to find group nogroup: no matching entries in group file');
  });
});

describe('native.umask', () => {
  it.each<[string | undefined, string | undefined, number, string]>([
    [undefined, 'normal', 0o022, 'normal'],
    [undefined, 'secure', 0o027, 'secure'],
    [undefined, '', 0o027, 'secure'],
    ['normal', 'secure', 18, 'normal'],
    ['secure', 'normal', 23, 'secure'],
  ])('annotation %j over daemon %j → %i', async (anno, daemon, mask, value) => {
    const s = await build({
      config: { Cmd: ['sh'], Annotations: anno === undefined ? {} : { 'native.umask': anno } },
      daemon: { nativeUmask: daemon },
    });
    expect(s.process!.user.umask).toBe(mask);
    expect(s.annotations!['native.umask']).toBe(value);
  });

  it('a bad value is refused with upstream text', async () => {
    await refused(build({ config: { Cmd: ['sh'], Annotations: { 'native.umask': '0022' } } }), 'native.umask option 0022 not supported');
  });
});

describe('ulimits', () => {
  it('container ulimits, then daemon defaults for the other names, clamped to the host hard limits', async () => {
    const s = await build({
      hostConfig: { Ulimits: [{ Name: 'nofile', Soft: 65536, Hard: 65536 }] },
      daemon: {
        defaultUlimits: {
          nofile: { name: 'nofile', soft: 1, hard: 2 },
          nproc: { name: 'nproc', soft: 200000, hard: 300000 },
          core: { name: 'core', soft: 0, hard: 0 },
        },
      },
    });
    expect(s.process!.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
      { type: 'RLIMIT_NPROC', soft: 96365, hard: 96365 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ]);
  });

  it('a list of daemon defaults works too; soft stays when under the clamp', async () => {
    const s = await build({ daemon: { defaultUlimits: [{ name: 'nofile', soft: 1024, hard: 65536 }] } });
    expect(s.process!.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 }]);
  });

  it('unknown names and soft > hard are refused', async () => {
    await refused(build({ hostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } }), 'Invalid ulimit type: bogus');
    await refused(build({ hostConfig: { Ulimits: [{ Name: 'nofile', Soft: 2, Hard: 1 }] } }), /soft limit must be less than or equal/);
  });
});

describe('capabilities and privileged', () => {
  it('cap add/drop with and without CAP_ prefix, any case', async () => {
    const s = await build({ hostConfig: { CapAdd: ['net_admin', 'CAP_SYS_PTRACE'], CapDrop: ['MKNOD', 'cap_kill'] } });
    const caps = s.process!.capabilities!.bounding!;
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).toContain('CAP_SYS_PTRACE');
    expect(caps).not.toContain('CAP_MKNOD');
    expect(caps).not.toContain('CAP_KILL');
    expect(s.process!.capabilities!.effective).toEqual(caps);
    // CAP_SYS_PTRACE unlocks ptrace in the default seccomp profile
    expect(s.linux!.seccomp!.syscalls!.some((r) => r.names.includes('kcmp'))).toBe(true);
  });

  it('cap-add ALL gives every capability the host has; cap-drop ALL keeps only the added ones', async () => {
    const hostCaps = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const all = await build({ hostConfig: { CapAdd: ['ALL'], CapDrop: ['NET_RAW'] }, host: { capabilities: hostCaps } });
    expect(all.process!.capabilities!.bounding).toEqual(hostCaps.filter((c) => c !== 'CAP_NET_RAW'));
    const none = await build({ hostConfig: { CapDrop: ['all'], CapAdd: ['chown'] } });
    expect(none.process!.capabilities!.bounding).toEqual(['CAP_CHOWN']);
  });

  it('an unknown capability is an error', async () => {
    await refused(build({ hostConfig: { CapAdd: ['FLY'] } }), 'Unknown capability to add or drop: "FLY"');
  });

  it('privileged: all caps, no masked/readonly paths, all devices, no seccomp, rw sysfs', async () => {
    const s = await build({
      hostConfig: { Privileged: true },
      host: { devices: [{ path: '/dev/sda', type: 'b', major: 8, minor: 0 }] },
    });
    expect(s.process!.capabilities!.bounding).toEqual([...ALL_CAPABILITIES]);
    expect(s.linux!.maskedPaths).toBeUndefined();
    expect(s.linux!.readonlyPaths).toBeUndefined();
    expect(s.linux!.resources!.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(s.linux!.devices).toContainEqual({ path: '/dev/sda', type: 'b', major: 8, minor: 0 });
    expect(s.linux!.seccomp).toBeUndefined();
    expect(s.mounts!.find((m) => m.destination === '/sys')!.options).not.toContain('ro');
  });
});

describe('security-opt', () => {
  it('seccomp=unconfined drops the filter; no-new-privileges sets the flag; label is ignored', async () => {
    const s = await build({ hostConfig: { SecurityOpt: ['seccomp=unconfined', 'no-new-privileges', 'label=disable'] } });
    expect(s.linux!.seccomp).toBeUndefined();
    expect(s.process!.noNewPrivileges).toBe(true);
  });

  it('seccomp=<file> loads that profile', async () => {
    const file = join(fx.dir, 'profile.json');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] }));
    const s = await build({ hostConfig: { SecurityOpt: [`seccomp=${file}`] } });
    expect(s.linux!.seccomp).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }],
    });
  });

  it('the daemon default profile file is used when present', async () => {
    const seccompDefault = join(fx.dir, 'seccomp_default.json');
    writeFileSync(seccompDefault, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG', syscalls: [] }));
    const s = await build({ paths: { template: join(fx.dir, 'absent'), seccompDefault } });
    expect(s.linux!.seccomp!.defaultAction).toBe('SCMP_ACT_LOG');
  });

  it('bad options are refused', async () => {
    await refused(build({ hostConfig: { SecurityOpt: ['apparmor'] } }), 'invalid --security-opt: apparmor');
    await refused(build({ hostConfig: { SecurityOpt: ['seccomp=/no/such/profile.json'] } }), /^opening seccomp profile \(\/no\/such\/profile\.json\) failed/);
  });
});

describe('sysctl', () => {
  it.each([
    ['kernel.msgmax', '65536', {}],
    ['kernel.shmmax', '1', {}],
    ['kernel.sem', '250 32000 100 128', {}],
    ['fs.mqueue.msg_max', '10', {}],
    ['net.ipv4.ip_forward', '1', {}],
  ])('%s is allowed', async (key, value, hc) => {
    const s = await build({ hostConfig: { ...hc, Sysctls: { [key]: value } } });
    expect(s.linux!.sysctl).toEqual({ [key]: value });
  });

  it.each<[string, object, string]>([
    ['kernel.hostname', {}, 'sysctl "kernel.hostname" is not allowed'],
    ['vm.swappiness', {}, 'sysctl "vm.swappiness" is not allowed'],
    ['net.ipv4.ip_forward', { NetworkMode: 'host' }, 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'],
    ['kernel.shmmax', { IpcMode: 'host' }, 'sysctl "kernel.shmmax" is not allowed in host ipc namespace'],
  ])('%s with %j is refused', async (key, hc, msg) => {
    await refused(build({ hostConfig: { ...hc, Sysctls: { [key]: '1' } } }), msg);
  });
});

describe('namespaces', () => {
  it('host drops the namespace (uts host also drops the hostname)', async () => {
    const s = await build({ hostConfig: { NetworkMode: 'host', PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } });
    expect(nsTypes(s)).toEqual(['mount']);
    expect(s.hostname).toBeUndefined();
    expect(s.mounts!.find((m) => m.destination === '/dev/shm')).toEqual({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
    expect(s.annotations!['host.network.mode']).toBe('host');
  });

  it('none keeps a private network namespace', async () => {
    const s = await build({ hostConfig: { NetworkMode: 'none' } });
    expect(s.linux!.namespaces).toContainEqual({ type: 'network' });
  });

  it('container:<x> joins /proc/<pid>/ns/<type> of that container', async () => {
    const seen: string[] = [];
    const s = await build({
      hostConfig: { NetworkMode: 'container:db', IpcMode: 'container:db', PidMode: 'container:db' },
      resolvePid: (ref) => {
        seen.push(ref);
        return 4321;
      },
    });
    expect(s.linux!.namespaces).toContainEqual({ type: 'network', path: '/proc/4321/ns/net' });
    expect(s.linux!.namespaces).toContainEqual({ type: 'ipc', path: '/proc/4321/ns/ipc' });
    expect(s.linux!.namespaces).toContainEqual({ type: 'pid', path: '/proc/4321/ns/pid' });
    expect(seen).toEqual(['db', 'db', 'db']);
  });

  it('container:<x> not running → error', async () => {
    await refused(build({ hostConfig: { NetworkMode: 'container:db' }, resolvePid: () => undefined }), 'Container db is not running');
    await refused(
      build({
        hostConfig: { NetworkMode: 'container:db' },
        resolvePid: () => {
          throw new Error('Container db is not running');
        },
      }),
      'Container db is not running',
    );
  });

  it('userns remap adds a user namespace and mappings; --userns=host disables it', async () => {
    const s = await build({ daemon: { usernsRemap: '100000:100000:65536' } });
    expect(s.linux!.namespaces).toContainEqual({ type: 'user' });
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    const h = await build({ daemon: { usernsRemap: '100000:100000:65536' }, hostConfig: { UsernsMode: 'host' } });
    expect(h.linux!.uidMappings).toBeUndefined();
    expect(nsTypes(h)).not.toContain('user');
    await refused(build({ hostConfig: { UserRemap: '1:2' } }), /^Invalid user remap specification: 1:2/);
  });
});

describe('resources', () => {
  it('memory, cpu, pids, blkio, hugetlb, oom score', async () => {
    const s = await build({
      hostConfig: {
        Memory: 512 * 1024 * 1024,
        MemorySwap: 1024 * 1024 * 1024,
        MemoryReservation: 256 * 1024 * 1024,
        MemorySwappiness: 10,
        OomKillDisable: true,
        CPUShares: 512,
        NanoCpus: 1_500_000_000,
        CpusetCpus: '0-1',
        CpusetMems: '0',
        PidsLimit: 100,
        BlkioWeight: 300,
        BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }],
        BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: 1048576 }],
        BlkioDeviceWriteIops: [{ Path: '/dev/sda', Rate: 100 }],
        Hugetlbs: [{ PageSize: '2M', Limit: 1073741824 }],
        OomScoreAdj: 500,
      },
    });
    const r = s.linux!.resources!;
    expect(r.memory).toEqual({ limit: 536870912, swap: 1073741824, reservation: 268435456, swappiness: 10, disableOOMKiller: true });
    expect(r.cpu).toEqual({ shares: 512, period: 100000, quota: 150000, cpus: '0-1', mems: '0' });
    expect(r.pids).toEqual({ limit: 100 });
    expect(r.blockIO).toEqual({
      weight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    });
    expect(r.hugepageLimits).toEqual([{ pageSize: '2MB', limit: 1073741824 }]);
    expect(s.process!.oomScoreAdj).toBe(500);
    expect(s.annotations!['proc.oom_score_adj']).toBe('500');
  });

  it('CPUPeriod/CPUQuota pass through; swap = 2×memory with swap accounting', async () => {
    const s = await build({ hostConfig: { CPUPeriod: 50000, CPUQuota: 25000, Memory: 64 * 1024 * 1024 }, host: { swapAccounting: true } });
    expect(s.linux!.resources!.cpu).toEqual({ period: 50000, quota: 25000 });
    expect(s.linux!.resources!.memory).toEqual({ limit: 67108864, swap: 134217728 });
  });

  it('devices get nodes and cgroup rules', async () => {
    const s = await build({ hostConfig: { Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rw' }], DeviceCgroupRules: ['c 10:232 rwm'] } });
    expect(s.linux!.devices).toContainEqual({ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 });
    expect(s.linux!.resources!.devices).toContainEqual({ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
    expect(s.linux!.resources!.devices).toContainEqual({ allow: true, type: 'c', major: 10, minor: 232, access: 'rwm' });
  });

  it('invalid values are refused', async () => {
    await refused(build({ hostConfig: { Memory: 1024 } }), 'Minimum memory limit allowed is 4MB');
    await refused(build({ hostConfig: { NanoCpus: 1e9, CPUQuota: 50000 } }), 'Conflicting options: Nano CPUs and CPU Quota cannot both be set.');
    await refused(build({ hostConfig: { Devices: [{ PathOnHost: '/dev/nope' }] } }), /^Failed to get device information of device "\/dev\/nope"/);
    await refused(build({ hostConfig: { OomScoreAdj: 5000 } }), 'Invalid value 5000, range for oom score adj is [-1000, 1000]');
  });
});

describe('mounts, cgroups path, hooks', () => {
  it('etc files, caller mounts sorted by depth, ShmSize, read-only rootfs', async () => {
    const s = await build({
      hostConfig: { ShmSize: 1048576, ReadonlyRootfs: true },
      hostnamePath: '/b/hostname',
      hostsPath: '/b/hosts',
      resolvConfPath: '/b/resolv.conf',
      mounts: [
        { source: '/host/a/b', destination: '/data/sub', type: 'bind', options: ['rbind', 'ro'] },
        { source: '/host/a', destination: '/data', type: 'bind', options: ['rbind'] },
      ],
    });
    expect(s.root!.readonly).toBe(true);
    const dests = s.mounts!.map((m) => m.destination);
    expect(dests.indexOf('/data')).toBeLessThan(dests.indexOf('/data/sub'));
    expect(s.mounts).toContainEqual({ destination: '/etc/hosts', type: 'bind', source: '/b/hosts', options: ['rbind', 'rprivate', 'ro'] });
    expect(s.mounts!.find((m) => m.destination === '/dev/shm')!.options).toContain('size=1048576');
  });

  it('a caller mount on /dev/shm replaces the default one', async () => {
    const s = await build({ mounts: [{ source: '/host/shm', destination: '/dev/shm', type: 'bind', options: ['rbind'] }] });
    expect(s.mounts!.filter((m) => m.destination === '/dev/shm')).toEqual([{ source: '/host/shm', destination: '/dev/shm', type: 'bind', options: ['rbind'] }]);
  });

  it('cgroupsPath: container CgroupParent, else daemon cgroup-parent, else /isulad', async () => {
    expect((await build({ daemon: { cgroupParent: 'lxc/mycgroup' } })).linux!.cgroupsPath).toBe(`lxc/mycgroup/${ID}`);
    expect((await build({ daemon: { cgroupParent: '/d' }, hostConfig: { CgroupParent: '/c/' } })).linux!.cgroupsPath).toBe(`/c/${ID}`);
    const s = await build();
    expect(s.annotations!['cgroup.dir']).toBe('/isulad');
  });

  it('hook spec files (container then daemon) are merged into hooks', async () => {
    const hookDir = join(fx.dir, 'hooks');
    mkdirSync(hookDir, { recursive: true });
    const daemonHooks = join(hookDir, 'default.json');
    const ctrHooks = join(hookDir, 'ctr.json');
    writeFileSync(daemonHooks, JSON.stringify({ prestart: [{ path: '/usr/bin/d-pre' }], poststop: [{ path: '/usr/bin/d-post', timeout: 5 }] }));
    writeFileSync(ctrHooks, JSON.stringify({ prestart: [{ path: '/usr/bin/c-pre', args: ['c-pre', 'x'] }] }));
    const s = await build({ daemon: { hookSpec: daemonHooks }, hostConfig: { HookSpec: ctrHooks } });
    expect(s.hooks).toEqual({
      prestart: [{ path: '/usr/bin/c-pre', args: ['c-pre', 'x'] }, { path: '/usr/bin/d-pre' }],
      poststop: [{ path: '/usr/bin/d-post', timeout: 5 }],
    });
    await refused(build({ hostConfig: { HookSpec: join(hookDir, 'missing.json') } }), /^Stat hook spec file failed/);
  });
});

describe('annotations', () => {
  it('container annotations are copied and log annotations added (json-file defaults)', async () => {
    const s = await build({ config: { Cmd: ['sh'], Annotations: { 'my.key': 'v' } } });
    expect(s.annotations).toMatchObject({
      'my.key': 'v',
      'log.console.driver': 'json-file',
      'log.console.file': join(fx.dir, 'engines', 'runc', ID, 'console.log'),
      'log.console.filerotate': '7',
      'log.console.filesize': '1MB',
      'native.umask': 'secure',
    });
  });

  it('disable-log=true from the daemon → log.console.file none', async () => {
    const s = await build({ daemon: { log: { driver: 'json-file', opts: { 'disable-log': 'true', 'max-file': '3' } } } });
    expect(s.annotations!['log.console.file']).toBe('none');
    expect(s.annotations!['log.console.filerotate']).toBe('3');
  });
});

describe('resolveStopSignal', () => {
  it.each<[string | undefined, string | undefined, number]>([
    [undefined, undefined, 15],
    ['SIGKILL', undefined, 9],
    [undefined, 'SIGQUIT', 3],
    ['usr1', 'SIGQUIT', 10],
    ['2', undefined, 2],
  ])('container %j image %j → %i', (c, i, want) => {
    expect(resolveStopSignal({ StopSignal: c }, { config: { StopSignal: i } })).toBe(want);
  });

  it('invalid → "Invalid signal: <s>"', () => {
    expect(() => resolveStopSignal({ StopSignal: 'SIGFOO' })).toThrow('Invalid signal: SIGFOO');
  });
});
