import { describe, expect, it } from 'vitest';
import { isuladOptions, isuladExtraOptionNames, parseArgs, renderIsuladHelp, ArgvError } from './index';

// Copied verbatim from /work/shared/spec/isulad-install-config.zh.md (the `isulad --help` listing).
const SPEC_ISULAD_HELP_LINES: string[] = [
  'isulad',
  '',
  'lightweight container runtime daemon',
  '',
  'Usage:  isulad [global options]',
  '',
  'GLOBAL OPTIONS:',
  '',
  '      --authorization-plugin               Use authorization plugin',
  '      --cgroup-parent                      Set parent cgroup for all containers',
  '      --cni-bin-dir                        The full path of the directory in which to search for CNI plugin binaries. Default: /opt/cni/bin',
  '      --cni-conf-dir                       The full path of the directory in which to search for CNI config files. Default: /etc/cni/net.d',
  '      --container-log-driver               Set default container log driver, such as: json-file',
  '      --container-log-opts                 Set default container log driver options, such as: max-file=7 to set max number of container log files',
  '      --default-ulimit                     Default ulimits for containers (default [])',
  '  -e, --engine                             Select backend engine',
  '  -g, --graph                              Root directory of the iSulad runtime',
  '  -G, --group                              Group for the unix socket(default is isulad)',
  '      --help                               Show help',
  '      --hook-spec                          Default hook spec file applied to all containers',
  '  -H, --host                               The socket name used to create gRPC server',
  '      --image-layer-check                  Check layer integrity when needed',
  '      --insecure-registry                  Disable TLS verification for the given registry',
  '      --insecure-skip-verify-enforce       Force to skip the insecure verify(default false)',
  '      --log-driver                         Set daemon log driver, such as: file',
  '  -l, --log-level                          Set log level, the levels can be: FATAL ALERT CRIT ERROR WARN NOTICE INFO DEBUG TRACE',
  '      --log-opt                            Set daemon log driver options, such as: log-path=/tmp/logs/ to set directory where to store daemon logs',
  '      --native.umask                       Default file mode creation mask (umask) for containers',
  '      --network-plugin                     Set network plugin, default is null, support null and cni',
  '  -p, --pidfile                            Save pid into this file',
  '      --pod-sandbox-image                  The image whose network/ipc namespaces containers in each pod will use. (default \"pause-${machine}:3.0\")',
  '      --registry-mirrors                   Registry to be prepended when pulling unqualified images, can be specified multiple times',
  '      --selinux-enabled                    Enable selinux support',
  '      --start-timeout                      timeout duration for waiting on a container to start before it is killed',
  '  -S, --state                              Root directory for execution state files',
  '      --storage-driver                     Storage driver to use(default overlay2)',
  '  -s, --storage-opt                        Storage driver options',
  '      --tls                                Use TLS; implied by --tlsverify',
  '      --tlscacert                          Trust certs signed only by this CA (default \"/root/.iSulad/ca.pem\")',
  '      --tlscert                            Path to TLS certificate file (default \"/root/.iSulad/cert.pem\")',
  '      --tlskey                             Path to TLS key file (default \"/root/.iSulad/key.pem\")',
  '      --tlsverify                          Use TLS and verify the remote',
  '      --use-decrypted-key                  Use decrypted private key by default(default true)',
  '      --userns-remap                       User/Group setting for user namespaces',
  '  -V, --version                            Print the version',
  '      --websocket-server-listening-port    CRI websocket streaming service listening port (default 10350)',
];

const SPEC_BLOCK = SPEC_ISULAD_HELP_LINES.join('\n');

describe('renderIsuladHelp', () => {
  it('reproduces the spec listing exactly for the spec flag set', () => {
    const specOnly = isuladOptions.filter((o) => !isuladExtraOptionNames.includes(o.long));
    // upstream prints each line with "\n" and a blank line after the option table
    expect(renderIsuladHelp(specOnly)).toBe(`${SPEC_BLOCK}\n\n`);
  });

  it('inserts the extra notes §3.3 flags in sorted position with the same layout', () => {
    const extra: Record<string, string> = {};
    for (const o of isuladOptions) {
      if (isuladExtraOptionNames.includes(o.long)) {
        extra[o.long] = `      --${o.long}`.padEnd(43) + o.description;
      }
    }
    const expected = [...SPEC_ISULAD_HELP_LINES];
    const insertBefore = (anchor: string, line: string) => {
      const idx = expected.findIndex((l) => l.includes(anchor));
      expect(idx).toBeGreaterThan(0);
      expected.splice(idx, 0, line);
    };
    insertBefore('      --default-ulimit ', extra['cpu-rt-period']);
    insertBefore('      --default-ulimit ', extra['cpu-rt-runtime']);
    insertBefore('      --default-ulimit ', extra['cri-runtime']);
    insertBefore('      --default-ulimit ', extra['default-runtime']);
    insertBefore('      --tls ', extra['systemd-cgroup']);
    expect(renderIsuladHelp()).toBe(`${expected.join('\n')}\n\n`);
  });

  it('starts every description at column 43 (0-based)', () => {
    const optionLines = renderIsuladHelp()
      .split('\n')
      .filter((l) => l.startsWith('  '));
    expect(optionLines).toHaveLength(isuladOptions.length);
    for (const l of optionLines) {
      expect(l[43]).not.toBe(' ');
      expect(l.slice(0, 43).endsWith(' ')).toBe(true);
    }
  });
});

describe('isuladOptions', () => {
  const byLong = new Map(isuladOptions.map((o) => [o.long, o]));

  it('covers every flag of the spec listing with the right short names', () => {
    for (const line of SPEC_ISULAD_HELP_LINES.filter((l) => l.startsWith('  '))) {
      const m = /^ {2}(?:-(.), )?\s*--(\S+)/.exec(line);
      expect(m).not.toBeNull();
      const o = byLong.get(m![2]);
      expect(o, m![2]).toBeDefined();
      expect(o!.short).toBe(m![1]);
    }
  });

  it.each([
    ['default-runtime', 'string'],
    ['cri-runtime', 'list'],
    ['systemd-cgroup', 'bool'],
    ['cpu-rt-period', 'string'],
    ['cpu-rt-runtime', 'string'],
    ['version', 'bool'],
    ['host', 'list'],
    ['storage-opt', 'list'],
    ['log-opt', 'list'],
    ['registry-mirrors', 'list'],
    ['insecure-registry', 'list'],
    ['default-ulimit', 'list'],
    ['container-log-opts', 'list'],
    ['image-layer-check', 'bool'],
    ['insecure-skip-verify-enforce', 'bool'],
    ['use-decrypted-key', 'bool'],
    ['selinux-enabled', 'bool'],
    ['tls', 'bool'],
    ['tlsverify', 'bool'],
    ['log-level', 'string'],
  ])('--%s is %s', (long, kind) => {
    expect(byLong.get(long)?.kind).toBe(kind);
  });

  it('has unique long and short names', () => {
    const longs = isuladOptions.map((o) => o.long);
    const shorts = isuladOptions.flatMap((o) => (o.short ? [o.short] : []));
    expect(new Set(longs).size).toBe(longs.length);
    expect(new Set(shorts).size).toBe(shorts.length);
  });

  it.each([
    [['-l', 'DEBUG'], { 'log-level': 'DEBUG' }],
    [['-H', 'unix:///a.sock', '--host=tcp://127.0.0.1:2375'], { host: ['unix:///a.sock', 'tcp://127.0.0.1:2375'] }],
    [['--image-layer-check=false', '-V'], { 'image-layer-check': false, version: true }],
    [['--cri-runtime', 'kata=io.containerd.kata.v2', '--cri-runtime=x=y'], { 'cri-runtime': ['kata=io.containerd.kata.v2', 'x=y'] }],
    [['--native.umask=normal', '--systemd-cgroup'], { 'native.umask': 'normal', 'systemd-cgroup': true }],
  ])('parses isulad flags %j', (argv, values) => {
    expect(parseArgs(argv, isuladOptions)).toEqual({ values, positionals: [], help: false });
  });

  it('recognises --help and rejects -D', () => {
    expect(parseArgs(['--help'], isuladOptions).help).toBe(true);
    expect(() => parseArgs(['-D'], isuladOptions)).toThrow(ArgvError);
  });
});
