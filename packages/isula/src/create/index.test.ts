import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findIsulaCommand, parseArgs } from '@isula/argv';
import { buildCreateRequest } from './index';
import { usageErrorOf } from './test-util';

const runOptions = findIsulaCommand('run')!.options;
const createOptions = findIsulaCommand('create')!.options;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isula-create-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function build(argv: string[], command: 'create' | 'run' = 'create', env: NodeJS.ProcessEnv = {}) {
  const parsed = parseArgs(argv, command === 'run' ? runOptions : createOptions);
  return buildCreateRequest(parsed.values, parsed.positionals, env, { command });
}

describe('buildCreateRequest', () => {
  it('minimal create', () => {
    expect(build(['busybox'])).toEqual({
      image: 'busybox',
      pull: 'missing',
      warnings: [],
      hostConfig: {
        Privileged: false,
        SystemContainer: false,
        AutoRemove: false,
        AutoRemoveBak: false,
        ReadonlyRootfs: false,
        OomKillDisable: false,
        RestartPolicy: { Name: 'no' },
      },
      config: { AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false },
    });
  });

  it('a full run command line', () => {
    const envFile = path.join(dir, 'app.env');
    fs.writeFileSync(envFile, '# defaults\nMODE=dev\nLEVEL=1\n');
    const r = build(
      [
        '-itd', '--name', 'web', '-h', 'web01', '-u', 'app:app', '--workdir', '/srv', '--entrypoint', '/bin/sh',
        '-e', 'A=1', '-e', 'HOME', '--env-file', envFile, '-l', 'tier=front', '--annotation', 'note=x',
        '-v', '/host/data:/data:ro', '-v', '/cache', '--mount', 'type=bind,src=/etc/ssl,dst=/ssl,ro',
        '--tmpfs', '/run:size=64m',
        '-m', '512m', '--memory-swap', '1g', '--memory-reservation', '256m', '--kernel-memory', '64m', '--shm-size', '128m',
        '--cpu-shares', '512', '--cpu-period', '100000', '--cpu-quota', '50000', '--cpus', '1.5',
        '--cpuset-cpus', '0-1', '--cpuset-mems', '0', '--blkio-weight', '300', '--device-read-bps', '/dev/sda:1mb',
        '--pids-limit', '100', '--files-limit', '1024', '--oom-score-adj', '-100', '--oom-kill-disable',
        '--ulimit', 'nofile=1024:2048', '--cap-add', 'NET_ADMIN', '--cap-drop', 'MKNOD', '--privileged',
        '--security-opt', 'no-new-privileges', '--sysctl', 'net.ipv4.ip_forward=1', '--read-only', '--rm',
        '-R', 'runc', '--pull', 'never', '--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3',
        '--health-cmd', 'true', '--health-interval', '30s', '--health-retries', '2', '--stop-signal', 'SIGINT',
        '--add-host', 'db:10.0.0.2', '--dns', '8.8.8.8', '--dns-opt', 'ndots:2', '--dns-search', 'example.com',
        '--group-add', 'audio', '--cgroup-parent', '/isula', '--net', 'host', '--ipc', 'host', '--pid', 'host', '--uts', 'host',
        '--device', '/dev/fuse',
        'busybox', 'sh', '-c', 'echo hi',
      ],
      'run',
      { HOME: '/root' },
    );
    expect(r.name).toBe('web');
    expect(r.image).toBe('busybox');
    expect(r.runtime).toBe('runc');
    expect(r.pull).toBe('never');
    expect(r.warnings).toEqual([]);
    expect(r.config).toEqual({
      Hostname: 'web01',
      User: 'app:app',
      AttachStdin: true,
      AttachStdout: false,
      AttachStderr: false,
      Tty: true,
      OpenStdin: true,
      Env: ['MODE=dev', 'LEVEL=1', 'A=1', 'HOME=/root'],
      Cmd: ['sh', '-c', 'echo hi'],
      WorkingDir: '/srv',
      Entrypoint: ['/bin/sh'],
      Labels: { tier: 'front' },
      LogDriver: 'json-file',
      Annotations: { 'log.console.filesize': '10m', 'log.console.filerotate': '3', note: 'x' },
      StopSignal: 'SIGINT',
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 0, StartPeriod: 0, Retries: 2, ExitOnUnhealthy: false },
    });
    const MB = 1024 * 1024;
    expect(r.hostConfig).toEqual({
      Binds: ['/host/data:/data:ro', '/cache'],
      Mounts: [{ Type: 'bind', Source: '/etc/ssl', Target: '/ssl', Readonly: true }],
      Tmpfs: { '/run': 'size=64m' },
      NetworkMode: 'host',
      IpcMode: 'host',
      PidMode: 'host',
      UTSMode: 'host',
      GroupAdd: ['audio'],
      Privileged: true,
      SystemContainer: false,
      AutoRemove: true,
      AutoRemoveBak: true,
      ReadonlyRootfs: true,
      OomKillDisable: true,
      ShmSize: 128 * MB,
      Sysctls: { 'net.ipv4.ip_forward': '1' },
      Runtime: 'runc',
      RestartPolicy: { Name: 'no' },
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['MKNOD'],
      Dns: ['8.8.8.8'],
      DnsOptions: ['ndots:2'],
      DnsSearch: ['example.com'],
      ExtraHosts: ['db:10.0.0.2'],
      CPUShares: 512,
      Memory: 512 * MB,
      OomScoreAdj: -100,
      BlkioWeight: 300,
      BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: MB }],
      NanoCpus: 1.5e9,
      CPUPeriod: 100000,
      CPUQuota: 50000,
      CpusetCpus: '0-1',
      CpusetMems: '0',
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
      SecurityOpt: ['no-new-privileges'],
      KernelMemory: 64 * MB,
      MemoryReservation: 256 * MB,
      MemorySwap: 1024 * MB,
      PidsLimit: 100,
      FilesLimit: 1024,
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      CgroupParent: '/isula',
    });
    // The JSON strings sent as CreateRequest.hostconfig / customconfig.
    expect(JSON.parse(JSON.stringify(r.hostConfig)).RestartPolicy).toEqual({ Name: 'no' });
  });

  it('run without -d attaches stdout/stderr (and stdin with -i)', () => {
    expect(build(['busybox'], 'run').config).toMatchObject({ AttachStdin: false, AttachStdout: true, AttachStderr: true });
    expect(build(['-i', 'busybox'], 'run').config).toMatchObject({ AttachStdin: true, AttachStdout: true, OpenStdin: true });
    expect(build(['-d', 'busybox'], 'run').config).toMatchObject({ AttachStdout: false, AttachStderr: false });
  });

  it('restart policy with retries', () => {
    expect(build(['--restart', 'on-failure:3', 'busybox']).hostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
  });

  it('--oom-kill-disable without -m warns', () => {
    expect(build(['--oom-kill-disable', 'busybox']).warnings).toEqual([
      "WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.",
    ]);
  });

  it('--no-healthcheck and swappiness', () => {
    const r = build(['--no-healthcheck', '--memory-swappiness', '10', 'busybox']);
    expect(r.config.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(r.hostConfig.MemorySwappiness).toBe(10);
    expect(build(['--memory-swappiness', '-1', 'busybox']).hostConfig.MemorySwappiness).toBeUndefined();
  });

  it('--external-rootfs resolves to a real path', () => {
    const r = build(['--external-rootfs', dir, 'none']);
    expect(r.rootfs).toBe(fs.realpathSync(dir));
    expect(usageErrorOf(() => build(['--external-rootfs', path.join(dir, 'nope'), 'x']))).toBe(
      `Failed to get rootfs '${path.join(dir, 'nope')}': No such file or directory`,
    );
  });

  it.each([
    [['-m', 'lots', 'busybox'], 'Invalid value "lots" for flag --memory'],
    [['--cpu-shares', 'x', 'busybox'], 'Invalid argument - Invalid value "x" for flag --cpu-shares'],
    [['--restart', 'sometimes', 'busybox'], "Invalid restart policy 'sometimes'"],
    [['--rm', '--restart', 'always', 'busybox'], "Can't create 'AutoRemove' container with restart policy"],
    [['--log-driver', 'journald', 'busybox'], 'Invalid value "journald" for flag --log-driver'],
    [['--log-opt', 'bogus=1', 'busybox'], 'Invalid option: bogus=1'],
    [['--pull', 'sometimes', 'busybox'], 'Invalid value "sometimes" for flag --pull'],
    [['--name', '-bad', 'busybox'], 'Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed.'],
    [['--add-host', 'db', 'busybox'], "Invalid extra hosts specification 'db'. unsupported format"],
    [['--add-host', 'db:1.2.3', 'busybox'], "Invalid host ip address '1.2.3'."],
    [['--dns', 'dns.local', 'busybox'], "Invalid dns ip address 'dns.local'."],
    [['--cap-add', 'FLY', 'busybox'], "Unknown capability to add: 'FLY'"],
    [['--security-opt', 'apparmor=x', 'busybox'], 'Invalid --security-opt: apparmor=x'],
    [['--sysctl', 'kernel.panic=1', 'busybox'], "Sysctl 'kernel.panic' is not whitelist"],
    [['--sysctl', 'net.x', 'busybox'], "Invalid sysctl option 'net.x'"],
    [['--hook-spec', 'rel.json', 'busybox'], 'Hook path "rel.json" must be an absolute path'],
    [['--hook-spec', '/no/such/hook.json', 'busybox'], 'Stat hook spec file failed: No such file or directory'],
    [['--ns-change-opt', 'net', 'busybox'], 'Unsupported ns-change-opt param in normal container'],
    [['--user-remap', '1:1:1', 'busybox'], '--user-remap only available for system container'],
    [['--env-target-file', 'env', 'busybox'], 'env target file path must be absolute path'],
    [[], '"create" requires a minimum of 1 argument.'],
  ])('%j → %s', (argv, msg) => {
    expect(usageErrorOf(() => build(argv))).toBe(msg);
  });

  it('invalid hostname', () => {
    expect(usageErrorOf(() => build(['-h', 'bad_host', 'busybox']))).toMatch(
      /^Invalid container hostname \(bad_host\), only .* and less than 64 bytes are allowed\.$/,
    );
  });

  it('system container with ns-change-opt', () => {
    const r = build(['--system-container', '--ns-change-opt', 'net', 'busybox']);
    expect(r.hostConfig.NsChangeFiles).toEqual(['/proc/sys/net']);
    expect(r.config.NsChangeOpt).toBe('net');
    expect(r.config.SystemContainer).toBe(true);
  });
});
