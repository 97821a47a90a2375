import { renderOptionTable } from './help';
import type { OptionSpec } from './types';

function opt(kind: OptionSpec['kind'], long: string, short: string, description: string): OptionSpec {
  return short ? { long, short, kind, description } : { long, kind, description };
}

/**
 * Flags of the `isulad` daemon. Descriptions of the flags listed by the customer spec's
 * `isulad --help` are reproduced verbatim from the spec; the extra flags (marked below) come from
 * the upstream flag table and are described in our own words.
 */
export const isuladOptions: OptionSpec[] = [
  opt('string', 'authorization-plugin', '', 'Use authorization plugin'),
  opt('string', 'cgroup-parent', '', 'Set parent cgroup for all containers'),
  opt('string', 'cni-bin-dir', '', 'The full path of the directory in which to search for CNI plugin binaries. Default: /opt/cni/bin'),
  opt('string', 'cni-conf-dir', '', 'The full path of the directory in which to search for CNI config files. Default: /etc/cni/net.d'),
  opt('string', 'container-log-driver', '', 'Set default container log driver, such as: json-file'),
  opt('list', 'container-log-opts', '', 'Set default container log driver options, such as: max-file=7 to set max number of container log files'),
  // extra (not in the spec listing)
  opt('string', 'cpu-rt-period', '', 'Real-time scheduler period in microseconds granted to the parent cgroup'),
  // extra
  opt('string', 'cpu-rt-runtime', '', 'Real-time scheduler runtime in microseconds granted to the parent cgroup'),
  // extra
  opt('list', 'cri-runtime', '', 'Map a CRI runtime handler to a runtime, as NAME=RUNTIME; may be repeated'),
  // extra
  opt('string', 'default-runtime', '', 'Runtime used for containers that do not ask for one'),
  opt('list', 'default-ulimit', '', 'Default ulimits for containers (default [])'),
  opt('string', 'engine', 'e', 'Select backend engine'),
  opt('string', 'graph', 'g', 'Root directory of the iSulad runtime'),
  opt('string', 'group', 'G', 'Group for the unix socket(default is isulad)'),
  opt('bool', 'help', '', 'Show help'),
  opt('string', 'hook-spec', '', 'Default hook spec file applied to all containers'),
  opt('list', 'host', 'H', 'The socket name used to create gRPC server'),
  opt('bool', 'image-layer-check', '', 'Check layer integrity when needed'),
  opt('list', 'insecure-registry', '', 'Disable TLS verification for the given registry'),
  opt('bool', 'insecure-skip-verify-enforce', '', 'Force to skip the insecure verify(default false)'),
  opt('string', 'log-driver', '', 'Set daemon log driver, such as: file'),
  opt('string', 'log-level', 'l', 'Set log level, the levels can be: FATAL ALERT CRIT ERROR WARN NOTICE INFO DEBUG TRACE'),
  opt('list', 'log-opt', '', 'Set daemon log driver options, such as: log-path=/tmp/logs/ to set directory where to store daemon logs'),
  opt('string', 'native.umask', '', 'Default file mode creation mask (umask) for containers'),
  opt('string', 'network-plugin', '', 'Set network plugin, default is null, support null and cni'),
  opt('string', 'pidfile', 'p', 'Save pid into this file'),
  opt('string', 'pod-sandbox-image', '', 'The image whose network/ipc namespaces containers in each pod will use. (default "pause-${machine}:3.0")'),
  opt('list', 'registry-mirrors', '', 'Registry to be prepended when pulling unqualified images, can be specified multiple times'),
  opt('bool', 'selinux-enabled', '', 'Enable selinux support'),
  opt('string', 'start-timeout', '', 'timeout duration for waiting on a container to start before it is killed'),
  opt('string', 'state', 'S', 'Root directory for execution state files'),
  opt('string', 'storage-driver', '', 'Storage driver to use(default overlay2)'),
  opt('list', 'storage-opt', 's', 'Storage driver options'),
  // extra
  opt('bool', 'systemd-cgroup', '', 'Let systemd manage the cgroups of containers'),
  opt('bool', 'tls', '', 'Use TLS; implied by --tlsverify'),
  opt('string', 'tlscacert', '', 'Trust certs signed only by this CA (default "/root/.iSulad/ca.pem")'),
  opt('string', 'tlscert', '', 'Path to TLS certificate file (default "/root/.iSulad/cert.pem")'),
  opt('string', 'tlskey', '', 'Path to TLS key file (default "/root/.iSulad/key.pem")'),
  opt('bool', 'tlsverify', '', 'Use TLS and verify the remote'),
  opt('bool', 'use-decrypted-key', '', 'Use decrypted private key by default(default true)'),
  opt('string', 'userns-remap', '', 'User/Group setting for user namespaces'),
  opt('bool', 'version', 'V', 'Print the version'),
  opt('string', 'websocket-server-listening-port', '', 'CRI websocket streaming service listening port (default 10350)'),
];

/** Long names of the flags that are not part of the spec's `isulad --help` listing. */
export const isuladExtraOptionNames: readonly string[] = [
  'cpu-rt-period',
  'cpu-rt-runtime',
  'cri-runtime',
  'default-runtime',
  'systemd-cgroup',
];

/**
 * Text printed by `isulad --help` (stdout): header, usage line, `GLOBAL OPTIONS:` and the sorted
 * option table (description column = longest name + 12, i.e. 43 for this flag set), followed by
 * an empty line. `options` defaults to {@link isuladOptions}.
 */
export function renderIsuladHelp(options: readonly OptionSpec[] = isuladOptions): string {
  return (
    'isulad\n\nlightweight container runtime daemon\n' +
    '\nUsage:  isulad [global options]\n\n' +
    'GLOBAL OPTIONS:\n\n' +
    renderOptionTable(options)
  );
}
