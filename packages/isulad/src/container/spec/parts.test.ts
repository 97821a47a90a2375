import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capabilitiesFromMask } from './capabilities';
import { resolveLogConfig } from './log';
import { compileSeccomp, DEFAULT_SECCOMP_PROFILE } from './seccomp';
import { parseSignal, signalName } from './signals';
import { makeRootfs } from './test-helpers';
import { SpecError } from './types';
import { resolveUser, secureJoin } from './user';
import { splitDevNumber } from './resources';

describe('parseSignal', () => {
  it.each<[string, number]>([
    ['TERM', 15],
    ['SIGTERM', 15],
    ['sigkill', 9],
    ['hup', 1],
    ['9', 9],
    ['64', 64],
    ['RTMIN', 34],
    ['SIGRTMIN+1', 35],
    ['RTMAX-1', 63],
    ['SIGWINCH', 28],
  ])('%j → %i', (s, n) => {
    expect(parseSignal(s)).toBe(n);
  });

  it.each(['0', '65', 'FOO', 'SIG', '', '-1', '1.5'])('%j → Invalid signal', (s) => {
    expect(() => parseSignal(s)).toThrow(SpecError);
    expect(() => parseSignal(s)).toThrow(`Invalid signal: ${s}`);
  });

  it('signalName', () => {
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(6)).toBe('SIGABRT');
  });
});

describe('user lookup stays inside the rootfs', () => {
  const fx = makeRootfs();
  afterAll(fx.cleanup);

  it('secureJoin resolves absolute and .. symlinks inside the root', async () => {
    const root = join(fx.dir, 'jail');
    mkdirSync(join(root, 'etc'), { recursive: true });
    symlinkSync('/etc/shadow-outside', join(root, 'etc', 'abs'));
    symlinkSync('../../../../../etc', join(root, 'up'));
    expect(await secureJoin(root, '/etc/abs')).toBe(join(root, 'etc', 'shadow-outside'));
    expect(await secureJoin(root, '/up/passwd')).toBe(join(root, 'etc', 'passwd'));
    expect(await secureJoin(root, '../../x')).toBe(join(root, 'x'));
  });

  it('an /etc/passwd symlinked to the host file is read inside the rootfs', async () => {
    const root = join(fx.dir, 'evil');
    mkdirSync(join(root, 'etc'), { recursive: true });
    // points at the host's /etc/passwd; must resolve to <root>/etc/real-passwd... which does not exist
    symlinkSync('/etc/real-passwd', join(root, 'etc', 'passwd'));
    await expect(resolveUser(root, 'root')).rejects.toThrow('Unable to find user root: no matching entries in passwd file');
    writeFileSync(join(root, 'etc', 'real-passwd'), 'root:x:0:7::/root:/bin/sh\n');
    expect(await resolveUser(root, 'root')).toEqual({ uid: 0, gid: 7, additionalGids: [], username: 'root' });
  });

  it('user:gid by number and name', async () => {
    expect(await resolveUser(fx.rootfs, 'app:wheel')).toEqual({ uid: 1000, gid: 10, additionalGids: [], username: 'app' });
    expect(await resolveUser(fx.rootfs, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 29], username: 'app' });
    await expect(resolveUser(fx.rootfs, 'app:')).rejects.toThrow('Invalid user format: app:');
  });
});

describe('resolveLogConfig', () => {
  const ctx = { id: 'abcdef0123456789abcdef', name: 'web', imageName: 'busybox:latest' };

  it('json-file defaults for the monitor', () => {
    const r = resolveLogConfig({}, {}, { driver: 'json-file', opts: {} }, '/g/engines/runc/x/', ctx);
    expect(r).toMatchObject({ driver: 'json-file', path: '/g/engines/runc/x/console.log', maxSize: 1048576, maxFile: 7, disabled: false });
  });

  it('container annotations override the daemon options; sizes become bytes', () => {
    const r = resolveLogConfig(
      { Annotations: { 'log.console.filesize': '30KB' } },
      {},
      { driver: 'json-file', opts: { 'max-size': '10MB', 'max-file': '2' } },
      '/b',
      ctx,
    );
    expect(r.maxSize).toBe(30 * 1024);
    expect(r.maxFile).toBe(2);
    expect(r.annotations['log.console.filesize']).toBe('30KB');
  });

  it('a Docker-style LogConfig works too, and disable-log', () => {
    const r = resolveLogConfig({}, { LogConfig: { Type: 'json-file', Config: { 'disable-log': 'true' } } }, undefined, '/b', ctx);
    expect(r).toMatchObject({ disabled: true, path: '', annotations: { 'log.console.file': 'none' } });
  });

  it('syslog: tag templates, facility; daemon json-file opts do not apply to another driver', () => {
    const r = resolveLogConfig(
      { LogDriver: 'syslog', Annotations: { 'log.console.tag': 'app-{{.Name}}-{{.ID}}', 'log.console.facility': 'local1' } },
      {},
      { driver: 'json-file', opts: { 'max-file': '3' } },
      '/b',
      ctx,
    );
    expect(r).toMatchObject({ driver: 'syslog', path: '', syslogTag: 'app-web-abcdef012345', syslogFacility: 'local1' });
    expect(r.annotations).toEqual({ 'log.console.driver': 'syslog', 'log.console.tag': 'app-web-abcdef012345', 'log.console.facility': 'local1' });
  });

  it('refuses options the driver does not support and bad values', () => {
    expect(() => resolveLogConfig({ LogDriver: 'syslog', Annotations: { 'log.console.filesize': '1MB' } }, {}, undefined, '/b', ctx)).toThrow(
      'container log driver: syslog, unsupport: log.console.filesize',
    );
    expect(() => resolveLogConfig({ LogDriver: 'journald' }, {}, undefined, '/b', ctx)).toThrow('Unsupported log driver: journald');
    expect(() => resolveLogConfig({ Annotations: { 'log.console.filerotate': '0' } }, {}, undefined, '/b', ctx)).toThrow("Invalid option 'max-file', value:0");
    expect(() => resolveLogConfig({ LogDriver: 'syslog', Annotations: { 'log.console.tag': '{{.Bogus}}' } }, {}, undefined, '/b', ctx)).toThrow(
      'container syslog tag: unsupport: {{.Bogus}}',
    );
  });
});

describe('seccomp compilation', () => {
  const names = (caps: string[], arch: string) =>
    compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: caps, arch }).syscalls!.flatMap((r) => r.names);

  it('aarch64 gets its arches and arm-only calls, not x86 ones', () => {
    const s = compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: [], arch: 'aarch64' });
    expect(s.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(names([], 'arm64')).toContain('set_tls');
    expect(names([], 'arm64')).not.toContain('arch_prctl');
    expect(names([], 'x64')).toContain('arch_prctl');
  });

  it('CAP_SYS_ADMIN unlocks mount/unshare and lifts the clone flag filter', () => {
    expect(names([], 'x64')).not.toContain('mount');
    const admin = compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: ['CAP_SYS_ADMIN'], arch: 'x64' });
    const all = admin.syscalls!.flatMap((r) => r.names);
    expect(all).toContain('mount');
    expect(admin.syscalls!.find((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO')).toBeUndefined();
    const plain = compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: [], arch: 'x64' });
    expect(plain.syscalls!.find((r) => r.names[0] === 'clone')!.args).toEqual([{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]);
  });

  it('minKernel gates by the given kernel release', () => {
    const old = compileSeccomp(DEFAULT_SECCOMP_PROFILE, { capabilities: [], arch: 'x64', kernel: '4.4.0' }).syscalls!.flatMap((r) => r.names);
    expect(old).not.toContain('ptrace');
    expect(names([], 'x64')).toContain('ptrace');
  });
});

describe('helpers', () => {
  it('capabilitiesFromMask (CapBnd without CAP_SYS_RESOURCE)', () => {
    const caps = capabilitiesFromMask('000001fffeffffff');
    expect(caps).not.toContain('CAP_SYS_RESOURCE');
    expect(caps).toContain('CAP_CHECKPOINT_RESTORE');
    expect(caps).toHaveLength(40);
  });

  it('splitDevNumber', () => {
    expect(splitDevNumber(0x0803n)).toEqual({ major: 8, minor: 3 });
    expect(splitDevNumber((259n << 8n) | 1n)).toEqual({ major: 259, minor: 1 });
  });
});
